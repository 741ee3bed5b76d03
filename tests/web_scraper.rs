//! The seed's web scraper: scraper tasks read a shared row count, await a
//! fetch, and write the count back. Without a lock, updates are lost in some
//! interleavings; holding a `Mutex` across the read-modify-write fixes it.

use racecheck::sync::{Mutex, Shared};
use racecheck::time::sleep;
use racecheck::{Builder, Check, FailureKind, Finding};
use std::sync::Arc;
use std::time::Duration;

const SCRAPERS: u64 = 4;

/// The 1-based line of this file that contains `needle`.
fn line_of(needle: &str) -> u32 {
    let index = include_str!("web_scraper.rs")
        .lines()
        .position(|line| line.contains(needle) && !line.contains("line_of"))
        .expect("the needle is in this file");
    index as u32 + 1
}

/// One scraper per page; each page holds `page` rows and takes `page` ms.
async fn scrape(lock_across_update: bool) {
    let count = Arc::new(Shared::named("row_count", 0));
    let database = Arc::new(Mutex::named("db", ()));
    let mut scrapers = Vec::new();
    for page in 1..=SCRAPERS {
        let (count, database) = (count.clone(), database.clone());
        scrapers.push(racecheck::spawn_named(
            format!("scraper-{page}"),
            async move {
                let _transaction = if lock_across_update {
                    Some(database.lock().await)
                } else {
                    None
                };
                let before = count.load().await;
                sleep(Duration::from_millis(page)).await;
                count.store(before + page).await;
            },
        ));
    }
    for scraper in scrapers {
        scraper.await;
    }
    let expected: u64 = (1..=SCRAPERS).sum();
    assert_eq!(count.get(), expected, "lost update in the row count");
}

#[test]
fn random_exploration_finds_the_lost_update_within_1000_iterations() {
    // Without the detector: the interleaving itself must break the count.
    let report = Builder::new()
        .races(Check::Off)
        .iterations(1000)
        .run(|| scrape(false));
    let failure = report.failure.expect("the lost update is found");
    assert!(failure.iteration < 1000);
    let FailureKind::Panic {
        ref task_name,
        ref message,
        ..
    } = failure.kind
    else {
        panic!("expected the final assertion to fail, got {}", failure.kind);
    };
    assert_eq!(task_name, "main");
    assert!(
        message.contains("lost update in the row count"),
        "{message}"
    );
    let text = failure.to_string();
    assert!(text.contains("RACECHECK_REPLAY=rc1:"), "{text}");
    assert!(text.contains("write Shared 'row_count'"), "{text}");
    assert!(text.contains("scraper-"), "{text}");
}

#[test]
fn the_race_is_reported_on_the_first_execution_whatever_the_seed() {
    for seed in 0..64 {
        let report = Builder::new()
            .seed(seed)
            .iterations(1)
            .run(|| scrape(false));
        let failure = report.failure.expect("the race is found at once");
        let FailureKind::Finding(Finding::Race(race)) = &failure.kind else {
            panic!("seed {seed}: expected a race, got {}", failure.kind);
        };
        assert_eq!(race.object_label, "Shared 'row_count'");
        let (load, store) = (line_of("count.load().await"), line_of("count.store("));
        let mut lines = [race.first.location.line(), race.second.location.line()];
        lines.sort_unstable();
        assert!(
            lines == [load, store] || lines == [store, store],
            "seed {seed}: {race:?}"
        );
        let text = failure.to_string();
        assert!(text.contains("tests/web_scraper.rs"), "{text}");
        assert!(text.contains("timers create no order"), "{text}");
    }
}

#[test]
fn the_lost_update_replays_from_its_schedule() {
    let report = Builder::new().iterations(1000).run(|| scrape(false));
    let failure = report.failure.expect("the lost update is found");
    let replayed = Builder::new()
        .strategy(racecheck::Strategy::Replay(failure.schedule.clone()))
        .run(|| scrape(false));
    let again = replayed.failure.expect("the replay fails the same way");
    assert_eq!(again.kind, failure.kind);
    assert_eq!(again.trace, failure.trace);
    assert_eq!(again.schedule, failure.schedule);
}

#[test]
fn holding_the_mutex_across_the_update_passes_10000_iterations() {
    let report = Builder::new().iterations(10_000).run(|| scrape(true));
    if let Some(failure) = report.failure {
        panic!("{failure}");
    }
    assert_eq!(report.executions, 10_000);
}
