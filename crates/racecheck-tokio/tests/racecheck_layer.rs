//! What only the `racecheck` feature does: `select!`'s choice made by the
//! scheduler and replayed, the test attribute's settings and report.
#![cfg(feature = "racecheck")]

use racecheck::{Builder, Strategy};
use racecheck_tokio as tokio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A `select!` between two branches that are both ready at once; returns
/// the winner.
async fn two_ready_branches() -> usize {
    let (first, first_ready) = tokio::sync::oneshot::channel::<()>();
    let (second, second_ready) = tokio::sync::oneshot::channel::<()>();
    first.send(()).unwrap();
    second.send(()).unwrap();
    tokio::select! {
        _ = first_ready => 0,
        _ = second_ready => 1,
    }
}

#[test]
fn select_explores_both_ready_branches() {
    let wins = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let report = Builder::new().iterations(100).run(|| {
        let wins = wins.clone();
        async move {
            let winner = two_ready_branches().await;
            wins[winner].fetch_add(1, Ordering::SeqCst);
        }
    });
    assert!(report.failure.is_none());
    let (first, second) = (
        wins[0].load(Ordering::SeqCst),
        wins[1].load(Ordering::SeqCst),
    );
    assert_eq!(first + second, 100);
    assert!(first > 20 && second > 20, "{first} / {second}");
}

#[test]
fn exhaustive_search_tries_each_branch_once() {
    let report = Builder::new().strategy(Strategy::Exhaustive).run(|| async {
        two_ready_branches().await;
    });
    assert!(report.complete);
    assert_eq!(report.executions, 2);
}

#[test]
fn a_select_choice_replays_exactly() {
    let test = || async {
        assert_eq!(two_ready_branches().await, 0, "the second branch won");
    };
    let failure = Builder::new()
        .minimize_failures(false)
        .run(test)
        .failure
        .expect("the second branch wins in some execution");
    assert!(failure.to_string().contains("the second branch won"));
    let schedule = failure.schedule;
    let mut reproduced = 0;
    for _ in 0..1000 {
        let replayed = Builder::new()
            .strategy(Strategy::Replay(schedule.clone()))
            .run(test);
        let replayed = replayed.failure.expect("the replay fails too");
        reproduced += usize::from(replayed.to_string().contains("the second branch won"));
    }
    assert_eq!(reproduced, 1000);
}

#[test]
fn biased_select_makes_no_choice() {
    let report = Builder::new().strategy(Strategy::Exhaustive).run(|| async {
        let (first, first_ready) = tokio::sync::oneshot::channel::<()>();
        let (second, second_ready) = tokio::sync::oneshot::channel::<()>();
        first.send(()).unwrap();
        second.send(()).unwrap();
        let winner = tokio::select! {
            biased;
            _ = first_ready => 0,
            _ = second_ready => 1,
        };
        assert_eq!(winner, 0);
    });
    assert!(report.failure.is_none());
    assert_eq!(report.executions, 1);
}

/// The lost update the report below is about: two tasks read a counter,
/// yield, and write it back.
async fn lost_update() {
    let rows = Arc::new(racecheck::sync::Shared::named("rows", 0));
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let rows = rows.clone();
            tokio::spawn(async move {
                let seen = rows.load().await;
                rows.store(seen + 1).await;
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
}

#[tokio::test(iterations = 50, seed = 3)]
#[should_panic(
    expected = "--features racecheck a_failing_test_names_itself_in_the_replay_line -- --exact"
)]
async fn a_failing_test_names_itself_in_the_replay_line() {
    lost_update().await;
}

#[tokio::test(strategy = "pct", depth = 2, iterations = 50)]
#[should_panic(expected = "data race on Shared 'rows'")]
async fn pct_finds_the_race_too() {
    lost_update().await;
}

#[tokio::test(strategy = "exhaustive")]
#[should_panic(expected = "the test returned Err(\"three\")")]
async fn an_err_from_the_body_fails_the_test() -> Result<(), &'static str> {
    let three = tokio::spawn(async { 3 }).await.unwrap();
    if three == 3 {
        return Err("three");
    }
    Ok(())
}

#[tokio::test(iterations = 20, check_replay_every = 1)]
#[should_panic(expected = "uncontrolled nondeterminism")]
async fn a_hash_order_deciding_what_runs_fails_even_when_the_test_passes() {
    // Each HashSet draws its own keys: the tasks start in an order
    // racecheck does not control, and nothing else fails.
    let delays: std::collections::HashSet<u64> = (1..=8).collect();
    let sleepers: Vec<_> = delays
        .into_iter()
        .map(|millis| tokio::spawn(tokio::time::sleep(Duration::from_millis(millis))))
        .collect();
    for sleeper in sleepers {
        sleeper.await.unwrap();
    }
}

/// Real tokio's `select!` (`::tokio`, not the layer's) picks the branch it
/// polls first with tokio's own thread-local random numbers: racecheck
/// cannot replay that choice, so the test fails as uncontrolled
/// nondeterminism instead of passing. (With both branches ready, each
/// execution's replay receives on the other channel half the time: 20
/// checked executions all agreeing has a chance of 2^-20.)
#[tokio::test(iterations = 20, check_replay_every = 1)]
#[should_panic(expected = "uncontrolled nondeterminism")]
async fn real_tokios_select_inside_an_execution_is_uncontrolled_nondeterminism() {
    let (first, first_ready) = tokio::sync::oneshot::channel::<()>();
    let (second, second_ready) = tokio::sync::oneshot::channel::<()>();
    first.send(()).unwrap();
    second.send(()).unwrap();
    ::tokio::select! {
        _ = first_ready => {}
        _ = second_ready => {}
    }
}

/// An atomic load-then-store lost update: a scheduling point between the
/// two only at step granularity.
async fn atomic_lost_update() {
    use racecheck::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let hits = Arc::new(AtomicUsize::new(0));
    let worker = {
        let hits = hits.clone();
        tokio::spawn(async move { hits.store(hits.load(SeqCst) + 1, SeqCst) })
    };
    hits.store(hits.load(SeqCst) + 1, SeqCst);
    worker.await.unwrap();
    assert_eq!(hits.load(SeqCst), 2, "lost update");
}

#[tokio::test(flavor = "multi_thread")]
#[should_panic(expected = "lost update")]
async fn multi_thread_flavor_interleaves_every_operation() {
    atomic_lost_update().await;
}

#[tokio::test(flavor = "current_thread")]
async fn current_thread_flavor_switches_at_awaits_only() {
    atomic_lost_update().await;
}

#[tokio::test(flavor = "local")]
async fn local_flavor_switches_at_awaits_only() {
    // tokio's `LocalRuntime` is one thread too.
    atomic_lost_update().await;
}

/// A task's panic, joined or not: a `JoinError` by default, as in tokio.
async fn a_task_panics() {
    let failed = tokio::spawn(async { panic!("the worker failed") });
    assert!(failed.await.unwrap_err().is_panic());
}

#[tokio::test]
async fn a_task_panic_is_a_join_error_by_default() {
    a_task_panics().await;
}

#[tokio::test(unhandled_panic = "shutdown_runtime")]
#[should_panic(expected = "racecheck: task 'task-1' panicked")]
async fn shutdown_runtime_makes_a_task_panic_fail_the_test() {
    a_task_panics().await;
}

#[test]
fn a_failing_block_on_is_not_reported_as_nondeterministic() {
    // `Runtime::block_on` outside an exploration runs its future once; a
    // replay of the failure would find the future gone, which is not
    // uncontrolled nondeterminism.
    let outcome = std::panic::catch_unwind(|| {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let worker = tokio::spawn(async { 1 });
            assert_eq!(worker.await.unwrap(), 2, "the worker's answer");
        })
    });
    let payload = outcome.expect_err("the assertion fails");
    let report = payload
        .downcast_ref::<String>()
        .expect("the report is the panic message");
    assert!(report.contains("the worker's answer"), "{report}");
    assert!(!report.contains("nondeterminism"), "{report}");
}

#[test]
fn block_on_takes_a_future_that_borrows_locals() {
    // As with tokio: the future borrows the caller's locals, mutably too,
    // and returns a value that borrows them.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut log = vec!["before"];
    let words = String::from("borrowed words");
    let first: &str = runtime.block_on(async {
        let worker = tokio::spawn(async { 7 });
        assert_eq!(worker.await.unwrap(), 7);
        log.push("inside");
        words.split(' ').next().unwrap()
    });
    assert_eq!(first, "borrowed");
    assert_eq!(log, ["before", "inside"]);
    let local = tokio::task::LocalSet::new();
    let length = local.block_on(&runtime, async { words.len() });
    assert_eq!(length, 14);
}

#[test]
fn a_borrowing_block_on_that_fails_reports_and_releases_its_borrows() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut counter = 0;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async {
            counter += 1;
            panic!("the body failed after {counter}");
        })
    }));
    let payload = outcome.expect_err("the body panics");
    let report = payload.downcast_ref::<String>().expect("the report");
    assert!(report.contains("the body failed after 1"), "{report}");
    counter += 1;
    assert_eq!(counter, 2);
}

/// The file and line of the panic `body` raises. Panics of other threads
/// (tests running beside this one) go to the hook as before.
fn panic_location(body: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let location = Arc::new(std::sync::Mutex::new(String::new()));
    let previous: Arc<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync> =
        Arc::from(std::panic::take_hook());
    {
        let (location, previous) = (location.clone(), previous.clone());
        let this_thread = std::thread::current().id();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() != this_thread {
                return previous(info);
            }
            let at = info.location().expect("a location");
            *location.lock().unwrap() = format!("{}:{}", at.file(), at.line());
        }));
    }
    let outcome = std::panic::catch_unwind(body);
    std::panic::set_hook(Box::new(move |info| previous(info)));
    assert!(outcome.is_err(), "the body panics");
    let location = location.lock().unwrap().clone();
    location
}

#[test]
fn misuse_panics_at_the_callers_line_as_tokio_does() {
    let spawn_line = line!() + 1;
    let spawned = panic_location(|| drop(tokio::spawn(async {})));
    assert_eq!(spawned, format!("{}:{spawn_line}", file!()));
    let interval_line = line!() + 1;
    let interval = panic_location(|| drop(tokio::time::interval(Duration::ZERO)));
    assert_eq!(interval, format!("{}:{interval_line}", file!()));
    tokio::task_local! {
        static NUMBER: u32;
    }
    let scope_line = line!() + 2;
    let nested =
        panic_location(|| NUMBER.sync_scope(1, || NUMBER.with(|_| NUMBER.sync_scope(2, || {}))));
    assert_eq!(nested, format!("{}:{scope_line}", file!()));
}

#[tokio::test]
async fn try_join_next_takes_every_finished_task_without_waiting() {
    // At await granularity too: taking a finished task's output is not a
    // scheduling point.
    let mut set = tokio::task::JoinSet::new();
    for index in 0..3 {
        set.spawn(async move { index });
    }
    assert!(set.try_join_next().is_none(), "none has run yet");
    tokio::time::sleep(Duration::from_millis(1)).await;
    let mut outputs = Vec::new();
    while let Some(output) = set.try_join_next() {
        outputs.push(output.unwrap());
    }
    outputs.sort_unstable();
    assert_eq!(outputs, [0, 1, 2]);
}

#[tokio::test]
async fn spending_the_budget_by_hand_ends() {
    // tokio's own tests spin `consume_budget().now_or_never()` until the
    // budget runs out; under racecheck it runs out on the first hand poll.
    let mut spins = 0;
    while poll_by_hand(tokio::task::coop::consume_budget()).is_ready() {
        spins += 1;
    }
    assert_eq!(spins, 0);
    tokio::task::coop::consume_budget().await;
}

/// Polls `future` once with a waker that is not the task's.
fn poll_by_hand<F: std::future::Future>(future: F) -> std::task::Poll<F::Output> {
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::pin!(future).poll(&mut context)
}

#[tokio::test(name = "the cache's runtime")]
async fn the_test_attribute_names_the_runtime() {
    let handle = tokio::runtime::Handle::current();
    assert_eq!(handle.name(), Some("the cache's runtime"));
}
