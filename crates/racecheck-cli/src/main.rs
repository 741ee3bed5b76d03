//! The `racecheck` command-line tool.
//!
//! For now it has one command, `racecheck schedule <STRING>`: it checks a
//! replay string copied from a CI log (an `rc1:...` schedule) and prints what
//! it contains — steps, tasks, context switches, and the run of each task —
//! or says exactly where the string is damaged. Running scenario files and
//! test binaries builds on this binary.
//!
//! ```text
//! $ racecheck schedule rc1:BAACAQEBxaJ0VQ
//! schedule: 4 steps, 2 tasks (t0, t1), 2 context switches
//!   steps 0-1     t0
//!   step  2       t1
//!   step  3       t0
//! ```
//!
//! Exit codes: 0 valid, 2 invalid input.

use clap::{Parser, Subcommand};
use racecheck_trace::{Schedule, TaskId};
use std::collections::BTreeSet;
use std::fmt::Write;
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

#[derive(Subcommand)]
enum Command {
    /// Check a replay string (`rc1:...`) and show the scheduling choices in it.
    Schedule {
        /// The schedule, as printed after RACECHECK_REPLAY= in a report.
        schedule: String,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Schedule { schedule } => match schedule.trim().parse::<Schedule>() {
            Ok(schedule) => {
                print!("{}", describe(&schedule));
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("racecheck: invalid schedule: {error}");
                ExitCode::from(2)
            }
        },
    }
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
}
