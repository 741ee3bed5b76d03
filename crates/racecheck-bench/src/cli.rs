//! The command line shared by the benchmark binaries: `--iterations N`,
//! `--workload TxK`, `--help`, and the refusal to run with environment
//! variables that would change the seed or the number of executions.

use crate::{warmup_iterations, Workload, ITERATIONS_MAX};

/// Variables that would change either side's seed or number of executions,
/// so that a benchmark's setup line would no longer describe the run.
pub const OVERRIDING_VARIABLES: [&str; 3] = [
    "RACECHECK_SEED",
    "RACECHECK_ITERATIONS",
    "SHUTTLE_RANDOM_SEED",
];

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arguments {
    /// Executions per side and workload; `None` sizes them per workload.
    pub iterations: Option<u64>,
    /// The one workload to run; `None` runs the standard ones.
    pub workload: Option<Workload>,
}

impl Arguments {
    /// Each workload to run with its number of executions.
    pub fn plan(&self) -> Vec<(Workload, u64)> {
        let workloads = match self.workload {
            Some(workload) => vec![workload],
            None => Workload::STANDARD.to_vec(),
        };
        workloads
            .into_iter()
            .map(|workload| {
                let iterations = self.iterations.unwrap_or(workload.iterations_default());
                (workload, iterations)
            })
            .collect()
    }
}

/// Reads `--iterations N` and `--workload TxK`; `Ok(None)` asks for the help.
///
/// ```
/// use racecheck_bench::cli::parse_arguments;
/// let arguments = parse_arguments(["--iterations", "100"].map(String::from).into_iter());
/// assert_eq!(arguments.unwrap().unwrap().iterations, Some(100));
/// assert!(parse_arguments(["--bogus"].map(String::from).into_iter()).is_err());
/// ```
pub fn parse_arguments(
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

/// The first overriding variable that is set, if any.
pub fn overriding_variable() -> Option<&'static str> {
    OVERRIDING_VARIABLES
        .into_iter()
        .find(|variable| std::env::var_os(variable).is_some())
}

/// Formats `count(iterations)` of each planned workload as `2x1:N,2x10:M`.
pub fn per_workload(plan: &[(Workload, u64)], count: impl Fn(u64) -> u64) -> String {
    plan.iter()
        .map(|&(workload, iterations)| format!("{workload}:{}", count(iterations)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The `#` line that describes a run's setup.
pub fn setup_line(plan: &[(Workload, u64)]) -> String {
    format!(
        "# seed={} scheduler=random rounds={} (fastest counts) iterations={} warmup_iterations={}",
        crate::SEED,
        crate::ROUNDS,
        per_workload(plan, |iterations| iterations),
        per_workload(plan, warmup_iterations),
    )
}

/// The help text of binary `name`, which `measures` what it says.
pub fn usage(name: &str, measures: &str) -> String {
    let standard = Workload::STANDARD
        .map(|workload| workload.to_string())
        .join(", ");
    format!(
        "usage: {name} [--iterations N] [--workload TxK]\n\
         \n\
         {measures}\n\
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

/// The whole `main` of a benchmark binary: parse the command line, refuse
/// overriding variables, print the setup line, then `measure` each planned
/// workload into one output line.
pub fn run_benchmark(
    name: &str,
    measures: &str,
    measure: impl Fn(Workload, u64) -> Result<String, crate::BenchError>,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    let arguments = match parse_arguments(std::env::args().skip(1)) {
        Ok(Some(arguments)) => arguments,
        Ok(None) => {
            println!("{}", usage(name, measures));
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{}", usage(name, measures));
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
        match measure(workload, iterations) {
            Ok(line) => println!("{line}"),
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
