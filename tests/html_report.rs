//! `Failure::html()`: one self-contained page per failure, the same bytes
//! for the same failure, user text escaped, and rendered by a real headless
//! Chromium (Debian's `chromium`): the pictures in the DOM, the copy button,
//! the script run without errors.
//!
//! Without `/usr/bin/chromium` the browser test says loudly that it did not
//! run and passes, unless `RACECHECK_REQUIRE_BROWSER=1` (as in CI), where it
//! fails.

mod finding_programs;

use finding_programs::{deadlock, leak, lost_wakeup, two_writers};
use racecheck::{Builder, Failure, PREDICTED_RACE};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

fn race() -> Failure {
    finding_programs::race("scraper-1")
}

fn panic() -> Failure {
    let report = Builder::new()
        .iterations(1)
        .run(|| async { panic!("boom") });
    report.failure.expect("a panic")
}

/// What every page must have: one document, the pictures, the copy button,
/// the script, and nothing fetched from elsewhere.
fn assert_self_contained_page(page: &str, finding: bool) {
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.matches("<html").count(), 1);
    assert!(page.trim_end().ends_with("</html>"));
    assert_eq!(page.matches("<svg class=\"swimlanes\"").count(), 1);
    let graphs = usize::from(finding);
    assert_eq!(page.matches("<svg class=\"finding-graph\"").count(), graphs);
    assert_eq!(page.matches("<svg class=\"legend\"").count(), graphs);
    assert!(page.contains("<button class=\"copy\""));
    assert_eq!(page.matches("<script>").count(), 1);
    for external in ["https://", "<link", " src=", "@import", "url(http"] {
        assert!(!page.contains(external), "{external} in the page");
    }
    let http = page.matches("http://").count();
    let namespaces = page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(http, namespaces, "only SVG namespaces name a URL");
}

#[test]
fn every_kind_of_failure_has_a_self_contained_page() {
    for (failure, finding) in [
        (race(), true),
        (deadlock(), true),
        (lost_wakeup(), true),
        (leak(), true),
        (panic(), false),
    ] {
        let page = failure.html();
        assert_self_contained_page(&page, finding);
        let sentence = failure.kind.to_string();
        let first_line = sentence.lines().next().unwrap();
        let escaped = first_line.replace('\'', "&#39;");
        assert!(page.contains(&escaped), "{first_line}");
    }
}

#[test]
fn the_deadlock_picture_in_the_page_draws_every_philosopher_and_fork() {
    let page = deadlock().html();
    let start = page.find("<svg class=\"finding-graph\"").unwrap();
    let picture = &page[start..start + page[start..].find("</svg>").unwrap()];
    for seat in 0..5 {
        for name in [format!("philosopher-{seat}"), format!("fork-{seat}")] {
            assert!(picture.contains(&name), "{name} in the picture");
        }
    }
    assert_eq!(
        picture.matches("is held by").count(),
        0,
        "the legend is apart"
    );
    assert!(page.contains("arrow: is held by"));
}

#[test]
fn a_panic_page_leads_with_the_message() {
    let page = panic().html();
    assert!(page.contains("<p class=\"sentence\">task &#39;main&#39; panicked"));
    assert!(page.contains("boom</p>"), "the message in the headline");
}

#[test]
fn the_same_failure_gives_the_same_bytes() {
    for make in [race, deadlock, lost_wakeup] {
        let (first, second) = (make(), make());
        assert_eq!(first.schedule, second.schedule);
        assert_eq!(first.html(), second.html());
        assert_eq!(first.html(), first.html());
    }
}

#[test]
fn a_predicted_race_says_so_on_its_page() {
    let page = two_writers(false).html();
    assert!(page.contains("<p class=\"predicted\">"));
    assert!(page.contains(&PREDICTED_RACE.replace('\'', "&#39;")));
    let misbehaved = two_writers(true);
    assert!(!misbehaved.also.is_empty(), "{misbehaved}");
    assert!(!misbehaved.html().contains("<p class=\"predicted\">"));
}

#[test]
fn task_names_are_escaped_in_text_and_pictures() {
    let name = "<script>alert('x')</script>&\"";
    let page = finding_programs::race(name).html();
    assert!(!page.contains("<script>alert"));
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
    assert_eq!(page.matches("<script>").count(), 1, "only the page's own");
}

/// Runs Chromium headless on `page` with the flags that keep it off the
/// network; returns its stdout and stderr.
fn chromium(page: &Path, profile: &Path, action: &[&str]) -> (String, String) {
    let url = format!("file://{}", page.display());
    let output = Command::new("timeout")
        .arg("120")
        .arg(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(action)
        .arg(&url)
        .output()
        .expect("chromium starts");
    assert!(output.status.success(), "chromium failed: {output:?}");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("racecheck-html-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("a scratch directory");
    directory
}

#[test]
fn the_page_renders_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        let required = std::env::var("RACECHECK_REQUIRE_BROWSER").is_ok_and(|value| value == "1");
        assert!(
            !required,
            "RACECHECK_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install -y chromium)"
        );
        // Past the test harness's capture, so that the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** html_report: SKIPPED the browser test: {CHROMIUM} is missing. \
             Install it with `apt-get install -y chromium` (CI sets \
             RACECHECK_REQUIRE_BROWSER=1 and fails instead) ***\n"
        );
        return;
    }
    let directory = scratch("browser");
    for (name, failure) in [("race", race()), ("deadlock", deadlock())] {
        let page = directory.join(format!("{name}.html"));
        std::fs::write(&page, failure.html()).unwrap();
        let profile = directory.join(format!("profile-{name}"));
        let (dom, log) = chromium(&page, &profile, &["--dump-dom"]);
        assert!(
            dom.contains("data-racecheck-ready=\"yes\""),
            "the page's script ran to its end: {dom}"
        );
        let console: Vec<&str> = log
            .lines()
            .filter(|line| line.contains(":CONSOLE"))
            .collect();
        assert!(console.is_empty(), "console messages: {console:?}");
        assert_eq!(dom.matches("<svg class=\"finding-graph\"").count(), 1);
        assert_eq!(dom.matches("<svg class=\"swimlanes\"").count(), 1);
        assert!(
            dom.matches("<rect").count() > 10,
            "the pictures have shapes"
        );
        assert!(dom.contains("<button class=\"copy\""));
        let sentence = failure.kind.to_string();
        let first_line = sentence.lines().next().unwrap();
        assert!(dom.contains(first_line), "{first_line} in the DOM");

        let screenshot = directory.join(format!("{name}.png"));
        let profile = directory.join(format!("profile-{name}-shot"));
        chromium(
            &page,
            &profile,
            &[
                &format!("--screenshot={}", screenshot.display()),
                "--window-size=1200,1600",
            ],
        );
        let png = std::fs::read(&screenshot).expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(
            png.len() > 20_000,
            "a page with pictures: {} bytes",
            png.len()
        );
    }
    let _ = std::fs::remove_dir_all(&directory);
}
