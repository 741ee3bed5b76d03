//! The floor under `vs_shuttle`'s `threads-` workloads: what a scheduling
//! step of stackful threads costs with nothing but the switch and the
//! random choice, against racecheck and shuttle in the same run.
//!
//! The floor explores the threads-T×K program (T threads, each K times:
//! a scheduling point and the lock, a scheduling point and the unlock, a
//! scheduling point for the yield) on `corosensei` coroutines, with
//! racecheck's random strategy itself (`RandomScheduler`: a ChaCha8
//! stream per execution, a multiply-shift over the runnable threads),
//! called directly rather than through the step loop. A thread that is
//! chosen again goes on in place; another is resumed from the loop, as
//! racecheck's steps in place do. It records nothing, checks nothing and
//! has no wakers: what is left of a step when every feature is taken away.
//!
//! ```text
//! workload=threads-2x10 floor_execs_per_s=N racecheck_execs_per_s=M shuttle_execs_per_s=S floor_ratio=F racecheck_ratio=R
//! ```
//!
//! where the ratios are over shuttle. Run it with
//! `cargo run --release -p racecheck-bench --example thread_floor`
//! (`-- 2x10 30000` for one workload and an iteration count).

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use racecheck::sched::{RandomScheduler, Scheduler};
use racecheck::TaskId;
use racecheck_bench::{
    measure_racecheck_threads, measure_shuttle_threads, Throughput, Workload, SEED,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

/// What the threads and the loop share in one execution.
struct World {
    /// racecheck's random strategy, which the floor asks as its loop does.
    scheduler: RandomScheduler,
    /// The threads that can run, in spawn order.
    runnable: Vec<TaskId>,
    /// The thread holding the mutex.
    holder: Option<usize>,
    /// Threads blocked on the mutex, in arrival order.
    waiters: Vec<usize>,
    counter: u64,
}

impl World {
    /// A runnable thread, chosen by the strategy.
    fn choose(&mut self) -> usize {
        let chosen = self.scheduler.next_task(&self.runnable, None);
        chosen
            .expect("the random strategy chooses a runnable task")
            .index()
    }

    fn block(&mut self, thread: usize) {
        let position = self.runnable.binary_search(&thread_id(thread));
        self.runnable
            .remove(position.expect("a running thread is runnable"));
    }

    fn unblock(&mut self, thread: usize) {
        let at = self.runnable.partition_point(|&t| t < thread_id(thread));
        self.runnable.insert(at, thread_id(thread));
    }
}

/// The id of thread `thread`: its index.
fn thread_id(thread: usize) -> TaskId {
    TaskId(u32::try_from(thread).expect("a workload's threads fit in a u32"))
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

/// Explores the T×K program `iterations` times from [`SEED`]. Out of line,
/// so that callgrind can count it apart (`--toggle-collect`).
#[inline(never)]
fn measure_floor(
    workload: Workload,
    iterations: u64,
    stacks: &mut Vec<DefaultStack>,
) -> Throughput {
    let (threads, rounds) = (workload.tasks as usize, workload.rounds_per_task);
    let world = Rc::new(RefCell::new(World {
        scheduler: RandomScheduler::new(SEED),
        runnable: Vec::new(),
        holder: None,
        waiters: Vec::new(),
        counter: 0,
    }));
    let start = Instant::now();
    for iteration in 0..iterations {
        {
            let mut state = world.borrow_mut();
            state.scheduler.new_execution(iteration);
            state.runnable = (0..threads).map(thread_id).collect();
            state.counter = 0;
        }
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
                            {
                                let mut state = world.borrow_mut();
                                state.holder = None;
                                if !state.waiters.is_empty() {
                                    let waiter = state.waiters.remove(0);
                                    state.unblock(waiter);
                                }
                            }
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

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let workloads: Vec<(Workload, u64)> = match arguments.as_slice() {
        [workload, iterations] => vec![(
            workload.parse().expect("a workload such as 2x10"),
            iterations.parse().expect("an iteration count"),
        )],
        [] => ["2x1:100000", "2x10:30000", "4x10:15000", "8x10:7500"]
            .iter()
            .map(|spec| {
                let (workload, iterations) = spec.split_once(':').expect("workload:iterations");
                (
                    workload.parse().expect("a workload"),
                    iterations.parse().expect("a count"),
                )
            })
            .collect(),
        _ => panic!("usage: thread_floor [TxK ITERATIONS]"),
    };
    let mut stacks = Vec::new();
    for (workload, iterations) in workloads {
        let best = |measure: &mut dyn FnMut(u64) -> Throughput| {
            measure(iterations / 10);
            (0..3)
                .map(|_| measure(iterations))
                .min_by_key(|throughput| throughput.elapsed)
                .expect("three rounds")
        };
        let floor = best(&mut |n| measure_floor(workload, n, &mut stacks));
        let racecheck =
            best(&mut |n| measure_racecheck_threads(workload, n).expect("racecheck passes"));
        let shuttle = best(&mut |n| measure_shuttle_threads(workload, n).expect("shuttle passes"));
        let per_second = Throughput::executions_per_second;
        println!(
            "workload=threads-{workload} floor_execs_per_s={:.0} racecheck_execs_per_s={:.0} shuttle_execs_per_s={:.0} floor_ratio={:.1} racecheck_ratio={:.1}",
            per_second(floor),
            per_second(racecheck),
            per_second(shuttle),
            per_second(floor) / per_second(shuttle),
            per_second(racecheck) / per_second(shuttle),
        );
    }
}
