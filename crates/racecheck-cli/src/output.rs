//! What `racecheck run` writes: the summary table, JUnit XML, JSON, and
//! saved failures for `racecheck replay --from`.

use crate::InputError;
use racecheck_scenario::{Outcome, Scenario};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The files a run writes besides its output.
pub(crate) struct Outputs {
    pub(crate) junit: Option<PathBuf>,
    pub(crate) json: Option<PathBuf>,
    pub(crate) save_failures: Option<PathBuf>,
    pub(crate) traces: Option<PathBuf>,
    pub(crate) html: Option<PathBuf>,
}

/// A scenario and how its run went.
pub(crate) type Result<'a> = (&'a Scenario, Outcome);

/// The longest finding shown in the table; the full text is in the report.
const FINDING_WIDTH_MAX: usize = 72;

impl Outputs {
    pub(crate) fn write(&self, results: &[Result<'_>]) -> std::result::Result<(), InputError> {
        if let Some(path) = &self.junit {
            write_file(path, &junit(results))?;
        }
        if let Some(path) = &self.json {
            let text = serde_json::to_string_pretty(&json(results))?;
            write_file(path, &(text + "\n"))?;
        }
        if let Some(directory) = &self.traces {
            std::fs::create_dir_all(directory)
                .map_err(|error| InputError(format!("{}: {error}", directory.display())))?;
            for (scenario, outcome) in results {
                if let Some(failure) = &outcome.report.failure {
                    let path = directory.join(format!("{}.trace.json", scenario.name()));
                    write_file(&path, &failure.chrome_trace())?;
                }
            }
        }
        if let Some(directory) = &self.html {
            write_html(directory, results)?;
        }
        if let Some(directory) = &self.save_failures {
            std::fs::create_dir_all(directory)
                .map_err(|error| InputError(format!("{}: {error}", directory.display())))?;
            for (scenario, outcome) in results {
                if let Some(failure) = &outcome.report.failure {
                    let saved = SavedFailure {
                        scenario: scenario.path().display().to_string(),
                        schedule: failure.schedule.to_string(),
                        finding: outcome.finding().unwrap_or_default(),
                    };
                    let path = directory.join(format!("{}.failure.toml", scenario.name()));
                    write_file(&path, &saved.to_text()?)?;
                }
            }
        }
        Ok(())
    }
}

fn write_file(path: &Path, text: &str) -> std::result::Result<(), InputError> {
    std::fs::write(path, text).map_err(|error| InputError(format!("{}: {error}", path.display())))
}

/// A failing schedule saved by `run --save-failures`: a small TOML file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedFailure {
    /// The scenario file, as given to `run`.
    pub(crate) scenario: String,
    /// The failing execution's schedule.
    pub(crate) schedule: String,
    /// Its finding, for people reading the file.
    #[serde(default)]
    pub(crate) finding: String,
}

impl SavedFailure {
    fn to_text(&self) -> std::result::Result<String, InputError> {
        Ok(format!(
            "# A failing execution saved by `racecheck run --save-failures`.\n\
             # Replay it with: racecheck replay --from <this file>\n{}",
            toml::to_string(self)?
        ))
    }

    pub(crate) fn read(path: &Path) -> std::result::Result<SavedFailure, InputError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| InputError(format!("{}: {error}", path.display())))?;
        toml::from_str(&text).map_err(|error| {
            InputError(format!(
                "{}: not a saved failure: {}",
                path.display(),
                error.message()
            ))
        })
    }
}

/// The summary table's columns.
const SUMMARY_HEADER: [&str; 6] = ["scenario", "expect", "verdict", "execs", "time", "finding"];

/// The summary table's rows, one per scenario, the finding cut to
/// `FINDING_WIDTH_MAX` characters.
fn summary_rows(results: &[Result<'_>]) -> Vec<[String; 6]> {
    results
        .iter()
        .map(|(scenario, outcome)| {
            let mut finding = outcome.finding().unwrap_or_else(|| "-".to_string());
            if finding.chars().count() > FINDING_WIDTH_MAX {
                finding = finding
                    .chars()
                    .take(FINDING_WIDTH_MAX - 3)
                    .collect::<String>()
                    + "...";
            }
            [
                scenario.name().to_string(),
                scenario.expectation().to_string(),
                if outcome.verdict.is_met() {
                    "met"
                } else {
                    "UNMET"
                }
                .to_string(),
                outcome.report.executions.to_string(),
                format_duration(outcome.elapsed),
                finding,
            ]
        })
        .collect()
}

/// One row per scenario: name, expectation, verdict, executions, time,
/// finding.
pub(crate) fn summary_table(results: &[Result<'_>]) -> String {
    let mut rows = vec![SUMMARY_HEADER.map(String::from).to_vec()];
    rows.extend(summary_rows(results).into_iter().map(Vec::from));
    aligned_table(&rows, &[false, false, false, true, true, false])
}

/// `rows` (the header first) as columns two spaces apart, each as wide as
/// its widest cell, right-aligned where `right` says; the last column is
/// not padded.
pub(crate) fn aligned_table(rows: &[Vec<String>], right: &[bool]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        widths.resize(widths.len().max(row.len()), 0);
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column > 0 {
                line += "  ";
            }
            let pad = " ".repeat(widths[column] - cell.chars().count());
            if right.get(column).copied().unwrap_or(false) {
                line += &pad;
                line += cell;
            } else {
                line += cell;
                if column + 1 < row.len() {
                    line += &pad;
                }
            }
        }
        let _ = writeln!(out, "{line}");
    }
    out
}

/// Writes `<scenario>.html` for each failure (`Failure::html`) and an
/// `index.html` with the summary table, linking to them.
fn write_html(directory: &Path, results: &[Result<'_>]) -> std::result::Result<(), InputError> {
    std::fs::create_dir_all(directory)
        .map_err(|error| InputError(format!("{}: {error}", directory.display())))?;
    let mut index = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>racecheck run</title>\n<style>body{font-family:system-ui,sans-serif;margin:24px}\
         table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
         .unmet{background:#fde0dc}</style>\n</head>\n<body>\n<h1>racecheck run</h1>\n<table>\n<tr>",
    );
    for cell in SUMMARY_HEADER {
        let _ = write!(index, "<th>{cell}</th>");
    }
    index.push_str("<th>report</th></tr>\n");
    for ((scenario, outcome), row) in results.iter().zip(summary_rows(results)) {
        let class = if outcome.verdict.is_met() {
            "met"
        } else {
            "unmet"
        };
        let _ = write!(index, "<tr class=\"{class}\">");
        for cell in &row {
            let _ = write!(index, "<td>{}</td>", escape(cell));
        }
        match &outcome.report.failure {
            Some(failure) => {
                let file = format!("{}.html", scenario.name());
                write_file(&directory.join(&file), &failure.html())?;
                let _ = writeln!(
                    index,
                    "<td><a href=\"{}\">{}</a></td></tr>",
                    escape(&percent_encode(&file)),
                    escape(&file)
                );
            }
            None => index.push_str("<td>-</td></tr>\n"),
        }
    }
    index.push_str("</table>\n</body>\n</html>\n");
    write_file(&directory.join("index.html"), &index)
}

/// A file name as a relative URL: bytes other than letters, digits and
/// `-._~` percent-encoded.
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn format_duration(duration: std::time::Duration) -> String {
    if duration.as_secs_f64() >= 1.0 {
        format!("{:.2}s", duration.as_secs_f64())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// The report text of a scenario whose expectation is not met.
fn unmet_text(outcome: &Outcome) -> String {
    match &outcome.report.failure {
        Some(failure) => format!("{}\n\n{failure}", outcome.verdict),
        None => format!("{}\n({})", outcome.verdict, outcome.report.summary()),
    }
}

/// JUnit XML: one `<testsuite>`, one `<testcase>` per scenario, a
/// `<failure>` with the report when the expectation is not met.
pub(crate) fn junit(results: &[Result<'_>]) -> String {
    let failures = results
        .iter()
        .filter(|(_, outcome)| !outcome.verdict.is_met())
        .count();
    let total: f64 = results
        .iter()
        .map(|(_, outcome)| outcome.elapsed.as_secs_f64())
        .sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"racecheck scenarios\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{total:.3}\">",
        results.len()
    );
    for (scenario, outcome) in results {
        let _ = write!(
            out,
            "  <testcase classname=\"racecheck.scenarios\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
            escape_attribute(scenario.name()),
            escape_attribute(&scenario.path().display().to_string()),
            outcome.elapsed.as_secs_f64()
        );
        if outcome.verdict.is_met() {
            let finding = outcome
                .finding()
                .map(|finding| format!("expect {}: {finding}", scenario.expectation()));
            match finding {
                Some(finding) => {
                    let _ = writeln!(
                        out,
                        ">\n    <system-out>{}</system-out>\n  </testcase>",
                        escape(&finding)
                    );
                }
                None => out.push_str("/>\n"),
            }
        } else {
            let message = match &outcome.verdict {
                racecheck_scenario::Verdict::Unmet { reason } => reason.clone(),
                racecheck_scenario::Verdict::Met => String::new(),
            };
            let _ = writeln!(
                out,
                ">\n    <failure message=\"{}\" type=\"unmet expectation\">{}</failure>\n  </testcase>",
                escape_attribute(&message),
                escape(&unmet_text(outcome))
            );
        }
    }
    out.push_str("</testsuite>\n");
    out
}

/// Text for XML content or an attribute value: markup characters escaped,
/// and characters XML 1.0 cannot hold (most control characters) dropped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\r' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {}
            c => out.push(c),
        }
    }
    out
}

/// Text for an attribute value: as [`escape`], with line breaks kept as
/// character references (an attribute's raw line breaks read as spaces).
fn escape_attribute(text: &str) -> String {
    escape(text).replace('\n', "&#10;")
}

#[derive(Serialize)]
struct JsonScenario {
    name: String,
    path: String,
    expectation: String,
    verdict: &'static str,
    reason: Option<String>,
    executions: u64,
    elapsed_ms: u64,
    finding: Option<String>,
    schedule: Option<String>,
}

fn json(results: &[Result<'_>]) -> Vec<JsonScenario> {
    results
        .iter()
        .map(|(scenario, outcome)| JsonScenario {
            name: scenario.name().to_string(),
            path: scenario.path().display().to_string(),
            expectation: scenario.expectation().to_string(),
            verdict: if outcome.verdict.is_met() {
                "met"
            } else {
                "unmet"
            },
            reason: match &outcome.verdict {
                racecheck_scenario::Verdict::Unmet { reason } => Some(reason.clone()),
                racecheck_scenario::Verdict::Met => None,
            },
            executions: outcome.report.executions,
            elapsed_ms: u64::try_from(outcome.elapsed.as_millis()).unwrap_or(u64::MAX),
            finding: outcome.finding(),
            schedule: outcome
                .report
                .failure
                .as_ref()
                .map(|failure| failure.schedule.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\u{1b}[0m\nend"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;[0m\nend"
        );
        assert_eq!(escape_attribute("two\nlines"), "two&#10;lines");
    }

    #[test]
    fn links_percent_encode_what_a_url_cannot_hold() {
        assert_eq!(
            percent_encode("web scraper#1é.html"),
            "web%20scraper%231%C3%A9.html"
        );
    }
}
