//! Parallel and sharded exploration give the same results as one thread:
//! iteration `i` always draws from the same stream.

use racecheck::Builder;
use std::cell::RefCell;
use std::rc::Rc;

/// Fails only when six tasks finish in exactly reverse order: about one
/// random schedule in a few hundred.
async fn rare_order() {
    let finished = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..6)
        .map(|task| {
            let finished = finished.clone();
            racecheck::spawn(async move {
                racecheck::yield_now().await;
                finished.borrow_mut().push(task);
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
    assert_ne!(*finished.borrow(), [5, 4, 3, 2, 1, 0], "reverse order");
}

#[test]
fn parallel_exploration_reports_the_same_first_failure_as_one_thread() {
    let sequential = Builder::new().iterations(100_000).run(rare_order);
    let first = sequential.failure.as_ref().expect("the rare order happens");
    assert!(first.iteration > 10, "rare enough to need a search");
    for jobs in [2, 3] {
        let parallel = Builder::new()
            .iterations(100_000)
            .jobs(jobs)
            .run_parallel(rare_order);
        let failure = parallel.failure.as_ref().expect("found in parallel too");
        assert_eq!(failure.iteration, first.iteration, "{jobs} jobs");
        assert_eq!(failure.schedule, first.schedule);
        assert_eq!(failure.to_string(), first.to_string());
        assert_eq!(parallel.executions, sequential.executions);
    }
}

#[test]
fn parallel_exploration_without_failure_runs_every_iteration() {
    let report = Builder::new()
        .iterations(3_000)
        .jobs(2)
        .run_parallel(|| async {
            let task = racecheck::spawn(async { racecheck::yield_now().await });
            task.await;
        });
    assert!(report.failure.is_none());
    assert_eq!(report.executions, 3_000);
}

#[test]
fn a_shard_runs_its_iterations_exactly_as_unsharded() {
    let sequential = Builder::new().iterations(100_000).run(rare_order);
    let first = sequential
        .failure
        .expect("the rare order happens")
        .iteration;
    let count = 3;
    let owner = first % count;
    let sharded = Builder::new()
        .iterations(100_000)
        .shard(owner, count)
        .run(rare_order);
    let failure = sharded.failure.expect("the owning shard finds it");
    assert_eq!(failure.iteration, first);
    assert_eq!(sharded.executions, first / count + 1);
    for other in (0..count).filter(|&shard| shard != owner) {
        let report = Builder::new()
            .iterations(first + 1)
            .shard(other, count)
            .run(rare_order);
        if let Some(failure) = report.failure {
            assert!(failure.iteration < first && failure.iteration % count == other);
        }
    }
}

/// Five workers start in a random order; only two of the 120 orders nest
/// locks, one taking `a` then `b`, the other `b` then `a`. The potential
/// deadlock needs both orders, which may happen in executions that different
/// threads of a parallel exploration run.
async fn rare_lock_orders() {
    use racecheck::sync::Mutex;
    use std::sync::Arc;
    let (a, b) = (
        Arc::new(Mutex::named("a", ())),
        Arc::new(Mutex::named("b", ())),
    );
    let order = Rc::new(RefCell::new(Vec::new()));
    let workers: Vec<_> = (0..5)
        .map(|worker| {
            let (a, b, order) = (a.clone(), b.clone(), order.clone());
            racecheck::spawn(async move {
                racecheck::yield_now().await;
                order.borrow_mut().push(worker);
                if order.borrow().len() < 5 {
                    return;
                }
                let seen = order.borrow().clone();
                if seen == [0, 1, 2, 3, 4] {
                    let _a = a.lock().await;
                    let _b = b.lock().await;
                } else if seen == [4, 3, 2, 1, 0] {
                    let _b = b.lock().await;
                    let _a = a.lock().await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await;
    }
}

#[test]
fn parallel_exploration_reports_the_same_warnings_as_one_thread() {
    let explore = |seed: u64, jobs: usize| {
        Builder::new()
            .seed(seed)
            .iterations(300)
            .jobs(jobs)
            .run_parallel(rare_lock_orders)
    };
    let mut seeds_with_warnings = 0;
    for seed in 0..40 {
        let sequential = explore(seed, 1);
        let expected: Vec<String> = sequential
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect();
        seeds_with_warnings += usize::from(!expected.is_empty());
        for jobs in [2, 3] {
            let parallel = explore(seed, jobs);
            let warnings: Vec<String> = parallel.warnings.iter().map(ToString::to_string).collect();
            assert_eq!(warnings, expected, "seed {seed}, {jobs} jobs");
            assert_eq!(parallel.executions, sequential.executions);
        }
    }
    assert!(seeds_with_warnings > 0, "some seed meets both orders");
}

#[test]
fn a_potential_deadlock_that_fails_is_the_same_failure_in_parallel() {
    let explore = |seed: u64, jobs: usize| {
        Builder::new()
            .seed(seed)
            .iterations(300)
            .potential_deadlocks(racecheck::Check::Fail)
            .minimize_failures(false)
            .jobs(jobs)
            .run_parallel(rare_lock_orders)
    };
    let mut seeds_failing = 0;
    for seed in 0..20 {
        let sequential = explore(seed, 1);
        seeds_failing += usize::from(sequential.failure.is_some());
        for jobs in [2, 3] {
            let parallel = explore(seed, jobs);
            let texts = |report: &racecheck::Report| {
                report
                    .failure
                    .as_ref()
                    .map(|failure| (failure.iteration, failure.to_string()))
            };
            assert_eq!(
                texts(&parallel),
                texts(&sequential),
                "seed {seed}, {jobs} jobs"
            );
        }
    }
    assert!(seeds_failing > 0, "some seed meets both orders");
}

#[test]
fn pct_runs_in_parallel_and_sharded_exactly_as_on_one_thread() {
    let pct = || {
        Builder::new()
            .strategy(racecheck::Strategy::Pct { depth: 3 })
            .iterations(20_000)
            .minimize_failures(false)
    };
    let sequential = pct().run(rare_order);
    let first = sequential
        .failure
        .as_ref()
        .expect("PCT finds the rare order");
    for jobs in [2, 3] {
        let parallel = pct().jobs(jobs).run_parallel(rare_order);
        let failure = parallel.failure.as_ref().expect("found in parallel too");
        assert_eq!(failure.iteration, first.iteration, "{jobs} jobs");
        assert_eq!(failure.to_string(), first.to_string());
    }
    let shard = first.iteration % 4;
    let sharded = pct().shard(shard, 4).run(rare_order);
    let failure = sharded.failure.as_ref().expect("its shard finds it");
    assert_eq!(failure.iteration, first.iteration);
    assert_eq!(failure.schedule, first.schedule);
}
