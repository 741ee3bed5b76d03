//! racecheck never takes the test process down: user code that runs at an
//! execution's teardown (destructors that spawn, wake, lock or release),
//! panics out of an exploration, and programs that break racecheck's
//! assumptions all end in a report or a panic with a sentence, and leave
//! the thread ready for the next exploration.

use racecheck::sched::{explore_with, Config, RandomScheduler, Scheduler};
use racecheck::sync::{blocking, Mutex, Notify, OwnedSemaphorePermit, Semaphore};
use racecheck::{thread, Builder, Check, FailureKind, Granularity, Strategy, TaskId};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Hands its semaphore permit to a new task when dropped: user code that
/// uses the runtime while the execution is being torn down.
struct SpawnsOnDrop {
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for SpawnsOnDrop {
    fn drop(&mut self) {
        let permit = self.permit.take();
        racecheck::spawn(async move {
            let _permit = permit;
        });
    }
}

/// A task that never finishes, holding `value` until it is dropped.
fn parked_forever<T: 'static>(value: T) -> racecheck::JoinHandle<()> {
    racecheck::spawn(async move {
        let _value = value;
        std::future::pending::<()>().await;
    })
}

#[test]
fn a_destructor_that_spawns_at_teardown_does_not_abort() {
    let report = Builder::new()
        .iterations(20)
        .hangs(Check::Off)
        .run(|| async {
            let permits = Arc::new(Semaphore::new(1));
            let permit = permits.acquire_owned().await.unwrap();
            parked_forever(SpawnsOnDrop {
                permit: Some(permit),
            });
            racecheck::yield_now().await;
        });
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.executions, 20);
}

/// A program that hides a counter from racecheck: each execution spawns
/// a different number of tasks (two or three, each taking a lock), so a
/// replayed prefix does not fit.
async fn hidden_counter(runs: &AtomicU64) {
    let tasks = runs.fetch_add(1, Ordering::SeqCst) % 2 + 2;
    let lock = Arc::new(Mutex::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let lock = lock.clone();
            racecheck::spawn(async move { *lock.lock().await += 1 })
        })
        .collect();
    for handle in handles {
        handle.await;
    }
}

#[test]
fn a_program_that_is_not_deterministic_is_reported_not_panicked_on() {
    for strategy in [Strategy::Bounded { preemptions: 2 }, Strategy::Exhaustive] {
        let runs = Arc::new(AtomicU64::new(0));
        let report = Builder::new()
            .strategy(strategy.clone())
            .iterations(100)
            .run(|| {
                let runs = runs.clone();
                async move { hidden_counter(&runs).await }
            });
        let failure = report
            .failure
            .unwrap_or_else(|| panic!("{strategy:?} notices the program changed"));
        assert!(matches!(failure.kind, FailureKind::Nondeterministic { .. }));
        assert!(
            failure.to_string().contains("not deterministic"),
            "{failure}"
        );
        // The same thread explores again without complaint.
        let next = Builder::new().iterations(5).run(|| async {
            racecheck::spawn(async {}).await;
        });
        assert!(next.failure.is_none());
        assert_eq!(next.executions, 5);
    }
}

#[test]
fn destructors_at_teardown_may_wake_lock_and_release() {
    struct Tidy {
        lock: Arc<Mutex<u32>>,
        notify: Arc<Notify>,
        permits: Arc<Semaphore>,
    }
    impl Drop for Tidy {
        fn drop(&mut self) {
            if let Ok(mut value) = self.lock.try_lock() {
                *value += 1;
            }
            self.notify.notify_one();
            self.permits.add_permits(1);
            if let Ok(permit) = self.permits.try_acquire() {
                drop(permit);
            }
        }
    }
    let report = Builder::new()
        .iterations(50)
        .hangs(Check::Off)
        .run(|| async {
            let lock = Arc::new(Mutex::new(0));
            let notify = Arc::new(Notify::new());
            let permits = Arc::new(Semaphore::new(0));
            {
                let notify = notify.clone();
                racecheck::spawn(async move { notify.notified().await });
            }
            parked_forever(Tidy {
                lock,
                notify,
                permits,
            });
            racecheck::yield_now().await;
        });
    assert!(report.failure.is_none(), "{:?}", report.failure);
}

#[test]
fn a_panic_in_a_destructor_at_teardown_is_not_a_failure_of_the_test() {
    struct Grenade;
    impl Drop for Grenade {
        fn drop(&mut self) {
            panic!("dropped at teardown");
        }
    }
    let report = Builder::new()
        .iterations(10)
        .hangs(Check::Off)
        .run(|| async {
            parked_forever(Grenade);
        });
    assert!(report.failure.is_none(), "{:?}", report.failure);
}

/// Everything a destructor may do with racecheck at the end of an
/// execution, from a thread (whose stack is unwound at the teardown).
struct BusyDestructor {
    lock: Arc<blocking::Mutex<u32>>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for BusyDestructor {
    fn drop(&mut self) {
        *self.lock.lock().unwrap() += 1;
        thread::yield_now();
        thread::sleep(Duration::from_secs(1));
        let fresh = Notify::new();
        fresh.notify_one();
        let permit = self.permit.take();
        let spawned = racecheck::spawn(async move {
            let _permit = permit;
        });
        assert!(!spawned.is_finished(), "a task spawned now never runs");
        let answer = racecheck::block_on(async { 42 });
        assert_eq!(answer, 42);
    }
}

#[test]
fn a_thread_unwound_at_teardown_may_run_racecheck_code_in_destructors() {
    for granularity in [Granularity::Await, Granularity::Step] {
        let report = Builder::new()
            .iterations(30)
            .hangs(Check::Off)
            .granularity(granularity)
            .run(|| {
                thread::main(|| {
                    let lock = Arc::new(blocking::Mutex::new(0));
                    let permits = Arc::new(Semaphore::new(1));
                    let permit = racecheck::block_on(permits.acquire_owned()).unwrap();
                    let busy = BusyDestructor {
                        lock,
                        permit: Some(permit),
                    };
                    thread::spawn(move || {
                        let _busy = busy;
                        let stuck = Notify::new();
                        racecheck::block_on(stuck.notified());
                    });
                    thread::yield_now();
                })
            });
        assert!(
            report.failure.is_none(),
            "{granularity:?}: {:?}",
            report.failure
        );
        assert_eq!(report.executions, 30);
    }
}

/// A custom strategy with a bug: it panics at its tenth choice.
struct Faulty {
    inner: RandomScheduler,
    choices: u32,
}

impl Scheduler for Faulty {
    fn new_execution(&mut self, iteration: u64) -> bool {
        self.choices = 0;
        self.inner.new_execution(iteration)
    }

    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
        self.choices += 1;
        assert!(self.choices < 10, "the strategy gave up at choice 10");
        self.inner.next_task(runnable, current)
    }
}

#[test]
fn a_panic_out_of_an_exploration_keeps_its_message_and_leaves_the_thread_ready() {
    let escaped = std::panic::catch_unwind(|| {
        let mut faulty = Faulty {
            inner: RandomScheduler::new(0),
            choices: 0,
        };
        explore_with(&Config::default(), &mut faulty, || async {
            let permits = Arc::new(Semaphore::new(1));
            let permit = permits.acquire_owned().await.unwrap();
            parked_forever(SpawnsOnDrop {
                permit: Some(permit),
            });
            for _ in 0..20 {
                racecheck::yield_now().await;
            }
        })
    });
    let payload = escaped.expect_err("the strategy's panic goes on to the caller");
    let message = payload.downcast_ref::<String>().expect("a message").clone();
    assert!(message.contains("gave up at choice 10"), "{message}");
    let next = Builder::new().iterations(5).run(|| async {
        racecheck::spawn(async {}).await;
    });
    assert!(next.failure.is_none());
    assert_eq!(next.executions, 5);
}

#[test]
fn a_strategy_that_panics_while_a_thread_runs_on_has_its_panic_reach_the_caller() {
    // Threads that yield end their steps on their own stacks, where the
    // strategy chooses whether they go on: its panic there still leaves
    // the exploration, not as a panic of the thread.
    let escaped = std::panic::catch_unwind(|| {
        let mut faulty = Faulty {
            inner: RandomScheduler::new(0),
            choices: 0,
        };
        explore_with(&Config::default(), &mut faulty, || {
            thread::main(|| {
                let worker = thread::spawn(|| {
                    for _ in 0..20 {
                        thread::yield_now();
                    }
                });
                for _ in 0..20 {
                    thread::yield_now();
                }
                worker.join().unwrap();
            })
        })
    });
    let payload = escaped.expect_err("the strategy's panic goes on to the caller");
    let message = payload.downcast_ref::<String>().expect("a message").clone();
    assert!(message.contains("gave up at choice 10"), "{message}");
    let next = Builder::new()
        .iterations(5)
        .run(|| thread::main(|| thread::spawn(thread::yield_now).join().unwrap()));
    assert!(next.failure.is_none());
    assert_eq!(next.executions, 5);
}

/// Locks its lock when dropped, blocking until it is free, and then counts
/// the drop.
struct LocksOnDrop(Arc<blocking::Mutex<u32>>, Arc<AtomicU64>);

impl Drop for LocksOnDrop {
    fn drop(&mut self) {
        *self.0.lock().unwrap() += 1;
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

/// A thread that never finishes, holding `value` until it is torn down.
fn thread_parked_forever<T: Send + 'static>(value: T) {
    thread::spawn(move || {
        let _value = value;
        racecheck::block_on(std::future::pending::<()>());
    });
}

#[test]
fn a_destructor_that_blocks_at_teardown_waits_for_the_other_tasks_to_end() {
    let dropped = Arc::new(AtomicU64::new(0));
    let report = Builder::new().iterations(20).hangs(Check::Off).run(|| {
        let dropped = dropped.clone();
        thread::main(move || {
            let lock = Arc::new(blocking::Mutex::new(0));
            // Torn down first, its destructor waits for the lock the
            // next thread holds until it is torn down too.
            thread_parked_forever(LocksOnDrop(lock.clone(), dropped));
            let holder = lock.clone();
            thread::spawn(move || {
                let _guard = holder.lock().unwrap();
                racecheck::block_on(std::future::pending::<()>());
            });
            thread::yield_now();
        })
    });
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.executions, 20);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        20,
        "every destructor got the lock"
    );
}

#[test]
fn destructors_that_deadlock_at_teardown_are_left_not_aborted() {
    let report = Builder::new()
        .iterations(20)
        .hangs(Check::Off)
        .deadlocks(Check::Off)
        .run(|| {
            thread::main(|| {
                let locks = [0, 1].map(|_| Arc::new(blocking::Mutex::new(0)));
                for me in 0..2 {
                    let (mine, theirs) = (locks[me].clone(), locks[1 - me].clone());
                    thread::spawn(move || {
                        let _guard = mine.lock().unwrap();
                        // Dropped before the guard: it waits for the other
                        // thread's lock, held by a destructor that waits too.
                        let _locker = LocksOnDrop(theirs, Arc::default());
                        racecheck::block_on(std::future::pending::<()>());
                    });
                }
                thread::yield_now();
            })
        });
    assert!(report.failure.is_none(), "{:?}", report.failure);
    let next = Builder::new().iterations(5).run(|| async {
        racecheck::spawn(async {}).await;
    });
    assert_eq!(next.executions, 5);
}

/// A waker whose drop drops another pending sleep: tokio's
/// `drop_from_waker_drop`. racecheck drops a timer's waker only outside its
/// state's borrow, so the inner sleep's drop may touch the state.
struct DropsASleep {
    sleep: Option<std::pin::Pin<Box<racecheck::time::Sleep>>>,
}

impl std::task::Wake for DropsASleep {
    fn wake(self: Arc<Self>) {}
}

impl Drop for DropsASleep {
    fn drop(&mut self) {
        drop(self.sleep.take());
    }
}

/// Polls `sleep` once with `waker`: pending, an hour to go.
fn poll_pending(sleep: std::pin::Pin<&mut racecheck::time::Sleep>, waker: &std::task::Waker) {
    use std::future::Future;
    let mut context = std::task::Context::from_waker(waker);
    assert!(sleep.poll(&mut context).is_pending());
}

#[test]
fn a_timer_waker_that_drops_a_sleep_when_dropped_is_not_a_reentrant_borrow() {
    for (granularity, leave_pending) in [
        (Granularity::Await, false),
        (Granularity::Step, false),
        (Granularity::Await, true),
    ] {
        let report = Builder::new()
            .iterations(5)
            .granularity(granularity)
            .hangs(Check::Off)
            .run(move || async move {
                let hour = Duration::from_secs(3600);
                let mut secondary = Box::pin(racecheck::time::sleep(hour));
                poll_pending(secondary.as_mut(), std::task::Waker::noop());
                let waker = std::task::Waker::from(Arc::new(DropsASleep {
                    sleep: Some(secondary),
                }));
                let mut primary = Box::pin(racecheck::time::sleep(hour));
                poll_pending(primary.as_mut(), &waker);
                // Polled again with another waker: the first is replaced.
                poll_pending(primary.as_mut(), std::task::Waker::noop());
                poll_pending(primary.as_mut(), &waker);
                drop(waker);
                if leave_pending {
                    // Held by a task that never finishes: the timer fires,
                    // or the teardown drops it.
                    parked_forever(primary);
                } else {
                    drop(primary);
                }
            });
        assert!(
            report.failure.is_none(),
            "{granularity:?}: {:?}",
            report.failure
        );
        assert_eq!(report.executions, 5);
    }
}
