//! The detector's findings other than races (those are in
//! `detector_corpus.rs`): deadlocks actual and potential, hangs, leaks, and
//! the JSON and Graphviz forms of a finding.

use racecheck::sync::{
    mpsc, Event, Mutex, Notify, Queue, ReentrantMutex, RwLock, Semaphore, Shared,
};
use racecheck::time::sleep;
use racecheck::{Builder, Check, FailureKind, Finding, Report};
use std::sync::Arc;
use std::time::Duration;

/// Two tasks, two locks, opposite orders.
async fn opposite_orders() {
    let (a, b) = (
        Arc::new(Mutex::named("a", ())),
        Arc::new(Mutex::named("b", ())),
    );
    let forward = {
        let (a, b) = (a.clone(), b.clone());
        racecheck::spawn_named("a-then-b", async move {
            let _a = a.lock().await;
            let _b = b.lock().await;
        })
    };
    let backward = racecheck::spawn_named("b-then-a", async move {
        let _b = b.lock().await;
        let _a = a.lock().await;
    });
    forward.await;
    backward.await;
}

/// Five philosophers, five forks; with `ordered`, the last one picks up
/// its forks in the other order and the cycle is broken.
async fn philosophers(ordered: bool) {
    const PHILOSOPHERS: usize = 5;
    let forks: Vec<Arc<Mutex<()>>> = (0..PHILOSOPHERS)
        .map(|fork| Arc::new(Mutex::named(format!("fork-{fork}"), ())))
        .collect();
    let diners: Vec<_> = (0..PHILOSOPHERS)
        .map(|seat| {
            let (mut left, mut right) = (seat, (seat + 1) % PHILOSOPHERS);
            if ordered && right < left {
                std::mem::swap(&mut left, &mut right);
            }
            let (first, second) = (forks[left].clone(), forks[right].clone());
            racecheck::spawn_named(format!("philosopher-{seat}"), async move {
                let _first = first.lock().await;
                let _second = second.lock().await;
            })
        })
        .collect();
    for diner in diners {
        diner.await;
    }
}

fn potential_deadlocks(report: &Report) -> Vec<&racecheck::detect::PotentialDeadlock> {
    report
        .warnings
        .iter()
        .filter_map(|warning| match warning {
            Finding::PotentialDeadlock(potential) => Some(potential),
            _ => None,
        })
        .collect()
}

fn deadlock_of(report: &Report) -> Option<&racecheck::detect::Deadlock> {
    match &report.failure.as_ref()?.kind {
        FailureKind::Finding(Finding::Deadlock(deadlock)) => Some(deadlock),
        _ => None,
    }
}

#[test]
fn opposite_lock_orders_are_a_potential_deadlock_on_every_seed() {
    for seed in 0..50 {
        let report = Builder::new().seed(seed).iterations(1).run(opposite_orders);
        let potential = potential_deadlocks(&report);
        assert_eq!(potential.len(), 1, "seed {seed}: {:?}", report.warnings);
        let text = potential[0].to_string();
        assert!(
            text.contains("Mutex 'a'") && text.contains("Mutex 'b'"),
            "{text}"
        );
        assert!(text.contains("detector.rs:"), "{text}");
    }
}

#[test]
fn opposite_lock_orders_deadlock_with_the_cycle_in_some_interleaving() {
    let report = Builder::new().iterations(1000).run(opposite_orders);
    let deadlock = deadlock_of(&report).expect("a deadlocking interleaving");
    let waits: Vec<&str> = deadlock
        .cycle
        .iter()
        .map(|wait| wait.description.as_str())
        .collect();
    assert_eq!(
        waits,
        [
            "task 'a-then-b' waits to lock Mutex 'b', held by 'b-then-a'",
            "task 'b-then-a' waits to lock Mutex 'a', held by 'a-then-b'",
        ]
    );
    assert_eq!(deadlock.blocked_behind.len(), 1, "main waits behind them");
}

#[test]
fn dining_philosophers_deadlock_and_the_ordered_fix_does_not() {
    for seed in 0..10 {
        let report = Builder::new()
            .seed(seed)
            .iterations(1)
            .run(|| philosophers(false));
        let potential = potential_deadlocks(&report);
        assert_eq!(potential.len(), 1, "seed {seed}");
        assert_eq!(potential[0].cycle.len(), 5);
    }
    let report = Builder::new().iterations(2000).run(|| philosophers(false));
    let deadlock = deadlock_of(&report).expect("all five pick up their left fork");
    assert_eq!(deadlock.cycle.len(), 5);

    let fixed = Builder::new().iterations(500).run(|| philosophers(true));
    assert!(fixed.failure.is_none());
    assert!(fixed.warnings.is_empty(), "{:?}", fixed.warnings);
}

#[test]
fn a_common_guard_lock_makes_opposite_orders_safe() {
    let report = Builder::new().iterations(300).run(|| async {
        let guard = Arc::new(Mutex::named("guard", ()));
        let (a, b) = (
            Arc::new(Mutex::named("a", ())),
            Arc::new(Mutex::named("b", ())),
        );
        let forward = {
            let (guard, a, b) = (guard.clone(), a.clone(), b.clone());
            racecheck::spawn(async move {
                let _guard = guard.lock().await;
                let _a = a.lock().await;
                let _b = b.lock().await;
            })
        };
        let _guard = guard.lock().await;
        let _b = b.lock().await;
        let _a = a.lock().await;
        drop((_a, _b, _guard));
        forward.await;
    });
    assert!(report.failure.is_none());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

/// Two tasks take `a` and `b` in opposite orders while both hold `outer`:
/// exclusively (a guard: they cannot both be inside) or in read mode (no
/// guard: two readers hold it together, and the opposite orders deadlock).
async fn opposite_orders_inside(outer_shared: bool) {
    let outer = Arc::new(RwLock::named("outer", ()));
    let (a, b) = (
        Arc::new(Mutex::named("a", ())),
        Arc::new(Mutex::named("b", ())),
    );
    let tasks: Vec<_> = [false, true]
        .into_iter()
        .map(|backward| {
            let (outer, a, b) = (outer.clone(), a.clone(), b.clone());
            racecheck::spawn(async move {
                let (first, second) = if backward { (b, a) } else { (a, b) };
                if outer_shared {
                    let _outer = outer.read().await;
                    let _first = first.lock().await;
                    let _second = second.lock().await;
                } else {
                    let _outer = outer.write().await;
                    let _first = first.lock().await;
                    let _second = second.lock().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
}

#[test]
fn a_lock_both_tasks_hold_in_read_mode_is_no_guard() {
    for seed in 0..20 {
        let report = Builder::new()
            .seed(seed)
            .iterations(1)
            .run(|| opposite_orders_inside(true));
        let potential = potential_deadlocks(&report);
        assert_eq!(potential.len(), 1, "seed {seed}: {:?}", report.warnings);
    }
    // And the deadlock it predicts happens.
    let report = Builder::new()
        .iterations(1000)
        .run(|| opposite_orders_inside(true));
    assert!(deadlock_of(&report).is_some(), "{:?}", report.failure);
}

#[test]
fn a_lock_both_tasks_hold_in_write_mode_is_a_guard() {
    let report = Builder::new()
        .iterations(300)
        .run(|| opposite_orders_inside(false));
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

/// Five tasks take `a` then `b` and five take `b` then `a`, all under
/// `guard`, one after the other; then one more task takes `b` then `a`,
/// under the guard too (`last_guarded`) or without it.
async fn many_guarded_then_one(last_guarded: bool) {
    let guard = Arc::new(Mutex::named("guard", ()));
    let (a, b) = (
        Arc::new(Mutex::named("a", ())),
        Arc::new(Mutex::named("b", ())),
    );
    let take = |first: Arc<Mutex<()>>, second: Arc<Mutex<()>>, guarded: bool| {
        let guard = guard.clone();
        racecheck::spawn(async move {
            let _guard = if guarded {
                Some(guard.lock().await)
            } else {
                None
            };
            let _first = first.lock().await;
            let _second = second.lock().await;
        })
    };
    for _ in 0..5 {
        take(a.clone(), b.clone(), true).await;
        take(b.clone(), a.clone(), true).await;
    }
    take(b.clone(), a.clone(), last_guarded).await;
}

#[test]
fn many_guarded_samples_do_not_hide_the_unguarded_one() {
    let report = Builder::new()
        .iterations(1)
        .run(|| many_guarded_then_one(false));
    assert_eq!(
        potential_deadlocks(&report).len(),
        1,
        "{:?}",
        report.warnings
    );
    let twin = Builder::new()
        .iterations(20)
        .run(|| many_guarded_then_one(true));
    assert!(twin.warnings.is_empty(), "{:?}", twin.warnings);
}

#[test]
fn a_reader_queued_behind_a_writer_deadlocks_naming_the_writer() {
    let report = Builder::new().iterations(1000).run(|| async {
        let config = Arc::new(RwLock::named("config", 0));
        let handler = {
            let config = config.clone();
            racecheck::spawn_named("handler", async move {
                let first = config.read().await;
                racecheck::yield_now().await;
                // A writer queued meanwhile: this read waits behind it.
                let second = config.read().await;
                drop((first, second));
            })
        };
        let reloader = racecheck::spawn_named("reloader", async move {
            *config.write().await += 1;
        });
        handler.await;
        reloader.await;
    });
    let deadlock = deadlock_of(&report).expect("the writer queues between the two reads");
    let waits: Vec<&str> = deadlock
        .cycle
        .iter()
        .map(|wait| wait.description.as_str())
        .collect();
    assert_eq!(
        waits,
        [
            "task 'handler' waits to read-lock RwLock 'config', queued behind writer 'reloader'",
            "task 'reloader' waits to write-lock RwLock 'config', held by 'handler'",
        ]
    );
}

/// Runs `program(false)`, which must deadlock through these waits of its
/// cycle and behind it, and its twin `program(true)`, which must pass.
/// The site of an unnamed object (`mpsc@tests/detector.rs:9:5`) is cut to
/// `mpsc@…`. Returns the deadlock.
fn assert_deadlock_and_passing_twin<F, Fut>(
    program: F,
    cycle: &[&str],
    behind: &[&str],
) -> racecheck::detect::Deadlock
where
    F: Fn(bool) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let without_sites = |waits: &[racecheck::detect::Wait]| -> Vec<String> {
        (waits.iter())
            .map(|wait| match wait.description.split_once('@') {
                Some((before, after)) => {
                    let end = after.find([' ', ',', ')']).unwrap_or(after.len());
                    format!("{before}@…{}", &after[end..])
                }
                None => wait.description.clone(),
            })
            .collect()
    };
    let report = Builder::new().iterations(1000).run(|| program(false));
    let deadlock = deadlock_of(&report).expect("a deadlocking interleaving");
    assert_eq!(without_sites(&deadlock.cycle), cycle);
    assert_eq!(without_sites(&deadlock.blocked_behind), behind);
    let twin = Builder::new().iterations(1000).run(|| program(true));
    assert!(twin.failure.is_none(), "{}", twin.failure.unwrap());
    deadlock.clone()
}

/// A producer sends two jobs on a channel of one slot, each under the
/// `stats` lock that the consumer takes before each receive; with
/// `release_first` it lets go of the lock before it sends.
async fn producer_holding_a_lock_on_a_full_channel(release_first: bool) {
    let stats = Arc::new(Mutex::named("stats", 0));
    let (jobs, mut inbox) = mpsc::channel::<u32>(1);
    let consumer = {
        let stats = stats.clone();
        racecheck::spawn_named("consumer", async move {
            loop {
                *stats.lock().await += 1;
                if inbox.recv().await.is_none() {
                    break;
                }
            }
        })
    };
    let producer = racecheck::spawn_named("producer", async move {
        for job in 0..2 {
            let mut count = stats.lock().await;
            *count += 1;
            if release_first {
                drop(count);
            }
            jobs.send(job).await.unwrap();
        }
    });
    producer.await;
    consumer.await;
}

#[test]
fn a_producer_holding_a_lock_on_a_full_channel_deadlocks_with_its_consumer() {
    assert_deadlock_and_passing_twin(
        producer_holding_a_lock_on_a_full_channel,
        &[
            "task 'consumer' waits to lock Mutex 'stats', held by 'producer'",
            "task 'producer' waits for capacity on mpsc@… (its receiver: 'consumer')",
        ],
        &["task 'main' waits for task 'producer' to finish"],
    );
}

/// The root sends results to a collector and joins it; with `drop_first`
/// it drops its sender, the only one, before joining.
async fn joining_the_receiver_while_holding_the_sender(drop_first: bool) {
    let (results, mut inbox) = mpsc::unbounded_channel::<u32>();
    let collector = racecheck::spawn_named("collector", async move {
        let mut sum = 0;
        while let Some(result) = inbox.recv().await {
            sum += result;
        }
        sum
    });
    for result in 1..=2 {
        results.send(result).unwrap();
    }
    if drop_first {
        drop(results);
    }
    assert_eq!(collector.await, 3);
}

#[test]
fn joining_the_receiver_while_holding_the_only_sender_deadlocks() {
    assert_deadlock_and_passing_twin(
        joining_the_receiver_while_holding_the_sender,
        &[
            "task 'main' waits for task 'collector' to finish",
            "task 'collector' waits for a message on mpsc@… from 'main'",
        ],
        &[],
    );
}

/// `joining_the_receiver_while_holding_the_sender` with threads and std's
/// channel: threads run on their own stacks, and the teardown finds their
/// channel ends as it unwinds them.
async fn thread_joining_the_receiver_while_holding_the_sender(drop_first: bool) {
    racecheck::thread::main(move || {
        let (results, inbox) = racecheck::sync::blocking::mpsc::sync_channel::<u32>(1);
        let collector = racecheck::thread::Builder::new()
            .name("collector".into())
            .spawn(move || while inbox.recv().is_ok() {})
            .unwrap();
        results.send(1).unwrap();
        if drop_first {
            drop(results);
        }
        collector.join().unwrap();
    })
    .await;
}

#[test]
fn a_thread_joining_the_receiver_while_holding_the_only_sender_deadlocks() {
    assert_deadlock_and_passing_twin(
        thread_joining_the_receiver_while_holding_the_sender,
        &[
            "task 'main' waits for task 'collector' to finish",
            "task 'collector' waits for a message on mpsc@… from 'main'",
        ],
        &[],
    );
}

/// asyncio's version of the full channel: a putter puts three jobs on a
/// queue of one slot, each under the `stats` lock that the getter takes
/// after each get; with `release_first` it lets go of the lock first.
async fn putter_holding_a_lock_on_a_full_queue(release_first: bool) {
    let stats = Arc::new(Mutex::named("stats", 0));
    let jobs = Arc::new(Queue::named("jobs", 1));
    let getter = {
        let (stats, jobs) = (stats.clone(), jobs.clone());
        racecheck::spawn_named("getter", async move {
            for _ in 0..3 {
                let job: u32 = jobs.get().await;
                *stats.lock().await += job;
            }
        })
    };
    let putter = racecheck::spawn_named("putter", async move {
        for job in 0..3 {
            let mut count = stats.lock().await;
            *count += 1;
            if release_first {
                drop(count);
            }
            jobs.put(job).await;
        }
    });
    putter.await;
    getter.await;
}

#[test]
fn a_putter_holding_a_lock_on_a_full_queue_deadlocks_with_its_getter() {
    assert_deadlock_and_passing_twin(
        putter_holding_a_lock_on_a_full_queue,
        &[
            "task 'getter' waits to lock Mutex 'stats', held by 'putter'",
            "task 'putter' waits for capacity on Queue 'jobs' (its getters: 'getter')",
        ],
        &["task 'main' waits for task 'putter' to finish"],
    );
}

/// The consumer waits for a message holding the `stats` lock the producer
/// needs before it sends; the root returns. With `late_sender`, a third
/// task holds a sender and sleeps: it could still send, so the consumer's
/// wait has a waker outside the cycle.
async fn consumer_holding_the_lock_its_producer_needs(late_sender: bool) {
    let stats = Arc::new(Mutex::named("stats", 0));
    let (jobs, mut inbox) = mpsc::channel::<u32>(1);
    let consumer = {
        let stats = stats.clone();
        racecheck::spawn_named("consumer", async move {
            let mut count = stats.lock().await;
            if let Some(job) = inbox.recv().await {
                *count += job;
            }
        })
    };
    let producer = {
        let jobs = jobs.clone();
        racecheck::spawn_named("producer", async move {
            *stats.lock().await += 1;
            jobs.send(1).await.ok();
        })
    };
    if late_sender {
        racecheck::spawn_named("late", async move {
            sleep(Duration::from_secs(1)).await;
            jobs.send(2).await.ok();
        });
    } else {
        drop(jobs);
    }
    let _detached = (consumer, producer);
}

#[test]
fn a_cycle_is_no_deadlock_while_a_sleeping_sender_could_end_its_wait() {
    // The bug: the producer holds the only sender left; the twin: a
    // sleeping task holds another.
    let deadlock = assert_deadlock_and_passing_twin(
        consumer_holding_the_lock_its_producer_needs,
        &[
            "task 'consumer' waits for a message on mpsc@… from 'producer'",
            "task 'producer' waits to lock Mutex 'stats', held by 'consumer'",
        ],
        &[],
    );
    assert!(deadlock.partial, "the root finished");
}

#[test]
fn reentering_a_reentrant_mutex_is_fine_but_a_mutex_deadlocks_on_one_task() {
    let report = Builder::new().iterations(100).run(|| async {
        let tree = ReentrantMutex::named("tree", ());
        let _outer = tree.lock().await;
        let _inner = tree.lock().await;
    });
    assert!(report.failure.is_none());
    assert!(report.warnings.is_empty());

    let report = Builder::new().iterations(1).run(|| async {
        let table = Mutex::named("table", ());
        let _outer = table.lock().await;
        let _inner = table.lock().await;
    });
    let deadlock = deadlock_of(&report).expect("a self-deadlock");
    assert_eq!(
        deadlock.cycle[0].description,
        "task 'main' waits to lock Mutex 'table', held by itself"
    );
}

#[test]
fn a_deadlock_that_others_outlive_is_a_partial_deadlock() {
    let report = Builder::new().iterations(1000).run(|| async {
        let (a, b) = (
            Arc::new(Mutex::named("a", ())),
            Arc::new(Mutex::named("b", ())),
        );
        {
            let (a, b) = (a.clone(), b.clone());
            racecheck::spawn_named("a-then-b", async move {
                let _a = a.lock().await;
                let _b = b.lock().await;
            });
        }
        racecheck::spawn_named("b-then-a", async move {
            let _b = b.lock().await;
            let _a = a.lock().await;
        });
        // main does not wait for them and finishes.
    });
    let deadlock = deadlock_of(&report).expect("a deadlocking interleaving");
    assert!(deadlock.partial);
    assert!(report.failure.unwrap().to_string().contains("partial"));
}

/// The root returns while `waiter` waits on `ready`; a detached `waker`
/// would set it after sleeping (`sleeping_waker`), or has already finished
/// without setting it.
async fn root_returns_before_the_waker(sleeping_waker: bool) {
    let ready = Arc::new(Notify::named("ready"));
    let waiter = {
        let ready = ready.clone();
        racecheck::spawn_named("waiter", async move { ready.notified().await })
    };
    let waker = racecheck::spawn_named("waker", async move {
        if sleeping_waker {
            sleep(Duration::from_secs(1)).await;
            ready.notify_one();
        }
    });
    let _detached = (waiter, waker);
    racecheck::yield_now().await;
    racecheck::yield_now().await;
}

#[test]
fn a_task_that_could_still_wake_the_waiter_is_no_hang() {
    let report = Builder::new()
        .iterations(300)
        .run(|| root_returns_before_the_waker(true));
    assert!(report.failure.is_none(), "{}", report.failure.unwrap());
    // The twin: nobody is left to wake the waiter.
    let report = Builder::new()
        .iterations(300)
        .run(|| root_returns_before_the_waker(false));
    let failure = report.failure.expect("the waiter hangs");
    assert!(
        matches!(failure.kind, FailureKind::Finding(Finding::Hang(_))),
        "{}",
        failure.kind
    );
}

#[test]
fn a_wait_nobody_will_end_is_a_hang_naming_the_last_toucher() {
    let report = Builder::new().iterations(200).run(|| async {
        let ready = Arc::new(Event::named("ready"));
        let waiter = {
            let ready = ready.clone();
            racecheck::spawn_named("consumer", async move { ready.wait().await })
        };
        ready.set();
        ready.clear(); // the consumer may not have looked yet: a lost wakeup
        waiter.await;
    });
    let failure = report.failure.expect("some schedule clears first");
    let FailureKind::Finding(Finding::Hang(hang)) = &failure.kind else {
        panic!("expected a hang, got {}", failure.kind);
    };
    let consumer = hang
        .waits
        .iter()
        .position(|wait| wait.description == "task 'consumer' waits on Event 'ready'")
        .expect("the consumer waits on the event");
    let (toucher, _) = hang.last_touched[consumer]
        .as_ref()
        .expect("main touched it");
    assert_eq!(toucher, "main");
}

#[test]
fn a_lost_notify_waiters_is_a_hang() {
    let report = Builder::new().iterations(200).run(|| async {
        let wake = Arc::new(Notify::named("wake"));
        let sleeper = {
            let wake = wake.clone();
            racecheck::spawn_named("sleeper", async move { wake.notified().await })
        };
        wake.notify_waiters(); // stores no permit: lost if the sleeper is late
        sleeper.await;
    });
    let failure = report.failure.expect("some schedule notifies first");
    assert!(
        matches!(failure.kind, FailureKind::Finding(Finding::Hang(_))),
        "{}",
        failure.kind
    );
}

#[test]
fn a_forgotten_guard_is_a_leak_and_a_forgotten_permit_is_not() {
    let report = Builder::new().iterations(1).run(|| async {
        let db = Mutex::named("db", 0);
        std::mem::forget(db.lock().await);
    });
    let failure = report.failure.expect("the guard leaks");
    let FailureKind::Finding(Finding::Leak(leak)) = &failure.kind else {
        panic!("expected a leak, got {}", failure.kind);
    };
    assert_eq!(leak.object_label, "Mutex 'db'");
    assert_eq!(leak.holder_name, "main");
    assert!(leak.taken_at.is_some());

    let report = Builder::new().iterations(10).run(|| async {
        let slots = Semaphore::named("slots", 2);
        slots.acquire().await.unwrap().forget();
        assert_eq!(slots.available_permits(), 1);
    });
    assert!(report.failure.is_none());
}

#[test]
fn a_lock_held_by_a_task_that_never_finishes_leaks() {
    let report = Builder::new().iterations(20).run(|| async {
        let db = Arc::new(Mutex::named("db", 0));
        racecheck::spawn_named("stuck-worker", async move {
            let _guard = db.lock().await;
            sleep(Duration::from_secs(3600)).await;
        });
        racecheck::yield_now().await;
    });
    let failure = report.failure.expect("the worker still holds the lock");
    assert!(
        matches!(&failure.kind, FailureKind::Finding(Finding::Leak(leak)) if leak.holder_name == "stuck-worker"),
        "{}",
        failure.kind
    );
}

#[test]
fn checks_can_be_turned_off_or_to_warnings() {
    let leaky = || async {
        let db = Mutex::named("db", 0);
        std::mem::forget(db.lock().await);
    };
    let warned = Builder::new().leaks(Check::Warn).iterations(5).run(leaky);
    assert!(warned.failure.is_none());
    assert_eq!(warned.warnings.len(), 1, "one warning for five executions");
    let silent = Builder::new().checks(Check::Off).iterations(5).run(leaky);
    assert!(silent.failure.is_none());
    assert!(silent.warnings.is_empty());
}

#[test]
fn findings_serialise_to_json_and_draw_as_graphviz() {
    let report = Builder::new().iterations(1).run(|| async {
        let rows = Arc::new(Shared::named("rows", 0));
        let writer = {
            let rows = rows.clone();
            racecheck::spawn_named("writer", async move { rows.store(1).await })
        };
        rows.store(2).await;
        writer.await;
    });
    let failure = report.failure.expect("a race");
    let FailureKind::Finding(finding) = &failure.kind else {
        panic!("expected a finding, got {}", failure.kind);
    };
    let json = serde_json::to_value(finding).unwrap();
    assert_eq!(json["kind"], "race");
    assert_eq!(json["object_label"], "Shared 'rows'");
    assert_eq!(json["first"]["write"], true);
    assert!(json["second"]["location"]["file"]
        .as_str()
        .unwrap()
        .ends_with("detector.rs"));

    let dot = failure.dot().expect("a race has a graph");
    assert!(dot.starts_with("digraph finding {"));
    assert_eq!(dot.matches("color=red, penwidth=3").count(), 2, "{dot}");
    assert_eq!(
        dot.matches("dir=none").count(),
        1,
        "one unordered pair: {dot}"
    );
    assert!(dot.contains("legend ["));
}
