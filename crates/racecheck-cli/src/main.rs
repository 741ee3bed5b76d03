//! The `racecheck` command-line tool.
//!
//! - `racecheck run PATH...` explores scenario files (or directories of
//!   them) with a budget, shows progress on a terminal, prints a summary
//!   table and the report of every scenario whose expectation is not met,
//!   and writes JUnit XML, JSON, saved failing schedules, Chrome traces
//!   and HTML reports (`--html DIR`) for CI;
//! - `racecheck replay FILE --schedule S` (or `--from SAVED`) re-runs one
//!   execution and prints its whole timeline and the finding;
//! - `racecheck explain FILE --schedule S --dot OUT` writes the finding's
//!   happens-before graph as Graphviz DOT;
//! - `racecheck profile PATH...` prints the contention profile of each
//!   scenario (`--json` for JSON) and re-simulates its costliest critical
//!   section without its virtual time;
//! - `racecheck list [PATH]` shows the catalog;
//! - `racecheck schedule <STRING>` checks a replay string from a log.
//!
//! ```text
//! $ racecheck schedule rc1:BAACAQEBxaJ0VQ
//! schedule: 4 steps, 2 tasks (t0, t1), 2 context switches
//!   steps 0-1     t0
//!   step  2       t1
//!   step  3       t0
//! ```
//!
//! Exit codes: 0 every expectation met (or a valid schedule), 1 a finding
//! or an unmet expectation, 2 a usage or input error (a malformed scenario
//! prints `file:line:col: message`).

/// `println!` that ends the process quietly when stdout is gone (piped into
/// `head`, say) instead of panicking: exit code 141, as if killed by
/// SIGPIPE.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(141);
        }
    }};
}

/// `print!`, quiet on a closed stdout like [`say!`].
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if write!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(141);
        }
    }};
}

mod output;
mod profile;

use clap::{Parser, Subcommand, ValueEnum};
use racecheck::sched::Shard;
use racecheck::{Schedule, Strategy};
use racecheck_scenario::{RunSettings, Scenario};
use racecheck_trace::TaskId;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "racecheck",
    version,
    about = "Deterministic concurrency testing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum StrategyName {
    /// Seeded random choices.
    Random,
    /// Probabilistic concurrency testing (see --depth).
    Pct,
    /// Every schedule up to reordering independent steps (see
    /// --preemption-bound).
    Exhaustive,
}

#[derive(Subcommand)]
enum Command {
    /// Explore scenario files (or directories of them) and check their
    /// expectations.
    Run {
        /// Scenario files, or directories whose `*.toml` files to run.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The exploration strategy.
        #[arg(long, value_enum, default_value = "random")]
        strategy: StrategyName,
        /// Executions per scenario (default: the scenario's `iterations`,
        /// or 1000).
        #[arg(long)]
        iterations: Option<u64>,
        /// The seed of random and PCT choices.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// PCT's bug depth.
        #[arg(long)]
        depth: Option<u32>,
        /// With --strategy exhaustive: at most this many preemptions per
        /// schedule, fewest first (iterative context bounding).
        #[arg(long)]
        preemption_bound: Option<u32>,
        /// Explore only shard i of n (`i/n`, from 0), to split a run across
        /// CI jobs.
        #[arg(long)]
        shard: Option<Shard>,
        /// Threads per scenario (random strategy).
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Steps per execution at most (default: the scenario's
        /// `max_steps`, or 100,000).
        #[arg(long)]
        max_steps: Option<u32>,
        /// Write a JUnit XML report here.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Write a JSON report here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Save each failing schedule here, one file per scenario, for
        /// `racecheck replay --from`.
        #[arg(long, value_name = "DIR")]
        save_failures: Option<PathBuf>,
        /// Print the full report (finding, timeline, replay line) of every
        /// scenario with a finding, the expected ones too.
        #[arg(long)]
        reports: bool,
        /// Write each failing execution here as a Chrome trace
        /// (`<scenario>.trace.json`, for https://ui.perfetto.dev).
        #[arg(long, value_name = "DIR")]
        traces: Option<PathBuf>,
        /// Write each failing execution here as a self-contained HTML page
        /// (`<scenario>.html`: the report, the finding's picture, the
        /// timeline, the replay command), with an `index.html` summary.
        #[arg(long, value_name = "DIR")]
        html: Option<PathBuf>,
    },
    /// Re-run exactly one execution of a scenario and print its whole
    /// timeline and the finding.
    Replay {
        /// The scenario file (not needed with --from).
        file: Option<PathBuf>,
        /// The schedule (`rc1:...`) from a report.
        #[arg(long, conflicts_with = "from")]
        schedule: Option<String>,
        /// A failure saved by `racecheck run --save-failures`.
        #[arg(long, value_name = "SAVED")]
        from: Option<PathBuf>,
    },
    /// Replay a failing execution and write the picture of its finding
    /// as Graphviz DOT.
    Explain {
        /// The scenario file.
        file: PathBuf,
        /// The schedule (`rc1:...`) from a report.
        #[arg(long)]
        schedule: String,
        /// Where to write the DOT graph.
        #[arg(long, value_name = "FILE", required_unless_present = "trace")]
        dot: Option<PathBuf>,
        /// Where to write the execution as a Chrome trace (JSON, for
        /// https://ui.perfetto.dev or chrome://tracing).
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
    },
    /// Profile lock, semaphore, queue and channel contention over each
    /// scenario's exploration, in virtual time and steps, and re-simulate
    /// the costliest critical section without its time (a what-if).
    Profile {
        /// Scenario files, or directories whose `*.toml` files to profile.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Executions per scenario (default: the scenario's `iterations`,
        /// or 1000).
        #[arg(long)]
        iterations: Option<u64>,
        /// The seed of the random choices.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Objects shown per scenario, the most waited for first.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// Print the profiles as JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// The critical section to re-simulate without its virtual time, as
        /// the profile names sites (`path:line:col` where the lock was
        /// taken); default: the one with the largest predicted drop.
        #[arg(long, value_name = "SITE")]
        what_if: Option<String>,
    },
    /// List the scenarios of a catalog with their expectation and
    /// description.
    List {
        /// A scenario file or directory.
        #[arg(default_value = "scenarios")]
        path: PathBuf,
    },
    /// Check a replay string (`rc1:...`) and show the scheduling choices in it.
    Schedule {
        /// The schedule, as printed after RACECHECK_REPLAY= in a report.
        schedule: String,
    },
}

/// A usage or input error: printed on stderr, exit code 2.
struct InputError(String);

impl<E: std::fmt::Display> From<E> for InputError {
    fn from(error: E) -> InputError {
        InputError(error.to_string())
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Run {
            paths,
            strategy,
            iterations,
            seed,
            depth,
            preemption_bound,
            shard,
            jobs,
            max_steps,
            junit,
            json,
            save_failures,
            reports,
            traces,
            html,
        } => strategy_of(strategy, depth, preemption_bound).and_then(|strategy| {
            let settings = RunSettings {
                strategy,
                iterations,
                seed,
                shard: shard.unwrap_or_default(),
                jobs,
                max_steps,
                minimize: true,
                profile: false,
                instant_section: None,
            };
            let outputs = output::Outputs {
                junit,
                json,
                save_failures,
                traces,
                html,
            };
            run(&paths, &settings, &outputs, reports)
        }),
        Command::Replay {
            file,
            schedule,
            from,
        } => replay(file, schedule, from),
        Command::Explain {
            file,
            schedule,
            dot,
            trace,
        } => explain(&file, &schedule, dot.as_deref(), trace.as_deref()),
        Command::Profile {
            paths,
            iterations,
            seed,
            top,
            json,
            what_if,
        } => {
            let settings = profile::ProfileSettings {
                run: RunSettings {
                    iterations,
                    seed,
                    ..RunSettings::default()
                },
                top,
                json,
                what_if,
            };
            profile::profile(&paths, &settings)
        }
        Command::List { path } => list(&path),
        Command::Schedule { schedule } => match schedule.trim().parse::<Schedule>() {
            Ok(schedule) => {
                say_raw!("{}", describe(&schedule));
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => Err(InputError(format!("invalid schedule: {error}"))),
        },
    };
    match result {
        Ok(code) => code,
        Err(InputError(message)) => {
            eprintln!("racecheck: {message}");
            ExitCode::from(2)
        }
    }
}

fn strategy_of(
    name: StrategyName,
    depth: Option<u32>,
    preemption_bound: Option<u32>,
) -> Result<Strategy, InputError> {
    if depth.is_some() && name != StrategyName::Pct {
        return Err(InputError("--depth applies to --strategy pct only".into()));
    }
    if preemption_bound.is_some() && name != StrategyName::Exhaustive {
        return Err(InputError(
            "--preemption-bound applies to --strategy exhaustive only".into(),
        ));
    }
    Ok(match name {
        StrategyName::Random => Strategy::Random,
        StrategyName::Pct => Strategy::Pct {
            depth: depth.unwrap_or(3),
        },
        StrategyName::Exhaustive => match preemption_bound {
            Some(preemptions) => Strategy::Bounded { preemptions },
            None => Strategy::Exhaustive,
        },
    })
}

/// Loads every scenario under `paths`; all load errors are reported
/// together, before anything runs.
fn load_all(paths: &[PathBuf]) -> Result<Vec<Scenario>, InputError> {
    let files = racecheck_scenario::discover(paths)?;
    if files.is_empty() {
        return Err(InputError(format!(
            "no scenario files (*.toml) under {}",
            paths
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match Scenario::load(&file) {
            Ok(scenario) => scenarios.push(scenario),
            Err(error) => errors.push(error.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        Err(InputError(errors.join("\nracecheck: ")))
    }
}

fn run(
    paths: &[PathBuf],
    settings: &RunSettings,
    outputs: &output::Outputs,
    reports: bool,
) -> Result<ExitCode, InputError> {
    let scenarios = load_all(paths)?;
    let started = std::time::Instant::now();
    let results = run_all(&scenarios, settings);
    say_raw!("{}", output::summary_table(&results));
    let unmet = say_unmet(&results);
    say_found(&results, reports);
    say!("");
    say!(
        "{} scenarios: {} met, {unmet} unmet ({:.2}s)",
        results.len(),
        results.len() - unmet,
        started.elapsed().as_secs_f64()
    );
    outputs.write(&results)?;
    Ok(if unmet == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs every scenario, with a progress bar on a terminal; each failure
/// carries the command that replays it.
fn run_all<'a>(scenarios: &'a [Scenario], settings: &RunSettings) -> Vec<output::Result<'a>> {
    let progress = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(scenarios.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{bar:30}] {pos}/{len} {elapsed} {wide_msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut results = Vec::new();
    for scenario in scenarios {
        progress.set_message(scenario.name().to_string());
        let mut outcome = scenario.run(settings);
        if let Some(failure) = &mut outcome.report.failure {
            failure.replay = vec![replay_command(scenario, failure)];
        }
        progress.inc(1);
        results.push((scenario, outcome));
    }
    progress.finish_and_clear();
    results
}

/// Prints the scenarios whose expectation was not met, with their
/// reports; returns how many.
fn say_unmet(results: &[output::Result<'_>]) -> usize {
    let mut unmet = 0;
    for (scenario, outcome) in results {
        if !outcome.verdict.is_met() {
            unmet += 1;
            say!("");
            say!("=== {}: {}", scenario.name(), outcome.verdict);
            match &outcome.report.failure {
                Some(failure) => say!("{failure}"),
                None => say!("  ({})", outcome.report.summary()),
            }
        }
    }
    unmet
}

/// Prints what the scenarios that demonstrate a bug found, with the full
/// reports if `reports`.
fn say_found(results: &[output::Result<'_>], reports: bool) {
    let found: Vec<_> = results
        .iter()
        .filter(|(scenario, outcome)| {
            outcome.verdict.is_met()
                && matches!(
                    scenario.expectation(),
                    racecheck_scenario::Expectation::Find(_)
                )
        })
        .collect();
    if found.is_empty() {
        return;
    }
    say!("");
    say!("findings of the scenarios that demonstrate a bug:");
    for (scenario, outcome) in found {
        if let (true, Some(failure)) = (reports, &outcome.report.failure) {
            say!(
                "\n=== {} (expected: {})",
                scenario.name(),
                scenario.expectation()
            );
            say!("{failure}");
        }
        let finding = outcome.finding().unwrap_or_default();
        say!("  {}: {finding}", scenario.name());
        if let Some(failure) = &outcome.report.failure {
            say!("    replay: {}", replay_command(scenario, failure));
        }
    }
}

/// The command that replays `failure` of `scenario`.
fn replay_command(scenario: &Scenario, failure: &racecheck::Failure) -> String {
    format!(
        "racecheck replay {} --schedule {}",
        scenario.path().display(),
        failure.schedule
    )
}

fn replay(
    file: Option<PathBuf>,
    schedule: Option<String>,
    from: Option<PathBuf>,
) -> Result<ExitCode, InputError> {
    let (file, schedule) = match (file, schedule, from) {
        (_, _, Some(saved)) => {
            let saved = output::SavedFailure::read(&saved)?;
            (PathBuf::from(saved.scenario), saved.schedule)
        }
        (Some(file), Some(schedule), None) => (file, schedule),
        _ => {
            return Err(InputError(
                "replay needs FILE --schedule S, or --from SAVED".into(),
            ))
        }
    };
    let scenario = Scenario::load(&file)?;
    let schedule: Schedule = schedule
        .trim()
        .parse()
        .map_err(|error| InputError(format!("invalid schedule: {error}")))?;
    let outcome = scenario.replay(&schedule);
    say!(
        "scenario {} ({}), expects: {}",
        scenario.name(),
        scenario.path().display(),
        scenario.expectation()
    );
    say!("schedule {schedule}");
    say!("");
    if let Some(failure) = &outcome.report.failure {
        if failure.kind.is_schedule_error() {
            return Err(InputError(format!("{}", failure.kind)));
        }
        say_raw!("{}", racecheck::timeline(&failure.trace, usize::MAX));
        say!("");
    }
    say!("scenario steps as they started:");
    for step in &outcome.steps {
        say!("  {step}");
    }
    say!("");
    match &outcome.report.failure {
        Some(failure) => {
            say!("racecheck: {}", failure.kind);
            for other in &failure.also {
                say!(
                    "  (this execution also: {})",
                    racecheck_scenario::headline(other)
                );
            }
            say!(
                "expectation {}: {}",
                scenario.expectation(),
                outcome.verdict
            );
            Ok(ExitCode::from(1))
        }
        None => {
            say!("the execution passed: no finding");
            say!(
                "expectation {}: {}",
                scenario.expectation(),
                outcome.verdict
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn explain(
    file: &Path,
    schedule: &str,
    dot: Option<&Path>,
    trace: Option<&Path>,
) -> Result<ExitCode, InputError> {
    let scenario = Scenario::load(file)?;
    let schedule: Schedule = schedule
        .trim()
        .parse()
        .map_err(|error| InputError(format!("invalid schedule: {error}")))?;
    let outcome = scenario.replay(&schedule);
    let Some(failure) = &outcome.report.failure else {
        say!("the execution passed: nothing to explain");
        return Ok(ExitCode::SUCCESS);
    };
    if failure.kind.is_schedule_error() {
        return Err(InputError(format!("{}", failure.kind)));
    }
    say!("racecheck: {}", failure.kind);
    say!("");
    if let Some(dot) = dot {
        write_dot(failure, dot, &outcome, file, &schedule)?;
    }
    if let Some(path) = trace {
        std::fs::write(path, failure.chrome_trace())
            .map_err(|error| InputError(format!("{}: {error}", path.display())))?;
        say!(
            "wrote the execution as a Chrome trace to {} (open it in https://ui.perfetto.dev \
             or chrome://tracing: a track per task, the finding marked, arrows for the \
             happens-before edges that order it)",
            path.display()
        );
    }
    Ok(ExitCode::from(1))
}

/// Writes the picture of `failure`'s finding to `dot`.
fn write_dot(
    failure: &racecheck::Failure,
    dot: &Path,
    outcome: &racecheck_scenario::Outcome,
    file: &Path,
    schedule: &Schedule,
) -> Result<(), InputError> {
    match failure.dot() {
        Some(graph) => {
            std::fs::write(dot, &graph)
                .map_err(|error| InputError(format!("{}: {error}", dot.display())))?;
            let nodes = graph
                .lines()
                .filter(|line| {
                    let line = line.trim_start();
                    line.starts_with('n')
                        && line[1..].starts_with(|c: char| c.is_ascii_digit())
                        && !line.contains("->")
                })
                .count();
            say!(
                "wrote the picture of the finding ({nodes} nodes, and a legend) to {}",
                dot.display()
            );
            say!(
                "  a race: both tasks' paths from their common ancestor to the two accesses; \
                 a deadlock: the wait-for cycle; a hang: the wait and what came before it; \
                 a potential deadlock: the lock-order cycle"
            );
            say!(
                "  render it with: dot -Tsvg {} -o finding.svg",
                dot.display()
            );
        }
        None => say!(
            "a {} has no picture; `racecheck replay {} --schedule {schedule}` shows its timeline",
            outcome.finding().unwrap_or_default(),
            file.display()
        ),
    }
    Ok(())
}

fn list(path: &Path) -> Result<ExitCode, InputError> {
    let scenarios = load_all(&[path.to_path_buf()])?;
    let width = scenarios
        .iter()
        .map(|scenario| scenario.name().len())
        .max()
        .unwrap_or(0);
    let expectation_width = scenarios
        .iter()
        .map(|scenario| scenario.expectation().to_string().len())
        .max()
        .unwrap_or(0);
    for scenario in &scenarios {
        say!(
            "{:<width$}  {:<expectation_width$}  {}",
            scenario.name(),
            scenario.expectation().to_string(),
            scenario.description()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A summary line, then one line per run of consecutive steps of one task.
fn describe(schedule: &Schedule) -> String {
    let tasks: BTreeSet<TaskId> = schedule.steps().iter().copied().collect();
    let names: Vec<String> = tasks.iter().map(TaskId::to_string).collect();
    let mut out = format!(
        "schedule: {} steps, {} tasks ({}), {} context switches\n",
        schedule.len(),
        tasks.len(),
        names.join(", "),
        schedule.context_switches()
    );
    let steps = schedule.steps();
    let mut start = 0;
    while start < steps.len() {
        let task = steps[start];
        let end = start + steps[start..].iter().take_while(|&&t| t == task).count();
        let range = if end - start == 1 {
            format!("step  {start}")
        } else {
            format!("steps {start}-{}", end - 1)
        };
        let _ = writeln!(out, "  {range:<13} {task}");
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_runs_of_steps() {
        let schedule = Schedule::from_steps(vec![TaskId(0), TaskId(0), TaskId(1), TaskId(0)]);
        assert_eq!(
            describe(&schedule),
            "schedule: 4 steps, 2 tasks (t0, t1), 2 context switches\n  \
             steps 0-1     t0\n  step  2       t1\n  step  3       t0\n"
        );
    }

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn strategy_flags_map_to_racecheck_strategies() {
        let cases = [
            (StrategyName::Random, None, None, Ok(Strategy::Random)),
            (
                StrategyName::Pct,
                Some(2),
                None,
                Ok(Strategy::Pct { depth: 2 }),
            ),
            (
                StrategyName::Exhaustive,
                None,
                None,
                Ok(Strategy::Exhaustive),
            ),
            (
                StrategyName::Exhaustive,
                None,
                Some(1),
                Ok(Strategy::Bounded { preemptions: 1 }),
            ),
            (StrategyName::Random, Some(2), None, Err(())),
            (StrategyName::Pct, None, Some(2), Err(())),
        ];
        for (name, depth, bound, expected) in cases {
            let strategy = strategy_of(name, depth, bound).map_err(|_| ());
            assert_eq!(strategy, expected, "{name:?} {depth:?} {bound:?}");
        }
    }
}
