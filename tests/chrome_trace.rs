//! Failures as Chrome traces (`Failure::chrome_trace`): the JSON that
//! Perfetto's UI opens, checked event by event.

use racecheck::sync::{Event, Mutex, Semaphore, Shared};
use racecheck::{Builder, Failure, FailureKind, Finding};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn events_of(failure: &Failure) -> Vec<Value> {
    let trace: Value = serde_json::from_str(&failure.chrome_trace()).expect("valid JSON");
    trace["traceEvents"]
        .as_array()
        .expect("traceEvents")
        .clone()
}

fn with_phase<'a>(events: &'a [Value], phase: &str) -> Vec<&'a Value> {
    events.iter().filter(|event| event["ph"] == phase).collect()
}

/// Checks what every trace must satisfy: a named track per task, steps
/// that never go back or overlap on a track, every flow and every async
/// slice closed.
fn check_structure(failure: &Failure, events: &[Value]) {
    let named: BTreeSet<u64> = with_phase(events, "M")
        .iter()
        .filter(|event| event["name"] == "thread_name")
        .map(|event| event["tid"].as_u64().unwrap())
        .collect();
    assert_eq!(named.len(), failure.trace.tasks.len(), "a track per task");
    let mut steps: BTreeMap<u64, Vec<(f64, f64)>> = BTreeMap::new();
    for slice in with_phase(events, "X") {
        assert!(named.contains(&slice["tid"].as_u64().unwrap()), "{slice}");
        assert!(slice["dur"].as_f64().unwrap() >= 0.0, "{slice}");
        if slice["cat"] == "run" {
            let (start, width) = (
                slice["ts"].as_f64().unwrap(),
                slice["dur"].as_f64().unwrap(),
            );
            steps
                .entry(slice["tid"].as_u64().unwrap())
                .or_default()
                .push((start, width));
        }
    }
    for (tid, slices) in &steps {
        for pair in slices.windows(2) {
            assert!(pair[0].0 + pair[0].1 <= pair[1].0, "track {tid}: {pair:?}");
        }
    }
    let ids = |phase| -> BTreeSet<(String, u64)> {
        with_phase(events, phase)
            .iter()
            .map(|event| (event["cat"].to_string(), event["id"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(ids("s"), ids("f"), "every flow starts and ends");
    assert_eq!(ids("b"), ids("e"), "every hold begins and ends");
}

fn findings(events: &[Value]) -> Vec<&Value> {
    with_phase(events, "i")
        .into_iter()
        .filter(|event| event["cat"] == "finding")
        .collect()
}

#[test]
fn a_race_marks_both_accesses_and_draws_the_spawns_that_order_them() {
    let failure = Builder::new()
        .iterations(1)
        .run(|| async {
            let rows = Arc::new(Shared::named("rows", 0));
            let writers: Vec<_> = (0..2)
                .map(|_| {
                    let rows = rows.clone();
                    racecheck::spawn(async move { rows.store(1).await })
                })
                .collect();
            for writer in writers {
                writer.await;
            }
        })
        .failure
        .expect("the race");
    let FailureKind::Finding(Finding::Race(race)) = &failure.kind else {
        panic!("expected a race, got {}", failure.kind);
    };
    let events = events_of(&failure);
    check_structure(&failure, &events);
    let marked: BTreeSet<u64> = findings(&events)
        .iter()
        .map(|event| event["tid"].as_u64().unwrap())
        .collect();
    let racing: BTreeSet<u64> = [race.first.task.0, race.second.task.0]
        .into_iter()
        .map(|task| u64::from(task) + 1)
        .collect();
    assert_eq!(marked, racing, "both accesses, on their tasks' tracks");
    // Main spawned both writers: those edges order each access after main's
    // start, and are drawn.
    let flows = with_phase(&events, "s");
    assert!(flows.len() >= 2, "{flows:?}");
    assert!(
        flows.iter().all(|flow| flow["tid"] == 1),
        "from main's track"
    );
}

#[test]
fn a_deadlock_marks_the_cycle_and_shows_who_holds_what() {
    let report = Builder::new().iterations(1000).run(|| async {
        let (a, b) = (
            Arc::new(Mutex::named("a", ())),
            Arc::new(Mutex::named("b", ())),
        );
        let forward = {
            let (a, b) = (a.clone(), b.clone());
            racecheck::spawn(async move {
                let _a = a.lock().await;
                let _b = b.lock().await;
            })
        };
        let _b = b.lock().await;
        let _a = a.lock().await;
        drop((_a, _b));
        forward.await;
    });
    let failure = report.failure.expect("a deadlocking schedule");
    let FailureKind::Finding(Finding::Deadlock(deadlock)) = &failure.kind else {
        panic!("expected a deadlock, got {}", failure.kind);
    };
    let events = events_of(&failure);
    check_structure(&failure, &events);
    assert_eq!(findings(&events).len(), deadlock.cycle.len());
    let waits: Vec<String> = with_phase(&events, "X")
        .iter()
        .filter(|slice| slice["cat"] == "wait")
        .map(|slice| slice["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        waits.contains(&"waits on Mutex 'a'".to_string()),
        "{waits:?}"
    );
    assert!(
        waits.contains(&"waits on Mutex 'b'".to_string()),
        "{waits:?}"
    );
    let holds = with_phase(&events, "b");
    assert!(holds.iter().any(|hold| hold["name"] == "holds Mutex 'a'"));
    let counters = with_phase(&events, "C");
    assert!(counters
        .iter()
        .any(|counter| counter["args"]["waiting"] == 1));
}

#[test]
fn a_hang_marks_the_waiting_task() {
    let failure = Builder::new()
        .iterations(300)
        .run(|| async {
            let ready = Arc::new(Event::named("ready"));
            let waiter = {
                let ready = ready.clone();
                racecheck::spawn_named("consumer", async move { ready.wait().await })
            };
            ready.set();
            ready.clear();
            waiter.await;
        })
        .failure
        .expect("the lost wakeup");
    let events = events_of(&failure);
    check_structure(&failure, &events);
    assert!(!findings(&events).is_empty());
}

#[test]
fn a_semaphore_counts_its_permits_held() {
    let failure = Builder::new()
        .iterations(1)
        .run(|| async {
            let pool = Semaphore::named("pool", 2);
            let first = pool.acquire().await.expect("open");
            let second = pool.acquire().await.expect("open");
            drop(first);
            drop(second);
            panic!("after the permits");
        })
        .failure
        .expect("the panic");
    let events = events_of(&failure);
    check_structure(&failure, &events);
    let held: Vec<u64> = with_phase(&events, "C")
        .iter()
        .filter(|counter| counter["name"] == "permits held: Semaphore 'pool'")
        .map(|counter| counter["args"]["held"].as_u64().expect("a count"))
        .collect();
    assert_eq!(held, [1, 2, 1, 0]);
}
