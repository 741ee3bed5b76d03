//! Parallel exploration: random and PCT on several threads, with the same
//! result as on one.

use crate::explore::{explore, Explorer, IterationOutcome};
use crate::nondeterminism::replay_divergence;
use crate::pct::calibrate_pct;
use crate::{Config, Failure, FailureKind, PctScheduler, RandomScheduler, Report, Strategy};
use racecheck_detect::Detector;
use racecheck_runtime::Scheduler;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

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
/// use racecheck_explore::{explore, explore_parallel, Config};
///
/// let config = Config { jobs: 2, iterations: 200, ..Config::default() };
/// let test = || async {
///     let task = racecheck_runtime::spawn(async { racecheck_runtime::yield_now().await });
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
    let mut report = match config.strategy {
        Strategy::Random => explore_on_threads(config, &body, || RandomScheduler::new(config.seed)),
        Strategy::Pct { depth } => {
            let estimate = calibrate_pct(config, &body);
            explore_on_threads(config, &body, || {
                PctScheduler::new(config.seed, depth, estimate)
            })
        }
        // Each execution of these depends on the ones before it (and
        // `explore` checks the failure's replay itself).
        Strategy::Exhaustive | Strategy::Bounded { .. } | Strategy::Replay(_) => {
            return explore(config, body);
        }
    };
    if let Some(failure) = &mut report.failure {
        if config.check_replay && !failure.kind.is_schedule_error() {
            failure.nondeterminism =
                replay_divergence(config, &failure.schedule, &failure.trace, &body);
        }
    }
    report
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
                    let positions = (worker..iterations.len()).step_by(config.jobs);
                    run_worker(
                        config,
                        body,
                        new_scheduler(),
                        iterations,
                        positions,
                        lowest_failure,
                    )
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
    merge(config, outcomes, |position, kind, also| {
        let mut scheduler = new_scheduler();
        rerun_failing(
            config,
            iterations[position],
            kind,
            also,
            &mut scheduler,
            body,
        )
    })
}

/// One worker thread: the iterations at `positions` of `iterations`, until
/// one fails or a lower one failed on another thread.
fn run_worker<F, Fut, S>(
    config: &Config,
    body: &F,
    mut scheduler: S,
    iterations: &[u64],
    positions: impl Iterator<Item = usize>,
    lowest_failure: &AtomicU64,
) -> Vec<(usize, IterationOutcome)>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
    S: Scheduler,
{
    let mut explorer = Explorer::deferring_lock_orders(config);
    let mut outcomes = Vec::new();
    for position in positions {
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
}

/// The report of the outcomes, in iteration order: the lock orders go
/// through one detector in that order, as in a sequential exploration (a
/// cycle may need executions two threads ran); a cycle that only the merge
/// completes fails its iteration, which `rerun` runs again for its trace.
fn merge(
    config: &Config,
    outcomes: Vec<(usize, IterationOutcome)>,
    rerun: impl Fn(usize, FailureKind, Vec<FailureKind>) -> Failure,
) -> Report {
    let mut lock_orders = Detector::new(config.checks);
    let mut report = Report::empty(config);
    let mut warned = BTreeSet::new();
    let mut classes = BTreeSet::new();
    for (position, outcome) in outcomes {
        report.executions = position as u64 + 1;
        classes.extend(outcome.class);
        report.add_contention(outcome.contention);
        let completed = outcome
            .lock_orders
            .map(|delta| lock_orders.apply_lock_orders(&delta))
            .unwrap_or_default();
        for warning in outcome.warnings.into_iter().chain(completed.warnings) {
            if warned.insert(warning.to_string()) {
                report.warnings.push(warning);
            }
        }
        let mut cycles: Vec<FailureKind> = completed
            .failures
            .into_iter()
            .map(FailureKind::Finding)
            .collect();
        let failure = match outcome.failure {
            Some(mut failure) => {
                failure.also.extend(cycles);
                failure.also.sort_by_key(FailureKind::precedence);
                Some(*failure)
            }
            None if cycles.is_empty() => None,
            None => {
                let kind = cycles.remove(0);
                Some(rerun(position, kind, cycles))
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
    explorer.capture_last(iteration, kind, also)
}
