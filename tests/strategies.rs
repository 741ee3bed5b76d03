//! Strategies beyond random: PCT finds bugs that need few ordering
//! constraints, deterministically and replayably.

use racecheck::sync::Shared;
use racecheck::{Builder, Check, FailureKind, Strategy};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// Two tasks each read a counter, yield, and write it back plus one: the
/// update is lost only if one task is preempted between its read and its
/// write (a bug of depth 2).
async fn lost_update() {
    let count = Arc::new(Shared::named("count", 0));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let count = count.clone();
            racecheck::spawn(async move {
                let seen = count.load().await;
                racecheck::yield_now().await;
                count.store(seen + 1).await;
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
    assert_eq!(count.get(), 2, "lost update");
}

fn pct(depth: u32) -> Builder {
    // The search is for the assertion; the race detector would flag the
    // unsynchronised accesses on the first execution.
    Builder::new()
        .strategy(Strategy::Pct { depth })
        .races(Check::Off)
}

#[test]
fn pct_of_depth_two_finds_a_bug_that_needs_one_preemption() {
    let report = pct(2).iterations(1000).run(lost_update);
    let failure = report.failure.expect("PCT depth 2 finds the lost update");
    assert!(
        matches!(&failure.kind, FailureKind::Panic { message, .. } if message.contains("lost update")),
        "{}",
        failure.kind
    );
    assert!(failure.to_string().contains("strategy pct"));
}

#[test]
fn pct_of_depth_one_never_preempts_a_running_task() {
    let report = pct(1).iterations(300).run(|| async {
        let order = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..3)
            .map(|task| {
                let order = order.clone();
                racecheck::spawn(async move {
                    for _ in 0..4 {
                        order.borrow_mut().push(task);
                        racecheck::yield_now().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        let order = order.borrow();
        let switches = order.windows(2).filter(|pair| pair[0] != pair[1]).count();
        assert_eq!(
            switches, 2,
            "each task ran to its end once started: {order:?}"
        );
    });
    if let Some(failure) = report.failure {
        panic!("{failure}");
    }
}

#[test]
fn pct_is_deterministic_and_its_failures_replay() {
    let first = pct(3).seed(9).iterations(1000).run(lost_update);
    let second = pct(3).seed(9).iterations(1000).run(lost_update);
    let (first, second) = (first.failure.unwrap(), second.failure.unwrap());
    assert_eq!(first.iteration, second.iteration);
    assert_eq!(first.schedule, second.schedule);
    let replayed = Builder::new()
        .races(Check::Off)
        .strategy(Strategy::Replay(first.schedule.clone()))
        .run(lost_update);
    assert_eq!(replayed.failure.unwrap().trace, first.trace);
}
