//! A failing execution, and its human form: what went wrong, where it was
//! found, the timeline of the last steps.

use crate::Divergence;
use racecheck_detect::Finding;
use racecheck_runtime::RuntimeFailure;
use racecheck_trace::{Location, Schedule, TaskId, Trace};
use std::fmt::{self, Write};

/// A failing execution: what went wrong, and how to get there again.
///
/// Its `Display` is the report users read: the failure, where it was found,
/// the timeline of the last steps, and, when the front end that ran the
/// exploration filled in [`Failure::replay`], how to replay it.
#[derive(Clone, Debug)]
pub struct Failure {
    /// What went wrong.
    pub kind: FailureKind,
    /// The 0-based iteration of the failing execution.
    pub iteration: u64,
    /// The exploration's seed.
    pub seed: u64,
    /// The strategy's name.
    pub strategy: &'static str,
    /// The scheduling choices up to the failure: replaying them reproduces it.
    pub schedule: Schedule,
    /// Everything that happened up to the failure.
    pub trace: Trace,
    /// Other failures of the same execution, less important than `kind`.
    pub also: Vec<FailureKind>,
    /// Set when replaying the schedule did not give the same events: the
    /// failure may not reproduce (see [`Divergence`]).
    pub nondeterminism: Option<Divergence>,
    /// `(before, after)`: the schedule was minimised from `before`
    /// preemptions to `after` (see [`crate::minimize`]).
    pub minimized: Option<(usize, usize)>,
    /// Commands that replay this execution, in the syntax of the front end
    /// that ran the exploration (the `racecheck` crate writes a
    /// `RACECHECK_REPLAY=… cargo test …` line, the CLI a `racecheck replay`
    /// line); empty from this crate, which knows no front end.
    pub replay: Vec<String>,
}

impl Failure {
    /// The picture of the finding as Graphviz DOT (see
    /// [`racecheck_detect::finding_graph`]): a race's two paths, a
    /// deadlock's cycle, ...; `None` for failures that are not findings (a
    /// panic, the step limit).
    ///
    /// ```
    /// use racecheck_explore::{explore, Config};
    ///
    /// let report = explore(&Config::default(), || async { panic!("boom") });
    /// assert!(report.failure.unwrap().dot().is_none());
    /// ```
    pub fn dot(&self) -> Option<String> {
        match &self.kind {
            FailureKind::Finding(finding) => {
                Some(racecheck_detect::finding_dot(&self.trace, finding))
            }
            _ => None,
        }
    }

    /// The execution as a Chrome trace (JSON), for Perfetto's UI
    /// (<https://ui.perfetto.dev>) or `chrome://tracing`: a track per task
    /// with its steps, waits, sleeps and held locks, counters of each
    /// lock's waiters, and for a finding its events marked and the
    /// happens-before edges that order them as arrows (see
    /// [`racecheck_detect::chrome_trace`]).
    ///
    /// ```
    /// use racecheck_explore::{explore, Config};
    ///
    /// let report = explore(&Config::default(), || async { panic!("boom") });
    /// let trace: serde_json::Value =
    ///     serde_json::from_str(&report.failure.unwrap().chrome_trace()).unwrap();
    /// assert!(trace["traceEvents"].is_array());
    /// ```
    pub fn chrome_trace(&self) -> String {
        let finding = match &self.kind {
            FailureKind::Finding(finding) => Some(finding),
            _ => None,
        };
        racecheck_detect::chrome_trace(&self.trace, finding)
    }
}

/// What a report says of a race in an execution where nothing else went
/// wrong.
pub const PREDICTED_RACE: &str = "this execution did not misbehave: the two accesses are \
     unordered, so another schedule can swap them";

impl Failure {
    /// Whether this is a race predicted from an execution that did not
    /// misbehave: nothing else failed in it (a minimised schedule often
    /// runs the two accesses one after the other, harmlessly), so the
    /// report's timeline shows nothing going wrong.
    ///
    /// ```
    /// use racecheck_explore::{explore, Config};
    ///
    /// let report = explore(&Config::default(), || async { panic!("boom") });
    /// assert!(!report.failure.unwrap().is_predicted_race());
    /// ```
    pub fn is_predicted_race(&self) -> bool {
        matches!(self.kind, FailureKind::Finding(Finding::Race(_))) && self.also.is_empty()
    }
}

/// The kinds of failure the runtime finds by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// A task panicked: an assertion in the test, or a bug in its code.
    Panic {
        /// The task.
        task: TaskId,
        /// Its name.
        task_name: String,
        /// The panic message.
        message: String,
        /// Where it panicked, if known.
        location: Option<Location>,
    },
    /// The detector found a race, a deadlock, a hang or a leak (whichever
    /// its checks say fail).
    Finding(Finding),
    /// The execution did not finish within the step limit.
    StepLimit {
        /// The limit.
        steps_max: u32,
    },
    /// Replay: the schedule chose a task that cannot run at this step.
    ScheduleMismatch {
        /// The first step that diverged.
        step: u32,
        /// The task the schedule chose.
        chosen: TaskId,
        /// The tasks that could run.
        runnable: Vec<TaskId>,
    },
    /// Replay: the schedule made no data choice, or one out of range, where
    /// the program asked for one.
    ChoiceMismatch {
        /// The step at which the program asked.
        step: u32,
        /// How many options the program offered.
        options: u32,
        /// What the schedule chose, if anything.
        chosen: Option<u32>,
    },
    /// Replay: the schedule ended while tasks could still run.
    ScheduleEnded {
        /// The step at which it ended.
        step: u32,
        /// The tasks that could run.
        runnable: Vec<TaskId>,
    },
    /// The program is not deterministic: replaying the choices of an
    /// earlier execution, the strategy met other runnable tasks than that
    /// execution did.
    Nondeterministic {
        /// The step at which the program diverged.
        step: u32,
        /// The tasks that could run.
        runnable: Vec<TaskId>,
    },
    /// Replay: the program finished before the schedule did.
    ScheduleUnused {
        /// The step at which the program finished.
        step: u32,
        /// How many steps of the schedule were left.
        remaining: usize,
    },
    /// An execution that passed, replayed from its schedule
    /// ([`Config::check_replay_every`](crate::Config::check_replay_every)),
    /// did something else: something outside racecheck's control decides
    /// what the program does.
    Uncontrolled(Divergence),
}

impl FailureKind {
    /// Whether this says the schedule does not fit the program (or the
    /// program does not follow its schedule), rather than something about
    /// what the program does.
    pub fn is_schedule_error(&self) -> bool {
        matches!(
            self,
            FailureKind::ScheduleMismatch { .. }
                | FailureKind::ChoiceMismatch { .. }
                | FailureKind::ScheduleEnded { .. }
                | FailureKind::ScheduleUnused { .. }
                | FailureKind::Nondeterministic { .. }
                | FailureKind::Uncontrolled(_)
        )
    }

    /// Which failure a report leads with when an execution has several: a
    /// schedule that does not fit first (nothing else is meaningful then),
    /// then races (they usually explain the rest), panics, deadlocks and
    /// hangs, the step limit, and leaks and lock orders last.
    pub(crate) fn precedence(&self) -> u8 {
        match self {
            FailureKind::ScheduleMismatch { .. }
            | FailureKind::ChoiceMismatch { .. }
            | FailureKind::ScheduleEnded { .. }
            | FailureKind::ScheduleUnused { .. }
            | FailureKind::Nondeterministic { .. }
            | FailureKind::Uncontrolled(_) => 0,
            FailureKind::Finding(Finding::Race(_)) => 1,
            FailureKind::Panic { .. } => 2,
            FailureKind::Finding(Finding::Deadlock(_) | Finding::Hang(_)) => 3,
            FailureKind::StepLimit { .. } => 4,
            FailureKind::Finding(Finding::Leak(_) | Finding::PotentialDeadlock(_)) => 5,
        }
    }
}
impl From<RuntimeFailure> for FailureKind {
    fn from(failure: RuntimeFailure) -> FailureKind {
        match failure {
            RuntimeFailure::Panic {
                task,
                task_name,
                message,
                location,
            } => FailureKind::Panic {
                task,
                task_name,
                message,
                location,
            },
            RuntimeFailure::StepLimit { steps_max } => FailureKind::StepLimit { steps_max },
            RuntimeFailure::ScheduleMismatch {
                step,
                chosen,
                runnable,
            } => FailureKind::ScheduleMismatch {
                step,
                chosen,
                runnable,
            },
            RuntimeFailure::ChoiceMismatch {
                step,
                options,
                chosen,
            } => FailureKind::ChoiceMismatch {
                step,
                options,
                chosen,
            },
            RuntimeFailure::ScheduleEnded { step, runnable } => {
                FailureKind::ScheduleEnded { step, runnable }
            }
            RuntimeFailure::Nondeterministic { step, runnable } => {
                FailureKind::Nondeterministic { step, runnable }
            }
        }
    }
}

/// How many of the last events a report's timeline shows.
pub const TIMELINE_EVENTS_MAX: usize = 40;

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::Panic {
                task_name,
                message,
                location,
                ..
            } => {
                write!(f, "task '{task_name}' panicked")?;
                if let Some(location) = location {
                    write!(f, " at {location}")?;
                }
                write!(f, ":\n{}", indent(message, "    "))
            }
            FailureKind::Finding(finding) => finding.fmt(f),
            FailureKind::StepLimit { steps_max } => write!(
                f,
                "step limit: the execution did not finish within {steps_max} steps \
                 (a livelock or an endless loop; raise max_steps if it is legitimate)"
            ),
            FailureKind::ScheduleMismatch {
                step,
                chosen,
                runnable,
            } => write!(
                f,
                "the schedule does not fit this program: at step {step} it runs {chosen}, \
                 but the runnable tasks are {} (the code changed, or the schedule \
                 comes from another test)",
                task_list(runnable)
            ),
            FailureKind::ChoiceMismatch {
                step,
                options,
                chosen,
            } => {
                write!(
                    f,
                    "the schedule does not fit this program: at step {step} the program \
                     chooses among {options} options, but the schedule "
                )?;
                match chosen {
                    Some(chosen) => write!(f, "chooses option {chosen}"),
                    None => write!(f, "has no choice left"),
                }
            }
            FailureKind::ScheduleEnded { step, runnable } => write!(
                f,
                "the schedule does not fit this program: it ends after {step} steps, \
                 but {} can still run",
                task_list(runnable)
            ),
            FailureKind::Nondeterministic { step, runnable } => write!(
                f,
                "the program is not deterministic: at step {step} the runnable tasks are {}, \
                 not those of an earlier execution that made the same choices so far. \
                 Everything it does must follow from the schedule: no randomness, wall-clock \
                 time, addresses, HashMap order, or state kept across executions (a static, a \
                 thread-local)",
                task_list(runnable)
            ),
            FailureKind::ScheduleUnused { step, remaining } => write!(
                f,
                "the schedule does not fit this program: the program finished after \
                 {step} steps, but the schedule has {remaining} more"
            ),
            FailureKind::Uncontrolled(divergence) => write!(f, "{divergence}"),
        }
    }
}

impl Failure {
    /// The failure, where it was found, the timeline.
    fn write_findings(&self, f: &mut impl Write) -> fmt::Result {
        writeln!(f, "racecheck: {}", self.kind)?;
        if self.is_predicted_race() {
            writeln!(f, "  {PREDICTED_RACE}")?;
        }
        for other in &self.also {
            let text = other.to_string();
            let summary: Vec<&str> = text.lines().take(2).map(str::trim).collect();
            writeln!(f, "  (this execution also: {})", summary.join(" "))?;
        }
        writeln!(
            f,
            "  found in execution {} (seed {}, strategy {}) after {} steps",
            self.iteration + 1,
            self.seed,
            self.strategy,
            self.schedule.len()
        )?;
        if let Some(divergence) = &self.nondeterminism {
            writeln!(f, "  {divergence}")?;
        }
        if let Some((before, after)) = self.minimized {
            writeln!(
                f,
                "  schedule minimised from {before} to {after} preemptions (timeline and replay below are the minimised ones)"
            )?;
        }
        writeln!(f)?;
        f.write_str(&timeline(&self.trace, TIMELINE_EVENTS_MAX))?;
        writeln!(f)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut findings = String::new();
        self.write_findings(&mut findings)?;
        let Some((first, others)) = self.replay.split_first() else {
            return f.write_str(findings.trim_end());
        };
        f.write_str(&findings)?;
        write!(f, "replay this execution exactly with:\n  {first}")?;
        for other in others {
            write!(f, "\nor {other}")?;
        }
        Ok(())
    }
}

/// The last `events_max` events of a trace as an aligned table: step, task,
/// operation (names resolved), source location.
///
/// ```
/// use racecheck_explore::timeline;
/// use racecheck_trace::{Event, Location, Op, TaskId, TaskInfo, Trace};
///
/// let mut trace = Trace::default();
/// trace.tasks.push(TaskInfo { name: "main".into(), parent: None, spawned_at: Location::caller() });
/// trace.events.push(Event { step: 0, task: TaskId::ROOT, op: Op::Yield, location: Location::caller() });
/// assert!(timeline(&trace, 10).contains("main"));
/// ```
pub fn timeline(trace: &Trace, events_max: usize) -> String {
    let shown = &trace.events[trace.events.len().saturating_sub(events_max)..];
    let rows: Vec<[String; 4]> = shown
        .iter()
        .map(|event| {
            [
                event.step.to_string(),
                trace.task_label(event.task),
                trace.describe(&event.op),
                event.location.to_string(),
            ]
        })
        .collect();
    let header = ["step", "task", "operation", "location"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let omitted = trace.events.len() - shown.len();
    if omitted > 0 {
        let _ = writeln!(
            out,
            "timeline (last {} of {} events):",
            shown.len(),
            trace.events.len()
        );
    } else {
        let _ = writeln!(out, "timeline ({} events):", trace.events.len());
    }
    let mut line = |cells: [&str; 4]| {
        let _ = writeln!(
            out,
            "  {:>w0$}  {:<w1$}  {:<w2$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        );
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3]]);
    }
    out
}

fn task_list(tasks: &[TaskId]) -> String {
    let names: Vec<String> = tasks.iter().map(TaskId::to_string).collect();
    format!("[{}]", names.join(", "))
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|line| format!("{prefix}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
