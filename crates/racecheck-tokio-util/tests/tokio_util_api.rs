//! tokio-util's `CancellationToken` and `TaskTracker` as services use them,
//! written in plain tokio: without the `racecheck` feature these run on
//! real tokio-util, with it on racecheck (each `#[tokio::test]` an
//! exploration). The same assertions must hold on both.

use racecheck_tokio as tokio;
use racecheck_tokio_util as tokio_util;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[tokio::test]
async fn cancel_wakes_every_waiter_of_the_token_and_its_children() {
    let shutdown = CancellationToken::new();
    let waiters: Vec<_> = (0..3)
        .map(|index| {
            let token = if index == 0 {
                shutdown.clone()
            } else {
                shutdown.child_token()
            };
            tokio::spawn(async move { token.cancelled().await })
        })
        .collect();
    shutdown.cancel();
    for waiter in waiters {
        waiter.await.unwrap();
    }
}

#[tokio::test]
async fn cancelling_a_child_leaves_its_parent_and_siblings_alone() {
    let parent = CancellationToken::new();
    let (first, second) = (parent.child_token(), parent.child_token());
    let grandchild = first.child_token();
    first.cancel();
    assert!(first.is_cancelled() && grandchild.is_cancelled());
    assert!(!parent.is_cancelled() && !second.is_cancelled());
    parent.cancel();
    assert!(second.is_cancelled());
    assert!(parent.child_token().is_cancelled(), "born cancelled");
}

#[tokio::test]
async fn guards_cancel_when_dropped_unless_disarmed() {
    let token = CancellationToken::new();
    let kept = token.clone().drop_guard().disarm();
    assert!(!kept.is_cancelled());
    {
        let _guard = token.drop_guard_ref();
    }
    assert!(token.is_cancelled());
}

#[tokio::test]
async fn run_until_cancelled_stops_a_future_that_never_ends() {
    let token = CancellationToken::new();
    let runner = {
        let token = token.clone();
        tokio::spawn(async move {
            token
                .run_until_cancelled(std::future::pending::<()>())
                .await
        })
    };
    token.cancel();
    assert_eq!(runner.await.unwrap(), None);
    assert_eq!(token.run_until_cancelled(async { 3 }).await, None);
}

#[tokio::test]
async fn tracker_waits_for_every_task_once_closed() {
    let tracker = TaskTracker::new();
    let finished = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let finished = finished.clone();
        tracker.spawn(async move {
            tokio::task::yield_now().await;
            finished.fetch_add(1, Ordering::SeqCst);
        });
    }
    assert_eq!(tracker.len(), 3);
    assert!(tracker.close());
    assert!(tracker.is_closed() && !tracker.close());
    tracker.wait().await;
    assert_eq!(finished.load(Ordering::SeqCst), 3);
    assert!(tracker.is_empty());
}

#[tokio::test]
async fn an_open_tracker_is_not_done_when_empty() {
    let tracker = TaskTracker::new();
    let token = tracker.token();
    let closer = {
        let tracker = tracker.clone();
        tokio::spawn(async move {
            drop(token);
            tracker.close();
        })
    };
    tracker.wait().await;
    assert!(tracker.is_closed());
    closer.await.unwrap();
}

#[tokio::test]
async fn a_worker_pool_shuts_down_through_token_and_tracker() {
    let (shutdown, tracker) = (CancellationToken::new(), TaskTracker::new());
    let served = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        let (shutdown, served) = (shutdown.clone(), served.clone());
        tracker.spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::task::yield_now() => {
                        served.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        });
    }
    tokio::task::yield_now().await;
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
    assert!(tracker.is_empty());
}
