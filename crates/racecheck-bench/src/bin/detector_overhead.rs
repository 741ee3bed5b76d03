//! The cost of racecheck's detector: executions per second of the same
//! exploration with every check off and with the default checks on.
//!
//! For each "T×K" workload (see `vs_shuttle`), written with the counter in
//! tracked state (`Shared<u64>`) guarded by a `Mutex<()>` so that every
//! increment is a read and a write the race check examines, racecheck
//! explores the same program from seed 0 for the same number of executions, once with
//! `Builder::checks(Check::Off)` and once as users get it (races, deadlocks,
//! hangs, leaks, lock orders), in alternating timed rounds after a warm-up;
//! each side's fastest round counts. One line per workload:
//!
//! ```text
//! workload=8x10 detection_off_execs_per_s=N detection_on_execs_per_s=M overhead=X
//! ```
//!
//! where the overhead is how many times longer an execution takes with the
//! detector on. Run it with
//! `cargo run --release -p racecheck-bench --bin detector_overhead`.

use racecheck_bench::cli::run_benchmark;
use racecheck_bench::compare_detection;
use std::process::ExitCode;

const MEASURES: &str = "Measures executions per second of racecheck's random exploration of the\n\
                        same program with its detector off and on.";

fn main() -> ExitCode {
    run_benchmark("detector_overhead", MEASURES, |workload, iterations| {
        let comparison = compare_detection(workload, iterations)?;
        Ok(format!(
            "workload={workload} detection_off_execs_per_s={:.0} detection_on_execs_per_s={:.0} overhead={:.2}",
            comparison.off.executions_per_second(),
            comparison.on.executions_per_second(),
            comparison.overhead(),
        ))
    })
}
