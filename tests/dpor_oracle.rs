//! The soundness oracle of the exhaustive search: on random small programs
//! over every kind of operation (blocking and not, failing and not, at both
//! granularities), a plain depth-first search without reduction runs every
//! fair schedule and files each execution under its Mazurkiewicz trace
//! (`racecheck_programs::traces`, whose table of which operations commute
//! is its own, not the search's); the reduced search must then reach every
//! one of those traces, and a complete preemption-bounded search every
//! trace that some schedule within its bound reaches.

use proptest::prelude::*;
use racecheck::sched::{explore_with, BoundedScheduler, Config, ExhaustiveScheduler, Scheduler};
use racecheck::sync::atomic::{AtomicU32, Ordering};
use racecheck::sync::{mpsc, watch, Mutex, Notify, RwLock, RwLockWriteGuard, Semaphore, Shared};
use racecheck::{Check, Granularity, Report};
use racecheck_programs::traces::{brute_force, Traces};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// One operation of a task of a generated program.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Operation {
    /// Awaited accesses to one of two cells.
    Load(usize),
    Store(usize),
    /// An immediate read or write of a cell (a scheduling point only at
    /// step granularity).
    Get(usize),
    Set(usize),
    AtomicAdd,
    AtomicLoad,
    AtomicCompareExchange,
    /// Lock, increment, unlock; the same with a yield inside; `try_lock`
    /// and increment if it succeeded.
    Lock,
    LockedYield,
    TryLock,
    Read,
    Write,
    TryRead,
    TryWrite,
    /// Write, then downgrade to a read lock and read.
    Downgrade,
    /// Acquire a permit and hold it across a yield; `try_acquire`;
    /// `add_permits(1)`; `close`; `available_permits`.
    Acquire,
    TryAcquire,
    AddPermits,
    Close,
    AvailablePermits,
    /// `forget_permits(1)`.
    ForgetPermits,
    /// A bounded channel of capacity one and an unbounded one.
    Send,
    TrySend,
    TryRecv,
    UnboundedSend,
    UnboundedTryRecv,
    /// Reserve a slot of the bounded channel, then send through the
    /// permit; `try_reserve` and give the slot back unused.
    Reserve,
    TryReserve,
    /// `reserve_many(1)` then send through its permit; `try_reserve_many(1)`
    /// and give the slot back unused.
    ReserveMany,
    TryReserveMany,
    /// Upgrade a weak sender of the unbounded channel and drop the sender
    /// again.
    Upgrade,
    NotifyOne,
    NotifyWaiters,
    NotifyLast,
    Notified,
    /// `Notified::enable` without awaiting: takes a stored permit, or
    /// registers a wait that is then dropped.
    EnableNotified,
    /// A watch channel: `send_modify`; `send_if_modified` that changes
    /// nothing; `wait_for` a value other than the initial one; `borrow`.
    SendModify,
    SendIfModified,
    WaitFor,
    Borrow,
    /// The watch sender's `is_closed` (whether every receiver is gone).
    WatchIsClosed,
    /// Spawn a task that stores to cell 1, and join it at the end.
    Spawn,
    /// Spawn two tasks and join both in one poll (a `join!` of two
    /// handles): what the poll does after finding one running depends on
    /// whether the other has finished.
    JoinTwo,
    /// Spawn a task that stores to cell 1, load cell 0, look whether the
    /// task has finished (storing to cell 0 if so), and join it at the end.
    IsFinished,
    Yield,
}

/// The operations on one kind of object, and those that touch none.
const FAMILIES: [&[Operation]; 9] = {
    use Operation::*;
    [
        &[Load(0), Store(0), Get(0), Set(0), Load(1), Store(1)],
        &[AtomicAdd, AtomicLoad, AtomicCompareExchange],
        &[Lock, LockedYield, TryLock],
        &[Read, Write, TryRead, TryWrite, Downgrade],
        &[
            Acquire,
            TryAcquire,
            AddPermits,
            Close,
            AvailablePermits,
            ForgetPermits,
        ],
        &[
            Send,
            TrySend,
            TryRecv,
            UnboundedSend,
            UnboundedTryRecv,
            Reserve,
            TryReserve,
            ReserveMany,
            TryReserveMany,
            Upgrade,
        ],
        &[
            NotifyOne,
            NotifyWaiters,
            NotifyLast,
            Notified,
            EnableNotified,
        ],
        &[SendModify, SendIfModified, WaitFor, Borrow, WatchIsClosed],
        &[Spawn, JoinTwo, IsFinished, Yield],
    ]
};

/// Programs over the operations of one or two families, so that their
/// tasks meet often: two tasks of up to three operations, or three of up to
/// two, or smaller at step granularity, where every operation is a
/// scheduling point and plain search has many more schedules to run.
fn program(granularity: Granularity) -> impl Strategy<Value = Vec<Vec<Operation>>> {
    let (two, three) = match granularity {
        Granularity::Await => (3, 2),
        Granularity::Step => (2, 1),
    };
    prop::sample::subsequence(FAMILIES.to_vec(), 1..=2).prop_flat_map(move |families| {
        let operations: Vec<Operation> = families.concat();
        let operation = prop::sample::select(operations);
        prop_oneof![
            prop::collection::vec(prop::collection::vec(operation.clone(), 1..=two), 2..=2),
            prop::collection::vec(prop::collection::vec(operation, 1..=three), 3..=3),
        ]
    })
}

fn granularity() -> impl Strategy<Value = Granularity> {
    prop_oneof![Just(Granularity::Await), Just(Granularity::Step)]
}

fn granular_program() -> impl Strategy<Value = (Granularity, Vec<Vec<Operation>>)> {
    granularity().prop_flat_map(|granularity| (Just(granularity), program(granularity)))
}

/// The objects the tasks of a program share.
struct World {
    cells: [Shared<u32>; 2],
    atomic: AtomicU32,
    mutex: Mutex<u32>,
    rwlock: RwLock<u32>,
    semaphore: Semaphore,
    sender: mpsc::Sender<u32>,
    /// Receivers are single-consumer: behind a lock, as a program would
    /// share one.
    receiver: Mutex<mpsc::Receiver<u32>>,
    unbounded_sender: mpsc::UnboundedSender<u32>,
    unbounded_receiver: Mutex<mpsc::UnboundedReceiver<u32>>,
    weak_sender: mpsc::WeakUnboundedSender<u32>,
    notify: Notify,
    watch_sender: watch::Sender<u32>,
    watch_receiver: Mutex<watch::Receiver<u32>>,
}

impl World {
    fn new() -> World {
        let (sender, receiver) = mpsc::channel(1);
        let (unbounded_sender, unbounded_receiver) = mpsc::unbounded_channel();
        let (watch_sender, watch_receiver) = watch::channel(0);
        World {
            cells: [Shared::new(0), Shared::new(0)],
            atomic: AtomicU32::new(0),
            mutex: Mutex::new(0),
            rwlock: RwLock::new(0),
            semaphore: Semaphore::new(1),
            sender,
            receiver: Mutex::new(receiver),
            weak_sender: unbounded_sender.downgrade(),
            unbounded_sender,
            unbounded_receiver: Mutex::new(unbounded_receiver),
            notify: Notify::new(),
            watch_sender,
            watch_receiver: Mutex::new(watch_receiver),
        }
    }

    /// Runs one operation; `children` collects the tasks it spawns.
    async fn run(
        self: &Rc<World>,
        operation: Operation,
        children: &mut Vec<racecheck::JoinHandle<()>>,
    ) {
        use Operation::*;
        match operation {
            Load(cell) => drop(self.cells[cell].load().await),
            Store(cell) => self.cells[cell].store(1).await,
            Get(cell) => drop(self.cells[cell].get()),
            Set(cell) => self.cells[cell].set(2),
            AtomicAdd => drop(self.atomic.fetch_add(1, Ordering::SeqCst)),
            AtomicLoad => drop(self.atomic.load(Ordering::SeqCst)),
            AtomicCompareExchange => {
                let _ = self
                    .atomic
                    .compare_exchange(0, 5, Ordering::SeqCst, Ordering::SeqCst);
            }
            Lock => *self.mutex.lock().await += 1,
            LockedYield => {
                let mut guard = self.mutex.lock().await;
                racecheck::yield_now().await;
                *guard += 1;
            }
            TryLock => {
                if let Ok(mut guard) = self.mutex.try_lock() {
                    *guard += 1;
                }
            }
            Read => drop(*self.rwlock.read().await),
            Write => *self.rwlock.write().await += 1,
            TryRead => drop(self.rwlock.try_read().map(|guard| *guard)),
            Downgrade => {
                let mut writer = self.rwlock.write().await;
                *writer += 1;
                let _ = *RwLockWriteGuard::downgrade(writer);
            }
            TryWrite => {
                if let Ok(mut guard) = self.rwlock.try_write() {
                    *guard += 1;
                }
            }
            Acquire => {
                if let Ok(permit) = self.semaphore.acquire().await {
                    racecheck::yield_now().await;
                    drop(permit);
                }
            }
            TryAcquire => drop(self.semaphore.try_acquire()),
            AddPermits => self.semaphore.add_permits(1),
            Close => self.semaphore.close(),
            AvailablePermits => drop(self.semaphore.available_permits()),
            ForgetPermits => drop(self.semaphore.forget_permits(1)),
            Send => drop(self.sender.send(1).await),
            TrySend => drop(self.sender.try_send(1)),
            TryRecv => drop(self.receiver.lock().await.try_recv()),
            UnboundedSend => drop(self.unbounded_sender.send(1)),
            UnboundedTryRecv => drop(self.unbounded_receiver.lock().await.try_recv()),
            Reserve => {
                if let Ok(permit) = self.sender.reserve().await {
                    permit.send(1);
                }
            }
            TryReserve => drop(self.sender.try_reserve()),
            ReserveMany => {
                if let Ok(permits) = self.sender.reserve_many(1).await {
                    permits.for_each(|permit| permit.send(1));
                }
            }
            TryReserveMany => drop(self.sender.try_reserve_many(1)),
            Upgrade => drop(self.weak_sender.upgrade()),
            NotifyOne => self.notify.notify_one(),
            NotifyWaiters => self.notify.notify_waiters(),
            NotifyLast => self.notify.notify_last(),
            SendModify => self.watch_sender.send_modify(|value| *value += 1),
            SendIfModified => drop(self.watch_sender.send_if_modified(|_| false)),
            WaitFor => {
                let mut receiver = self.watch_receiver.lock().await;
                let _ = receiver.wait_for(|value| *value > 0).await.is_ok();
            }
            Borrow => drop(*self.watch_sender.borrow()),
            Notified => self.notify.notified().await,
            EnableNotified => drop(std::pin::pin!(self.notify.notified()).as_mut().enable()),
            WatchIsClosed => drop(self.watch_sender.is_closed()),
            Spawn => {
                let world = self.clone();
                children.push(racecheck::spawn(async move {
                    world.cells[1].store(3).await;
                }));
            }
            IsFinished => {
                let world = self.clone();
                let child = racecheck::spawn(async move {
                    world.cells[1].store(3).await;
                });
                self.cells[0].load().await;
                if child.is_finished() {
                    self.cells[0].store(1).await;
                }
                children.push(child);
            }
            JoinTwo => {
                join_in_one_poll(racecheck::spawn(async {}), racecheck::spawn(async {})).await
            }
            Yield => racecheck::yield_now().await,
        }
    }
}

/// Awaits both handles in the same polls, as `join!` does.
async fn join_in_one_poll(
    mut first: racecheck::JoinHandle<()>,
    mut second: racecheck::JoinHandle<()>,
) {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::Poll;
    let (mut first_done, mut second_done) = (false, false);
    std::future::poll_fn(|cx| {
        if !first_done {
            first_done = Pin::new(&mut first).poll(cx).is_ready();
        }
        if !second_done {
            second_done = Pin::new(&mut second).poll(cx).is_ready();
        }
        if first_done && second_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

/// The root of an execution of `program`: one task per operation list,
/// each joining what it spawned, then the root joins them.
async fn execute(program: Rc<Vec<Vec<Operation>>>) {
    let world = Rc::new(World::new());
    let tasks: Vec<_> = program
        .iter()
        .cloned()
        .map(|operations| {
            let world = world.clone();
            racecheck::spawn(async move {
                let mut children = Vec::new();
                for operation in operations {
                    world.run(operation, &mut children).await;
                }
                for child in children {
                    child.await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
}

/// Executions the brute force may take on one program; larger programs are
/// skipped (the property needs 256 that fit).
const PLAIN_BUDGET: u64 = 4_000;

/// Explores `program` at `granularity` under `scheduler`, recording traces.
fn explore<S: Scheduler>(
    program: &Rc<Vec<Vec<Operation>>>,
    granularity: Granularity,
    scheduler: &mut Traces<S>,
    budget: u64,
) -> Report {
    let config = Config {
        iterations: budget,
        granularity,
        checks: racecheck::detect::Checks::all(Check::Off),
        ..Config::default()
    };
    let program = program.clone();
    let report = explore_with(&config, scheduler, move || execute(program.clone()));
    assert!(report.failure.is_none(), "{}", report.failure.unwrap());
    report
}

/// The traces the search reached, missing from `reached`.
fn missing<'a>(
    all: &'a BTreeMap<String, usize>,
    reached: &BTreeMap<String, usize>,
) -> Vec<&'a str> {
    all.keys()
        .filter(|trace| !reached.contains_key(*trace))
        .map(String::as_str)
        .collect()
}

/// A trace the exhaustive search once missed, found by this oracle in
/// session 6 (proptest case `cc 77e07897…`): at await granularity, task 1
/// locks; task 2 locks across a yield, then locks again; task 3 calls
/// `try_lock`. The order: 2 unlocks and hands the lock to 1; 1 unlocks and
/// hands it to 2's second lock; 3's `try_lock` fails inside that hand-over
/// window, before 2 runs again (the tentative mirror rule of
/// `racecheck_explore`'s exhaustive search).
#[test]
fn the_reduced_search_reaches_a_try_lock_between_two_hand_overs() {
    use Operation::{Lock, LockedYield, TryLock};
    let program = vec![vec![Lock], vec![LockedYield, Lock], vec![TryLock]];
    assert_reaches_every_trace(Granularity::Await, program);
}

/// The same class as the test above, found with another seed: task 1
/// locks twice; task 2 locks across a yield, locks, then calls `try_lock`,
/// which fails while task 1 holds the lock task 2's own unlock handed it.
#[test]
fn the_reduced_search_reaches_a_failed_try_lock_after_hand_overs() {
    use Operation::{Lock, LockedYield, TryLock};
    let program = vec![vec![Lock, Lock], vec![LockedYield, Lock, TryLock]];
    assert_reaches_every_trace(Granularity::Await, program);
}

/// A release that hands a permit over, taken tentatively and found covered,
/// still reverses the races before it: `try_acquire` fails while the other
/// task holds the permit.
#[test]
fn the_reduced_search_reaches_a_try_acquire_while_the_permit_is_held() {
    use Operation::{Acquire, TryAcquire};
    assert_reaches_every_trace(Granularity::Step, vec![vec![TryAcquire], vec![Acquire]]);
}

/// Found at seed 8: task 1 forgets the only permit, then acquires one
/// (holding it across a yield); task 2 adds a permit twice in one step.
/// The order where task 1's attempt comes after both additions must be
/// reached, not only the one where the first addition hands it the permit.
#[test]
fn the_reduced_search_reaches_an_acquire_after_two_added_permits() {
    use Operation::{Acquire, AddPermits, ForgetPermits};
    let program = vec![vec![ForgetPermits, Acquire], vec![AddPermits, AddPermits]];
    assert_reaches_every_trace(Granularity::Await, program);
}

/// A task joins two children in one poll. Missed once: the trace where
/// the second child finished first, so the poll joins it and finds the
/// first still running. A failed join read nothing then; it reads the task
/// it found running now, unless it is the only one of its poll and the
/// task then blocks (`racecheck_detect::Footprint::went_on`).
#[test]
fn the_reduced_search_reaches_every_trace_of_a_join_of_two() {
    use Operation::JoinTwo;
    let program = vec![vec![JoinTwo]];
    assert_reaches_every_trace(Granularity::Await, program.clone());
    assert_reaches_every_trace(Granularity::Step, program);
}

/// The same join beside an independent task, missed once: the trace where
/// the second child finishes first was reached only in an execution the
/// sleep set then stopped as redundant, and the branches that run the join
/// first never reversed the children's ends. The poll that fails both joins
/// waits for whichever child ends first, so a lone failed join of the poll
/// it wakes to reads its task (`waited_on_several` in the exhaustive
/// search), and the two ends race.
#[test]
fn a_join_of_two_beside_another_task() {
    use Operation::{JoinTwo, NotifyOne};
    let program = vec![vec![JoinTwo], vec![NotifyOne]];
    assert_reaches_every_trace(Granularity::Await, program);
}

/// A task looks whether a child it spawned has finished, and acts on the
/// answer: the look reads the child's end.
#[test]
fn the_reduced_search_reaches_both_answers_of_is_finished() {
    use Operation::IsFinished;
    for granularity in [Granularity::Await, Granularity::Step] {
        assert_reaches_every_trace(granularity, vec![vec![IsFinished]]);
    }
}

/// Asserts that the exhaustive search reaches every trace of `program` at
/// `granularity` that the brute-force search reaches.
fn assert_reaches_every_trace(granularity: Granularity, program: Vec<Vec<Operation>>) {
    let program = Rc::new(program);
    let mut plain = brute_force();
    let counted = explore(&program, granularity, &mut plain, PLAIN_BUDGET);
    assert!(counted.complete);
    let mut reduced = Traces::new(ExhaustiveScheduler::new());
    let report = explore(&program, granularity, &mut reduced, PLAIN_BUDGET);
    let missed = missing(plain.traces(), reduced.traces());
    assert!(
        missed.is_empty(),
        "{} missed, the first:\n{}",
        missed.len(),
        missed[0]
    );
    assert!(report.complete);
}

/// The property's seed: 1, or `RACECHECK_ORACLE_SEED` to sweep others
/// (`RACECHECK_ORACLE_SEED=7 cargo test --test dpor_oracle`).
fn oracle_seed() -> u64 {
    std::env::var("RACECHECK_ORACLE_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(1)
}

proptest! {
    // A fixed seed: the same 256 programs on every run, so CI does not
    // depend on a draw (sweep others with `RACECHECK_ORACLE_SEED`). Cases
    // it has found are kept above and in the regressions file.
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_global_rejects: 4096,
        rng_seed: proptest::test_runner::RngSeed::Fixed(oracle_seed()),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_reduced_search_reaches_every_trace((granularity, program) in granular_program()) {
        let program = Rc::new(program);
        let mut plain = brute_force();
        let counted = explore(&program, granularity, &mut plain, PLAIN_BUDGET);
        prop_assume!(counted.complete);
        let all = plain.traces().clone();

        let mut reduced = Traces::new(ExhaustiveScheduler::new());
        let report = explore(&program, granularity, &mut reduced, PLAIN_BUDGET);
        prop_assert!(report.complete, "{}", report.summary());
        let missed = missing(&all, reduced.traces());
        prop_assert!(missed.is_empty(), "{} of {} traces missed, the first:\n{}", missed.len(), all.len(), missed[0]);
        prop_assert!(report.executions >= all.len() as u64);

        for bound in 0..2 {
            let within: BTreeMap<String, usize> = all
                .iter()
                .filter(|(_, preemptions)| **preemptions <= bound)
                .map(|(trace, preemptions)| (trace.clone(), *preemptions))
                .collect();
            let mut bounded = Traces::new(BoundedScheduler::new(bound));
            let report = explore(&program, granularity, &mut bounded, PLAIN_BUDGET);
            prop_assert!(report.complete, "bound {}: {}", bound, report.summary());
            let missed = missing(&within, bounded.traces());
            prop_assert!(missed.is_empty(), "bound {}: {} missed, the first:\n{}", bound, missed.len(), missed[0]);
        }
    }
}

/// The count is a brute force: on a program whose traces are known it
/// finds exactly them, and the reduced search finds the same.
#[test]
fn the_brute_force_counts_the_known_traces() {
    use Operation::*;
    // A store and two loads of one cell: each load before or after it.
    let program = Rc::new(vec![vec![Store(0)], vec![Load(0)], vec![Load(0)]]);
    for granularity in [Granularity::Await, Granularity::Step] {
        let mut plain = brute_force();
        assert!(explore(&program, granularity, &mut plain, 1_000_000).complete);
        let traces: BTreeSet<String> = plain.traces().keys().cloned().collect();
        assert_eq!(traces.len(), 4, "{granularity:?}");
        let mut reduced = Traces::new(ExhaustiveScheduler::new());
        let report = explore(&program, granularity, &mut reduced, 1_000_000);
        assert_eq!(report.executions, 4, "{granularity:?}");
        let reached: BTreeSet<String> = reduced.traces().keys().cloned().collect();
        assert_eq!(reached, traces);
    }
}
