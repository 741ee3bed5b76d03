//! `racecheck profile FILE...`: the contention profile of each scenario's
//! exploration as a table (or JSON), and a what-if re-simulation of one
//! critical section.

use crate::output::aligned_table;
use crate::InputError;
use racecheck::{Contention, ContentionRow, Cost, Location, Section, WhatIf};
use racecheck_scenario::{RunSettings, Scenario};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// How to profile.
pub(crate) struct ProfileSettings {
    /// How to explore each scenario (profiling is switched on).
    pub(crate) run: RunSettings,
    /// Rows of the table per scenario.
    pub(crate) top: usize,
    /// JSON on stdout instead of tables.
    pub(crate) json: bool,
    /// The section to re-simulate without its time (`path:line:col`);
    /// `None`: the one with the largest predicted drop.
    pub(crate) what_if: Option<String>,
}

/// One scenario's profile, as `--json` prints it.
#[derive(Serialize)]
struct ScenarioProfile {
    path: String,
    executions: u64,
    mean_virtual_ns: f64,
    mean_steps: f64,
    /// The exploration stopped at a failure: the profile covers the
    /// executions up to it.
    failure: Option<String>,
    rows: Vec<ContentionRow>,
    sections: Vec<Section>,
    what_if: Option<WhatIf>,
}

/// Profiles each scenario under `paths` and prints the tables (or JSON).
pub(crate) fn profile(
    paths: &[PathBuf],
    settings: &ProfileSettings,
) -> Result<ExitCode, InputError> {
    let scenarios = crate::load_all(paths)?;
    let site = settings.what_if.as_deref().map(parse_site).transpose()?;
    let mut profiles = Vec::new();
    for scenario in &scenarios {
        profiles.push(profile_one(scenario, settings, site)?);
    }
    if settings.json {
        let json = serde_json::to_string_pretty(&profiles)?;
        say!("{json}");
    } else {
        for (position, profile) in profiles.iter().enumerate() {
            if position > 0 {
                say!("");
            }
            say_raw!("{}", table(profile, settings.top));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn profile_one(
    scenario: &Scenario,
    settings: &ProfileSettings,
    site: Option<Location>,
) -> Result<ScenarioProfile, InputError> {
    let run = RunSettings {
        profile: true,
        instant_section: None,
        ..settings.run.clone()
    };
    let outcome = scenario.run(&run);
    let contention = outcome
        .report
        .contention()
        .cloned()
        .unwrap_or_else(Contention::default);
    let sections = contention.sections();
    let site = site.or_else(|| sections.first().map(|section| section.location));
    let what_if = match site {
        Some(site) => {
            let without = scenario.run(&RunSettings {
                instant_section: Some(site),
                ..run.clone()
            });
            let measured = without.report.contention().ok_or_else(|| {
                InputError(format!(
                    "{}: the what-if run kept no profile",
                    scenario.name()
                ))
            })?;
            Some(contention.what_if(site, measured))
        }
        None => None,
    };
    let executions = contention.executions.max(1) as f64;
    Ok(ScenarioProfile {
        path: scenario.path().display().to_string(),
        executions: contention.executions,
        mean_virtual_ns: contention.mean_virtual_ns(),
        mean_steps: contention.steps as f64 / executions,
        failure: outcome.finding(),
        rows: contention.rows(),
        sections,
        what_if,
    })
}

/// `path:line:col`, as the profile prints sites.
fn parse_site(text: &str) -> Result<Location, InputError> {
    let invalid = || {
        InputError(format!(
            "--what-if `{text}`: expected a site as the profile prints it, `path:line:col`"
        ))
    };
    let mut parts = text.trim().rsplitn(3, ':');
    let column = parts.next().and_then(|part| part.parse::<u32>().ok());
    let line = parts.next().and_then(|part| part.parse::<u32>().ok());
    match (parts.next(), line, column) {
        (Some(file), Some(line), Some(column)) if !file.is_empty() && line > 0 => {
            Ok(Location::from_parts(file, line, column))
        }
        _ => Err(invalid()),
    }
}

/// The profile of one scenario as text: a headline, the top rows, the
/// blame of the top objects and the what-if.
fn table(profile: &ScenarioProfile, top: usize) -> String {
    let mut out = format!(
        "{}: {} execution{}, mean virtual time {}, mean {:.1} steps\n",
        profile.path,
        profile.executions,
        if profile.executions == 1 { "" } else { "s" },
        duration(profile.mean_virtual_ns),
        profile.mean_steps
    );
    if let Some(failure) = &profile.failure {
        out += &format!("  (stopped at a failure: {failure})\n");
    }
    if profile.rows.is_empty() {
        out += "  no lock, semaphore, queue or channel was used\n";
        return out;
    }
    let per_execution = |cost: Cost| {
        let executions = profile.executions.max(1) as f64;
        format!(
            "{} / {:.1}",
            duration(cost.ns as f64 / executions),
            cost.steps as f64 / executions
        )
    };
    let both = |cost: Cost| format!("{} / {}", duration(cost.ns as f64), cost.steps);
    let mut rows = vec![[
        "object",
        "acq",
        "contended",
        "wait/exec",
        "p50",
        "p99",
        "max",
        "hold/exec",
        "queue",
    ]
    .map(String::from)
    .to_vec()];
    for row in profile.rows.iter().take(top) {
        rows.push(vec![
            row.object.clone(),
            row.acquisitions.to_string(),
            row.contended.to_string(),
            per_execution(row.wait_total),
            both(row.wait_p50),
            both(row.wait_p99),
            both(row.wait_max),
            per_execution(row.hold_total),
            row.queue_max.to_string(),
        ]);
    }
    out += "  times as virtual time / steps (percentiles of each unit apart); wait and hold per \
            execution\n";
    for line in aligned_table(
        &rows,
        &[false, true, true, true, true, true, true, true, true],
    )
    .lines()
    {
        out += &format!("  {line}\n");
    }
    for row in profile
        .rows
        .iter()
        .take(top)
        .filter(|row| row.wait_total.ns > 0)
    {
        out += &format!("  {}: waits caused by holders taken at\n", row.object);
        for site in &row.holder_sites {
            out += &format!("    {}  {}\n", site.site, per_execution(site.wait));
        }
        out += "  and suffered by waiters blocked at\n";
        for site in &row.waiter_sites {
            out += &format!("    {}  {}\n", site.site, per_execution(site.wait));
        }
    }
    if let Some(what_if) = &profile.what_if {
        out += &format!(
            "what-if: if the critical section at {} took no time, total virtual time would drop \
             by {:.1}% (predicted); re-simulated: {:.1}%\n",
            what_if.site, what_if.predicted_drop_percent, what_if.measured_drop_percent
        );
    }
    out
}

/// A virtual duration in the largest unit that keeps it above 1:
/// `35ms`, `1.5ms`, `250us`, `0`.
fn duration(ns: f64) -> String {
    let (value, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "us")
    } else if ns > 0.0 {
        (ns, "ns")
    } else {
        return "0".to_string();
    };
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_unit() {
        let cases = [
            (0.0, "0"),
            (250.0, "250ns"),
            (1_500.0, "1.5us"),
            (35e6, "35ms"),
            (11.333e6, "11.33ms"),
            (2e9, "2s"),
        ];
        for (ns, text) in cases {
            assert_eq!(duration(ns), text, "{ns}");
        }
    }

    #[test]
    fn sites_parse_as_the_profile_prints_them() {
        let site = parse_site("scenarios/a.toml:19:7").ok().unwrap();
        assert_eq!(
            (site.file(), site.line(), site.column()),
            ("scenarios/a.toml", 19, 7)
        );
        for bad in [
            "scenarios/a.toml:19",
            "a.toml:x:1",
            ":1:2",
            "a.toml:0:1",
            "",
        ] {
            assert!(parse_site(bad).is_err(), "{bad}");
        }
    }
}
