//! Executions per second of random exploration: racecheck against shuttle.
//!
//! For each "T×K" workload (T async tasks, each K times: lock a mutex,
//! increment a counter, release the lock, yield; the root awaits them all and
//! asserts the counter is T·K), this binary explores the same program under
//! racecheck's random strategy and under shuttle 0.9.9's random scheduler
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
//! ```
//!
//! where the ratio is racecheck's executions per second over shuttle's.
//!
//! Run it with `cargo run --release -p racecheck-bench --bin vs_shuttle`;
//! `--iterations N` and `--workload TxK` make a quick smoke run.

use racecheck_bench::{compare, warmup_iterations, Workload, ITERATIONS_MAX, ROUNDS, SEED};
use std::process::ExitCode;

/// Variables that would change either side's seed or number of executions,
/// so that the setup line would no longer describe the run.
const OVERRIDING_VARIABLES: [&str; 3] = [
    "RACECHECK_SEED",
    "RACECHECK_ITERATIONS",
    "SHUTTLE_RANDOM_SEED",
];

/// What the command line asked for.
struct Arguments {
    /// Executions per side and workload; `None` sizes them per workload.
    iterations: Option<u64>,
    /// The one workload to run; `None` runs the standard ones.
    workload: Option<Workload>,
}

fn main() -> ExitCode {
    let arguments = match parse_arguments(std::env::args().skip(1)) {
        Ok(Some(arguments)) => arguments,
        Ok(None) => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    if let Some(variable) = OVERRIDING_VARIABLES
        .into_iter()
        .find(|variable| std::env::var_os(variable).is_some())
    {
        eprintln!(
            "error: {variable} is set; it overrides the benchmark's seed or iterations, unset it"
        );
        return ExitCode::from(2);
    }

    let workloads = match arguments.workload {
        Some(workload) => vec![workload],
        None => Workload::STANDARD.to_vec(),
    };
    let plan: Vec<(Workload, u64)> = workloads
        .into_iter()
        .map(|workload| {
            let iterations = arguments
                .iterations
                .unwrap_or(workload.iterations_default());
            (workload, iterations)
        })
        .collect();
    println!(
        "# seed={SEED} scheduler=random rounds={ROUNDS} (fastest counts) iterations={} warmup_iterations={}",
        per_workload(&plan, |iterations| iterations),
        per_workload(&plan, warmup_iterations),
    );

    for &(workload, iterations) in &plan {
        let comparison = match compare(workload, iterations) {
            Ok(comparison) => comparison,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "workload={workload} racecheck_execs_per_s={:.0} shuttle_execs_per_s={:.0} ratio={:.1}",
            comparison.racecheck.executions_per_second(),
            comparison.shuttle.executions_per_second(),
            comparison.ratio(),
        );
    }
    ExitCode::SUCCESS
}

/// Formats `count(iterations)` of each planned workload as `2x1:N,2x10:M`.
fn per_workload(plan: &[(Workload, u64)], count: impl Fn(u64) -> u64) -> String {
    plan.iter()
        .map(|&(workload, iterations)| format!("{workload}:{}", count(iterations)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads `--iterations N` and `--workload TxK`; `Ok(None)` asks for the help.
fn parse_arguments(
    mut arguments: impl Iterator<Item = String>,
) -> Result<Option<Arguments>, String> {
    let mut parsed = Arguments {
        iterations: None,
        workload: None,
    };
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "-h" | "--help" => return Ok(None),
            "--iterations" => {
                let value = value_of(&argument, arguments.next(), parsed.iterations.is_some())?;
                let iterations = value
                    .parse::<u64>()
                    .ok()
                    .filter(|iterations| (1..=ITERATIONS_MAX).contains(iterations))
                    .ok_or_else(|| {
                        format!("invalid iterations `{value}`: expected a number in 1..={ITERATIONS_MAX}")
                    })?;
                parsed.iterations = Some(iterations);
            }
            "--workload" => {
                let value = value_of(&argument, arguments.next(), parsed.workload.is_some())?;
                parsed.workload = Some(value.parse().map_err(|error| format!("{error}"))?);
            }
            _ => return Err(format!("unexpected argument `{argument}`")),
        }
    }
    Ok(Some(parsed))
}

/// The value after `option`, which may be given once.
fn value_of(option: &str, value: Option<String>, already_given: bool) -> Result<String, String> {
    if already_given {
        return Err(format!("{option} given twice"));
    }
    value.ok_or_else(|| format!("{option} needs a value"))
}

fn usage() -> String {
    let standard = Workload::STANDARD
        .map(|workload| workload.to_string())
        .join(", ");
    format!(
        "usage: vs_shuttle [--iterations N] [--workload TxK]\n\
         \n\
         Measures executions per second of random exploration of the same program\n\
         in racecheck and in shuttle, for the same number of executions.\n\
         \n\
         Options:\n  \
           --iterations N   executions per side and workload, in 1..={ITERATIONS_MAX}\n                   \
                            (default: sized per workload)\n  \
           --workload TxK   run only this workload: T tasks in 1..={}, K rounds per task\n                   \
                            in 1..={} (default: {standard})\n  \
           -h, --help       print this help",
        Workload::TASKS_MAX,
        Workload::ROUNDS_PER_TASK_MAX,
    )
}
