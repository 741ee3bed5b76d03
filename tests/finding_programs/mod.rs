//! Small programs with one finding each, and the failure racecheck reports
//! for them: shared by the tests of the pictures (`pictures.rs`) and of the
//! HTML report (`html_report.rs`).

use racecheck::sync::{Event, Mutex, Shared};
use racecheck::{Builder, Check, Failure, FailureKind, Finding};
use std::sync::Arc;

/// The README's scrapers (read, fetch, write back), the first one named
/// `first_name`: a race, in the first execution, where nothing else fails.
pub fn race(first_name: &'static str) -> Failure {
    let report = Builder::new().iterations(1).run(move || async move {
        let rows = Arc::new(Shared::named("rows", 0));
        let scrapers: Vec<_> = (1..=3)
            .map(|page| {
                let rows = rows.clone();
                let name = match page {
                    1 => first_name.to_string(),
                    _ => format!("scraper-{page}"),
                };
                racecheck::spawn_named(name, async move {
                    let count = rows.load().await;
                    racecheck::yield_now().await;
                    rows.store(count + 10).await;
                })
            })
            .collect();
        for scraper in scrapers {
            scraper.await;
        }
    });
    report.failure.expect("a race")
}

/// A writer task and the root write `rows`: a race; with `check`, the root
/// then asserts a value no schedule gives, so the execution misbehaves.
pub fn two_writers(check: bool) -> Failure {
    let report = Builder::new().iterations(1).run(move || async move {
        let rows = Arc::new(Shared::named("rows", 0));
        let writer = {
            let rows = rows.clone();
            racecheck::spawn_named("writer", async move { rows.store(1).await })
        };
        rows.store(2).await;
        writer.await;
        assert!(!check || rows.get() == 3, "a check that always fails");
    });
    report.failure.expect("a race")
}

/// Five philosophers each take their left fork, then their right: the
/// deadlock where all five hold their left fork.
pub fn deadlock() -> Failure {
    let report = Builder::new().iterations(2000).run(|| async {
        let forks: Vec<Arc<Mutex<()>>> = (0..5)
            .map(|fork| Arc::new(Mutex::named(format!("fork-{fork}"), ())))
            .collect();
        let diners: Vec<_> = (0..5)
            .map(|seat| {
                let (left, right) = (forks[seat].clone(), forks[(seat + 1) % 5].clone());
                racecheck::spawn_named(format!("philosopher-{seat}"), async move {
                    let _left = left.lock().await;
                    let _right = right.lock().await;
                })
            })
            .collect();
        for diner in diners {
            diner.await;
        }
    });
    let failure = report.failure.expect("a deadlock");
    assert!(
        matches!(failure.kind, FailureKind::Finding(Finding::Deadlock(_))),
        "{failure}"
    );
    failure
}

/// A producer sets an `Event` twice; the consumer waits and clears it
/// twice. When the second set lands before the first clear, the consumer
/// waits for good: a lost wakeup, a hang.
pub fn lost_wakeup() -> Failure {
    let report = Builder::new().iterations(500).run(|| async {
        let ready = Arc::new(Event::named("ready"));
        let producer = {
            let ready = ready.clone();
            racecheck::spawn_named("producer", async move {
                ready.set();
                racecheck::yield_now().await;
                ready.set();
            })
        };
        let consumer = {
            let ready = ready.clone();
            racecheck::spawn_named("consumer", async move {
                for _ in 0..2 {
                    ready.wait().await;
                    ready.clear();
                }
            })
        };
        producer.await;
        consumer.await;
    });
    let failure = report.failure.expect("a hang");
    assert!(
        matches!(failure.kind, FailureKind::Finding(Finding::Hang(_))),
        "{failure}"
    );
    failure
}

/// A guard of `Mutex 'db'` forgotten: a leak, with leaks failing.
pub fn leak() -> Failure {
    let report = Builder::new()
        .leaks(Check::Fail)
        .iterations(1)
        .run(|| async {
            let lock = Arc::new(Mutex::named("db", ()));
            std::mem::forget(lock.lock().await);
        });
    report.failure.expect("a leak")
}
