//! Side-by-side benchmarks of racecheck against its peers.
//!
//! Absolute times move from machine to machine, so every claim we make is a
//! ratio: each benchmark runs the *same* test program under racecheck and
//! under a peer, for the same number of executions, on the same machine, in
//! the same process run (see `BENCHMARKS.md`).
//!
//! The pieces:
//! - [`Workload`] is the "T×K" program: T async tasks, each K times lock a
//!   mutex, increment a counter, release the lock and yield; the root task
//!   awaits them all and asserts that the counter is T·K;
//! - [`measure_racecheck`] and [`measure_shuttle`] explore it with random
//!   scheduling from seed [`SEED`] and time the whole exploration;
//! - [`compare`] warms both up, then measures both, and returns a
//!   [`Comparison`];
//! - the `sctbench` binary counts the schedules racecheck's strategies
//!   need on SCTBench's programs (`racecheck-programs`).
//!
//! **Architecture invariant:** this crate is a client of the `racecheck`
//! facade and nothing in racecheck depends on it. It reads the wall clock,
//! which the simulator never does, and only around whole explorations.
//!
//! ```
//! use racecheck_bench::{measure_racecheck, measure_shuttle, Workload};
//!
//! let workload: Workload = "2x1".parse()?;
//! use racecheck_bench::{Counter, Detection};
//! let racecheck = measure_racecheck(workload, 10, Detection::On, Counter::InMutex)?;
//! let shuttle = measure_shuttle(workload, 10)?;
//! assert_eq!(racecheck.executions, shuttle.executions);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cli;
pub mod conformance;
pub mod exhaustive;

use shuttle::future::batch_semaphore::{BatchSemaphore, Fairness};
use shuttle::scheduler::RandomScheduler;
use std::any::Any;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::{self, AssertUnwindSafe};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

/// The seed of the random scheduler on both sides.
pub const SEED: u64 = 0;

/// Most executions one measurement may run.
pub const ITERATIONS_MAX: u64 = 10_000_000;

/// Increments (tasks × rounds per task) that one measurement with the default
/// number of iterations performs in all: about a second per side for the
/// standard workloads under shuttle on a 2-core machine.
pub const INCREMENTS_PER_MEASUREMENT: u64 = 600_000;

/// A warm-up runs this fraction (1/N) of a measurement's executions, untimed.
pub const WARMUP_DIVISOR: u64 = 10;

/// Pending once, then ready: a scheduling point of the bare executors
/// ("floors") that the benchmarks measure racecheck against. They poll
/// with a no-op waker and choose the next task at every `Pending`.
///
/// ```
/// use racecheck_bench::PendingOnce;
/// use std::future::Future;
/// use std::pin::pin;
/// use std::task::{Context, Poll, Waker};
///
/// let mut point = pin!(PendingOnce::new());
/// let mut context = Context::from_waker(Waker::noop());
/// assert!(point.as_mut().poll(&mut context).is_pending());
/// assert_eq!(point.as_mut().poll(&mut context), Poll::Ready(()));
/// ```
#[derive(Debug, Default)]
pub struct PendingOnce {
    polled: bool,
}

impl PendingOnce {
    /// A point not yet passed.
    pub fn new() -> PendingOnce {
        PendingOnce::default()
    }
}

impl std::future::Future for PendingOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.polled {
            std::task::Poll::Ready(())
        } else {
            self.polled = true;
            std::task::Poll::Pending
        }
    }
}

/// The "T×K" program shape, written `TxK` (for example `2x10`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    /// The number of spawned tasks (T).
    pub tasks: u64,
    /// Lock, increment, release, yield: how many times each task does it (K).
    pub rounds_per_task: u64,
}

impl Workload {
    /// Most tasks a workload may spawn.
    pub const TASKS_MAX: u64 = 64;
    /// Most rounds each task may do.
    pub const ROUNDS_PER_TASK_MAX: u64 = 1_000;
    /// The workloads of `BENCHMARKS.md`'s throughput table, smallest first.
    pub const STANDARD: [Workload; 4] = [
        Workload {
            tasks: 2,
            rounds_per_task: 1,
        },
        Workload {
            tasks: 2,
            rounds_per_task: 10,
        },
        Workload {
            tasks: 4,
            rounds_per_task: 10,
        },
        Workload {
            tasks: 8,
            rounds_per_task: 10,
        },
    ];

    /// The counter's value at the end of every execution.
    pub fn increments(self) -> u64 {
        self.tasks * self.rounds_per_task
    }

    /// Whether both numbers are between 1 and their maximum.
    pub fn is_within_limits(self) -> bool {
        (1..=Self::TASKS_MAX).contains(&self.tasks)
            && (1..=Self::ROUNDS_PER_TASK_MAX).contains(&self.rounds_per_task)
    }

    /// Executions per side when the user does not choose: enough for
    /// [`INCREMENTS_PER_MEASUREMENT`], between 1,000 and 100,000.
    pub fn iterations_default(self) -> u64 {
        (INCREMENTS_PER_MEASUREMENT / self.increments()).clamp(1_000, 100_000)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}x{}", self.tasks, self.rounds_per_task)
    }
}

/// Why a `TxK` workload name was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseWorkloadError {
    text: String,
}

impl fmt::Display for ParseWorkloadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "invalid workload `{}`: expected TxK with T tasks in 1..={} and K rounds per task in 1..={}, e.g. 2x10",
            self.text,
            Workload::TASKS_MAX,
            Workload::ROUNDS_PER_TASK_MAX,
        )
    }
}

impl std::error::Error for ParseWorkloadError {}

impl FromStr for Workload {
    type Err = ParseWorkloadError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseWorkloadError {
            text: text.to_owned(),
        };
        let (tasks, rounds_per_task) = text.split_once('x').ok_or_else(error)?;
        let workload = Workload {
            tasks: tasks.parse().map_err(|_| error())?,
            rounds_per_task: rounds_per_task.parse().map_err(|_| error())?,
        };
        if !workload.is_within_limits() {
            return Err(error());
        }
        Ok(workload)
    }
}

/// The checker a measurement ran under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checker {
    /// racecheck's random strategy, through the `racecheck` facade.
    Racecheck,
    /// shuttle's `RandomScheduler`, as `shuttle::check_random` runs it.
    Shuttle,
}

impl fmt::Display for Checker {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Checker::Racecheck => "racecheck",
            Checker::Shuttle => "shuttle",
        })
    }
}

/// A measurement that produced no number: the program is correct, so either
/// is a bug in the checker or in this crate, never a result.
#[derive(Clone, Debug)]
pub enum BenchError {
    /// The checker reported a failing execution.
    Failure {
        /// Who reported it.
        checker: Checker,
        /// The program it ran.
        workload: Workload,
        /// The checker's report.
        message: String,
    },
    /// The checker ran another number of executions than asked, or the
    /// program did not reach its end in each of them.
    ExecutionCount {
        /// Who ran them.
        checker: Checker,
        /// The program it ran.
        workload: Workload,
        /// Executions asked for.
        iterations: u64,
        /// Executions the checker says it ran.
        executions: u64,
        /// Executions that reached the end of the program.
        completed: u64,
    },
}

impl fmt::Display for BenchError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Failure {
                checker,
                workload,
                message,
            } => write!(
                formatter,
                "{checker} found a failure in correct workload {workload}:\n{message}"
            ),
            BenchError::ExecutionCount {
                checker,
                workload,
                iterations,
                executions,
                completed,
            } => write!(
                formatter,
                "{checker} was asked for {iterations} executions of workload {workload} \
                 but ran {executions}, of which {completed} reached the end",
            ),
        }
    }
}

impl std::error::Error for BenchError {}

/// How long one exploration took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throughput {
    /// Executions run, all of which reached the end of the program.
    pub executions: u64,
    /// Wall-clock time of the whole exploration, setup included.
    pub elapsed: Duration,
}

impl Throughput {
    /// Executions per second of wall-clock time.
    pub fn executions_per_second(self) -> f64 {
        self.executions as f64 / self.elapsed.as_secs_f64()
    }
}

/// Both sides of one workload, measured one after the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// The exploration under racecheck.
    pub racecheck: Throughput,
    /// The exploration under shuttle.
    pub shuttle: Throughput,
}

impl Comparison {
    /// racecheck's executions per second over shuttle's: above 1 when
    /// racecheck is faster.
    pub fn ratio(self) -> f64 {
        self.racecheck.executions_per_second() / self.shuttle.executions_per_second()
    }
}

/// Executions of the untimed warm-up before a measurement of `iterations`.
pub fn warmup_iterations(iterations: u64) -> u64 {
    (iterations / WARMUP_DIVISOR).max(1)
}

/// Timed rounds per side in [`compare`]; the fastest round counts.
pub const ROUNDS: usize = 3;

/// Warms up both sides with [`warmup_iterations`], then measures racecheck
/// and shuttle on `workload` for `iterations` executions each, [`ROUNDS`]
/// times in alternation, and keeps each side's fastest round: the run least
/// disturbed by the rest of the machine, for both sides alike.
pub fn compare(workload: Workload, iterations: u64) -> Result<Comparison, BenchError> {
    let (racecheck, shuttle) = fastest_rounds(
        iterations,
        |iterations| measure_racecheck(workload, iterations, Detection::On, Counter::InMutex),
        |iterations| measure_shuttle(workload, iterations),
    )?;
    Ok(Comparison { racecheck, shuttle })
}

/// Warms up both sides with [`warmup_iterations`], then measures each for
/// `iterations` executions, [`ROUNDS`] times in alternation, and keeps
/// each side's fastest round.
fn fastest_rounds(
    iterations: u64,
    first: impl Fn(u64) -> Result<Throughput, BenchError>,
    second: impl Fn(u64) -> Result<Throughput, BenchError>,
) -> Result<(Throughput, Throughput), BenchError> {
    let warmup = warmup_iterations(iterations);
    first(warmup)?;
    second(warmup)?;
    let mut best = (first(iterations)?, second(iterations)?);
    for _ in 1..ROUNDS {
        best.0 = faster(best.0, first(iterations)?);
        best.1 = faster(best.1, second(iterations)?);
    }
    Ok(best)
}

/// Where the T×K program keeps its counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Inside the mutex (`Mutex<u64>`), as in shuttle's version.
    InMutex,
    /// In tracked state (`Shared<u64>`) guarded by a `Mutex<()>`: every
    /// increment is a read and a write the race detector checks.
    Tracked,
    /// Inside the mutex, the program written against the tokio layer
    /// (`racecheck-tokio`): its `spawn`, `JoinHandle` and `yield_now`.
    #[cfg(feature = "tokio-layer")]
    InTokioMutex,
}

/// The T×K program with the counter inside the mutex.
async fn increment_in_mutex(tasks: u64, rounds_per_task: u64) {
    let counter = Arc::new(racecheck::sync::Mutex::new(0u64));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let counter = Arc::clone(&counter);
            racecheck::spawn(async move {
                for _ in 0..rounds_per_task {
                    *counter.lock().await += 1;
                    racecheck::yield_now().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await;
    }
    assert_eq!(*counter.lock().await, tasks * rounds_per_task);
}

/// The T×K program with a tracked counter guarded by the mutex.
async fn increment_tracked(tasks: u64, rounds_per_task: u64) {
    let lock = Arc::new(racecheck::sync::Mutex::new(()));
    let counter = Arc::new(racecheck::sync::Shared::new(0u64));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (lock, counter) = (Arc::clone(&lock), Arc::clone(&counter));
            racecheck::spawn(async move {
                for _ in 0..rounds_per_task {
                    let _guard = lock.lock().await;
                    counter.with_mut(|count| *count += 1);
                    drop(_guard);
                    racecheck::yield_now().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await;
    }
    let _guard = lock.lock().await;
    assert_eq!(counter.get(), tasks * rounds_per_task);
}

/// The T×K program with the counter inside the mutex, written in tokio's
/// API against racecheck-tokio: what a tokio user's test explores.
#[cfg(feature = "tokio-layer")]
async fn increment_through_tokio(tasks: u64, rounds_per_task: u64) {
    let counter = Arc::new(racecheck_tokio::sync::Mutex::new(0u64));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let counter = Arc::clone(&counter);
            racecheck_tokio::spawn(async move {
                for _ in 0..rounds_per_task {
                    *counter.lock().await += 1;
                    racecheck_tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("no task panics");
    }
    assert_eq!(*counter.lock().await, tasks * rounds_per_task);
}

/// The tokio layer's cost: the T×K program through racecheck-tokio against
/// the same program on racecheck's native API.
#[cfg(feature = "tokio-layer")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerComparison {
    /// Through racecheck-tokio.
    pub tokio: Throughput,
    /// On racecheck's native API.
    pub native: Throughput,
}

#[cfg(feature = "tokio-layer")]
impl LayerComparison {
    /// The tokio layer's executions per second over the native API's: 1
    /// when the layer costs nothing.
    pub fn ratio(self) -> f64 {
        self.tokio.executions_per_second() / self.native.executions_per_second()
    }
}

/// Like [`compare`], for the program through the tokio layer against the
/// native one, both with the detector on.
///
/// ```
/// let workload = "2x1".parse()?;
/// let comparison = racecheck_bench::compare_tokio_layer(workload, 10)?;
/// assert_eq!(comparison.tokio.executions, 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "tokio-layer")]
pub fn compare_tokio_layer(
    workload: Workload,
    iterations: u64,
) -> Result<LayerComparison, BenchError> {
    let (tokio, native) = fastest_rounds(
        iterations,
        |iterations| measure_racecheck(workload, iterations, Detection::On, Counter::InTokioMutex),
        |iterations| measure_racecheck(workload, iterations, Detection::On, Counter::InMutex),
    )?;
    Ok(LayerComparison { tokio, native })
}

/// Whether racecheck runs its detector (as users get it by default) or
/// only explores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    /// The default checks: races, deadlocks, hangs, leaks, lock orders.
    On,
    /// `Builder::checks(Check::Off)`: exploration alone.
    Off,
}

/// racecheck on the same workload without and with its detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetectionComparison {
    /// Exploration alone.
    pub off: Throughput,
    /// Exploration with the default checks.
    pub on: Throughput,
}

impl DetectionComparison {
    /// How many times longer an execution takes with the detector on.
    pub fn overhead(self) -> f64 {
        self.off.executions_per_second() / self.on.executions_per_second()
    }
}

/// Like [`compare`], for racecheck with its detector off and on, on the
/// program with a tracked counter (so that the race check has accesses to
/// check).
pub fn compare_detection(
    workload: Workload,
    iterations: u64,
) -> Result<DetectionComparison, BenchError> {
    let (off, on) = fastest_rounds(
        iterations,
        |iterations| measure_racecheck(workload, iterations, Detection::Off, Counter::Tracked),
        |iterations| measure_racecheck(workload, iterations, Detection::On, Counter::Tracked),
    )?;
    Ok(DetectionComparison { off, on })
}

fn faster(first: Throughput, second: Throughput) -> Throughput {
    if second.executions_per_second() > first.executions_per_second() {
        second
    } else {
        first
    }
}

/// Explores `workload` under racecheck's random strategy from [`SEED`] for
/// `iterations` executions, and times the whole exploration.
///
/// # Panics
///
/// If the workload is not within its limits or `iterations` is not in
/// `1..=ITERATIONS_MAX`.
pub fn measure_racecheck(
    workload: Workload,
    iterations: u64,
    detection: Detection,
    counter: Counter,
) -> Result<Throughput, BenchError> {
    assert_arguments(workload, iterations);
    let Workload {
        tasks,
        rounds_per_task,
    } = workload;
    let completed = Arc::new(AtomicU64::new(0));
    let program_completed = Arc::clone(&completed);

    let builder = match detection {
        Detection::On => racecheck::Builder::new(),
        Detection::Off => racecheck::Builder::new().checks(racecheck::Check::Off),
    };
    let start = Instant::now();
    let report = builder.seed(SEED).iterations(iterations).run(move || {
        let completed = Arc::clone(&program_completed);
        async move {
            match counter {
                Counter::InMutex => increment_in_mutex(tasks, rounds_per_task).await,
                Counter::Tracked => increment_tracked(tasks, rounds_per_task).await,
                #[cfg(feature = "tokio-layer")]
                Counter::InTokioMutex => increment_through_tokio(tasks, rounds_per_task).await,
            }
            completed.fetch_add(1, Ordering::Relaxed);
        }
    });
    racecheck_outcome(report, start.elapsed(), workload, iterations, &completed)
}

/// Explores `workload` under shuttle's random scheduler from [`SEED`] for
/// `iterations` executions, and times the whole exploration.
///
/// This is `shuttle::check_random` with a fixed seed: the same `Runner`, the
/// same default `Config`. Its tasks are shuttle's async tasks, and its mutex
/// is awaited like racecheck's (see `ShuttleMutex`).
///
/// # Panics
///
/// If the workload is not within its limits or `iterations` is not in
/// `1..=ITERATIONS_MAX`.
pub fn measure_shuttle(workload: Workload, iterations: u64) -> Result<Throughput, BenchError> {
    assert_arguments(workload, iterations);
    let Workload {
        tasks,
        rounds_per_task,
    } = workload;
    let completed = Arc::new(AtomicU64::new(0));
    let program_completed = Arc::clone(&completed);
    let iterations_max = usize::try_from(iterations).expect("ITERATIONS_MAX fits in a usize");
    let runner = shuttle::Runner::new(
        RandomScheduler::new_from_seed(SEED, iterations_max),
        shuttle::Config::default(),
    );

    let start = Instant::now();
    // shuttle reports a failing execution by printing the schedule that
    // replays it and then panicking: catch the panic to report it as ours.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        runner.run(move || {
            let completed = Arc::clone(&program_completed);
            shuttle::future::block_on(async move {
                let counter = Arc::new(ShuttleMutex::new(0u64));
                let handles: Vec<_> = (0..tasks)
                    .map(|_| {
                        let counter = Arc::clone(&counter);
                        shuttle::future::spawn(async move {
                            for _ in 0..rounds_per_task {
                                *counter.lock().await += 1;
                                shuttle::future::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await.expect("no task is aborted");
                }
                assert_eq!(*counter.lock().await, tasks * rounds_per_task);
                completed.fetch_add(1, Ordering::Relaxed);
            });
        })
    }));
    shuttle_outcome(outcome, start.elapsed(), workload, iterations, &completed)
}

/// Like [`compare`], for the T×K program written with threads and the
/// blocking mutex: racecheck's simulated threads at step granularity
/// against shuttle's threads, both on stackful coroutines.
pub fn compare_threads(workload: Workload, iterations: u64) -> Result<Comparison, BenchError> {
    let (racecheck, shuttle) = fastest_rounds(
        iterations,
        |iterations| measure_racecheck_threads(workload, iterations),
        |iterations| measure_shuttle_threads(workload, iterations),
    )?;
    Ok(Comparison { racecheck, shuttle })
}

/// The T×K program with threads under racecheck (detector on,
/// [`racecheck::Granularity::Step`]): T threads, each K times locking a
/// blocking mutex, incrementing, unlocking and yielding; the main thread
/// joins them and checks the count.
///
/// ```
/// let workload = "2x1".parse()?;
/// let throughput = racecheck_bench::measure_racecheck_threads(workload, 10)?;
/// assert_eq!(throughput.executions, 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn measure_racecheck_threads(
    workload: Workload,
    iterations: u64,
) -> Result<Throughput, BenchError> {
    use racecheck::sync::blocking::Mutex;
    use racecheck::thread;

    assert_arguments(workload, iterations);
    let Workload {
        tasks,
        rounds_per_task,
    } = workload;
    let completed = Arc::new(AtomicU64::new(0));
    let program_completed = Arc::clone(&completed);
    let start = Instant::now();
    let report = racecheck::Builder::new()
        .granularity(racecheck::Granularity::Step)
        .seed(SEED)
        .iterations(iterations)
        .run(move || {
            let completed = Arc::clone(&program_completed);
            thread::main(move || {
                let counter = Arc::new(Mutex::new(0u64));
                let handles: Vec<_> = (0..tasks)
                    .map(|_| {
                        let counter = Arc::clone(&counter);
                        thread::spawn(move || {
                            for _ in 0..rounds_per_task {
                                *counter.lock().unwrap() += 1;
                                thread::yield_now();
                            }
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.join().unwrap();
                }
                assert_eq!(*counter.lock().unwrap(), tasks * rounds_per_task);
                completed.fetch_add(1, Ordering::Relaxed);
            })
        });
    racecheck_outcome(report, start.elapsed(), workload, iterations, &completed)
}

/// The T×K program with threads under shuttle's random scheduler:
/// `shuttle::thread` and `shuttle::sync::Mutex`, as shuttle's users write
/// it.
pub fn measure_shuttle_threads(
    workload: Workload,
    iterations: u64,
) -> Result<Throughput, BenchError> {
    assert_arguments(workload, iterations);
    let Workload {
        tasks,
        rounds_per_task,
    } = workload;
    let completed = Arc::new(AtomicU64::new(0));
    let program_completed = Arc::clone(&completed);
    let iterations_max = usize::try_from(iterations).expect("ITERATIONS_MAX fits in a usize");
    let runner = shuttle::Runner::new(
        RandomScheduler::new_from_seed(SEED, iterations_max),
        shuttle::Config::default(),
    );
    let start = Instant::now();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        runner.run(move || {
            let counter = Arc::new(shuttle::sync::Mutex::new(0u64));
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let counter = Arc::clone(&counter);
                    shuttle::thread::spawn(move || {
                        for _ in 0..rounds_per_task {
                            *counter.lock().unwrap() += 1;
                            shuttle::thread::yield_now();
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
            assert_eq!(*counter.lock().unwrap(), tasks * rounds_per_task);
            program_completed.fetch_add(1, Ordering::Relaxed);
        })
    }));
    shuttle_outcome(outcome, start.elapsed(), workload, iterations, &completed)
}

/// A racecheck measurement's result: its throughput if every execution
/// passed and reached the end.
fn racecheck_outcome(
    report: racecheck::Report,
    elapsed: Duration,
    workload: Workload,
    iterations: u64,
    completed: &AtomicU64,
) -> Result<Throughput, BenchError> {
    if let Some(failure) = report.failure {
        return Err(BenchError::Failure {
            checker: Checker::Racecheck,
            workload,
            message: failure.to_string(),
        });
    }
    let throughput = Throughput {
        executions: report.executions,
        elapsed,
    };
    check_executions(
        Checker::Racecheck,
        workload,
        iterations,
        throughput,
        completed,
    )
}

/// A shuttle measurement's result: shuttle reports a failing execution by
/// panicking, which the caller caught.
fn shuttle_outcome(
    outcome: std::thread::Result<usize>,
    elapsed: Duration,
    workload: Workload,
    iterations: u64,
    completed: &AtomicU64,
) -> Result<Throughput, BenchError> {
    let executions = outcome.map_err(|payload| BenchError::Failure {
        checker: Checker::Shuttle,
        workload,
        message: panic_message(payload.as_ref()),
    })?;
    let throughput = Throughput {
        executions: u64::try_from(executions).expect("a usize fits in a u64"),
        elapsed,
    };
    check_executions(
        Checker::Shuttle,
        workload,
        iterations,
        throughput,
        completed,
    )
}

fn assert_arguments(workload: Workload, iterations: u64) {
    assert!(
        workload.is_within_limits(),
        "workload {workload} is out of limits"
    );
    assert!(
        (1..=ITERATIONS_MAX).contains(&iterations),
        "iterations {iterations} not in 1..={ITERATIONS_MAX}"
    );
}

/// Checks the post-condition of a measurement: every execution asked for ran
/// to the end of the program, and no other.
fn check_executions(
    checker: Checker,
    workload: Workload,
    iterations: u64,
    throughput: Throughput,
    completed: &AtomicU64,
) -> Result<Throughput, BenchError> {
    let completed = completed.load(Ordering::Relaxed);
    if throughput.executions != iterations || completed != iterations {
        return Err(BenchError::ExecutionCount {
            checker,
            workload,
            iterations,
            executions: throughput.executions,
            completed,
        });
    }
    Ok(throughput)
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// A tokio-style async mutex for shuttle's async tasks: `lock().await`.
///
/// shuttle 0.9.9 has no async mutex: `shuttle::sync::Mutex` has std's
/// blocking API. This one is a strictly fair `BatchSemaphore` with one
/// permit, which is what both `shuttle::sync::Mutex` and tokio's `Mutex` are
/// built on, so both sides of a comparison run the same program text. The
/// inner `std::sync::Mutex` is never contended (the permit guards it), and
/// shuttle does not see it.
struct ShuttleMutex<T> {
    semaphore: BatchSemaphore,
    value: std::sync::Mutex<T>,
}

impl<T> ShuttleMutex<T> {
    fn new(value: T) -> Self {
        ShuttleMutex {
            semaphore: BatchSemaphore::new(1, Fairness::StrictlyFair),
            value: std::sync::Mutex::new(value),
        }
    }

    async fn lock(&self) -> ShuttleMutexGuard<'_, T> {
        // The semaphore is closed only once an execution is being torn down;
        // like `shuttle::sync::Mutex`, take the lock as if it were free then.
        let _ = self.semaphore.acquire(1).await;
        let value = self.value.lock().unwrap_or_else(PoisonError::into_inner);
        ShuttleMutexGuard {
            semaphore: &self.semaphore,
            value: Some(value),
        }
    }
}

struct ShuttleMutexGuard<'a, T> {
    semaphore: &'a BatchSemaphore,
    /// `Some` until the guard drops.
    value: Option<std::sync::MutexGuard<'a, T>>,
}

impl<T> Deref for ShuttleMutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value
            .as_deref()
            .expect("a guard holds its value until it drops")
    }
}

impl<T> DerefMut for ShuttleMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
            .as_deref_mut()
            .expect("a guard holds its value until it drops")
    }
}

impl<T> Drop for ShuttleMutexGuard<'_, T> {
    fn drop(&mut self) {
        // Unlock the value before releasing the permit: the release is a
        // scheduling point, and the next holder must find the value free.
        self.value = None;
        self.semaphore.release(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_names_parse_within_limits() {
        let cases: [(&str, Option<(u64, u64)>); 9] = [
            ("2x1", Some((2, 1))),
            ("8x10", Some((8, 10))),
            ("64x1000", Some((64, 1_000))),
            ("0x10", None),
            ("2x0", None),
            ("65x1", None),
            ("2x1001", None),
            ("2×10", None),
            ("2x", None),
        ];
        for (text, expected) in cases {
            let parsed = text.parse::<Workload>().ok();
            let expected = expected.map(|(tasks, rounds_per_task)| Workload {
                tasks,
                rounds_per_task,
            });
            assert_eq!(parsed, expected, "{text}");
            if let Some(workload) = parsed {
                assert_eq!(workload.to_string(), text);
            }
        }
    }

    #[test]
    fn default_iterations_shrink_with_the_program() {
        let iterations = Workload::STANDARD.map(Workload::iterations_default);
        assert_eq!(iterations, [100_000, 30_000, 15_000, 7_500]);
    }

    #[test]
    fn both_sides_run_every_execution_to_the_end() {
        let comparison = compare(Workload::STANDARD[1], 20).expect("the program is correct");
        assert_eq!(comparison.racecheck.executions, 20);
        assert_eq!(comparison.shuttle.executions, 20);
    }
}
