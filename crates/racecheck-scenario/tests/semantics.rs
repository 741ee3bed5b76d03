//! The interpreter's asyncio semantics, through the public API: what each
//! step does on racecheck's primitives, its asyncio errors, and reports
//! that name the scenario's lines.

use racecheck_scenario::{RunSettings, Scenario};

/// A `[[task]]`: its name, count and steps.
type TaskSpec = (&'static str, u32, &'static str);

/// A scenario of `primitives` (a `[primitives]` body) and one `[[task]]`
/// per spec, run for 200 executions: its verdict and its finding.
fn run(expect: &str, primitives: &str, tasks: &[TaskSpec]) -> (bool, String) {
    let mut source = format!(
        "description = \"d\"\nexpect = \"{expect}\"\n[shared]\nitems = 0\n[primitives]\n{primitives}\n"
    );
    for (name, count, steps) in tasks {
        source += &format!("[[task]]\nname = \"{name}\"\ncount = {count}\nsteps = {steps}\n");
    }
    let scenario = Scenario::parse(&source, "s.toml").unwrap_or_else(|error| panic!("{error}"));
    let outcome = scenario.run(&RunSettings {
        iterations: Some(200),
        ..RunSettings::default()
    });
    (
        outcome.verdict.is_met(),
        outcome.finding().unwrap_or_default(),
    )
}

#[test]
fn steps_behave_as_in_asyncio() {
    // (expect, primitives, tasks, a part of the finding)
    let cases: &[(&str, &str, &[TaskSpec], &str)] = &[
        // A queue hands every item over, FIFO, and join waits for task_done.
        (
            "pass",
            "q = \"Queue(1)\"",
            &[
                ("producer", 1, r#"["put q 1", "put q 2", "join q"]"#),
                ("consumer", 1, r#"["a = get q", "task_done q", "b = get q", "assert a == 1 && b == 2", "task_done q"]"#),
            ],
            "",
        ),
        (
            "panic",
            "q = \"Queue\"",
            &[("worker", 1, r#"["put q 1", "get q", "task_done q", "task_done q"]"#)],
            "task 'worker' panicked: ValueError: task_done() called too many times on `q` by task 'worker' at s.toml:",
        ),
        // A get with nobody putting waits for good.
        ("hang", "q = \"Queue\"", &[("consumer", 1, r#"["get q"]"#)], "hang"),
        // notify(n) wakes n waiters; notify_all every one.
        (
            "pass",
            "c = \"Condition\"",
            &[
                ("waiter", 2, r#"[{ with = "c", do = ["wait c while items == 0"] }]"#),
                ("notifier", 1, r#"[{ with = "c", do = ["write items = 1", "notify c 2"] }]"#),
            ],
            "",
        ),
        (
            "pass",
            "c = \"Condition\"",
            &[
                ("waiter", 3, r#"[{ with = "c", do = ["wait c while items == 0"] }]"#),
                ("notifier", 1, r#"[{ with = "c", do = ["write items = 1", "notify_all c"] }]"#),
            ],
            "",
        ),
        // A notification nobody waits for yet is lost; `wait` without a
        // predicate then waits for good.
        (
            "hang",
            "c = \"Condition\"",
            &[
                ("notifier", 1, r#"[{ with = "c", do = ["notify c"] }]"#),
                ("waiter", 1, r#"["yield", { with = "c", do = ["wait c"] }]"#),
            ],
            "hang",
        ),
        // A BoundedSemaphore: an acquired permit that is never released is
        // a leak; a release without a permit is asyncio's ValueError.
        (
            "leak",
            "s = \"BoundedSemaphore(1)\"",
            &[("worker", 1, r#"["acquire s", "fail", "release s"]"#)],
            "leak: Semaphore 's' (created at s.toml:6:1) is still held by 'worker'",
        ),
        (
            "panic",
            "s = \"BoundedSemaphore(1)\"",
            &[("worker", 1, r#"["acquire s", "release s", "release s"]"#)],
            "ValueError: BoundedSemaphore released too many times: `s` released by task 'worker', which holds no permit of it, at s.toml:",
        ),
    ];
    for (expect, primitives, tasks, finding) in cases {
        let (met, found) = run(expect, primitives, tasks);
        assert!(met, "{expect} {tasks:?}: {found}");
        assert!(found.contains(finding), "{tasks:?}: {found}");
    }
}

/// asyncio's `RuntimeError`: a function's holdings are only known when it
/// runs, so a `notify` in one is checked then.
#[test]
fn notify_without_the_lock_is_a_runtime_error() {
    let source = r#"
description = "d"
expect = "panic"
[primitives]
c = "Condition"
[functions]
ping = ["notify c"]
[[task]]
name = "notifier"
steps = ["call ping"]
"#;
    let scenario = Scenario::parse(source, "n.toml").unwrap_or_else(|error| panic!("{error}"));
    let outcome = scenario.run(&RunSettings::default());
    assert!(outcome.verdict.is_met(), "{}", outcome.verdict);
    assert_eq!(
        outcome.finding().unwrap(),
        "task 'notifier' panicked: RuntimeError: cannot notify on un-acquired lock: \
         `notify c` by task 'notifier', which does not hold `c.lock`, at n.toml:7:10"
    );
}

#[test]
fn reports_name_the_scenario_lines_not_the_interpreter() {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios");
    let scenario =
        Scenario::load(&std::path::Path::new(directory).join("web_scraper_lost_update.toml"))
            .unwrap_or_else(|error| panic!("{error}"));
    let outcome = scenario.run(&RunSettings::default());
    let failure = outcome.report.failure.expect("the race is found");
    let report = failure.to_string();
    assert!(
        report.contains("web_scraper_lost_update.toml:18:6"),
        "the write: {report}"
    );
    assert!(report.contains("(created at "), "{report}");
    assert!(!report.contains("interpret.rs"), "{report}");
    let timeline = racecheck::timeline(&failure.trace, usize::MAX);
    assert!(!timeline.contains(".rs:"), "{timeline}");
}
