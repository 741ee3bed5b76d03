//! The floors under `vs_shuttle`'s workloads: what a scheduling step costs
//! with nothing but the random choice and the switch, against racecheck
//! and shuttle in the same run.
//!
//! Both floors ask racecheck's random strategy itself (`RandomScheduler`:
//! a ChaCha8 stream per execution, a multiply-shift over the runnable
//! tasks) at every scheduling point, called directly rather than through
//! the step loop. They record nothing, check nothing and have no wakers:
//! what is left of a step when every feature is taken away.
//!
//! - **Tasks** (`2x10`): the T×K program as boxed futures polled by a bare
//!   loop with a no-op waker. A round has racecheck's two scheduling points
//!   at await granularity: the lock (a task finding the mutex held leaves
//!   the runnable set until the release hands it the lock) and the yield.
//! - **Threads** (`threads-2x10`): the program on `corosensei` coroutines,
//!   with a round's three points (lock, unlock, yield). A thread that is
//!   chosen again goes on in place; another is resumed from the loop, as
//!   racecheck's steps in place do.
//!
//! ```text
//! workload=threads-2x10 floor_execs_per_s=N racecheck_execs_per_s=M shuttle_execs_per_s=S floor_ratio=F racecheck_ratio=R racecheck_of_floor=Q
//! ```
//!
//! where the ratios are over shuttle and `racecheck_of_floor` is racecheck's
//! speed over the floor's. Run it with
//! `cargo run --release -p racecheck-bench --example floor`
//! (`-- threads-2x10 30000` for one workload and an iteration count).

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use racecheck::sched::{RandomScheduler, Scheduler};
use racecheck::TaskId;
use racecheck_bench::{
    measure_racecheck, measure_racecheck_threads, measure_shuttle, measure_shuttle_threads,
    warmup_iterations, Counter, Detection, PendingOnce, Throughput, Workload, ROUNDS, SEED,
};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// What the tasks (or threads) and the loop share in one execution.
struct World {
    /// racecheck's random strategy, which the floor asks as its loop does.
    scheduler: RandomScheduler,
    /// The tasks that can run, in spawn order.
    runnable: Vec<TaskId>,
    /// The task holding the mutex.
    holder: Option<usize>,
    /// Tasks blocked on the mutex, in arrival order.
    waiters: Vec<usize>,
    counter: u64,
}

impl World {
    /// A world for a measurement, shared by the loop and the tasks.
    fn shared() -> Rc<RefCell<World>> {
        Rc::new(RefCell::new(World {
            scheduler: RandomScheduler::new(SEED),
            runnable: Vec::new(),
            holder: None,
            waiters: Vec::new(),
            counter: 0,
        }))
    }

    /// Frees the mutex and makes its first waiter runnable again: the
    /// waiter, if there was one.
    fn release(&mut self) -> Option<usize> {
        self.holder = None;
        if self.waiters.is_empty() {
            return None;
        }
        let waiter = self.waiters.remove(0);
        self.unblock(waiter);
        Some(waiter)
    }

    /// Starts execution `iteration` of a program with `tasks` tasks.
    fn reset(&mut self, iteration: u64, tasks: usize) {
        self.scheduler.new_execution(iteration);
        self.runnable.clear();
        self.runnable.extend((0..tasks).map(task_id));
        self.holder = None;
        self.waiters.clear();
        self.counter = 0;
    }

    /// A runnable task, chosen by the strategy.
    fn choose(&mut self) -> usize {
        let chosen = self.scheduler.next_task(&self.runnable, None);
        chosen
            .expect("the random strategy chooses a runnable task")
            .index()
    }

    /// Takes `task` out of the runnable set: it blocked or finished.
    fn block(&mut self, task: usize) {
        let position = self.runnable.binary_search(&task_id(task));
        self.runnable
            .remove(position.expect("a running task is runnable"));
    }

    /// Puts `task` back in the runnable set, in order.
    fn unblock(&mut self, task: usize) {
        let at = self.runnable.partition_point(|&t| t < task_id(task));
        self.runnable.insert(at, task_id(task));
    }
}

/// The id of task (or thread) `task`: its index.
fn task_id(task: usize) -> TaskId {
    TaskId(u32::try_from(task).expect("a workload's tasks fit in a u32"))
}

type Thread = Coroutine<(), usize, (), DefaultStack>;

/// A scheduling point of `me`: goes on in place if chosen again, else
/// suspends with the chosen thread for the loop to resume. A thread that
/// is not runnable (blocked) always suspends.
fn point(world: &RefCell<World>, yielder: &Yielder<(), usize>, me: usize) {
    let next = {
        let mut world = world.borrow_mut();
        if world.runnable.is_empty() {
            usize::MAX
        } else {
            world.choose()
        }
    };
    if next != me {
        yielder.suspend(next);
    }
}

/// Task `me` taking the mutex: at once if it is free, else it leaves the
/// runnable set and waits until a release hands the mutex to it.
struct Acquire<'a> {
    world: &'a RefCell<World>,
    me: usize,
}

impl Future for Acquire<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let mut world = self.world.borrow_mut();
        match world.holder {
            None => {
                world.holder = Some(self.me);
                Poll::Ready(())
            }
            Some(holder) if holder == self.me => Poll::Ready(()),
            Some(_) => {
                world.waiters.push(self.me);
                world.block(self.me);
                Poll::Pending
            }
        }
    }
}

/// Explores the task T×K program `iterations` times from [`SEED`] on a
/// bare loop of boxed futures. Out of line, so that callgrind can count it
/// apart (`--toggle-collect`).
#[inline(never)]
fn measure_task_floor(workload: Workload, iterations: u64) -> Throughput {
    let (tasks, rounds) = (workload.tasks as usize, workload.rounds_per_task);
    let world = World::shared();
    let mut context = Context::from_waker(Waker::noop());
    let start = Instant::now();
    for iteration in 0..iterations {
        world.borrow_mut().reset(iteration, tasks);
        let mut futures: Vec<Option<Pin<Box<dyn Future<Output = ()>>>>> = (0..tasks)
            .map(|me| {
                let world = Rc::clone(&world);
                let future: Pin<Box<dyn Future<Output = ()>>> = Box::pin(async move {
                    for _ in 0..rounds {
                        PendingOnce::new().await;
                        Acquire { world: &world, me }.await;
                        {
                            let mut state = world.borrow_mut();
                            state.counter += 1;
                            // The release hands the mutex to the first waiter.
                            state.holder = state.release();
                        }
                        PendingOnce::new().await;
                    }
                });
                Some(future)
            })
            .collect();
        loop {
            let next = {
                let mut state = world.borrow_mut();
                if state.runnable.is_empty() {
                    break;
                }
                state.choose()
            };
            let future = futures[next].as_mut().expect("a runnable task is alive");
            if future.as_mut().poll(&mut context).is_ready() {
                futures[next] = None;
                world.borrow_mut().block(next);
            }
        }
        assert!(
            futures.iter().all(Option::is_none),
            "the floor's program deadlocked"
        );
        assert_eq!(world.borrow().counter, workload.tasks * rounds);
    }
    Throughput {
        executions: iterations,
        elapsed: start.elapsed(),
    }
}

/// Explores the thread T×K program `iterations` times from [`SEED`]. Out of line,
/// so that callgrind can count it apart (`--toggle-collect`).
#[inline(never)]
fn measure_thread_floor(
    workload: Workload,
    iterations: u64,
    stacks: &mut Vec<DefaultStack>,
) -> Throughput {
    let (threads, rounds) = (workload.tasks as usize, workload.rounds_per_task);
    let world = World::shared();
    let start = Instant::now();
    for iteration in 0..iterations {
        world.borrow_mut().reset(iteration, threads);
        let mut coroutines: Vec<Option<Thread>> = (0..threads)
            .map(|me| {
                let world = Rc::clone(&world);
                let stack = stacks
                    .pop()
                    .unwrap_or_else(|| DefaultStack::new(256 * 1024).expect("a stack"));
                Some(Coroutine::with_stack(
                    stack,
                    move |yielder: &Yielder<(), usize>, ()| {
                        for _ in 0..rounds {
                            point(&world, yielder, me);
                            loop {
                                let mut state = world.borrow_mut();
                                if state.holder.is_none() {
                                    state.holder = Some(me);
                                    break;
                                }
                                state.waiters.push(me);
                                state.block(me);
                                drop(state);
                                point(&world, yielder, me);
                            }
                            world.borrow_mut().counter += 1;
                            point(&world, yielder, me);
                            // The waiter tries again when it runs.
                            world.borrow_mut().release();
                            point(&world, yielder, me);
                        }
                    },
                ))
            })
            .collect();
        let mut next = world.borrow_mut().choose();
        loop {
            let coroutine = coroutines[next].as_mut().expect("a chosen thread is alive");
            match coroutine.resume(()) {
                CoroutineResult::Yield(chosen) => next = chosen,
                CoroutineResult::Return(()) => {
                    let finished = coroutines[next].take().expect("it just returned");
                    stacks.push(finished.into_stack());
                    let mut state = world.borrow_mut();
                    state.block(next);
                    if state.runnable.is_empty() {
                        break;
                    }
                    next = state.choose();
                }
            }
            if next == usize::MAX {
                panic!("the floor's program deadlocked");
            }
        }
        assert_eq!(world.borrow().counter, workload.tasks * rounds);
    }
    Throughput {
        executions: iterations,
        elapsed: start.elapsed(),
    }
}

/// One measured workload: the task program or the thread program.
#[derive(Clone, Copy)]
struct Spec {
    workload: Workload,
    threads: bool,
    iterations: u64,
}

impl Spec {
    /// Parses `2x10` or `threads-2x10`, with an iteration count.
    fn parse(name: &str, iterations: &str) -> Spec {
        let (threads, workload) = match name.strip_prefix("threads-") {
            Some(workload) => (true, workload),
            None => (false, name),
        };
        Spec {
            workload: workload
                .parse()
                .expect("a workload such as 2x10 or threads-2x10"),
            threads,
            iterations: iterations.parse().expect("an iteration count"),
        }
    }

    /// The floor's, racecheck's and shuttle's throughput, each the best of
    /// [`ROUNDS`] rounds after a warm-up of [`warmup_iterations`].
    fn measure(self, stacks: &mut Vec<DefaultStack>) -> [Throughput; 3] {
        let Spec {
            workload,
            threads,
            iterations,
        } = self;
        let best = |measure: &mut dyn FnMut(u64) -> Throughput| {
            measure(warmup_iterations(iterations));
            (0..ROUNDS)
                .map(|_| measure(iterations))
                .min_by_key(|throughput| throughput.elapsed)
                .expect("three rounds")
        };
        let passes = "the program passes";
        if threads {
            [
                best(&mut |n| measure_thread_floor(workload, n, stacks)),
                best(&mut |n| measure_racecheck_threads(workload, n).expect(passes)),
                best(&mut |n| measure_shuttle_threads(workload, n).expect(passes)),
            ]
        } else {
            [
                best(&mut |n| measure_task_floor(workload, n)),
                best(&mut |n| {
                    measure_racecheck(workload, n, Detection::On, Counter::InMutex).expect(passes)
                }),
                best(&mut |n| measure_shuttle(workload, n).expect(passes)),
            ]
        }
    }
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let specs: Vec<Spec> = match arguments.as_slice() {
        [workload, iterations] => vec![Spec::parse(workload, iterations)],
        [] => ["2x1:100000", "2x10:30000", "4x10:15000", "8x10:7500"]
            .iter()
            .flat_map(|spec| {
                let (workload, iterations) = spec.split_once(':').expect("workload:iterations");
                [
                    Spec::parse(workload, iterations),
                    Spec::parse(&format!("threads-{workload}"), iterations),
                ]
            })
            .collect(),
        _ => panic!("usage: floor [TxK|threads-TxK ITERATIONS]"),
    };
    let mut stacks = Vec::new();
    for spec in specs {
        let [floor, racecheck, shuttle] = spec
            .measure(&mut stacks)
            .map(Throughput::executions_per_second);
        let name = if spec.threads { "threads-" } else { "" };
        println!(
            "workload={name}{} floor_execs_per_s={floor:.0} racecheck_execs_per_s={racecheck:.0} shuttle_execs_per_s={shuttle:.0} floor_ratio={:.1} racecheck_ratio={:.1} racecheck_of_floor={:.2}",
            spec.workload,
            floor / shuttle,
            racecheck / shuttle,
            racecheck / floor,
        );
    }
}
