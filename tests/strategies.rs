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
fn pct_lets_a_yielding_spin_loop_wait_for_the_others() {
    // Under strict priorities the spinner, once ahead, would spin forever.
    let report = pct(1).iterations(300).max_steps(1_000).run(|| async {
        let ready = Rc::new(std::cell::Cell::new(false));
        let spinner = {
            let ready = ready.clone();
            racecheck::spawn(async move {
                while !ready.get() {
                    racecheck::yield_now().await;
                }
            })
        };
        let setter = {
            let ready = ready.clone();
            racecheck::spawn(async move { ready.set(true) })
        };
        spinner.await;
        setter.await;
    });
    if let Some(failure) = report.failure {
        panic!("{failure}");
    }
}

#[test]
fn pct_of_depth_one_never_preempts_a_running_task() {
    let report = pct(1).iterations(300).run(|| async {
        let order = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..3)
            .map(|task| {
                let order = order.clone();
                racecheck::spawn(async move {
                    // A scheduling point that is not an explicit yield.
                    let mine = racecheck::sync::Shared::new(0);
                    for _ in 0..4 {
                        order.borrow_mut().push(task);
                        mine.load().await;
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

/// The lost update between two tasks, next to three tasks that only yield:
/// random schedules switch often, the bug needs one preemption.
async fn lost_update_among_noise() {
    for noise in 0..3 {
        racecheck::spawn_named(format!("noise-{noise}"), async {
            for _ in 0..6 {
                racecheck::yield_now().await;
            }
        });
    }
    lost_update().await;
}

#[test]
fn a_failure_with_many_preemptions_is_minimised_to_one() {
    let builder = Builder::new()
        .races(Check::Off)
        .minimize_failures(false)
        .iterations(1000);
    let mut checked = 0;
    for seed in 0..20 {
        let builder = builder.clone().seed(seed);
        let Some(failure) = builder.run(lost_update_among_noise).failure else {
            continue;
        };
        let minimized = builder.minimize(&failure, 2_000, lost_update_among_noise);
        if minimized.preemptions_before < 5 {
            continue;
        }
        checked += 1;
        assert_eq!(minimized.preemptions_after, 1, "seed {seed}");
        let FailureKind::Panic { message, .. } = &minimized.failure.kind else {
            panic!("expected the same panic, got {}", minimized.failure.kind);
        };
        assert!(message.contains("lost update"));
        // The minimised schedule replays to the same failure.
        let replayed = Builder::new()
            .races(Check::Off)
            .strategy(Strategy::Replay(minimized.failure.schedule.clone()))
            .run(lost_update_among_noise);
        assert_eq!(replayed.failure.unwrap().trace, minimized.failure.trace);
        // By default, the report is the minimised failure already.
        let automatic = Builder::new()
            .races(Check::Off)
            .iterations(1000)
            .seed(seed)
            .run(lost_update_among_noise)
            .failure
            .unwrap();
        assert_eq!(automatic.minimized, Some((minimized.preemptions_before, 1)));
        assert!(automatic.to_string().contains("schedule minimised from"));
    }
    assert!(
        checked >= 3,
        "only {checked} seeds had 5 or more preemptions"
    );
}

/// Two tasks that each spin, yielding, until the other sets a flag it
/// never sets: a livelock that hits the step limit with a switch at
/// almost every step.
async fn spinning_pair() {
    let flags = Arc::new([Shared::named("left", false), Shared::named("right", false)]);
    let spinners: Vec<_> = (0..2)
        .map(|side| {
            let flags = flags.clone();
            racecheck::spawn(async move {
                while !flags[1 - side].load().await {
                    racecheck::yield_now().await;
                }
            })
        })
        .collect();
    for spinner in spinners {
        spinner.await;
    }
}

#[test]
fn a_livelock_is_minimised_within_the_step_budget() {
    let builder = Builder::new().races(Check::Off).minimize_failures(false);
    let failure = builder.run(spinning_pair).failure.expect("the livelock");
    assert!(
        matches!(failure.kind, FailureKind::StepLimit { .. }),
        "{}",
        failure.kind
    );
    assert!(failure.schedule.context_switches() > 10_000);
    let minimized = builder.minimize(&failure, racecheck::MINIMIZE_BUDGET, spinning_pair);
    // Every candidate runs into the step limit (100,000 steps): the step
    // budget stops the search after about twenty of them, not a thousand.
    let steps_max = u64::from(racecheck::sched::Config::STEPS_MAX_DEFAULT);
    assert!(
        minimized.executions <= racecheck::sched::MINIMIZE_STEPS_MAX / steps_max + 2,
        "{} candidates",
        minimized.executions
    );
    assert!(matches!(
        minimized.failure.kind,
        FailureKind::StepLimit { .. }
    ));
}
