//! Counting the Mazurkiewicz traces an exploration reached, from the
//! outside: [`Traces`] wraps any scheduler, watches each execution's steps
//! and files the execution under its [`canonical`] form. Wrapped around a
//! plain depth-first search without reduction
//! ([`ExhaustiveScheduler::without_reduction`]), it counts a program's
//! traces by brute force; wrapped around the reduced search, it says which
//! of them the reduction reached.
//!
//! The trace of an execution is the order in which its operations touched
//! each object, where reads between two changes commute. Which operations
//! only read is decided here (its `access` table), and on purpose not by the
//! dependency relation the exhaustive search reduces by
//! (`racecheck_detect::Footprint`): a wrong entry there must make the
//! reduced search miss traces this count still sees. Attempts that blocked
//! and explicit yields are not operations on anything: a trace is what the
//! program observably did.
//!
//! ```
//! use racecheck::sched::{explore_with, Config, ExhaustiveScheduler};
//! use racecheck::sync::Shared;
//! use racecheck_programs::traces::Traces;
//! use std::sync::Arc;
//!
//! let config = Config {
//!     iterations: 1_000,
//!     checks: racecheck::detect::Checks::all(racecheck::Check::Off),
//!     ..Config::default()
//! };
//! let mut plain = Traces::new(ExhaustiveScheduler::without_reduction());
//! let report = explore_with(&config, &mut plain, || async {
//!     let value = Arc::new(Shared::new(0));
//!     let writer = { let value = value.clone(); racecheck::spawn(async move { value.store(1).await }) };
//!     value.load().await;
//!     writer.await;
//! });
//! assert!(report.complete);
//! // The root reads before or after the writer writes.
//! assert_eq!(plain.traces().len(), 2);
//! ```

use racecheck::detect::Turns;
use racecheck::sched::{ExhaustiveScheduler, Scheduler};
use racecheck::TaskId;
use racecheck_trace::{Event, Op};
use std::collections::{BTreeMap, HashSet};

/// A scheduler that records the trace of every execution it completes, with
/// the fewest preemptions any of its executions took to reach it.
#[derive(Debug)]
pub struct Traces<S> {
    scheduler: S,
    /// The current execution's steps: who ran, what it recorded.
    steps: Vec<(TaskId, Vec<Event>)>,
    /// An execution is under way and not filed yet.
    running: bool,
    preemptions: usize,
    /// The last step ended in an explicit yield: the next switch is free.
    yielded: bool,
    traces: BTreeMap<String, usize>,
}

impl<S: Scheduler> Traces<S> {
    /// Records the executions `scheduler` chooses.
    pub fn new(scheduler: S) -> Traces<S> {
        Traces {
            scheduler,
            steps: Vec::new(),
            running: false,
            preemptions: 0,
            yielded: false,
            traces: BTreeMap::new(),
        }
    }

    /// Every trace reached so far, by its canonical form, with the fewest
    /// preemptions of an execution that reached it (a preemption is a switch
    /// away from a task that could have gone on, except right after it
    /// yielded). An execution the scheduler stopped as redundant reached
    /// nothing.
    pub fn traces(&mut self) -> &BTreeMap<String, usize> {
        self.file();
        &self.traces
    }

    /// Files the execution under way, unless the scheduler stopped it as
    /// redundant.
    fn file(&mut self) {
        if std::mem::take(&mut self.running) && !self.scheduler.redundant() {
            let fewest = self
                .traces
                .entry(canonical(&self.steps))
                .or_insert(usize::MAX);
            *fewest = (*fewest).min(self.preemptions);
        }
    }
}

impl<S: Scheduler> Scheduler for Traces<S> {
    fn new_execution(&mut self, iteration: u64) -> bool {
        self.file();
        let more = self.scheduler.new_execution(iteration);
        self.running = more;
        self.steps.clear();
        self.preemptions = 0;
        self.yielded = false;
        more
    }

    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
        let task = self.scheduler.next_task(runnable, current)?;
        let running = current.filter(|running| runnable.contains(running));
        if !self.yielded && running.is_some_and(|running| running != task) {
            self.preemptions += 1;
        }
        Some(task)
    }

    fn observe_step(&mut self, task: TaskId, events: &[Event]) {
        self.yielded = events.iter().any(|event| event.op == Op::Yield);
        self.steps.push((task, events.to_vec()));
        self.scheduler.observe_step(task, events);
    }

    fn redundant(&self) -> bool {
        self.scheduler.redundant()
    }
}

/// A plain depth-first search over every fair schedule, recording traces:
/// the brute-force count.
///
/// ```
/// let mut plain = racecheck_programs::traces::brute_force();
/// # let _ = plain.traces();
/// ```
pub fn brute_force() -> Traces<ExhaustiveScheduler> {
    Traces::new(ExhaustiveScheduler::without_reduction())
}

/// The same count for larger programs: a depth-first search over every
/// fair schedule that explores two schedule prefixes once when they reach
/// the same state, as the [`canonical`] form of their trace so far and the
/// steps each task took say (the same operations in the same conflicting
/// order leave every task and object in the same state, and every
/// continuation then adds the same operations to both). Executions cut at
/// a state already explored are redundant, so [`Traces`] does not count
/// them.
///
/// ```
/// use racecheck::sched::{explore_with, Config};
/// use racecheck_programs::traces::{merging_brute_force, Traces};
///
/// let mut merged = merging_brute_force();
/// let config = Config {
///     iterations: 10_000,
///     checks: racecheck::detect::Checks::all(racecheck::Check::Off),
///     ..Config::default()
/// };
/// let report = explore_with(&config, &mut merged, || async {
///     racecheck_programs::dpor::readers(3).await;
/// });
/// assert!(report.complete);
/// assert_eq!(merged.traces().len(), 8);
/// ```
pub fn merging_brute_force() -> Traces<MergingSearch> {
    Traces::new(MergingSearch::default())
}

/// Depth-first search over every fair schedule, exploring each reachable
/// state once (see [`merging_brute_force`]).
#[derive(Debug, Default)]
pub struct MergingSearch {
    /// Per step of the current execution: the tasks to try and which one
    /// is tried now.
    stack: Vec<(Vec<TaskId>, usize)>,
    depth: usize,
    steps: Vec<(TaskId, Vec<Event>)>,
    /// The states met so far.
    visited: HashSet<String>,
    fairness: HeldBack,
    /// The current execution reached a state met before and was stopped.
    cut: bool,
}

impl MergingSearch {
    /// The state after the current execution's steps so far.
    fn state(&self) -> String {
        let mut steps_per_task: Vec<usize> = Vec::new();
        for (task, _) in &self.steps {
            if steps_per_task.len() <= task.index() {
                steps_per_task.resize(task.index() + 1, 0);
            }
            steps_per_task[task.index()] += 1;
        }
        format!(
            "{}{steps_per_task:?}{:?}",
            canonical(&self.steps),
            self.fairness
        )
    }
}

impl Scheduler for MergingSearch {
    fn new_execution(&mut self, iteration: u64) -> bool {
        if iteration > 0 {
            while let Some((candidates, chosen)) = self.stack.last_mut() {
                if *chosen + 1 < candidates.len() {
                    *chosen += 1;
                    break;
                }
                self.stack.pop();
            }
            if self.stack.is_empty() {
                return false;
            }
        }
        self.depth = 0;
        self.steps.clear();
        self.fairness = HeldBack::default();
        self.cut = false;
        true
    }

    fn next_task(&mut self, runnable: &[TaskId], _current: Option<TaskId>) -> Option<TaskId> {
        let depth = self.depth;
        self.depth += 1;
        if let Some((candidates, chosen)) = self.stack.get(depth) {
            return Some(candidates[*chosen]);
        }
        if !self.visited.insert(self.state()) {
            self.cut = true;
            return None;
        }
        let held = self.fairness.held_back(runnable);
        let candidates: Vec<TaskId> = runnable
            .iter()
            .copied()
            .filter(|&task| Some(task) != held)
            .collect();
        let first = candidates[0];
        self.stack.push((candidates, 0));
        Some(first)
    }

    fn observe_step(&mut self, task: TaskId, events: &[Event]) {
        self.fairness.observe(task, events);
        self.steps.push((task, events.to_vec()));
    }

    fn redundant(&self) -> bool {
        self.cut
    }
}

/// CHESS's fair-scheduling rule as the exhaustive search applies it: a task
/// that yielded runs again only after another task did something visible,
/// or when no other task can run.
#[derive(Debug, Default)]
struct HeldBack {
    turns: Turns,
    held: Option<TaskId>,
}

impl HeldBack {
    fn held_back(&self, runnable: &[TaskId]) -> Option<TaskId> {
        self.held
            .filter(|task| runnable.len() > 1 && runnable.contains(task))
    }

    fn observe(&mut self, task: TaskId, events: &[Event]) {
        let visible = !self.turns.footprint(task, events).is_private(task);
        if events.iter().any(|event| event.op == Op::Yield) {
            self.held = Some(task);
        } else if self.held == Some(task) || visible {
            self.held = None;
        }
    }
}

/// Something an operation touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Touched {
    Object(u32),
    Task(u32),
}

/// The canonical form of an execution's trace: per object and task, in
/// order, which operation of which task touched it, with the runs of reads
/// between two changes sorted. Two executions have the same form exactly
/// when they perform the same operations and order every conflicting pair
/// the same way.
pub fn canonical(steps: &[(TaskId, Vec<Event>)]) -> String {
    // Per thing touched: (task, the task's operation count, the operation,
    // whether it changed the thing).
    let mut orders: BTreeMap<Touched, Vec<(u32, u32, &'static str, bool)>> = BTreeMap::new();
    let mut operations: BTreeMap<u32, u32> = BTreeMap::new();
    // An event's own task, not the step's: a release records the
    // acquisition of the waiter it serves, on the waiter's behalf.
    for event in steps.iter().flat_map(|(_, events)| events) {
        let task = event.task.0;
        let Some((touched, changes)) = access(task, &event.op) else {
            continue;
        };
        let ordinal = operations.entry(task).or_insert(0);
        *ordinal += 1;
        let entry = (task, *ordinal, event.op.verb(), changes);
        orders.entry(touched).or_default().push(entry);
    }
    let mut form = String::new();
    for (touched, mut order) in orders {
        let mut run_start = 0;
        for index in 0..=order.len() {
            if index == order.len() || order[index].3 {
                order[run_start..index].sort_unstable();
                run_start = index + 1;
            }
        }
        form += &format!("{touched:?}:");
        for (task, ordinal, verb, _) in order {
            form += &format!(" {task}.{ordinal} {verb},");
        }
        form.push('\n');
    }
    form
}

/// What an operation of `task` touches and whether it changes it; `None`
/// for what is not an operation on anything (a blocked attempt, a yield,
/// the virtual clock). Reading shared state, a failed attempt (`try_*`),
/// inspecting a primitive, observing a watch or broadcast value, joining
/// a finished task and looking whether a task has finished change nothing; every other operation changes its
/// object.
fn access(task: u32, op: &Op) -> Option<(Touched, bool)> {
    match *op {
        Op::Block { .. } | Op::Yield | Op::Sleep { .. } | Op::TimedOut => None,
        Op::Spawn { child } => Some((Touched::Task(child.0), true)),
        Op::Finish => Some((Touched::Task(task), true)),
        Op::Join { target } | Op::FoundRunning { target } | Op::FoundFinished { target } => {
            Some((Touched::Task(target.0), false))
        }
        Op::Read { object }
        | Op::Load { object, .. }
        | Op::TryFailed { object }
        | Op::Inspect { object }
        | Op::Observe { object, .. } => Some((Touched::Object(object.0), false)),
        _ => op.object().map(|object| (Touched::Object(object.0), true)),
    }
}
