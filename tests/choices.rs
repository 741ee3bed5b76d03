//! Choices the modelled APIs leave open are scheduling choices racecheck
//! explores: which waiter std's `Condvar::notify_one` wakes.

use racecheck::sync::{blocking, Condition, Mutex};
use racecheck::{thread, Builder, FailureKind, Finding, Strategy};
use std::sync::Arc;

fn exhaustive() -> Builder {
    Builder::new()
        .strategy(Strategy::Exhaustive)
        .iterations(100_000)
}

/// Who may go on: the first waiter, the second, and whether the second has
/// started waiting.
#[derive(Default)]
struct Flags {
    first_ready: bool,
    second_ready: bool,
    second_waiting: bool,
}

type Shared = (blocking::Mutex<Flags>, blocking::Condvar, blocking::Condvar);

/// Two threads wait on one condition variable for different conditions,
/// the first before the second. The main thread makes the first one's
/// condition true and calls `notify_one` (the bug: it should notify all).
/// std may wake either waiter; if it wakes the second, that one waits
/// again, the first is never woken, and joining it hangs. Waking the
/// longest waiter first never shows it.
fn notify_one_for_two_conditions() {
    two_conditions_notified(false);
}

/// [`notify_one_for_two_conditions`], or with the bug fixed.
fn two_conditions_notified(all: bool) {
    let shared: Arc<Shared> = Arc::new((
        blocking::Mutex::new(Flags::default()),
        blocking::Condvar::new(),
        blocking::Condvar::new(),
    ));
    let first = {
        let shared = shared.clone();
        thread::spawn(move || {
            let (flags, changed, _) = &*shared;
            let guard = flags.lock().unwrap();
            // The second waiter needs the lock: it waits after this one.
            let second = {
                let shared = shared.clone();
                thread::spawn(move || {
                    let (flags, changed, second_waits) = &*shared;
                    let mut guard = flags.lock().unwrap();
                    guard.second_waiting = true;
                    second_waits.notify_one();
                    drop(changed.wait_while(guard, |flags| !flags.second_ready));
                })
            };
            drop(changed.wait_while(guard, |flags| !flags.first_ready));
            second
        })
    };
    let (flags, changed, second_waits) = &*shared;
    let waiting = flags.lock().unwrap();
    let mut guard = second_waits
        .wait_while(waiting, |flags| !flags.second_waiting)
        .unwrap();
    guard.first_ready = true;
    if all {
        changed.notify_all();
    } else {
        changed.notify_one();
    }
    drop(guard);
    let second = first.join().unwrap();
    flags.lock().unwrap().second_ready = true;
    changed.notify_all();
    second.join().unwrap();
}

fn is_stuck(kind: &FailureKind) -> bool {
    matches!(
        kind,
        FailureKind::Finding(Finding::Deadlock(_) | Finding::Hang(_))
    )
}

#[test]
fn the_exhaustive_search_wakes_a_waiter_other_than_the_longest() {
    let report = exhaustive().run(|| thread::main(notify_one_for_two_conditions));
    let failure = report
        .failure
        .expect("some schedule wakes the second waiter");
    assert!(is_stuck(&failure.kind), "{failure}");
    // Replaying the schedule wakes the same waiter.
    let replayed = Builder::new()
        .strategy(Strategy::Replay(failure.schedule.clone()))
        .run(|| thread::main(notify_one_for_two_conditions));
    let again = replayed.failure.expect("the replay fails the same way");
    assert!(is_stuck(&again.kind), "{again}");
    assert_eq!(again.schedule, failure.schedule);
}

#[test]
fn with_notify_all_every_schedule_passes() {
    let report = exhaustive().run(|| thread::main(|| two_conditions_notified(true)));
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(report.complete);
}

#[test]
fn random_and_pct_searches_wake_either_waiter_too() {
    for strategy in [Strategy::Random, Strategy::Pct { depth: 2 }] {
        let report = Builder::new()
            .strategy(strategy.clone())
            .iterations(2000)
            .run(|| thread::main(notify_one_for_two_conditions));
        let failure = report
            .failure
            .unwrap_or_else(|| panic!("{strategy:?} wakes the second waiter"));
        assert!(is_stuck(&failure.kind), "{failure}");
    }
}

/// The same program with the async `Condition`, which wakes the longest
/// waiter first as asyncio's does: no schedule hangs. (The second waiter is
/// left to finish after the root.)
async fn notify_one_for_two_conditions_in_order() {
    let flags = Arc::new(Mutex::new(Flags::default()));
    let changed = Arc::new(Condition::new());
    let second_waits = Arc::new(Condition::new());
    let first = {
        let (flags, changed, second_waits) = (flags.clone(), changed.clone(), second_waits.clone());
        racecheck::spawn(async move {
            let guard = flags.lock().await;
            {
                let (flags, changed, second_waits) =
                    (flags.clone(), changed.clone(), second_waits.clone());
                racecheck::spawn(async move {
                    let mut guard = flags.lock().await;
                    guard.second_waiting = true;
                    second_waits.notify_one();
                    drop(changed.wait_while(guard, |flags| !flags.second_ready).await);
                });
            }
            drop(changed.wait_while(guard, |flags| !flags.first_ready).await);
        })
    };
    let waiting = flags.lock().await;
    let mut guard = second_waits
        .wait_while(waiting, |flags| !flags.second_waiting)
        .await;
    guard.first_ready = true;
    changed.notify_one();
    drop(guard);
    first.await;
    flags.lock().await.second_ready = true;
    changed.notify_all();
}

#[test]
fn the_async_condition_keeps_waking_the_longest_waiter_first() {
    let report = exhaustive().run(notify_one_for_two_conditions_in_order);
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(report.complete);
}

/// One waiter, notified once: whichever way, it wakes; the extra choice
/// costs nothing when there is nobody else to wake.
#[test]
fn a_single_waiter_is_always_the_one_woken() {
    let report = exhaustive().run(|| {
        thread::main(|| {
            let shared = Arc::new((blocking::Mutex::new(false), blocking::Condvar::new()));
            let waiter = {
                let shared = shared.clone();
                thread::spawn(move || {
                    let (ready, changed) = &*shared;
                    drop(changed.wait_while(ready.lock().unwrap(), |ready| !*ready));
                })
            };
            let (ready, changed) = &*shared;
            *ready.lock().unwrap() = true;
            changed.notify_one();
            waiter.join().unwrap();
        })
    });
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(report.complete);
}
