//! Iterative context bounding (Musuvathi & Qadeer, PLDI 2007, as in
//! CHESS): every schedule with at most a bound of preemptions, in order of
//! their number of preemptions, each exactly once.

use crate::fairness::Fairness;
use racecheck_runtime::Scheduler;
use racecheck_trace::{Event, TaskId, Touch};

/// Every schedule with at most `bound` preemptions, the ones with fewer
/// preemptions first: all schedules with 0, then all with exactly 1, and so
/// on up to the bound, each exactly once, without partial-order reduction.
/// Bugs usually need few preemptions, so they come early; the first
/// failure found has the fewest preemptions of any failing schedule within
/// the bound, and the executions before it are counted across the levels,
/// as iterative context bounding counts them. When `new_execution` returns
/// `false`, every schedule within the bound was covered.
///
/// A *preemption* is a switch away from a task that could have gone on.
/// Switches when the running task blocked or finished are free, and so are
/// switches after an explicit yield (`yield_now`): the yielding task gives
/// up its turn and runs again only after another task did something
/// visible, or when no other task can run, so a spin loop that yields lets
/// the others run instead of spinning forever (CHESS's fair-scheduling
/// rule, the exhaustive search's too). Data choices (`rt::choose`) are free
/// decisions too: every value is tried, and none is a preemption.
///
/// The search is stateless, with a work list per level. Level `c` holds
/// schedule prefixes whose last choice is the `c`-th preemption (level 0
/// holds the empty prefix). An execution follows a prefix, then goes on
/// without preempting: the running task first, depth first over the free
/// choices (who starts, who runs after a block, a finish or a yield), whose
/// stack is kept for the prefix until all are tried. Every preemptive
/// alternative met on a step the prefix did not dictate becomes, if `c` is
/// below the bound, a prefix of level `c + 1`: the choices so far and that
/// alternative. A schedule with `c` preemptions thus comes from exactly one
/// prefix (its choices up to its `c`-th preemption) and one path of free
/// choices, so it runs exactly once, in level `c`. Level `c + 1` starts when
/// level `c` is exhausted. Its prefixes run in the order of the executions
/// they came from and, within one execution, latest step first: a late
/// preemption leaves a short continuation with few free choices, so the
/// search reaches more distinct preemption points per execution, as the
/// depth-first order of a single bound did (on SCTBench it needs fewer
/// executions than earliest-step-first order on every program: reorder_5
/// 756 against 2,058).
///
/// Memory: the prefixes waiting for the next level, each as long as the
/// execution it came from up to its preemption. With
/// [`with_executions_max`](BoundedScheduler::with_executions_max) (which
/// `explore` and the minimiser set to their budget), a prefix is not kept
/// when the executions already started, the prefixes waiting and itself
/// would exceed the budget: each waiting prefix takes at least one
/// execution, so the budget ends before it would run. The prefixes kept are
/// then at most the budget, each at most one execution's steps: 10,000
/// executions of 1,000 steps hold at most 40 MB of task ids (SCTBench's
/// programs peak at 19 MB of RSS in all). Without a budget they are as many
/// as the schedules of the next level met. The alternatives of the current
/// execution wait as (step, task) pairs until it ends.
///
/// ```
/// use racecheck_explore::BoundedScheduler;
/// use racecheck_runtime::Scheduler;
/// use racecheck_trace::TaskId;
///
/// let mut search = BoundedScheduler::new(0);
/// let both = [TaskId(0), TaskId(1)];
/// let mut schedules = 0;
/// while search.new_execution(schedules) {
///     let first = search.next_task(&both, None).unwrap();
///     // No preemption allowed: the running task goes on.
///     assert_eq!(search.next_task(&both, Some(first)), Some(first));
///     schedules += 1;
/// }
/// assert_eq!(schedules, 2, "who starts is not a preemption");
/// ```
#[derive(Clone, Debug)]
pub struct BoundedScheduler {
    bound: usize,
    /// The most executions the search will be asked for; prefixes beyond
    /// them are not kept.
    executions_max: u64,
    /// Executions started since the search began.
    executions: u64,
    /// The preemptions of every schedule of the current level.
    level: usize,
    /// Prefixes of the current level, and of the next one.
    current_level: Prefixes,
    next_level: Prefixes,
    /// The choices the current execution follows: the prefix, then one per
    /// free step on the stack.
    schedule: Vec<TaskId>,
    prefix_len: usize,
    /// The depth-first stack over the free choices after the prefix, one
    /// entry per step.
    free_steps: Vec<FreeStep>,
    /// The candidates of the free steps, stacked: `free_steps` index into it.
    candidates: Vec<TaskId>,
    /// The preemptive alternatives met in the current execution: the step
    /// and the task.
    offers: Vec<(usize, TaskId)>,
    /// Steps taken in the current execution.
    depth: usize,
    /// The last step ended in an explicit yield.
    yielded: bool,
    /// The program did not follow a replayed prefix: it is not deterministic.
    diverged: bool,
    /// Who is held back by a yield.
    fairness: Fairness,
}

/// A step after the prefix: its free candidates are
/// `candidates[start..end]`, and `chosen` indexes the one tried now.
#[derive(Clone, Copy, Debug)]
struct FreeStep {
    start: usize,
    chosen: usize,
    end: usize,
}

/// A work list of schedule prefixes, stored end to end, taken in the order
/// they were pushed.
#[derive(Clone, Debug, Default)]
struct Prefixes {
    steps: Vec<TaskId>,
    /// Where each prefix ends in `steps`.
    ends: Vec<usize>,
    /// Prefixes already taken.
    taken: usize,
    /// Some prefixes were not kept, beyond the budget.
    dropped: bool,
}

impl Prefixes {
    fn waiting(&self) -> usize {
        self.ends.len() - self.taken
    }

    fn push(&mut self, choices: &[TaskId], last: TaskId) {
        self.steps.extend_from_slice(choices);
        self.steps.push(last);
        self.ends.push(self.steps.len());
    }

    fn take(&mut self) -> Option<&[TaskId]> {
        let end = *self.ends.get(self.taken)?;
        let start = self.taken.checked_sub(1).map_or(0, |last| self.ends[last]);
        self.taken += 1;
        Some(&self.steps[start..end])
    }

    fn clear(&mut self) {
        self.steps.clear();
        self.ends.clear();
        self.taken = 0;
        self.dropped = false;
    }
}

impl BoundedScheduler {
    /// A search over the schedules with at most `bound` preemptions.
    pub fn new(bound: usize) -> BoundedScheduler {
        BoundedScheduler {
            bound,
            executions_max: u64::MAX,
            executions: 0,
            level: 0,
            current_level: Prefixes::default(),
            next_level: Prefixes::default(),
            schedule: Vec::new(),
            prefix_len: 0,
            free_steps: Vec::new(),
            candidates: Vec::new(),
            offers: Vec::new(),
            depth: 0,
            yielded: false,
            diverged: false,
            fairness: Fairness::default(),
        }
    }

    /// The same search, told it will run at most `executions_max`
    /// executions, so that it keeps no prefix it could never reach.
    ///
    /// # Panics
    ///
    /// In `new_execution`, if asked for more executions than that and a
    /// prefix it did not keep is due.
    ///
    /// ```
    /// use racecheck_explore::BoundedScheduler;
    /// use racecheck_runtime::Scheduler;
    ///
    /// let mut search = BoundedScheduler::new(2).with_executions_max(100);
    /// assert!(search.new_execution(0));
    /// ```
    pub fn with_executions_max(self, executions_max: u64) -> BoundedScheduler {
        BoundedScheduler {
            executions_max,
            ..self
        }
    }

    /// The preemptions of the current execution's schedule.
    pub(crate) fn preemptions(&self) -> usize {
        self.level
    }

    /// Moves to the deepest free step with a candidate left to try; `false`
    /// if there is none.
    fn backtrack(&mut self) -> bool {
        while let Some(step) = self.free_steps.last_mut() {
            if step.chosen + 1 < step.end {
                step.chosen += 1;
                let chosen = self.candidates[step.chosen];
                let depth = self.prefix_len + self.free_steps.len();
                self.schedule.truncate(depth);
                self.schedule[depth - 1] = chosen;
                return true;
            }
            self.candidates.truncate(step.start);
            self.free_steps.pop();
        }
        false
    }

    /// Starts the next prefix, of this level or the next ones; `false` when
    /// every level up to the bound is exhausted.
    fn start_prefix(&mut self) -> bool {
        loop {
            if let Some(prefix) = self.current_level.take() {
                self.schedule.clear();
                self.schedule.extend_from_slice(prefix);
                self.prefix_len = prefix.len();
                self.free_steps.clear();
                self.candidates.clear();
                return true;
            }
            assert!(
                !self.current_level.dropped,
                "BoundedScheduler: more than its {} executions (see with_executions_max)",
                self.executions_max
            );
            let next_empty = self.next_level.ends.is_empty() && !self.next_level.dropped;
            if self.level == self.bound || next_empty {
                return false;
            }
            std::mem::swap(&mut self.current_level, &mut self.next_level);
            self.next_level.clear();
            self.level += 1;
        }
    }

    /// Files the preemptive alternatives the execution just finished met
    /// as prefixes of the next level, the latest step first, as long as the
    /// budget can reach them.
    fn file_offers(&mut self) {
        for &(depth, alternative) in self.offers.iter().rev() {
            let ahead = self.executions
                + self.current_level.waiting() as u64
                + self.next_level.waiting() as u64;
            if ahead >= self.executions_max {
                self.next_level.dropped = true;
                break;
            }
            self.next_level.push(&self.schedule[..depth], alternative);
        }
        self.offers.clear();
    }
}

impl Scheduler for BoundedScheduler {
    fn new_execution(&mut self, iteration: u64) -> bool {
        self.depth = 0;
        self.yielded = false;
        self.diverged = false;
        self.fairness.clear();
        let more = if iteration == 0 {
            self.executions = 0;
            self.level = 0;
            self.current_level.clear();
            self.next_level.clear();
            self.offers.clear();
            // Level 0 holds one prefix, the empty one.
            self.current_level.ends.push(0);
            self.start_prefix()
        } else {
            self.file_offers();
            self.backtrack() || self.start_prefix()
        };
        self.executions += u64::from(more);
        more
    }

    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
        let depth = self.depth;
        self.depth += 1;
        if let Some(&task) = self.schedule.get(depth) {
            if !runnable.contains(&task) {
                self.diverged = true;
                return None;
            }
            return Some(task);
        }
        debug_assert_eq!(depth, self.prefix_len + self.free_steps.len());
        let running = current.filter(|task| runnable.contains(task));
        let held = self.fairness.held_back(runnable);
        let free = runnable.iter().filter(|&&task| Some(task) != held);
        let start = self.candidates.len();
        match running {
            // A voluntary switch to any other task; the yielding task is
            // held back while anyone else can run.
            _ if self.yielded => self.candidates.extend(free),
            Some(running) => {
                self.candidates.push(running);
                if self.level < self.bound {
                    let others = free.filter(|&&task| task != running);
                    self.offers.extend(others.map(|&other| (depth, other)));
                }
            }
            None => self.candidates.extend(free),
        }
        let end = self.candidates.len();
        debug_assert!(start < end, "runnable is not empty");
        self.free_steps.push(FreeStep {
            start,
            chosen: start,
            end,
        });
        let chosen = self.candidates[start];
        self.schedule.push(chosen);
        Some(chosen)
    }

    /// A data choice is a free decision, like who runs after a block: every
    /// value is tried, none counts as a preemption.
    fn choose(&mut self, options: u32) -> Option<u32> {
        let depth = self.depth;
        self.depth += 1;
        if let Some(&value) = self.schedule.get(depth) {
            return Some(value.0);
        }
        debug_assert_eq!(depth, self.prefix_len + self.free_steps.len());
        let start = self.candidates.len();
        self.candidates.extend((0..options).map(TaskId));
        self.free_steps.push(FreeStep {
            start,
            chosen: start,
            end: self.candidates.len(),
        });
        self.schedule.push(TaskId(0));
        Some(0)
    }

    fn observe_step(&mut self, task: TaskId, events: &[Event]) {
        self.yielded = events.iter().any(|event| event.op.touch() == Touch::Yield);
        self.fairness.observe(task, events);
    }

    fn diverged(&self) -> bool {
        self.diverged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use racecheck_trace::{Location, ObjectId, Op};
    use std::collections::BTreeSet;

    /// A program without blocking: each task takes its steps in order,
    /// `true` for a step that ends in an explicit yield, `false` for one
    /// that writes an object of its own (visible, so it ends another task's
    /// yield); the unfinished tasks are runnable.
    type Program = [&'static [bool]];

    /// An execution's schedule and its preemptions.
    type Run = (Vec<TaskId>, usize);

    fn runnable(program: &Program, taken: &[usize]) -> Vec<TaskId> {
        (0..program.len())
            .filter(|&task| taken[task] < program[task].len())
            .map(|task| TaskId(task as u32))
            .collect()
    }

    /// Whether running `task` next is a preemption, and whether the
    /// fair-scheduling rule allows it at all.
    fn judge(
        runnable: &[TaskId],
        current: Option<TaskId>,
        yielded: bool,
        task: TaskId,
    ) -> (bool, bool) {
        let running = current.filter(|current| runnable.contains(current));
        let allowed = !(yielded && running == Some(task) && runnable.len() > 1);
        let preemption = !yielded && running.is_some_and(|running| running != task);
        (preemption, allowed)
    }

    /// Runs up to `executions_max` executions of the search over `program`;
    /// returns each one's schedule and preemptions, and whether the search
    /// said it was done.
    fn search(
        program: &Program,
        search: &mut BoundedScheduler,
        executions_max: u64,
    ) -> (Vec<Run>, bool) {
        let mut runs = Vec::new();
        for iteration in 0..executions_max {
            if !search.new_execution(iteration) {
                return (runs, true);
            }
            let mut taken = vec![0; program.len()];
            let (mut schedule, mut preemptions) = (Vec::new(), 0);
            let (mut current, mut yielded) = (None, false);
            loop {
                let runnable = runnable(program, &taken);
                if runnable.is_empty() {
                    break;
                }
                let task = search.next_task(&runnable, current).unwrap();
                let (preemption, allowed) = judge(&runnable, current, yielded, task);
                assert!(allowed, "{schedule:?} then {task:?}");
                preemptions += usize::from(preemption);
                yielded = program[task.index()][taken[task.index()]];
                taken[task.index()] += 1;
                let op = if yielded {
                    Op::Yield
                } else {
                    Op::Write {
                        object: ObjectId(task.0),
                    }
                };
                let event = Event {
                    step: schedule.len() as u32,
                    task,
                    op,
                    location: Location::caller(),
                };
                search.observe_step(task, &[event]);
                schedule.push(task);
                current = Some(task);
            }
            assert_eq!(search.preemptions(), preemptions, "{schedule:?}");
            runs.push((schedule, preemptions));
        }
        (runs, false)
    }

    /// Every schedule of `program` the rules allow with at most `bound`
    /// preemptions, by enumerating all interleavings.
    fn brute_force(program: &Program, bound: usize) -> BTreeSet<Vec<TaskId>> {
        fn extend(
            program: &Program,
            bound: usize,
            taken: &mut [usize],
            schedule: &mut Vec<TaskId>,
            (preemptions, yielded): (usize, bool),
            found: &mut BTreeSet<Vec<TaskId>>,
        ) {
            let runnable = runnable(program, taken);
            if runnable.is_empty() {
                found.insert(schedule.clone());
                return;
            }
            for &task in &runnable {
                let current = schedule.last().copied();
                let (preemption, allowed) = judge(&runnable, current, yielded, task);
                let preemptions = preemptions + usize::from(preemption);
                if !allowed || preemptions > bound {
                    continue;
                }
                let yields = program[task.index()][taken[task.index()]];
                taken[task.index()] += 1;
                schedule.push(task);
                extend(
                    program,
                    bound,
                    taken,
                    schedule,
                    (preemptions, yields),
                    found,
                );
                schedule.pop();
                taken[task.index()] -= 1;
            }
        }
        let mut found = BTreeSet::new();
        let mut taken = vec![0; program.len()];
        extend(
            program,
            bound,
            &mut taken,
            &mut Vec::new(),
            (0, false),
            &mut found,
        );
        found
    }

    const F: bool = false;
    const T: bool = true;

    const PROGRAMS: [&Program; 6] = [
        &[&[F, F], &[F, F]],
        &[&[F, F, F], &[F, F]],
        &[&[F, F], &[F, F], &[F]],
        &[&[T, F], &[F, T]],
        &[&[F, T, F], &[F, F], &[T]],
        &[&[T, T], &[T], &[F, F]],
    ];

    #[test]
    fn runs_every_schedule_within_the_bound_once_fewest_preemptions_first() {
        for program in PROGRAMS {
            for bound in 0..4 {
                let (runs, done) = search(program, &mut BoundedScheduler::new(bound), 100_000);
                assert!(done);
                let schedules: BTreeSet<Vec<TaskId>> =
                    runs.iter().map(|(schedule, _)| schedule.clone()).collect();
                assert_eq!(schedules.len(), runs.len(), "a schedule ran twice");
                assert_eq!(
                    schedules,
                    brute_force(program, bound),
                    "{program:?} {bound}"
                );
                assert!(
                    runs.windows(2).all(|pair| pair[0].1 <= pair[1].1),
                    "{program:?} {bound}: {runs:?}"
                );
            }
        }
    }

    #[test]
    fn a_higher_bound_runs_the_lower_bounds_schedules_first_in_the_same_order() {
        for program in PROGRAMS {
            let (lower, _) = search(program, &mut BoundedScheduler::new(1), 100_000);
            let (higher, _) = search(program, &mut BoundedScheduler::new(3), 100_000);
            assert_eq!(lower[..], higher[..lower.len()]);
        }
    }

    #[test]
    fn a_budget_keeps_every_prefix_it_can_reach() {
        for program in PROGRAMS {
            for bound in 1..4 {
                let (all, _) = search(program, &mut BoundedScheduler::new(bound), 100_000);
                for executions_max in 1..=all.len() as u64 {
                    let mut bounded =
                        BoundedScheduler::new(bound).with_executions_max(executions_max);
                    let (runs, _) = search(program, &mut bounded, executions_max);
                    assert_eq!(runs[..], all[..executions_max as usize]);
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "BoundedScheduler: more than its 1 executions")]
    fn a_search_run_past_its_budget_says_so() {
        let mut bounded = BoundedScheduler::new(1).with_executions_max(1);
        search(PROGRAMS[0], &mut bounded, 100);
    }

    #[test]
    fn a_restarted_search_runs_the_same_schedules() {
        let mut bounded = BoundedScheduler::new(2);
        let (first, _) = search(PROGRAMS[1], &mut bounded, 100_000);
        let (second, _) = search(PROGRAMS[1], &mut bounded, 100_000);
        assert_eq!(first, second);
    }
}
