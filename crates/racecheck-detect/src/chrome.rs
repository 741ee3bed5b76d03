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
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

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
        events.push(json!({
            "name": format!("finding: {}", trace.describe(&event.op)),
            "cat": "finding",
            "ph": "i",
            "s": "t",
            "pid": PID,
            "tid": tid(event),
            "ts": clock.at(index),
            "cname": "terrible",
            "args": { "location": event.location.to_string() },
        }));
    }
    if !marked.is_empty() {
        events.extend(flows(trace, &clock, &marked));
    }
    let document = json!({ "traceEvents": events, "displayTimeUnit": "ns" });
    serde_json::to_string(&document).expect("a JSON value always serialises")
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
fn track_names(trace: &Trace) -> Vec<Value> {
    (0..trace.tasks.len())
        .flat_map(|task| {
            let tid = task as u32 + 1;
            let label = trace.task_label(racecheck_trace::TaskId(task as u32));
            [
                json!({ "name": "thread_name", "ph": "M", "pid": PID, "tid": tid,
                        "args": { "name": label } }),
                json!({ "name": "thread_sort_index", "ph": "M", "pid": PID, "tid": tid,
                        "args": { "sort_index": tid } }),
            ]
        })
        .chain([json!({ "name": "process_name", "ph": "M", "pid": PID,
                        "args": { "name": "racecheck execution" } })])
        .collect()
}

/// A slice per step a task ran, with its events listed, and a slice for
/// each wait and sleep, from the event that started it to the task's next.
fn steps_and_waits(trace: &Trace, clock: &Clock) -> Vec<Value> {
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
        slices.push(json!({
            "name": format!("step {step}"), "cat": "run", "ph": "X", "pid": PID,
            "tid": tid(event), "ts": start, "dur": width,
            "args": { "operations": operations },
        }));
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
            Operand::Wait(WaitTarget::Object(object)) => {
                format!("waits on {}", trace.object_label(object))
            }
            Operand::Wait(WaitTarget::Task(task)) => {
                format!("waits for {}", trace.task_label(task))
            }
            Operand::Wait(WaitTarget::Untracked) => "waits".to_string(),
            Operand::Until(until_ns) => format!("sleeps until {} ns", until_ns),
            _ => continue,
        };
        let start = clock.at(index);
        let until = next_event[index].map_or(end, |next| clock.at(next));
        slices.push(json!({
            "name": name, "cat": "wait", "ph": "X", "pid": PID, "tid": tid(event),
            "ts": start, "dur": (until - start).max(0.0),
            "args": { "location": event.location.to_string() },
        }));
    }
    slices
}

/// An async slice for each lock or permit a task holds, from its lock or
/// acquire to its unlock or release (or the end of the trace).
fn holds(trace: &Trace, clock: &Clock) -> Vec<Value> {
    let mut slices = Vec::new();
    let mut open: BTreeMap<(u32, ObjectId), Vec<usize>> = BTreeMap::new();
    let mut next_id: u64 = 0;
    let mut begin = |slices: &mut Vec<Value>, index: usize, object: ObjectId| -> u64 {
        let event = &trace.events[index];
        next_id += 1;
        slices.push(json!({
            "name": format!("holds {}", trace.object_label(object)), "cat": "hold",
            "ph": "b", "id": next_id, "pid": PID, "tid": tid(event), "ts": clock.at(index),
            "args": { "location": event.location.to_string() },
        }));
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
                slices.push(json!({
                    "name": format!("holds {}", trace.object_label(object)), "cat": "hold",
                    "ph": "e", "id": ids[&started], "pid": PID, "tid": tid(event),
                    "ts": clock.at(index),
                }));
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
            slices.push(json!({
                "name": format!("holds {}", trace.object_label(object)), "cat": "hold",
                "ph": "e", "id": ids[&index], "pid": PID, "tid": task + 1, "ts": end,
            }));
        }
    }
    slices
}

/// A counter per lock: how many tasks wait to take it.
fn waiter_counters(trace: &Trace, clock: &Clock) -> Vec<Value> {
    let mut counters = Vec::new();
    let mut waiting: BTreeMap<ObjectId, BTreeSet<u32>> = BTreeMap::new();
    for (index, event) in trace.events.iter().enumerate() {
        let op = event.op;
        let (object, waits) = match (op.operand(), op.holding()) {
            (Operand::Wait(WaitTarget::Object(object)), _) => (object, true),
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
            counters.push(json!({
                "name": format!("waiters: {}", trace.object_label(object)), "ph": "C",
                "pid": PID, "ts": clock.at(index), "args": { "waiting": tasks.len() },
            }));
        }
    }
    counters
}

/// A counter per semaphore: how many of its permits tasks hold.
fn permit_counters(trace: &Trace, clock: &Clock) -> Vec<Value> {
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
        counters.push(json!({
            "name": format!("permits held: {}", trace.object_label(object)), "ph": "C",
            "pid": PID, "ts": clock.at(index), "args": { "held": now_held },
        }));
    }
    counters
}

/// Flow arrows for the edges between tasks that order some of `marked`:
/// the edges among their happens-before predecessors, closest first.
fn flows(trace: &Trace, clock: &Clock, marked: &[EventIndex]) -> Vec<Value> {
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
        arrows.push(
            json!({ "name": name, "cat": "happens-before", "ph": "s", "id": id,
                            "pid": PID, "tid": tid(source), "ts": clock.at(from) }),
        );
        arrows.push(
            json!({ "name": name, "cat": "happens-before", "ph": "f", "bp": "e",
                            "id": id, "pid": PID, "tid": tid(target), "ts": clock.at(to) }),
        );
    }
    arrows
}
