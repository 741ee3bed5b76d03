//! Executions per second of random exploration: racecheck against shuttle.
//!
//! For each "T×K" workload (T async tasks, each K times: lock a mutex,
//! increment a counter, release the lock, yield; the root awaits them all and
//! asserts the counter is T·K), this binary explores the same program under
//! racecheck's random strategy (with its detector on, as users get it) and
//! under shuttle 0.9.9's random scheduler
//! (`check_random`'s runner with async tasks), from seed 0, for the same
//! number of executions, on the same machine, in the same process run. Each
//! side first runs an untimed warm-up of a tenth of its executions; then each
//! whole exploration is timed with the wall clock.
//!
//! The first line, starting with `#`, describes the setup; then one line per
//! workload, with only what that run measured:
//!
//! ```text
//! workload=2x10 racecheck_execs_per_s=N shuttle_execs_per_s=M ratio=R
//! workload=threads-2x10 racecheck_execs_per_s=N shuttle_execs_per_s=M ratio=R
//! ```
//!
//! The `tokio-` lines (`workload=tokio-4x10 racecheck_tokio_execs_per_s=N
//! racecheck_execs_per_s=M ratio=R`) measure the tokio layer's cost: the
//! same program written in tokio's API against `racecheck-tokio`, against
//! racecheck's native API, both under racecheck (ratio below 1 when the
//! layer costs). They are printed when the binary is built with
//! `--features tokio-layer`.
//!
//! The `threads-` lines run the same program written with threads and a
//! blocking mutex: racecheck's simulated threads at step granularity
//! against `shuttle::thread` and `shuttle::sync::Mutex`, both on stackful
//! coroutines.
//!
//! where the ratio is racecheck's executions per second over shuttle's.
//!
//! Run it with `cargo run --release -p racecheck-bench --bin vs_shuttle`;
//! `--iterations N` and `--workload TxK` make a quick smoke run.

use racecheck_bench::cli::run_benchmark;
use racecheck_bench::{compare, compare_threads};
use std::process::ExitCode;

const MEASURES: &str = "Measures executions per second of random exploration of the same program\n\
                        in racecheck (detector on, as users get it) and in shuttle, for the same\n\
                        number of executions.";

fn main() -> ExitCode {
    run_benchmark("vs_shuttle", MEASURES, |workload, iterations| {
        let line = |name: String, comparison: racecheck_bench::Comparison| {
            format!(
                "workload={name} racecheck_execs_per_s={:.0} shuttle_execs_per_s={:.0} ratio={:.1}",
                comparison.racecheck.executions_per_second(),
                comparison.shuttle.executions_per_second(),
                comparison.ratio(),
            )
        };
        let tasks = line(workload.to_string(), compare(workload, iterations)?);
        let threads = line(
            format!("threads-{workload}"),
            compare_threads(workload, iterations)?,
        );
        Ok(format!(
            "{tasks}\n{threads}{}",
            tokio_layer(workload, iterations)?
        ))
    })
}

/// The `workload=tokio-TxK` line, after a newline.
#[cfg(feature = "tokio-layer")]
fn tokio_layer(
    workload: racecheck_bench::Workload,
    iterations: u64,
) -> Result<String, racecheck_bench::BenchError> {
    let layer = racecheck_bench::compare_tokio_layer(workload, iterations)?;
    Ok(format!(
        "\nworkload=tokio-{workload} racecheck_tokio_execs_per_s={:.0} racecheck_execs_per_s={:.0} ratio={:.2}",
        layer.tokio.executions_per_second(),
        layer.native.executions_per_second(),
        layer.ratio(),
    ))
}

/// Nothing: built without `--features tokio-layer`.
#[cfg(not(feature = "tokio-layer"))]
fn tokio_layer(
    _workload: racecheck_bench::Workload,
    _iterations: u64,
) -> Result<String, racecheck_bench::BenchError> {
    Ok(String::new())
}
