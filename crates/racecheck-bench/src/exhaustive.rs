//! Exhaustive exploration side by side: racecheck's depth-first search with
//! partial-order reduction against loom's model checker, on the T×K lock
//! programs (T tasks or threads, each K times: lock, increment, unlock;
//! then join and check the count).

use crate::{BenchError, Checker, Workload};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The programs of `BENCHMARKS.md`'s exhaustive table, smallest first.
pub const PROGRAMS: [Workload; 6] = [
    Workload {
        tasks: 2,
        rounds_per_task: 1,
    },
    Workload {
        tasks: 2,
        rounds_per_task: 2,
    },
    Workload {
        tasks: 2,
        rounds_per_task: 3,
    },
    Workload {
        tasks: 3,
        rounds_per_task: 1,
    },
    Workload {
        tasks: 3,
        rounds_per_task: 2,
    },
    Workload {
        tasks: 2,
        rounds_per_task: 10,
    },
];

/// One exhaustive exploration: how many executions, how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExhaustiveRun {
    /// Executions run.
    pub executions: u64,
    /// Wall-clock time of the whole exploration.
    pub elapsed: Duration,
}

/// The number of distinct lock orders of a T×K program, (T·K)! / (K!)^T:
/// the number of executions an optimal partial-order reduction needs.
///
/// ```
/// use racecheck_bench::exhaustive::lock_orders;
/// use racecheck_bench::Workload;
/// assert_eq!(lock_orders(Workload { tasks: 3, rounds_per_task: 2 }), 90);
/// ```
pub fn lock_orders(workload: Workload) -> u128 {
    let factorial = |n: u64| (1..=u128::from(n)).product::<u128>();
    factorial(workload.tasks * workload.rounds_per_task)
        / factorial(workload.rounds_per_task).pow(workload.tasks as u32)
}

/// How the racecheck side of the program is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Async tasks and the async mutex, at await granularity.
    Tasks,
    /// Simulated threads and the blocking mutex, at step granularity: the
    /// program loom runs, line for line.
    Threads,
}

/// Explores every schedule of the program under racecheck's exhaustive
/// strategy. The thread version runs at step granularity, where dropping
/// the guard is a scheduling point too, so another thread can try the lock
/// while it is held: the attempt blocks and the unlock hands the lock over,
/// recording the acquisition then, which is the same order of events as the
/// attempt coming after the unlock. The search explores one of the two:
/// one execution per lock order, as for tasks.
///
/// ```
/// use racecheck_bench::exhaustive::{racecheck_exhaustive, Flavor};
/// let program = "2x2".parse()?;
/// assert_eq!(racecheck_exhaustive(program, Flavor::Tasks)?.executions, 6);
/// assert_eq!(racecheck_exhaustive(program, Flavor::Threads)?.executions, 6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn racecheck_exhaustive(
    workload: Workload,
    flavor: Flavor,
) -> Result<ExhaustiveRun, BenchError> {
    let Workload {
        tasks,
        rounds_per_task,
    } = workload;
    let builder = racecheck::Builder::new()
        .strategy(racecheck::Strategy::Exhaustive)
        .iterations(u64::MAX);
    let start = Instant::now();
    let report = match flavor {
        Flavor::Tasks => builder.run(move || async move {
            let counter = Arc::new(racecheck::sync::Mutex::new(0u64));
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let counter = Arc::clone(&counter);
                    racecheck::spawn(async move {
                        for _ in 0..rounds_per_task {
                            *counter.lock().await += 1;
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.await;
            }
            assert_eq!(*counter.lock().await, tasks * rounds_per_task);
        }),
        Flavor::Threads => builder
            .granularity(racecheck::Granularity::Step)
            .run(move || {
                racecheck::thread::main(move || {
                    let counter = Arc::new(racecheck::sync::blocking::Mutex::new(0u64));
                    let handles: Vec<_> = (0..tasks)
                        .map(|_| {
                            let counter = Arc::clone(&counter);
                            racecheck::thread::spawn(move || {
                                for _ in 0..rounds_per_task {
                                    *counter.lock().unwrap() += 1;
                                }
                            })
                        })
                        .collect();
                    for handle in handles {
                        handle.join().unwrap();
                    }
                    assert_eq!(*counter.lock().unwrap(), tasks * rounds_per_task);
                })
            }),
    };
    let elapsed = start.elapsed();
    if let Some(failure) = report.failure {
        return Err(BenchError::Failure {
            checker: Checker::Racecheck,
            workload,
            message: failure.to_string(),
        });
    }
    if !report.complete {
        return Err(BenchError::Failure {
            checker: Checker::Racecheck,
            workload,
            message: "the exhaustive search did not complete".to_string(),
        });
    }
    Ok(ExhaustiveRun {
        executions: report.executions,
        elapsed,
    })
}

/// Explores every schedule of the program with loom (no preemption bound),
/// threads for tasks.
pub fn loom_exhaustive(workload: Workload) -> ExhaustiveRun {
    static EXECUTIONS: AtomicU64 = AtomicU64::new(0);
    let Workload {
        tasks,
        rounds_per_task,
    } = workload;
    EXECUTIONS.store(0, Ordering::SeqCst);
    let start = Instant::now();
    loom::model(move || {
        EXECUTIONS.fetch_add(1, Ordering::Relaxed);
        let counter = loom::sync::Arc::new(loom::sync::Mutex::new(0u64));
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let counter = loom::sync::Arc::clone(&counter);
                loom::thread::spawn(move || {
                    for _ in 0..rounds_per_task {
                        *counter.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(*counter.lock().unwrap(), tasks * rounds_per_task);
    });
    ExhaustiveRun {
        executions: EXECUTIONS.load(Ordering::SeqCst),
        elapsed: start.elapsed(),
    }
}

/// The process's peak resident memory in MiB, where the platform says
/// (`VmHWM` in `/proc/self/status` on Linux).
pub fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}
