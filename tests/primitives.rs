//! The semantics of every primitive, checked through the public API under
//! many schedules: who blocks, in which order waiters are served, what
//! cancellation leaves behind, what the error cases return, how virtual time
//! moves, and what a deadlock report says.
//!
//! Tests that need waiters queued in a known order use virtual time: waiter
//! `i` sleeps until its turn and then queues. The clock only moves when no
//! task can run, so every waiter has queued before the next one wakes, under
//! every schedule.

mod support;

use racecheck::sync::mpsc::{self, SendError, TrySendError};
use racecheck::sync::oneshot;
use racecheck::sync::{
    Event, Mutex, NotOwnerError, Notify, ReentrantMutex, RwLock, Semaphore, Shared, TryAcquireError,
};
use racecheck::time::{sleep, sleep_until, timeout, Instant};
use racecheck::{
    spawn, spawn_named, yield_now, Builder, Check, FailureKind, Finding, JoinHandle, TaskId,
};
use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use support::{explore, first_failure, join_all, log, ms, ITERATIONS};

/// Waiter ids in the order they queue; deliberately not their spawn order.
const QUEUE_ORDERS: [&[usize]; 3] = [&[0, 1, 2], &[2, 0, 1], &[1, 3, 0, 2]];

/// Spawns `waiter-0`, `waiter-1`, ...; waiter `i` sleeps until its turn in
/// `queue_order` (turns are 1 ms apart), then runs `request(i)`.
fn spawn_in_queue_order<Fut>(
    queue_order: &[usize],
    request: impl Fn(usize) -> Fut,
) -> Vec<JoinHandle<Fut::Output>>
where
    Fut: Future + 'static,
{
    (0..queue_order.len())
        .map(|waiter| {
            let turn = queue_order
                .iter()
                .position(|&queued| queued == waiter)
                .expect("every waiter has a turn");
            let request = request(waiter);
            spawn_named(format!("waiter-{waiter}"), async move {
                sleep(ms(turn as u64 + 1)).await;
                request.await
            })
        })
        .collect()
}

/// Virtual time after which every waiter of `queue_order` has queued.
fn all_queued(queue_order: &[usize]) -> Duration {
    ms(queue_order.len() as u64 + 1)
}

/// Polls a primitive's future by hand, within this step, until it has
/// reached the primitive: past its scheduling point, it has then either
/// finished or queued. The caller keeps the queued future and may drop it.
async fn poll_into_queue<F: Future>(mut future: Pin<&mut F>) -> Poll<F::Output> {
    poll_fn(|context| {
        Poll::Ready(match future.as_mut().poll(context) {
            Poll::Ready(output) => Poll::Ready(output),
            Poll::Pending => future.as_mut().poll(context),
        })
    })
    .await
}

#[test]
fn mutex_excludes_other_tasks_so_no_update_is_lost() {
    explore(|| async {
        let counter = Arc::new(Mutex::named("counter", 0));
        let holders = Rc::new(Cell::new(0));
        let workers = (0..3)
            .map(|_| {
                let (counter, holders) = (counter.clone(), holders.clone());
                spawn(async move {
                    for _ in 0..2 {
                        let mut guard = counter.lock().await;
                        holders.set(holders.get() + 1);
                        assert_eq!(holders.get(), 1, "two tasks hold the mutex");
                        let seen = *guard;
                        yield_now().await;
                        *guard = seen + 1;
                        holders.set(holders.get() - 1);
                    }
                })
            })
            .collect();
        join_all(workers).await;
        assert_eq!(*counter.lock().await, 6);
    });
}

#[test]
fn mutex_serves_waiters_in_fifo_order() {
    for queue_order in QUEUE_ORDERS {
        explore(move || async move {
            let served = Arc::new(Mutex::new(Vec::new()));
            let guard = served.lock().await;
            let waiters = spawn_in_queue_order(queue_order, |waiter| {
                let served = served.clone();
                async move { served.lock().await.push(waiter) }
            });
            sleep(all_queued(queue_order)).await;
            drop(guard);
            join_all(waiters).await;
            assert_eq!(*served.lock().await, queue_order);
        });
    }
}

#[test]
fn mutex_holder_that_locks_again_queues_behind_waiters() {
    explore(|| async {
        let served = Arc::new(Mutex::new(Vec::new()));
        let guard = served.lock().await;
        let waiter = {
            let served = served.clone();
            spawn(async move {
                sleep(ms(1)).await;
                served.lock().await.push("waiter");
            })
        };
        sleep(ms(2)).await;
        drop(guard);
        served.lock().await.push("holder");
        waiter.await;
        assert_eq!(*served.lock().await, ["waiter", "holder"]);
    });
}

#[test]
fn mutex_try_lock_fails_while_locked_or_handed_to_a_waiter() {
    explore(|| async {
        let mutex = Arc::new(Mutex::new(0));
        let guard = mutex.lock().await;
        assert!(mutex.try_lock().is_err(), "try_lock took a held lock");
        let waiter = {
            let mutex = mutex.clone();
            spawn(async move {
                sleep(ms(1)).await;
                *mutex.lock().await += 1;
            })
        };
        sleep(ms(2)).await;
        drop(guard);
        assert!(
            mutex.try_lock().is_err(),
            "try_lock barged past the waiter the lock was handed to"
        );
        waiter.await;
        assert_eq!(*mutex.try_lock().expect("free once the waiter is done"), 1);
    });
}

#[test]
fn mutex_cancelled_lock_neither_takes_the_lock_nor_blocks_later_lockers() {
    for later_lockers in [0, 2] {
        explore(move || async move {
            let mutex = Arc::new(Mutex::new(Vec::new()));
            let guard = mutex.lock().await;
            let impatient = {
                let mutex = mutex.clone();
                spawn_named("impatient", async move {
                    sleep(ms(1)).await;
                    let attempt = timeout(ms(5), mutex.lock()).await;
                    assert!(attempt.is_err(), "got a lock that was held throughout");
                })
            };
            let later: Vec<_> = (0..later_lockers)
                .map(|locker| {
                    let mutex = mutex.clone();
                    spawn(async move {
                        sleep(ms(2)).await;
                        mutex.lock().await.push(locker);
                    })
                })
                .collect();
            sleep(ms(10)).await;
            impatient.await;
            drop(guard);
            join_all(later).await;
            let guard = mutex.try_lock().expect("nobody holds the lock");
            assert_eq!(guard.len(), later_lockers);
        });
    }
}

#[test]
fn mutex_lock_handed_to_a_cancelled_waiter_passes_to_the_next() {
    explore(|| async {
        let mutex = Arc::new(Mutex::new(Vec::new()));
        let guard = mutex.lock().await;
        let mut cancelled = Box::pin(mutex.lock());
        assert!(poll_into_queue(cancelled.as_mut()).await.is_pending());
        let next = {
            let mutex = mutex.clone();
            spawn_named("next", async move { mutex.lock().await.push("next") })
        };
        sleep(ms(1)).await;
        drop(guard);
        assert!(
            mutex.try_lock().is_err(),
            "the lock was not handed to the first waiter"
        );
        drop(cancelled);
        next.await;
        assert_eq!(*mutex.try_lock().expect("free after next"), ["next"]);
    });
}

#[test]
fn mutex_get_mut_and_into_inner_reach_the_value() {
    explore(|| async {
        let mut mutex = Mutex::new(vec![1]);
        mutex.get_mut().push(2);
        mutex.lock().await.push(3);
        let mutex = Arc::new(mutex);
        let worker = {
            let mutex = mutex.clone();
            spawn(async move { mutex.lock().await.push(4) })
        };
        worker.await;
        let mutex = Arc::try_unwrap(mutex).expect("the worker dropped its clone");
        assert_eq!(mutex.into_inner(), [1, 2, 3, 4]);
    });
}

#[test]
fn rwlock_readers_hold_the_lock_together() {
    explore(|| async {
        let config = Arc::new(RwLock::new("v1"));
        let readers_in = Rc::new(Cell::new(0));
        let all_in = Arc::new(Event::new());
        let readers = (0..2)
            .map(|_| {
                let (config, readers_in, all_in) =
                    (config.clone(), readers_in.clone(), all_in.clone());
                spawn(async move {
                    let guard = config.read().await;
                    readers_in.set(readers_in.get() + 1);
                    if readers_in.get() == 2 {
                        all_in.set();
                    }
                    all_in.wait().await;
                    assert_eq!(*guard, "v1");
                })
            })
            .collect();
        join_all(readers).await;
    });
}

#[test]
fn rwlock_writer_excludes_readers_and_writers() {
    explore(|| async {
        let lock = Arc::new(RwLock::new(0));
        // Readers count up from 0; a writer marks -1.
        let holders = Rc::new(Cell::new(0));
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let (lock, holders) = (lock.clone(), holders.clone());
            tasks.push(spawn(async move {
                let mut guard = lock.write().await;
                assert_eq!(holders.get(), 0, "a writer shares the lock");
                holders.set(-1);
                let seen = *guard;
                yield_now().await;
                *guard = seen + 1;
                holders.set(0);
            }));
        }
        for _ in 0..2 {
            let (lock, holders) = (lock.clone(), holders.clone());
            tasks.push(spawn(async move {
                let _guard = lock.read().await;
                assert!(holders.get() >= 0, "a reader got in while a writer holds");
                holders.set(holders.get() + 1);
                yield_now().await;
                holders.set(holders.get() - 1);
            }));
        }
        join_all(tasks).await;
        assert_eq!(*lock.read().await, 2);
    });
}

#[test]
fn rwlock_queued_writer_blocks_later_readers() {
    explore(|| async {
        let lock = Arc::new(RwLock::new(()));
        let served = log();
        let reading = lock.read().await;
        let writer = {
            let (lock, served) = (lock.clone(), served.clone());
            spawn_named("writer", async move {
                sleep(ms(1)).await;
                let _guard = lock.write().await;
                served.borrow_mut().push("writer");
            })
        };
        let reader = {
            let (lock, served) = (lock.clone(), served.clone());
            spawn_named("reader", async move {
                sleep(ms(2)).await;
                let _guard = lock.read().await;
                served.borrow_mut().push("reader");
            })
        };
        sleep(ms(3)).await;
        assert!(!reader.is_finished(), "a reader got past the queued writer");
        assert!(
            lock.try_read().is_err(),
            "try_read got past the queued writer"
        );
        drop(reading);
        writer.await;
        reader.await;
        assert_eq!(*served.borrow(), ["writer", "reader"]);
    });
}

#[test]
fn rwlock_readers_queued_behind_a_writer_are_admitted_together() {
    explore(|| async {
        let lock = Arc::new(RwLock::new(0));
        let readers_in = Rc::new(Cell::new(0));
        let all_in = Arc::new(Event::new());
        let mut writing = lock.write().await;
        let readers = (0..2)
            .map(|_| {
                let (lock, readers_in, all_in) = (lock.clone(), readers_in.clone(), all_in.clone());
                spawn(async move {
                    let guard = lock.read().await;
                    readers_in.set(readers_in.get() + 1);
                    if readers_in.get() == 2 {
                        all_in.set();
                    }
                    all_in.wait().await;
                    *guard
                })
            })
            .collect();
        sleep(ms(1)).await;
        assert_eq!(
            readers_in.get(),
            0,
            "a reader got in while the writer holds"
        );
        *writing = 1;
        drop(writing);
        assert_eq!(join_all(readers).await, [1, 1]);
    });
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Nothing,
    Read,
    Write,
}

#[test]
fn rwlock_try_read_and_try_write_succeed_only_when_compatible() {
    let cases = [
        (Held::Nothing, true, true),
        (Held::Read, true, false),
        (Held::Write, false, false),
    ];
    for (held, read_succeeds, write_succeeds) in cases {
        explore(move || async move {
            let lock = RwLock::new(());
            let _read_guard = if held == Held::Read {
                Some(lock.read().await)
            } else {
                None
            };
            let _write_guard = if held == Held::Write {
                Some(lock.write().await)
            } else {
                None
            };
            assert_eq!(lock.try_read().is_ok(), read_succeeds, "try_read, {held:?}");
            assert_eq!(
                lock.try_write().is_ok(),
                write_succeeds,
                "try_write, {held:?}"
            );
        });
    }
}

#[test]
fn semaphore_never_admits_more_holders_than_permits() {
    for permits in [1, 2, 3] {
        let peak = Rc::new(Cell::new(0));
        let peak_seen = peak.clone();
        explore(move || {
            let peak = peak.clone();
            async move {
                let slots = Arc::new(Semaphore::new(permits));
                let holders = Rc::new(Cell::new(0));
                let tasks = (0..4)
                    .map(|_| {
                        let (slots, holders, peak) = (slots.clone(), holders.clone(), peak.clone());
                        spawn(async move {
                            let _permit = slots.acquire().await.expect("never closed");
                            holders.set(holders.get() + 1);
                            assert!(holders.get() <= permits, "{} holders", holders.get());
                            peak.set(peak.get().max(holders.get()));
                            yield_now().await;
                            holders.set(holders.get() - 1);
                        })
                    })
                    .collect();
                join_all(tasks).await;
                assert_eq!(slots.available_permits(), permits);
            }
        });
        assert_eq!(peak_seen.get(), permits, "no schedule used every permit");
    }
}

#[test]
fn semaphore_acquire_many_takes_its_permits_at_once() {
    explore(|| async {
        let semaphore = Arc::new(Semaphore::new(3));
        let first = semaphore.acquire().await.expect("open");
        let second = semaphore.acquire().await.expect("open");
        let many = {
            let semaphore = semaphore.clone();
            spawn(async move {
                let permit = semaphore.acquire_many(3).await.expect("open");
                assert_eq!(semaphore.available_permits(), 0);
                permit.num_permits()
            })
        };
        sleep(ms(1)).await;
        drop(first);
        sleep(ms(1)).await;
        assert!(!many.is_finished(), "acquire_many(3) took 2 free permits");
        assert_eq!(semaphore.available_permits(), 2);
        drop(second);
        assert_eq!(many.await, 3);
        assert_eq!(semaphore.available_permits(), 3);
    });
}

#[test]
fn semaphore_large_request_at_the_head_holds_back_smaller_ones() {
    explore(|| async {
        let semaphore = Arc::new(Semaphore::new(3));
        let served = log();
        let held = semaphore.acquire_many(2).await.expect("open");
        let large = {
            let (semaphore, served) = (semaphore.clone(), served.clone());
            spawn_named("large", async move {
                sleep(ms(1)).await;
                let _permit = semaphore.acquire_many(3).await.expect("open");
                served.borrow_mut().push("large");
            })
        };
        let small = {
            let (semaphore, served) = (semaphore.clone(), served.clone());
            spawn_named("small", async move {
                sleep(ms(2)).await;
                let _permit = semaphore.acquire().await.expect("open");
                served.borrow_mut().push("small");
            })
        };
        sleep(ms(3)).await;
        assert_eq!(semaphore.available_permits(), 1);
        assert!(!small.is_finished(), "the small request barged");
        assert_eq!(
            semaphore.try_acquire().err(),
            Some(TryAcquireError::NoPermits),
            "try_acquire barged"
        );
        drop(held);
        large.await;
        small.await;
        assert_eq!(*served.borrow(), ["large", "small"]);
    });
}

#[test]
fn semaphore_try_acquire_reports_no_permits_and_closed() {
    // (permits, requested, closed, outcome as permits taken)
    let cases = [
        (2, 1, false, Ok(1)),
        (2, 2, false, Ok(2)),
        (2, 3, false, Err(TryAcquireError::NoPermits)),
        (0, 1, false, Err(TryAcquireError::NoPermits)),
        (2, 1, true, Err(TryAcquireError::Closed)),
        (0, 1, true, Err(TryAcquireError::Closed)),
    ];
    explore(move || async move {
        for (permits, requested, closed, outcome) in cases {
            let semaphore = Semaphore::new(permits);
            if closed {
                semaphore.close();
            }
            let taken = semaphore
                .try_acquire_many(requested)
                .map(|permit| permit.num_permits());
            assert_eq!(taken, outcome, "{requested} of {permits}, closed: {closed}");
            let single = semaphore.try_acquire().map(|permit| permit.num_permits());
            let single_expected = match (closed, permits) {
                (true, _) => Err(TryAcquireError::Closed),
                (false, 0) => Err(TryAcquireError::NoPermits),
                (false, _) => Ok(1),
            };
            assert_eq!(single, single_expected, "try_acquire of {permits}");
        }
    });
}

#[test]
fn semaphore_add_permits_wakes_waiters_in_fifo_order() {
    for queue_order in QUEUE_ORDERS {
        explore(move || async move {
            let semaphore = Arc::new(Semaphore::new(0));
            let served = log();
            let waiters = spawn_in_queue_order(queue_order, |waiter| {
                let (semaphore, served) = (semaphore.clone(), served.clone());
                async move {
                    semaphore.acquire().await.expect("open").forget();
                    served.borrow_mut().push(waiter);
                }
            });
            sleep(all_queued(queue_order)).await;
            // One permit at a time shows the order; the last two permits
            // come together and wake both remaining waiters.
            let (one_by_one, together) = queue_order.split_at(queue_order.len() - 2);
            for served_count in 1..=one_by_one.len() {
                semaphore.add_permits(1);
                sleep(ms(1)).await;
                assert_eq!(served.borrow().as_slice(), &queue_order[..served_count]);
            }
            semaphore.add_permits(2);
            join_all(waiters).await;
            let mut last_served = served.borrow()[one_by_one.len()..].to_vec();
            last_served.sort_unstable();
            let mut last_queued = together.to_vec();
            last_queued.sort_unstable();
            assert_eq!(last_served, last_queued);
            assert_eq!(semaphore.available_permits(), 0);
        });
    }
}

#[test]
fn semaphore_close_fails_pending_and_later_acquires() {
    explore(|| async {
        let semaphore = Arc::new(Semaphore::new(0));
        let pending: Vec<_> = (0..3)
            .map(|_| {
                let semaphore = semaphore.clone();
                spawn(async move { semaphore.acquire().await.is_err() })
            })
            .collect();
        sleep(ms(1)).await;
        semaphore.close();
        assert!(semaphore.is_closed());
        assert_eq!(join_all(pending).await, [true, true, true]);
        assert!(semaphore.acquire().await.is_err());
        assert!(semaphore.acquire_many(2).await.is_err());
        assert!(semaphore.clone().acquire_owned().await.is_err());
        semaphore.add_permits(1);
        assert_eq!(semaphore.try_acquire().err(), Some(TryAcquireError::Closed));
    });
}

#[test]
fn semaphore_dropped_permits_return_but_forgotten_ones_do_not() {
    explore(|| async {
        let semaphore = Arc::new(Semaphore::new(4));
        drop(semaphore.acquire_many(2).await.expect("open"));
        assert_eq!(semaphore.available_permits(), 4);
        semaphore.acquire().await.expect("open").forget();
        assert_eq!(semaphore.available_permits(), 3);
        drop(semaphore.clone().acquire_owned().await.expect("open"));
        assert_eq!(semaphore.available_permits(), 3);
        semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("open")
            .forget();
        assert_eq!(semaphore.available_permits(), 2);
    });
}

#[test]
fn semaphore_cancelled_acquire_leaves_the_queue() {
    explore(|| async {
        let semaphore = Arc::new(Semaphore::new(1));
        let held = semaphore.acquire().await.expect("open");
        let impatient = {
            let semaphore = semaphore.clone();
            spawn_named("impatient", async move {
                sleep(ms(1)).await;
                let attempt = timeout(ms(5), semaphore.acquire()).await;
                assert!(attempt.is_err(), "got a permit that was held throughout");
            })
        };
        let patient = {
            let semaphore = semaphore.clone();
            spawn_named("patient", async move {
                sleep(ms(2)).await;
                let _permit = semaphore.acquire().await.expect("open");
            })
        };
        sleep(ms(10)).await;
        impatient.await;
        drop(held);
        patient.await;
        assert_eq!(semaphore.available_permits(), 1);
    });
}

#[test]
fn semaphore_permits_granted_to_a_cancelled_acquire_pass_to_the_next() {
    explore(|| async {
        let semaphore = Arc::new(Semaphore::new(2));
        let held = semaphore.acquire_many(2).await.expect("open");
        let mut cancelled = Box::pin(semaphore.acquire_many(2));
        assert!(poll_into_queue(cancelled.as_mut()).await.is_pending());
        let next = {
            let semaphore = semaphore.clone();
            spawn_named("next", async move {
                semaphore.acquire().await.expect("open").num_permits()
            })
        };
        sleep(ms(1)).await;
        drop(held);
        assert_eq!(
            semaphore.available_permits(),
            0,
            "the permits were not granted to the first waiter"
        );
        drop(cancelled);
        assert_eq!(next.await, 1);
        assert_eq!(semaphore.available_permits(), 2);
    });
}

#[test]
fn semaphore_owned_permit_moves_into_another_task() {
    explore(|| async {
        let semaphore = Arc::new(Semaphore::new(1));
        let permit = semaphore.clone().acquire_owned().await.expect("open");
        assert_eq!(permit.num_permits(), 1);
        let holder = spawn(async move {
            sleep(ms(5)).await;
            drop(permit);
        });
        assert!(semaphore.try_acquire().is_err());
        let start = Instant::now();
        let _permit = semaphore.acquire().await.expect("open");
        assert_eq!(start.elapsed(), ms(5), "the permit returned when dropped");
        holder.await;
    });
}

#[test]
fn notify_one_without_waiters_stores_a_single_permit() {
    explore(|| async {
        let notify = Notify::new();
        notify.notify_one();
        notify.notify_one();
        let start = Instant::now();
        assert!(timeout(ms(10), notify.notified()).await.is_ok());
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "the permit did not serve at once"
        );
        assert!(
            timeout(ms(10), notify.notified()).await.is_err(),
            "two notify_one calls stored two permits"
        );
    });
}

#[test]
fn notify_one_wakes_waiters_in_fifo_order() {
    for queue_order in QUEUE_ORDERS {
        explore(move || async move {
            let notify = Arc::new(Notify::new());
            let woken = log();
            let waiters = spawn_in_queue_order(queue_order, |waiter| {
                let (notify, woken) = (notify.clone(), woken.clone());
                async move {
                    notify.notified().await;
                    woken.borrow_mut().push(waiter);
                }
            });
            sleep(all_queued(queue_order)).await;
            for notified in 1..=queue_order.len() {
                notify.notify_one();
                sleep(ms(1)).await;
                assert_eq!(woken.borrow().as_slice(), &queue_order[..notified]);
            }
            join_all(waiters).await;
        });
    }
}

#[test]
fn notify_waiters_wakes_every_waiter_and_stores_no_permit() {
    explore(|| async {
        let notify = Arc::new(Notify::new());
        let waiters = (0..3)
            .map(|_| {
                let notify = notify.clone();
                spawn(async move { notify.notified().await })
            })
            .collect();
        sleep(ms(1)).await;
        notify.notify_waiters();
        join_all(waiters).await;
        assert!(
            timeout(ms(10), notify.notified()).await.is_err(),
            "notify_waiters stored a permit"
        );
    });
}

#[test]
fn notified_created_before_notify_waiters_completes_without_having_been_polled() {
    explore(|| async {
        let notify = Notify::new();
        let before = notify.notified();
        notify.notify_waiters();
        let after = notify.notified();
        assert!(timeout(ms(10), before).await.is_ok());
        assert!(
            timeout(ms(10), after).await.is_err(),
            "a Notified created after notify_waiters was woken by it"
        );
    });
}

#[test]
fn notified_chosen_by_notify_one_and_dropped_passes_the_notification_on() {
    for another_waiter in [true, false] {
        explore(move || async move {
            let notify = Arc::new(Notify::new());
            let mut chosen = Box::pin(notify.notified());
            assert!(poll_into_queue(chosen.as_mut()).await.is_pending());
            let next = another_waiter.then(|| {
                let notify = notify.clone();
                spawn_named("next", async move { notify.notified().await })
            });
            sleep(ms(1)).await;
            notify.notify_one();
            drop(chosen);
            let passed_on = match next {
                Some(next) => timeout(ms(10), next).await,
                None => timeout(ms(10), notify.notified()).await,
            };
            assert!(
                passed_on.is_ok(),
                "the dropped waiter's notification was lost"
            );
        });
    }
}

#[test]
fn event_wait_returns_at_once_when_set() {
    explore(|| async {
        let event = Event::new();
        assert!(!event.is_set());
        event.set();
        assert!(event.is_set());
        let start = Instant::now();
        event.wait().await;
        event.wait().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(event.is_set(), "waiting consumed the flag");
    });
}

#[test]
fn event_set_wakes_every_waiter() {
    explore(|| async {
        let event = Arc::new(Event::new());
        let waiters = (0..3)
            .map(|_| {
                let event = event.clone();
                spawn(async move { event.wait().await })
            })
            .collect();
        sleep(ms(1)).await;
        event.set();
        join_all(waiters).await;
    });
}

#[test]
fn event_waiter_woken_by_set_returns_even_if_cleared_before_it_runs() {
    explore(|| async {
        let event = Arc::new(Event::new());
        let waiter = {
            let event = event.clone();
            spawn(async move { event.wait().await })
        };
        sleep(ms(1)).await;
        event.set();
        event.clear();
        assert!(
            timeout(ms(10), waiter).await.is_ok(),
            "the clear took back the wake-up"
        );
        assert!(!event.is_set());
    });
}

#[test]
fn event_wait_blocks_again_after_clear() {
    explore(|| async {
        let event = Arc::new(Event::new());
        event.set();
        event.clear();
        assert!(!event.is_set());
        assert!(timeout(ms(10), event.wait()).await.is_err());
        let setter = {
            let event = event.clone();
            spawn(async move {
                sleep(ms(5)).await;
                event.set();
            })
        };
        let start = Instant::now();
        event.wait().await;
        assert_eq!(start.elapsed(), ms(5));
        setter.await;
    });
}

#[test]
fn reentrant_mutex_owner_reenters_and_others_wait_for_every_level() {
    for levels in [1, 2, 3] {
        explore(move || async move {
            let lock = Arc::new(ReentrantMutex::named("tree", ()));
            let start = Instant::now();
            for _ in 0..levels {
                lock.acquire().await;
            }
            assert!(lock.is_owned_by_current_task());
            let other = {
                let lock = lock.clone();
                spawn_named("other", async move {
                    assert!(!lock.is_owned_by_current_task());
                    let _guard = lock.lock().await;
                    start.elapsed()
                })
            };
            for _ in 0..levels {
                sleep(ms(1)).await;
                lock.release().expect("the owner releases");
            }
            assert_eq!(
                other.await,
                ms(levels),
                "acquired before every level was released"
            );
        });
    }
}

#[test]
fn reentrant_mutex_guards_release_one_level_each() {
    explore(|| async {
        let lock = ReentrantMutex::new(7);
        let outer = lock.lock().await;
        let inner = lock.lock().await;
        assert_eq!((*outer, *inner), (7, 7));
        drop(inner);
        assert!(lock.is_locked());
        drop(outer);
        assert!(!lock.is_locked());
        for _ in 0..3 {
            lock.acquire().await;
        }
        for remaining in (0..3).rev() {
            lock.release().expect("held");
            assert_eq!(lock.is_locked(), remaining > 0);
        }
        assert_eq!(lock.release(), Err(NotOwnerError { task: TaskId::ROOT }));
    });
}

#[test]
fn reentrant_mutex_lock_handed_to_a_cancelled_waiter_passes_to_the_next() {
    explore(|| async {
        let lock = Arc::new(ReentrantMutex::new(()));
        let holder = {
            let lock = lock.clone();
            spawn_named("holder", async move {
                lock.acquire().await;
                sleep(ms(2)).await;
                lock.release().expect("the holder owns the lock");
            })
        };
        sleep(ms(1)).await;
        let mut cancelled = Box::pin(lock.acquire());
        assert!(poll_into_queue(cancelled.as_mut()).await.is_pending());
        let next = {
            let lock = lock.clone();
            spawn_named("next", async move {
                lock.acquire().await;
                let owned = lock.is_owned_by_current_task();
                lock.release().expect("next owns the lock");
                owned
            })
        };
        holder.await;
        assert!(
            lock.is_owned_by_current_task(),
            "the lock was not handed to the first waiter"
        );
        drop(cancelled);
        assert!(next.await, "the lock did not pass to the next waiter");
        assert!(!lock.is_locked());
    });
}

#[test]
fn reentrant_mutex_release_by_a_non_owner_fails() {
    explore(|| async {
        let lock = Arc::new(ReentrantMutex::new(()));
        lock.acquire().await;
        let intruder = {
            let lock = lock.clone();
            spawn_named("intruder", async move { lock.release() })
        };
        let intruder_id = intruder.id();
        assert_eq!(intruder.await, Err(NotOwnerError { task: intruder_id }));
        assert!(
            lock.is_owned_by_current_task(),
            "a failed release changed the owner"
        );
        lock.release().expect("the owner releases");
        assert!(!lock.is_locked());
    });
}

#[test]
fn reentrant_mutex_excludes_other_tasks_so_no_update_is_lost() {
    explore(|| async {
        let counter = Rc::new(ReentrantMutex::new(Cell::new(0)));
        let workers = (0..3)
            .map(|_| {
                let counter = counter.clone();
                spawn(async move {
                    let outer = counter.lock().await;
                    let seen = outer.get();
                    yield_now().await;
                    let inner = counter.lock().await;
                    yield_now().await;
                    inner.set(seen + 1);
                })
            })
            .collect();
        join_all(workers).await;
        assert_eq!(counter.lock().await.get(), 3);
    });
}

#[test]
fn reentrant_mutex_serves_other_tasks_in_fifo_order() {
    for queue_order in QUEUE_ORDERS {
        explore(move || async move {
            let served = Rc::new(ReentrantMutex::new(RefCell::new(Vec::new())));
            let guard = served.lock().await;
            let waiters = spawn_in_queue_order(queue_order, |waiter| {
                let served = served.clone();
                async move { served.lock().await.borrow_mut().push(waiter) }
            });
            sleep(all_queued(queue_order)).await;
            drop(guard);
            join_all(waiters).await;
            assert_eq!(*served.lock().await.borrow(), queue_order);
        });
    }
}

#[test]
fn mpsc_delivers_each_senders_messages_in_order() {
    for capacity in [1, 2, 8] {
        explore(move || async move {
            let (sender, mut receiver) = mpsc::channel(capacity);
            let producers = (0..2)
                .map(|producer| {
                    let sender = sender.clone();
                    spawn(async move {
                        for sequence in 0..3 {
                            sender.send((producer, sequence)).await.expect("open");
                        }
                    })
                })
                .collect();
            drop(sender);
            let mut next_sequence = [0, 0];
            while let Some((producer, sequence)) = receiver.recv().await {
                assert_eq!(sequence, next_sequence[producer], "producer {producer}");
                next_sequence[producer] += 1;
            }
            assert_eq!(next_sequence, [3, 3]);
            join_all(producers).await;
        });
    }
}

#[test]
fn mpsc_full_channel_blocks_senders_and_serves_them_in_fifo_order() {
    for queue_order in QUEUE_ORDERS {
        explore(move || async move {
            let (sender, mut receiver) = mpsc::channel(1);
            sender.try_send(usize::MAX).expect("room for one");
            let senders = spawn_in_queue_order(queue_order, |waiter| {
                let sender = sender.clone();
                async move { sender.send(waiter).await.expect("open") }
            });
            drop(sender);
            sleep(all_queued(queue_order)).await;
            assert!(
                senders.iter().all(|sender| !sender.is_finished()),
                "a sender did not block on the full channel"
            );
            let mut received = Vec::new();
            while let Some(message) = receiver.recv().await {
                received.push(message);
            }
            assert_eq!(received[0], usize::MAX);
            assert_eq!(&received[1..], queue_order);
            join_all(senders).await;
        });
    }
}

#[test]
fn mpsc_recv_returns_none_after_every_sender_and_clone_drops() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(4);
        let collector = spawn_named("collector", async move {
            let mut received = Vec::new();
            while let Some(message) = receiver.recv().await {
                received.push(message);
            }
            assert_eq!(receiver.try_recv(), Err(mpsc::TryRecvError::Disconnected));
            received
        });
        let producers = (0..2)
            .map(|producer| {
                let sender = sender.clone();
                spawn(async move { sender.send(producer).await.expect("open") })
            })
            .collect();
        yield_now().await;
        drop(sender);
        join_all(producers).await;
        let mut received = collector.await;
        received.sort_unstable();
        assert_eq!(received, [0, 1]);
    });
}

#[test]
fn mpsc_send_fails_with_the_value_back_once_the_receiver_is_gone() {
    for close_instead_of_drop in [false, true] {
        explore(move || async move {
            let (sender, receiver) = mpsc::channel(1);
            sender.try_send("queued").expect("room for one");
            let blocked = {
                let sender = sender.clone();
                spawn_named("blocked", async move { sender.send("blocked").await })
            };
            sleep(ms(1)).await;
            let mut receiver = Some(receiver);
            if close_instead_of_drop {
                receiver.as_mut().expect("kept").close();
            } else {
                receiver = None;
            }
            assert!(sender.is_closed());
            assert_eq!(blocked.await, Err(SendError("blocked")));
            assert_eq!(sender.send("late").await, Err(SendError("late")));
            assert_eq!(sender.try_send("later"), Err(TrySendError::Closed("later")));
            if let Some(mut receiver) = receiver {
                assert_eq!(
                    receiver.try_recv(),
                    Ok("queued"),
                    "close lost a queued message"
                );
            }
        });
    }
}

#[test]
fn mpsc_closed_receiver_drains_queued_messages_then_returns_none() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(2);
        sender.send(1).await.expect("open");
        receiver.close();
        assert_eq!(receiver.recv().await, Some(1));
        assert_eq!(receiver.recv().await, None);
        assert_eq!(receiver.try_recv(), Err(mpsc::TryRecvError::Disconnected));
        drop(sender);
    });
}

#[test]
fn mpsc_try_send_reports_full_and_closed() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(1);
        assert_eq!(sender.try_send(1), Ok(()));
        assert_eq!(sender.capacity(), 0);
        assert_eq!(sender.try_send(2), Err(TrySendError::Full(2)));
        let blocked = {
            let sender = sender.clone();
            spawn(async move { sender.send(3).await.expect("open") })
        };
        sleep(ms(1)).await;
        assert_eq!(receiver.recv().await, Some(1));
        assert_eq!(
            sender.try_send(4),
            Err(TrySendError::Full(4)),
            "try_send took the slot freed for the blocked sender"
        );
        blocked.await;
        assert_eq!(receiver.recv().await, Some(3));
        drop(receiver);
        assert_eq!(sender.try_send(5), Err(TrySendError::Closed(5)));
    });
}

#[test]
fn mpsc_try_recv_reports_empty_and_disconnected() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(2);
        assert_eq!(receiver.try_recv(), Err(mpsc::TryRecvError::Empty));
        sender.send(1).await.expect("open");
        sender.send(2).await.expect("open");
        assert_eq!(receiver.try_recv(), Ok(1));
        drop(sender);
        assert_eq!(
            receiver.try_recv(),
            Ok(2),
            "queued messages outlive the senders"
        );
        assert_eq!(receiver.try_recv(), Err(mpsc::TryRecvError::Disconnected));
    });
}

#[test]
fn mpsc_unbounded_channel_never_blocks_senders() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::unbounded_channel();
        for message in 0..100 {
            sender.send(message).expect("open");
        }
        let producer = {
            let sender = sender.clone();
            spawn(async move {
                for message in 100..103 {
                    sender.send(message).expect("open");
                    yield_now().await;
                }
            })
        };
        drop(sender);
        let mut received = Vec::new();
        while let Some(message) = receiver.recv().await {
            received.push(message);
        }
        assert_eq!(received, (0..103).collect::<Vec<_>>());
        assert_eq!(receiver.try_recv(), Err(mpsc::TryRecvError::Disconnected));
        producer.await;

        let (sender, receiver) = mpsc::unbounded_channel();
        drop(receiver);
        assert!(sender.is_closed());
        assert_eq!(sender.send("late"), Err(SendError("late")));
    });
}

#[test]
fn mpsc_cancelled_send_neither_delivers_nor_blocks_later_senders() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(1);
        sender.try_send("first").expect("room for one");
        let impatient = {
            let sender = sender.clone();
            spawn_named("impatient", async move {
                sleep(ms(1)).await;
                let attempt = timeout(ms(5), sender.send("impatient")).await;
                assert!(attempt.is_err(), "sent into a full channel");
            })
        };
        let patient = {
            let sender = sender.clone();
            spawn_named("patient", async move {
                sleep(ms(2)).await;
                sender.send("patient").await.expect("open");
            })
        };
        drop(sender);
        sleep(ms(10)).await;
        let mut received = Vec::new();
        while let Some(message) = receiver.recv().await {
            received.push(message);
        }
        assert_eq!(received, ["first", "patient"]);
        impatient.await;
        patient.await;
    });
}

#[test]
fn mpsc_slot_granted_to_a_cancelled_send_passes_to_the_next_sender() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(1);
        sender.try_send("first").expect("room for one");
        let mut cancelled = Box::pin(sender.send("cancelled"));
        assert!(poll_into_queue(cancelled.as_mut()).await.is_pending());
        let next = {
            let sender = sender.clone();
            spawn_named(
                "next",
                async move { sender.send("next").await.expect("open") },
            )
        };
        sleep(ms(1)).await;
        assert_eq!(receiver.recv().await, Some("first"));
        drop(cancelled);
        next.await;
        drop(sender);
        assert_eq!(receiver.recv().await, Some("next"));
        assert_eq!(receiver.recv().await, None);
    });
}

#[test]
fn mpsc_cancelled_recv_loses_no_message() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(1);
        let producer = spawn(async move {
            sleep(ms(10)).await;
            sender.send("late").await.expect("open");
        });
        assert!(timeout(ms(5), receiver.recv()).await.is_err());
        assert_eq!(receiver.recv().await, Some("late"));
        producer.await;
    });
}

#[test]
fn oneshot_delivers_the_value() {
    explore(|| async {
        let (sender, receiver) = oneshot::channel();
        let replier = spawn(async move {
            yield_now().await;
            sender.send(42).expect("receiver waits");
        });
        assert_eq!(receiver.await, Ok(42));
        replier.await;
    });
}

#[test]
fn oneshot_receiver_fails_when_the_sender_drops_without_sending() {
    explore(|| async {
        let (sender, receiver) = oneshot::channel::<u32>();
        let quitter = spawn(async move {
            yield_now().await;
            drop(sender);
        });
        assert!(receiver.await.is_err());
        quitter.await;
    });
}

#[test]
fn oneshot_send_fails_with_the_value_back_once_the_receiver_is_gone() {
    for close_instead_of_drop in [false, true] {
        explore(move || async move {
            let (sender, mut receiver) = oneshot::channel();
            let waiter = spawn(async move {
                yield_now().await;
                if close_instead_of_drop {
                    receiver.close();
                    Some(receiver)
                } else {
                    None
                }
            });
            let _receiver = waiter.await;
            assert!(sender.is_closed());
            assert_eq!(sender.send("late"), Err("late"));
        });
    }
}

#[test]
fn oneshot_try_recv_reports_empty_then_the_value_then_closed() {
    explore(|| async {
        let (sender, mut receiver) = oneshot::channel();
        assert_eq!(receiver.try_recv(), Err(oneshot::TryRecvError::Empty));
        sender.send(5).expect("receiver alive");
        assert_eq!(receiver.try_recv(), Ok(5));
        assert_eq!(receiver.try_recv(), Err(oneshot::TryRecvError::Closed));

        let (sender, mut receiver) = oneshot::channel::<u32>();
        drop(sender);
        assert_eq!(receiver.try_recv(), Err(oneshot::TryRecvError::Closed));
    });
}

#[test]
fn oneshot_closed_receiver_reports_closed_at_once() {
    explore(|| async {
        let (sender, mut receiver) = oneshot::channel::<u32>();
        receiver.close();
        assert!(
            matches!(timeout(ms(1), &mut receiver).await, Ok(Err(_))),
            "awaiting blocked"
        );
        assert_eq!(receiver.try_recv(), Err(oneshot::TryRecvError::Closed));
        drop(sender);
    });
}

#[test]
fn shared_accessors_read_and_write_the_value() {
    explore(|| async {
        let row = Arc::new(Shared::named("row", 1));
        assert_eq!(row.load().await, 1);
        row.store(2).await;
        assert_eq!(row.get(), 2);
        let returned = row
            .update(|value| {
                *value *= 10;
                *value + 1
            })
            .await;
        assert_eq!((returned, row.get()), (21, 20));
        row.set(3);
        assert_eq!(row.load().await, 3);
        assert_eq!(row.with(|value| value * 2), 6);
        row.with_mut(|value| *value += 4);
        let writer = {
            let row = row.clone();
            spawn(async move { row.store(8).await })
        };
        writer.await;
        assert_eq!(
            row.get(),
            8,
            "a store in another task is visible after join"
        );
        let row = Arc::try_unwrap(row).expect("the writer dropped its clone");
        assert_eq!(row.into_inner(), 8);
    });
}

#[test]
fn shared_update_is_atomic_so_no_update_is_lost() {
    // Unsynchronised updates are a race (the detector's business, see
    // detector_corpus.rs); here only their atomicity is under test.
    Builder::new()
        .races(Check::Off)
        .iterations(ITERATIONS)
        .check(|| async {
            let rows = Arc::new(Shared::named("rows", 0));
            let workers = (0..4)
                .map(|_| {
                    let rows = rows.clone();
                    spawn(async move {
                        for _ in 0..3 {
                            rows.update(|rows| *rows += 1).await;
                        }
                    })
                })
                .collect();
            join_all(workers).await;
            assert_eq!(rows.get(), 12);
        });
}

#[test]
fn shared_load_then_store_across_an_await_loses_updates_under_some_schedule() {
    let report = Builder::new()
        .races(Check::Off)
        .iterations(ITERATIONS)
        .run(|| async {
            let rows = Arc::new(Shared::named("rows", 0));
            let workers = (0..2)
                .map(|_| {
                    let rows = rows.clone();
                    spawn(async move {
                        let seen = rows.load().await;
                        rows.store(seen + 1).await;
                    })
                })
                .collect();
            join_all(workers).await;
            assert_eq!(rows.get(), 2, "lost update");
        });
    let failure = report.failure.expect("some schedule loses an update").kind;
    assert!(
        matches!(&failure, FailureKind::Panic { message, .. } if message.contains("lost update")),
        "{failure}"
    );
}

#[test]
fn sleeping_an_hour_finishes_at_once_on_the_virtual_clock() {
    explore(|| async {
        let start = Instant::now();
        sleep(Duration::from_secs(3600)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(3600));
    });
}

#[test]
fn instant_advances_exactly_by_the_slept_durations() {
    let naps = [
        ms(3),
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_secs(2),
        ms(250),
    ];
    explore(move || async move {
        let background = spawn(async {
            for _ in 0..5 {
                sleep(ms(7)).await;
            }
        });
        let start = Instant::now();
        let mut slept = Duration::ZERO;
        for nap in naps {
            sleep(nap).await;
            slept += nap;
            assert_eq!(Instant::now() - start, slept);
        }
        background.await;
    });
}

#[test]
fn sleep_until_wakes_at_the_deadline_and_a_past_deadline_does_not_wait() {
    explore(|| async {
        let start = Instant::now();
        let deadline = start + ms(15);
        sleep_until(deadline).await;
        assert_eq!(Instant::now(), deadline);
        sleep_until(start).await;
        assert_eq!(Instant::now(), deadline, "a past deadline moved the clock");
    });
}

#[test]
fn timeout_elapses_only_when_the_inner_future_is_slower() {
    // (work, limit)
    let cases = [
        (ms(5), ms(10)),
        (ms(10), ms(5)),
        (Duration::ZERO, ms(1)),
        (Duration::from_secs(60), ms(1)),
    ];
    for (work, limit) in cases {
        explore(move || async move {
            let start = Instant::now();
            let outcome = timeout(limit, async {
                sleep(work).await;
                "done"
            })
            .await;
            if work < limit {
                assert_eq!(outcome, Ok("done"));
                assert_eq!(start.elapsed(), work);
            } else {
                assert!(outcome.is_err(), "{work:?} of work beat a {limit:?} limit");
                assert_eq!(start.elapsed(), limit);
            }
        });
    }
}

#[test]
fn sleepers_wake_in_deadline_order() {
    explore(|| async {
        let start = Instant::now();
        let woken = log();
        let sleepers = [20, 10]
            .into_iter()
            .map(|millis| {
                let woken = woken.clone();
                spawn(async move {
                    sleep(ms(millis)).await;
                    woken.borrow_mut().push((millis, start.elapsed()));
                })
            })
            .collect();
        join_all(sleepers).await;
        assert_eq!(*woken.borrow(), [(10, ms(10)), (20, ms(20))]);
    });
}

#[test]
fn opposite_lock_orders_deadlock_and_the_report_names_waiters_and_holders() {
    let failure = first_failure(|| async {
        let a = Arc::new(Mutex::named("a", ()));
        let b = Arc::new(Mutex::named("b", ()));
        let forward = {
            let (a, b) = (a.clone(), b.clone());
            spawn_named("a-then-b", async move {
                let _a = a.lock().await;
                yield_now().await;
                let _b = b.lock().await;
            })
        };
        let backward = spawn_named("b-then-a", async move {
            let _b = b.lock().await;
            yield_now().await;
            let _a = a.lock().await;
        });
        forward.await;
        backward.await;
    });
    let FailureKind::Finding(Finding::Deadlock(deadlock)) = &failure else {
        panic!("expected a deadlock, got {failure}");
    };
    let waits: Vec<&str> = deadlock
        .cycle
        .iter()
        .map(|wait| wait.description.as_str())
        .collect();
    for expected in [
        "task 'a-then-b' waits to lock Mutex 'b', held by 'b-then-a'",
        "task 'b-then-a' waits to lock Mutex 'a', held by 'a-then-b'",
    ] {
        assert!(
            waits.iter().any(|wait| wait.contains(expected)),
            "no {expected:?} in {waits:#?}"
        );
    }
}

#[test]
fn relocking_a_held_mutex_deadlocks_and_the_report_says_held_by_itself() {
    let failure = first_failure(|| async {
        let a = Mutex::named("a", ());
        let _first = a.lock().await;
        let _second = a.lock().await;
    });
    let FailureKind::Finding(Finding::Deadlock(deadlock)) = &failure else {
        panic!("expected a deadlock, got {failure}");
    };
    assert_eq!(
        deadlock.cycle[0].description,
        "task 'main' waits to lock Mutex 'a', held by itself"
    );
}

#[test]
fn mpsc_reserve_queues_with_senders_in_fifo_order() {
    for queue_order in QUEUE_ORDERS {
        explore(move || async move {
            let (sender, mut receiver) = mpsc::channel(1);
            sender.try_send(usize::MAX).expect("room for one");
            let senders = spawn_in_queue_order(queue_order, |waiter| {
                let sender = sender.clone();
                async move {
                    if waiter % 2 == 0 {
                        sender.reserve().await.expect("open").send(waiter);
                    } else {
                        sender.send(waiter).await.expect("open");
                    }
                }
            });
            drop(sender);
            sleep(all_queued(queue_order)).await;
            let mut received = Vec::new();
            while let Some(message) = receiver.recv().await {
                received.push(message);
            }
            assert_eq!(received[0], usize::MAX);
            assert_eq!(&received[1..], queue_order);
            join_all(senders).await;
        });
    }
}

#[test]
fn mpsc_permit_dropped_unused_passes_its_slot_to_the_next_sender() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(1);
        let permit = sender.try_reserve().expect("room for one");
        assert!(matches!(
            sender.try_send("no room"),
            Err(TrySendError::Full(_))
        ));
        let next = {
            let sender = sender.clone();
            spawn_named(
                "next",
                async move { sender.send("next").await.expect("open") },
            )
        };
        sleep(ms(1)).await;
        assert!(!next.is_finished(), "the reserved slot was taken");
        drop(permit);
        next.await;
        assert_eq!(receiver.recv().await, Some("next"));
        assert_eq!(sender.capacity(), 1);
    });
}

#[test]
fn mpsc_reserve_fails_once_the_receiver_is_gone() {
    explore(|| async {
        let (sender, receiver) = mpsc::channel::<u8>(1);
        let waiting = {
            let sender = sender.clone();
            spawn(async move {
                let _held = sender.reserve().await.expect("open");
                sleep(ms(2)).await;
            })
        };
        let refused = {
            let sender = sender.clone();
            spawn(async move {
                sleep(ms(1)).await;
                sender.reserve().await.is_err()
            })
        };
        sleep(ms(1)).await;
        drop(receiver);
        assert!(
            refused.await,
            "a reserve waiting for a slot fails when the receiver goes"
        );
        assert!(sender.try_reserve().is_err());
        waiting.await;
        sender.closed().await;
    });
}

#[test]
fn mpsc_weak_sender_upgrades_only_while_a_sender_lives() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(2);
        let weak = sender.downgrade();
        let producer = spawn(async move {
            sender.send(1).await.expect("open");
        });
        let upgraded = weak.upgrade();
        let extra_sent = upgraded.is_some();
        if let Some(extra) = upgraded {
            extra.send(2).await.expect("open");
        }
        producer.await;
        assert!(weak.upgrade().is_none());
        let mut received = Vec::new();
        assert!(receiver.recv_many(&mut received, 8).await >= 1);
        while let Some(message) = receiver.recv().await {
            received.push(message);
        }
        assert_eq!(received.len(), 1 + usize::from(extra_sent), "{received:?}");
        assert_eq!(receiver.sender_weak_count(), 1);
    });
}

#[test]
fn notify_last_wakes_the_newest_waiter_first() {
    for queue_order in QUEUE_ORDERS {
        explore(move || async move {
            let notify = Arc::new(Notify::new());
            let served = Rc::new(RefCell::new(Vec::new()));
            let waiters = spawn_in_queue_order(queue_order, |waiter| {
                let (notify, served) = (notify.clone(), served.clone());
                async move {
                    notify.notified().await;
                    served.borrow_mut().push(waiter);
                }
            });
            sleep(all_queued(queue_order)).await;
            for _ in queue_order {
                notify.notify_last();
                sleep(ms(1)).await;
            }
            join_all(waiters).await;
            let newest_first: Vec<usize> = queue_order.iter().rev().copied().collect();
            assert_eq!(*served.borrow(), newest_first);
        });
    }
}

#[test]
fn rwlock_downgrade_admits_readers_and_keeps_writers_out() {
    explore(|| async {
        let lock = Arc::new(RwLock::new(0));
        let mut writer = lock.write().await;
        let reader = {
            let lock = lock.clone();
            spawn(async move { *lock.read().await })
        };
        sleep(ms(1)).await;
        *writer = 7;
        let downgraded = racecheck::sync::RwLockWriteGuard::downgrade(writer);
        assert_eq!(reader.await, 7);
        assert!(lock.try_write().is_err());
        drop(downgraded);
        assert!(lock.try_write().is_ok());
    });
}

#[test]
fn mpsc_send_timeout_is_served_in_time_or_leaves_the_queue() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(1);
        sender.try_send(0).expect("room for one");
        let late = {
            let sender = sender.clone();
            spawn(async move { sender.send_timeout(1, ms(5)).await })
        };
        let patient = {
            let sender = sender.clone();
            spawn(async move {
                sleep(ms(1)).await;
                sender.send_timeout(2, ms(100)).await
            })
        };
        sleep(ms(10)).await;
        let timed_out = late.await;
        assert!(
            matches!(timed_out, Err(mpsc::SendTimeoutError::Timeout(1))),
            "{timed_out:?}"
        );
        assert_eq!(receiver.recv().await, Some(0));
        assert!(
            patient.await.is_ok(),
            "the timed-out send still held the queue"
        );
        assert_eq!(receiver.recv().await, Some(2));
        drop(receiver);
        assert!(matches!(
            sender.send_timeout(3, ms(1)).await,
            Err(mpsc::SendTimeoutError::Closed(3))
        ));
    });
}

#[test]
fn notify_last_chosen_waiter_cancelled_passes_the_notification_to_the_newest() {
    explore(|| async {
        let notify = Arc::new(Notify::new());
        let served = Rc::new(RefCell::new(Vec::new()));
        let queue_order = [0, 1];
        let waiters = spawn_in_queue_order(&queue_order, |waiter| {
            let (notify, served) = (notify.clone(), served.clone());
            async move {
                notify.notified().await;
                served.borrow_mut().push(waiter);
            }
        });
        sleep(all_queued(&queue_order)).await;
        let mut mine = Box::pin(notify.notified());
        assert!(poll_into_queue(mine.as_mut()).await.is_pending());
        notify.notify_last();
        drop(mine);
        sleep(ms(1)).await;
        assert_eq!(*served.borrow(), [1]);
        notify.notify_waiters();
        join_all(waiters).await;
        assert_eq!(*served.borrow(), [1, 0]);
    });
}

#[test]
fn mpsc_reserve_many_waits_for_all_its_slots_and_holds_back_later_senders() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(2);
        sender.try_send(0).expect("room");
        let many = {
            let sender = sender.clone();
            spawn_named("many", async move {
                let permits = sender.reserve_many(2).await.expect("open");
                assert_eq!(permits.len(), 2);
                for (value, permit) in (10..).zip(permits) {
                    permit.send(value);
                }
            })
        };
        sleep(ms(1)).await;
        assert!(!many.is_finished(), "one slot is free, two are needed");
        assert!(
            matches!(sender.try_send(1), Err(TrySendError::Full(_))),
            "a free slot is not taken past a queued reserve_many"
        );
        assert_eq!(receiver.recv().await, Some(0));
        many.await;
        assert_eq!(receiver.recv().await, Some(10));
        assert_eq!(receiver.recv().await, Some(11));
        assert!(
            sender.reserve_many(3).await.is_err(),
            "more than the capacity"
        );
    });
}

#[test]
fn mpsc_permits_reserved_together_and_not_used_are_given_back() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(3);
        let mut permits = sender.try_reserve_many(3).expect("room for three");
        assert!(matches!(
            sender.try_reserve_many(1),
            Err(TrySendError::Full(()))
        ));
        permits.next().expect("three permits").send('a');
        drop(permits);
        assert_eq!(sender.capacity(), 2, "the two unused slots are free again");
        assert_eq!(receiver.try_recv(), Ok('a'));
        assert!(matches!(
            sender.try_reserve_many(4),
            Err(TrySendError::Full(()))
        ));
    });
}

#[test]
fn mpsc_poll_recv_receives_as_recv_does() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let producer = spawn(async move { sender.send(3).expect("open") });
        assert_eq!(poll_fn(|cx| receiver.poll_recv(cx)).await, Some(3));
        producer.await;
        assert_eq!(poll_fn(|cx| receiver.poll_recv(cx)).await, None);
    });
}

#[test]
fn watch_sender_clones_keep_the_channel_open_until_the_last_is_dropped() {
    explore(|| async {
        let (sender, mut receiver) = racecheck::sync::watch::channel(0);
        let second = sender.clone();
        assert_eq!(sender.sender_count(), 2);
        let dropper = spawn(async move { drop(sender) });
        dropper.await;
        assert!(!receiver.is_closed());
        second.send(1).expect("a receiver is alive");
        assert!(receiver.changed().await.is_ok());
        drop(second);
        assert!(receiver.is_closed());
        assert!(receiver.changed().await.is_err());
    });
}

#[test]
fn broadcast_sender_len_counts_values_some_receiver_alive_at_the_send_has_not_seen() {
    explore(|| async {
        let sender = racecheck::sync::broadcast::Sender::new(4);
        assert!(sender.send(0).is_err(), "no receiver yet");
        let mut first = sender.subscribe();
        let mut second = sender.subscribe();
        sender.send(1).expect("receivers");
        sender.send(2).expect("receivers");
        assert_eq!(sender.len(), 2);
        assert_eq!(first.recv().await, Ok(1));
        assert_eq!(sender.len(), 2, "second has seen neither");
        assert_eq!(second.recv().await, Ok(1));
        assert_eq!(sender.len(), 1);
        drop(second);
        assert_eq!(sender.len(), 1, "first has not seen 2");
        assert_eq!(first.recv().await, Ok(2));
        assert!(sender.is_empty());
    });
}

#[test]
fn broadcast_closed_waits_for_every_receiver_and_is_closed_sees_the_senders_go() {
    explore(|| async {
        let (sender, receiver) = racecheck::sync::broadcast::channel::<u8>(1);
        let watcher = sender.subscribe();
        assert!(!watcher.is_closed());
        let droppers = [receiver, watcher].map(|receiver| spawn(async move { drop(receiver) }));
        sender.closed().await;
        assert_eq!(sender.receiver_count(), 0);
        join_all(droppers.into()).await;
        let late = sender.subscribe();
        drop(sender);
        assert!(late.is_closed());
    });
}

#[test]
fn an_enabled_notified_future_is_not_missed_by_notify_waiters() {
    explore(|| async {
        let notify = Arc::new(Notify::new());
        let mut notified = std::pin::pin!(notify.notified());
        assert!(!notified.as_mut().enable());
        let notifier = {
            let notify = notify.clone();
            spawn(async move { notify.notify_waiters() })
        };
        notifier.await;
        assert!(notified.as_mut().enable(), "notify_waiters reached it");
        notified.await;
    });
}

#[test]
fn an_owned_notified_future_takes_a_stored_permit() {
    explore(|| async {
        let notify = Arc::new(Notify::new());
        let notified = notify.clone().notified_owned();
        let notifier = {
            let notify = notify.clone();
            spawn(async move { notify.notify_one() })
        };
        notified.await;
        notifier.await;
    });
}

#[test]
fn semaphore_permits_split_and_merge_release_what_they_hold() {
    explore(|| async {
        let semaphore = Semaphore::new(3);
        let mut permit = semaphore.acquire_many(3).await.expect("open");
        let part = permit.split(2).expect("three held");
        assert!(permit.split(5).is_none());
        assert_eq!((permit.num_permits(), part.num_permits()), (1, 2));
        drop(part);
        assert_eq!(semaphore.available_permits(), 2);
        let other = semaphore.acquire_many(2).await.expect("open");
        permit.merge(other);
        assert_eq!(permit.num_permits(), 3);
        assert!(std::ptr::eq(permit.semaphore(), &semaphore));
        drop(permit);
        assert_eq!(semaphore.available_permits(), 3);
    });
}

#[test]
fn rwlock_with_max_readers_queues_the_reader_over_the_limit() {
    explore(|| async {
        let lock = Arc::new(RwLock::with_max_readers(0, 2));
        let first = lock.read().await;
        let second = lock.read().await;
        assert!(lock.try_read().is_err(), "two readers at most");
        let third = {
            let lock = lock.clone();
            spawn(async move { *lock.read().await })
        };
        sleep(ms(1)).await;
        assert!(!third.is_finished());
        drop(first);
        assert_eq!(third.await, 0);
        drop(second);
        assert!(lock.try_write().is_ok());
    });
}

#[test]
fn mpsc_closed_receiver_still_receives_what_outstanding_permits_send() {
    explore(|| async {
        let (sender, mut receiver) = mpsc::channel(2);
        let permit = sender.try_reserve_owned().expect("room");
        receiver.close();
        assert!(matches!(
            receiver.try_recv(),
            Err(racecheck::sync::mpsc::TryRecvError::Empty)
        ));
        let late = spawn(async move { drop(permit.send(5)) });
        assert_eq!(
            receiver.recv().await,
            Some(5),
            "the permit's message arrives"
        );
        late.await;
        assert_eq!(receiver.recv().await, None);
    });
}

/// Polls `future` once with a waker that is not the task's: by hand, as
/// `now_or_never` or a test's mock task does.
fn poll_by_hand<F: Future>(future: F) -> Poll<F::Output> {
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::pin!(future).poll(&mut context)
}

#[test]
fn an_operation_polled_by_hand_completes_on_its_first_poll_at_await_granularity() {
    // As in tokio: what can complete at once does, within the current step;
    // awaited, the same operation is a scheduling point first.
    for granularity in [racecheck::Granularity::Await, racecheck::Granularity::Step] {
        Builder::new()
            .granularity(granularity)
            .iterations(ITERATIONS)
            .check(|| async {
                let mutex = Mutex::new(1);
                let (sender, mut receiver) = mpsc::channel(1);
                sender.try_send(5).unwrap();
                let Poll::Ready(guard) = poll_by_hand(mutex.lock()) else {
                    panic!("a free lock is taken on the first poll");
                };
                assert_eq!(*guard, 1);
                assert!(poll_by_hand(mutex.lock()).is_pending(), "held: it queues");
                drop(guard);
                assert_eq!(poll_by_hand(receiver.recv()), Poll::Ready(Some(5)));
                assert!(poll_by_hand(receiver.recv()).is_pending(), "empty");
                assert_eq!(poll_by_hand(sleep(Duration::ZERO)), Poll::Ready(()));
            });
    }
}
