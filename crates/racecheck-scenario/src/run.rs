//! Running a scenario: settings, the exploration, and the verdict on its
//! expectation.

use crate::ast::{Expectation, FindingKind};
use racecheck::sched::Shard;
use racecheck::{Check, FailureKind, Finding, Location, Report, Strategy};
use std::fmt;
use std::time::Duration;

/// How to explore a scenario.
///
/// ```
/// use racecheck_scenario::RunSettings;
///
/// let settings = RunSettings { seed: 7, iterations: Some(50), ..RunSettings::default() };
/// assert_eq!(settings.strategy, racecheck::Strategy::Random);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSettings {
    /// The strategy (random by default).
    pub strategy: Strategy,
    /// Executions at most; `None` takes the scenario's `iterations`, or
    /// 1000.
    pub iterations: Option<u64>,
    /// The seed of random and PCT choices.
    pub seed: u64,
    /// The part of the iterations to explore (random and PCT).
    pub shard: Shard,
    /// Threads (random strategy only; 1 runs on the caller's thread).
    pub jobs: usize,
    /// Steps per execution at most; `None` takes the scenario's
    /// `max_steps`, or racecheck's default.
    pub max_steps: Option<u32>,
    /// Minimise a failure found by random or PCT search to fewer
    /// preemptions before reporting it.
    pub minimize: bool,
    /// Gather the contention profile (`report.contention()`).
    pub profile: bool,
    /// A what-if: the sleeps made while holding a lock or permits taken at
    /// this step (`path:line:col`, as the profile names sites) take no
    /// virtual time.
    pub instant_section: Option<Location>,
}

impl Default for RunSettings {
    fn default() -> RunSettings {
        RunSettings {
            strategy: Strategy::Random,
            iterations: None,
            seed: 0,
            shard: Shard::default(),
            jobs: 1,
            max_steps: None,
            minimize: true,
            profile: false,
            instant_section: None,
        }
    }
}

/// Whether a run met its scenario's expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// As expected: it passed, or it found the bug it demonstrates.
    Met,
    /// Not as expected, and why.
    Unmet {
        /// A sentence: what was expected and what happened.
        reason: String,
    },
}

impl Verdict {
    /// Whether the expectation was met.
    pub fn is_met(&self) -> bool {
        matches!(self, Verdict::Met)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Met => f.write_str("met"),
            Verdict::Unmet { reason } => write!(f, "unmet: {reason}"),
        }
    }
}

/// The result of running (or replaying) a scenario.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// racecheck's report: executions, the first failure with its replay
    /// schedule and trace, warnings.
    pub report: Report,
    /// The verdict on the scenario's expectation.
    pub verdict: Verdict,
    /// Wall-clock time of the exploration (minimisation included).
    pub elapsed: Duration,
    /// For a replay, the scenario steps in the order they started, one
    /// line each (`task  line:col  step`); empty for explorations.
    pub steps: Vec<String>,
}

impl Outcome {
    /// One line naming the finding: the failure's headline, or else a
    /// potential-deadlock warning's; `None` if there is neither.
    pub fn finding(&self) -> Option<String> {
        let first_line = |text: String| short(text.lines().next().unwrap_or(""));
        match &self.report.failure {
            Some(failure) => Some(headline(&failure.kind)),
            None => self
                .report
                .warnings
                .iter()
                .find(|warning| matches!(warning, Finding::PotentialDeadlock(_)))
                .map(|warning| format!("warning: {}", first_line(warning.to_string()))),
        }
    }
}

/// The checks that make `expectation` decidable: the kind a "no ..."
/// expectation is about fails, the others only warn.
pub(crate) fn builder_for(
    expectation: Expectation,
    settings: &RunSettings,
    iterations: u64,
    max_steps: Option<u32>,
) -> racecheck::Builder {
    let mut builder = racecheck::Builder::new()
        .seed(settings.seed)
        .iterations(iterations)
        .strategy(settings.strategy.clone())
        .jobs(settings.jobs.max(1))
        .minimize_failures(settings.minimize)
        .profile(settings.profile);
    if let Some(site) = settings.instant_section {
        builder = builder.instant_section(site);
    }
    if settings.shard != Shard::default() {
        builder = builder.shard(settings.shard.index, settings.shard.count);
    }
    if let Some(max_steps) = max_steps {
        builder = builder.max_steps(max_steps);
    }
    match expectation {
        Expectation::NoRace => builder.checks(Check::Warn).races(Check::Fail),
        Expectation::NoDeadlock => builder.checks(Check::Warn).deadlocks(Check::Fail),
        Expectation::Pass | Expectation::Find(_) => builder,
    }
}

fn kind_of(failure: &FailureKind) -> Option<FindingKind> {
    match failure {
        FailureKind::Panic { .. } => Some(FindingKind::Panic),
        FailureKind::Finding(finding) => Some(finding_kind(finding)),
        _ => None,
    }
}

fn finding_kind(finding: &Finding) -> FindingKind {
    match finding {
        Finding::Race(_) => FindingKind::Race,
        Finding::Deadlock(_) => FindingKind::Deadlock,
        Finding::Hang(_) => FindingKind::Hang,
        Finding::Leak(_) => FindingKind::Leak,
        Finding::PotentialDeadlock(_) => FindingKind::PotentialDeadlock,
    }
}

/// One line naming a failure, for tables and lists: a panic's first line
/// of message (which names the scenario's `path:line:col`), or a finding's
/// first line.
///
/// ```
/// let panic = racecheck::FailureKind::Panic {
///     task: racecheck::TaskId(1),
///     task_name: "worker".into(),
///     message: "assertion failed: `n > 0` (n = 0) at q.toml:9:6\nmore".into(),
///     location: None,
/// };
/// assert_eq!(
///     racecheck_scenario::headline(&panic),
///     "task 'worker' panicked: assertion failed: `n > 0` (n = 0) at q.toml:9:6"
/// );
/// ```
pub fn headline(kind: &FailureKind) -> String {
    match kind {
        FailureKind::Panic {
            task_name, message, ..
        } => format!(
            "task '{task_name}' panicked: {}",
            message.lines().next().unwrap_or("")
        ),
        kind => short(kind.to_string().lines().next().unwrap_or("")),
    }
}

/// A finding's first line, without the colon that introduces its details.
fn short(line: &str) -> String {
    line.trim().trim_end_matches(':').to_string()
}

/// The verdict on `report` for `expectation`.
pub(crate) fn judge(expectation: Expectation, report: &Report) -> Verdict {
    let failure = report.failure.as_ref();
    if let Some(failure) = failure.filter(|failure| failure.kind.is_schedule_error()) {
        return Verdict::Unmet {
            reason: headline(&failure.kind),
        };
    }
    let unmet = |reason: String| Verdict::Unmet { reason };
    match expectation {
        Expectation::Pass => match failure {
            None => Verdict::Met,
            Some(failure) => unmet(format!(
                "expected no finding, found: {}",
                headline(&failure.kind)
            )),
        },
        Expectation::NoRace | Expectation::NoDeadlock => {
            let about = if expectation == Expectation::NoRace {
                FindingKind::Race
            } else {
                FindingKind::Deadlock
            };
            match failure {
                None => Verdict::Met,
                Some(failure) if kind_of(&failure.kind) == Some(about) => unmet(format!(
                    "expected no {}, found: {}",
                    about.name(),
                    headline(&failure.kind)
                )),
                Some(failure) => unmet(format!(
                    "the exploration stopped at another failure before its budget: {}",
                    headline(&failure.kind)
                )),
            }
        }
        Expectation::Find(kind) => {
            let in_failure = failure.is_some_and(|failure| {
                std::iter::once(&failure.kind)
                    .chain(&failure.also)
                    .any(|other| kind_of(other) == Some(kind))
            });
            let in_warnings = report
                .warnings
                .iter()
                .any(|warning| finding_kind(warning) == kind);
            if in_failure || in_warnings {
                return Verdict::Met;
            }
            match failure {
                Some(failure) => unmet(format!("expected a {}, found instead: {}", kind.name(), headline(&failure.kind))),
                None => unmet(format!(
                    "expected a {}, but none of the {} executions had one (raise the iterations, or try --strategy pct)",
                    kind.name(),
                    report.executions
                )),
            }
        }
    }
}
