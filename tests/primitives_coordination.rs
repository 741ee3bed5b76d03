//! The semantics of `Condition`, `Queue`, `BoundedSemaphore`, `Barrier`,
//! `watch` and `broadcast`, checked through the public API under many
//! schedules, and what a deadlock or hang on them reports. Their
//! happens-before edges are labelled in `detector_corpus.rs`.
//!
//! Tests that need waiters queued in a known order use virtual time: waiter
//! `i` sleeps until its turn and then queues. The clock only moves when no
//! task can run, so every waiter has queued before the next one wakes.

mod support;

use racecheck::sync::broadcast::{self, RecvError, TryRecvError};
use racecheck::sync::{
    watch, Barrier, BoundedSemaphore, Condition, Mutex, Queue, QueueEmpty, TryAcquireError,
};
use racecheck::time::{sleep, timeout};
use racecheck::{spawn_named, Builder, FailureKind, Finding};
use std::cell::Cell;
use std::rc::Rc;
use support::{explore, first_failure, join_all, log, ms, poll_into_queue};

/// The descriptions of the waits of a deadlock or a hang.
fn stuck_waits(failure: &FailureKind) -> Vec<String> {
    match failure {
        FailureKind::Finding(Finding::Hang(hang)) => hang
            .waits
            .iter()
            .map(|wait| wait.description.clone())
            .collect(),
        FailureKind::Finding(Finding::Deadlock(deadlock)) => deadlock
            .cycle
            .iter()
            .chain(&deadlock.blocked_behind)
            .map(|wait| wait.description.clone())
            .collect(),
        other => panic!("expected a deadlock or a hang, got {other}"),
    }
}

// Condition.

/// Waiters that queue in `order` are woken in that order, one per
/// `notify_one`.
#[test]
fn condition_notify_one_wakes_waiters_in_the_order_they_waited() {
    for order in [[0, 1, 2], [2, 0, 1]] {
        explore(move || async move {
            let pair = Rc::new((Mutex::new(()), Condition::named("c")));
            let woken = log();
            let waiters: Vec<_> = (0..3)
                .map(|waiter| {
                    let (pair, woken) = (pair.clone(), woken.clone());
                    let turn = order.iter().position(|&w| w == waiter).unwrap() as u64;
                    spawn_named(format!("waiter-{waiter}"), async move {
                        sleep(ms(turn + 1)).await;
                        let guard = pair.0.lock().await;
                        let _guard = pair.1.wait(guard).await;
                        woken.borrow_mut().push(waiter);
                    })
                })
                .collect();
            sleep(ms(10)).await;
            for _ in 0..3 {
                pair.1.notify_one();
                sleep(ms(1)).await; // the woken waiter finishes first
            }
            join_all(waiters).await;
            assert_eq!(*woken.borrow(), order);
        });
    }
}

#[test]
fn condition_notify_n_and_notify_all_wake_that_many_waiters() {
    explore(|| async {
        let pair = Rc::new((Mutex::new(()), Condition::new()));
        let woken = Rc::new(Cell::new(0));
        let waiters: Vec<_> = (0..4)
            .map(|waiter| {
                let (pair, woken) = (pair.clone(), woken.clone());
                spawn_named(format!("waiter-{waiter}"), async move {
                    let guard = pair.0.lock().await;
                    let _guard = pair.1.wait(guard).await;
                    woken.set(woken.get() + 1);
                })
            })
            .collect();
        sleep(ms(1)).await; // every waiter waits
        pair.1.notify(2);
        sleep(ms(1)).await;
        assert_eq!(woken.get(), 2, "notify(2) woke two waiters");
        pair.1.notify_all();
        join_all(waiters).await;
        assert_eq!(woken.get(), 4);
    });
}

/// A consumer that waits with `if` instead of a loop takes an item that
/// another consumer took first; `wait_while` re-checks and never does.
async fn consumers(use_wait_while: bool) {
    let shared = Rc::new((Mutex::new(Vec::<u32>::new()), Condition::named("items")));
    let consumers: Vec<_> = (0..2)
        .map(|consumer| {
            let shared = shared.clone();
            spawn_named(format!("consumer-{consumer}"), async move {
                let (items, added) = &*shared;
                let mut guard = items.lock().await;
                if use_wait_while {
                    guard = added.wait_while(guard, |items| items.is_empty()).await;
                } else if guard.is_empty() {
                    guard = added.wait(guard).await;
                }
                guard.pop().expect("woken with an item to take")
            })
        })
        .collect();
    for item in 0..2 {
        shared.0.lock().await.push(item);
        shared.1.notify_all();
    }
    let mut taken = join_all(consumers).await;
    taken.sort_unstable();
    assert_eq!(taken, [0, 1]);
}

/// A wait that a notification picked, dropped before it ran, passes the
/// notification on to the next waiter.
#[test]
fn condition_wait_picked_then_dropped_passes_the_notification_on() {
    explore(|| async {
        let pair = Rc::new((Mutex::new(()), Condition::named("c")));
        let mut picked = Box::pin(pair.1.wait(pair.0.lock().await));
        assert!(poll_into_queue(picked.as_mut()).await.is_pending());
        let next = {
            let pair = pair.clone();
            spawn_named("next", async move {
                let guard = pair.0.lock().await;
                drop(pair.1.wait(guard).await);
            })
        };
        sleep(ms(1)).await; // the next waiter queues behind
        pair.1.notify_one(); // picks the first
        drop(picked);
        assert!(
            timeout(ms(10), next).await.is_ok(),
            "the dropped waiter's notification was lost"
        );
    });
}

#[test]
fn condition_wait_without_a_loop_misses_a_stolen_item() {
    let failure = first_failure(|| consumers(false));
    assert!(
        matches!(&failure, FailureKind::Panic { message, .. } if message.contains("woken with an item")),
        "{failure}"
    );
}

#[test]
fn condition_wait_while_rechecks_after_every_wake_up() {
    explore(|| consumers(true));
}

#[test]
fn condition_notify_before_wait_is_lost_and_the_hang_names_the_condition() {
    let failure = first_failure(|| async {
        let lock = Mutex::new(());
        let ready = Condition::named("ready");
        ready.notify_one(); // nobody waits: lost
        let guard = lock.lock().await;
        let _guard = ready.wait(guard).await;
    });
    let waits = stuck_waits(&failure);
    assert_eq!(
        waits,
        ["task 'main' waits to be notified by Condition 'ready'"]
    );
}

#[test]
#[should_panic(expected = "a Condition belongs to one mutex")]
fn condition_used_with_two_mutexes_panics() {
    Builder::new().iterations(1).check(|| async {
        let (first, second) = (Rc::new(Mutex::new(())), Mutex::new(()));
        let condition = Rc::new(Condition::new());
        let waiter = {
            let (first, condition) = (first.clone(), condition.clone());
            spawn_named("waiter", async move {
                let guard = first.lock().await;
                drop(condition.wait(guard).await);
            })
        };
        sleep(ms(1)).await;
        let guard = second.lock().await;
        condition.notify_one();
        drop(condition.wait(guard).await);
        waiter.await;
    });
}

// Queue.

#[test]
fn queue_is_fifo_and_put_blocks_while_full() {
    explore(|| async {
        let queue = Rc::new(Queue::named("q", 2));
        let producer = {
            let queue = queue.clone();
            spawn_named("producer", async move {
                for item in 0..6 {
                    queue.put(item).await;
                    assert!(queue.qsize() <= 2, "a put went past maxsize");
                }
            })
        };
        let mut got = Vec::new();
        for _ in 0..6 {
            got.push(queue.get().await);
        }
        producer.await;
        assert_eq!(got, [0, 1, 2, 3, 4, 5]);
        assert!(queue.empty());
    });
}

#[test]
fn queue_blocked_getters_are_served_in_the_order_they_blocked() {
    explore(|| async {
        let queue = Rc::new(Queue::new(0));
        let getters: Vec<_> = [2u64, 0, 1]
            .into_iter()
            .map(|turn| {
                let queue = queue.clone();
                spawn_named(format!("getter-{turn}"), async move {
                    sleep(ms(turn + 1)).await;
                    (turn, queue.get().await)
                })
            })
            .collect();
        sleep(ms(10)).await; // every getter is blocked
        for item in 0..3u64 {
            queue.put_nowait(item).unwrap();
            assert_eq!(queue.get_nowait(), Err(QueueEmpty), "the item is promised");
            sleep(ms(1)).await; // the getter it was promised to takes it
        }
        for (turn, item) in join_all(getters).await {
            assert_eq!(turn, item, "getter {turn} got item {item}");
        }
    });
}

#[test]
fn queue_put_and_get_dropped_after_being_served_hand_on_their_slot_and_item() {
    explore(|| async {
        let queue = Rc::new(Queue::new(1));
        queue.put_nowait(1).expect("room");
        let mut first_put = Box::pin(queue.put(2));
        assert!(poll_into_queue(first_put.as_mut()).await.is_pending());
        let next_put = {
            let queue = queue.clone();
            spawn_named("next-put", async move {
                sleep(ms(1)).await;
                queue.put(3).await;
            })
        };
        sleep(ms(2)).await;
        assert_eq!(queue.get_nowait(), Ok(1));
        assert!(queue.put_nowait(9).is_err(), "the slot is promised");
        drop(first_put);
        next_put.await;
        assert_eq!(
            queue.get_nowait(),
            Ok(3),
            "the slot passed to the next putter"
        );

        let mut first_get = Box::pin(queue.get());
        assert!(poll_into_queue(first_get.as_mut()).await.is_pending());
        let next_get = {
            let queue = queue.clone();
            spawn_named("next-get", async move {
                sleep(ms(1)).await;
                queue.get().await
            })
        };
        sleep(ms(2)).await;
        queue.put_nowait(4).expect("room");
        assert_eq!(queue.get_nowait(), Err(QueueEmpty), "the item is promised");
        drop(first_get);
        assert_eq!(next_get.await, 4, "the item passed to the next getter");
    });
}

#[test]
fn queue_put_nowait_and_get_nowait_fail_without_blocking() {
    explore(|| async {
        let queue = Queue::new(1);
        assert_eq!(queue.get_nowait(), Err(QueueEmpty));
        queue.put_nowait('a').unwrap();
        assert!(queue.full());
        assert_eq!(queue.put_nowait('b').unwrap_err().0, 'b');
        assert_eq!(queue.get_nowait(), Ok('a'));
        assert_eq!(queue.maxsize(), 1);
    });
}

#[test]
fn queue_join_waits_until_every_item_is_done() {
    explore(|| async {
        let queue = Rc::new(Queue::named("jobs", 1));
        let done = Rc::new(Cell::new(0));
        let workers: Vec<_> = (0..2)
            .map(|worker| {
                let (queue, done) = (queue.clone(), done.clone());
                spawn_named(format!("worker-{worker}"), async move {
                    loop {
                        let job: Option<u32> = queue.get().await;
                        let Some(_) = job else { break };
                        done.set(done.get() + 1);
                        queue.task_done();
                    }
                    queue.task_done();
                })
            })
            .collect();
        for job in 0..4 {
            queue.put(Some(job)).await;
        }
        queue.join().await;
        assert_eq!(done.get(), 4, "join returned before every job was done");
        for _ in 0..2 {
            queue.put(None).await;
        }
        join_all(workers).await;
    });
}

#[test]
#[should_panic(expected = "task_done() called too many times")]
fn queue_task_done_more_often_than_put_panics() {
    Builder::new().iterations(1).check(|| async {
        let queue = Queue::new(0);
        queue.put(1).await;
        queue.get().await;
        queue.task_done();
        queue.task_done();
    });
}

#[test]
fn queue_get_with_no_producer_hangs_naming_the_queue() {
    let failure = first_failure(|| async {
        let queue = Rc::new(Queue::<u32>::named("inbox", 0));
        let consumer = {
            let queue = queue.clone();
            spawn_named("consumer", async move { queue.get().await })
        };
        consumer.await;
    });
    let waits = stuck_waits(&failure);
    assert!(
        waits.contains(&"task 'consumer' waits for an item on Queue 'inbox'".to_string()),
        "{waits:?}"
    );
}

// BoundedSemaphore.

#[test]
fn bounded_semaphore_refuses_to_grow_past_its_initial_count() {
    explore(|| async {
        let semaphore = Rc::new(BoundedSemaphore::named("slots", 2));
        let refused = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..3)
            .map(|task| {
                let (semaphore, refused) = (semaphore.clone(), refused.clone());
                spawn_named(format!("task-{task}"), async move {
                    semaphore.acquire().await.forget(); // asyncio's acquire()
                    assert!(semaphore.available_permits() <= 2);
                    semaphore.release().unwrap(); // its pair
                    if semaphore.release().is_err() {
                        refused.set(refused.get() + 1);
                    }
                })
            })
            .collect();
        join_all(tasks).await;
        assert_eq!(refused.get(), 3, "an unpaired release was accepted");
        assert_eq!(semaphore.available_permits(), 2);
        let permit = semaphore.acquire().await;
        assert!(semaphore.release().is_err(), "a held permit is not owed");
        drop(permit);
        let _both = (
            semaphore.try_acquire().unwrap(),
            semaphore.try_acquire().unwrap(),
        );
        assert_eq!(
            semaphore.try_acquire().unwrap_err(),
            TryAcquireError::NoPermits
        );
    });
}

#[test]
fn bounded_semaphore_release_serves_a_blocked_acquire() {
    explore(|| async {
        let semaphore = Rc::new(BoundedSemaphore::new(1));
        semaphore.acquire().await.forget();
        let waiter = {
            let semaphore = semaphore.clone();
            spawn_named("waiter", async move { drop(semaphore.acquire().await) })
        };
        semaphore.release().unwrap();
        waiter.await;
        assert_eq!(semaphore.available_permits(), 1);
    });
}

// Barrier.

#[test]
fn barrier_has_one_leader_per_generation_and_is_reusable() {
    const TASKS: usize = 3;
    const GENERATIONS: usize = 3;
    explore(|| async {
        let barrier = Rc::new(Barrier::named("round", TASKS));
        let arrived = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let (barrier, arrived) = (barrier.clone(), arrived.clone());
                spawn_named(format!("task-{task}"), async move {
                    let mut leaders = 0;
                    for generation in 0..GENERATIONS {
                        arrived.set(arrived.get() + 1);
                        if barrier.wait().await.is_leader() {
                            leaders += 1;
                        }
                        assert!(
                            arrived.get() >= TASKS * (generation + 1),
                            "left generation {generation} before everyone arrived"
                        );
                    }
                    leaders
                })
            })
            .collect();
        let leaders: usize = join_all(tasks).await.into_iter().sum();
        assert_eq!(leaders, GENERATIONS, "one leader per generation");
    });
}

#[test]
fn barrier_short_of_tasks_hangs_naming_the_barrier() {
    let failure = first_failure(|| async {
        let barrier = Barrier::named("start", 2);
        barrier.wait().await;
    });
    assert_eq!(
        stuck_waits(&failure),
        ["task 'main' waits for the other tasks at Barrier 'start'"]
    );
}

// watch.

#[test]
fn watch_receivers_see_the_latest_value_and_each_change_once() {
    explore(|| async {
        let (sender, receiver) = watch::channel(0);
        let readers: Vec<_> = (0..2)
            .map(|reader| {
                let mut receiver = if reader == 0 {
                    receiver.clone()
                } else {
                    sender.subscribe()
                };
                spawn_named(format!("reader-{reader}"), async move {
                    let mut seen = vec![*receiver.borrow_and_update()];
                    while receiver.changed().await.is_ok() {
                        let value = *receiver.borrow_and_update();
                        assert!(value > *seen.last().unwrap(), "{value} after {seen:?}");
                        seen.push(value);
                    }
                    assert!(receiver.has_changed().is_err(), "the sender is gone");
                    *seen.last().unwrap()
                })
            })
            .collect();
        drop(receiver);
        for value in 1..=3 {
            sender.send(value).unwrap();
        }
        assert_eq!(sender.send_replace(4), 3);
        drop(sender);
        assert_eq!(join_all(readers).await, [4, 4], "the latest value is seen");
    });
}

#[test]
fn watch_send_fails_once_every_receiver_is_gone() {
    explore(|| async {
        let (sender, receiver) = watch::channel("a");
        assert_eq!(sender.receiver_count(), 1);
        drop(receiver);
        assert_eq!(sender.send("b").unwrap_err().0, "b");
        assert_eq!(*sender.borrow(), "a");
    });
}

/// A sender's `closed` woken by the last receiver's drop finds a receiver
/// subscribed before it ran: it joins the line again and returns once
/// that one is gone too.
#[test]
fn watch_closed_woken_then_resubscribed_waits_for_the_new_receiver() {
    explore(|| async {
        let (sender, receiver) = watch::channel(0);
        let sender = Rc::new(sender);
        let closer = {
            let sender = sender.clone();
            spawn_named("closer", async move {
                sender.closed().await;
                sender.receiver_count()
            })
        };
        sleep(ms(1)).await; // the closer waits by now
        drop(receiver); // wakes it
        let again = sender.subscribe(); // before it runs
        sleep(ms(1)).await;
        drop(again);
        assert_eq!(closer.await, 0);
    });
}

// broadcast.

#[test]
fn broadcast_delivers_every_value_to_every_subscriber_then_closed() {
    explore(|| async {
        let (sender, first) = broadcast::channel(4);
        let receivers: Vec<_> = [first, sender.subscribe(), sender.subscribe()]
            .into_iter()
            .enumerate()
            .map(|(index, mut receiver)| {
                spawn_named(format!("receiver-{index}"), async move {
                    let mut got = Vec::new();
                    loop {
                        match receiver.recv().await {
                            Ok(value) => got.push(value),
                            Err(RecvError::Closed) => break got,
                            Err(RecvError::Lagged(missed)) => panic!("lagged by {missed}"),
                        }
                    }
                })
            })
            .collect();
        let helper = sender.clone();
        for value in 0..4 {
            assert_eq!(helper.send(value).unwrap(), 3);
        }
        drop((sender, helper));
        for got in join_all(receivers).await {
            assert_eq!(got, [0, 1, 2, 3]);
        }
    });
}

#[test]
fn broadcast_receiver_that_falls_behind_gets_lagged_then_the_oldest_kept() {
    explore(|| async {
        let (sender, mut receiver) = broadcast::channel(2);
        let slow = spawn_named("slow", async move {
            let mut got = Vec::new();
            loop {
                match receiver.recv().await {
                    Ok(value) => got.push(Ok(value)),
                    Err(RecvError::Lagged(missed)) => got.push(Err(missed)),
                    Err(RecvError::Closed) => break got,
                }
            }
        });
        for value in 0..5 {
            sender.send(value).unwrap();
        }
        drop(sender);
        let got = slow.await;
        // However far it got before the burst, it ends with the last two
        // values, and every value is either received or counted as missed.
        assert_eq!(got[got.len() - 2..], [Ok(3), Ok(4)], "{got:?}");
        let accounted: u64 = got
            .iter()
            .map(|received| match received {
                Ok(_) => 1,
                Err(missed) => *missed,
            })
            .sum();
        assert_eq!(accounted, 5, "{got:?}");
    });
    explore(|| async {
        let (sender, mut receiver) = broadcast::channel(2);
        for value in 0..5 {
            sender.send(value).unwrap();
        }
        assert_eq!(receiver.try_recv(), Err(TryRecvError::Lagged(3)));
        assert_eq!(receiver.try_recv(), Ok(3));
        assert_eq!(receiver.recv().await, Ok(4));
        assert_eq!(receiver.try_recv(), Err(TryRecvError::Empty));
        drop(sender);
        assert_eq!(receiver.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn broadcast_send_without_receivers_fails() {
    explore(|| async {
        let (sender, receiver) = broadcast::channel::<u8>(1);
        drop(receiver);
        assert_eq!(sender.send(7).unwrap_err().0, 7);
        let mut late = sender.subscribe();
        assert_eq!(sender.send(8).unwrap(), 1);
        assert_eq!(late.recv().await, Ok(8));
    });
}
