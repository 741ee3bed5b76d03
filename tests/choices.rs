//! Data choices (`racecheck::choose`): decisions a program leaves to the
//! scheduler, such as which ready branch of a `select!` wins. Every strategy
//! explores them, the schedule records them, and replay reproduces them.

use racecheck::sched::{explore_with, BoundedScheduler, Config, ExhaustiveScheduler};
use racecheck::{Builder, FailureKind, Strategy};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Two tasks each choose among three values; the root records both.
fn two_choices(
    seen: Arc<Mutex<BTreeSet<(usize, usize)>>>,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    move || {
        let seen = seen.clone();
        Box::pin(async move {
            let first = racecheck::spawn(racecheck::choose(3));
            let second = racecheck::spawn(racecheck::choose(3));
            let pair = (first.await, second.await);
            seen.lock().unwrap().insert(pair);
        })
    }
}

#[test]
fn exhaustive_search_tries_every_value_and_stays_complete() {
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let report = Builder::new()
        .strategy(Strategy::Exhaustive)
        .iterations(10_000)
        .run(two_choices(seen.clone()));
    assert!(report.complete, "{}", report.summary());
    assert!(report.failure.is_none());
    assert_eq!(seen.lock().unwrap().len(), 9, "every pair of values");
    // The two choices are independent steps: one execution per pair.
    assert_eq!(report.executions, 9, "{}", report.summary());
}

#[test]
fn exhaustive_search_without_reduction_tries_every_value_too() {
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let config = Config {
        iterations: 100_000,
        ..Config::default()
    };
    let report = explore_with(
        &config,
        &mut ExhaustiveScheduler::without_reduction(),
        two_choices(seen.clone()),
    );
    assert!(report.complete);
    assert_eq!(seen.lock().unwrap().len(), 9);
}

#[test]
fn bounded_search_tries_every_value_at_zero_preemptions() {
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let config = Config {
        iterations: 10_000,
        ..Config::default()
    };
    let report = explore_with(
        &config,
        &mut BoundedScheduler::new(0).with_executions_max(10_000),
        two_choices(seen.clone()),
    );
    assert!(report.complete);
    assert_eq!(seen.lock().unwrap().len(), 9);
}

#[test]
fn random_and_pct_search_draw_every_value() {
    for strategy in [Strategy::Random, Strategy::Pct { depth: 2 }] {
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let report = Builder::new()
            .strategy(strategy.clone())
            .iterations(300)
            .run(two_choices(seen.clone()));
        assert!(report.failure.is_none());
        assert_eq!(seen.lock().unwrap().len(), 9, "{strategy:?}");
    }
}

/// Fails only when the chosen value is 2 of 3: the failure's schedule
/// carries the choice, and replaying it fails the same way every time.
async fn fails_on_the_last_value() {
    let branch = racecheck::choose(3).await;
    assert_ne!(branch, 2, "the third branch won");
}

#[test]
fn a_failure_replays_with_its_data_choices() {
    let failure = Builder::new()
        .run(fails_on_the_last_value)
        .failure
        .expect("random search draws the third value");
    assert_eq!(failure.schedule.choices(), &[2]);
    let text = failure.schedule.to_string();
    assert!(text.starts_with("rc2:"), "{text}");
    for _ in 0..100 {
        let replayed = Builder::new()
            .strategy(Strategy::Replay(text.parse().unwrap()))
            .run(fails_on_the_last_value);
        let replayed = replayed.failure.expect("the replay fails the same way");
        assert_eq!(replayed.trace.events, failure.trace.events);
        assert!(matches!(replayed.kind, FailureKind::Panic { .. }));
    }
}

#[test]
fn a_schedule_without_the_choice_does_not_fit() {
    let steps_only = racecheck::Schedule::from_steps(vec![racecheck::TaskId(0); 2]);
    let report = Builder::new()
        .strategy(Strategy::Replay(steps_only))
        .run(fails_on_the_last_value);
    let failure = report.failure.expect("a schedule that does not fit fails");
    assert!(
        failure
            .to_string()
            .contains("chooses among 3 options, but the schedule has no choice left"),
        "{failure}"
    );
}
