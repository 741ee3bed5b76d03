//! State racecheck cannot see: a complete exhaustive search explores the
//! orders of racecheck's own operations only, so tasks that share state
//! through std types make it incomplete. It checks its first execution for
//! such a dependency and says so, or reports the failure the check finds,
//! and never complains about programs whose tasks share only racecheck's
//! primitives.

use racecheck::sync::{Mutex, Shared};
use racecheck::{Builder, FailureKind, Granularity, Strategy};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

fn exhaustive() -> Builder {
    Builder::new()
        .strategy(Strategy::Exhaustive)
        .iterations(100_000)
}

/// A scheduling point that touches nothing another task sees: the task
/// takes a lock of its own. (A yield would not do: the search orders
/// yields against the other tasks' steps, and finds the bug below itself.)
async fn pause() {
    let own = Mutex::new(());
    drop(own.lock().await);
}

/// A lost update on a std atomic: each task loads, pauses, stores plus one.
async fn std_lost_update() {
    let count = Arc::new(AtomicU32::new(0));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let count = count.clone();
            racecheck::spawn(async move {
                let seen = count.load(Ordering::SeqCst);
                pause().await;
                count.store(seen + 1, Ordering::SeqCst);
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
    assert_eq!(count.load(Ordering::SeqCst), 2, "lost update");
}

#[test]
fn random_search_finds_the_std_lost_update() {
    let report = Builder::new().minimize_failures(false).run(std_lost_update);
    let failure = report.failure.expect("random search interleaves the tasks");
    assert!(failure.to_string().contains("lost update"), "{failure}");
}

#[test]
fn the_exhaustive_search_does_not_call_a_program_it_cannot_see_proved() {
    let report = exhaustive().run(std_lost_update);
    assert!(!report.complete, "{}", report.summary());
    let failure = report
        .failure
        .as_ref()
        .expect("the swapped steps lose the update");
    assert!(
        matches!(&failure.kind, FailureKind::Panic { message, .. } if message.contains("lost update"))
    );
    let dependency = report.hidden_dependency.as_deref().expect("and says why");
    assert!(
        dependency.contains("state racecheck does not see"),
        "{dependency}"
    );
    assert!(
        report.summary().contains("not a proof"),
        "{}",
        report.summary()
    );
    // The failure replays.
    let replayed = Builder::new()
        .strategy(Strategy::Replay(failure.schedule.clone()))
        .run(std_lost_update);
    assert!(replayed.failure.is_some());
}

/// Each task reads whose turn it is from a std cell, pauses, and then
/// stores to the first row if it was its turn and to the second otherwise;
/// then it passes the turn on. Every outcome passes, but which row a task
/// writes depends on a cell racecheck does not see.
async fn std_turns() {
    let turn = Rc::new(RefCell::new(0u32));
    let rows = Rc::new([Shared::named("first", 0), Shared::named("second", 0)]);
    let tasks: Vec<_> = (0..2)
        .map(|me| {
            let (turn, rows) = (turn.clone(), rows.clone());
            racecheck::spawn(async move {
                let mine = *turn.borrow() == me;
                pause().await;
                if mine {
                    rows[0].store(me).await;
                } else {
                    rows[1].store(me).await;
                }
                *turn.borrow_mut() = 1;
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
}

#[test]
fn a_dependency_that_changes_no_outcome_is_still_reported() {
    let report = exhaustive().races(racecheck::Check::Off).run(std_turns);
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(!report.complete);
    let dependency = report.hidden_dependency.expect("the rows written change");
    assert!(dependency.contains("step"), "{dependency}");
}

/// T tasks, each K times: lock, increment, unlock; then join and check.
async fn lock_rounds(tasks: u64, rounds: u64) {
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let counter = counter.clone();
            racecheck::spawn(async move {
                for _ in 0..rounds {
                    *counter.lock().await += 1;
                    racecheck::yield_now().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await;
    }
    assert_eq!(*counter.lock().await, tasks * rounds);
}

/// Tasks that share only racecheck's primitives, and std state that does
/// not change what they do (a counter only the root reads once they are
/// joined, a log of who ran, a per-task cell).
async fn honest(granularity_note: &'static str) {
    let hits = Arc::new(AtomicU32::new(0));
    let row = Arc::new(Shared::named("row", 0));
    let log = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..2)
        .map(|me| {
            let (hits, row, log) = (hits.clone(), row.clone(), log.clone());
            racecheck::spawn(async move {
                racecheck::yield_now().await;
                hits.fetch_add(1, Ordering::SeqCst);
                log.borrow_mut().push(me);
                let seen = row.load().await;
                row.store(seen.max(me)).await;
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2, "{granularity_note}");
    assert_eq!(log.borrow().len(), 2);
}

#[test]
fn programs_that_share_only_racecheck_state_are_still_proved() {
    for (tasks, rounds) in [(2, 2), (3, 1)] {
        let report = exhaustive().run(move || lock_rounds(tasks, rounds));
        assert!(report.complete, "{}", report.summary());
        assert!(report.hidden_dependency.is_none());
    }
    for granularity in [Granularity::Await, Granularity::Step] {
        let report = exhaustive()
            .granularity(granularity)
            .races(racecheck::Check::Off)
            .run(|| honest("every task counted"));
        assert!(report.failure.is_none(), "{:?}", report.failure);
        assert!(report.complete, "{granularity:?}: {}", report.summary());
        assert!(report.hidden_dependency.is_none());
    }
}

/// One operation of a generated task, on racecheck state only (plus a std
/// log of what it saw, which changes nothing it does).
#[derive(Clone, Debug)]
enum Operation {
    /// Lock the mutex, yield while holding it, unlock.
    LockedYield(usize),
    /// Read the value, yield, write it plus one.
    LoadStore(usize),
    /// Read the value, and branch on it: store to the other value if odd.
    Branch(usize),
    Yield,
}

fn operation() -> impl proptest::strategy::Strategy<Value = Operation> {
    use proptest::prelude::*;
    prop_oneof![
        (0..2usize).prop_map(Operation::LockedYield),
        (0..2usize).prop_map(Operation::LoadStore),
        (0..2usize).prop_map(Operation::Branch),
        Just(Operation::Yield),
    ]
}

/// Runs generated tasks over two mutexes and two values.
async fn generated(program: Rc<Vec<Vec<Operation>>>) {
    let mutexes = Rc::new([Mutex::new(()), Mutex::new(())]);
    let values = Rc::new([Shared::new(0u32), Shared::new(0u32)]);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = program
        .iter()
        .cloned()
        .map(|operations| {
            let (mutexes, values, seen) = (mutexes.clone(), values.clone(), seen.clone());
            racecheck::spawn(async move {
                for operation in operations {
                    match operation {
                        Operation::LockedYield(mutex) => {
                            let _guard = mutexes[mutex].lock().await;
                            racecheck::yield_now().await;
                        }
                        Operation::LoadStore(value) => {
                            let read = values[value].load().await;
                            values[value].store(read + 1).await;
                        }
                        Operation::Branch(value) => {
                            let read = values[value].load().await;
                            seen.borrow_mut().push(read);
                            if read % 2 == 1 {
                                values[1 - value].store(read).await;
                            }
                        }
                        Operation::Yield => racecheck::yield_now().await,
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// The probe never finds a hidden dependency in a program whose tasks
    /// share only racecheck's state, at either granularity.
    #[test]
    fn programs_over_racecheck_state_never_trip_the_probe(
        program in proptest::collection::vec(proptest::collection::vec(operation(), 1..4), 2..4),
        step in proptest::prelude::any::<bool>(),
    ) {
        let program = Rc::new(program);
        let granularity = if step { Granularity::Step } else { Granularity::Await };
        let report = exhaustive()
            .iterations(20_000)
            .granularity(granularity)
            .checks(racecheck::Check::Off)
            .run(|| generated(program.clone()));
        proptest::prop_assert!(report.failure.is_none(), "{:?}", report.failure);
        proptest::prop_assert!(report.hidden_dependency.is_none(), "{}", report.summary());
    }
}
