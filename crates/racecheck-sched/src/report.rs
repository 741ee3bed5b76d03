//! The human form of a failure: what went wrong, where it was found, the
//! timeline of the last steps, and the line that replays it.

use crate::explore::{Failure, FailureKind};
use racecheck_trace::{TaskId, Trace};
use std::fmt::{self, Write};

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
            FailureKind::ScheduleEnded { step, runnable } => write!(
                f,
                "the schedule does not fit this program: it ends after {step} steps, \
                 but {} can still run",
                task_list(runnable)
            ),
            FailureKind::ScheduleUnused { step, remaining } => write!(
                f,
                "the schedule does not fit this program: the program finished after \
                 {step} steps, but the schedule has {remaining} more"
            ),
        }
    }
}

impl Failure {
    /// The report with `replay` in place of the lines that tell a Rust test
    /// how to replay the execution: for front ends that replay another way,
    /// such as the `racecheck` CLI on scenario files.
    ///
    /// ```
    /// use racecheck_sched::{explore, Config};
    ///
    /// let report = explore(&Config::default(), || async { panic!("boom") });
    /// let failure = report.failure.unwrap();
    /// let text = failure.report_replaying_with("replay: racecheck replay bank.toml --schedule ...");
    /// assert!(text.ends_with("replay: racecheck replay bank.toml --schedule ..."));
    /// assert!(!text.contains("cargo test"));
    /// ```
    pub fn report_replaying_with(&self, replay: &str) -> String {
        let mut text = String::new();
        let _ = self.write_findings(&mut text);
        text.push_str(replay);
        text
    }

    /// Everything but the replay lines: the failure, where it was found, the
    /// timeline.
    fn write_findings(&self, f: &mut impl Write) -> fmt::Result {
        writeln!(f, "racecheck: {}", self.kind)?;
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
        f.write_str(&findings)?;
        writeln!(f, "replay this execution exactly with:")?;
        writeln!(f, "  RACECHECK_REPLAY={} cargo test ...", self.schedule)?;
        write!(
            f,
            "or racecheck::replay(\"{}\", ...) in the test",
            self.schedule
        )
    }
}

/// The last `events_max` events of a trace as an aligned table: step, task,
/// operation (names resolved), source location.
///
/// ```
/// use racecheck_sched::timeline;
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
