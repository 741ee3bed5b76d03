//! The exploration loop: many executions under one strategy, stopping at the
//! first failure.

use crate::bounded::BoundedScheduler;
use crate::executor::{Executor, Limits};
use crate::exhaustive::ExhaustiveScheduler;
use crate::panic;
use crate::strategy::{PctScheduler, RandomScheduler, ReplayScheduler, Scheduler};
use racecheck_detect::{interleaving_class, Checks, Detector, Finding, LockOrderDelta, Verdict};
use racecheck_trace::{Location, Schedule, TaskId, Trace};
use std::any::Any;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Every schedule up to reordering independent steps, depth first
    /// ([`ExhaustiveScheduler`]); when it runs out before the iteration
    /// budget, [`Report::complete`] says the test holds for every schedule.
    Exhaustive,
    /// Iterative context bounding: every schedule with at most
    /// `preemptions` preemptions, those with fewer first, each once
    /// ([`BoundedScheduler`]); the first failure has the fewest preemptions
    /// of any within the bound, and complete means every schedule within
    /// the bound was covered.
    Bounded {
        /// The most preemptions a schedule may have.
        preemptions: u32,
    },
    /// Probabilistic concurrency testing with bug depth `depth`
    /// ([`PctScheduler`]).
    Pct {
        /// How many ordering constraints the bugs sought need (1 to 3 is
        /// typical).
        depth: u32,
    },
}

impl Strategy {
    /// The strategy's name in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::Replay(_) => "replay",
            Strategy::Pct { .. } => "pct",
            Strategy::Exhaustive => "exhaustive",
            Strategy::Bounded { .. } => "bounded",
        }
    }
}

/// Where tasks may be interrupted.
///
/// ```
/// use racecheck_sched::{Config, Granularity};
/// let config = Config { granularity: Granularity::Step, ..Config::default() };
/// assert_eq!(Config::default().granularity, Granularity::Await);
/// # let _ = config;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// Tasks switch only at awaits (and threads at blocking operations):
    /// exact for a current-thread runtime and for asyncio, where the code
    /// between two awaits runs without interruption.
    #[default]
    Await,
    /// Every visible operation is a scheduling point: atomic accesses,
    /// immediate `Shared` accesses and blocking operations too, as on a
    /// multi-threaded runtime where tasks run in parallel. Every task runs
    /// on its own stack so that it can be suspended inside a poll.
    Step,
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
    /// What the detector checks, and whether findings fail or warn.
    pub checks: Checks,
    /// The part of the iterations this run explores (random and PCT):
    /// iterations `i` with `i % count == index`.
    pub shard: Shard,
    /// Threads for [`explore_parallel`].
    pub jobs: usize,
    /// Count distinct interleaving classes ([`Report::classes`]); costs a
    /// pass over each execution's events.
    pub coverage: bool,
    /// Where tasks may be interrupted.
    pub granularity: Granularity,
    /// The stack size of stackful tasks (threads, and every task at
    /// [`Granularity::Step`]), in bytes; [`STACK_SIZE_DEFAULT`] by default.
    /// On Linux (x86_64, aarch64) a task that overflows it fails the
    /// execution with a panic naming the size; elsewhere the overflow kills
    /// the process.
    ///
    /// [`STACK_SIZE_DEFAULT`]: crate::STACK_SIZE_DEFAULT
    pub stack_size: usize,
}

/// One of `count` disjoint parts of an exploration's iterations, for
/// splitting it across CI jobs: iteration `i` belongs to shard
/// `i % count`, and runs exactly as it would unsharded.
///
/// ```
/// use racecheck_sched::Shard;
/// let shard: Shard = "1/3".parse().unwrap();
/// assert_eq!((shard.index, shard.count), (1, 3));
/// assert!("3/3".parse::<Shard>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which part, from 0.
    pub index: u64,
    /// How many parts.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Shard {
        Shard { index: 0, count: 1 }
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let (index, count) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("shard `{text}` is not of the form i/n"))?;
        let parse = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| format!("shard `{text}`: `{part}` is not a number"))
        };
        let shard = Shard {
            index: parse(index)?,
            count: parse(count)?,
        };
        if shard.count == 0 || shard.index >= shard.count {
            return Err(format!("shard `{text}`: need 0 <= i < n"));
        }
        Ok(shard)
    }
}

impl Config {
    /// The iterations this configuration runs: the shard's, for strategies
    /// whose iterations are independent (random, PCT); all of them for the
    /// others.
    fn iterations_of_shard(&self) -> impl Iterator<Item = u64> {
        let Shard { index, count } = match self.strategy {
            Strategy::Random | Strategy::Pct { .. } => self.shard,
            Strategy::Replay(_) | Strategy::Exhaustive | Strategy::Bounded { .. } => {
                Shard::default()
            }
        };
        let iterations = self.iterations;
        (0..)
            .map(move |position: u64| index.saturating_add(position.saturating_mul(count)))
            .take_while(move |&iteration| iteration < iterations)
    }

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
            checks: Checks::default(),
            shard: Shard::default(),
            jobs: 1,
            coverage: false,
            granularity: Granularity::Await,
            stack_size: crate::stackful::STACK_SIZE_DEFAULT,
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
    /// Findings configured to warn, each once, in the order found.
    pub warnings: Vec<Finding>,
    /// The strategy ran out of schedules before the budget: with no failure,
    /// the exhaustive strategy has proved the test for every schedule.
    pub complete: bool,
    /// With [`Config::coverage`], how many distinct interleaving classes
    /// (executions that differ in the order of some conflicting steps) the
    /// executions covered.
    pub classes: Option<u64>,
    /// Executions the strategy stopped part-way because every way to go on
    /// was covered by other executions (the exhaustive search's sleep-set
    /// blocked prefixes); not counted in `executions`.
    pub redundant: u64,
}

impl Report {
    /// No execution yet.
    fn empty(config: &Config) -> Report {
        Report {
            executions: 0,
            seed: config.seed,
            strategy: config.strategy.name(),
            failure: None,
            warnings: Vec::new(),
            complete: false,
            classes: None,
            redundant: 0,
        }
    }

    /// One line saying what was explored: `exhaustive: all 90 executions
    /// explored, no failure`, or `random: 1000 executions, no failure`.
    pub fn summary(&self) -> String {
        let outcome = if self.failure.is_some() {
            "a failure"
        } else {
            "no failure"
        };
        let mut classes = match self.classes {
            Some(classes) => format!(", {classes} distinct interleaving classes"),
            None => String::new(),
        };
        if self.redundant > 0 {
            classes += &format!(" ({} redundant prefixes cut short)", self.redundant);
        }
        if self.complete {
            format!(
                "{}: all {} executions explored{classes}, {outcome}",
                self.strategy, self.executions
            )
        } else {
            format!(
                "{}: {} executions{classes}, {outcome}",
                self.strategy, self.executions
            )
        }
    }
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
    /// Other failures of the same execution, less important than `kind`.
    pub also: Vec<FailureKind>,
    /// `(before, after)`: the schedule was minimised from `before`
    /// preemptions to `after` (see [`crate::minimize`]).
    pub minimized: Option<(usize, usize)>,
}

impl Failure {
    /// The happens-before graph around the finding, as Graphviz DOT (see
    /// [`racecheck_detect::finding_dot`]), for findings that have one.
    pub fn dot(&self) -> Option<String> {
        match &self.kind {
            FailureKind::Finding(finding) => racecheck_detect::finding_dot(&self.trace, finding),
            _ => None,
        }
    }
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
    /// The detector found a race, a deadlock, a hang or a leak (whichever
    /// its checks say fail).
    Finding(Finding),
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

    /// Which failure a report leads with when an execution has several: a
    /// schedule that does not fit first (nothing else is meaningful then),
    /// then races (they usually explain the rest), panics, deadlocks and
    /// hangs, the step limit, and leaks and lock orders last.
    fn precedence(&self) -> u8 {
        match self {
            FailureKind::ScheduleMismatch { .. }
            | FailureKind::ScheduleEnded { .. }
            | FailureKind::ScheduleUnused { .. } => 0,
            FailureKind::Finding(Finding::Race(_)) => 1,
            FailureKind::Panic { .. } => 2,
            FailureKind::Finding(Finding::Deadlock(_) | Finding::Hang(_)) => 3,
            FailureKind::StepLimit { .. } => 4,
            FailureKind::Finding(Finding::Leak(_) | Finding::PotentialDeadlock(_)) => 5,
        }
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
        Strategy::Exhaustive => {
            let mut scheduler = ExhaustiveScheduler::new();
            explore_with(config, &mut scheduler, body)
        }
        Strategy::Bounded { preemptions } => {
            let mut scheduler =
                BoundedScheduler::new(*preemptions as usize).with_executions_max(config.iterations);
            explore_with(config, &mut scheduler, body)
        }
        Strategy::Pct { depth } => {
            let estimate = calibrate_pct(config, &body);
            let mut scheduler = PctScheduler::new(config.seed, *depth, estimate);
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
                    Vec::new(),
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
    let mut report = Report::empty(config);
    let mut explorer = Explorer::new(config);
    let mut classes = BTreeSet::new();
    for iteration in config.iterations_of_shard() {
        if !scheduler.new_execution(iteration) {
            report.complete = true;
            break;
        }
        let IterationOutcome {
            failure,
            warnings,
            class,
            redundant,
            ..
        } = explorer.run(iteration, scheduler, &body);
        if redundant {
            report.redundant += 1;
            continue;
        }
        report.executions += 1;
        report.warnings.extend(warnings);
        classes.extend(class);
        if failure.is_some() {
            report.failure = failure;
            break;
        }
    }
    report.classes = config.coverage.then_some(classes.len() as u64);
    report
}

/// Random or PCT exploration on `config.jobs` threads, with the same
/// result as [`explore`] on one: iteration `i` draws from stream `i`
/// whichever thread runs it, the failure reported is the one of the lowest
/// failing iteration (`executions` counts the iterations up to it, as a
/// sequential run would), and the lock orders of all threads' executions
/// are put together in iteration order, so potential deadlocks are the
/// same too. The exhaustive and bounded searches, whose executions each
/// depend on the ones before, run sequentially.
///
/// ```
/// use racecheck_sched::{explore, explore_parallel, Config};
///
/// let config = Config { jobs: 2, iterations: 200, ..Config::default() };
/// let test = || async {
///     let task = racecheck_sched::spawn(async { racecheck_sched::yield_now().await });
///     task.await;
/// };
/// assert_eq!(explore_parallel(&config, test).executions, explore(&config, test).executions);
/// ```
pub fn explore_parallel<F, Fut>(config: &Config, body: F) -> Report
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = ()> + 'static,
{
    if config.jobs <= 1 {
        return explore(config, body);
    }
    match config.strategy {
        Strategy::Random => explore_on_threads(config, &body, || RandomScheduler::new(config.seed)),
        Strategy::Pct { depth } => {
            let estimate = calibrate_pct(config, &body);
            explore_on_threads(config, &body, || {
                PctScheduler::new(config.seed, depth, estimate)
            })
        }
        // Each execution of these depends on the ones before it.
        Strategy::Exhaustive | Strategy::Bounded { .. } | Strategy::Replay(_) => {
            explore(config, body)
        }
    }
}

/// Steps of one random execution of the test (iteration 0 of the seed's
/// random streams, without the detector): the horizon over which PCT
/// draws its change points. Measured once per exploration, the same way on
/// every thread and shard, so that PCT's iteration `i` depends only on `i`.
///
/// ```
/// use racecheck_sched::{calibrate_pct, Config};
///
/// let steps = calibrate_pct(&Config::default(), &|| async {
///     racecheck_sched::spawn(async {}).await;
/// });
/// assert!(steps >= 2);
/// ```
pub fn calibrate_pct<F, Fut>(config: &Config, body: &F) -> u32
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let quiet = Config {
        checks: Checks::all(racecheck_detect::Check::Off),
        coverage: false,
        ..config.clone()
    };
    let mut explorer = Explorer::new(&quiet);
    let mut scheduler = RandomScheduler::new(config.seed);
    scheduler.new_execution(0);
    explorer.run(0, &mut scheduler, body);
    crate::execution::with(|execution| execution.step).max(1)
}

/// [`explore_parallel`] for a strategy whose iteration `i` depends only on
/// `i`: `config.jobs` threads, each with its own scheduler from
/// `new_scheduler`, iterations dealt round-robin, results merged in
/// iteration order.
fn explore_on_threads<F, Fut, S>(
    config: &Config,
    body: &F,
    new_scheduler: impl Fn() -> S + Sync,
) -> Report
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = ()> + 'static,
    S: Scheduler,
{
    let iterations: Vec<u64> = config.iterations_of_shard().collect();
    let lowest_failure = AtomicU64::new(u64::MAX);
    let results: Vec<Vec<(usize, IterationOutcome)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..config.jobs)
            .map(|worker| {
                let (iterations, lowest_failure, new_scheduler) =
                    (&iterations, &lowest_failure, &new_scheduler);
                scope.spawn(move || {
                    let mut explorer = Explorer::deferring_lock_orders(config);
                    let mut scheduler = new_scheduler();
                    let mut outcomes = Vec::new();
                    for position in (worker..iterations.len()).step_by(config.jobs) {
                        if position as u64 > lowest_failure.load(Ordering::SeqCst) {
                            break;
                        }
                        let iteration = iterations[position];
                        scheduler.new_execution(iteration);
                        let outcome = explorer.run(iteration, &mut scheduler, body);
                        let failed = outcome.failure.is_some();
                        outcomes.push((position, outcome));
                        if failed {
                            lowest_failure.fetch_min(position as u64, Ordering::SeqCst);
                            break;
                        }
                    }
                    outcomes
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .expect("racecheck internal error: a worker panicked")
            })
            .collect()
    });
    let mut outcomes: Vec<(usize, IterationOutcome)> = results.into_iter().flatten().collect();
    outcomes.sort_by_key(|(position, _)| *position);
    // The lock orders go through one detector in iteration order, as in a
    // sequential exploration: a cycle may need executions two threads ran.
    let mut lock_orders = Detector::new(config.checks);
    let mut report = Report::empty(config);
    let mut warned = BTreeSet::new();
    let mut classes = BTreeSet::new();
    for (position, outcome) in outcomes {
        report.executions = position as u64 + 1;
        classes.extend(outcome.class);
        let completed = outcome
            .lock_orders
            .map(|delta| lock_orders.apply_lock_orders(&delta))
            .unwrap_or_default();
        for warning in outcome.warnings.into_iter().chain(completed.warnings) {
            if warned.insert(warning.to_string()) {
                report.warnings.push(warning);
            }
        }
        let cycles = completed.failures.into_iter().map(FailureKind::Finding);
        let failure = match outcome.failure {
            Some(mut failure) => {
                failure.also.extend(cycles);
                failure.also.sort_by_key(FailureKind::precedence);
                Some(failure)
            }
            None => {
                let mut cycles: Vec<FailureKind> = cycles.collect();
                (!cycles.is_empty()).then(|| {
                    let kind = cycles.remove(0);
                    let mut scheduler = new_scheduler();
                    rerun_failing(
                        config,
                        iterations[position],
                        kind,
                        cycles,
                        &mut scheduler,
                        body,
                    )
                })
            }
        };
        if failure.is_some() {
            report.failure = failure;
            break;
        }
    }
    report.classes = config.coverage.then_some(classes.len() as u64);
    report
}

/// The failure of iteration `iteration`, run again on this thread for its
/// trace and schedule: a potential deadlock (checked as a failure) that only
/// the lock orders of several threads' executions complete.
fn rerun_failing<F, Fut, S>(
    config: &Config,
    iteration: u64,
    kind: FailureKind,
    also: Vec<FailureKind>,
    scheduler: &mut S,
    body: &F,
) -> Failure
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
    S: Scheduler,
{
    let mut explorer = Explorer::new(config);
    scheduler.new_execution(iteration);
    let outcome = explorer.run(iteration, scheduler, body);
    debug_assert!(
        outcome.failure.is_none(),
        "the same iteration passed before"
    );
    capture(config, iteration, kind, also)
}

/// What one iteration found.
#[derive(Default)]
struct IterationOutcome {
    failure: Option<Failure>,
    warnings: Vec<Finding>,
    /// With coverage on.
    class: Option<u64>,
    /// From a deferring explorer.
    lock_orders: Option<LockOrderDelta>,
    /// The strategy stopped the execution as redundant.
    redundant: bool,
}

/// What one thread of an exploration keeps across executions.
struct Explorer<'a> {
    config: &'a Config,
    executor: Executor,
    detector: Detector,
}

impl<'a> Explorer<'a> {
    fn new(config: &'a Config) -> Explorer<'a> {
        Explorer::with_detector(config, Detector::new(config.checks))
    }

    /// An explorer for one thread of a parallel exploration: it hands each
    /// execution's lock orders back (see `Detector::deferring_lock_orders`).
    fn deferring_lock_orders(config: &'a Config) -> Explorer<'a> {
        Explorer::with_detector(config, Detector::deferring_lock_orders(config.checks))
    }

    fn with_detector(config: &'a Config, detector: Detector) -> Explorer<'a> {
        crate::stackful::set_stack_size(config.stack_size);
        Explorer {
            config,
            executor: Executor::default(),
            detector,
        }
    }

    /// Runs iteration `iteration` and returns its failure (the most
    /// important first), its new warnings, with coverage on its
    /// interleaving class, and from a deferring explorer its lock orders.
    fn run<F, Fut, S>(&mut self, iteration: u64, scheduler: &mut S, body: &F) -> IterationOutcome
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + 'static,
        S: Scheduler + ?Sized,
    {
        let (runtime_failure, end) = self.executor.run(
            body,
            scheduler,
            Limits {
                steps_max: self.config.steps_max,
                granularity: self.config.granularity,
            },
        );
        if scheduler.redundant() {
            return IterationOutcome {
                redundant: true,
                ..IterationOutcome::default()
            };
        }
        let detector = &mut self.detector;
        let coverage = self.config.coverage;
        let (verdict, class) = if runtime_failure
            .as_ref()
            .is_some_and(FailureKind::is_schedule_error)
        {
            (Verdict::default(), None)
        } else {
            crate::execution::with(|execution| {
                let class = coverage.then(|| interleaving_class(&execution.trace));
                (detector.analyze(&execution.trace, &end), class)
            })
        };
        let mut failures: Vec<FailureKind> = runtime_failure
            .into_iter()
            .chain(verdict.failures.into_iter().map(FailureKind::Finding))
            .collect();
        let failure = (!failures.is_empty()).then(|| {
            failures.sort_by_key(FailureKind::precedence);
            let kind = failures.remove(0);
            capture(self.config, iteration, kind, failures)
        });
        IterationOutcome {
            failure,
            warnings: verdict.warnings,
            class,
            lock_orders: verdict.lock_orders,
            redundant: false,
        }
    }
}

fn capture(config: &Config, iteration: u64, kind: FailureKind, also: Vec<FailureKind>) -> Failure {
    let (schedule, trace) =
        crate::execution::with(|execution| (execution.schedule.clone(), execution.trace.clone()));
    Failure {
        kind,
        iteration,
        seed: config.seed,
        strategy: config.strategy.name(),
        schedule,
        trace,
        also,
        minimized: None,
    }
}
