//! Strategies: who decides which runnable task runs next.
//!
//! The runtime asks a [`Scheduler`] at every scheduling point and never
//! knows which strategy it talks to; a new strategy (PCT, exhaustive DPOR)
//! is a new implementation of this trait and nothing else.

use racecheck_trace::{Event, Op, Schedule, TaskId};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Picks the task to run at each scheduling point of an execution.
///
/// ```
/// use racecheck_sched::Scheduler;
/// use racecheck_trace::TaskId;
///
/// /// Always runs the runnable task with the lowest id.
/// struct LowestFirst;
///
/// impl Scheduler for LowestFirst {
///     fn new_execution(&mut self, iteration: u64) -> bool {
///         iteration == 0
///     }
///     fn next_task(&mut self, runnable: &[TaskId], _current: Option<TaskId>) -> Option<TaskId> {
///         runnable.first().copied()
///     }
/// }
///
/// assert_eq!(LowestFirst.next_task(&[TaskId(2), TaskId(5)], None), Some(TaskId(2)));
/// ```
pub trait Scheduler {
    /// Prepares execution number `iteration` (0-based). Returns `false` when
    /// the strategy has nothing more to explore.
    fn new_execution(&mut self, iteration: u64) -> bool;

    /// Chooses among `runnable` (non-empty, sorted by id); `current` is the
    /// task that ran the previous step, if any. `None` ends the execution as
    /// a schedule that ran out (only replay does that).
    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId>;

    /// Told after each step what the chosen task did: the events it
    /// recorded. Strategies that reason about dependencies (exhaustive
    /// search) use it; the others ignore it.
    fn observe_step(&mut self, _task: TaskId, _events: &[Event]) {}

    /// Whether the strategy stopped the execution under way (`next_task`
    /// returned `None`) because every way to continue it is covered by other
    /// executions, as the exhaustive search does when every runnable task is
    /// in its sleep set. Such an execution is not analysed and not counted
    /// as an execution; [`Report::redundant`](crate::Report::redundant)
    /// counts them.
    fn redundant(&self) -> bool {
        false
    }
}

/// Uniformly random choices from a ChaCha8 stream.
///
/// Execution `i` draws from stream `i` of the generator seeded with the
/// seed, so each execution is reproducible on its own, on every platform and
/// build, whatever ran before it. A step with a single runnable task draws
/// nothing.
///
/// ```
/// use racecheck_sched::{RandomScheduler, Scheduler};
/// use racecheck_trace::TaskId;
///
/// let runnable = [TaskId(0), TaskId(1), TaskId(2)];
/// let mut first = RandomScheduler::new(7);
/// let mut second = RandomScheduler::new(7);
/// first.new_execution(3);
/// second.new_execution(3);
/// for _ in 0..100 {
///     assert_eq!(first.next_task(&runnable, None), second.next_task(&runnable, None));
/// }
/// ```
#[derive(Clone, Debug)]
pub struct RandomScheduler {
    seed: u64,
    rng: ChaCha8Rng,
}

impl RandomScheduler {
    /// A scheduler for `seed`.
    pub fn new(seed: u64) -> RandomScheduler {
        RandomScheduler {
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

impl Scheduler for RandomScheduler {
    fn new_execution(&mut self, iteration: u64) -> bool {
        self.rng = ChaCha8Rng::seed_from_u64(self.seed);
        self.rng.set_stream(iteration);
        true
    }

    #[inline]
    fn next_task(&mut self, runnable: &[TaskId], _current: Option<TaskId>) -> Option<TaskId> {
        if runnable.len() <= 1 {
            return runnable.first().copied();
        }
        // Lemire's multiply-shift: an index in 0..len from 32 random bits,
        // the same on every platform.
        let index = (u64::from(self.rng.next_u32()) * runnable.len() as u64) >> 32;
        Some(runnable[index as usize])
    }
}

/// PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi,
/// Nagarakatte, ASPLOS 2010): every task gets a random priority when it
/// first becomes runnable, the runnable task with the highest priority runs,
/// and at `depth − 1` random steps the running task drops below all others.
/// A bug that needs `depth` ordering constraints among `n` tasks in `k`
/// steps is found by each execution with probability at least
/// `1 / (n · k^(depth − 1))`.
///
/// The change points are drawn over `steps_estimate` steps, fixed for the
/// exploration (`explore` measures one random execution of the test, see
/// [`calibrate_pct`](crate::calibrate_pct)). Like [`RandomScheduler`],
/// execution `i` draws from ChaCha8 stream `i` and depends on nothing else,
/// so a sharded or parallel PCT exploration runs iteration `i` exactly as a
/// sequential one does.
///
/// A task that yields explicitly (`yield_now`, `thread::yield_now`) drops
/// to the lowest priority of all, below the demoted ones too, as in
/// Coyote's PCT: a spin loop that yields lets the others run instead of
/// starving them, which strict priorities would do forever.
///
/// ```
/// use racecheck_sched::{PctScheduler, Scheduler};
/// use racecheck_trace::TaskId;
///
/// // Depth 1: no change points, the highest priority runs until it blocks.
/// let mut pct = PctScheduler::new(3, 1, 100);
/// pct.new_execution(0);
/// let runnable = [TaskId(0), TaskId(1)];
/// let first = pct.next_task(&runnable, None).unwrap();
/// for _ in 0..10 {
///     assert_eq!(pct.next_task(&runnable, Some(first)), Some(first));
/// }
/// ```
#[derive(Clone, Debug)]
pub struct PctScheduler {
    seed: u64,
    depth: u32,
    rng: ChaCha8Rng,
    /// Priority by task index; 0 means not assigned yet.
    priorities: Vec<u64>,
    /// Steps (1-based) at which the running task is demoted, with the
    /// priority it drops to (1 to depth − 1, in random association),
    /// ascending by step.
    change_points: Vec<(u32, u64)>,
    steps: u32,
    /// The steps an execution is expected to take, for the change points.
    steps_estimate: u32,
    /// The priority the next yielding task drops to: below every other
    /// priority, lower at each yield.
    yield_priority: u64,
}

impl PctScheduler {
    /// A scheduler for `seed` with bug depth `depth` (at least 1), whose
    /// change points fall within the first `steps_estimate` steps (at
    /// least 1).
    pub fn new(seed: u64, depth: u32, steps_estimate: u32) -> PctScheduler {
        PctScheduler {
            seed,
            depth: depth.max(1),
            rng: ChaCha8Rng::seed_from_u64(seed),
            priorities: Vec::new(),
            change_points: Vec::new(),
            steps: 0,
            steps_estimate: steps_estimate.max(1),
            yield_priority: 0,
        }
    }

    /// Initial priorities are above this.
    const INITIAL_BASE: u64 = 1 << 32;
    /// Change points demote to this plus 1 to depth − 1; yielded tasks drop
    /// below it.
    const DEMOTED_BASE: u64 = 1 << 31;
}

impl Scheduler for PctScheduler {
    fn new_execution(&mut self, iteration: u64) -> bool {
        self.steps = 0;
        self.rng = ChaCha8Rng::seed_from_u64(self.seed);
        self.rng.set_stream(iteration);
        self.priorities.clear();
        self.yield_priority = PctScheduler::DEMOTED_BASE - 1;
        let estimate = self.steps_estimate;
        self.change_points.clear();
        for priority in 1..u64::from(self.depth) {
            let point = 1 + ((u64::from(self.rng.next_u32()) * u64::from(estimate)) >> 32) as u32;
            self.change_points.push((point, priority));
        }
        self.change_points.sort_unstable();
        true
    }

    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
        self.steps += 1;
        // Demote the running task at each change point: the demoted
        // priorities are below every initial priority.
        while let Some(&(point, demoted)) = self.change_points.first() {
            if point > self.steps {
                break;
            }
            self.change_points.remove(0);
            if let Some(current) = current {
                self.priority_slot(current);
                self.priorities[current.index()] = PctScheduler::DEMOTED_BASE + demoted;
            }
        }
        for &task in runnable {
            if self.priority_slot(task) == 0 {
                // Random, distinct (low bits: the task id), above depth.
                let random = u64::from(self.rng.next_u32()) << 20;
                self.priorities[task.index()] =
                    u64::from(self.depth) + PctScheduler::INITIAL_BASE + random + u64::from(task.0);
            }
        }
        runnable
            .iter()
            .copied()
            .max_by_key(|task| self.priorities[task.index()])
    }

    fn observe_step(&mut self, task: TaskId, events: &[Event]) {
        if events.iter().any(|event| event.op == Op::Yield)
            && self.priority_slot(task) != 0
            && self.yield_priority > 1
        {
            self.priorities[task.index()] = self.yield_priority;
            self.yield_priority -= 1;
        }
    }
}

impl PctScheduler {
    /// The priority of `task`, growing the table if needed.
    fn priority_slot(&mut self, task: TaskId) -> u64 {
        if self.priorities.len() <= task.index() {
            self.priorities.resize(task.index() + 1, 0);
        }
        self.priorities[task.index()]
    }
}

/// Follows a recorded schedule, for exactly one execution.
///
/// ```
/// use racecheck_sched::{ReplayScheduler, Scheduler};
/// use racecheck_trace::{Event, Schedule, TaskId};
///
/// let mut replay = ReplayScheduler::new(Schedule::from_steps(vec![TaskId(1), TaskId(0)]));
/// assert!(replay.new_execution(0));
/// let runnable = [TaskId(0), TaskId(1)];
/// assert_eq!(replay.next_task(&runnable, None), Some(TaskId(1)));
/// assert_eq!(replay.next_task(&runnable, None), Some(TaskId(0)));
/// assert_eq!(replay.next_task(&runnable, None), None);
/// assert!(!replay.new_execution(1));
/// ```
#[derive(Clone, Debug)]
pub struct ReplayScheduler {
    schedule: Schedule,
    position: usize,
}

impl ReplayScheduler {
    /// A scheduler that replays `schedule`.
    pub fn new(schedule: Schedule) -> ReplayScheduler {
        ReplayScheduler {
            schedule,
            position: 0,
        }
    }

    /// Steps of the schedule not used by the execution so far.
    pub fn remaining(&self) -> usize {
        self.schedule.len() - self.position
    }
}

impl Scheduler for ReplayScheduler {
    fn new_execution(&mut self, iteration: u64) -> bool {
        if iteration != 0 {
            return false;
        }
        self.position = 0;
        true
    }

    fn next_task(&mut self, _runnable: &[TaskId], _current: Option<TaskId>) -> Option<TaskId> {
        let task = self.schedule.steps().get(self.position).copied()?;
        self.position += 1;
        Some(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_choices_are_spread_over_all_runnable_tasks() {
        let runnable = [TaskId(0), TaskId(1), TaskId(2), TaskId(3)];
        let mut scheduler = RandomScheduler::new(0);
        scheduler.new_execution(0);
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            let task = scheduler.next_task(&runnable, None).unwrap();
            counts[task.index()] += 1;
        }
        for count in counts {
            assert!((800..1200).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn random_streams_differ_between_iterations_and_seeds() {
        let runnable = [TaskId(0), TaskId(1)];
        let draw = |seed: u64, iteration: u64| {
            let mut scheduler = RandomScheduler::new(seed);
            scheduler.new_execution(iteration);
            (0..64)
                .map(|_| scheduler.next_task(&runnable, None).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1, 2), draw(1, 2));
        assert_ne!(draw(1, 2), draw(1, 3));
        assert_ne!(draw(1, 2), draw(2, 2));
    }

    /// The same seed must give the same choices on every platform and
    /// build: pin the first choices of seed 0 so a change of RNG or of the
    /// index mapping cannot slip by.
    #[test]
    fn random_choices_of_seed_zero_are_pinned() {
        let runnable = [TaskId(0), TaskId(1), TaskId(2)];
        let mut scheduler = RandomScheduler::new(0);
        scheduler.new_execution(0);
        let choices: Vec<u32> = (0..16)
            .map(|_| scheduler.next_task(&runnable, None).unwrap().0)
            .collect();
        assert_eq!(choices, PINNED_SEED_ZERO);
    }

    const PINNED_SEED_ZERO: [u32; 16] = [1, 2, 2, 1, 1, 2, 1, 0, 0, 2, 1, 1, 1, 2, 2, 2];
}
