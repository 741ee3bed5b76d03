//! The lock-order graph (Goodlock, lockdep): lock A held while lock B is
//! taken adds the edge A → B. A cycle whose edges come from different tasks
//! and share no guard lock can deadlock in some schedule, even if no
//! execution did. The graph accumulates over a whole exploration.

use crate::finding::{LockOrderEdge, PotentialDeadlock};
use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;
use racecheck_trace::{Holding, Location, LockMode, ObjectId, ObjectKind, TaskId, Trace};
use std::collections::{BTreeMap, BTreeSet};

/// Samples kept per pair of locks and distinct set of guards: two tasks,
/// enough to pair the edge with another task's in a cycle.
const SAMPLES_PER_GUARD_SET: usize = 2;

/// Distinct guard sets kept per pair of locks, so memory stays bounded
/// when a program takes the same two locks under ever new guards.
const GUARD_SETS_PER_EDGE_MAX: usize = 64;

/// Combinations of samples tried per cycle before giving up on it.
const COMBINATIONS_PER_CYCLE_MAX: usize = 100_000;

/// Longest cycle examined.
const CYCLE_LENGTH_MAX: usize = 8;

/// Identifies a lock across executions: where it was created, and how many
/// locks were created there before it in the same execution.
type LockKey = (Location, u32);

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sample {
    task: TaskId,
    task_name: String,
    held_at: Location,
    acquired_at: Location,
    /// Other locks held at the time, each with whether it was held in
    /// shared mode (a read lock), which excludes no other reader.
    guards: BTreeSet<(u32, bool)>,
}

/// The lock-order graph of an exploration.
#[derive(Debug, Default)]
pub(crate) struct LockOrder {
    graph: DiGraphMap<u32, ()>,
    keys: BTreeMap<LockKey, u32>,
    labels: Vec<String>,
    samples: BTreeMap<(u32, u32), Vec<Sample>>,
    reported: BTreeSet<Vec<u32>>,
}

struct Held {
    node: u32,
    object: ObjectId,
    taken_at: Location,
    count: u32,
    shared: bool,
}

/// One execution's contribution to the lock-order graph: its locks (in
/// creation order) and the orders it took them in. Applying the deltas of
/// an exploration's executions in iteration order gives the same graph, and
/// the same potential deadlocks, whichever threads ran the executions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockOrderDelta {
    /// The execution's locks: how they are known across executions, and
    /// their labels.
    locks: Vec<(LockKey, String)>,
    /// Lock orders, as indices into `locks`, with their samples (guards as
    /// indices into `locks` too), in the order they were seen.
    edges: Vec<(u32, u32, Sample)>,
}

impl LockOrder {
    /// Adds the lock orders of one execution's trace (one that took a lock
    /// under another, see [`LockOrder::observe`]) and returns cycles not
    /// reported before.
    pub(crate) fn add(&mut self, trace: &Trace) -> Vec<PotentialDeadlock> {
        let delta = LockOrder::observe(trace);
        self.apply(&delta)
    }

    /// The lock orders of one execution, without adding them.
    ///
    /// Only an execution in which some task takes a lock (or blocks trying
    /// to) while holding another can add an edge. The detector counts that
    /// in its one walk of the trace (`HeldCounts`) and calls this only for
    /// such executions, so that the others pay nothing more here.
    pub(crate) fn observe(trace: &Trace) -> LockOrderDelta {
        let mut delta = LockOrderDelta::default();
        let locals = locks_of(trace, &mut delta.locks);
        let mut held: BTreeMap<TaskId, Vec<Held>> = BTreeMap::new();
        for event in &trace.events {
            let op = event.op;
            let Some(object) = op.object() else {
                continue;
            };
            // A blocked attempt counts: in a deadlocked execution the
            // second locks are never taken, only tried.
            let attempt = op.waits_for().is_some();
            let shared = match op.holding() {
                Holding::Unlock(_) => {
                    if let Some(mine) = held.get_mut(&event.task) {
                        if let Some(index) = mine.iter().position(|entry| entry.object == object) {
                            mine[index].count -= 1;
                            if mine[index].count == 0 {
                                mine.remove(index);
                            }
                        }
                    }
                    continue;
                }
                Holding::Lock(mode) => mode == LockMode::Shared,
                _ if attempt => false,
                _ => continue,
            };
            let Some(node) = locals[object.index()] else {
                continue;
            };
            let mine = held.entry(event.task).or_default();
            if let Some(entry) = mine.iter_mut().find(|entry| entry.object == object) {
                entry.count += u32::from(!attempt);
                continue;
            }
            for entry in mine.iter() {
                let guards = mine
                    .iter()
                    .filter(|other| other.node != entry.node)
                    .map(|other| (other.node, other.shared))
                    .collect();
                let sample = Sample {
                    task: event.task,
                    task_name: trace.task_label(event.task),
                    held_at: entry.taken_at,
                    acquired_at: event.location,
                    guards,
                };
                delta.edges.push((entry.node, node, sample));
            }
            if attempt {
                continue;
            }
            mine.push(Held {
                node,
                object,
                taken_at: event.location,
                count: 1,
                shared,
            });
        }
        delta
    }

    /// Adds one execution's lock orders and returns cycles not reported
    /// before.
    pub(crate) fn apply(&mut self, delta: &LockOrderDelta) -> Vec<PotentialDeadlock> {
        let nodes: Vec<u32> = delta
            .locks
            .iter()
            .map(|(key, label)| {
                let next = self.keys.len() as u32;
                let node = *self.keys.entry(*key).or_insert(next);
                if node == next {
                    self.labels.push(label.clone());
                    self.graph.add_node(node);
                }
                node
            })
            .collect();
        let mut changed = false;
        for (from, to, sample) in &delta.edges {
            let sample = Sample {
                guards: sample
                    .guards
                    .iter()
                    .map(|&(guard, shared)| (nodes[guard as usize], shared))
                    .collect(),
                ..sample.clone()
            };
            changed |= self.add_edge(nodes[*from as usize], nodes[*to as usize], sample);
        }
        if !changed {
            return Vec::new();
        }
        self.new_cycles()
    }

    /// Keeps `sample` of the edge `from → to` if it brings a guard set
    /// not seen yet, or a second task for one: a cap on samples per edge
    /// must not hide the one unguarded instance behind many guarded ones.
    fn add_edge(&mut self, from: u32, to: u32, sample: Sample) -> bool {
        let samples = self.samples.entry((from, to)).or_default();
        let same_guards: Vec<&Sample> = samples
            .iter()
            .filter(|kept| kept.guards == sample.guards)
            .collect();
        let new_guard_set = same_guards.is_empty();
        let guard_sets = samples
            .iter()
            .map(|kept| &kept.guards)
            .collect::<BTreeSet<_>>()
            .len();
        let keep = if new_guard_set {
            guard_sets < GUARD_SETS_PER_EDGE_MAX
        } else {
            same_guards.len() < SAMPLES_PER_GUARD_SET
                && same_guards.iter().all(|kept| kept.task != sample.task)
        };
        if !keep {
            return false;
        }
        samples.push(sample);
        self.graph.add_edge(from, to, ());
        true
    }

    fn new_cycles(&mut self) -> Vec<PotentialDeadlock> {
        let mut found = Vec::new();
        for component in tarjan_scc(&self.graph) {
            if component.len() < 2 {
                continue;
            }
            let mut cycles = Vec::new();
            let start = *component.iter().min().expect("not empty");
            self.cycles_from(start, &component, &mut vec![start], &mut cycles);
            for cycle in cycles {
                let mut key = cycle.clone();
                key.sort_unstable();
                if self.reported.contains(&key) {
                    continue;
                }
                if let Some(edges) = self.feasible(&cycle) {
                    self.reported.insert(key);
                    found.push(PotentialDeadlock { cycle: edges });
                }
            }
        }
        found
    }

    /// Simple cycles through `path`'s first node within the component, up
    /// to `CYCLE_LENGTH_MAX` locks long.
    fn cycles_from(
        &self,
        start: u32,
        component: &[u32],
        path: &mut Vec<u32>,
        cycles: &mut Vec<Vec<u32>>,
    ) {
        let current = *path.last().expect("path starts with start");
        for next in self.graph.neighbors(current) {
            if next == start && path.len() >= 2 {
                cycles.push(path.clone());
            } else if next > start
                && component.contains(&next)
                && !path.contains(&next)
                && path.len() < CYCLE_LENGTH_MAX
            {
                path.push(next);
                self.cycles_from(start, component, path, cycles);
                path.pop();
            }
        }
    }

    /// Samples for each edge of the cycle taken by at least two different
    /// tasks with no guard lock common to all of them, if there are any.
    fn feasible(&self, cycle: &[u32]) -> Option<Vec<LockOrderEdge>> {
        let pairs: Vec<(u32, u32)> = (0..cycle.len())
            .map(|index| (cycle[index], cycle[(index + 1) % cycle.len()]))
            .collect();
        let options: Vec<&Vec<Sample>> = pairs
            .iter()
            .map(|pair| self.samples.get(pair))
            .collect::<Option<_>>()?;
        let mut choice = vec![0; pairs.len()];
        for _ in 0..COMBINATIONS_PER_CYCLE_MAX {
            let chosen: Vec<&Sample> = choice
                .iter()
                .zip(&options)
                .map(|(&index, samples)| &samples[index])
                .collect();
            let tasks: BTreeSet<TaskId> = chosen.iter().map(|sample| sample.task).collect();
            if tasks.len() >= 2 && !has_common_guard(&chosen) {
                return Some(
                    pairs
                        .iter()
                        .zip(chosen)
                        .map(|(&(held, acquired), sample)| LockOrderEdge {
                            held: self.labels[held as usize].clone(),
                            held_at: sample.held_at,
                            acquired: self.labels[acquired as usize].clone(),
                            acquired_at: sample.acquired_at,
                            task_name: sample.task_name.clone(),
                        })
                        .collect(),
                );
            }
            // Next combination, odometer style.
            let mut position = 0;
            loop {
                if position == choice.len() {
                    return None;
                }
                choice[position] += 1;
                if choice[position] < options[position].len() {
                    break;
                }
                choice[position] = 0;
                position += 1;
            }
        }
        None
    }
}

/// Whether a lock held by every sample's task keeps them from all holding
/// their locks at once: held by each, and in exclusive mode by all of the
/// cycle's tasks but at most one (two readers of an `RwLock` hold it
/// together, so a lock both hold in shared mode guards nothing).
fn has_common_guard(samples: &[&Sample]) -> bool {
    let Some(first) = samples.first() else {
        return false;
    };
    first.guards.iter().any(|&(guard, _)| {
        let mut shared_holders = BTreeSet::new();
        samples.iter().all(|sample| {
            let held = sample.guards.iter().find(|&&(node, _)| node == guard);
            if let Some(&(_, true)) = held {
                shared_holders.insert(sample.task);
            }
            held.is_some()
        }) && shared_holders.len() <= 1
    })
}

/// The trace's locks, pushed onto `locks` with their keys and labels, and
/// for every object its index among them (`None` for other objects). A lock
/// is known across executions by where it was created and how many objects
/// were created there before it.
fn locks_of(trace: &Trace, locks: &mut Vec<(LockKey, String)>) -> Vec<Option<u32>> {
    let mut seen_at: BTreeMap<Location, u32> = BTreeMap::new();
    trace
        .objects
        .iter()
        .enumerate()
        .map(|(index, info)| {
            let occurrence = seen_at.entry(info.created_at).or_insert(0);
            let key = (info.created_at, *occurrence);
            *occurrence += 1;
            let is_lock = matches!(
                info.kind,
                ObjectKind::Mutex | ObjectKind::RwLock | ObjectKind::ReentrantMutex
            );
            if !is_lock {
                return None;
            }
            locks.push((key, trace.object_label(ObjectId(index as u32))));
            Some(locks.len() as u32 - 1)
        })
        .collect()
}
