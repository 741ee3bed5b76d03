//! The exploration loop: many executions under one strategy, stopping at the
//! first failure.

use crate::executor::Executor;
use crate::panic;
use crate::strategy::{RandomScheduler, ReplayScheduler, Scheduler};
use racecheck_trace::{Location, Schedule, TaskId, Trace};
use std::any::Any;
use std::future::Future;

/// Which strategy drives the exploration.
///
/// ```
/// use racecheck_sched::Strategy;
/// use racecheck_trace::{Schedule, TaskId};
///
/// let replay = Strategy::Replay(Schedule::from_steps(vec![TaskId(0)]));
/// assert_eq!(replay.name(), "replay");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Uniformly random choices, seeded ([`RandomScheduler`]).
    #[default]
    Random,
    /// Exactly one execution following a recorded schedule
    /// ([`ReplayScheduler`]).
    Replay(Schedule),
}

impl Strategy {
    /// The strategy's name in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::Replay(_) => "replay",
        }
    }
}

/// What to explore and how far.
///
/// ```
/// let config = racecheck_sched::Config { iterations: 10, ..Default::default() };
/// assert_eq!(config.seed, 0);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Seeds the strategy's random choices.
    pub seed: u64,
    /// How many executions to run at most.
    pub iterations: u64,
    /// Steps after which an execution is reported as a livelock.
    pub steps_max: u32,
    /// The strategy.
    pub strategy: Strategy,
}

impl Config {
    /// Default number of executions.
    pub const ITERATIONS_DEFAULT: u64 = 1000;
    /// Default step limit per execution.
    pub const STEPS_MAX_DEFAULT: u32 = 100_000;
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 0,
            iterations: Config::ITERATIONS_DEFAULT,
            steps_max: Config::STEPS_MAX_DEFAULT,
            strategy: Strategy::Random,
        }
    }
}

/// The outcome of an exploration.
#[derive(Clone, Debug)]
pub struct Report {
    /// Executions run, including a failing one.
    pub executions: u64,
    /// The seed used.
    pub seed: u64,
    /// The strategy's name.
    pub strategy: &'static str,
    /// The first failure, if any.
    pub failure: Option<Failure>,
}

/// A failing execution: what went wrong, and how to get there again.
///
/// Its `Display` is the report users read: the failure, where it was found,
/// the timeline of the last steps, and the line that replays it.
#[derive(Clone, Debug)]
pub struct Failure {
    /// What went wrong.
    pub kind: FailureKind,
    /// The 0-based iteration of the failing execution.
    pub iteration: u64,
    /// The exploration's seed.
    pub seed: u64,
    /// The strategy's name.
    pub strategy: &'static str,
    /// The scheduling choices up to the failure: replaying them reproduces it.
    pub schedule: Schedule,
    /// Everything that happened up to the failure.
    pub trace: Trace,
}

/// The kinds of failure the runtime finds by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureKind {
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
    /// No task can run, no timer is pending, and the root task has not
    /// finished.
    Deadlock {
        /// One sentence per blocked task: what it waits for, who holds it.
        waits: Vec<String>,
    },
    /// The execution did not finish within the step limit.
    StepLimit {
        /// The limit.
        steps_max: u32,
    },
    /// Replay: the schedule chose a task that cannot run at this step.
    ScheduleMismatch {
        /// The first step that diverged.
        step: u32,
        /// The task the schedule chose.
        chosen: TaskId,
        /// The tasks that could run.
        runnable: Vec<TaskId>,
    },
    /// Replay: the schedule ended while tasks could still run.
    ScheduleEnded {
        /// The step at which it ended.
        step: u32,
        /// The tasks that could run.
        runnable: Vec<TaskId>,
    },
    /// Replay: the program finished before the schedule did.
    ScheduleUnused {
        /// The step at which the program finished.
        step: u32,
        /// How many steps of the schedule were left.
        remaining: usize,
    },
}

impl FailureKind {
    /// Whether this says the schedule does not fit the program, rather than
    /// something about the program.
    pub fn is_schedule_error(&self) -> bool {
        matches!(
            self,
            FailureKind::ScheduleMismatch { .. }
                | FailureKind::ScheduleEnded { .. }
                | FailureKind::ScheduleUnused { .. }
        )
    }

    pub(crate) fn from_panic(task: TaskId, task_name: &str, payload: Box<dyn Any + Send>) -> Self {
        let (message, location) = panic::take_last(payload.as_ref());
        // The payload may itself panic when dropped; it is the user's value.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
        FailureKind::Panic {
            task,
            task_name: task_name.to_string(),
            message,
            location,
        }
    }
}

/// Runs up to `config.iterations` executions of the future `body` creates,
/// under `config.strategy`, and stops at the first failure.
///
/// ```
/// use racecheck_sched::{explore, Config, FailureKind};
///
/// let report = explore(&Config::default(), || async {
///     let task = racecheck_sched::spawn(async { panic!("boom") });
///     task.await;
/// });
/// let failure = report.failure.unwrap();
/// assert!(matches!(failure.kind, FailureKind::Panic { ref message, .. } if message == "boom"));
/// ```
pub fn explore<F, Fut>(config: &Config, body: F) -> Report
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    match &config.strategy {
        Strategy::Random => {
            let mut scheduler = RandomScheduler::new(config.seed);
            explore_with(config, &mut scheduler, body)
        }
        Strategy::Replay(schedule) => {
            let mut scheduler = ReplayScheduler::new(schedule.clone());
            let mut report = explore_with(config, &mut scheduler, body);
            if report.failure.is_none() && scheduler.remaining() > 0 {
                report.failure = Some(capture(
                    config,
                    0,
                    FailureKind::ScheduleUnused {
                        step: schedule.len().saturating_sub(scheduler.remaining()) as u32,
                        remaining: scheduler.remaining(),
                    },
                ));
            }
            report
        }
    }
}

/// Like [`explore`], with a scheduler of the caller's: the way to run a
/// custom strategy.
///
/// ```
/// use racecheck_sched::{explore_with, Config, RandomScheduler};
///
/// let mut scheduler = RandomScheduler::new(1);
/// let report = explore_with(&Config::default(), &mut scheduler, || async {});
/// assert_eq!(report.executions, 1000);
/// ```
pub fn explore_with<F, Fut, S>(config: &Config, scheduler: &mut S, body: F) -> Report
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
    S: Scheduler + ?Sized,
{
    let mut report = Report {
        executions: 0,
        seed: config.seed,
        strategy: config.strategy.name(),
        failure: None,
    };
    let mut executor = Executor::default();
    for iteration in 0..config.iterations {
        if !scheduler.new_execution(iteration) {
            break;
        }
        report.executions += 1;
        if let Some(kind) = executor.run(&body, scheduler, config.steps_max) {
            report.failure = Some(capture(config, iteration, kind));
            break;
        }
    }
    report
}

fn capture(config: &Config, iteration: u64, kind: FailureKind) -> Failure {
    let (schedule, trace) =
        crate::execution::with(|execution| (execution.schedule.clone(), execution.trace.clone()));
    Failure {
        kind,
        iteration,
        seed: config.seed,
        strategy: config.strategy.name(),
        schedule,
        trace,
    }
}
