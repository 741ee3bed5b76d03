//! Coverage: which executions are the same interleaving, up to reordering
//! steps that do not conflict.

use crate::dependency::{Footprint, Key, Turns};
use racecheck_trace::{Schedule, TaskId, Trace};
use std::collections::BTreeMap;

/// A fingerprint of the execution's interleaving class: two executions get
/// the same one exactly when every object and task sees the conflicting
/// steps in the same order (reads between two changes in any order), that
/// is, when they only reorder independent steps. Steps are cut by the
/// `schedule` (step `s` ran its `s`-th task, with the events numbered `s`),
/// and their footprints are the exhaustive search's ([`Turns`]): where a
/// task yielded, which visible steps ran between the yield and its
/// resumption counts too.
///
/// ```
/// use racecheck_detect::interleaving_class;
/// use racecheck_trace::{Schedule, Trace};
/// let (trace, schedule) = (Trace::default(), Schedule::default());
/// assert_eq!(interleaving_class(&trace, &schedule), interleaving_class(&trace, &schedule));
/// ```
pub fn interleaving_class(trace: &Trace, schedule: &Schedule) -> u64 {
    let steps = step_footprints(trace, schedule);
    // Per key, the steps that touched it in order: (task, the task's own
    // step count, whether it changed the key).
    let mut orders: BTreeMap<Key, Vec<(TaskId, u32, bool)>> = BTreeMap::new();
    let mut steps_of_task: BTreeMap<TaskId, u32> = BTreeMap::new();
    for (task, footprint) in steps {
        // A step that touches nothing but its own task (reaching a
        // scheduling point, an attempt to join that blocked) is not part of
        // the interleaving.
        let accesses: Vec<(Key, bool)> = footprint
            .accesses()
            .iter()
            .copied()
            .filter(|&access| access != (Key::Task(task), false))
            .collect();
        if accesses.is_empty() {
            continue;
        }
        let ordinal = steps_of_task.entry(task).or_insert(0);
        *ordinal += 1;
        for (key, changes) in accesses {
            orders
                .entry(key)
                .or_default()
                .push((task, *ordinal, changes));
        }
    }
    let mut hash = Fnv::default();
    for (key, mut order) in orders {
        hash.write(&format!("{key:?}"));
        // Reads between two changes commute: sort each run of them.
        let mut run_start = 0;
        for index in 0..=order.len() {
            if index == order.len() || order[index].2 {
                order[run_start..index].sort_unstable();
                run_start = index + 1;
            }
        }
        for (task, ordinal, changes) in order {
            hash.write(&format!(
                "{}.{ordinal}{}",
                task.0,
                if changes { "w" } else { "r" }
            ));
        }
    }
    hash.finish()
}

/// Each step's task and footprint, in order: step `s` ran the task
/// `schedule` chose at `s`, and its events are those numbered `s` (a step
/// that only reached a scheduling point has none).
fn step_footprints(trace: &Trace, schedule: &Schedule) -> Vec<(TaskId, Footprint)> {
    let mut turns = Turns::default();
    let mut events = trace.events.as_slice();
    let mut steps = Vec::with_capacity(schedule.len());
    for (step, &task) in schedule.steps().iter().enumerate() {
        let length = events
            .iter()
            .take_while(|event| event.step as usize == step)
            .count();
        let (own, rest) = events.split_at(length);
        steps.push((task, turns.footprint(task, own)));
        events = rest;
    }
    steps
}

/// FNV-1a: a hash that is the same on every platform and build.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, text: &str) {
        for byte in text.bytes().chain([0xff]) {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
