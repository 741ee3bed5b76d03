//! An execution as a Chrome trace: the JSON trace-event format that
//! Perfetto's UI (<https://ui.perfetto.dev>) and `chrome://tracing` open.
//!
//! One track per task: a slice for every step it runs, for every wait
//! (named after the object it waits on) and every sleep; an async slice
//! for every lock or permit it holds; counters of each lock's waiters and
//! of each semaphore's permits held; the finding's events as instant
//! markers; and flow arrows for the
//! happens-before edges between tasks (release → acquire, send → receive,
//! spawn, join) that order the finding's events.
//!
//! Time is the virtual clock in microseconds, with every step one
//! microsecond wide so that steps where the clock does not move stay
//! apart: a track's timestamps never go back.

use crate::graph::{Edge, HbGraph};
use crate::picture::finding_events;
use crate::virtual_time::event_times_ns;
use crate::Finding;
use racecheck_trace::{Event, EventIndex, Holding, ObjectId, Operand, Trace, WaitTarget};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Most flow arrows a trace draws: the edges closest to the finding.
pub const CHROME_FLOWS_MAX: usize = 200;

/// The process id every track shares.
const PID: u32 = 1;

/// `trace` as a Chrome trace (a JSON object with `traceEvents`), with
/// `finding`'s events marked and the happens-before edges that order them
/// drawn as flows.
///
/// ```
/// use racecheck_detect::{chrome_trace, Checks, Detector, ExecutionEnd};
/// use racecheck_trace::{Event, Location, ObjectId, ObjectInfo, ObjectKind, Op, TaskId, TaskInfo, Trace};
///
/// let mut trace = Trace::default();
/// trace.objects.push(ObjectInfo { kind: ObjectKind::Shared, name: None, created_at: Location::caller() });
/// for task in 0..3 {
///     trace.tasks.push(TaskInfo { name: format!("task-{task}").into(), parent: None, spawned_at: Location::caller() });
/// }
/// for task in [1, 2] {
///     trace.events.push(Event { step: task, task: TaskId(task), op: Op::Write { object: ObjectId(0) }, location: Location::caller() });
/// }
/// let end = ExecutionEnd { root_finished: true, ..ExecutionEnd::default() };
/// let verdict = Detector::new(Checks::default()).analyze(&trace, &end);
/// let json: serde_json::Value = serde_json::from_str(&chrome_trace(&trace, verdict.failures.first())).unwrap();
/// assert!(json["traceEvents"].as_array().unwrap().len() > 4);
/// ```
pub fn chrome_trace(trace: &Trace, finding: Option<&Finding>) -> String {
    let clock = Clock::of(trace);
    let mut events = track_names(trace);
    events.extend(steps_and_waits(trace, &clock));
    events.extend(holds(trace, &clock));
    events.extend(waiter_counters(trace, &clock));
    events.extend(permit_counters(trace, &clock));
    let marked = finding
        .map(|finding| finding_events(trace, finding))
        .unwrap_or_default();
    for index in marked.iter().map(|event| event.index()) {
        let event = &trace.events[index];
        events.push(TraceEvent {
            cat: "finding",
            scope: Some("t"),
            tid: Some(tid(event)),
            ts: Some(clock.at(index)),
            cname: Some("terrible"),
            args: Args::Text("location", event.location.to_string()),
            ..TraceEvent::new(format!("finding: {}", trace.describe(&event.op)), "i")
        });
    }
    if !marked.is_empty() {
        events.extend(flows(trace, &clock, &marked));
    }
    document(&events)
}

/// The track of an event's task.
fn tid(event: &Event) -> u32 {
    event.task.0 + 1
}

/// When each event happened: the virtual clock (in microseconds) plus one
/// microsecond per step, and a fraction of one within a step.
struct Clock {
    at: Vec<f64>,
    /// Where each step starts and how long it lasts.
    steps: BTreeMap<u32, (f64, f64)>,
}

impl Clock {
    fn of(trace: &Trace) -> Clock {
        let mut step_start: BTreeMap<u32, f64> = BTreeMap::new();
        for (event, now_ns) in trace.events.iter().zip(event_times_ns(trace)) {
            step_start
                .entry(event.step)
                .or_insert(now_ns as f64 / 1000.0 + f64::from(event.step));
        }
        let mut in_step: BTreeMap<u32, usize> = BTreeMap::new();
        for event in &trace.events {
            *in_step.entry(event.step).or_default() += 1;
        }
        let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
        let at = trace
            .events
            .iter()
            .map(|event| {
                let position = seen.entry(event.step).or_default();
                let share = (*position as f64 + 0.5) / in_step[&event.step] as f64;
                *position += 1;
                step_start[&event.step] + share * 0.9
            })
            .collect();
        let steps = step_start
            .into_iter()
            .map(|(step, start)| (step, (start, 0.9)))
            .collect();
        Clock { at, steps }
    }

    fn at(&self, index: usize) -> f64 {
        self.at[index]
    }
}

/// A name for every task's track, in task order.
fn track_names(trace: &Trace) -> Vec<TraceEvent> {
    (0..trace.tasks.len())
        .flat_map(|task| {
            let tid = task as u32 + 1;
            let label = trace.task_label(racecheck_trace::TaskId(task as u32));
            [
                TraceEvent {
                    tid: Some(tid),
                    args: Args::Text("name", label.to_string()),
                    ..TraceEvent::new("thread_name".into(), "M")
                },
                TraceEvent {
                    tid: Some(tid),
                    args: Args::Number("sort_index", u64::from(tid)),
                    ..TraceEvent::new("thread_sort_index".into(), "M")
                },
            ]
        })
        .chain([TraceEvent {
            args: Args::Text("name", "racecheck execution".into()),
            ..TraceEvent::new("process_name".into(), "M")
        }])
        .collect()
}

/// A slice per step a task ran, with its events listed, and a slice for
/// each wait and sleep, from the event that started it to the task's next.
fn steps_and_waits(trace: &Trace, clock: &Clock) -> Vec<TraceEvent> {
    let mut slices = Vec::new();
    let mut by_step: BTreeMap<(u32, u32), Vec<usize>> = BTreeMap::new();
    for (index, event) in trace.events.iter().enumerate() {
        by_step
            .entry((event.step, event.task.0))
            .or_default()
            .push(index);
    }
    for ((step, _), indices) in &by_step {
        let event = &trace.events[indices[0]];
        let (start, width) = clock.steps[step];
        let operations: Vec<String> = indices
            .iter()
            .map(|&index| {
                let event = &trace.events[index];
                format!("{} at {}", trace.describe(&event.op), event.location)
            })
            .collect();
        slices.push(TraceEvent {
            cat: "run",
            tid: Some(tid(event)),
            ts: Some(start),
            dur: Some(width),
            args: Args::List("operations", operations),
            ..TraceEvent::new(format!("step {step}"), "X")
        });
    }
    let mut next_of_task: BTreeMap<u32, usize> = BTreeMap::new();
    let mut next_event = vec![None; trace.events.len()];
    for (index, event) in trace.events.iter().enumerate().rev() {
        next_event[index] = next_of_task.insert(event.task.0, index);
    }
    let end = trace
        .events
        .len()
        .checked_sub(1)
        .map_or(0.0, |last| clock.at(last) + 1.0);
    for (index, event) in trace.events.iter().enumerate() {
        let name = match event.op.operand() {
            Operand::Wait(WaitTarget::Object(object), _) => {
                format!("waits on {}", trace.object_label(object))
            }
            Operand::Wait(WaitTarget::Task(task), _) => {
                format!("waits for {}", trace.task_label(task))
            }
            Operand::Wait(WaitTarget::Untracked, _) => "waits".to_string(),
            Operand::Until(until_ns) => format!("sleeps until {} ns", until_ns),
            _ => continue,
        };
        let start = clock.at(index);
        let until = next_event[index].map_or(end, |next| clock.at(next));
        slices.push(TraceEvent {
            cat: "wait",
            tid: Some(tid(event)),
            ts: Some(start),
            dur: Some((until - start).max(0.0)),
            args: Args::Text("location", event.location.to_string()),
            ..TraceEvent::new(name, "X")
        });
    }
    slices
}

/// An async slice for each lock or permit a task holds, from its lock or
/// acquire to its unlock or release (or the end of the trace).
fn holds(trace: &Trace, clock: &Clock) -> Vec<TraceEvent> {
    let mut slices = Vec::new();
    let mut open: BTreeMap<(u32, ObjectId), Vec<usize>> = BTreeMap::new();
    let mut next_id: u64 = 0;
    let hold = |object: ObjectId, phase: &'static str, id: u64, tid: u32, ts: f64| TraceEvent {
        cat: "hold",
        id: Some(id),
        tid: Some(tid),
        ts: Some(ts),
        ..TraceEvent::new(format!("holds {}", trace.object_label(object)), phase)
    };
    let mut begin = |slices: &mut Vec<TraceEvent>, index: usize, object: ObjectId| -> u64 {
        let event = &trace.events[index];
        next_id += 1;
        slices.push(TraceEvent {
            args: Args::Text("location", event.location.to_string()),
            ..hold(object, "b", next_id, tid(event), clock.at(index))
        });
        next_id
    };
    let mut ids: BTreeMap<usize, u64> = BTreeMap::new();
    for (index, event) in trace.events.iter().enumerate() {
        let key = |object| (event.task.0, object);
        let op = event.op;
        let Some(object) = op.object() else {
            continue;
        };
        match op.holding() {
            Holding::Lock(_) | Holding::Acquire(_) => {
                let id = begin(&mut slices, index, object);
                ids.insert(index, id);
                open.entry(key(object)).or_default().push(index);
            }
            Holding::Unlock(_) | Holding::Release(_) => {
                let Some(started) = open.get_mut(&key(object)).and_then(Vec::pop) else {
                    continue;
                };
                slices.push(hold(
                    object,
                    "e",
                    ids[&started],
                    tid(event),
                    clock.at(index),
                ));
            }
            _ => {}
        }
    }
    let end = trace
        .events
        .len()
        .checked_sub(1)
        .map_or(0.0, |last| clock.at(last) + 1.0);
    for ((task, object), started) in open {
        for index in started {
            slices.push(hold(object, "e", ids[&index], task + 1, end));
        }
    }
    slices
}

/// A counter per lock: how many tasks wait to take it.
fn waiter_counters(trace: &Trace, clock: &Clock) -> Vec<TraceEvent> {
    let mut counters = Vec::new();
    let mut waiting: BTreeMap<ObjectId, BTreeSet<u32>> = BTreeMap::new();
    for (index, event) in trace.events.iter().enumerate() {
        let op = event.op;
        let (object, waits) = match (op.operand(), op.holding()) {
            (Operand::Wait(WaitTarget::Object(object), _), _) => (object, true),
            (Operand::Object(object), Holding::Lock(_) | Holding::Acquire(_)) => (object, false),
            _ => continue,
        };
        let tasks = waiting.entry(object).or_default();
        let changed = if waits {
            tasks.insert(event.task.0)
        } else {
            tasks.remove(&event.task.0)
        };
        if changed || (!waits && index == 0) {
            counters.push(TraceEvent {
                ts: Some(clock.at(index)),
                args: Args::Number("waiting", tasks.len() as u64),
                ..TraceEvent::new(format!("waiters: {}", trace.object_label(object)), "C")
            });
        }
    }
    counters
}

/// A counter per semaphore: how many of its permits tasks hold.
fn permit_counters(trace: &Trace, clock: &Clock) -> Vec<TraceEvent> {
    let mut held: BTreeMap<ObjectId, u64> = BTreeMap::new();
    let mut counters = Vec::new();
    for (index, event) in trace.events.iter().enumerate() {
        let op = event.op;
        let Some(object) = op.object() else {
            continue;
        };
        let now_held = match op.holding() {
            Holding::Acquire(permits) => {
                let held = held.entry(object).or_default();
                *held += u64::from(permits);
                *held
            }
            // A release without an acquire (asyncio's `Semaphore.release`)
            // adds a permit rather than returning one held.
            Holding::Release(permits) | Holding::Forget(permits) => {
                let held = held.entry(object).or_default();
                *held = held.saturating_sub(u64::from(permits));
                *held
            }
            _ => continue,
        };
        counters.push(TraceEvent {
            ts: Some(clock.at(index)),
            args: Args::Number("held", now_held),
            ..TraceEvent::new(format!("permits held: {}", trace.object_label(object)), "C")
        });
    }
    counters
}

/// Flow arrows for the edges between tasks that order some of `marked`:
/// the edges among their happens-before predecessors, closest first.
fn flows(trace: &Trace, clock: &Clock, marked: &[EventIndex]) -> Vec<TraceEvent> {
    let graph = HbGraph::from_trace(trace);
    let mut ancestors: BTreeSet<EventIndex> = marked.iter().copied().collect();
    for &event in marked {
        ancestors.extend(graph.predecessors(event));
    }
    let latest = marked.iter().map(|event| event.index()).max().unwrap_or(0);
    let mut edges: Vec<(usize, usize)> = graph
        .edges()
        .filter(|&(_, _, kind)| kind != Edge::ProgramOrder)
        .filter(|&(from, to, _)| ancestors.contains(&from) && ancestors.contains(&to))
        .map(|(from, to, _)| (from.index(), to.index()))
        .collect();
    edges.sort_by_key(|&(_, to)| latest.abs_diff(to));
    edges.truncate(CHROME_FLOWS_MAX);
    edges.sort_unstable();
    let mut arrows = Vec::new();
    for (id, (from, to)) in edges.into_iter().enumerate() {
        let (source, target) = (&trace.events[from], &trace.events[to]);
        let name = format!(
            "{} → {}",
            trace.describe(&source.op),
            trace.describe(&target.op)
        );
        let id = Some(id as u64);
        arrows.push(TraceEvent {
            cat: "happens-before",
            id,
            tid: Some(tid(source)),
            ts: Some(clock.at(from)),
            ..TraceEvent::new(name.clone(), "s")
        });
        arrows.push(TraceEvent {
            cat: "happens-before",
            binding_point: Some("e"),
            id,
            tid: Some(tid(target)),
            ts: Some(clock.at(to)),
            ..TraceEvent::new(name, "f")
        });
    }
    arrows
}

/// One entry of `traceEvents`, with the fields of the trace-event format
/// that racecheck uses; a `None` field is left out.
///
/// The JSON is written by hand ([`document`]) rather than with
/// `serde_json`: linking `serde_json` into a user's test binary brings its
/// `impl PartialEq<serde_json::Value> for u32` (and the other numbers)
/// into scope, and then `assert_eq!(items, vec![])` no longer infers
/// (tokio's own `time_interval` tests stop compiling).
struct TraceEvent {
    name: String,
    /// `ph`: the event's phase (`X` slice, `b`/`e` async, `C` counter, ...).
    phase: &'static str,
    cat: &'static str,
    /// `s`: an instant event's scope.
    scope: Option<&'static str>,
    /// `bp`: a flow end's binding point.
    binding_point: Option<&'static str>,
    id: Option<u64>,
    tid: Option<u32>,
    ts: Option<f64>,
    dur: Option<f64>,
    cname: Option<&'static str>,
    args: Args,
}

/// An event's `args`: one named value, or none.
enum Args {
    None,
    Text(&'static str, String),
    Number(&'static str, u64),
    List(&'static str, Vec<String>),
}

impl TraceEvent {
    fn new(name: String, phase: &'static str) -> TraceEvent {
        TraceEvent {
            name,
            phase,
            cat: "",
            scope: None,
            binding_point: None,
            id: None,
            tid: None,
            ts: None,
            dur: None,
            cname: None,
            args: Args::None,
        }
    }

    fn write(&self, out: &mut String) {
        out.push_str("{\"name\":");
        write_string(out, &self.name);
        let _ = write!(out, ",\"ph\":\"{}\",\"pid\":{PID}", self.phase);
        let texts = [
            ("cat", Some(self.cat).filter(|cat| !cat.is_empty())),
            ("s", self.scope),
            ("bp", self.binding_point),
            ("cname", self.cname),
        ];
        for (key, value) in texts {
            if let Some(value) = value {
                let _ = write!(out, ",\"{key}\":\"{value}\"");
            }
        }
        if let Some(id) = self.id {
            let _ = write!(out, ",\"id\":{id}");
        }
        if let Some(tid) = self.tid {
            let _ = write!(out, ",\"tid\":{tid}");
        }
        for (key, value) in [("ts", self.ts), ("dur", self.dur)] {
            if let Some(value) = value {
                let _ = write!(out, ",\"{key}\":{value}");
            }
        }
        match &self.args {
            Args::None => {}
            Args::Text(key, text) => {
                let _ = write!(out, ",\"args\":{{\"{key}\":");
                write_string(out, text);
                out.push('}');
            }
            Args::Number(key, number) => {
                let _ = write!(out, ",\"args\":{{\"{key}\":{number}}}");
            }
            Args::List(key, items) => {
                let _ = write!(out, ",\"args\":{{\"{key}\":[");
                for (position, item) in items.iter().enumerate() {
                    if position > 0 {
                        out.push(',');
                    }
                    write_string(out, item);
                }
                out.push_str("]}");
            }
        }
        out.push('}');
    }
}

/// The trace document: `{"traceEvents":[...],"displayTimeUnit":"ns"}`.
fn document(events: &[TraceEvent]) -> String {
    let mut out = String::from("{\"traceEvents\":[");
    for (position, event) in events.iter().enumerate() {
        if position > 0 {
            out.push(',');
        }
        event.write(&mut out);
    }
    out.push_str("],\"displayTimeUnit\":\"ns\"}");
    out
}

/// `text` as a JSON string literal (RFC 8259: quotes, backslashes and
/// control characters escaped).
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_with_quotes_and_control_characters_stay_valid_json() {
        let mut event = TraceEvent::new("a \"quoted\" \\ name\n\u{1}é".into(), "X");
        event.ts = Some(1.5);
        event.args = Args::List("operations", vec!["x\ty".into(), String::new()]);
        let text = document(&[event]);
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let event = &parsed["traceEvents"][0];
        assert_eq!(event["name"], "a \"quoted\" \\ name\n\u{1}é");
        assert_eq!(event["ts"], 1.5);
        assert_eq!(event["args"]["operations"][0], "x\ty");
        assert!(event.get("dur").is_none(), "a field left unset is left out");
    }
}
