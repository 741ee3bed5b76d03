//! The seam between who decides and who runs: the runtime asks a
//! [`Scheduler`] at every scheduling point and never knows which strategy it
//! talks to. The strategies themselves live in `racecheck-explore`.

use crate::{Executor, Limits};
use racecheck_trace::{Event, TaskId};
use std::future::Future;

/// Picks the task to run at each scheduling point of an execution.
///
/// ```
/// use racecheck_runtime::Scheduler;
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
    /// as an execution; `racecheck_explore::Report::redundant`
    /// counts them.
    fn redundant(&self) -> bool {
        false
    }

    /// Whether the strategy stopped the execution under way (`next_task`
    /// returned `None`) because the program offered other runnable tasks
    /// than in an earlier execution with the same choices so far: the
    /// program is not deterministic (it depends on randomness, the wall
    /// clock, addresses or state kept across executions), and a strategy
    /// that replays prefixes cannot explore it. The execution fails with
    /// [`RuntimeFailure::Nondeterministic`](crate::RuntimeFailure::Nondeterministic).
    fn diverged(&self) -> bool {
        false
    }
}

/// The schedule of a plain single-threaded executor: the task that ran last
/// goes on while it can, otherwise the runnable task with the lowest id.
/// One execution, no choices; [`run_once`] uses it.
struct Cooperative;

impl Scheduler for Cooperative {
    fn new_execution(&mut self, iteration: u64) -> bool {
        iteration == 0
    }

    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
        current
            .filter(|task| runnable.contains(task))
            .or_else(|| runnable.first().copied())
    }
}

/// Runs the future `make_root` creates once, on a cooperative schedule (the
/// running task goes on while it can, else the lowest id), within the
/// default [`Limits`]: a simulated program run once, without exploring.
///
/// # Panics
/// If the execution fails (a task panics, the step limit) or the root
/// future never finishes (every task blocked), with what went wrong.
///
/// ```
/// racecheck_runtime::run_once(|| async {
///     let answer = racecheck_runtime::spawn(async { 6 * 7 }).await;
///     assert_eq!(answer, 42);
/// });
/// let stuck = std::panic::catch_unwind(|| {
///     racecheck_runtime::run_once(|| std::future::pending::<()>())
/// });
/// assert!(stuck.is_err());
/// ```
pub fn run_once<F, Fut>(make_root: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let mut executor = Executor::new(Limits::default());
    let outcome = executor.run(&make_root, &mut Cooperative);
    if let Some(failure) = outcome.failure {
        panic!("racecheck: the execution failed: {failure:?}");
    }
    assert!(
        outcome.end.root_finished,
        "racecheck: the root future never finished; blocked: {:?}",
        outcome.end.blocked
    );
}
