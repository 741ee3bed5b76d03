//! A complete exhaustive exploration is a proof: every test here runs a
//! small program to completion under the exhaustive strategy and checks the
//! exact set of outcomes it reached, which a search that skipped a
//! schedule (a missing scheduling point, an operation without a footprint,
//! a wrong backtrack point) would not.

use racecheck::sched::{explore_with, Config, ExhaustiveScheduler, Scheduler};
use racecheck::sync::{blocking, Mutex, Semaphore, Shared};
use racecheck::{thread, Builder, Check, Granularity, Report, Strategy, TaskId};
use racecheck_trace::Op;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

/// Where a program files the outcome of each execution.
type Outcomes<T> = Rc<RefCell<BTreeSet<T>>>;

/// Explores `program` exhaustively at `granularity` and returns the
/// outcomes it filed; the exploration must complete without a failure.
fn reached<T, F, Fut>(granularity: Granularity, program: F) -> BTreeSet<T>
where
    T: Ord + Clone + Debug + 'static,
    F: Fn(Outcomes<T>) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let (report, outcomes) = explore(granularity, program);
    assert!(report.failure.is_none(), "{}", report.failure.unwrap());
    assert!(report.complete, "{}", report.summary());
    outcomes
}

/// Explores `program` exhaustively (races not checked: the programs race
/// on purpose) and returns the report and the outcomes filed.
fn explore<T, F, Fut>(granularity: Granularity, program: F) -> (Report, BTreeSet<T>)
where
    T: Ord + Clone + Debug + 'static,
    F: Fn(Outcomes<T>) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let outcomes: Outcomes<T> = Rc::default();
    let report = Builder::new()
        .strategy(Strategy::Exhaustive)
        .iterations(1_000_000)
        .races(Check::Off)
        .minimize_failures(false)
        .granularity(granularity)
        .run(|| program(outcomes.clone()));
    let outcomes = outcomes.borrow().clone();
    (report, outcomes)
}

fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
    items.iter().cloned().collect()
}

/// One task stores 42, `readers` tasks load once each: every reader sees 0
/// or 42 independently, 2^readers outcomes.
async fn store_and_loads(readers: usize, outcomes: Outcomes<Vec<u32>>) {
    let seen = racecheck_programs::dpor::readers(readers).await;
    outcomes.borrow_mut().insert(seen);
}

#[test]
fn every_reader_sees_the_store_or_not_independently() {
    for granularity in [Granularity::Await, Granularity::Step] {
        let two = reached(granularity, |outcomes| store_and_loads(2, outcomes));
        assert_eq!(
            two,
            set(&[vec![0, 0], vec![0, 42], vec![42, 0], vec![42, 42]])
        );
        for readers in 1..=5 {
            let (report, outcomes) = explore(granularity, move |outcomes| {
                store_and_loads(readers, outcomes)
            });
            assert!(report.complete);
            assert_eq!(outcomes.len(), 1 << readers, "{readers} readers");
            // One execution per trace: the traces are the outcomes here.
            assert_eq!(report.executions, 1 << readers, "{readers} readers");
        }
    }
}

/// A spin-wait that yields: the exhaustive search lets the others run
/// instead of spinning until the step limit.
#[test]
fn a_yielding_spin_wait_completes() {
    // A yield holds the spinner back until another task does something
    // visible: the store; at step granularity also the root's spawning of
    // the setter, which can come after the spinner started.
    for (granularity, spins) in [
        (Granularity::Await, &[0, 1][..]),
        (Granularity::Step, &[0, 1, 2][..]),
    ] {
        let seen = reached(granularity, |outcomes| async move {
            let ready = Arc::new(Shared::new(false));
            let spinner = {
                let ready = ready.clone();
                racecheck::spawn(async move {
                    let mut spins = 0u32;
                    while !ready.load().await {
                        spins += 1;
                        racecheck::yield_now().await;
                    }
                    spins
                })
            };
            let setter = {
                let ready = ready.clone();
                racecheck::spawn(async move { ready.store(true).await })
            };
            setter.await;
            let spins = spinner.await;
            outcomes.borrow_mut().insert(spins);
        });
        assert_eq!(seen, set(spins), "{granularity:?}");
    }
}

/// Explores `program` with plain depth-first search (no reduction): every
/// fair schedule, the reference the reduced search must match.
fn reached_by_plain_search<T, F, Fut>(granularity: Granularity, program: F) -> BTreeSet<T>
where
    T: Ord + Clone + Debug + 'static,
    F: Fn(Outcomes<T>) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let outcomes: Outcomes<T> = Rc::default();
    let config = Config {
        iterations: 1_000_000,
        granularity,
        checks: racecheck::detect::Checks::all(Check::Off),
        ..Config::default()
    };
    let report = explore_with(
        &config,
        &mut ExhaustiveScheduler::without_reduction(),
        || program(outcomes.clone()),
    );
    assert!(
        report.complete && report.failure.is_none(),
        "{}",
        report.summary()
    );
    let outcomes = outcomes.borrow().clone();
    outcomes
}

/// The outcomes of `program` at step granularity: exactly `expected`, for
/// the reduced search and for plain search.
fn step_outcomes_are<T, F, Fut>(program: F, expected: &[T])
where
    T: Ord + Clone + Debug + 'static,
    F: Fn(Outcomes<T>) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let expected = set(expected);
    assert_eq!(
        reached(Granularity::Step, &program),
        expected,
        "reduced search"
    );
    assert_eq!(
        reached_by_plain_search(Granularity::Step, &program),
        expected,
        "plain search"
    );
}

#[test]
fn two_threads_doing_try_lock_and_increment_reach_one_and_two() {
    step_outcomes_are(
        |outcomes| {
            thread::main(move || {
                let count = Arc::new(blocking::Mutex::new(0));
                let threads: Vec<_> = (0..2)
                    .map(|_| {
                        let count = count.clone();
                        thread::spawn(move || {
                            if let Ok(mut guard) = count.try_lock() {
                                *guard += 1;
                            }
                        })
                    })
                    .collect();
                threads
                    .into_iter()
                    .for_each(|thread| thread.join().unwrap());
                let total = *count.lock().unwrap();
                outcomes.borrow_mut().insert(total);
            })
        },
        &[1, 2],
    );
}

#[test]
fn try_lock_beside_two_critical_sections_sees_each_state_or_fails() {
    // The locker writes 1 then 2, each under the lock; `try_lock` sees 0,
    // 1 or 2, or fails while a critical section holds the lock.
    step_outcomes_are(
        |outcomes| {
            thread::main(move || {
                let value = Arc::new(blocking::Mutex::new(0));
                let locker = {
                    let value = value.clone();
                    thread::spawn(move || {
                        *value.lock().unwrap() = 1;
                        *value.lock().unwrap() = 2;
                    })
                };
                let seen = value.try_lock().ok().map(|guard| *guard);
                locker.join().unwrap();
                outcomes.borrow_mut().insert(seen);
            })
        },
        &[None, Some(0), Some(1), Some(2)],
    );
    // At await granularity a critical section without an await inside
    // runs in one step: `try_lock` never finds it held.
    let at_awaits = reached(Granularity::Await, |outcomes| async move {
        let value = Arc::new(Mutex::new(0));
        let locker = {
            let value = value.clone();
            racecheck::spawn(async move {
                *value.lock().await = 1;
                *value.lock().await = 2;
            })
        };
        // A scheduling point (an awaited access to something else), so the
        // locker may run first.
        Shared::new(()).load().await;
        let seen = value.try_lock().ok().map(|guard| *guard);
        locker.await;
        outcomes.borrow_mut().insert(seen);
    });
    assert_eq!(at_awaits, set(&[Some(0), Some(1), Some(2)]));
}

#[test]
fn three_try_operations_on_an_rwlock_reach_every_outcome() {
    // (the writer's try_write succeeded, what the other thread's try_read
    // saw, what the main thread's try_read saw): the write fails only while
    // a reader holds the lock, and each read fails only while the writer
    // does.
    step_outcomes_are(
        |outcomes| {
            thread::main(move || {
                let value = Arc::new(blocking::RwLock::new(0));
                let writer = {
                    let value = value.clone();
                    thread::spawn(move || value.try_write().map(|mut guard| *guard = 1).is_ok())
                };
                let reader = {
                    let value = value.clone();
                    thread::spawn(move || value.try_read().ok().map(|guard| *guard))
                };
                let seen = value.try_read().ok().map(|guard| *guard);
                let outcome = (writer.join().unwrap(), reader.join().unwrap(), seen);
                outcomes.borrow_mut().insert(outcome);
            })
        },
        &[
            (false, Some(0), Some(0)),
            (true, None, None),
            (true, None, Some(0)),
            (true, None, Some(1)),
            (true, Some(0), None),
            (true, Some(0), Some(0)),
            (true, Some(0), Some(1)),
            (true, Some(1), None),
            (true, Some(1), Some(0)),
            (true, Some(1), Some(1)),
        ],
    );
}

#[test]
fn try_send_and_try_recv_reach_every_permutation() {
    // Two `try_send`s into one slot and a `try_recv`: both sends succeed
    // only around the receive, which gets whichever came first.
    step_outcomes_are(
        |outcomes| {
            thread::main(move || {
                let (sender, receiver) = blocking::mpsc::sync_channel(1);
                let first = {
                    let sender = sender.clone();
                    thread::spawn(move || sender.try_send(1).is_ok())
                };
                let second = thread::spawn(move || sender.try_send(2).is_ok());
                let got = receiver.try_recv().ok();
                let outcome = (first.join().unwrap(), second.join().unwrap(), got);
                outcomes.borrow_mut().insert(outcome);
            })
        },
        &[
            (false, true, None),
            (false, true, Some(2)),
            (true, false, None),
            (true, false, Some(1)),
            (true, true, Some(1)),
            (true, true, Some(2)),
        ],
    );
}

#[test]
fn an_acquire_that_fails_on_a_closed_semaphore_is_ordered_against_the_close() {
    // (the acquire succeeded, permits left): it succeeds when the added
    // permit comes before the close, or before the acquire blocks for good.
    for granularity in [Granularity::Await, Granularity::Step] {
        let seen = reached(granularity, |outcomes| async move {
            let semaphore = Arc::new(Semaphore::new(0));
            let closer = {
                let semaphore = semaphore.clone();
                racecheck::spawn(async move { semaphore.close() })
            };
            let acquirer = {
                let semaphore = semaphore.clone();
                racecheck::spawn(async move {
                    semaphore
                        .acquire()
                        .await
                        .map(|permit| permit.forget())
                        .is_ok()
                })
            };
            let adder = {
                let semaphore = semaphore.clone();
                racecheck::spawn(async move { semaphore.add_permits(1) })
            };
            closer.await;
            adder.await;
            let acquired = acquirer.await;
            outcomes
                .borrow_mut()
                .insert((acquired, semaphore.available_permits()));
        });
        assert_eq!(seen, set(&[(false, 1), (true, 0)]), "{granularity:?}");
    }
}

/// Runs `program` once at step granularity, each step choosing the lowest
/// runnable task, and returns the operations each step recorded.
fn steps_of<Fut: Future<Output = ()> + 'static>(program: impl Fn() -> Fut) -> Vec<Vec<Op>> {
    #[derive(Default)]
    struct LowestFirst {
        steps: Vec<Vec<Op>>,
    }
    impl Scheduler for LowestFirst {
        fn new_execution(&mut self, iteration: u64) -> bool {
            iteration == 0
        }
        fn next_task(&mut self, runnable: &[TaskId], _: Option<TaskId>) -> Option<TaskId> {
            runnable.first().copied()
        }
        fn observe_step(&mut self, _: TaskId, events: &[racecheck_trace::Event]) {
            self.steps
                .push(events.iter().map(|event| event.op).collect());
        }
    }
    let config = Config {
        iterations: 1,
        granularity: Granularity::Step,
        ..Config::default()
    };
    let mut scheduler = LowestFirst::default();
    let report = explore_with(&config, &mut scheduler, program);
    assert!(report.failure.is_none(), "{}", report.failure.unwrap());
    scheduler.steps
}

#[test]
fn at_step_granularity_every_visible_operation_is_a_scheduling_point() {
    use racecheck::sync::{broadcast, mpsc, oneshot, watch, Event, Notify, RwLock};
    let steps = steps_of(|| async {
        let mutex = Mutex::new(0);
        drop(mutex.try_lock());
        let rwlock = RwLock::new(0);
        drop(rwlock.try_read());
        drop(rwlock.try_write());
        let semaphore = Semaphore::new(1);
        drop(semaphore.try_acquire());
        semaphore.add_permits(1);
        semaphore.available_permits();
        semaphore.close();
        let (sender, mut receiver) = mpsc::channel(1);
        let _ = sender.try_send(1);
        let _ = receiver.try_recv();
        let (unbounded, _unbounded_receiver) = mpsc::unbounded_channel();
        let _ = unbounded.send(1);
        let notify = Notify::new();
        notify.notify_one();
        notify.notify_waiters();
        drop(notify.notified());
        let event = Event::new();
        event.set();
        event.is_set();
        let (once, _once_receiver) = oneshot::channel();
        let _ = once.send(1);
        let (watched, _watcher) = watch::channel(0);
        let _ = watched.send(1);
        let (broadcaster, _listener) = broadcast::channel(1);
        let _ = broadcaster.send(1);
        racecheck::spawn(async {});
    });
    // Each step records at most one operation: dropping the last sender of
    // a channel is one (it records the drop and the close), and a task's
    // last step also records that it finished.
    let operations = |ops: &[Op]| {
        let closes = ops
            .windows(2)
            .filter(|pair| matches!(pair, [Op::DropSender { .. }, Op::Close { .. }]))
            .count();
        ops.iter().filter(|op| **op != Op::Finish).count() - closes
    };
    let crowded: Vec<_> = steps.iter().filter(|ops| operations(ops) > 1).collect();
    assert!(
        crowded.is_empty(),
        "steps with several operations: {crowded:?}"
    );
    assert!(steps.len() > 25, "{} steps", steps.len());
}
