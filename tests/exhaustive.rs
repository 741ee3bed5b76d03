//! The exhaustive strategy: it explores every schedule up to reordering
//! independent steps, says when it has, and reaches exactly the outcomes a
//! plain depth-first search without reduction reaches. Iterative context
//! bounding runs exactly the schedules of the plain search within its
//! preemption bound, each once, fewest preemptions first.

use proptest::prelude::*;
use racecheck::detect::Turns;
use racecheck::sched::{explore_with, BoundedScheduler, Config, ExhaustiveScheduler, Scheduler};
use racecheck::sync::{Mutex, Shared};
use racecheck::{Builder, Check, FailureKind, TaskId};
use racecheck_trace::{Event, Op};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

/// T tasks, each K times: lock, increment, unlock; then join and check.
async fn lock_rounds(tasks: u64, rounds: u64) {
    let count = racecheck_programs::dpor::lock_rounds(tasks, rounds).await;
    assert_eq!(count, tasks * rounds);
}

fn exhaustive() -> Builder {
    Builder::new()
        .strategy(racecheck::Strategy::Exhaustive)
        .iterations(10_000_000)
}

#[test]
fn two_tasks_take_exactly_one_execution_per_lock_order() {
    // (2K)! / (K!)^2 lock orders.
    for (rounds, orders) in [(1, 2), (2, 6), (3, 20), (5, 252)] {
        let report = exhaustive().run(move || lock_rounds(2, rounds));
        assert!(report.failure.is_none());
        assert!(report.complete);
        assert_eq!(report.executions, orders, "2x{rounds}");
    }
}

/// T threads, each K times: lock the blocking mutex, increment, unlock;
/// at step granularity, where the unlock is a scheduling point too.
fn thread_lock_rounds(threads: u64, rounds: u64) -> racecheck::Report {
    exhaustive()
        .granularity(racecheck::Granularity::Step)
        .run(move || {
            racecheck::thread::main(move || {
                let counter = Arc::new(racecheck::sync::blocking::Mutex::new(0u64));
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        let counter = counter.clone();
                        racecheck::thread::spawn(move || {
                            for _ in 0..rounds {
                                *counter.lock().unwrap() += 1;
                            }
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.join().unwrap();
                }
                assert_eq!(*counter.lock().unwrap(), threads * rounds);
            })
        })
}

#[test]
fn threads_take_exactly_one_execution_per_lock_order_at_step_granularity() {
    // A thread may try the lock while the other holds it: it blocks, and
    // the unlock hands the lock over, recording the acquisition then. That
    // is the order of events of the attempt coming after the unlock, and
    // the search explores it once (38 executions for 2x2 when the
    // acquisition was recorded as the waiter ran again).
    for (rounds, orders) in [(1, 2), (2, 6), (3, 20)] {
        let report = thread_lock_rounds(2, rounds);
        assert!(report.failure.is_none() && report.complete);
        assert_eq!(report.executions, orders, "2x{rounds}");
    }
    // Three threads: a thread queued behind another one stays asleep on
    // its attempt across a release that hands the lock to the other (8 and
    // 142 executions without that rule).
    for (rounds, orders) in [(1, 6), (2, 90)] {
        let report = thread_lock_rounds(3, rounds);
        assert!(report.failure.is_none() && report.complete);
        assert_eq!(report.executions, orders, "3x{rounds}");
    }
}

/// Runs the newest task runnable, and keeps every step's events.
#[derive(Default)]
struct NewestRunnable(Vec<(TaskId, Vec<Event>)>);

impl Scheduler for NewestRunnable {
    fn new_execution(&mut self, iteration: u64) -> bool {
        iteration == 0
    }

    fn next_task(&mut self, runnable: &[TaskId], _current: Option<TaskId>) -> Option<TaskId> {
        runnable.last().copied()
    }

    fn observe_step(&mut self, task: TaskId, events: &[Event]) {
        self.0.push((task, events.to_vec()));
    }
}

#[test]
fn a_waiter_takes_the_lock_in_the_step_that_releases_it() {
    let mut steps = NewestRunnable::default();
    explore_with(&Config::default(), &mut steps, || async {
        let lock = Arc::new(Mutex::new(()));
        let guard = lock.lock().await;
        let waiter = racecheck::spawn({
            let lock = lock.clone();
            async move { drop(lock.lock().await) }
        });
        racecheck::yield_now().await; // the waiter queues
        drop(guard);
        // Handed over: taken before the waiter runs again.
        assert!(lock.try_lock().is_err());
        waiter.await;
    });
    let waiter = TaskId(1);
    let (task, events) = steps
        .0
        .iter()
        .find(|(_, events)| {
            events
                .iter()
                .any(|event| matches!(event.op, Op::Unlock { .. }))
        })
        .expect("the root unlocks");
    assert_eq!(*task, TaskId::ROOT);
    let tasks_ops: Vec<(TaskId, &str)> = events
        .iter()
        .map(|event| (event.task, event.op.verb()))
        .collect();
    assert_eq!(
        tasks_ops[..3],
        [
            (TaskId::ROOT, "unlock"),
            (waiter, "lock"),
            (TaskId::ROOT, "try failed")
        ],
        "{tasks_ops:?}"
    );
}

#[test]
fn three_tasks_take_exactly_one_execution_per_lock_order() {
    // (3K)! / (K!)^3 lock orders. Source sets start each reversal with a
    // task that can lead it, so no prefix ends blocked by the sleep sets
    // (flat backtracking on the racing task alone cut 5 short on 3x2).
    for (rounds, orders) in [(1u64, 6u64), (2, 90), (3, 1_680)] {
        let report = exhaustive().run(move || lock_rounds(3, rounds));
        assert!(report.complete);
        assert_eq!(report.executions, orders, "3x{rounds}");
        assert_eq!(report.redundant, 0, "3x{rounds}");
    }
    let report = exhaustive().run(|| lock_rounds(3, 2));
    assert_eq!(
        report.summary(),
        "exhaustive: all 90 executions explored, no failure"
    );
}

#[test]
fn a_complete_search_says_so() {
    let report = exhaustive().run(|| lock_rounds(2, 2));
    assert_eq!(
        report.summary(),
        "exhaustive: all 6 executions explored, no failure"
    );
    let cut = Builder::new()
        .strategy(racecheck::Strategy::Exhaustive)
        .iterations(3)
        .run(|| lock_rounds(2, 2));
    assert!(!cut.complete);
    assert_eq!(cut.summary(), "exhaustive: 3 executions, no failure");
}

/// Two tasks read a count, then write it back plus one: an update is lost
/// when one is preempted between its read and its write.
async fn lost_update() {
    let count = Arc::new(Shared::new(0));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let count = count.clone();
            racecheck::spawn(async move {
                let seen = count.load().await;
                count.store(seen + 1).await;
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
    assert_eq!(count.get(), 2, "lost update");
}

#[test]
fn the_exhaustive_search_finds_a_lost_update() {
    let report = exhaustive().races(Check::Off).run(lost_update);
    let failure = report.failure.expect("some schedule loses the update");
    assert!(
        matches!(&failure.kind, FailureKind::Panic { message, .. } if message.contains("lost update"))
    );
}

#[derive(Clone, Debug)]
enum Operation {
    /// Lock the mutex, yield while holding it, unlock.
    LockedYield {
        mutex: usize,
    },
    /// Read the value, yield, write it plus one.
    LoadStore {
        value: usize,
    },
    /// Atomic increment.
    Add {
        value: usize,
    },
    /// Read the value into the task's log.
    Observe {
        value: usize,
    },
    Yield,
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        (0..2usize).prop_map(|mutex| Operation::LockedYield { mutex }),
        (0..2usize).prop_map(|value| Operation::LoadStore { value }),
        (0..2usize).prop_map(|value| Operation::Add { value }),
        (0..2usize).prop_map(|value| Operation::Observe { value }),
        Just(Operation::Yield),
    ]
}

/// What an exhaustive search of a program covered: the final states it
/// reached (values and what each task observed), the executions it took,
/// and the distinct interleaving classes among them.
struct Covered {
    finals: BTreeSet<String>,
    executions: u64,
    classes: u64,
}

/// Runs `program` under `scheduler` for at most `budget` executions; `None`
/// if the budget was too small to finish.
fn outcomes(
    program: &Rc<Vec<Vec<Operation>>>,
    scheduler: &mut impl Scheduler,
    budget: u64,
) -> Option<Covered> {
    let finals: Rc<RefCell<BTreeSet<String>>> = Rc::default();
    let config = Config {
        iterations: budget,
        checks: racecheck::detect::Checks::all(Check::Off),
        coverage: true,
        ..Config::default()
    };
    let (program, recorded) = (program.clone(), finals.clone());
    let report = explore_with(&config, scheduler, move || {
        let (program, recorded) = (program.clone(), recorded.clone());
        async move {
            let mutexes = Rc::new([Mutex::new(()), Mutex::new(())]);
            let values = Rc::new([Shared::new(0u32), Shared::new(0u32)]);
            let tasks: Vec<_> = program
                .iter()
                .cloned()
                .map(|operations| {
                    let (mutexes, values) = (mutexes.clone(), values.clone());
                    racecheck::spawn(async move {
                        let mut log = Vec::new();
                        for operation in operations {
                            match operation {
                                Operation::LockedYield { mutex } => {
                                    let _guard = mutexes[mutex].lock().await;
                                    racecheck::yield_now().await;
                                }
                                Operation::LoadStore { value } => {
                                    let seen = values[value].load().await;
                                    values[value].store(seen + 1).await;
                                }
                                Operation::Add { value } => {
                                    values[value].update(|value| *value += 1).await;
                                }
                                Operation::Observe { value } => {
                                    log.push(values[value].load().await);
                                }
                                Operation::Yield => racecheck::yield_now().await,
                            }
                        }
                        log
                    })
                })
                .collect();
            let mut logs = Vec::new();
            for task in tasks {
                logs.push(task.await);
            }
            let state = (values[0].get(), values[1].get(), logs);
            recorded.borrow_mut().insert(format!("{state:?}"));
        }
    });
    assert!(report.failure.is_none(), "{}", report.failure.unwrap());
    let finals = finals.borrow().clone();
    report.complete.then(|| Covered {
        finals,
        executions: report.executions,
        classes: report.classes.expect("coverage is on"),
    })
}

/// Executions plain search may take on one generated program; larger
/// programs are skipped.
const PLAIN_BUDGET: u64 = 3_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Programs stay small: plain search runs every schedule, a number that
    /// grows as a multinomial of the steps. The reduced search reaches the
    /// same final states and runs one execution per interleaving class.
    #[test]
    fn reduction_reaches_every_outcome_plain_search_reaches(program in small_program()) {
        let program = Rc::new(program);
        let plain = outcomes(&program, &mut ExhaustiveScheduler::without_reduction(), PLAIN_BUDGET);
        prop_assume!(plain.is_some());
        let plain = plain.unwrap();
        let reduced = outcomes(&program, &mut ExhaustiveScheduler::new(), PLAIN_BUDGET)
            .expect("the reduced search finishes within the plain search's budget");
        prop_assert_eq!(&reduced.finals, &plain.finals);
        // Every class once, and nothing else: the executions the reduced
        // search counts are exactly the classes plain search finds.
        prop_assert_eq!(reduced.classes, plain.classes);
        prop_assert_eq!(reduced.executions, plain.classes);
    }

    /// The plain search runs every schedule; those within the bound that
    /// keep the fair-scheduling rule are exactly what the bounded search
    /// must run.
    #[test]
    fn context_bounding_runs_each_schedule_within_the_bound_once_fewest_first(
        program in small_program(),
        bound in 0..3usize,
    ) {
        let program = Rc::new(program);
        let mut plain = Recorder::new(ExhaustiveScheduler::without_reduction());
        prop_assume!(outcomes(&program, &mut plain, PLAIN_BUDGET).is_some());
        let within: BTreeSet<&Vec<TaskId>> = plain
            .runs
            .iter()
            .filter(|run| run.fair && run.preemptions <= bound)
            .map(|run| &run.schedule)
            .collect();
        let mut bounded = Recorder::new(BoundedScheduler::new(bound));
        outcomes(&program, &mut bounded, PLAIN_BUDGET)
            .expect("the bounded search finishes within the plain search's budget");
        let ran: BTreeSet<&Vec<TaskId>> = bounded.runs.iter().map(|run| &run.schedule).collect();
        prop_assert_eq!(ran.len(), bounded.runs.len(), "a schedule ran twice");
        prop_assert_eq!(ran, within);
        prop_assert!(bounded.runs.windows(2).all(|pair| pair[0].preemptions <= pair[1].preemptions));
    }
}

fn small_program() -> impl Strategy<Value = Vec<Vec<Operation>>> {
    prop_oneof![
        prop::collection::vec(prop::collection::vec(operation(), 1..4), 2..=2),
        prop::collection::vec(prop::collection::vec(operation(), 1..3), 3..=3),
    ]
}

/// An execution as a [`Recorder`] saw it.
#[derive(Clone, Debug, Default)]
struct Run {
    schedule: Vec<TaskId>,
    /// Switches away from a task that could go on, except right after it
    /// yielded explicitly.
    preemptions: usize,
    /// The schedule keeps CHESS's fair-scheduling rule: a task that yielded
    /// runs again only after another task did something visible, or when
    /// no other task can run.
    fair: bool,
}

/// Records what another scheduler chooses, execution by execution.
struct Recorder<S> {
    inner: S,
    runs: Vec<Run>,
    yielded: bool,
    /// The task that yielded, while no other task did anything visible
    /// since.
    held: Option<TaskId>,
    /// The steps' footprints, with their part in the turn order (a
    /// resumption after a yield is visible).
    turns: Turns,
}

impl<S> Recorder<S> {
    fn new(inner: S) -> Recorder<S> {
        Recorder {
            inner,
            runs: Vec::new(),
            yielded: false,
            held: None,
            turns: Turns::default(),
        }
    }
}

impl<S: Scheduler> Scheduler for Recorder<S> {
    fn new_execution(&mut self, iteration: u64) -> bool {
        let more = self.inner.new_execution(iteration);
        if more {
            self.runs.push(Run {
                fair: true,
                ..Run::default()
            });
            self.yielded = false;
            self.held = None;
            self.turns.clear();
        }
        more
    }

    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
        let task = self.inner.next_task(runnable, current)?;
        let run = self.runs.last_mut().expect("an execution was started");
        let running = current.filter(|running| runnable.contains(running));
        run.fair &= self.held != Some(task) || runnable.len() == 1;
        if !self.yielded && running.is_some_and(|running| running != task) {
            run.preemptions += 1;
        }
        run.schedule.push(task);
        Some(task)
    }

    fn observe_step(&mut self, task: TaskId, events: &[Event]) {
        self.yielded = events.iter().any(|event| event.op == Op::Yield);
        let visible = !self.turns.footprint(task, events).is_private(task);
        if self.yielded {
            self.held = Some(task);
        } else if self.held == Some(task) || visible {
            self.held = None;
        }
        self.inner.observe_step(task, events);
    }

    fn redundant(&self) -> bool {
        self.inner.redundant()
    }
}

#[test]
fn coverage_counts_interleaving_classes() {
    // Exhaustive search with reduction runs each class once.
    let exhaustive = exhaustive().coverage(true).run(|| lock_rounds(2, 3));
    assert_eq!(exhaustive.classes, Some(20));
    assert_eq!(
        exhaustive.summary(),
        "exhaustive: all 20 executions explored, 20 distinct interleaving classes, no failure"
    );
    // Random search repeats classes; with enough executions it sees them all.
    let random = Builder::new()
        .coverage(true)
        .iterations(2_000)
        .run(|| lock_rounds(2, 3));
    assert_eq!(random.classes, Some(20));
    let few = Builder::new()
        .coverage(true)
        .iterations(5)
        .run(|| lock_rounds(2, 3));
    assert!(few.classes.unwrap() <= 5);
}

#[test]
fn a_preemption_bound_covers_exactly_the_schedules_within_it() {
    let bounded = |preemptions| {
        Builder::new()
            .races(Check::Off)
            .minimize_failures(false)
            .strategy(racecheck::Strategy::Bounded { preemptions })
            .iterations(1_000_000)
    };
    // Without preemptions each task runs its read and write together.
    let none = bounded(0).run(lost_update);
    assert!(none.failure.is_none());
    assert!(none.complete);
    assert_eq!(
        none.summary(),
        format!(
            "bounded: all {} executions explored, no failure",
            none.executions
        )
    );
    // One preemption between a read and its write loses the update.
    let one = bounded(1).run(lost_update);
    let failure = one.failure.expect("one preemption is enough");
    assert!(
        matches!(&failure.kind, FailureKind::Panic { message, .. } if message.contains("lost update"))
    );
}

/// Runs `test` under a recorded bounded search, with no check but panics.
fn bounded_runs<F, Fut>(bound: usize, iterations: u64, test: F) -> (racecheck::Report, Vec<Run>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let config = Config {
        iterations,
        checks: racecheck::detect::Checks::all(Check::Off),
        ..Config::default()
    };
    let mut recorder = Recorder::new(BoundedScheduler::new(bound));
    let report = explore_with(&config, &mut recorder, test);
    (report, recorder.runs)
}

#[test]
fn a_bug_that_needs_one_preemption_is_found_with_one_after_every_schedule_without() {
    let (none, without) = bounded_runs(0, 1_000_000, lost_update);
    assert!(none.failure.is_none());
    assert!(none.complete);
    assert!(without.iter().all(|run| run.preemptions == 0));
    let (one, runs) = bounded_runs(1, 1_000_000, lost_update);
    let failure = one.failure.expect("one preemption is enough");
    assert!(
        matches!(&failure.kind, FailureKind::Panic { message, .. } if message.contains("lost update"))
    );
    assert_eq!(failure.iteration + 1, runs.len() as u64);
    assert!(runs.len() > without.len());
    let (first, rest) = runs.split_at(without.len());
    let schedules = |runs: &[Run]| {
        runs.iter()
            .map(|run| run.schedule.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(schedules(first), schedules(&without));
    assert!(rest.iter().all(|run| run.preemptions == 1));
    assert_eq!(failure.schedule.steps(), &runs.last().unwrap().schedule[..]);
    // A higher bound runs the same schedules first: the same failure, as
    // early.
    let (two, _) = bounded_runs(2, 1_000_000, lost_update);
    let again = two.failure.expect("found again");
    assert_eq!(again.iteration, failure.iteration);
    assert_eq!(again.schedule, failure.schedule);
}

#[test]
fn a_complete_bounded_search_says_so() {
    let program = Rc::new(vec![
        vec![
            Operation::LockedYield { mutex: 0 },
            Operation::Add { value: 0 },
        ],
        vec![Operation::LoadStore { value: 0 }, Operation::Yield],
    ]);
    let mut plain = Recorder::new(ExhaustiveScheduler::without_reduction());
    outcomes(&program, &mut plain, PLAIN_BUDGET).expect("plain search finishes");
    for bound in 0..3 {
        let within = plain
            .runs
            .iter()
            .filter(|run| run.fair && run.preemptions <= bound)
            .count() as u64;
        let mut bounded = BoundedScheduler::new(bound);
        let executions = outcomes(&program, &mut bounded, PLAIN_BUDGET)
            .expect("the bounded search says it is complete")
            .executions;
        assert_eq!(executions, within, "bound {bound}");
        let mut cut = BoundedScheduler::new(bound);
        assert!(outcomes(&program, &mut cut, within - 1).is_none());
    }
    let report = Builder::new()
        .strategy(racecheck::Strategy::Bounded { preemptions: 1 })
        .iterations(1_000)
        .run(|| lock_rounds(2, 2));
    assert_eq!(
        report.summary(),
        format!(
            "bounded: all {} executions explored, no failure",
            report.executions
        )
    );
}

#[test]
fn a_preemption_bounded_search_lets_a_yielding_spin_loop_finish() {
    for preemptions in 0..3 {
        let report = Builder::new()
            .strategy(racecheck::Strategy::Bounded { preemptions })
            .iterations(10_000)
            .max_steps(1_000)
            .run(|| async {
                let ready = Rc::new(std::cell::Cell::new(false));
                let spinner = {
                    let ready = ready.clone();
                    racecheck::spawn(async move {
                        while !ready.get() {
                            racecheck::yield_now().await;
                        }
                    })
                };
                let setter = {
                    let ready = ready.clone();
                    racecheck::spawn(async move { ready.set(true) })
                };
                spinner.await;
                setter.await;
            });
        assert!(
            report.failure.is_none(),
            "bound {preemptions}: {}",
            report.summary()
        );
    }
}
