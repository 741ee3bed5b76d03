//! Exhaustive search: depth-first over schedules with dynamic partial-order
//! reduction (Flanagan & Godefroid, POPL 2005) and sleep sets (Godefroid),
//! so that schedules that only reorder independent steps are not explored
//! twice.
//!
//! The search keeps the stack of states of the current execution. After an
//! execution, every step is compared with the earlier steps of other tasks:
//! the last one it conflicts with (the detector's dependency relation,
//! [`Footprint`]) and is not already ordered after gets a backtrack point,
//! so the other order is explored too. Sleep sets skip alternatives whose
//! every continuation was already covered.

use racecheck_detect::{Footprint, Key};
use racecheck_runtime::Scheduler;
use racecheck_trace::{Event, Op, TaskId};
use std::collections::BTreeMap;

/// A state of the search: what could run, what ran, what remains to try.
#[derive(Clone, Debug)]
struct Node {
    runnable: Vec<TaskId>,
    chosen: TaskId,
    /// What the chosen step did.
    footprint: Footprint,
    /// The data choice the chosen step made (`rt::choose`), as
    /// `(value, options)`: every value is tried before the next task.
    data: Option<(u32, u32)>,
    /// What the chosen step did with each data value tried so far.
    footprints_tried: Footprint,
    /// Tasks to run from this state in some execution.
    backtrack: Vec<TaskId>,
    /// Tasks already run from this state, with what their step did.
    done: Vec<(TaskId, Footprint)>,
    /// Tasks not to run from this state: everything after them is covered.
    sleep: Vec<(TaskId, Footprint)>,
}

/// Depth-first exploration of all schedules up to partial-order
/// equivalence. `new_execution` returns `false` once every schedule has
/// been covered: the exploration is then a proof for that test.
///
/// ```
/// use racecheck_explore::ExhaustiveScheduler;
/// use racecheck_runtime::Scheduler;
/// use racecheck_trace::TaskId;
///
/// let mut search = ExhaustiveScheduler::new();
/// assert!(search.new_execution(0));
/// assert_eq!(search.next_task(&[TaskId(0)], None), Some(TaskId(0)));
/// assert!(!search.new_execution(1), "one task, one schedule");
/// ```
#[derive(Clone, Debug, Default)]
pub struct ExhaustiveScheduler {
    nodes: Vec<Node>,
    /// Steps taken in the current execution.
    depth: usize,
    /// The depth at which every runnable task was asleep: the rest of this
    /// execution is covered elsewhere, so it was stopped there.
    sleep_blocked_at: Option<usize>,
    /// The program did not follow a replayed prefix: it is not
    /// deterministic.
    diverged: bool,
    /// The root task has finished in the current execution: from then on,
    /// a runnable root stands for shutting the runtime down
    /// (`Shutdown::Explored`).
    root_finished: bool,
    /// Plain depth-first search: every runnable task at every state.
    without_reduction: bool,
}

impl ExhaustiveScheduler {
    /// A search at its start.
    pub fn new() -> ExhaustiveScheduler {
        ExhaustiveScheduler::default()
    }

    /// Plain depth-first search over every schedule, without partial-order
    /// reduction: the reference the reduced search is tested against, and
    /// a measure of what the reduction saves.
    ///
    /// ```
    /// use racecheck_explore::ExhaustiveScheduler;
    /// use racecheck_runtime::Scheduler;
    /// use racecheck_trace::TaskId;
    ///
    /// let mut search = ExhaustiveScheduler::without_reduction();
    /// let both = [TaskId(0), TaskId(1)];
    /// let mut schedules = 0;
    /// let mut iteration = 0;
    /// while search.new_execution(iteration) {
    ///     search.next_task(&both, None);
    ///     schedules += 1;
    ///     iteration += 1;
    /// }
    /// assert_eq!(schedules, 2);
    /// ```
    pub fn without_reduction() -> ExhaustiveScheduler {
        ExhaustiveScheduler {
            without_reduction: true,
            ..ExhaustiveScheduler::default()
        }
    }

    /// Adds backtrack points for the execution just finished.
    fn analyse(&mut self) {
        let steps = self
            .depth
            .min(self.nodes.len())
            .min(self.sleep_blocked_at.unwrap_or(usize::MAX));
        let tasks = self.nodes[..steps]
            .iter()
            .flat_map(|node| node.runnable.iter().chain([&node.chosen]))
            .map(|task| task.index() + 1)
            .max()
            .unwrap_or(0);
        // Clock of each task's last step, step counts per task, and per key
        // the clock of its last change and the joined clocks of reads since.
        let mut task_clocks = vec![vec![0u32; tasks]; tasks];
        let mut epochs = vec![0u32; steps];
        let mut last_change: BTreeMap<Key, Vec<u32>> = BTreeMap::new();
        let mut reads_since: BTreeMap<Key, Vec<u32>> = BTreeMap::new();
        for j in 0..steps {
            let task = self.nodes[j].chosen.index();
            // The task's knowledge before this step: program order only.
            let before = task_clocks[task].clone();
            let racing = (0..j).rev().find(|&i| {
                let other = self.nodes[i].chosen.index();
                other != task
                    && before[other] < epochs[i]
                    && self.nodes[i]
                        .footprint
                        .conflicts_with(&self.nodes[j].footprint)
            });
            if let Some(i) = racing {
                let chosen = self.nodes[j].chosen;
                let node = &mut self.nodes[i];
                if node.runnable.contains(&chosen) {
                    add(&mut node.backtrack, chosen);
                } else {
                    for task in node.runnable.clone() {
                        add(&mut node.backtrack, task);
                    }
                }
            }
            let mut clock = before;
            for &(key, changes) in self.nodes[j].footprint.accesses() {
                if let Some(changed) = last_change.get(&key) {
                    join(&mut clock, changed);
                }
                if changes {
                    if let Some(reads) = reads_since.get(&key) {
                        join(&mut clock, reads);
                    }
                }
            }
            clock[task] += 1;
            epochs[j] = clock[task];
            for &(key, changes) in self.nodes[j].footprint.accesses() {
                if changes {
                    last_change.insert(key, clock.clone());
                    reads_since.remove(&key);
                } else {
                    join(
                        reads_since.entry(key).or_insert_with(|| vec![0; tasks]),
                        &clock,
                    );
                }
            }
            task_clocks[task] = clock;
        }
    }

    /// Moves to the deepest state with a task left to try; `false` if there
    /// is none.
    fn backtrack(&mut self) -> bool {
        while let Some(node) = self.nodes.last_mut() {
            let footprint = std::mem::take(&mut node.footprint);
            node.footprints_tried.add(&footprint);
            if let Some((value, options)) = &mut node.data {
                if *value + 1 < *options {
                    *value += 1;
                    return true;
                }
            }
            node.data = None;
            let explored = (node.chosen, std::mem::take(&mut node.footprints_tried));
            node.done.push(explored);
            let next = node.backtrack.iter().copied().find(|task| {
                !node.done.iter().any(|(done, _)| done == task)
                    && !node.sleep.iter().any(|(asleep, _)| asleep == task)
            });
            if let Some(next) = next {
                node.chosen = next;
                return true;
            }
            self.nodes.pop();
        }
        false
    }
}

impl Scheduler for ExhaustiveScheduler {
    fn new_execution(&mut self, iteration: u64) -> bool {
        if iteration > 0 {
            if !self.without_reduction {
                self.analyse();
            }
            if !self.backtrack() {
                return false;
            }
        }
        self.depth = 0;
        self.sleep_blocked_at = None;
        self.diverged = false;
        self.root_finished = false;
        true
    }

    fn next_task(&mut self, runnable: &[TaskId], _current: Option<TaskId>) -> Option<TaskId> {
        let depth = self.depth;
        self.depth += 1;
        if let Some(node) = self.nodes.get(depth) {
            if node.runnable != runnable {
                self.diverged = true;
                return None;
            }
            return Some(node.chosen);
        }
        // Shutting down disables every task: it depends on every step, so
        // it never sleeps, and every choice is tried where it is offered.
        let shutdown_offered = self.root_finished && runnable.first() == Some(&TaskId::ROOT);
        // A new state: its sleep set is what slept or was done at the
        // previous state, minus what the step taken from there woke up.
        let sleep: Vec<(TaskId, Footprint)> = match self.nodes.last() {
            Some(_) if self.without_reduction => Vec::new(),
            Some(parent) => parent
                .sleep
                .iter()
                .chain(&parent.done)
                .filter(|(task, footprint)| {
                    *task != parent.chosen
                        && !footprint.conflicts_with(&parent.footprint)
                        && !(shutdown_offered && *task == TaskId::ROOT)
                })
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let awake = runnable
            .iter()
            .copied()
            .find(|task| !sleep.iter().any(|(asleep, _)| asleep == task));
        let Some(chosen) = awake else {
            // Every runnable task is asleep: each continuation from here is
            // explored in another execution. Stop this one.
            self.sleep_blocked_at = Some(depth);
            return None;
        };
        let backtrack = if self.without_reduction || shutdown_offered {
            runnable.to_vec()
        } else {
            vec![chosen]
        };
        self.nodes.push(Node {
            runnable: runnable.to_vec(),
            chosen,
            footprint: Footprint::default(),
            data: None,
            footprints_tried: Footprint::default(),
            backtrack,
            done: Vec::new(),
            sleep,
        });
        Some(chosen)
    }

    /// Data choices branch like tasks, with no reduction among values: a
    /// step is tried with every value before the next task, and the tasks
    /// it put to sleep stay asleep only while independent of everything the
    /// step did with any value.
    fn choose(&mut self, options: u32) -> Option<u32> {
        let node = self.nodes.get_mut(self.depth.checked_sub(1)?)?;
        let (value, asked) = *node.data.get_or_insert((0, options));
        if asked != options {
            self.diverged = true;
            return None;
        }
        Some(value)
    }

    fn observe_step(&mut self, task: TaskId, events: &[Event]) {
        if task == TaskId::ROOT && events.iter().any(|event| event.op == Op::Finish) {
            self.root_finished = true;
        }
        if let Some(node) = self.nodes.get_mut(self.depth - 1) {
            debug_assert_eq!(node.chosen, task);
            node.footprint = Footprint::of(task, events);
        }
    }

    fn redundant(&self) -> bool {
        self.sleep_blocked_at.is_some()
    }

    fn diverged(&self) -> bool {
        self.diverged
    }
}

fn add(tasks: &mut Vec<TaskId>, task: TaskId) {
    if !tasks.contains(&task) {
        tasks.push(task);
    }
}

fn join(clock: &mut [u32], other: &[u32]) {
    for (mine, theirs) in clock.iter_mut().zip(other) {
        *mine = (*mine).max(*theirs);
    }
}
