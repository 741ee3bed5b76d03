//! racecheck at service scale: the cost of a scheduling step and the memory
//! of an execution as the number of tasks grows.
//!
//! The program: N tasks over M objects (each a `Mutex<()>` guarding a
//! tracked `Shared<u64>`); each task, K times, locks object
//! `(task + round) % M`, reads and writes its value, unlocks it and yields;
//! the root awaits every task and checks the sum. Random exploration from
//! seed 0, with the detector off (`Check::Off`) and on (the default
//! checks, as users get them), enough executions for about 100,000 rounds
//! per side, fastest of three alternating timed rounds after an untimed
//! warm-up of a tenth of that. One line per N:
//!
//! ```text
//! workload=tasks-1000x10 objects=16 executions=10 steps=S floor_ns_per_step=F off_ns_per_step=A on_ns_per_step=B overhead=X off_peak_heap_kib=P on_peak_heap_kib=Q on_bytes_per_task=R
//! ```
//!
//! `floor_ns_per_step` is what this machine charges for a step of the same
//! program on a bare executor (module `floor`): the same tasks as boxed
//! futures, the same random choice, the same events appended to a log, and
//! nothing else. As the tasks outgrow the caches, a step costs more on any
//! executor, because the chosen task's future is somewhere cold; the floor
//! shows how much of racecheck's growth is that.
//!
//! Steps are counted by the scheduler (one per choice); the heap figures are
//! the peak of bytes live during one more exploration, on a thread of its
//! own, above what was live before it, counted by this binary's global
//! allocator (module `counting`), so they are exact and independent of the
//! allocator's caching, and they include what the runtime keeps on a
//! thread between explorations (the largest trace so far): all the memory
//! an exploration uses on a fresh thread, as a `cargo test` thread's.
//! Run it with
//! `cargo run --release -p racecheck-bench --bin scale`.

use racecheck::detect::Checks;
use racecheck::sched::{explore_with, Config, RandomScheduler, Scheduler};
use racecheck::sync::{Mutex, Shared};
use racecheck::{Check, TaskId};
use racecheck_bench::{warmup_iterations, ROUNDS, SEED};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// Task counts measured when the user does not choose.
const TASKS_DEFAULT: [u64; 4] = [10, 100, 1_000, 10_000];
/// Most tasks one program may spawn.
const TASKS_MAX: u64 = 50_000;
/// Rounds per task (K) when the user does not choose.
const ROUNDS_PER_TASK_DEFAULT: u64 = 10;
/// Most rounds per task.
const ROUNDS_PER_TASK_MAX: u64 = 1_000;
/// The detector off: exploration alone.
const OFF: Checks = Checks {
    races: Check::Off,
    deadlocks: Check::Off,
    hangs: Check::Off,
    leaks: Check::Off,
    potential_deadlocks: Check::Off,
};
/// Shared objects (M).
const OBJECTS: u64 = 16;
/// Rounds (tasks × rounds per task × executions) per timed measurement.
const ROUNDS_PER_MEASUREMENT: u64 = 100_000;

/// The random strategy, counting the steps it chooses.
struct Counted {
    inner: RandomScheduler,
    steps: u64,
}

impl Scheduler for Counted {
    fn new_execution(&mut self, iteration: u64) -> bool {
        self.inner.new_execution(iteration)
    }

    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
        self.steps += 1;
        self.inner.next_task(runnable, current)
    }

    fn choose(&mut self, options: u32) -> Option<u32> {
        self.inner.choose(options)
    }
}

/// One exploration: its wall-clock time, steps, and peak heap growth.
#[derive(Clone, Copy)]
struct Measurement {
    elapsed: Duration,
    steps: u64,
    peak_heap_bytes: usize,
}

impl Measurement {
    fn ns_per_step(self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.steps as f64
    }
}

/// The benchmark's program, run as each execution's root.
async fn program(tasks: u64, objects: u64, rounds_per_task: u64) {
    let cells: Arc<Vec<(Mutex<()>, Shared<u64>)>> = Arc::new(
        (0..objects)
            .map(|_| (Mutex::new(()), Shared::new(0)))
            .collect(),
    );
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let cells = Arc::clone(&cells);
            racecheck::spawn(async move {
                for round in 0..rounds_per_task {
                    let (lock, value) = &cells[((task + round) % objects) as usize];
                    let guard = lock.lock().await;
                    value.set(value.get() + 1);
                    drop(guard);
                    racecheck::yield_now().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await;
    }
    let total: u64 = cells.iter().map(|(_, value)| value.get()).sum();
    assert_eq!(total, tasks * rounds_per_task);
}

fn measure(
    tasks: u64,
    rounds_per_task: u64,
    iterations: u64,
    checks: Checks,
) -> Result<Measurement, String> {
    let config = Config {
        seed: SEED,
        iterations,
        steps_max: u32::MAX,
        checks,
        ..Config::default()
    };
    let mut scheduler = Counted {
        inner: RandomScheduler::new(SEED),
        steps: 0,
    };
    counting::reset_peak();
    let before = counting::live_bytes();
    let start = Instant::now();
    let report = explore_with(&config, &mut scheduler, move || {
        program(tasks, OBJECTS, rounds_per_task)
    });
    let elapsed = start.elapsed();
    let peak_heap_bytes = counting::peak_bytes().saturating_sub(before);
    if let Some(failure) = report.failure {
        return Err(format!("a correct program failed:\n{failure}"));
    }
    if report.executions != iterations {
        return Err(format!(
            "asked for {iterations} executions, ran {}",
            report.executions
        ));
    }
    Ok(Measurement {
        elapsed,
        steps: scheduler.steps,
        peak_heap_bytes,
    })
}

/// Fastest of [`ROUNDS`] alternating rounds for each side, after an
/// untimed warm-up, and the heap peak of one more exploration per side on
/// a fresh thread.
fn line(tasks: u64, rounds_per_task: u64) -> Result<String, String> {
    let iterations = (ROUNDS_PER_MEASUREMENT / (tasks * rounds_per_task)).max(1);
    let faster = |first: Measurement, second: Measurement| Measurement {
        elapsed: first.elapsed.min(second.elapsed),
        ..first
    };
    // Untimed warm-up: the first exploration also allocates what the
    // process keeps (thread-locals, pools), which is no execution's cost.
    let warmup = warmup_iterations(iterations);
    measure(tasks, rounds_per_task, warmup, OFF)?;
    measure(tasks, rounds_per_task, warmup, Checks::default())?;
    let mut off = measure(tasks, rounds_per_task, iterations, OFF)?;
    let mut on = measure(tasks, rounds_per_task, iterations, Checks::default())?;
    for _ in 1..ROUNDS {
        let (next_off, next_on) = (
            measure(tasks, rounds_per_task, iterations, OFF)?,
            measure(tasks, rounds_per_task, iterations, Checks::default())?,
        );
        if [next_off.steps, on.steps, next_on.steps] != [off.steps; 3] {
            return Err(format!(
                "the same exploration took another number of steps: {} and {} off, {} and {} on",
                off.steps, next_off.steps, on.steps, next_on.steps
            ));
        }
        off = faster(off, next_off);
        on = faster(on, next_on);
    }
    // The timed rounds reuse what this thread kept from the warm-up; the
    // heap is measured where nothing is kept yet.
    let on_fresh_thread = |checks: Checks| {
        std::thread::spawn(move || measure(tasks, rounds_per_task, iterations, checks))
            .join()
            .map_err(|_| "the heap measurement's thread panicked".to_string())?
    };
    off.peak_heap_bytes = on_fresh_thread(OFF)?.peak_heap_bytes;
    on.peak_heap_bytes = on_fresh_thread(Checks::default())?.peak_heap_bytes;
    if off.steps != on.steps {
        return Err(format!(
            "the detector changed the schedule: {} steps off, {} on",
            off.steps, on.steps
        ));
    }
    floor::explore(tasks, rounds_per_task, warmup);
    let floor = (0..ROUNDS)
        .map(|_| floor::explore(tasks, rounds_per_task, iterations))
        .reduce(faster)
        .expect("at least one round");
    Ok(format!(
        "workload=tasks-{tasks}x{rounds_per_task} objects={OBJECTS} executions={iterations} steps={} \
         floor_ns_per_step={:.1} off_ns_per_step={:.1} on_ns_per_step={:.1} overhead={:.2} \
         off_peak_heap_kib={} on_peak_heap_kib={} on_bytes_per_task={}",
        off.steps,
        floor.ns_per_step(),
        off.ns_per_step(),
        on.ns_per_step(),
        on.elapsed.as_secs_f64() / off.elapsed.as_secs_f64(),
        off.peak_heap_bytes / 1024,
        on.peak_heap_bytes / 1024,
        on.peak_heap_bytes as u64 / tasks,
    ))
}

const USAGE: &str = "usage: scale [--tasks N[,N...]] [--rounds K]\n\
\n\
Measures racecheck's nanoseconds per scheduling step and peak heap, with\n\
the detector off and on, as the number of tasks grows.\n\
\n\
Options:\n  \
  --tasks N,...   task counts, each in 1..=50000 (default: 10,100,1000,10000)\n  \
  --rounds K      lock-read-write-unlock-yield rounds per task, in 1..=1000 (default: 10)\n  \
  -h, --help      print this help";

/// The task counts and rounds per task asked for; `None` asks for help.
fn parse(arguments: impl Iterator<Item = String>) -> Result<Option<(Vec<u64>, u64)>, String> {
    let mut tasks = TASKS_DEFAULT.to_vec();
    let mut rounds = ROUNDS_PER_TASK_DEFAULT;
    let mut arguments = arguments;
    let number = |text: &str, max: u64| {
        text.parse::<u64>()
            .ok()
            .filter(|value| (1..=max).contains(value))
            .ok_or_else(|| format!("invalid number `{text}`: expected 1..={max}"))
    };
    while let Some(argument) = arguments.next() {
        let mut value = || {
            arguments
                .next()
                .ok_or_else(|| format!("{argument} needs a value"))
        };
        match argument.as_str() {
            "-h" | "--help" => return Ok(None),
            "--tasks" => {
                tasks = value()?
                    .split(',')
                    .map(|text| number(text, TASKS_MAX))
                    .collect::<Result<_, _>>()?
            }
            "--rounds" => rounds = number(&value()?, ROUNDS_PER_TASK_MAX)?,
            _ => return Err(format!("unexpected argument `{argument}`\n{USAGE}")),
        }
    }
    Ok(Some((tasks, rounds)))
}

fn main() -> ExitCode {
    let (tasks, rounds) = match parse(std::env::args().skip(1)) {
        Ok(Some(plan)) => plan,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("scale: {message}");
            return ExitCode::from(2);
        }
    };
    println!("# seed={SEED} scheduler=random rounds={ROUNDS} (fastest time counts; heap: one exploration on a fresh thread) rounds_per_measurement={ROUNDS_PER_MEASUREMENT}");
    for count in tasks {
        match line(count, rounds) {
            Ok(line) => println!("{line}"),
            Err(message) => {
                eprintln!("scale: tasks-{count}x{rounds}: {message}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// The same program on a bare executor: what a step costs on this machine
/// with nothing but what any executor does, so that `scale`'s figures can
/// be read against the memory hierarchy they run on.
///
/// Each execution boxes the tasks' futures (each, K times: add one to
/// cell `(task + round) % M`, then yield once), keeps the runnable tasks in
/// a sorted `Vec`, has racecheck's random strategy (`RandomScheduler`,
/// called directly) choose each step's task, and appends five events a
/// step (a round's lock, read, write, unlock and yield) to a log kept
/// across executions, as racecheck keeps its trace. No wakers, no task
/// states, no root, no checks.
mod floor {
    use super::{Measurement, OBJECTS, SEED};
    use racecheck::sched::{RandomScheduler, Scheduler};
    use racecheck::TaskId;
    use racecheck_bench::PendingOnce;
    use racecheck_trace::{Event, Location, Op};
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::task::{Context, Waker};
    use std::time::Instant;

    /// Events a round appends: lock, read, write, unlock, yield.
    const EVENTS_PER_ROUND: usize = 5;

    /// Runs `iterations` executions of the program with `tasks` tasks.
    pub(super) fn explore(tasks: u64, rounds_per_task: u64, iterations: u64) -> Measurement {
        let mut scheduler = RandomScheduler::new(SEED);
        let mut log: Vec<Event> = Vec::new();
        let mut steps = 0u64;
        let mut context = Context::from_waker(Waker::noop());
        let start = Instant::now();
        for iteration in 0..iterations {
            scheduler.new_execution(iteration);
            let cells: Rc<Vec<Cell<u64>>> = Rc::new((0..OBJECTS).map(|_| Cell::new(0)).collect());
            let mut futures: Vec<Option<Pin<Box<dyn Future<Output = ()>>>>> = (0..tasks)
                .map(|task| {
                    let cells = Rc::clone(&cells);
                    let future: Pin<Box<dyn Future<Output = ()>>> = Box::pin(async move {
                        for round in 0..rounds_per_task {
                            let cell = &cells[((task + round) % OBJECTS) as usize];
                            cell.set(cell.get() + 1);
                            PendingOnce::new().await;
                        }
                    });
                    Some(future)
                })
                .collect();
            let mut runnable: Vec<TaskId> = (0..tasks as u32).map(TaskId).collect();
            log.clear();
            while let Some(task) = scheduler.next_task(&runnable, None) {
                let event = Event {
                    step: steps as u32,
                    task,
                    op: Op::Yield,
                    location: Location::caller(),
                };
                log.extend(std::iter::repeat_n(event, EVENTS_PER_ROUND));
                steps += 1;
                let future = futures[task.index()].as_mut().expect("a runnable task");
                if future.as_mut().poll(&mut context).is_ready() {
                    futures[task.index()] = None;
                    let index = runnable.binary_search(&task).expect("a runnable task");
                    runnable.remove(index);
                }
            }
            let total: u64 = cells.iter().map(Cell::get).sum();
            assert_eq!(
                total,
                tasks * rounds_per_task,
                "the floor's program lost a round"
            );
        }
        std::hint::black_box(&log);
        Measurement {
            elapsed: start.elapsed(),
            steps,
            peak_heap_bytes: 0,
        }
    }
}

/// A global allocator that counts the bytes live on the heap and their
/// peak, so that the benchmark can tell how much memory an exploration
/// needed. It forwards every call to the system allocator.
///
/// **The one `unsafe` of the benchmarks:** implementing `GlobalAlloc` is
/// unsafe by definition. Each method passes its arguments, unchanged, to
/// `System`, whose contract is the same as the one the caller promised us.
#[allow(unsafe_code)]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The system allocator, counting.
    pub struct Counting;

    static LIVE: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    fn grow(bytes: usize) {
        let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }

    fn shrink(bytes: usize) {
        LIVE.fetch_sub(bytes, Ordering::Relaxed);
    }

    // SAFETY: every method forwards to `System` with the caller's own
    // arguments, so it upholds `GlobalAlloc`'s contract as `System` does; the
    // counters are plain atomics and never touch the memory.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
            let pointer = unsafe { System.alloc(layout) };
            if !pointer.is_null() {
                grow(layout.size());
            }
            pointer
        }

        unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
            // SAFETY: `pointer` came from `alloc` above with this `layout`.
            unsafe { System.dealloc(pointer, layout) };
            shrink(layout.size());
        }

        unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
            // SAFETY: the caller's block, layout and new size, as
            // `GlobalAlloc::realloc` requires.
            let moved = unsafe { System.realloc(pointer, layout, size) };
            if !moved.is_null() {
                shrink(layout.size());
                grow(size);
            }
            moved
        }
    }

    /// Bytes live on the heap now.
    pub fn live_bytes() -> usize {
        LIVE.load(Ordering::Relaxed)
    }

    /// Starts a new peak from what is live now.
    pub fn reset_peak() {
        PEAK.store(live_bytes(), Ordering::Relaxed);
    }

    /// The most bytes live at once since the last [`reset_peak`].
    pub fn peak_bytes() -> usize {
        PEAK.load(Ordering::Relaxed)
    }
}
