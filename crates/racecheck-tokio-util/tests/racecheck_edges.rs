//! What only the `racecheck` feature does: the happens-before edges of
//! `CancellationToken` and `TaskTracker`, each shown by a race the detector
//! must report and its synchronised twin it must not.
#![cfg(feature = "racecheck")]

use racecheck::sync::Shared;
use racecheck::{Builder, FailureKind, Finding, Report};
use racecheck_tokio as tokio;
use racecheck_tokio_util::sync::CancellationToken;
use racecheck_tokio_util::task::TaskTracker;
use std::future::Future;
use std::sync::Arc;

fn explore<F: Future<Output = ()> + 'static>(test: fn() -> F) -> Report {
    Builder::new().iterations(200).run(test)
}

fn assert_race_on(report: Report, label: &str) {
    let failure = report.failure.expect("the race is reported");
    let text = failure.to_string();
    let FailureKind::Finding(Finding::Race(race)) = &failure.kind else {
        panic!("expected a data race, got:\n{text}");
    };
    assert!(race.object_label.contains(label), "{text}");
}

fn assert_passes(report: Report) {
    if let Some(failure) = report.failure {
        panic!("expected no failure, got:\n{failure}");
    }
    assert_eq!(report.executions, 200);
}

/// A worker publishes its result, then cancels (or, racy, cancels first);
/// the main task reads the result once the token says cancelled.
async fn publish_then_cancel(cancel_first: bool, through_is_cancelled: bool) {
    let result = Arc::new(Shared::named("result", 0));
    let done = CancellationToken::new();
    // Cancelled through its parent: the edge passes down the tree.
    let child = done.child_token();
    let worker = {
        let (result, done) = (result.clone(), done.clone());
        tokio::spawn(async move {
            if cancel_first {
                done.cancel();
            }
            result.set(42);
            done.cancel();
        })
    };
    if through_is_cancelled {
        while !child.is_cancelled() {
            tokio::task::yield_now().await;
        }
    } else {
        child.cancelled().await;
    }
    let _ = result.get();
    drop(worker);
}

#[test]
fn cancel_orders_what_came_before_it_for_cancelled_waiters() {
    assert_passes(explore(|| publish_then_cancel(false, false)));
}

#[test]
fn cancel_orders_what_came_before_it_for_is_cancelled() {
    assert_passes(explore(|| publish_then_cancel(false, true)));
}

#[test]
fn a_write_after_the_cancel_races_with_the_woken_reader() {
    assert_race_on(explore(|| publish_then_cancel(true, false)), "'result'");
}

/// A tracked worker writes; the main task reads after `wait`. With
/// `untracked`, the writer is spawned outside the tracker.
async fn write_then_wait(untracked: bool) {
    let tracker = TaskTracker::new();
    let cell = Arc::new(Shared::named("cell", 0));
    let writer = {
        let cell = cell.clone();
        async move { cell.set(1) }
    };
    if untracked {
        tokio::spawn(writer);
        tracker.spawn(tokio::task::yield_now());
    } else {
        tracker.spawn(writer);
    }
    tracker.close();
    tracker.wait().await;
    let _ = cell.get();
}

#[test]
fn a_tracked_task_exit_happens_before_wait_returns() {
    assert_passes(explore(|| write_then_wait(false)));
}

#[test]
fn an_untracked_task_races_with_what_follows_wait() {
    assert_race_on(explore(|| write_then_wait(true)), "'cell'");
}
