//! The cost of racecheck's detector: executions per second of the same
//! exploration with every check off and with the default checks on.
//!
//! For each "T×K" workload (see `vs_shuttle`), racecheck explores the same
//! program from seed 0 for the same number of executions, once with
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

use racecheck_bench::cli::{overriding_variable, parse_arguments, setup_line, usage};
use racecheck_bench::compare_detection;
use std::process::ExitCode;

const MEASURES: &str = "Measures executions per second of racecheck's random exploration of the\n\
                        same program with its detector off and on.";

fn main() -> ExitCode {
    let arguments = match parse_arguments(std::env::args().skip(1)) {
        Ok(Some(arguments)) => arguments,
        Ok(None) => {
            println!("{}", usage("detector_overhead", MEASURES));
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!(
                "error: {message}\n\n{}",
                usage("detector_overhead", MEASURES)
            );
            return ExitCode::from(2);
        }
    };
    if let Some(variable) = overriding_variable() {
        eprintln!(
            "error: {variable} is set; it overrides the benchmark's seed or iterations, unset it"
        );
        return ExitCode::from(2);
    }
    let plan = arguments.plan();
    println!("{}", setup_line(&plan));
    for &(workload, iterations) in &plan {
        let comparison = match compare_detection(workload, iterations) {
            Ok(comparison) => comparison,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "workload={workload} detection_off_execs_per_s={:.0} detection_on_execs_per_s={:.0} overhead={:.2}",
            comparison.off.executions_per_second(),
            comparison.on.executions_per_second(),
            comparison.overhead(),
        );
    }
    ExitCode::SUCCESS
}
