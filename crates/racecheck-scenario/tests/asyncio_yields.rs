//! Scenario steps yield exactly where asyncio's would: one program per
//! primitive and rule, whose set of outcomes racecheck's exploration must
//! find equal to the set CPython's asyncio gives.
//!
//! Each case names a Python twin in `tests/asyncio/`; when `python3` is on
//! the machine, `tests/asyncio/harness.py` runs the twin under 500 random
//! orders of asyncio's ready tasks and its set of outcomes must be the
//! expected one too (without `python3` the test says so and checks
//! racecheck alone). An outcome is the order in which the tasks appended
//! their digits (`132`), a count, or `hang`.

use racecheck_scenario::{RunSettings, Scenario};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Executions explored per question: enough to reach every schedule of
/// these programs many times over.
const EXECUTIONS: u64 = 2_000;

/// A program in both languages and the outcomes asyncio gives it.
struct Case {
    /// Also the Python twin's file stem in `tests/asyncio/`.
    name: &'static str,
    /// The scenario's tables (`[shared]` with `out`, primitives, tasks).
    scenario: &'static str,
    /// Every outcome asyncio can reach, and no other.
    outcomes: &'static [&'static str],
}

/// Appends digit `D` to `out`: two steps, neither of them a yield.
macro_rules! mark {
    ($digit:literal) => {
        concat!("\"o = read out\", \"write out = o * 10 + ", $digit, "\"")
    };
}

/// A task `a` of `steps` beside a task `b` that only marks `2`.
macro_rules! beside_b {
    ($primitives:literal, $($step:expr),+ $(,)?) => {
        concat!(
            "[shared]\nout = 0\n[primitives]\n", $primitives, "\n",
            "[[task]]\nname = \"a\"\nsteps = [", $($step, ", ",)+ "]\n",
            "[[task]]\nname = \"b\"\nsteps = [", mark!(2), "]\n",
        )
    };
}

const CASES: &[Case] = &[
    Case {
        name: "lock_free",
        scenario: beside_b!(
            "l = \"Lock\"",
            mark!(1),
            "\"acquire l\"",
            mark!(3),
            "\"release l\""
        ),
        outcomes: &["132", "213"],
    },
    Case {
        name: "semaphore_free",
        scenario: beside_b!(
            "s = \"Semaphore(1)\"",
            mark!(1),
            "\"acquire s\"",
            mark!(3),
            "\"release s\""
        ),
        outcomes: &["132", "213"],
    },
    Case {
        name: "bounded_semaphore_free",
        scenario: beside_b!(
            "s = \"BoundedSemaphore(1)\"",
            mark!(1),
            "\"acquire s\"",
            mark!(3),
            "\"release s\""
        ),
        outcomes: &["132", "213"],
    },
    Case {
        name: "event_set",
        scenario: beside_b!(
            "e = \"Event\"",
            "\"set e\"",
            mark!(1),
            "\"wait e\"",
            mark!(3)
        ),
        outcomes: &["132", "213"],
    },
    Case {
        name: "event_pulse",
        scenario: concat!(
            "[shared]\nout = 0\n[primitives]\nlistening = \"Event\"\npulse = \"Event\"\n",
            "[[task]]\nname = \"listener\"\n",
            "steps = [\"set listening\", \"wait pulse\", ",
            mark!(1),
            "]\n",
            "[[task]]\nname = \"pulser\"\n",
            "steps = [\"wait listening\", \"set pulse\", \"clear pulse\", ",
            mark!(2),
            "]\n",
        ),
        outcomes: &["21"],
    },
    Case {
        name: "event_pulse_missed",
        scenario: concat!(
            "[shared]\nout = 0\n[primitives]\npulse = \"Event\"\n",
            "[[task]]\nname = \"listener\"\nsteps = [\"wait pulse\", ",
            mark!(1),
            "]\n",
            "[[task]]\nname = \"pulser\"\nsteps = [\"set pulse\", \"clear pulse\", ",
            mark!(2),
            "]\n",
        ),
        outcomes: &["21", "hang"],
    },
    Case {
        name: "condition_wait_for",
        scenario: concat!(
            "[shared]\nout = 0\ngo = 0\n[primitives]\nchanged = \"Condition\"\n",
            "[[task]]\nname = \"a\"\nsteps = [{ with = \"changed\", do = [",
            mark!(1),
            ", \"wait changed while go == 0\", ",
            mark!(3),
            "] }]\n",
            "[[task]]\nname = \"b\"\nsteps = [{ with = \"changed\", do = [",
            mark!(2),
            ", \"write go = 1\", \"notify changed\"] }]\n",
        ),
        outcomes: &["123", "213"],
    },
    Case {
        name: "queue_get_nonempty",
        scenario: beside_b!(
            "q = \"Queue\"",
            "\"put q 7\"",
            mark!(1),
            "\"get q\"",
            mark!(3)
        ),
        outcomes: &["132", "213"],
    },
    Case {
        name: "queue_put_full",
        scenario: concat!(
            "[shared]\nout = 0\n[primitives]\nq = \"Queue(1)\"\n",
            "[[task]]\nname = \"a\"\nsteps = [\"put q 1\", ",
            mark!(1),
            ", \"put q 2\", ",
            mark!(3),
            "]\n",
            "[[task]]\nname = \"b\"\nsteps = [",
            mark!(2),
            ", \"get q\"]\n",
        ),
        outcomes: &["123", "213"],
    },
    Case {
        name: "queue_join_done",
        scenario: beside_b!("q = \"Queue\"", mark!(1), "\"join q\"", mark!(3)),
        outcomes: &["132", "213"],
    },
    Case {
        name: "task_join_finished",
        scenario: concat!(
            "[shared]\nout = 0\n[primitives]\ndone = \"Event\"\n",
            "[[task]]\nname = \"worker\"\nstart = false\nsteps = [\"set done\"]\n",
            "[[task]]\nname = \"a\"\nsteps = [\"spawn worker\", \"wait done\", ",
            mark!(1),
            ", \"join worker\", ",
            mark!(3),
            "]\n",
            "[[task]]\nname = \"b\"\nsteps = [",
            mark!(2),
            "]\n",
        ),
        outcomes: &["132", "213"],
    },
    Case {
        name: "sleep_zero",
        scenario: beside_b!("", mark!(1), "\"yield\"", mark!(3)),
        outcomes: &["123", "132", "213"],
    },
    Case {
        name: "sleep_timer",
        scenario: beside_b!("", mark!(1), "\"sleep 1ms\"", mark!(3)),
        outcomes: &["123", "213"],
    },
    Case {
        name: "shared_read_write",
        scenario: concat!(
            "[shared]\nout = 0\n",
            "[[task]]\nname = \"increment\"\ncount = 2\n",
            "steps = [\"n = read out\", \"write out = n + 1\"]\n",
        ),
        outcomes: &["2"],
    },
    Case {
        name: "shared_read_yield_write",
        scenario: concat!(
            "[shared]\nout = 0\n",
            "[[task]]\nname = \"increment\"\ncount = 2\n",
            "steps = [\"n = read out\", \"yield\", \"write out = n + 1\"]\n",
        ),
        outcomes: &["1", "2"],
    },
];

/// Explores `case` with `final` (if any) for 2,000 random executions
/// (these programs have a few dozen schedules at most). The expectation is
/// "no deadlock": the marks on `out` race by design and hangs are part of
/// the outcome set, so both are only warnings and every execution runs,
/// while a `final` that does not hold stops the search with a panic.
///
/// Not the exhaustive search: its partial-order reduction misses schedules
/// of `task_join_finished` (a step that returns from a wait and then writes
/// hides that write's race with a step before the waker), so it would
/// report an outcome set that is too small.
fn explore(case: &Case, final_state: Option<&str>) -> racecheck::Report {
    let final_line = final_state.map_or(String::new(), |predicate| {
        format!("final = \"{predicate}\"\n")
    });
    let source = format!(
        "description = \"{}\"\nexpect = \"no deadlock\"\n{final_line}{}",
        case.name, case.scenario
    );
    let scenario = Scenario::parse(&source, format!("{}.toml", case.name))
        .unwrap_or_else(|error| panic!("{error}"));
    scenario
        .run(&RunSettings {
            iterations: Some(EXECUTIONS),
            ..RunSettings::default()
        })
        .report
}

/// Checks that racecheck reaches exactly `case.outcomes`: every execution
/// ends in one of the values or hangs, a hang is found if and only if
/// asyncio can hang, and each value is reached (a `final` excluding it
/// fails).
fn check_racecheck(case: &Case) -> Result<(), String> {
    let values: Vec<&str> = case
        .outcomes
        .iter()
        .copied()
        .filter(|outcome| *outcome != "hang")
        .collect();
    let any_of: Vec<String> = values
        .iter()
        .map(|value| format!("out == {value}"))
        .collect();
    let report = explore(case, Some(&any_of.join(" || ")));
    if let Some(failure) = &report.failure {
        return Err(format!(
            "{}: an outcome asyncio cannot reach, or a finding: {}",
            case.name, failure.kind
        ));
    }
    let hangs = report
        .warnings
        .iter()
        .any(|warning| matches!(warning, racecheck::Finding::Hang(_)));
    if hangs != case.outcomes.contains(&"hang") {
        return Err(format!(
            "{}: racecheck {} a hang, asyncio {}",
            case.name,
            if hangs { "finds" } else { "finds no" },
            if hangs { "cannot hang" } else { "can" }
        ));
    }
    for value in &values {
        let reached = explore(case, Some(&format!("out != {value}")))
            .failure
            .is_some_and(|failure| {
                failure
                    .kind
                    .to_string()
                    .contains("final state does not hold")
            });
        if !reached {
            return Err(format!(
                "{}: racecheck never reaches outcome {value}",
                case.name
            ));
        }
    }
    Ok(())
}

/// The outcomes of the case's Python twin under the harness, or `None`
/// without `python3`.
fn asyncio_outcomes(case: &Case) -> Option<BTreeSet<String>> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/asyncio");
    let program = directory.join(format!("{}.py", case.name));
    let output = Command::new("python3")
        .arg(directory.join("harness.py"))
        .arg(&program)
        .output()
        .ok()?;
    assert!(
        output.status.success(),
        "{}: {}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Some(
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn racecheck_reaches_exactly_the_outcomes_of_asyncio() {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|case| check_racecheck(case).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cpython_asyncio_gives_the_expected_outcomes() {
    let mut mismatches = Vec::new();
    for case in CASES {
        let Some(found) = asyncio_outcomes(case) else {
            println!("python3 is not available: the asyncio twins in tests/asyncio/ were not run");
            return;
        };
        let expected: BTreeSet<String> = case
            .outcomes
            .iter()
            .map(|outcome| outcome.to_string())
            .collect();
        if found != expected {
            mismatches.push(format!(
                "{}: asyncio gives {found:?}, the test expects {expected:?}",
                case.name
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// A re-entrant lock has no asyncio counterpart (asyncio has no `RLock`);
/// the scenario's `RLock` follows `Lock`'s rule: taking it free, or again
/// by its holder, does not yield.
#[test]
fn rlock_taken_free_or_again_does_not_yield() {
    let case = Case {
        name: "rlock_free",
        scenario: beside_b!(
            "r = \"RLock\"",
            mark!(1),
            "\"acquire r\"",
            "\"acquire r\"",
            mark!(3),
            "\"release r\"",
            "\"release r\""
        ),
        outcomes: &["132", "213"],
    };
    check_racecheck(&case).unwrap_or_else(|error| panic!("{error}"));
}
