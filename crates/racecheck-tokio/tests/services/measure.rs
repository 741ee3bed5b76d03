//! The figures of `docs/tokio.md`: how many executions racecheck needs to
//! find each service's bug (over 100 seeds), whether its replay line
//! reproduces it (100 out of 100), and 10,000 executions of each fixed
//! version. Too slow for every `cargo test`:
//! `cargo test --release -p racecheck-tokio --features racecheck --test services measure -- --ignored --nocapture`.
#![cfg(feature = "racecheck")]

use racecheck::{Builder, Granularity, Strategy};
use std::future::Future;
use std::pin::Pin;

type Scenario = fn(bool) -> Pin<Box<dyn Future<Output = ()>>>;

fn scenarios() -> [(&'static str, Scenario); 4] {
    [
        ("pool", |fixed| {
            Box::pin(crate::pool::three_clients_two_connections(fixed))
        }),
        ("cache", |fixed| {
            Box::pin(crate::cache::read_during_update(fixed))
        }),
        ("workers", |fixed| {
            Box::pin(crate::workers::shutdown_after_the_jobs(fixed))
        }),
        ("flusher", |fixed| {
            Box::pin(crate::flusher::nothing_lost(fixed))
        }),
    ]
}

#[test]
#[ignore = "measurement: 2 x 4 x (100 seeds + 100 replays + 10,000 executions)"]
fn measure() {
    let granularities = [Granularity::Await, Granularity::Step];
    for (granularity, (name, scenario)) in granularities
        .into_iter()
        .flat_map(|granularity| scenarios().map(|scenario| (granularity, scenario)))
    {
        let builder = Builder::new()
            .granularity(granularity)
            .minimize_failures(false);
        let mut needed = Vec::new();
        let mut last_failure = None;
        for seed in 0..100 {
            let report = builder
                .clone()
                .seed(seed)
                .iterations(10_000)
                .run(|| scenario(false));
            let failure = report
                .failure
                .expect("the bug is found within 10,000 executions");
            needed.push(failure.iteration + 1);
            last_failure = Some(failure);
        }
        needed.sort_unstable();
        let failure = last_failure.expect("100 seeds ran");
        let headline = failure
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let reproduced = (0..100)
            .filter(|_| {
                let replay = Builder::new()
                    .granularity(granularity)
                    .strategy(Strategy::Replay(failure.schedule.clone()))
                    .run(|| scenario(false));
                replay
                    .failure
                    .is_some_and(|again| again.to_string().starts_with(&headline))
            })
            .count();
        let fixed = builder.clone().iterations(10_000).run(|| scenario(true));
        println!(
            "service={name} granularity={granularity:?} bug_executions_median={} bug_executions_max={} replayed={reproduced}/100 fixed_executions={} fixed_failure={}",
            needed[needed.len() / 2],
            needed[needed.len() - 1],
            fixed.executions,
            fixed.failure.is_some(),
        );
    }
}
