//! Choices the modelled APIs leave open are scheduling choices racecheck
//! explores: which waiter std's `Condvar::notify_one` wakes, and (when
//! asked) where tokio's runtime shuts down after the root returns and
//! whether a future is polled spuriously.

use racecheck::sync::atomic::{AtomicBool, Ordering};
use racecheck::sync::{blocking, Condition, Mutex, Semaphore};
use racecheck::{thread, Builder, FailureKind, Finding, Granularity, Shutdown, Strategy};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

fn exhaustive() -> Builder {
    Builder::new()
        .strategy(Strategy::Exhaustive)
        .iterations(100_000)
}

/// Who may go on: the first waiter, the second, and whether the second has
/// started waiting.
#[derive(Default)]
struct Flags {
    first_ready: bool,
    second_ready: bool,
    second_waiting: bool,
}

type Shared = (blocking::Mutex<Flags>, blocking::Condvar, blocking::Condvar);

/// Two threads wait on one condition variable for different conditions,
/// the first before the second. The main thread makes the first one's
/// condition true and calls `notify_one` (the bug: it should notify all).
/// std may wake either waiter; if it wakes the second, that one waits
/// again, the first is never woken, and joining it hangs. Waking the
/// longest waiter first never shows it.
fn notify_one_for_two_conditions() {
    two_conditions_notified(false);
}

/// [`notify_one_for_two_conditions`], or with the bug fixed.
fn two_conditions_notified(all: bool) {
    let shared: Arc<Shared> = Arc::new((
        blocking::Mutex::new(Flags::default()),
        blocking::Condvar::new(),
        blocking::Condvar::new(),
    ));
    let first = {
        let shared = shared.clone();
        thread::spawn(move || {
            let (flags, changed, _) = &*shared;
            let guard = flags.lock().unwrap();
            // The second waiter needs the lock: it waits after this one.
            let second = {
                let shared = shared.clone();
                thread::spawn(move || {
                    let (flags, changed, second_waits) = &*shared;
                    let mut guard = flags.lock().unwrap();
                    guard.second_waiting = true;
                    second_waits.notify_one();
                    drop(changed.wait_while(guard, |flags| !flags.second_ready));
                })
            };
            drop(changed.wait_while(guard, |flags| !flags.first_ready));
            second
        })
    };
    let (flags, changed, second_waits) = &*shared;
    let waiting = flags.lock().unwrap();
    let mut guard = second_waits
        .wait_while(waiting, |flags| !flags.second_waiting)
        .unwrap();
    guard.first_ready = true;
    if all {
        changed.notify_all();
    } else {
        changed.notify_one();
    }
    drop(guard);
    let second = first.join().unwrap();
    flags.lock().unwrap().second_ready = true;
    changed.notify_all();
    second.join().unwrap();
}

fn is_stuck(kind: &FailureKind) -> bool {
    matches!(
        kind,
        FailureKind::Finding(Finding::Deadlock(_) | Finding::Hang(_))
    )
}

#[test]
fn the_exhaustive_search_wakes_a_waiter_other_than_the_longest() {
    let report = exhaustive().run(|| thread::main(notify_one_for_two_conditions));
    let failure = report
        .failure
        .expect("some schedule wakes the second waiter");
    assert!(is_stuck(&failure.kind), "{failure}");
    // Replaying the schedule wakes the same waiter.
    let replayed = Builder::new()
        .strategy(Strategy::Replay(failure.schedule.clone()))
        .run(|| thread::main(notify_one_for_two_conditions));
    let again = replayed.failure.expect("the replay fails the same way");
    assert!(is_stuck(&again.kind), "{again}");
    assert_eq!(again.schedule, failure.schedule);
}

#[test]
fn with_notify_all_every_schedule_passes() {
    let report = exhaustive().run(|| thread::main(|| two_conditions_notified(true)));
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(report.complete);
}

#[test]
fn random_and_pct_searches_wake_either_waiter_too() {
    for strategy in [Strategy::Random, Strategy::Pct { depth: 2 }] {
        let report = Builder::new()
            .strategy(strategy.clone())
            .iterations(2000)
            .run(|| thread::main(notify_one_for_two_conditions));
        let failure = report
            .failure
            .unwrap_or_else(|| panic!("{strategy:?} wakes the second waiter"));
        assert!(is_stuck(&failure.kind), "{failure}");
    }
}

/// The same program with the async `Condition`, which wakes the longest
/// waiter first as asyncio's does: no schedule hangs. (The second waiter is
/// left to finish after the root.)
async fn notify_one_for_two_conditions_in_order() {
    let flags = Arc::new(Mutex::new(Flags::default()));
    let changed = Arc::new(Condition::new());
    let second_waits = Arc::new(Condition::new());
    let first = {
        let (flags, changed, second_waits) = (flags.clone(), changed.clone(), second_waits.clone());
        racecheck::spawn(async move {
            let guard = flags.lock().await;
            {
                let (flags, changed, second_waits) =
                    (flags.clone(), changed.clone(), second_waits.clone());
                racecheck::spawn(async move {
                    let mut guard = flags.lock().await;
                    guard.second_waiting = true;
                    second_waits.notify_one();
                    drop(changed.wait_while(guard, |flags| !flags.second_ready).await);
                });
            }
            drop(changed.wait_while(guard, |flags| !flags.first_ready).await);
        })
    };
    let waiting = flags.lock().await;
    let mut guard = second_waits
        .wait_while(waiting, |flags| !flags.second_waiting)
        .await;
    guard.first_ready = true;
    changed.notify_one();
    drop(guard);
    first.await;
    flags.lock().await.second_ready = true;
    changed.notify_all();
}

#[test]
fn the_async_condition_keeps_waking_the_longest_waiter_first() {
    let report = exhaustive().run(notify_one_for_two_conditions_in_order);
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(report.complete);
}

/// One waiter, notified once: whichever way, it wakes; the extra choice
/// costs nothing when there is nobody else to wake.
#[test]
fn a_single_waiter_is_always_the_one_woken() {
    let report = exhaustive().run(|| {
        thread::main(|| {
            let shared = Arc::new((blocking::Mutex::new(false), blocking::Condvar::new()));
            let waiter = {
                let shared = shared.clone();
                thread::spawn(move || {
                    let (ready, changed) = &*shared;
                    drop(changed.wait_while(ready.lock().unwrap(), |ready| !*ready));
                })
            };
            let (ready, changed) = &*shared;
            *ready.lock().unwrap() = true;
            changed.notify_one();
            waiter.join().unwrap();
        })
    });
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(report.complete);
}

// Shutdown: whether the runtime may drop the tasks left when the root
// returns, as tokio's does.

/// Records, when dropped, how far its task got.
struct Progress {
    steps: Rc<Cell<u32>>,
    outcomes: Rc<RefCell<BTreeSet<u32>>>,
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.outcomes.borrow_mut().insert(self.steps.get());
    }
}

/// The root spawns a task that takes three steps, and returns at once.
fn detached_steps(outcomes: &Rc<RefCell<BTreeSet<u32>>>) -> impl Future<Output = ()> + 'static {
    let outcomes = outcomes.clone();
    async move {
        let steps = Rc::new(Cell::new(0));
        let progress = Progress {
            steps: steps.clone(),
            outcomes,
        };
        racecheck::spawn(async move {
            let _progress = progress;
            for _ in 0..3 {
                steps.set(steps.get() + 1);
                racecheck::yield_now().await;
            }
        });
    }
}

#[test]
fn by_default_a_detached_task_runs_to_its_end() {
    let outcomes = Rc::new(RefCell::new(BTreeSet::new()));
    let report = exhaustive().run(|| detached_steps(&outcomes));
    assert!(report.complete && report.failure.is_none());
    assert_eq!(*outcomes.borrow(), BTreeSet::from([3]));
}

#[test]
fn an_explored_shutdown_drops_the_detached_task_at_every_point() {
    let outcomes = Rc::new(RefCell::new(BTreeSet::new()));
    let report = exhaustive()
        .shutdown(Shutdown::Explored)
        .run(|| detached_steps(&outcomes));
    assert!(report.complete && report.failure.is_none());
    assert_eq!(*outcomes.borrow(), BTreeSet::from([0, 1, 2, 3]));
    // Shut down before each of the task's four steps (three yields, then
    // the end), or never: five executions.
    assert_eq!(report.executions, 5);
    outcomes.borrow_mut().clear();
    let report = Builder::new()
        .shutdown(Shutdown::Explored)
        .iterations(200)
        .run(|| detached_steps(&outcomes));
    assert!(report.failure.is_none());
    assert_eq!(*outcomes.borrow(), BTreeSet::from([0, 1, 2, 3]), "random");
    // The bounded search too: a task that yields may run on when the only
    // other choice is to shut down.
    outcomes.borrow_mut().clear();
    let report = Builder::new()
        .strategy(Strategy::Bounded { preemptions: 2 })
        .iterations(100_000)
        .shutdown(Shutdown::Explored)
        .run(|| detached_steps(&outcomes));
    assert!(report.complete && report.failure.is_none());
    assert_eq!(*outcomes.borrow(), BTreeSet::from([0, 1, 2, 3]), "bounded");
}

/// A task that must flush before it is dropped, detached by the root.
async fn unflushed_at_shutdown() {
    let flushed = Arc::new(racecheck::sync::Shared::named("flushed", false));
    let lock = Arc::new(Mutex::named("buffer", ()));
    struct Buffer(Arc<racecheck::sync::Shared<bool>>);
    impl Drop for Buffer {
        fn drop(&mut self) {
            assert!(self.0.get(), "a buffer dropped before it was flushed");
        }
    }
    let buffer = Buffer(flushed.clone());
    racecheck::spawn(async move {
        let guard = lock.lock().await;
        racecheck::yield_now().await;
        flushed.set(true);
        drop(guard);
        drop(buffer);
    });
}

#[test]
fn a_destructor_that_panics_at_shutdown_fails_and_replays() {
    let report = exhaustive()
        .shutdown(Shutdown::Explored)
        .run(unflushed_at_shutdown);
    let failure = report.failure.expect("a shutdown before the flush");
    let FailureKind::Panic {
        task_name, message, ..
    } = &failure.kind
    else {
        panic!("expected a panic, got {failure}");
    };
    assert_eq!(message, "a buffer dropped before it was flushed");
    assert!(
        task_name.contains("dropped when the runtime shut down"),
        "{task_name}"
    );
    let replayed = Builder::new()
        .strategy(Strategy::Replay(failure.schedule.clone()))
        .shutdown(Shutdown::Explored)
        .run(unflushed_at_shutdown);
    assert_eq!(
        replayed.failure.map(|again| again.kind),
        Some(failure.kind.clone())
    );
    // Without the shutdown choice the task always flushes.
    let run_to_end = exhaustive().run(unflushed_at_shutdown);
    assert!(run_to_end.failure.is_none() && run_to_end.complete);
}

#[test]
fn a_lock_held_by_a_task_dropped_at_shutdown_is_released_not_leaked() {
    let report = exhaustive().shutdown(Shutdown::Explored).run(|| async {
        let lock = Arc::new(Mutex::named("held", 0));
        racecheck::spawn(async move {
            let mut guard = lock.lock().await;
            racecheck::yield_now().await;
            *guard += 1;
        });
    });
    assert!(report.failure.is_none(), "{}", report.failure.unwrap());
    assert!(report.complete, "{}", report.summary());
}

/// T tasks, each K times: lock, increment, unlock; the root joins them.
async fn lock_rounds(tasks: u64, rounds: u64) {
    racecheck_programs::dpor::lock_rounds(tasks, rounds).await;
}

#[test]
fn the_shutdown_choice_costs_nothing_where_the_root_joins_every_task() {
    for (tasks, rounds, orders) in [(2, 2, 6), (2, 5, 252), (3, 2, 90)] {
        let report = exhaustive()
            .shutdown(Shutdown::Explored)
            .run(move || lock_rounds(tasks, rounds));
        assert!(report.complete && report.failure.is_none());
        assert_eq!(report.executions, orders, "{tasks}x{rounds}");
    }
}

/// Records, when the last of its holders is gone, which flags were set.
struct Witness {
    flags: [Cell<bool>; 2],
    outcomes: Rc<RefCell<BTreeSet<[bool; 2]>>>,
}

impl Drop for Witness {
    fn drop(&mut self) {
        let flags = [self.flags[0].get(), self.flags[1].get()];
        self.outcomes.borrow_mut().insert(flags);
    }
}

#[test]
fn an_explored_shutdown_reaches_every_subset_of_independent_detached_steps() {
    let outcomes = Rc::new(RefCell::new(BTreeSet::new()));
    let report = exhaustive().shutdown(Shutdown::Explored).run(|| {
        let outcomes = outcomes.clone();
        async move {
            let witness = Rc::new(Witness {
                flags: [Cell::new(false), Cell::new(false)],
                outcomes,
            });
            for which in 0..2 {
                let witness = witness.clone();
                racecheck::spawn(async move { witness.flags[which].set(true) });
            }
        }
    });
    assert!(report.complete && report.failure.is_none());
    let every = BTreeSet::from([[false, false], [true, false], [false, true], [true, true]]);
    assert_eq!(*outcomes.borrow(), every);
}

// Spurious wake-ups: a future polled again before anything woke it.

/// Set once, by a task that then wakes the waiter.
#[derive(Default)]
struct Signal {
    set: bool,
    waker: Option<Waker>,
}

/// Waits for the signal, but trusts that being polled again means the
/// signal came: the bug spurious wake-ups reveal.
struct Trusting {
    signal: Arc<std::sync::Mutex<Signal>>,
    waiting: bool,
}

impl Future for Trusting {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let signal = self.signal.clone();
        let mut signal = signal.lock().unwrap();
        if signal.set || self.waiting {
            return Poll::Ready(());
        }
        signal.waker = Some(cx.waker().clone());
        self.waiting = true;
        Poll::Pending
    }
}

/// A task awaits the signal and checks the flag set before it; the root
/// sets the flag, then the signal. With `thread`, the waiter is a thread
/// that waits in `block_on`.
async fn trusting_waiter(thread: bool) {
    let signal = Arc::new(std::sync::Mutex::new(Signal::default()));
    let done = Arc::new(AtomicBool::new(false));
    let wait = {
        let (signal, done) = (signal.clone(), done.clone());
        move || {
            let waiting = Trusting {
                signal,
                waiting: false,
            };
            (waiting, move || {
                assert!(done.load(Ordering::SeqCst), "woken too early")
            })
        }
    };
    let waiter = if thread {
        let (waiting, check) = wait();
        thread::spawn(move || {
            racecheck::block_on(waiting);
            check();
        })
        .into_future()
    } else {
        let (waiting, check) = wait();
        racecheck::spawn(async move {
            waiting.await;
            check();
        })
    };
    racecheck::yield_now().await;
    done.store(true, Ordering::SeqCst);
    let waker = {
        let mut signal = signal.lock().unwrap();
        signal.set = true;
        signal.waker.take()
    };
    if let Some(waker) = waker {
        waker.wake();
    }
    waiter.await;
}

#[test]
fn spurious_wake_ups_are_a_choice_the_search_explores_when_asked() {
    for thread in [false, true] {
        let genuine = exhaustive().run(move || trusting_waiter(thread));
        assert!(
            genuine.complete && genuine.failure.is_none(),
            "{thread} {}",
            genuine.summary()
        );
        let report = exhaustive()
            .spurious_wakeups(true)
            .run(move || trusting_waiter(thread));
        let failure = report.failure.expect("a spurious poll before the signal");
        let FailureKind::Panic { message, .. } = &failure.kind else {
            panic!("expected a panic, got {failure}");
        };
        assert_eq!(message, "woken too early");
        let replayed = Builder::new()
            .strategy(Strategy::Replay(failure.schedule.clone()))
            .spurious_wakeups(true)
            .run(move || trusting_waiter(thread));
        assert_eq!(replayed.failure.map(|again| again.kind), Some(failure.kind));
        let random = Builder::new()
            .spurious_wakeups(true)
            .run(move || trusting_waiter(thread));
        assert!(random.failure.is_some(), "random search, thread: {thread}");
    }
}

#[test]
fn racecheck_primitives_tolerate_spurious_wake_ups() {
    let report = exhaustive()
        .spurious_wakeups(true)
        .granularity(Granularity::Step)
        .run(|| {
            thread::main(|| {
                let lock = Arc::new(blocking::Mutex::new(0));
                let permits = Arc::new(Semaphore::new(0));
                let others: Vec<_> = (0..2)
                    .map(|_| {
                        let (lock, permits) = (lock.clone(), permits.clone());
                        thread::spawn(move || {
                            *lock.lock().unwrap() += 1;
                            drop(racecheck::block_on(permits.acquire()));
                        })
                    })
                    .collect();
                *lock.lock().unwrap() += 1;
                permits.add_permits(2);
                for other in others {
                    other.join().unwrap();
                }
                assert_eq!(*lock.lock().unwrap(), 3);
            })
        });
    assert!(report.failure.is_none(), "{}", report.failure.unwrap());
    assert!(report.complete, "{}", report.summary());
}
