//! PCT: probabilistic concurrency testing with random priorities and
//! change points.

use crate::{Config, RandomScheduler};
use racecheck_runtime::{Executor, Scheduler};
use racecheck_trace::{Event, TaskId, Touch};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::future::Future;

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
/// use racecheck_explore::PctScheduler;
/// use racecheck_runtime::Scheduler;
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

    /// Data choices are uniformly random: PCT's priorities order tasks,
    /// not values.
    fn choose(&mut self, options: u32) -> Option<u32> {
        Some(((u64::from(self.rng.next_u32()) * u64::from(options)) >> 32) as u32)
    }

    fn observe_step(&mut self, task: TaskId, events: &[Event]) {
        if events.iter().any(|event| event.op.touch() == Touch::Yield)
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

/// Steps of one random execution of the test (iteration 0 of the seed's
/// random streams, without the detector): the horizon over which PCT
/// draws its change points. Measured once per exploration, the same way on
/// every thread and shard, so that PCT's iteration `i` depends only on `i`.
///
/// ```
/// use racecheck_explore::{calibrate_pct, Config};
///
/// let steps = calibrate_pct(&Config::default(), &|| async {
///     racecheck_runtime::spawn(async {}).await;
/// });
/// assert!(steps >= 2);
/// ```
pub fn calibrate_pct<F, Fut>(config: &Config, body: &F) -> u32
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let mut executor = Executor::new(config.limits());
    let mut scheduler = RandomScheduler::new(config.seed);
    scheduler.new_execution(0);
    executor.run(body, &mut scheduler).steps.max(1)
}
