//! The web scraper: several scraper tasks fetch a page each, then add the
//! rows they found to a shared row count in a "database". Each reads the
//! count, awaits the fetch, and writes back `count + rows`: a lost update
//! whenever two scrapers interleave across the await.
//!
//! `cargo run -p racecheck --example web_scraper` explores the buggy version,
//! prints racecheck's report with its replay string, then shows that the
//! version holding a `Mutex` across the read-modify-write passes.

use racecheck::sync::{Mutex, Shared};
use racecheck::time::sleep;
use std::sync::Arc;
use std::time::Duration;

const SCRAPERS: u64 = 3;
const ROWS_PER_PAGE: u64 = 10;

/// Fetches a page: some virtual milliseconds of network time.
async fn fetch(page: u64) -> u64 {
    sleep(Duration::from_millis(10 * page)).await;
    ROWS_PER_PAGE
}

async fn scrape_without_lock() {
    let database = Arc::new(Shared::named("rows", 0));
    let scrapers: Vec<_> = (1..=SCRAPERS)
        .map(|page| {
            let database = database.clone();
            racecheck::spawn_named(format!("scraper-{page}"), async move {
                let count = database.load().await;
                let rows = fetch(page).await;
                database.store(count + rows).await;
            })
        })
        .collect();
    for scraper in scrapers {
        scraper.await;
    }
    assert_eq!(database.get(), SCRAPERS * ROWS_PER_PAGE, "rows were lost");
}

async fn scrape_with_lock() {
    let database = Arc::new(Mutex::named("db", 0));
    let scrapers: Vec<_> = (1..=SCRAPERS)
        .map(|page| {
            let database = database.clone();
            racecheck::spawn_named(format!("scraper-{page}"), async move {
                let mut count = database.lock().await;
                let rows = fetch(page).await;
                *count += rows;
            })
        })
        .collect();
    for scraper in scrapers {
        scraper.await;
    }
    assert_eq!(*database.lock().await, SCRAPERS * ROWS_PER_PAGE);
}

fn main() {
    println!("== exploring the scraper without a lock ==");
    let report = racecheck::Builder::new().run(scrape_without_lock);
    match &report.failure {
        Some(failure) => println!("{failure}"),
        None => println!("no failure in {} executions", report.executions),
    }

    println!();
    println!("== exploring the scraper holding a Mutex across the update ==");
    let report = racecheck::Builder::new()
        .iterations(10_000)
        .run(scrape_with_lock);
    match &report.failure {
        Some(failure) => println!("{failure}"),
        None => println!("no failure in {} executions", report.executions),
    }
}
