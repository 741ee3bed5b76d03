//! An execution's timeline as SVG swimlanes: one lane per task, one column
//! per step, slices for running, waiting, sleeping and holding a lock or
//! permits, and the finding's events marked.

use crate::markup::{escape, px};
use racecheck_trace::{EventIndex, Holding, Operand, TaskId, Trace, WaitTarget};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Most steps the swimlanes show: the last ones, moved back to include the
/// finding's first event.
pub const SWIMLANE_STEPS_MAX: usize = 160;

/// Most lanes (tasks) the swimlanes show: the finding's tasks first, then
/// the others in id order.
pub const SWIMLANE_TASKS_MAX: usize = 40;

const LABEL_WIDTH: f64 = 170.0;
/// Columns are this wide at least, wider when there are few steps.
const COLUMN_WIDTH_MIN: f64 = 10.0;
const COLUMN_WIDTH_MAX: f64 = 36.0;
/// The width the columns share when they are few, and the least width of
/// the picture (its legend's).
const COLUMNS_WIDTH: f64 = 900.0;
const WIDTH_MIN: f64 = 780.0;
const LANE_HEIGHT: f64 = 26.0;
const TOP: f64 = 22.0;

/// What a slice of a lane shows, in the order they are drawn: a step
/// over the wait it ends, a hold's thin bar over both.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SliceKind {
    Waiting,
    Sleeping,
    Running,
    Holding,
}

impl SliceKind {
    fn color(self) -> &'static str {
        match self {
            SliceKind::Running => "#4a7ab5",
            SliceKind::Waiting => "#f2b8b5",
            SliceKind::Sleeping => "#d9d9d9",
            SliceKind::Holding => "#f0a030",
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            SliceKind::Running => "runs a step",
            SliceKind::Waiting => "waits (blocked)",
            SliceKind::Sleeping => "sleeps",
            SliceKind::Holding => "holds a lock or permits",
        }
    }
}

/// A slice: from column `start` to column `end` (inclusive) of a lane.
struct Slice {
    task: TaskId,
    kind: SliceKind,
    start: usize,
    end: usize,
    title: String,
}

/// The columns shown: the steps of a window of the execution.
struct Columns {
    steps: Vec<u32>,
    width: f64,
}

impl Columns {
    fn of(trace: &Trace, highlighted: &[EventIndex]) -> Columns {
        let all: Vec<u32> = trace
            .events
            .iter()
            .map(|event| event.step)
            .collect::<BTreeSet<u32>>()
            .into_iter()
            .collect();
        let mut start = all.len().saturating_sub(SWIMLANE_STEPS_MAX);
        let earliest = highlighted
            .iter()
            .map(|&index| trace.events[index.index()].step)
            .min()
            .and_then(|step| all.binary_search(&step).ok());
        if let Some(earliest) = earliest {
            start = start.min(earliest);
        }
        let end = (start + SWIMLANE_STEPS_MAX).min(all.len());
        let steps = all[start..end].to_vec();
        let width = (COLUMNS_WIDTH / steps.len().max(1) as f64)
            .clamp(COLUMN_WIDTH_MIN, COLUMN_WIDTH_MAX)
            .floor();
        Columns { steps, width }
    }

    /// The column of `step`, or where it would be, clipped to the window.
    fn clipped(&self, step: u32) -> usize {
        match self.steps.binary_search(&step) {
            Ok(column) => column,
            Err(column) => column.min(self.steps.len().saturating_sub(1)),
        }
    }

    fn contains(&self, step: u32) -> bool {
        self.steps.binary_search(&step).is_ok()
    }
}

/// The timeline of `trace` as an SVG element, with `highlighted` events
/// (indices into the trace's events) marked in red.
pub(crate) fn swimlanes(trace: &Trace, highlighted: &[EventIndex]) -> String {
    let columns = Columns::of(trace, highlighted);
    let lanes = lanes(trace, highlighted, &columns);
    let lane_of: BTreeMap<TaskId, usize> = lanes
        .iter()
        .enumerate()
        .map(|(lane, &task)| (task, lane))
        .collect();
    let width =
        (LABEL_WIDTH + columns.width * columns.steps.len().max(1) as f64 + 10.0).max(WIDTH_MIN);
    let height = TOP + LANE_HEIGHT * lanes.len() as f64 + 40.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg class=\"swimlanes\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" \
         viewBox=\"0 0 {} {}\" font-family=\"monospace\" font-size=\"11\">",
        px(width),
        px(height),
        px(width),
        px(height)
    );
    axis(&mut svg, &columns, lanes.len());
    for (lane, &task) in lanes.iter().enumerate() {
        let y = TOP + LANE_HEIGHT * lane as f64;
        let name = trace.task_label(task);
        let short: String = name.chars().take(22).collect();
        let _ = writeln!(
            svg,
            "<text x=\"4\" y=\"{}\"><title>{}</title>{}</text>",
            px(y + LANE_HEIGHT * 0.6),
            escape(&name),
            escape(&short)
        );
    }
    let mut slices = slices(trace, &columns);
    slices.sort_by_key(|slice| slice.kind);
    for slice in slices {
        let Some(&lane) = lane_of.get(&slice.task) else {
            continue;
        };
        let y = TOP + LANE_HEIGHT * lane as f64;
        let (top, tall) = match slice.kind {
            SliceKind::Holding => (y + LANE_HEIGHT - 7.0, 4.0),
            _ => (y + 3.0, LANE_HEIGHT - 11.0),
        };
        let x = LABEL_WIDTH + columns.width * slice.start as f64;
        let wide = columns.width * (slice.end + 1 - slice.start) as f64 - 1.0;
        let _ = writeln!(
            svg,
            "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\">\
             <title>{}</title></rect>",
            slice_class(slice.kind),
            px(x),
            px(top),
            px(wide),
            px(tall),
            slice.kind.color(),
            escape(&slice.title)
        );
    }
    for &index in highlighted {
        let event = &trace.events[index.index()];
        let (Some(&lane), true) = (lane_of.get(&event.task), columns.contains(event.step)) else {
            continue;
        };
        let x = LABEL_WIDTH + columns.width * (columns.clipped(event.step) as f64 + 0.5);
        let y = TOP + LANE_HEIGHT * (lane as f64 + 0.4);
        let _ = writeln!(
            svg,
            "<circle class=\"finding\" cx=\"{}\" cy=\"{}\" r=\"6\" fill=\"none\" stroke=\"red\" \
             stroke-width=\"2.5\"><title>{}</title></circle>",
            px(x),
            px(y),
            escape(&format!(
                "the finding: step {}, {} at {}",
                event.step,
                trace.describe(&event.op),
                event.location
            ))
        );
    }
    legend(&mut svg, TOP + LANE_HEIGHT * lanes.len() as f64 + 14.0);
    svg.push_str("</svg>\n");
    svg
}

fn slice_class(kind: SliceKind) -> &'static str {
    match kind {
        SliceKind::Running => "running",
        SliceKind::Waiting => "waiting",
        SliceKind::Sleeping => "sleeping",
        SliceKind::Holding => "holding",
    }
}

/// The tasks with events in the window, the finding's first.
fn lanes(trace: &Trace, highlighted: &[EventIndex], columns: &Columns) -> Vec<TaskId> {
    let finding: BTreeSet<TaskId> = highlighted
        .iter()
        .map(|&index| trace.events[index.index()].task)
        .collect();
    let active: BTreeSet<TaskId> = trace
        .events
        .iter()
        .filter(|event| columns.contains(event.step))
        .map(|event| event.task)
        .collect();
    let mut shown: BTreeSet<TaskId> = finding.clone();
    shown.extend(
        active
            .iter()
            .filter(|task| !finding.contains(task))
            .take(SWIMLANE_TASKS_MAX.saturating_sub(finding.len())),
    );
    shown.into_iter().collect()
}

/// Step numbers along the top, one every 40 pixels or more, and a faint
/// line per lane.
fn axis(svg: &mut String, columns: &Columns, lanes: usize) {
    let every = (40.0 / columns.width).ceil() as usize;
    for (column, step) in columns.steps.iter().enumerate().step_by(every.max(1)) {
        let x = LABEL_WIDTH + columns.width * column as f64;
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"12\" fill=\"#666\">{step}</text>\
             <line x1=\"{}\" y1=\"15\" x2=\"{}\" y2=\"{}\" stroke=\"#eee\"/>",
            px(x),
            px(x),
            px(x),
            px(TOP + LANE_HEIGHT * lanes as f64)
        );
    }
    for lane in 0..=lanes {
        let y = TOP + LANE_HEIGHT * lane as f64;
        let _ = writeln!(
            svg,
            "<line x1=\"0\" y1=\"{}\" x2=\"100%\" y2=\"{}\" stroke=\"#ddd\"/>",
            px(y),
            px(y)
        );
    }
}

/// What the colours mean, in one row under the lanes.
fn legend(svg: &mut String, y: f64) {
    let mut x = 4.0;
    for kind in [
        SliceKind::Running,
        SliceKind::Waiting,
        SliceKind::Sleeping,
        SliceKind::Holding,
    ] {
        let _ = writeln!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\">{}</text>",
            px(x),
            px(y),
            kind.color(),
            px(x + 16.0),
            px(y + 9.0),
            kind.meaning()
        );
        x += 30.0 + 7.0 * kind.meaning().len() as f64;
    }
    let _ = writeln!(
        svg,
        "<circle cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"none\" stroke=\"red\" stroke-width=\"2\"/>\
         <text x=\"{}\" y=\"{}\">the finding's events</text>",
        px(x + 6.0),
        px(y + 5.0),
        px(x + 16.0),
        px(y + 9.0)
    );
}

/// Every slice of the execution that reaches into the window.
fn slices(trace: &Trace, columns: &Columns) -> Vec<Slice> {
    let Some(&last_step) = columns.steps.last() else {
        return Vec::new();
    };
    let first_step = columns.steps[0];
    let mut slices = Vec::new();
    let mut by_step: BTreeMap<(u32, TaskId), Vec<String>> = BTreeMap::new();
    for event in &trace.events {
        if columns.contains(event.step) {
            by_step
                .entry((event.step, event.task))
                .or_default()
                .push(format!(
                    "{} at {}",
                    trace.describe(&event.op),
                    event.location
                ));
        }
    }
    for ((step, task), operations) in by_step {
        let column = columns.clipped(step);
        slices.push(Slice {
            task,
            kind: SliceKind::Running,
            start: column,
            end: column,
            title: format!("step {step}: {}", operations.join("; ")),
        });
    }
    let mut next_step: Vec<Option<u32>> = vec![None; trace.events.len()];
    let mut later: BTreeMap<TaskId, u32> = BTreeMap::new();
    for (index, event) in trace.events.iter().enumerate().rev() {
        next_step[index] = later.get(&event.task).copied();
        later.insert(event.task, event.step);
    }
    let mut held: BTreeMap<(TaskId, racecheck_trace::ObjectId), Vec<usize>> = BTreeMap::new();
    let mut spans: Vec<(TaskId, SliceKind, u32, u32, String)> = Vec::new();
    for (index, event) in trace.events.iter().enumerate() {
        let until = next_step[index].unwrap_or(last_step);
        let op = event.op;
        match (op.operand(), op.holding()) {
            (Operand::Wait(on, _), _) => {
                let what = match on {
                    WaitTarget::Object(object) => trace.object_label(object),
                    WaitTarget::Task(task) => format!("task '{}'", trace.task_label(task)),
                    WaitTarget::Untracked => "an untracked future".to_string(),
                };
                let title = format!("waits for {what} at {}", event.location);
                spans.push((event.task, SliceKind::Waiting, event.step, until, title));
            }
            (Operand::Until(_), _) => {
                let title = format!("{} at {}", trace.describe(&event.op), event.location);
                spans.push((event.task, SliceKind::Sleeping, event.step, until, title));
            }
            (Operand::Object(object), Holding::Lock(_) | Holding::Acquire(_)) => {
                held.entry((event.task, object)).or_default().push(index);
            }
            (Operand::Object(object), Holding::Unlock(_) | Holding::Release(_)) => {
                if let Some(taken) = held.get_mut(&(event.task, object)).and_then(Vec::pop) {
                    spans.push(holding(trace, taken, event.step));
                }
            }
            _ => {}
        }
    }
    for taken in held.into_values().flatten() {
        spans.push(holding(trace, taken, last_step));
    }
    for (task, kind, from, until, title) in spans {
        if until < first_step || from > last_step {
            continue;
        }
        slices.push(Slice {
            task,
            kind,
            start: columns.clipped(from),
            end: columns.clipped(until).max(columns.clipped(from)),
            title,
        });
    }
    slices
}

/// The span of a lock or permits taken by event `taken` and held until
/// step `until`.
fn holding(trace: &Trace, taken: usize, until: u32) -> (TaskId, SliceKind, u32, u32, String) {
    let event = &trace.events[taken];
    let object = event.op.object().map(|object| trace.object_label(object));
    let title = format!(
        "holds {} (taken at {})",
        object.unwrap_or_default(),
        event.location
    );
    (event.task, SliceKind::Holding, event.step, until, title)
}

#[cfg(test)]
mod tests {
    use super::*;
    use racecheck_trace::{Event, Location, Op, TaskInfo};

    /// `tasks` tasks taking turns, one yield per step, for `steps` steps.
    fn trace(tasks: u32, steps: u32) -> Trace {
        let mut trace = Trace::default();
        for task in 0..tasks {
            trace.tasks.push(TaskInfo {
                name: format!("task-{task}").into(),
                parent: None,
                spawned_at: Location::caller(),
            });
        }
        for step in 0..steps {
            trace.events.push(Event {
                step,
                task: TaskId(step % tasks),
                op: Op::Yield,
                location: Location::caller(),
            });
        }
        trace
    }

    #[test]
    fn a_long_execution_shows_a_window_that_holds_the_finding() {
        let trace = trace(2, 1000);
        let finding = [EventIndex(10), EventIndex(999)];
        let svg = swimlanes(&trace, &finding);
        let columns = Columns::of(&trace, &finding);
        assert_eq!(columns.steps.len(), SWIMLANE_STEPS_MAX);
        assert_eq!(
            columns.steps[0], 10,
            "moved back to the finding's first event"
        );
        assert_eq!(svg.matches("class=\"running\"").count(), SWIMLANE_STEPS_MAX);
        assert_eq!(
            svg.matches("class=\"finding\"").count(),
            1,
            "step 999 is outside"
        );
        let late = Columns::of(&trace, &[EventIndex(999)]);
        assert_eq!(late.steps.last(), Some(&999));
    }

    #[test]
    fn lanes_are_bounded_and_keep_the_finding_tasks() {
        let trace = trace(100, 100);
        let lanes = lanes(
            &trace,
            &[EventIndex(99)],
            &Columns::of(&trace, &[EventIndex(99)]),
        );
        assert_eq!(lanes.len(), SWIMLANE_TASKS_MAX);
        assert!(lanes.contains(&TaskId(99)));
    }
}
