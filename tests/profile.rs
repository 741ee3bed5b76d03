//! The contention profile through the public API: `Builder::profile`,
//! `Report::contention`, and the what-if re-simulation of
//! `Builder::instant_section`.

use racecheck::sync::{mpsc, Mutex, Semaphore};
use racecheck::time::sleep;
use racecheck::{Builder, Contention, Report};
use std::sync::Arc;
use std::time::Duration;

const SCRAPERS: u64 = 3;

/// Scrapers that fetch a page (10 ms), write it to the database (1 ms)
/// and log it (2 ms); with `lock_across_fetch` they take the database lock
/// before the fetch, otherwise only around the write.
async fn scrape(lock_across_fetch: bool) {
    let database = Arc::new(Mutex::named("db", 0u64));
    let mut scrapers = Vec::new();
    for _ in 0..SCRAPERS {
        let database = database.clone();
        scrapers.push(racecheck::spawn(async move {
            if lock_across_fetch {
                let mut rows = database.lock().await;
                sleep(Duration::from_millis(10)).await;
                sleep(Duration::from_millis(1)).await;
                *rows += 10;
            } else {
                sleep(Duration::from_millis(10)).await;
                let mut rows = database.lock().await;
                sleep(Duration::from_millis(1)).await;
                *rows += 10;
            }
            sleep(Duration::from_millis(2)).await;
        }));
    }
    for scraper in scrapers {
        scraper.await;
    }
    assert_eq!(*database.lock().await, 10 * SCRAPERS);
}

fn profiled(builder: Builder, lock_across_fetch: bool) -> Report {
    builder
        .profile(true)
        .iterations(100)
        .run(move || scrape(lock_across_fetch))
}

fn contention(report: &Report) -> &Contention {
    assert!(report.failure.is_none(), "{:?}", report.failure);
    report.contention().expect("profiling was on")
}

#[test]
fn holding_the_lock_only_around_the_write_waits_less() {
    let slow = profiled(Builder::new(), true);
    let fixed = profiled(Builder::new(), false);
    let (slow_row, fixed_row) = (&contention(&slow).rows()[0], &contention(&fixed).rows()[0]);
    assert_eq!(slow_row.object, "Mutex 'db'");
    assert_eq!(slow_row.acquisitions, 100 * (SCRAPERS + 1));
    // Across the fetch: the second scraper waits 11 ms, the third 22 ms.
    assert_eq!(slow_row.wait_total.ns, 100 * 33_000_000);
    assert_eq!(slow_row.wait_max.ns, 22_000_000);
    // Around the write: 1 ms and 2 ms.
    assert_eq!(fixed_row.wait_total.ns, 100 * 3_000_000);
    assert_eq!(fixed_row.wait_max.ns, 2_000_000);
    assert_eq!(contention(&slow).mean_virtual_ns(), 35e6);
    assert_eq!(contention(&fixed).mean_virtual_ns(), 15e6);
}

#[test]
fn the_what_if_predicts_the_re_simulated_drop() {
    for lock_across_fetch in [true, false] {
        let before = profiled(Builder::new(), lock_across_fetch);
        let profile = contention(&before);
        let section = profile.sections()[0].clone();
        assert!(
            section.site.contains("tests/profile.rs"),
            "{}",
            section.site
        );
        let after = profiled(
            Builder::new().instant_section(section.location),
            lock_across_fetch,
        );
        let what_if = profile.what_if(section.location, contention(&after));
        // 33 of 35 ms, then 3 of 15 ms, are spent in the section on the
        // critical path.
        let expected = if lock_across_fetch {
            100.0 * 33.0 / 35.0
        } else {
            20.0
        };
        assert!(
            (what_if.predicted_drop_percent - expected).abs() < 1e-9,
            "{what_if:?}"
        );
        assert!(what_if.error_percent() < 5.0, "{what_if:?}");
    }
}

#[test]
fn a_section_elsewhere_changes_nothing() {
    let before = profiled(Builder::new(), true);
    let elsewhere = racecheck::Location::from_parts("tests/profile.rs", 1, 1);
    let after = profiled(Builder::new().instant_section(elsewhere), true);
    let what_if = contention(&before).what_if(elsewhere, contention(&after));
    assert_eq!(
        (
            what_if.predicted_drop_percent,
            what_if.measured_drop_percent
        ),
        (0.0, 0.0)
    );
}

#[test]
fn semaphores_and_channels_have_rows() {
    let report = Builder::new().profile(true).iterations(50).run(|| async {
        let permits = Arc::new(Semaphore::named("pool", 1));
        let (sender, mut receiver) = mpsc::channel::<u32>(1);
        let mut workers = Vec::new();
        for worker in 0..2 {
            let (permits, sender) = (permits.clone(), sender.clone());
            workers.push(racecheck::spawn(async move {
                let _permit = permits.acquire().await.expect("never closed");
                sleep(Duration::from_millis(5)).await;
                sender.send(worker).await.expect("the receiver lives");
            }));
        }
        drop(sender);
        while receiver.recv().await.is_some() {}
        for worker in workers {
            worker.await;
        }
    });
    let rows = contention(&report).rows();
    let pool = rows
        .iter()
        .find(|row| row.object == "Semaphore 'pool'")
        .expect("a row for the semaphore");
    assert_eq!((pool.acquisitions, pool.contended), (100, 50));
    assert_eq!(pool.wait_max.ns, 5_000_000);
    let channel = rows
        .iter()
        .find(|row| row.kind == "mpsc")
        .expect("a row for the channel");
    assert_eq!(channel.acquisitions, 50 * 4, "two sends, two receives");
}

#[test]
fn profiles_are_deterministic_and_off_by_default() {
    let first = profiled(Builder::new().seed(3), true);
    let second = profiled(Builder::new().seed(3), true);
    assert_eq!(contention(&first), contention(&second));
    assert_eq!(
        serde_json::to_string(&contention(&first).rows()).unwrap(),
        serde_json::to_string(&contention(&second).rows()).unwrap()
    );
    let plain = Builder::new().iterations(10).run(|| scrape(true));
    assert!(plain.contention().is_none());
}

#[test]
fn parallel_explorations_profile_like_sequential_ones() {
    let sequential = profiled(Builder::new(), false);
    let parallel = Builder::new()
        .profile(true)
        .iterations(100)
        .jobs(2)
        .run_parallel(|| scrape(false));
    assert_eq!(contention(&sequential), contention(&parallel));
}
