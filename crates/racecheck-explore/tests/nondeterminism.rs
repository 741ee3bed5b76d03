//! Uncontrolled nondeterminism: a failure whose replay does not give the
//! same events is reported as such, and a deterministic one is not.

use racecheck_explore::{explore, Config};
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn a_deterministic_failure_replays_the_same_events() {
    let report = explore(&Config::default(), || async {
        let task = racecheck_runtime::spawn(racecheck_runtime::yield_now());
        task.await;
        panic!("fails in every execution");
    });
    let failure = report.failure.expect("it fails");
    assert_eq!(failure.nondeterminism, None);
    assert!(!failure.to_string().contains("uncontrolled"), "{failure}");
}

#[test]
fn state_kept_across_executions_is_reported_where_the_replay_differs() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let report = explore(&Config::default(), || async {
        racecheck_runtime::spawn(async {}).await;
        if RUNS.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
            racecheck_runtime::spawn(async {}).await;
        }
        panic!("fails in every execution");
    });
    let failure = report.failure.expect("it fails");
    let divergence = failure.nondeterminism.clone().expect("the replay differs");
    let got = divergence.got.expect("the replay did more");
    assert!(got.contains("spawn"), "{got}");
    let text = failure.to_string();
    let sentence = format!(
        "uncontrolled nondeterminism: replaying the schedule gave a different trace at step {}",
        divergence.step
    );
    assert!(text.contains(&sentence), "{text}");
}

#[test]
fn a_parallel_exploration_checks_the_replay_too() {
    // The executions run on worker threads and the replay on this one: a
    // program that asks which thread it is on replays differently.
    let test_thread = std::thread::current().id();
    let config = Config {
        jobs: 2,
        ..Config::default()
    };
    let report = racecheck_explore::explore_parallel(&config, move || async move {
        if std::thread::current().id() != test_thread {
            racecheck_runtime::spawn(async {}).await;
        }
        panic!("fails in every execution");
    });
    let failure = report.failure.expect("it fails");
    let divergence = failure.nondeterminism.expect("the replay differs");
    assert_eq!(divergence.event, racecheck_trace::EventIndex(0));
}
