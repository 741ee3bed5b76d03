//! A fingerprint of racecheck's scheduling, for refactors that must not
//! change it.
//!
//! Determinism is the product: the same seed and program must give the same
//! schedule and trace on every commit that does not mean to change them. This
//! example explores a fixed set of programs (every SCTBench port, bugged and
//! fixed, the T×K lock programs as tasks at both granularities and as
//! threads, and a mixed program of threads, a condition variable, a
//! read-write lock, sleeps and an async task) under the random strategy,
//! PCT and the exhaustive search, and prints one line per exploration: the
//! number of executions and a hash of every runnable set, every choice,
//! every data choice and every step's events (their files, not their
//! lines), in order.
//!
//! The expected output is checked in next to this file
//! (`schedule_digest.txt`), and CI compares it on a fresh machine: the
//! same seeds must give the same schedules and traces on every machine,
//! and a refactor must leave them alone.
//!
//! ```text
//! cargo run --release -p racecheck-programs --example schedule_digest \
//!     | diff crates/racecheck-programs/examples/schedule_digest.txt -
//! ```
//!
//! No output line may differ unless the change means to change schedules
//! (a new scheduling point, a strategy that draws differently, a port
//! whose operations change); then regenerate the file in the same commit
//! and say why in its message.

use racecheck::sched::{
    explore_with, Config, ExhaustiveScheduler, PctScheduler, RandomScheduler, Scheduler,
};
use racecheck::sync::{blocking, Mutex, Shared};
use racecheck::{thread, Granularity, TaskId};
use racecheck_programs::sctbench::{ProgramFuture, PROGRAMS};
use racecheck_trace::Event;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

/// FNV-1a over the `Debug` text of what the scheduler sees: stable across
/// machines and runs, unlike addresses or the std hasher's keys.
struct Digest<S> {
    scheduler: S,
    hash: u64,
}

impl<S> Digest<S> {
    fn new(scheduler: S) -> Digest<S> {
        Digest {
            scheduler,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }

    fn absorb(&mut self, tag: &str, value: impl Debug) {
        for byte in tag.bytes().chain(format!("{value:?};").into_bytes()) {
            self.hash ^= u64::from(byte);
            self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl<S: Scheduler> Scheduler for Digest<S> {
    fn new_execution(&mut self, iteration: u64) -> bool {
        let more = self.scheduler.new_execution(iteration);
        self.absorb("new", (iteration, more));
        more
    }

    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
        let chosen = self.scheduler.next_task(runnable, current);
        self.absorb("next", (runnable, current, chosen));
        chosen
    }

    fn observe_step(&mut self, task: TaskId, events: &[Event]) {
        // Each event's file, not its line: editing this file's comments
        // must not change the digest of the programs below.
        let seen: Vec<_> = events
            .iter()
            .map(|event| (event.step, event.task, event.op, event.location.file()))
            .collect();
        self.absorb("step", (task, seen));
        self.scheduler.observe_step(task, events);
    }

    fn choose(&mut self, options: u32) -> Option<u32> {
        let chosen = self.scheduler.choose(options);
        self.absorb("choose", (options, chosen));
        chosen
    }

    fn redundant(&self) -> bool {
        self.scheduler.redundant()
    }

    fn diverged(&self) -> bool {
        self.scheduler.diverged()
    }
}

/// One program to explore: its name, granularity and root.
struct Subject {
    name: String,
    granularity: Granularity,
    run: Box<dyn Fn() -> ProgramFuture>,
}

/// Explores `subject` with `scheduler` and prints its line.
fn digest<S: Scheduler>(subject: &Subject, strategy: &str, iterations: u64, scheduler: S) {
    let config = Config {
        iterations,
        granularity: subject.granularity,
        ..Config::default()
    };
    let mut digest = Digest::new(scheduler);
    let report = explore_with(&config, &mut digest, &subject.run);
    let failure = report.failure.as_ref().map(|failure| &failure.kind);
    digest.absorb("failure", failure);
    println!(
        "{} {strategy} executions={} failed={} digest={:016x}",
        subject.name,
        report.executions,
        failure.is_some(),
        digest.hash
    );
}

/// T tasks, each K times: lock, increment, unlock, yield.
async fn tasks_in_mutex(tasks: u64, rounds: u64) {
    let lock = Arc::new(Mutex::new(()));
    let counter = Arc::new(Shared::new(0u64));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (lock, counter) = (Arc::clone(&lock), Arc::clone(&counter));
            racecheck::spawn(async move {
                for _ in 0..rounds {
                    let guard = lock.lock().await;
                    counter.with_mut(|count| *count += 1);
                    drop(guard);
                    racecheck::yield_now().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await;
    }
    assert_eq!(counter.with(|count| *count), tasks * rounds);
}

/// The same program with threads and a blocking mutex.
fn threads_in_mutex(tasks: u64, rounds: u64) -> ProgramFuture {
    Box::pin(thread::main(move || {
        let counter = Arc::new(blocking::Mutex::new(0u64));
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let counter = Arc::clone(&counter);
                thread::spawn(move || {
                    for _ in 0..rounds {
                        *counter.lock().unwrap() += 1;
                        thread::yield_now();
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(*counter.lock().unwrap(), tasks * rounds);
    }))
}

/// Threads with a condition variable, a read-write lock and sleeps, next to
/// an async task.
fn mixed() -> ProgramFuture {
    Box::pin(async {
        let ticker = racecheck::spawn(async {
            racecheck::time::sleep(Duration::from_millis(3)).await;
            racecheck::yield_now().await;
        });
        thread::main(|| {
            let ready = Arc::new((blocking::Mutex::new(false), blocking::Condvar::new()));
            let table = Arc::new(blocking::RwLock::new(0u32));
            let waiter = {
                let (ready, table) = (Arc::clone(&ready), Arc::clone(&table));
                thread::spawn(move || {
                    let (flag, condvar) = &*ready;
                    let mut set = flag.lock().unwrap();
                    while !*set {
                        set = condvar.wait(set).unwrap();
                    }
                    drop(set);
                    *table.read().unwrap()
                })
            };
            let writer = {
                let table = Arc::clone(&table);
                thread::spawn(move || {
                    thread::sleep(Duration::from_millis(1));
                    *table.write().unwrap() += 1;
                })
            };
            *table.write().unwrap() += 10;
            let (flag, condvar) = &*ready;
            *flag.lock().unwrap() = true;
            condvar.notify_one();
            writer.join().unwrap();
            let seen = waiter.join().unwrap();
            assert!(seen >= 10);
        })
        .await;
        ticker.await;
    })
}

fn subjects() -> Vec<Subject> {
    let mut subjects = Vec::new();
    for program in PROGRAMS {
        subjects.push(Subject {
            name: program.name.to_string(),
            granularity: program.granularity,
            run: Box::new(program.run),
        });
        if let Some(fixed) = program.fixed {
            subjects.push(Subject {
                name: format!("{}-fixed", program.name),
                granularity: program.granularity,
                run: Box::new(fixed),
            });
        }
    }
    for (tasks, rounds) in [(2, 1), (2, 3), (3, 2)] {
        for granularity in [Granularity::Await, Granularity::Step] {
            subjects.push(Subject {
                name: format!("tasks-{tasks}x{rounds}-{granularity:?}"),
                granularity,
                run: Box::new(move || Box::pin(tasks_in_mutex(tasks, rounds))),
            });
        }
        subjects.push(Subject {
            name: format!("threads-{tasks}x{rounds}"),
            granularity: Granularity::Step,
            run: Box::new(move || threads_in_mutex(tasks, rounds)),
        });
    }
    subjects.push(Subject {
        name: "mixed".to_string(),
        granularity: Granularity::Step,
        run: Box::new(mixed),
    });
    subjects
}

fn main() {
    for subject in subjects() {
        for seed in [0, 1, 7] {
            digest(
                &subject,
                &format!("random-{seed}"),
                40,
                RandomScheduler::new(seed),
            );
        }
        for depth in [1, 3] {
            digest(
                &subject,
                &format!("pct-{depth}"),
                40,
                PctScheduler::new(5, depth, 60),
            );
        }
        digest(&subject, "exhaustive", 150, ExhaustiveScheduler::new());
    }
}
