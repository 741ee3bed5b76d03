//! The seam between who decides and who runs: the runtime asks a
//! [`Scheduler`] at every scheduling point and never knows which strategy it
//! talks to. The strategies themselves live in `racecheck-explore`.

use racecheck_trace::{Event, TaskId};

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

    /// Chooses one of `options` values (at least 2), for the task that
    /// `next_task` just chose: its code left a decision to the scheduler
    /// (`rt::choose`, such as which ready branch of a `select!` wins). The
    /// runtime records the value in the schedule. `None`, or a value not
    /// below `options`, fails the execution as a schedule that does not fit
    /// (only replay does that). The default takes the first option.
    fn choose(&mut self, _options: u32) -> Option<u32> {
        Some(0)
    }

    /// Whether the execution under way is covered by other executions: the
    /// strategy stopped it (`next_task` returned `None`), as the exhaustive
    /// search does when every runnable task is in its sleep set, or let it
    /// run on only to learn from its steps (the exhaustive search's
    /// tentative hand-overs). Such an execution is not analysed and not
    /// counted as an execution; `racecheck_explore::Report::redundant`
    /// counts them.
    fn redundant(&self) -> bool {
        false
    }

    /// Whether the strategy stopped the execution under way (`next_task`
    /// or `choose` returned `None`) because the program offered other
    /// runnable tasks (or another number of options for a data choice) than
    /// in an earlier execution with the same choices so far: the
    /// program is not deterministic (it depends on randomness, the wall
    /// clock, addresses or state kept across executions), and a strategy
    /// that replays prefixes cannot explore it. The execution fails with
    /// [`RuntimeFailure::Nondeterministic`](crate::RuntimeFailure::Nondeterministic).
    fn diverged(&self) -> bool {
        false
    }
}
