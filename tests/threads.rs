//! Step granularity: stackful tasks, simulated threads, blocking primitives
//! and atomics. The races here sit between two synchronous operations, where
//! a stress loop on a real multi-threaded runtime almost never interleaves.

use racecheck::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use racecheck::sync::blocking::{mpsc, Mutex, Once, RwLock};
use racecheck::sync::Shared;
use racecheck::{thread, Builder, FailureKind, Finding, Granularity, Strategy};
use std::sync::Arc;

/// Two workers each load the counter and store it plus one: a lost update
/// between two atomic operations.
fn atomic_lost_update() -> thread::MainThread {
    thread::main(|| {
        let hits = Arc::new(AtomicUsize::named("hits", 0));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let hits = hits.clone();
                thread::spawn(move || {
                    let seen = hits.load(Ordering::SeqCst);
                    hits.store(seen + 1, Ordering::SeqCst);
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(hits.load(Ordering::SeqCst), 2, "lost update");
    })
}

/// The same lost update in async tasks, as on tokio's multi-threaded
/// runtime: no await between the load and the store.
async fn async_atomic_lost_update() {
    let hits = Arc::new(AtomicUsize::named("hits", 0));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let hits = hits.clone();
            racecheck::spawn(async move {
                let seen = hits.load(Ordering::SeqCst);
                hits.store(seen + 1, Ordering::SeqCst);
            })
        })
        .collect();
    for worker in workers {
        worker.await;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2, "lost update");
}

fn step() -> Builder {
    Builder::new().granularity(Granularity::Step)
}

fn panic_message(kind: &FailureKind) -> String {
    match kind {
        FailureKind::Panic { message, .. } => message.clone(),
        other => panic!("expected a panic, got {other}"),
    }
}

#[test]
fn the_atomic_lost_update_is_found_within_twenty_schedules_at_step_granularity() {
    // Spawning is a scheduling point too: the main thread's spawns and the
    // first worker's operations interleave, so some seeds need more than
    // ten schedules (the worst of these 50 needed 12).
    let mut worst = 0;
    for seed in 0..50 {
        let report = step()
            .seed(seed)
            .iterations(20)
            .minimize_failures(false)
            .run(atomic_lost_update);
        let failure = report
            .failure
            .unwrap_or_else(|| panic!("seed {seed}: not found in 20 schedules"));
        assert!(panic_message(&failure.kind).contains("lost update"));
        worst = worst.max(failure.iteration + 1);
    }
    assert!(worst <= 20, "worst seed needed {worst} schedules");
}

#[test]
fn the_async_atomic_lost_update_is_found_at_step_and_is_no_interleaving_at_await() {
    let report = step().iterations(10).run(async_atomic_lost_update);
    assert!(report.failure.is_some(), "found at step granularity");
    let report = Builder::new()
        .iterations(2_000)
        .run(async_atomic_lost_update);
    assert!(
        report.failure.is_none(),
        "at await granularity the load and store run together"
    );
    assert_eq!(report.executions, 2_000);
}

#[test]
fn a_step_granularity_failure_replays_100_times_out_of_100() {
    let failure = step()
        .iterations(10)
        .run(atomic_lost_update)
        .failure
        .expect("found");
    let schedule = failure.schedule.to_string();
    for _ in 0..100 {
        let replayed = step()
            .strategy(Strategy::Replay(schedule.parse().unwrap()))
            .run(atomic_lost_update)
            .failure
            .expect("the replay fails too");
        assert_eq!(replayed.trace, failure.trace);
        assert_eq!(replayed.kind.to_string(), failure.kind.to_string());
    }
}

#[test]
fn same_seed_same_trace_at_step_granularity() {
    let run = |seed| {
        step()
            .seed(seed)
            .iterations(20)
            .minimize_failures(false)
            .run(atomic_lost_update)
            .failure
            .map(|failure| (failure.iteration, failure.schedule, failure.trace))
    };
    for seed in [1, 7, 42] {
        assert_eq!(run(seed), run(seed));
    }
}

#[test]
fn a_blocking_mutex_fixes_the_lost_update_for_every_schedule() {
    let report = step().strategy(Strategy::Exhaustive).run(|| {
        thread::main(|| {
            let hits = Arc::new(Mutex::named("hits", 0));
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let hits = hits.clone();
                    thread::spawn(move || {
                        let mut hits = hits.lock().unwrap();
                        *hits += 1;
                    })
                })
                .collect();
            for worker in workers {
                worker.join().unwrap();
            }
            assert_eq!(*hits.lock().unwrap(), 2);
        })
    });
    assert!(report.failure.is_none(), "{}", report.summary());
    assert!(report.complete);
}

#[test]
fn exhaustive_search_at_step_granularity_finds_the_atomic_lost_update() {
    let report = step()
        .strategy(Strategy::Exhaustive)
        .run(atomic_lost_update);
    let failure = report.failure.expect("some schedule loses an update");
    assert!(panic_message(&failure.kind).contains("lost update"));
}

/// Hands `Shared` data over through an atomic flag with `store_order` /
/// `load_order`; the reader spins until it sees the flag.
fn handover(store_order: Ordering, load_order: Ordering) -> Option<Finding> {
    let report = step().iterations(200).run(move || {
        thread::main(move || {
            let data = Arc::new(Shared::named("data", 0));
            let ready = Arc::new(AtomicBool::named("ready", false));
            let writer = {
                let (data, ready) = (data.clone(), ready.clone());
                thread::spawn(move || {
                    data.set(42);
                    ready.store(true, store_order);
                })
            };
            while !ready.load(load_order) {
                thread::yield_now();
            }
            assert_eq!(data.get(), 42);
            writer.join().unwrap();
        })
    });
    report.failure.map(|failure| match failure.kind {
        FailureKind::Finding(finding) => finding,
        other => panic!("unexpected failure: {other}"),
    })
}

#[test]
fn release_acquire_orders_the_handover_and_relaxed_does_not() {
    assert_eq!(handover(Ordering::Release, Ordering::Acquire), None);
    assert_eq!(handover(Ordering::SeqCst, Ordering::SeqCst), None);
    for (store, load) in [
        (Ordering::Relaxed, Ordering::Acquire),
        (Ordering::Release, Ordering::Relaxed),
        (Ordering::Relaxed, Ordering::Relaxed),
    ] {
        let finding = handover(store, load).expect("nothing orders the handover");
        assert!(
            matches!(finding, Finding::Race(_)),
            "{store:?}/{load:?}: {finding}"
        );
        assert!(finding.to_string().contains("Shared 'data'"));
    }
}

#[test]
fn a_relaxed_store_after_a_release_publishes_nothing() {
    // The reader acquires the relaxed store's value: the release before it
    // is not part of what it reads, so the data access races.
    let report = step().iterations(300).run(|| {
        thread::main(|| {
            let data = Arc::new(Shared::named("data", 0));
            let flag = Arc::new(AtomicUsize::named("flag", 0));
            let writer = {
                let (data, flag) = (data.clone(), flag.clone());
                thread::spawn(move || {
                    data.set(1);
                    flag.store(1, Ordering::Release);
                    flag.store(2, Ordering::Relaxed);
                })
            };
            while flag.load(Ordering::Acquire) != 2 {
                thread::yield_now();
            }
            data.get();
            writer.join().unwrap();
        })
    });
    let failure = report.failure.expect("a race");
    assert!(matches!(
        failure.kind,
        FailureKind::Finding(Finding::Race(_))
    ));
}

#[test]
fn a_fetch_add_counter_never_loses_an_update() {
    let report = step().strategy(Strategy::Exhaustive).run(|| {
        thread::main(|| {
            let hits = Arc::new(AtomicUsize::new(0));
            let workers: Vec<_> = (0..3)
                .map(|_| {
                    let hits = hits.clone();
                    thread::spawn(move || {
                        hits.fetch_add(1, Ordering::Relaxed);
                    })
                })
                .collect();
            workers
                .into_iter()
                .for_each(|worker| worker.join().unwrap());
            assert_eq!(hits.load(Ordering::Relaxed), 3);
        })
    });
    assert!(report.failure.is_none(), "{}", report.summary());
    assert!(report.complete);
}

#[test]
fn opposite_blocking_lock_orders_deadlock() {
    let report = step().strategy(Strategy::Exhaustive).run(|| {
        thread::main(|| {
            let a = Arc::new(Mutex::named("a", ()));
            let b = Arc::new(Mutex::named("b", ()));
            let other = {
                let (a, b) = (a.clone(), b.clone());
                thread::spawn(move || {
                    let _b = b.lock().unwrap();
                    let _a = a.lock().unwrap();
                })
            };
            {
                let _a = a.lock().unwrap();
                let _b = b.lock().unwrap();
            }
            other.join().unwrap();
        })
    });
    let failure = report.failure.expect("some schedule deadlocks");
    match failure.kind {
        FailureKind::Finding(Finding::Deadlock(ref deadlock)) => {
            let text = failure.kind.to_string();
            assert!(
                text.contains("Mutex 'a'") && text.contains("Mutex 'b'"),
                "{text}"
            );
            let _ = deadlock;
        }
        other => panic!("expected a deadlock, got {other}"),
    }
}

#[test]
fn a_panic_deep_in_a_thread_is_reported_with_its_message_and_thread_name() {
    fn descend(depth: u32) -> u32 {
        if depth == 0 {
            panic!("bottom of the stack reached");
        }
        descend(depth - 1) + 1
    }
    let report = Builder::new().iterations(5).run(|| {
        thread::main(|| {
            let worker = thread::Builder::new()
                .name("recursive-worker".into())
                .spawn(|| descend(200))
                .unwrap();
            worker.join().unwrap();
        })
    });
    let failure = report.failure.expect("the panic fails the execution");
    let text = failure.to_string();
    assert!(text.contains("bottom of the stack reached"), "{text}");
    assert!(text.contains("recursive-worker"), "{text}");
}

#[test]
fn threads_and_async_tasks_mix_in_one_test() {
    let report = step().iterations(300).run(|| async {
        let (sender, receiver) = mpsc::channel();
        let pages = Arc::new(RwLock::named("pages", Vec::new()));
        let fetcher = {
            let pages = pages.clone();
            thread::spawn(move || {
                for page in 0..3 {
                    thread::sleep(std::time::Duration::from_millis(10));
                    pages.write().unwrap().push(page);
                    sender.send(page).unwrap();
                }
            })
        };
        let counter = racecheck::spawn(async move {
            let received: Vec<i32> = receiver.iter().collect();
            received.len()
        });
        assert_eq!(counter.await, 3);
        fetcher.into_future().await;
        assert_eq!(*pages.read().unwrap(), [0, 1, 2]);
    });
    assert!(report.failure.is_none(), "{}", report.summary());
}

#[test]
fn once_runs_its_initialisation_exactly_once() {
    let report = step().strategy(Strategy::Exhaustive).run(|| {
        thread::main(|| {
            let once = Arc::new(Once::new());
            let runs = Arc::new(AtomicUsize::new(0));
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let (once, runs) = (once.clone(), runs.clone());
                    thread::spawn(move || {
                        once.call_once(|| {
                            runs.fetch_add(1, Ordering::SeqCst);
                        });
                        assert!(once.is_completed());
                    })
                })
                .collect();
            workers
                .into_iter()
                .for_each(|worker| worker.join().unwrap());
            assert_eq!(runs.load(Ordering::SeqCst), 1);
        })
    });
    assert!(report.failure.is_none(), "{}", report.summary());
    assert!(report.complete);
}

#[test]
fn a_contended_blocking_lock_in_an_async_task_at_await_granularity_is_explained() {
    let report = Builder::new().iterations(200).run(|| async {
        let lock = Arc::new(Mutex::named("std-mutex", 0));
        let guard = lock.lock().unwrap(); // uncontended: fine
        let other = {
            let lock = lock.clone();
            racecheck::spawn(async move {
                *lock.lock().unwrap() += 1;
            })
        };
        racecheck::yield_now().await; // held across an await
        drop(guard);
        other.await;
    });
    let failure = report.failure.expect("some schedule contends");
    let message = panic_message(&failure.kind);
    assert!(message.contains("blocking Mutex::lock"), "{message}");
    assert!(message.contains("Granularity::Step"), "{message}");
}

#[test]
fn pct_and_the_minimiser_work_at_step_granularity() {
    let report = step()
        .strategy(Strategy::Pct { depth: 2 })
        .iterations(200)
        .run(atomic_lost_update);
    let failure = report.failure.expect("PCT finds it");
    // Reported failures are minimised already (or were minimal): minimising
    // again finds nothing with fewer than the one preemption the bug needs.
    let again = step().minimize(&failure, 1_000, atomic_lost_update);
    assert!(
        again.preemptions_before <= 1,
        "the lost update needs one preemption, got {}",
        again.preemptions_before
    );
    assert_eq!(again.failure.kind.to_string(), failure.kind.to_string());
}

#[test]
fn condvar_wait_without_a_loop_misses_the_state_and_wait_while_does_not() {
    use racecheck::sync::blocking::Condvar;
    // Two consumers, two producers: a consumer woken by a notification can
    // find the job already taken by the other consumer, unless it re-checks.
    let program = |looped: bool| {
        move || {
            thread::main(move || {
                let pair = Arc::new((Mutex::named("jobs", Vec::<u32>::new()), Condvar::new()));
                let spawn = |body: Box<dyn FnOnce() + Send>| thread::spawn(body);
                let mut threads = Vec::new();
                for job in 0..2 {
                    let producer = pair.clone();
                    threads.push(spawn(Box::new(move || {
                        producer.0.lock().unwrap().push(job);
                        producer.1.notify_one();
                    })));
                    let consumer = pair.clone();
                    threads.push(spawn(Box::new(move || {
                        let (jobs, added) = &*consumer;
                        let mut guard = jobs.lock().unwrap();
                        if looped {
                            guard = added.wait_while(guard, |jobs| jobs.is_empty()).unwrap();
                        } else if guard.is_empty() {
                            guard = added.wait(guard).unwrap();
                        }
                        guard.pop().expect("a job after the wait");
                    })));
                }
                threads
                    .into_iter()
                    .for_each(|thread| thread.join().unwrap());
            })
        }
    };
    // Which consumer a notification wakes is a choice too.
    let fixed = step()
        .strategy(Strategy::Exhaustive)
        .iterations(1_000_000)
        .run(program(true));
    assert!(fixed.failure.is_none(), "{}", fixed.summary());
    assert!(fixed.complete);
    let buggy = step().strategy(Strategy::Exhaustive).run(program(false));
    let failure = buggy.failure.expect("a woken consumer finds the job taken");
    assert!(panic_message(&failure.kind).contains("a job after the wait"));
}

#[test]
fn a_blocking_barrier_orders_the_writes_before_it() {
    use racecheck::sync::blocking::Barrier;
    let report = step().strategy(Strategy::Exhaustive).run(|| {
        thread::main(|| {
            let barrier = Arc::new(Barrier::new(2));
            let cells: Arc<Vec<Shared<u32>>> = Arc::new((0..2).map(|_| Shared::new(0)).collect());
            let workers: Vec<_> = (0..2)
                .map(|me| {
                    let (barrier, cells) = (barrier.clone(), cells.clone());
                    thread::spawn(move || {
                        cells[me].set(1);
                        let leader = barrier.wait().is_leader();
                        assert_eq!(cells[1 - me].get(), 1, "the other wrote before the barrier");
                        leader
                    })
                })
                .collect();
            let leaders = workers
                .into_iter()
                .map(|worker| worker.join().unwrap())
                .filter(|leader| *leader)
                .count();
            assert_eq!(leaders, 1);
        })
    });
    assert!(report.failure.is_none(), "{}", report.summary());
    assert!(report.complete);
}

/// Recurses `depth` levels with a kilobyte frame each; `black_box` keeps the
/// frames from being optimised into a loop.
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth as u8; 1024]);
    if depth == 0 {
        return u64::from(frame[0]);
    }
    std::hint::black_box(recurse(depth - 1)) + u64::from(frame[1023])
}

/// A thread named "deep" recursing `depth` levels, about `depth` KiB.
fn deep_thread(depth: u64) -> thread::MainThread {
    deep_thread_asking(depth, None)
}

/// [`deep_thread`], spawned asking for a stack of `stack_bytes`.
fn deep_thread_asking(depth: u64, stack_bytes: Option<usize>) -> thread::MainThread {
    thread::main(move || {
        let mut builder = thread::Builder::new().name("deep".into());
        if let Some(bytes) = stack_bytes {
            builder = builder.stack_size(bytes);
        }
        let deep = builder
            .spawn(move || recurse(std::hint::black_box(depth)))
            .unwrap();
        deep.join().unwrap();
    })
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn a_thread_gets_the_stack_size_it_asks_for() {
    // 300 frames of a kilobyte and more (twice that in debug builds): more
    // than the 256 KiB default, less than the 1 MiB asked.
    let report = Builder::new()
        .iterations(3)
        .run(|| deep_thread_asking(300, Some(1 << 20)));
    assert!(report.failure.is_none(), "{}", report.summary());
    let failure = Builder::new()
        .iterations(3)
        .run(|| deep_thread_asking(300, None))
        .failure
        .expect("300 KiB overflow 256 KiB");
    assert!(panic_message(&failure.kind).contains("stack size 262144 bytes"));
    // A smaller size than the exploration's gets the exploration's.
    let report = Builder::new()
        .iterations(3)
        .stack_size(2 << 20)
        .run(|| deep_thread_asking(300, Some(64 << 10)));
    assert!(report.failure.is_none(), "{}", report.summary());
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn a_stack_overflow_fails_the_execution_and_a_bigger_stack_fixes_it() {
    let overflowing = Builder::new().iterations(3).run(|| deep_thread(2_000));
    let failure = overflowing.failure.expect("2 000 KiB overflow 256 KiB");
    let text = failure.to_string();
    assert!(text.contains("stack overflow in a task"), "{text}");
    assert!(text.contains("stack size 262144 bytes"), "{text}");
    assert!(text.contains("Builder::stack_size"), "{text}");
    assert!(text.contains("deep"), "the thread is named: {text}");
    assert!(
        matches!(failure.kind, FailureKind::Panic { ref task_name, .. } if task_name == "deep")
    );
    // The process lives on, and so does racecheck on this thread.
    let roomy = Builder::new()
        .iterations(3)
        .stack_size(8 << 20)
        .run(|| deep_thread(2_000));
    assert!(roomy.failure.is_none(), "{}", roomy.summary());
    assert_eq!(roomy.executions, 3);
    // Every task at step granularity runs on a stack, main included.
    let report = step().iterations(3).run(|| async {
        recurse(std::hint::black_box(100_000));
    });
    let failure = report.failure.expect("an async task overflows too");
    assert!(panic_message(&failure.kind).contains("stack overflow"));
}
