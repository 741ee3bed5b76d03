//! The failures the runtime itself detects while it runs an execution.
//! Findings of the detector (races, deadlocks, hangs, leaks) are not here:
//! the runtime does not analyse, it runs.

use crate::panic;
use racecheck_trace::{Location, TaskId};
use std::any::Any;

/// Why the runtime stopped an execution early.
///
/// ```
/// use racecheck_runtime::{Executor, Limits, RuntimeFailure, Scheduler};
/// use racecheck_trace::TaskId;
///
/// struct First;
/// impl Scheduler for First {
///     fn new_execution(&mut self, _: u64) -> bool { true }
///     fn next_task(&mut self, runnable: &[TaskId], _: Option<TaskId>) -> Option<TaskId> {
///         runnable.first().copied()
///     }
/// }
/// let mut executor = Executor::new(Limits::default());
/// let outcome = executor.run(&|| async { panic!("boom") }, &mut First);
/// assert!(matches!(outcome.failure, Some(RuntimeFailure::Panic { ref message, .. }) if message == "boom"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeFailure {
    /// A task panicked: an assertion in the test, or a bug in its code.
    Panic {
        /// The task.
        task: TaskId,
        /// Its name.
        task_name: String,
        /// The panic message.
        message: String,
        /// Where it panicked, if known.
        location: Option<Location>,
    },
    /// The execution did not finish within the step limit.
    StepLimit {
        /// The limit.
        steps_max: u32,
    },
    /// The scheduler chose a task that cannot run at this step (a replayed
    /// schedule that does not fit the program).
    ScheduleMismatch {
        /// The first step that diverged.
        step: u32,
        /// The task the scheduler chose.
        chosen: TaskId,
        /// The tasks that could run.
        runnable: Vec<TaskId>,
    },
    /// The scheduler made no data choice, or one out of range, where the
    /// program asked for one (a replayed schedule that does not fit).
    ChoiceMismatch {
        /// The step at which the program asked.
        step: u32,
        /// How many options the program offered.
        options: u32,
        /// What the scheduler chose, if anything.
        chosen: Option<u32>,
    },
    /// The scheduler chose no task while tasks could still run (a replayed
    /// schedule that ended early).
    ScheduleEnded {
        /// The step at which it ended.
        step: u32,
        /// The tasks that could run.
        runnable: Vec<TaskId>,
    },
    /// The strategy found the program not deterministic (see
    /// [`Scheduler::diverged`](crate::Scheduler::diverged)): at this step
    /// other tasks were runnable than in an earlier execution with the same
    /// choices so far.
    Nondeterministic {
        /// The step at which it diverged.
        step: u32,
        /// The tasks that could run.
        runnable: Vec<TaskId>,
    },
}

impl RuntimeFailure {
    /// The failure of `task`, which panicked with `payload`.
    pub(crate) fn from_panic(task: TaskId, task_name: &str, payload: Box<dyn Any + Send>) -> Self {
        let (message, location) = panic::take_last(payload.as_ref());
        // The payload may itself panic when dropped; it is the user's value.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
        RuntimeFailure::Panic {
            task,
            task_name: task_name.to_string(),
            message,
            location,
        }
    }
}
