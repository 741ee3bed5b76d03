//! The exhaustive search on the classic DPOR programs
//! (`racecheck_programs::dpor`): how many executions it needs for how many
//! traces.
//!
//! For each program and size (all by default, or the one given with
//! `--program NAME-N`), racecheck's exhaustive strategy explores every
//! schedule, and a depth-first search without reduction counts the
//! program's Mazurkiewicz traces by brute force, within a budget of
//! executions (`racecheck_programs::traces::merging_brute_force`: every
//! fair schedule, two schedule prefixes that reach the same state explored
//! once; the plain search without that merge is out of reach beyond the
//! smallest sizes, 3 million executions do not finish `readers-4`):
//!
//! ```text
//! program=lastzero-5 traces=T executions=E redundant=R complete=true secs=S plain_executions=P formula=F
//! ```
//!
//! `traces` is the brute-force count, or `?` when the brute force did not
//! finish within its budget (`plain_executions`, its executions including
//! those cut at a state explored before, then says where it stopped) or was
//! not tried (`plain_executions=-`: beyond the program's
//! `brute_force_up_to`, indexer and filesystem at every size, whose many
//! independent threads have too many interleaved states to enumerate);
//! `formula` is the papers' closed form. `executions` never falls
//! below `traces`: an execution beyond it ran a trace a second time (by a
//! blocked attempt placed differently, which the search counts as a
//! different order). `redundant` counts the prefixes the sleep sets cut
//! short, which are not executions.

use racecheck::sched::{explore_with, Config, ExhaustiveScheduler};
use racecheck::Check;
use racecheck_programs::dpor::{Program, PROGRAMS};
use racecheck_programs::traces::merging_brute_force;
use std::process::ExitCode;
use std::time::Instant;

/// Executions the brute-force count may take per program.
const PLAIN_BUDGET: u64 = 3_000_000;

/// Executions the reduced search may take per program.
const REDUCED_BUDGET: u64 = 10_000_000;

/// Executions the bounded buffer may take (its fix has more than this).
const BUFFER_BUDGET: u64 = 2_000_000;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let plan: Vec<(&Program, usize)> = match arguments.as_slice() {
        [] => PROGRAMS
            .iter()
            .flat_map(|program| program.sizes.iter().map(move |&n| (program, n)))
            .collect(),
        [flag, name] if flag == "--program" => match parse(name) {
            Some(one) => vec![one],
            None => {
                eprintln!("error: no program {name}\n\n{}", usage());
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("{}", usage());
            return ExitCode::from(2);
        }
    };
    let everything = plan.len() > 1;
    for (program, n) in plan {
        println!("{}", measure(program, n));
    }
    if everything {
        println!("{}", bounded_buffer(false));
        println!("{}", bounded_buffer(true));
    }
    ExitCode::SUCCESS
}

fn usage() -> String {
    let names: Vec<&str> = PROGRAMS.iter().map(|program| program.name).collect();
    format!(
        "usage: dpor [--program NAME-N]\n  NAME: {}",
        names.join(", ")
    )
}

/// `NAME-N` as a program and its size.
fn parse(name: &str) -> Option<(&'static Program, usize)> {
    let (name, n) = name.rsplit_once('-')?;
    let program = PROGRAMS.iter().find(|program| program.name == name)?;
    Some((program, n.parse().ok()?))
}

/// Explores the bounded buffer exhaustively, deadlock checks on.
fn bounded_buffer(fixed: bool) -> String {
    let config = Config {
        iterations: BUFFER_BUDGET,
        granularity: racecheck::Granularity::Step,
        ..Config::default()
    };
    let start = Instant::now();
    let report = explore_with(&config, &mut ExhaustiveScheduler::new(), || {
        racecheck_programs::dpor::bounded_buffer(fixed)
    });
    let secs = start.elapsed().as_secs_f64();
    let found = report.failure.map_or("none".to_string(), |failure| {
        failure
            .kind
            .to_string()
            .split(':')
            .next()
            .unwrap_or("")
            .to_string()
    });
    let name = if fixed {
        "bounded-buffer-fixed"
    } else {
        "bounded-buffer"
    };
    format!(
        "program={name} executions={} redundant={} found={found} complete={} secs={secs:.2}",
        report.executions, report.redundant, report.complete
    )
}

/// Explores the program reduced, counts its traces by brute force, and
/// says so in one line.
fn measure(program: &Program, n: usize) -> String {
    let config = |iterations| Config {
        iterations,
        granularity: program.granularity,
        checks: racecheck::detect::Checks::all(Check::Off),
        ..Config::default()
    };
    let run = program.run;
    let start = Instant::now();
    let reduced = explore_with(
        &config(REDUCED_BUDGET),
        &mut ExhaustiveScheduler::new(),
        || run(n),
    );
    let secs = start.elapsed().as_secs_f64();
    let (traces, plain_executions) = if n <= program.brute_force_up_to {
        let mut plain = merging_brute_force();
        let counted = explore_with(&config(PLAIN_BUDGET), &mut plain, || run(n));
        let traces = if counted.complete {
            plain.traces().len().to_string()
        } else {
            "?".to_string()
        };
        (traces, (counted.executions + counted.redundant).to_string())
    } else {
        ("?".to_string(), "-".to_string())
    };
    let formula = program
        .traces(n)
        .map_or("-".to_string(), |traces| traces.to_string());
    format!(
        "program={}-{n} traces={traces} executions={} redundant={} complete={} secs={secs:.2} plain_executions={} formula={formula}",
        program.name, reduced.executions, reduced.redundant, reduced.complete, plain_executions,
    )
}
