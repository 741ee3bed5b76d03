//! The `racecheck` binary, run as CI runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn racecheck(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racecheck"))
        .args(arguments)
        .current_dir(workspace())
        .output()
        .expect("the binary runs")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> String {
    format!("crates/racecheck-cli/tests/fixtures/{name}")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh scratch directory under the target directory.
fn scratch(name: &str) -> PathBuf {
    let directory = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("scratch directory");
    directory
}

#[test]
fn the_catalog_meets_every_expectation() {
    let output = racecheck(&["run", "scenarios/", "--iterations", "100"]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("web_scraper_lost_update"), "{stdout}");
    assert!(stdout.contains("condition_wait_no_loop"), "{stdout}");
    assert!(stdout.contains(" 0 unmet"), "{stdout}");
    assert!(
        stdout.contains("web_scraper_lost_update: data race on Shared 'rows' (created at scenarios/web_scraper_lost_update.toml:10:1)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "replay: racecheck replay scenarios/web_scraper_lost_update.toml --schedule rc1:"
        ),
        "{stdout}"
    );
    // Not a terminal: no progress bar in the logs.
    assert!(
        !text(&output.stderr).contains('['),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_fix_that_still_races_fails_with_its_report() {
    let output = racecheck(&["run", &fixture("still_races.toml")]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("UNMET"), "{stdout}");
    assert!(
        stdout.contains(
            "=== still_races: unmet: expected no finding, found: data race on Shared 'rows'"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("timeline (")
            && stdout.contains("racecheck replay ")
            && stdout.contains("still_races.toml --schedule rc1:"),
        "the full report is printed: {stdout}"
    );
}

#[test]
fn a_malformed_scenario_is_an_input_error_with_its_location() {
    let output = racecheck(&["run", &fixture("malformed.toml")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("racecheck: crates/racecheck-cli/tests/fixtures/malformed.toml:8:25: unknown step `relase`"),
        "{stderr}"
    );
    let output = racecheck(&["run", "no/such/dir"]);
    assert_eq!(output.status.code(), Some(2));
    let output = racecheck(&["run", "scenarios/", "--depth", "2"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "--depth without pct is a usage error"
    );
}

#[test]
fn junit_and_json_reports_parse() {
    let directory = scratch("reports");
    let junit = directory.join("junit.xml");
    let json = directory.join("report.json");
    let output = racecheck(&[
        "run",
        "scenarios/web_scraper_lost_update.toml",
        "scenarios/web_scraper_locked.toml",
        &fixture("still_races.toml"),
        "--iterations",
        "50",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));

    let xml = std::fs::read_to_string(&junit).unwrap();
    let document =
        roxmltree::Document::parse(&xml).unwrap_or_else(|error| panic!("{error}\n{xml}"));
    let suite = document.root_element();
    assert_eq!(suite.tag_name().name(), "testsuite");
    assert_eq!(suite.attribute("tests"), Some("3"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    let cases: Vec<_> = suite
        .children()
        .filter(|node| node.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 3);
    let failing = cases
        .iter()
        .find(|case| case.attribute("name") == Some("still_races"))
        .unwrap();
    let failure = failing
        .children()
        .find(|node| node.has_tag_name("failure"))
        .unwrap();
    assert!(failure
        .attribute("message")
        .unwrap()
        .contains("data race on Shared 'rows'"));
    assert!(failure.text().unwrap().contains("racecheck replay "));

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let scenarios = report.as_array().unwrap();
    assert_eq!(scenarios.len(), 3);
    let lost = &scenarios[0];
    assert_eq!(lost["name"], "web_scraper_lost_update");
    assert_eq!(lost["expectation"], "race");
    assert_eq!(lost["verdict"], "met");
    assert!(lost["schedule"].as_str().unwrap().starts_with("rc1:"));
    assert!(lost["executions"].as_u64().unwrap() >= 1);
    assert!(lost["elapsed_ms"].is_u64());
    assert_eq!(scenarios[1]["finding"], serde_json::Value::Null);
    assert_eq!(scenarios[2]["verdict"], "unmet");
}

#[test]
fn a_saved_failure_replays_with_its_whole_timeline() {
    let directory = scratch("saved");
    let output = racecheck(&[
        "run",
        "scenarios/bank_transfer_deadlock.toml",
        "--save-failures",
        directory.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    let saved = directory.join("bank_transfer_deadlock.failure.toml");
    assert!(saved.exists());

    let output = racecheck(&["replay", "--from", saved.to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a finding: {stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("timeline ("), "{stdout}");
    assert!(
        !stdout.contains("timeline (last"),
        "the whole timeline: {stdout}"
    );
    assert!(stdout.contains("racecheck: deadlock"), "{stdout}");
    assert!(stdout.contains("alice_to_bob"), "{stdout}");
    // Events are located in the scenario: `lock alice_lock` is its `with`.
    assert!(
        stdout.contains("lock Mutex 'alice_lock'")
            && stdout.contains("scenarios/bank_transfer_deadlock.toml:19:5"),
        "{stdout}"
    );
    assert!(!stdout.contains("interpret.rs"), "{stdout}");
    assert!(
        stdout.contains("scenario steps as they started:"),
        "{stdout}"
    );
    assert!(stdout.contains("expectation deadlock: met"), "{stdout}");
}

#[test]
fn explain_writes_the_happens_before_graph() {
    let directory = scratch("explain");
    let run = racecheck(&[
        "run",
        "scenarios/web_scraper_lost_update.toml",
        "--json",
        directory.join("r.json").to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(directory.join("r.json")).unwrap()).unwrap();
    let schedule = report[0]["schedule"].as_str().unwrap().to_string();
    let dot = directory.join("race.dot");
    let output = racecheck(&[
        "explain",
        "scenarios/web_scraper_lost_update.toml",
        "--schedule",
        &schedule,
        "--dot",
        dot.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let graph = std::fs::read_to_string(&dot).unwrap();
    assert!(graph.starts_with("digraph"), "{graph}");
    assert!(text(&output.stdout).contains("data race on Shared 'rows'"));
}

#[test]
fn explain_and_run_write_chrome_traces() {
    let directory = scratch("traces");
    let traces = directory.join("traces");
    let run = racecheck(&[
        "run",
        "scenarios/web_scraper_lost_update.toml",
        "--json",
        directory.join("r.json").to_str().unwrap(),
        "--traces",
        traces.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let saved = traces.join("web_scraper_lost_update.trace.json");
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    assert!(events.iter().any(|event| event["cat"] == "finding"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(directory.join("r.json")).unwrap()).unwrap();
    let schedule = report[0]["schedule"].as_str().unwrap().to_string();
    let explained = directory.join("explained.json");
    let output = racecheck(&[
        "explain",
        "scenarios/web_scraper_lost_update.toml",
        "--schedule",
        &schedule,
        "--trace",
        explained.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("Chrome trace"));
    let again = std::fs::read_to_string(&explained).unwrap();
    assert_eq!(
        again,
        std::fs::read_to_string(&saved).unwrap(),
        "the same execution"
    );
}

#[test]
fn list_shows_the_catalog() {
    let output = racecheck(&["list"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout.lines().count() >= 20, "{stdout}");
    assert!(stdout.contains("bank_transfer_deadlock"));
    assert!(stdout.contains("Two transfers lock their accounts in opposite orders: deadlock"));
}

#[test]
fn a_damaged_schedule_is_an_input_error() {
    let output = racecheck(&[
        "replay",
        "scenarios/web_scraper_locked.toml",
        "--schedule",
        "rc1:!!",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("invalid schedule"));
}

#[test]
fn reports_show_the_expected_findings_in_full() {
    let output = racecheck(&[
        "run",
        "scenarios/web_scraper_lost_update.toml",
        "scenarios/web_scraper_locked.toml",
        "--reports",
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("data race on Shared 'rows'"), "{stdout}");
    assert!(
        stdout.contains("write by 'scraper-")
            && stdout.contains("web_scraper_lost_update.toml:18:"),
        "the race names the scenario's lines: {stdout}"
    );
    assert!(stdout.contains("timeline ("), "{stdout}");
    assert!(!stdout.contains("interpret.rs"), "{stdout}");
    assert!(
        stdout.contains("replay this execution exactly with:\n  racecheck replay scenarios/web_scraper_lost_update.toml --schedule rc1:"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("cargo test"),
        "the CLI replays with itself: {stdout}"
    );
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_racecheck"))
        .args(["run", "scenarios/", "--iterations", "20"])
        .current_dir(workspace())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("stderr reads");
    let status = child.wait().expect("the binary ends");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(141));
}

#[test]
fn run_writes_an_html_page_per_failure_and_an_index() {
    let directory = scratch("html");
    let pages = directory.join("pages");
    let output = racecheck(&[
        "run",
        "scenarios/web_scraper_lost_update.toml",
        "scenarios/web_scraper_locked.toml",
        "scenarios/dining_philosophers_deadlock.toml",
        "--html",
        pages.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let index = std::fs::read_to_string(pages.join("index.html")).unwrap();
    assert_eq!(index.matches("<tr class=").count(), 3, "{index}");
    for name in ["web_scraper_lost_update", "dining_philosophers_deadlock"] {
        assert!(
            index.contains(&format!("<a href=\"{name}.html\">")),
            "{index}"
        );
        let page = std::fs::read_to_string(pages.join(format!("{name}.html"))).unwrap();
        assert!(page.contains("<svg class=\"finding-graph\""));
        assert!(page.contains(&format!(
            "racecheck replay scenarios/{name}.toml --schedule rc1:"
        )));
    }
    assert!(!pages.join("web_scraper_locked.html").exists(), "it passed");
}

#[test]
fn an_unwritable_html_directory_is_an_input_error() {
    let directory = scratch("html-unwritable");
    let file = directory.join("a-file");
    std::fs::write(&file, "").unwrap();
    let inside = file.join("pages");
    let output = racecheck(&[
        "run",
        "scenarios/web_scraper_lost_update.toml",
        "--html",
        inside.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(inside.to_str().unwrap()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn profile_prints_the_contention_and_the_what_if() {
    let slow = "scenarios/web_scraper_lock_across_fetch.toml";
    let fixed = "scenarios/web_scraper_lock_around_write.toml";
    let output = racecheck(&["profile", slow, fixed]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("{slow}: 200 executions, mean virtual time 35ms")),
        "{stdout}"
    );
    assert!(
        stdout.contains("Mutex 'db_lock'  600        400  33ms / 10.5"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "what-if: if the critical section at {slow}:19:5 took no time, total virtual \
             time would drop by 94.3% (predicted); re-simulated: 94.3%"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("Mutex 'db_lock'  600        400  3ms / 5.0"),
        "{stdout}"
    );
    // The same run prints the same bytes.
    assert_eq!(racecheck(&["profile", slow, fixed]).stdout, output.stdout);
}

#[test]
fn profile_json_has_a_row_per_object() {
    let output = racecheck(&[
        "profile",
        "scenarios/web_scraper_lock_around_write.toml",
        "--json",
        "--iterations",
        "20",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let profile = &json[0];
    assert_eq!(profile["executions"], 20);
    assert_eq!(profile["rows"][0]["object"], "Mutex 'db_lock'");
    assert_eq!(profile["rows"][0]["wait_total"]["ns"], 20 * 3_000_000);
    assert_eq!(profile["what_if"]["predicted_drop_percent"], 20.0);
}

#[test]
fn profile_rejects_bad_input_with_a_sentence() {
    let malformed = fixture("malformed.toml");
    let cases: [(&[&str], &str); 3] = [
        (&["profile", "no/such.toml"], "no/such.toml"),
        (
            &["profile", "scenarios/web_scraper_locked.toml", "--what-if", "scraper.toml:19"],
            "--what-if `scraper.toml:19`: expected a site as the profile prints it, `path:line:col`",
        ),
        (&["profile", &malformed], "malformed.toml:8:25: unknown step `relase`"),
    ];
    for (arguments, message) in cases {
        let output = racecheck(arguments);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(stderr.contains(message), "{arguments:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
