//! The exploration loop: many executions under one strategy, stopping at the
//! first failure.

use crate::nondeterminism::replay_divergence;
use crate::pct::calibrate_pct;
use crate::probe::Run;
use crate::{
    BoundedScheduler, Config, ExhaustiveScheduler, Failure, FailureKind, PctScheduler,
    RandomScheduler, ReplayScheduler, Report, Strategy,
};
use racecheck_detect::{
    interleaving_class, Contention, Detector, Finding, LockOrderDelta, Verdict,
};
use racecheck_runtime::{Executor, Scheduler};
use racecheck_trace::{Schedule, Trace};
use std::collections::BTreeSet;
use std::future::Future;

/// Runs up to `config.iterations` executions of the future `body` creates,
/// under `config.strategy`, and stops at the first failure.
///
/// ```
/// use racecheck_explore::{explore, Config, FailureKind};
///
/// let report = explore(&Config::default(), || async {
///     let task = racecheck_runtime::spawn(async { panic!("boom") });
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
    let mut report = explore_under_strategy(config, &body);
    if let Some(failure) = &mut report.failure {
        if config.check_replay && !failure.kind.is_schedule_error() {
            failure.nondeterminism =
                replay_divergence(config, &failure.schedule, &failure.trace, &body);
        }
    }
    report
}

fn explore_under_strategy<F, Fut>(config: &Config, body: &F) -> Report
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
            let report = explore_with(config, &mut scheduler, body);
            let mut explorer = Explorer::new(config);
            crate::probe::check_complete(report, |scheduler| {
                let failure = explorer.run(0, scheduler, body).failure.map(|f| *f);
                let (trace, schedule) = explorer.last_execution();
                Run {
                    failure,
                    trace: trace.clone(),
                    schedule: schedule.clone(),
                }
            })
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
        Strategy::Replay(schedule) => replay(config, schedule, body),
    }
}

/// One execution following `schedule`; a schedule longer than the
/// execution is a failure too.
fn replay<F, Fut>(config: &Config, schedule: &Schedule, body: &F) -> Report
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let mut scheduler = ReplayScheduler::new(schedule.clone());
    let mut explorer = Explorer::new(config);
    let mut report = Report::empty(config);
    scheduler.new_execution(0);
    let outcome = explorer.run(0, &mut scheduler, body);
    report.executions = 1;
    report.add_contention(outcome.contention);
    report.warnings = outcome.warnings;
    report.failure = outcome.failure.map(|failure| *failure).or_else(|| {
        let remaining = scheduler.remaining();
        (remaining > 0).then(|| {
            let unused = FailureKind::ScheduleUnused {
                step: schedule.len().saturating_sub(remaining) as u32,
                remaining,
            };
            explorer.capture_last(0, unused, Vec::new())
        })
    });
    report
}

/// Like [`explore`], with a scheduler of the caller's: the way to run a
/// custom strategy.
///
/// ```
/// use racecheck_explore::{explore_with, Config, RandomScheduler};
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
            contention,
            ..
        } = explorer.run(iteration, scheduler, &body);
        if redundant {
            report.redundant += 1;
            continue;
        }
        report.executions += 1;
        report.add_contention(contention);
        if !warnings.is_empty() {
            report.warnings.extend(warnings);
        }
        classes.extend(class);
        if let Some(failure) = failure {
            report.failure = Some(*failure);
            break;
        }
    }
    report.classes = config.coverage.then_some(classes.len() as u64);
    report
}

/// What one iteration found.
#[derive(Default)]
pub(crate) struct IterationOutcome {
    /// Boxed: an outcome is moved a few times per execution, and a failure
    /// is rare and large (512 bytes).
    pub(crate) failure: Option<Box<Failure>>,
    pub(crate) warnings: Vec<Finding>,
    /// With coverage on.
    pub(crate) class: Option<u64>,
    /// From a deferring explorer.
    pub(crate) lock_orders: Option<LockOrderDelta>,
    /// The strategy stopped the execution as redundant.
    pub(crate) redundant: bool,
    /// With profiling on, the execution's contention.
    pub(crate) contention: Option<Contention>,
}

/// What one thread of an exploration keeps across executions: the executor
/// and the detector.
pub(crate) struct Explorer<'a> {
    config: &'a Config,
    executor: Executor,
    detector: Detector,
    /// Steps of every execution run so far.
    steps_run: u64,
}

impl<'a> Explorer<'a> {
    pub(crate) fn new(config: &'a Config) -> Explorer<'a> {
        Explorer::with_detector(config, Detector::new(config.checks))
    }

    /// An explorer for one thread of a parallel exploration: it hands each
    /// execution's lock orders back (see `Detector::deferring_lock_orders`).
    pub(crate) fn deferring_lock_orders(config: &'a Config) -> Explorer<'a> {
        Explorer::with_detector(config, Detector::deferring_lock_orders(config.checks))
    }

    fn with_detector(config: &'a Config, detector: Detector) -> Explorer<'a> {
        Explorer {
            config,
            executor: Executor::new(config.limits()),
            detector,
            steps_run: 0,
        }
    }

    /// Runs iteration `iteration` and returns its failure (the most
    /// important first), its new warnings, with coverage on its
    /// interleaving class, and from a deferring explorer its lock orders.
    pub(crate) fn run<F, Fut, S>(
        &mut self,
        iteration: u64,
        scheduler: &mut S,
        body: &F,
    ) -> IterationOutcome
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + 'static,
        S: Scheduler + ?Sized,
    {
        let config = self.config;
        let outcome = self.executor.run(body, scheduler);
        self.steps_run += u64::from(outcome.steps);
        if scheduler.redundant() {
            return IterationOutcome {
                redundant: true,
                ..IterationOutcome::default()
            };
        }
        let runtime_failure = outcome.failure.map(FailureKind::from);
        let (verdict, class) = if runtime_failure
            .as_ref()
            .is_some_and(FailureKind::is_schedule_error)
        {
            (Verdict::default(), None)
        } else {
            let class = config
                .coverage
                .then(|| interleaving_class(outcome.trace, outcome.schedule));
            (self.detector.analyze(outcome.trace, &outcome.end), class)
        };
        let contention = config.profile.then(|| {
            let mut contention = Contention::default();
            contention.add_execution(outcome.trace);
            contention
        });
        // Usually the execution passed and is not replayed: nothing to
        // gather.
        let passed = runtime_failure.is_none() && verdict.failures.is_empty();
        let failure = if passed && !replay_is_due(config, iteration) {
            None
        } else {
            let failures = runtime_failure
                .into_iter()
                .chain(verdict.failures.into_iter().map(FailureKind::Finding));
            let (trace, schedule) = (outcome.trace, outcome.schedule);
            first_failure(config, iteration, trace, schedule, failures.collect(), body)
        };
        IterationOutcome {
            failure,
            warnings: verdict.warnings,
            class,
            lock_orders: verdict.lock_orders,
            redundant: false,
            contention,
        }
    }

    /// Runs one execution under `scheduler` on its own, as if it were a
    /// whole exploration (nothing learnt from earlier executions), and
    /// returns its failure: the minimiser's candidates.
    pub(crate) fn run_alone<F, Fut, S>(&mut self, scheduler: &mut S, body: &F) -> Option<Failure>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + 'static,
        S: Scheduler + ?Sized,
    {
        self.detector.forget_exploration();
        if !scheduler.new_execution(0) {
            return None;
        }
        self.run(0, scheduler, body).failure.map(|failure| *failure)
    }

    /// The trace and schedule of the last execution run.
    pub(crate) fn last_execution(&self) -> (&Trace, &Schedule) {
        (self.executor.last_trace(), self.executor.last_schedule())
    }

    /// Steps of every execution this explorer ran.
    pub(crate) fn steps_run(&self) -> u64 {
        self.steps_run
    }

    /// The last execution run, as a failure of kind `kind`.
    pub(crate) fn capture_last(
        &self,
        iteration: u64,
        kind: FailureKind,
        also: Vec<FailureKind>,
    ) -> Failure {
        let (trace, schedule) = (self.executor.last_trace(), self.executor.last_schedule());
        capture(self.config, iteration, trace, schedule, kind, also)
    }
}

/// The most important of `failures` of iteration `iteration`, with the
/// others; if there are none, a divergence found by replaying the
/// execution.
#[cold]
#[inline(never)]
fn first_failure<F, Fut>(
    config: &Config,
    iteration: u64,
    trace: &Trace,
    schedule: &Schedule,
    mut failures: Vec<FailureKind>,
    body: &F,
) -> Option<Box<Failure>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    if failures.is_empty() {
        failures.extend(
            replay_divergence(config, schedule, trace, body).map(FailureKind::Uncontrolled),
        );
    }
    (!failures.is_empty()).then(|| {
        failures.sort_by_key(FailureKind::precedence);
        let kind = failures.remove(0);
        Box::new(capture(config, iteration, trace, schedule, kind, failures))
    })
}

/// Whether iteration `iteration`, if it passes, is replayed to check that
/// it follows from its schedule ([`Config::check_replay_every`]).
fn replay_is_due(config: &Config, iteration: u64) -> bool {
    let every = config.check_replay_every;
    every > 0 && iteration % every == every - 1
}

fn capture(
    config: &Config,
    iteration: u64,
    trace: &Trace,
    schedule: &Schedule,
    kind: FailureKind,
    also: Vec<FailureKind>,
) -> Failure {
    Failure {
        kind,
        iteration,
        seed: config.seed,
        strategy: config.strategy.name(),
        schedule: schedule.clone(),
        trace: trace.clone(),
        also,
        nondeterminism: None,
        minimized: None,
        replay: Vec::new(),
    }
}
