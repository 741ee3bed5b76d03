//! SCTBench's programs (see `racecheck_programs::sctbench`): the random
//! strategy finds every bug within its budget, the sanity checks fail on
//! every schedule, and every fixed twin passes.
//!
//! The ports' unprotected globals race by design, so every run here goes
//! through `sctbench::builder`, which turns the race check off: the bug
//! sought is the assertion or the deadlock, as in SCTBench.

use racecheck::Strategy;
use racecheck_programs::sctbench::{builder, program, schedules_to_bug, PROGRAMS};

/// Executions of each fixed twin that must all pass, per strategy.
const FIXED_ITERATIONS: [(Strategy, u64); 2] =
    [(Strategy::Random, 2_000), (Strategy::Pct { depth: 3 }, 500)];

/// Per program, the executions within which the random search from seed 0
/// must find the bug: about ten times the mean over seeds 0 to 99 (listed
/// in `docs/benchmarks.md`), at least 100, so that a change in where
/// scheduling points fall does not break the test while a port that hides
/// its bug does.
const SEARCH_BUDGETS: &[(&str, u64)] = &[
    ("account", 100),
    ("arithmetic_prog", 100),
    ("phase01", 100),
    ("sync01", 100),
    ("stack", 100),
    ("wronglock", 100),
    ("wronglock_3", 100),
    ("reorder_3", 300),
    ("reorder_4", 400),
    ("reorder_5", 400),
    ("reorder_10", 800),
    ("reorder_20", 200),
    ("fsbench", 100),
    ("deadlock01", 100),
    ("twostage", 200),
    ("twostage_100", 2_000),
    ("lazy01", 100),
    ("din_phil2_sat", 100),
    ("din_phil3_sat", 100),
    ("din_phil4_sat", 100),
    ("din_phil5_sat", 100),
    ("din_phil2_deadlock", 100),
    ("din_phil3_deadlock", 100),
    ("din_phil4_deadlock", 100),
    ("din_phil5_deadlock", 200),
    ("reorder_3_step", 300),
    ("reorder_4_step", 400),
    ("reorder_5_step", 450),
];

/// Programs whose bug random search from seed 0 does not find within
/// 20,000 executions, each with a schedule that shows it. safestack's ABA
/// needs several preemptions in the right places: over seeds 0 to 19 with
/// 20,000 executions each, random search found it once (seed 10, execution
/// 8,879), and PCT with depth 1 to 3 never; this is its schedule, minimised
/// (then three steps longer at its start, when spawning a thread became a
/// scheduling point at step granularity: the main thread's three spawns).
/// reorder_10_step became one when spawning became a scheduling point: the
/// nine setters now usually finish before the checker is spawned, and
/// random search from seeds 0 to 99 missed the bug within 20,000 executions
/// on 94 of them; PCT finds it (depth 2 at execution 384, depth 3 at 263,
/// seed 0), and this is depth 2's schedule, minimised.
const HARD_BUGS: &[(&str, &str)] = &[
    (
        "safestack",
        "rc1:VgAFAgMBAwMFAQMDAgECAwIBAgMCAgEBBAMDAgIDAgICAQMDAwEDAwMBBgIDAQICAgMBAQMDAQIDAwICBwMBwZqQsA",
    ),
    ("reorder_10_step", "rc1:EgAMBAIKBPFvHuc"),
];

#[test]
fn every_program_has_one_search_budget_within_the_limit() {
    for entry in PROGRAMS {
        let rows = SEARCH_BUDGETS
            .iter()
            .map(|(name, _)| name)
            .chain(HARD_BUGS.iter().map(|(name, _)| name))
            .filter(|name| **name == entry.name)
            .count();
        assert_eq!(rows, 1, "{}: {rows} budget rows", entry.name);
    }
    for &(name, budget) in SEARCH_BUDGETS {
        assert!(program(name).is_some(), "{name} is not a program");
        assert!((1..=20_000).contains(&budget), "{name}: budget {budget}");
    }
}

#[test]
fn random_search_finds_every_bug_within_its_budget() {
    let missed: Vec<&str> = SEARCH_BUDGETS
        .iter()
        .filter(|&&(name, budget)| {
            let program = program(name).expect("every budget names a program");
            schedules_to_bug(program, Strategy::Random, 0, budget).is_none()
        })
        .map(|&(name, _)| name)
        .collect();
    assert!(missed.is_empty(), "bugs not found: {missed:?}");
}

#[test]
fn each_hard_bug_shows_on_its_schedule() {
    for &(name, schedule) in HARD_BUGS {
        let program = program(name).expect("every hard bug names a program");
        let schedule = schedule.parse().expect("a valid schedule");
        let report = builder(program, Strategy::Replay(schedule), 0, 1).run(program.run);
        let failure = report.failure.expect("the schedule shows the bug");
        assert!(program.expect.matches(&failure.kind), "{name}: {failure}");
    }
}

#[test]
fn sanity_checks_fail_on_the_first_execution_of_every_seed() {
    for program in PROGRAMS.iter().filter(|program| program.always_fails) {
        for seed in 0..20 {
            assert_eq!(
                schedules_to_bug(program, Strategy::Random, seed, 1),
                Some(1),
                "{} with seed {seed}",
                program.name
            );
        }
    }
}

#[test]
fn every_fixed_twin_passes() {
    for program in PROGRAMS {
        let Some(fixed) = program.fixed else {
            continue;
        };
        for (strategy, iterations) in &FIXED_ITERATIONS {
            let report = builder(program, strategy.clone(), 0, *iterations).run(fixed);
            if let Some(failure) = report.failure {
                panic!("fixed {} failed:\n{failure}", program.name);
            }
            assert_eq!(report.executions, *iterations, "{}", program.name);
        }
    }
}
