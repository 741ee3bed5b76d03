//! The critical path of an execution in virtual time, and how much of it
//! each critical section spent sleeping: the profile's what-if prediction.
//!
//! Walking back from the last event, each event is explained by the one
//! that let it happen: a task's previous event, or, where the task waited,
//! the event that ended the wait (the release that granted it a lock, the
//! send or set it waited for, the finish of the task it joined, the spawn
//! of a task's first event). Virtual time passes on that path only where a
//! task slept; the sleeps made while holding a lock or permits taken at a
//! site are what that critical section contributes. If it took no time,
//! the path would be that much shorter; another path may then become the
//! longest, which is why the what-if is also measured by re-simulating.

use racecheck_trace::{Location, ObjectId, Operand, Order, TaskId, Touch, Trace, WaitTarget};
use std::collections::BTreeMap;

/// Per site where a lock or permits were taken: the virtual time the
/// holders slept on the critical path of `trace` (whose events happened
/// at `times`) while holding them.
pub(crate) fn critical_section_ns(trace: &Trace, times: &[u64]) -> BTreeMap<Location, u64> {
    let mut sections = BTreeMap::new();
    let events = &trace.events;
    let Some(mut index) = events.len().checked_sub(1) else {
        return sections;
    };
    let held_while_sleeping = held_while_sleeping(trace);
    let previous = previous_of_task(trace);
    // Each move goes to an earlier event, so the walk ends.
    loop {
        let next = match cause_elsewhere(trace, index) {
            Some(cause) => Some(cause),
            None => match previous[index] {
                None => spawn_of(trace, events[index].task, index),
                Some(before) => {
                    if let Some(sites) = held_while_sleeping.get(&before) {
                        let slept = times[index].saturating_sub(times[before]);
                        for &site in sites {
                            *sections.entry(site).or_default() += slept;
                        }
                    }
                    Some(woken_by(trace, before, index).unwrap_or(before))
                }
            },
        };
        match next {
            Some(earlier) => {
                debug_assert!(earlier < index, "the critical path walks back");
                index = earlier;
            }
            None => return sections,
        }
    }
}

/// An event recorded in another task's step on its task's behalf (a lock
/// granted by a release) is explained by that task's latest event before
/// it.
fn cause_elsewhere(trace: &Trace, index: usize) -> Option<usize> {
    let event = &trace.events[index];
    let first_of_step = trace.events[..index]
        .iter()
        .rposition(|earlier| earlier.step != event.step)
        .map_or(0, |position| position + 1);
    let runner = trace.events[first_of_step].task;
    if runner == event.task {
        return None;
    }
    (first_of_step..index)
        .rev()
        .find(|&earlier| trace.events[earlier].task == runner)
}

/// What ended the wait that began at `blocked` and ended at `resumed`: the
/// finish of the task joined, or the latest event of another task on the
/// object waited for.
fn woken_by(trace: &Trace, blocked: usize, resumed: usize) -> Option<usize> {
    let on = trace.events[blocked].op.waits_for()?;
    let waiter = trace.events[resumed].task;
    (blocked + 1..resumed).rev().find(|&between| {
        let event = &trace.events[between];
        match on {
            WaitTarget::Task(task) => event.task == task && event.op.touch() == Touch::Finish,
            WaitTarget::Object(object) => event.task != waiter && event.op.object() == Some(object),
            WaitTarget::Untracked => false,
        }
    })
}

/// The event that spawned `task`, if before `index`.
fn spawn_of(trace: &Trace, task: TaskId, index: usize) -> Option<usize> {
    trace.events[..index].iter().rposition(|event| {
        let op = event.op;
        op.order() == Order::Spawn && op.operand() == Operand::Task(task)
    })
}

/// Each event's task's previous event.
fn previous_of_task(trace: &Trace) -> Vec<Option<usize>> {
    let mut last: BTreeMap<TaskId, usize> = BTreeMap::new();
    trace
        .events
        .iter()
        .enumerate()
        .map(|(index, event)| last.insert(event.task, index))
        .collect()
}

/// For each `Sleep` event made while its task held locks or permits: the
/// sites where it took them.
fn held_while_sleeping(trace: &Trace) -> BTreeMap<usize, Vec<Location>> {
    let mut held: BTreeMap<TaskId, Vec<(ObjectId, Location)>> = BTreeMap::new();
    let mut sleeping = BTreeMap::new();
    for (index, event) in trace.events.iter().enumerate() {
        let taken = held.entry(event.task).or_default();
        let op = event.op;
        let holding = op.holding();
        match op.operand() {
            Operand::Object(object) if holding.taken().is_some() => {
                taken.push((object, event.location));
            }
            Operand::Object(object) if holding.given_up().is_some() => {
                if let Some(position) = taken.iter().rposition(|&(held, _)| held == object) {
                    taken.remove(position);
                }
            }
            Operand::Until(_) if !taken.is_empty() => {
                let mut sites: Vec<Location> = taken.iter().map(|&(_, site)| site).collect();
                sites.sort_unstable();
                sites.dedup();
                sleeping.insert(index, sites);
            }
            _ => {}
        }
    }
    sleeping
}
