//! Exhaustive search: depth-first over schedules with dynamic partial-order
//! reduction by source sets (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014)
//! and sleep sets (Godefroid), so that schedules that only reorder
//! independent steps are not explored twice.
//!
//! The search keeps the stack of states of the current execution. After an
//! execution, every pair of steps of different tasks that conflict (the
//! detector's dependency relation, [`Footprint`]) and are ordered by
//! nothing else is a *race*. To reverse a race between an earlier step `e`
//! and a later step `l`, the search must run, from the state before `e`,
//! the steps between them that do not depend on `e`, then `l`: one of the
//! tasks that can start that sequence (its *initials*) is added to the
//! state's backtrack set, unless one is there already or asleep. Sleep sets
//! skip alternatives whose every continuation was already covered.
//!
//! A step is not always a visible operation: a task's first step only
//! reaches its first scheduling point, and the step after a yield only
//! resumes; such steps conflict with nothing. That is why the reversal
//! starts from the initials of the whole sequence, not from the later
//! step's task alone: running that task from the earlier state may only
//! reach its scheduling point, and its operation would still come after the
//! earlier step.
//!
//! A task that yields explicitly gives up its turn until another task did
//! something visible (CHESS's fair-scheduling rule, as in the bounded
//! search; see `fairness.rs`), so a spin loop that yields lets the others
//! run. The footprints say so too: a yield and the step that resumes the
//! yielding task conflict with every visible step of the others, so which
//! steps ran between them is part of the partial order, and every
//! reordering the search treats as equivalent keeps the rule.

use crate::fairness::Fairness;
use racecheck_detect::{Footprint, Key};
use racecheck_runtime::Scheduler;
use racecheck_trace::{Event, ObjectId, TaskId, Touch};
use std::collections::BTreeMap;

/// A state of the search: what could run, what ran, what remains to try.
#[derive(Clone, Debug)]
struct Node {
    runnable: Vec<TaskId>,
    /// The task held back by its yield (see [`Fairness`]): it may not run
    /// from this state.
    yielder: Option<TaskId>,
    chosen: TaskId,
    /// What the chosen step did.
    footprint: Footprint,
    /// The data choice the chosen step made (`rt::choose`), as
    /// `(value, options)`: every value is tried before the next task.
    data: Option<(u32, u32)>,
    /// What the chosen step did with each data value tried so far.
    footprints_tried: Footprint,
    /// When the chosen step blocked on an object: what the same task's
    /// next step did, once served (see [`Asleep::after`]).
    served: Option<Footprint>,
    /// Tasks to run from this state in some execution.
    backtrack: Vec<TaskId>,
    /// Tasks already run from this state, with what their step did.
    done: Vec<Asleep>,
    /// Tasks not to run from this state: everything after them is covered.
    sleep: Vec<Asleep>,
}

/// A task in a sleep set: every execution that continues with its next step
/// from here is covered by one explored already.
#[derive(Clone, Debug)]
struct Asleep {
    task: TaskId,
    /// What its next step does.
    footprint: Footprint,
    /// When that step is an attempt that blocked on an object, the task's
    /// step once served, as explored.
    served: Option<Footprint>,
    /// Covered only while nobody sees the hand-over its step now makes (the
    /// mirror rule, see [`Asleep::after`]): the task may run, and the search
    /// then watches the hand-over ([`HandOverWindow`]).
    tentative: bool,
}

impl Asleep {
    /// The task still asleep after another task's `step`, if it is. A step
    /// independent of its own leaves it asleep. So does a step that only
    /// released the object its own attempt blocked on: its attempt would
    /// now take the object (or queue behind whoever was served), which the
    /// execution explored covers, where it blocked and was served in turn;
    /// its next step is then the one it took once served, and it wakes as
    /// soon as another step touches the object. Without this, a blocked
    /// attempt would split a trace in two: the attempt before the release,
    /// and after it.
    ///
    /// A release that hands the object to a task queued earlier leaves the
    /// task asleep on its attempt as it was: attempted now, it would block
    /// behind the new holder, the state the execution explored reached by
    /// blocking before the release.
    ///
    /// The mirror rule holds only tentatively: a task whose step only
    /// releases an object, after another task's attempt blocked on it
    /// alone. Its release now hands the object to the waiter, and the
    /// waiter's acquisition is recorded right then, in the releasing step
    /// (see the sync crate's `batch.rs`), so the order of acquisitions is
    /// the one of the execution explored, where the release came first and
    /// the attempt took the object. What that execution cannot show is the
    /// *window* between the hand-over and the waiter's next step: the
    /// object is held by a task that has not run yet, and a `try_lock` of a
    /// third task (or of the releaser) fails there, which it never does
    /// when the release comes first. So the task stays in the sleep set as
    /// [tentative](Asleep::tentative): it is not chosen unless a race asks
    /// for it. Once chosen, the search watches the window: if a step
    /// touches the object inside it, the execution is a new one; if the
    /// window closes unseen, the execution is redundant, and runs on only to
    /// show which later steps could have run inside the window (races
    /// reversed there; the states after the window are dropped).
    fn after(&self, step: &Footprint) -> Option<Asleep> {
        if !self.footprint.conflicts_with(step) {
            return Some(self.clone());
        }
        if step.is_released_by(&self.footprint) {
            return Some(Asleep {
                tentative: true,
                ..self.clone()
            });
        }
        if !self.footprint.is_released_by(step) {
            return None;
        }
        let blocked_on = self.footprint.blocked_on()?;
        if step.hands_over(blocked_on) {
            return Some(self.clone());
        }
        let served = self.served.as_ref()?;
        Some(Asleep {
            task: self.task,
            footprint: served.clone(),
            served: None,
            tentative: self.tentative,
        })
    }
}

/// The window a [tentative](Asleep::tentative) step opened: the tasks it
/// (and the steps after it) handed the objects to, which have not run
/// since.
#[derive(Clone, Debug, Default)]
struct HandOverWindow {
    /// The depth of the tentative step.
    opened_at: usize,
    /// The tentative step is the next one observed.
    opening: bool,
    /// The objects the tentative step handed over.
    objects: Vec<ObjectId>,
    /// Who holds one of them without having run since, and which.
    served: Vec<(TaskId, ObjectId)>,
}

/// What a step did to the hand-over window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Window {
    /// Still open: nobody else touched the objects.
    Open,
    /// A task touched an object handed over before its new holder ran: an
    /// order no execution with the release first has.
    Seen,
    /// Every holder ran and nobody else looked: covered.
    Closed,
}

impl HandOverWindow {
    /// Follows `task`'s step, made of `events`.
    fn observe(&mut self, task: TaskId, events: &[Event]) -> Window {
        let opening = std::mem::take(&mut self.opening);
        self.served.retain(|&(holder, _)| holder != task);
        for event in events {
            let Some(object) = event.op.object() else {
                continue;
            };
            if event.task != task {
                // An acquisition recorded on behalf of a waiter.
                if opening && !self.objects.contains(&object) {
                    self.objects.push(object);
                }
                if self.objects.contains(&object) {
                    self.served.push((event.task, object));
                }
            } else if self.served.iter().any(|&(_, held)| held == object)
                && event.op.waits_for().is_none()
            {
                return Window::Seen;
            }
        }
        if self.served.is_empty() {
            Window::Closed
        } else {
            Window::Open
        }
    }
}

impl Node {
    /// Whether `task` may be chosen from this state.
    fn may_run(&self, task: TaskId) -> bool {
        self.runnable.contains(&task) && self.yielder != Some(task)
    }

    /// Whether `task` is in the sleep set, not tentatively.
    fn is_asleep(&self, task: TaskId) -> bool {
        self.sleep
            .iter()
            .any(|asleep| asleep.task == task && !asleep.tentative)
    }

    /// Whether `task` is in the sleep set tentatively.
    fn is_tentative(&self, task: TaskId) -> bool {
        self.sleep
            .iter()
            .any(|asleep| asleep.task == task && asleep.tentative)
    }
}

/// Depth-first exploration of all schedules up to partial-order
/// equivalence. `new_execution` returns `false` once every schedule has
/// been covered: the exploration is then a proof for that test.
///
/// "Every schedule" means every *fair* one: after a task yields
/// explicitly, it runs again only after another task did something
/// visible, or when no other task can run.
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
    /// Who is held back by a yield, and the steps' part in the turn order.
    fairness: Fairness,
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
    /// The hand-over window of a tentative step taken in this execution.
    window: Option<HandOverWindow>,
    /// The depths of the tentative step and of the step that closed its
    /// window unseen: the execution from there on is covered (see
    /// [`ExhaustiveScheduler::analyse`]).
    closed_window: Option<(usize, usize)>,
    /// Tasks whose current poll (since they last blocked) failed a join,
    /// with how many joins it failed.
    failed_joins: Vec<(TaskId, u32)>,
    /// Tasks blocked, or woken, after a poll that failed several joins:
    /// whichever of those tasks finished first woke them, so what their
    /// next poll finds still running matters (see
    /// [`ExhaustiveScheduler::note_poll_end`]).
    waited_on_several: Vec<TaskId>,
}

impl ExhaustiveScheduler {
    /// A search at its start.
    pub fn new() -> ExhaustiveScheduler {
        ExhaustiveScheduler::default()
    }

    /// Plain depth-first search over every fair schedule, without
    /// partial-order reduction: the reference the reduced search is tested
    /// against, and a measure of what the reduction saves.
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

    /// Adds backtrack points for the execution just finished: one per race
    /// that is not already reversed in another execution.
    fn analyse(&mut self) {
        let steps = self
            .depth
            .min(self.nodes.len())
            .min(self.sleep_blocked_at.unwrap_or(usize::MAX));
        let order = StepOrder::of(&self.nodes[..steps]);
        self.note_served(steps);
        // After a tentative step whose window closed unseen, the execution
        // is equivalent to one with the release first, explored elsewhere,
        // except for what could have run inside the window: races that
        // reverse there count, and those of the steps up to its close, but
        // not the states after it, which are dropped.
        let (opened, closed) = self.closed_window.unwrap_or((steps, steps));
        for later in 0..steps {
            for earlier in order.races(&self.nodes, later) {
                if earlier <= closed && (later <= closed || earlier >= opened) {
                    let initials = order.initials(&self.nodes, earlier, later);
                    reverse(&mut self.nodes[earlier], &initials);
                }
            }
        }
        if self.closed_window.is_some() {
            self.nodes.truncate(closed + 1);
        }
    }

    /// Notes, for each of the first `steps` steps that blocked, what its
    /// task's next step did once served, in any execution explored so far.
    fn note_served(&mut self, steps: usize) {
        let mut next_of_task: Vec<Option<usize>> = Vec::new();
        for step in (0..steps).rev() {
            let task = self.nodes[step].chosen.index();
            if next_of_task.len() <= task {
                next_of_task.resize(task + 1, None);
            }
            let blocked = self.nodes[step].footprint.blocked_on().is_some();
            // Served, the task took the object in the releasing step (the
            // release records it on its behalf) and ran on in its next one:
            // attempted after the release, it does both in one step.
            // Executions that continue differently from the same attempt
            // add to what it did once served; one that stopped before the
            // task ran again (a prefix cut short) leaves it as it was.
            if let Some(next) = next_of_task[task].filter(|_| blocked) {
                let mut served = self.nodes[next].footprint.clone();
                served.add(&self.nodes[step].footprint);
                match &mut self.nodes[step].served {
                    Some(known) => known.add(&served),
                    unknown => *unknown = Some(served),
                }
            }
            next_of_task[task] = Some(step);
        }
    }

    /// Adds `failed` joins to what `task`'s current poll failed.
    fn note_failed_joins(&mut self, task: TaskId, failed: u32) {
        if failed == 0 {
            return;
        }
        match self
            .failed_joins
            .iter_mut()
            .find(|(known, _)| *known == task)
        {
            Some((_, count)) => *count += failed,
            None => self.failed_joins.push((task, failed)),
        }
    }

    /// `task` blocked (or finished) after a step that failed `failed`
    /// joins: its next poll starts afresh. If the poll failed several, the
    /// task now waits for whichever of those tasks finishes first, and the
    /// order of their ends decides what it does when woken: a lone failed
    /// join of its next poll is no longer invisible (it shows which task
    /// won), so the search reverses the two ends.
    fn note_poll_end(&mut self, task: TaskId, failed: u32) {
        self.note_failed_joins(task, failed);
        let position = self
            .failed_joins
            .iter()
            .position(|&(known, _)| known == task);
        let in_poll = position.map_or(0, |at| self.failed_joins.swap_remove(at).1);
        self.waited_on_several.retain(|&waiting| waiting != task);
        if in_poll > 1 {
            self.waited_on_several.push(task);
        }
    }

    /// Opens a hand-over window when the step chosen at `depth` is
    /// tentative and no window is open or closed in this execution (a
    /// tentative step inside a window, or after one closed unseen, is
    /// covered by that window's verdict).
    fn open_window_if_tentative(&mut self, depth: usize) {
        let node = &self.nodes[depth];
        let watching = self.window.is_some() || self.closed_window.is_some();
        if !watching && node.is_tentative(node.chosen) {
            self.window = Some(HandOverWindow {
                opened_at: depth,
                opening: true,
                ..HandOverWindow::default()
            });
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
            // A step tried with several values: what any of them did, and
            // no served step (that rule knows one attempt only). A step
            // tried once keeps its footprint whole (what it blocked on and
            // released included).
            let several_values = node.data.take().is_some();
            let served = node.served.take().filter(|_| !several_values);
            let tried = std::mem::take(&mut node.footprints_tried);
            let explored = Asleep {
                task: node.chosen,
                footprint: if several_values { tried } else { footprint },
                served,
                tentative: false,
            };
            node.done.push(explored);
            let next = node.backtrack.iter().copied().find(|&task| {
                !node.done.iter().any(|done| done.task == task) && !node.is_asleep(task)
            });
            if let Some(next) = next {
                node.chosen = next;
                return true;
            }
            self.nodes.pop();
        }
        false
    }

    /// A new state's sleep set: what slept or was done at the previous
    /// state, minus the step taken from there and what it woke up.
    fn inherited_sleep(&self) -> Vec<Asleep> {
        match self.nodes.last() {
            Some(_) if self.without_reduction => Vec::new(),
            Some(parent) => parent
                .sleep
                .iter()
                .chain(&parent.done)
                .filter(|asleep| asleep.task != parent.chosen)
                .filter_map(|asleep| asleep.after(&parent.footprint))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// Makes sure the state before a race's earlier step explores one of the
/// tasks that can start its reversal (`initials`, in the order they first
/// run), unless one is already explored there or asleep (covered).
fn reverse(node: &mut Node, initials: &[TaskId]) {
    let covered = initials
        .iter()
        .any(|&task| node.backtrack.contains(&task) || node.is_asleep(task));
    if covered {
        return;
    }
    if let Some(&task) = initials.iter().find(|&&task| node.may_run(task)) {
        node.backtrack.push(task);
    } else if initials.iter().any(|task| node.runnable.contains(task)) {
        // Only the task that just yielded could start the reversal, and the
        // fairness rule holds it back here: try every other task instead.
        for task in node.runnable.clone() {
            if node.may_run(task) && !node.backtrack.contains(&task) {
                node.backtrack.push(task);
            }
        }
    }
    // Otherwise the later step's task could not run before the earlier
    // step, which woke it: the race cannot be reversed.
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
        self.fairness.clear();
        self.sleep_blocked_at = None;
        self.diverged = false;
        self.root_finished = false;
        self.window = None;
        self.closed_window = None;
        self.failed_joins.clear();
        self.waited_on_several.clear();
        true
    }

    fn next_task(&mut self, runnable: &[TaskId], _current: Option<TaskId>) -> Option<TaskId> {
        let depth = self.depth;
        self.depth += 1;
        if let Some(last) = depth
            .checked_sub(1)
            .and_then(|last| self.nodes.get_mut(last))
        {
            let (task, failed) = (last.chosen, last.footprint.failed_joins());
            if runnable.contains(&task) {
                // The task goes on: its poll continues (or it polls again).
                last.footprint.went_on();
                self.note_failed_joins(task, failed);
            } else {
                self.note_poll_end(task, failed);
            }
        }
        if let Some(node) = self.nodes.get(depth) {
            if node.runnable != runnable {
                self.diverged = true;
                return None;
            }
            let chosen = node.chosen;
            self.open_window_if_tentative(depth);
            return Some(chosen);
        }
        // Shutting down disables every task: it depends on every step, so
        // it never sleeps, and every choice is tried where it is offered.
        let shutdown_offered = self.root_finished && runnable.first() == Some(&TaskId::ROOT);
        let yielder = self.fairness.held_back(runnable);
        let mut sleep = self.inherited_sleep();
        if shutdown_offered {
            sleep.retain(|asleep| asleep.task != TaskId::ROOT);
        }
        // A tentative task runs first only when no other may.
        let may_choose = |task: &TaskId| {
            Some(*task) != yielder
                && !sleep
                    .iter()
                    .any(|asleep| asleep.task == *task && !asleep.tentative)
        };
        let in_sleep_set = |task: &TaskId| sleep.iter().any(|asleep| asleep.task == *task);
        let awake = runnable
            .iter()
            .filter(|task| may_choose(task))
            .min_by_key(|task| in_sleep_set(task))
            .copied();
        let Some(chosen) = awake else {
            // Every task that may run is asleep: each continuation from
            // here is explored in another execution. Stop this one.
            self.sleep_blocked_at = Some(depth);
            return None;
        };
        let backtrack = if self.without_reduction || shutdown_offered {
            runnable
                .iter()
                .copied()
                .filter(|&task| Some(task) != yielder)
                .collect()
        } else {
            vec![chosen]
        };
        self.nodes.push(Node {
            runnable: runnable.to_vec(),
            yielder,
            chosen,
            footprint: Footprint::default(),
            data: None,
            footprints_tried: Footprint::default(),
            served: None,
            backtrack,
            done: Vec::new(),
            sleep,
        });
        self.open_window_if_tentative(depth);
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
        if task == TaskId::ROOT && events.iter().any(|event| event.op.touch() == Touch::Finish) {
            self.root_finished = true;
        }
        if let Some(window) = &mut self.window {
            match window.observe(task, events) {
                Window::Open => {}
                Window::Seen => self.window = None,
                Window::Closed => {
                    self.closed_window = Some((window.opened_at, self.depth - 1));
                    self.window = None;
                }
            }
        }
        let mut footprint = self.fairness.observe(task, events);
        let failed_before = self.failed_joins.iter().any(|&(failed, _)| failed == task);
        if failed_before || self.waited_on_several.contains(&task) {
            // This poll already found a task still running, or follows one
            // that found several: whatever it finds now is ordered after
            // that, and matters.
            footprint.went_on();
        }
        if let Some(node) = self.nodes.get_mut(self.depth - 1) {
            debug_assert_eq!(node.chosen, task);
            node.footprint = footprint;
        }
    }

    fn redundant(&self) -> bool {
        self.sleep_blocked_at.is_some() || self.closed_window.is_some()
    }

    fn diverged(&self) -> bool {
        self.diverged
    }
}

/// The happens-before order of an execution's steps: a step comes after the
/// earlier steps of its task and after the earlier steps it conflicts with.
/// Kept as a vector clock per step (one entry per task, counting steps).
struct StepOrder {
    clocks: Vec<Vec<u32>>,
    /// The step before each step in its task, if any.
    previous: Vec<Option<usize>>,
}

impl StepOrder {
    fn of(nodes: &[Node]) -> StepOrder {
        let tasks = nodes
            .iter()
            .flat_map(|node| node.runnable.iter().chain([&node.chosen]))
            .map(|task| task.index() + 1)
            .max()
            .unwrap_or(0);
        let mut last_step: Vec<Option<usize>> = vec![None; tasks];
        let mut clocks: Vec<Vec<u32>> = Vec::with_capacity(nodes.len());
        let mut previous = Vec::with_capacity(nodes.len());
        // Per key, the step that changed it last and the steps that read it
        // since.
        let mut last_change: BTreeMap<Key, usize> = BTreeMap::new();
        let mut reads_since: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
        for (step, node) in nodes.iter().enumerate() {
            let task = node.chosen.index();
            let mut clock = match last_step[task] {
                Some(before) => clocks[before].clone(),
                None => vec![0; tasks],
            };
            for &(key, changes) in node.footprint.accesses() {
                if let Some(&changed) = last_change.get(&key) {
                    join(&mut clock, &clocks[changed]);
                }
                if changes {
                    for &read in reads_since.get(&key).into_iter().flatten() {
                        join(&mut clock, &clocks[read]);
                    }
                }
            }
            clock[task] += 1;
            for &(key, changes) in node.footprint.accesses() {
                if changes {
                    last_change.insert(key, step);
                    reads_since.remove(&key);
                } else {
                    reads_since.entry(key).or_default().push(step);
                }
            }
            previous.push(last_step[task]);
            last_step[task] = Some(step);
            clocks.push(clock);
        }
        StepOrder { clocks, previous }
    }

    /// Whether step `earlier` happens before the step whose clock is
    /// `clock`.
    fn precedes(&self, nodes: &[Node], earlier: usize, clock: &[u32]) -> bool {
        let task = nodes[earlier].chosen.index();
        self.clocks[earlier][task] <= clock[task]
    }

    /// The earlier steps in a race with step `later`: of another task,
    /// conflicting with it, and ordered before it by nothing but that
    /// conflict. Latest first.
    fn races(&self, nodes: &[Node], later: usize) -> Vec<usize> {
        let tasks = self.clocks[later].len();
        // What reaches `later` other than through the steps found so far.
        let mut covered = match self.previous[later] {
            Some(before) => self.clocks[before].clone(),
            None => vec![0; tasks],
        };
        let mut races = Vec::new();
        for earlier in (0..later).rev() {
            if nodes[earlier].chosen == nodes[later].chosen
                || self.precedes(nodes, earlier, &covered)
                || !nodes[earlier]
                    .footprint
                    .conflicts_with(&nodes[later].footprint)
            {
                continue;
            }
            races.push(earlier);
            join(&mut covered, &self.clocks[earlier]);
        }
        races
    }

    /// The tasks that can start the reversal of the race between `earlier`
    /// and `later`, from the state before `earlier`: the sequence is the
    /// steps between them that do not depend on `earlier`, then `later`,
    /// and a task is an initial when its first step in it depends on no
    /// step before it there. In the order they first run.
    fn initials(&self, nodes: &[Node], earlier: usize, later: usize) -> Vec<TaskId> {
        let tasks = self.clocks[later].len();
        let independent: Vec<usize> = (earlier + 1..later)
            .filter(|&step| !self.precedes(nodes, earlier, &self.clocks[step]))
            .collect();
        // The clock value of each task's first step in the sequence.
        let mut first: Vec<Option<u32>> = vec![None; tasks];
        let mut initials = Vec::new();
        for &step in &independent {
            let task = nodes[step].chosen.index();
            if first[task].is_none() {
                if !knows_any(&self.clocks[step], &first) {
                    initials.push(nodes[step].chosen);
                }
                first[task] = Some(self.clocks[step][task]);
            }
        }
        let task = nodes[later].chosen.index();
        if first[task].is_none() {
            // `later` depends on `earlier`; what else it depends on within
            // the sequence is what the steps it conflicts with know.
            let mut clock = vec![0; tasks];
            for &step in &independent {
                if nodes[step]
                    .footprint
                    .conflicts_with(&nodes[later].footprint)
                {
                    join(&mut clock, &self.clocks[step]);
                }
            }
            if !knows_any(&clock, &first) {
                initials.push(nodes[later].chosen);
            }
        }
        initials
    }
}

/// Whether a step with `clock` comes after any of the first steps `first`.
fn knows_any(clock: &[u32], first: &[Option<u32>]) -> bool {
    first
        .iter()
        .zip(clock)
        .any(|(first, known)| first.is_some_and(|first| first <= *known))
}

fn join(clock: &mut [u32], other: &[u32]) {
    for (mine, theirs) in clock.iter_mut().zip(other) {
        *mine = (*mine).max(*theirs);
    }
}
