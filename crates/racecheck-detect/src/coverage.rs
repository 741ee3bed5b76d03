//! Coverage: which executions are the same interleaving, up to reordering
//! steps that do not conflict.

use crate::dependency::{Footprint, Key};
use racecheck_trace::{TaskId, Trace};
use std::collections::BTreeMap;

/// A fingerprint of the execution's interleaving class: two executions get
/// the same one exactly when every object and task sees the conflicting
/// steps in the same order (reads between two changes in any order), that
/// is, when they only reorder independent steps.
///
/// ```
/// use racecheck_detect::interleaving_class;
/// use racecheck_trace::Trace;
/// assert_eq!(interleaving_class(&Trace::default()), interleaving_class(&Trace::default()));
/// ```
pub fn interleaving_class(trace: &Trace) -> u64 {
    // Per key, the steps that touched it in order: (task, the task's own
    // step count, whether it changed the key).
    let mut orders: BTreeMap<Key, Vec<(TaskId, u32, bool)>> = BTreeMap::new();
    let mut steps_of_task: BTreeMap<TaskId, u32> = BTreeMap::new();
    let mut start = 0;
    while start < trace.events.len() {
        let step = trace.events[start].step;
        let task = trace.events[start].task;
        let length = trace.events[start..]
            .iter()
            .take_while(|event| event.step == step)
            .count();
        let footprint = Footprint::of(task, &trace.events[start..start + length]);
        start += length;
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
