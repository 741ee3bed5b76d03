//! How many schedules racecheck's strategies need to find the bug of each
//! ported SCTBench program (see `racecheck_programs::sctbench`).
//!
//! For every program and every strategy (random; PCT with depths 1, 2 and
//! 3), it explores from seed 0 for at most the budget of executions and
//! prints one line:
//!
//! ```text
//! program=account strategy=pct3 found=true schedules_to_bug=N
//! program=twostage_100 strategy=pct1 found=false schedules_to_bug=none
//! ```
//!
//! where `schedules_to_bug` is the 1-based index of the first execution in
//! which the bug showed. A leading `#` line states the seed and the budget.
//! Run it with `cargo run --release -p racecheck-bench --bin sctbench`.

use racecheck::Strategy;
use racecheck_bench::cli::overriding_variable;
use racecheck_programs::sctbench::{schedules_to_bug, PROGRAMS};
use std::process::ExitCode;

/// The seed of every search.
const SEED: u64 = 0;

/// Most executions per program and strategy.
const BUDGET: u64 = 10_000;

/// The strategies compared, with their names in the output.
const STRATEGIES: [(&str, Strategy); 8] = [
    ("random", Strategy::Random),
    ("pct1", Strategy::Pct { depth: 1 }),
    ("pct2", Strategy::Pct { depth: 2 }),
    ("pct3", Strategy::Pct { depth: 3 }),
    ("exhaustive", Strategy::Exhaustive),
    ("pb0", Strategy::Bounded { preemptions: 0 }),
    ("pb1", Strategy::Bounded { preemptions: 1 }),
    ("pb2", Strategy::Bounded { preemptions: 2 }),
];

fn main() -> ExitCode {
    if std::env::args().len() > 1 {
        eprintln!(
            "usage: sctbench\n\n\
             Counts the schedules each strategy needs to find the bug of each ported\n\
             SCTBench program (seed {SEED}, at most {BUDGET} executions each)."
        );
        return ExitCode::from(2);
    }
    if let Some(variable) = overriding_variable() {
        eprintln!(
            "error: {variable} is set; it overrides the benchmark's seed or iterations, unset it"
        );
        return ExitCode::from(2);
    }
    let names: Vec<&str> = STRATEGIES.iter().map(|(name, _)| *name).collect();
    println!(
        "# seed={SEED} budget={BUDGET} strategies={} races=off",
        names.join(",")
    );
    for program in PROGRAMS {
        for (name, strategy) in &STRATEGIES {
            let line = match schedules_to_bug(program, strategy.clone(), SEED, BUDGET) {
                Some(schedules) => format!("found=true schedules_to_bug={schedules}"),
                None => "found=false schedules_to_bug=none".to_owned(),
            };
            println!("program={} strategy={name} {line}", program.name);
        }
    }
    ExitCode::SUCCESS
}
