//! One execution: poll the chosen task, one step at a time, until the root
//! task and everything it left runnable are done, or something fails.

use crate::execution::{
    self, BlockReason, Choice, Execution, Passed, TaskBody, TaskFuture, TaskState, WakerPool,
    TASKS_MAX,
};
use crate::panic;
use crate::stackful::{Lent, StepInPlace};
use crate::thread::MainThread;
use crate::{Granularity, RuntimeFailure, Scheduler, Shutdown};
use racecheck_trace::{
    Endpoint, ExecutionEnd, Location, Need, Op, Schedule, TaskId, Trace, WaitTarget,
};
use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Waker};

/// Runs executions, one at a time, on the current thread.
///
/// It keeps what is worth keeping across executions: the task futures of
/// the current one (outside the shared state, so polling them needs no
/// borrow), the pool of wakers, and the last execution's trace and
/// schedule, whose allocations the next execution reuses.
///
/// ```
/// use racecheck_runtime::{spawn, Executor, Limits, Scheduler};
/// use racecheck_trace::TaskId;
///
/// /// Always runs the runnable task with the highest id.
/// struct Newest;
/// impl Scheduler for Newest {
///     fn new_execution(&mut self, _: u64) -> bool { true }
///     fn next_task(&mut self, runnable: &[TaskId], _: Option<TaskId>) -> Option<TaskId> {
///         runnable.last().copied()
///     }
/// }
/// let mut executor = Executor::new(Limits::default());
/// let outcome = executor.run(&|| async { spawn(async {}).await }, &mut Newest);
/// assert!(outcome.failure.is_none() && outcome.end.root_finished);
/// assert_eq!(outcome.trace.tasks.len(), 2);
/// assert_eq!(outcome.schedule.len(), outcome.steps as usize);
/// ```
pub struct Executor {
    limits: Limits,
    futures: Vec<Option<TaskFuture>>,
    wakers: WakerPool,
    trace: Trace,
    schedule: Schedule,
}

/// What one execution did: how it ended, everything it recorded, and the
/// choices that reproduce it.
#[derive(Debug)]
pub struct ExecutionOutcome<'a> {
    /// The runtime's own failure (a panic, the step limit, a schedule that
    /// does not fit), if any.
    pub failure: Option<RuntimeFailure>,
    /// The tasks left blocked, and whether the root finished.
    pub end: ExecutionEnd,
    /// Steps taken.
    pub steps: u32,
    /// Every visible operation, in order.
    pub trace: &'a Trace,
    /// The scheduling choices: replaying them reproduces the execution.
    pub schedule: &'a Schedule,
}

impl Executor {
    /// An executor whose executions run within `limits`.
    pub fn new(limits: Limits) -> Executor {
        Executor {
            limits,
            futures: Vec::new(),
            wakers: WakerPool::default(),
            trace: Trace::default(),
            schedule: Schedule::default(),
        }
    }

    /// The trace of the last execution run (empty before the first).
    pub fn last_trace(&self) -> &Trace {
        &self.trace
    }

    /// The schedule of the last execution run (empty before the first).
    pub fn last_schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The limits of this executor's executions.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Runs the execution whose root future `make_root` creates, under
    /// `scheduler`, and returns what it did.
    ///
    /// Every way out, a panic of the strategy or of racecheck itself
    /// included, ends the execution and drops what it left, so the thread
    /// is ready for the next one; such a panic is then raised again with
    /// its message.
    pub fn run<F, Fut, S>(&mut self, make_root: &F, scheduler: &mut S) -> ExecutionOutcome<'_>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + 'static,
        S: Scheduler + ?Sized,
    {
        let limits = self.limits;
        crate::stackful::set_stack_size(limits.stack_size);
        let execution_id = execution::with(|execution| {
            execution.begin(
                limits.granularity,
                limits.shutdown,
                limits.spurious_wakeups,
                limits.instant_section,
                limits.allow_untracked_objects,
            );
            execution.step_cold_at = limits.steps_max;
            execution.id
        });
        self.wakers.begin(execution_id);
        // The flag is taken after every poll; clear what an earlier,
        // aborted execution may have left.
        execution::take_yielded();
        let silence = panic::Silenced::begin();
        let Executor {
            futures,
            wakers,
            trace,
            schedule,
            ..
        } = self;
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut running = Running {
                futures,
                ended: false,
            };
            let failure = start(make_root, running.futures, wakers, scheduler, limits);
            let ((end, steps), endpoints) = running.end(|execution| {
                // The recording leaves the state; the state gets the last
                // execution's buffers to clear and fill next time.
                std::mem::swap(&mut execution.trace, trace);
                std::mem::swap(&mut execution.schedule, schedule);
                (end_of(execution, failure.is_some()), execution.step)
            });
            let end = ExecutionEnd { endpoints, ..end };
            (failure, end, steps)
        }));
        drop(silence);
        let (failure, end, steps) = ran.unwrap_or_else(|payload| panic::raise_again(payload));
        ExecutionOutcome {
            failure,
            end,
            steps,
            trace: &self.trace,
            schedule: &self.schedule,
        }
    }
}

/// The last execution's trace stays on the thread for the next
/// exploration, if it is larger than the one the thread keeps.
impl Drop for Executor {
    fn drop(&mut self) {
        execution::keep_larger_trace(&mut self.trace);
    }
}

/// Creates the root task and runs the execution's steps.
fn start<F, Fut, S>(
    make_root: &F,
    futures: &mut Vec<Option<TaskFuture>>,
    wakers: &mut WakerPool,
    scheduler: &mut S,
    limits: Limits,
) -> Option<RuntimeFailure>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
    S: Scheduler + ?Sized,
{
    let root = match std::panic::catch_unwind(AssertUnwindSafe(make_root)) {
        Ok(root) => root,
        Err(payload) => return Some(RuntimeFailure::from_panic(TaskId::ROOT, "main", payload)),
    };
    // A `thread::main` root already runs on its own stack.
    let root: TaskFuture = Box::pin(root);
    let root = if TypeId::of::<Fut>() == TypeId::of::<MainThread>() {
        TaskBody::Stackful(root)
    } else {
        TaskBody::Async(root)
    };
    execution::with(|execution| {
        execution.add_task(root, Cow::Borrowed("main"), Location::ROOT_TASK)
    });
    run_steps(futures, wakers, scheduler, limits.steps_max)
}

/// How the execution ended, for the detector: the tasks blocked (not
/// sleeping) at the end, with what they wait for, and whether any sleeps,
/// found in one pass.
fn end_of(execution: &Execution, failed: bool) -> ExecutionEnd {
    let mut blocked = Vec::new();
    let mut sleeping = false;
    for (index, slot) in execution.tasks.iter().enumerate() {
        if slot.state != TaskState::Blocked {
            continue;
        }
        let target = match slot.block_reason {
            BlockReason::Wait(target) => target,
            BlockReason::Unknown => WaitTarget::Untracked,
            BlockReason::Sleep => {
                sleeping = true;
                continue;
            }
        };
        blocked.push((TaskId(index as u32), target));
    }
    ExecutionEnd {
        blocked,
        root_finished: execution
            .tasks
            .first()
            .is_some_and(|root| root.state == TaskState::Finished),
        failed,
        sleeping,
        // Known once the teardown dropped the tasks left.
        endpoints: Vec::new(),
    }
}

fn run_steps<S: Scheduler + ?Sized>(
    futures: &mut Vec<Option<TaskFuture>>,
    wakers: &mut WakerPool,
    scheduler: &mut S,
    steps_max: u32,
) -> Option<RuntimeFailure> {
    let mut steps = Steps {
        scheduler,
        chosen: None,
        unusual: false,
        halt: None,
        panic: None,
    };
    // Lent to the tasks' own stacks while the loop runs: a stackful task
    // that the strategy chooses again goes on without a switch.
    let mut lent = Lent::new(&mut steps);
    // The hot path returns only the chosen task, which fits in a
    // register; anything else goes through `halt`.
    let mut halt = None;
    let mut next = execution::with(|execution| {
        adopt_spawned(execution, futures);
        choose(execution, lent.get().scheduler, steps_max, &mut halt)
    });
    loop {
        let Some(task) = next else {
            match halt.take() {
                Some(Halt::FireTimers(due)) => {
                    due.into_iter().for_each(Waker::wake);
                    next = execution::with(|execution| {
                        adopt_spawned(execution, futures);
                        choose(execution, lent.get().scheduler, steps_max, &mut halt)
                    });
                    continue;
                }
                Some(Halt::Fail(failure)) => return Some(*failure),
                Some(Halt::ShutDown) => {
                    // The tasks' destructors run now: no step in place.
                    drop(lent);
                    return shut_down(futures, steps.scheduler);
                }
                None => return None,
            }
        };
        let mut context = Context::from_waker(wakers.waker(task));
        execution::set_task_waker(context.waker());
        let future = futures[task.index()]
            .as_mut()
            .expect("racecheck internal error: a runnable task has no future");
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut context)));
        let passed = execution::take_passed();
        let finished = match outcome {
            Ok(poll) => poll.is_ready(),
            Err(payload) => {
                let name = execution::with(|execution| {
                    execution.step += 1;
                    execution.trace.task_label(task)
                });
                return Some(RuntimeFailure::from_panic(task, &name, payload));
            }
        };
        let lent_steps = lent.get();
        if passed == Passed::HandedOff {
            next = lent_steps.handed_off(futures, &mut halt);
            continue;
        }
        let yielded = passed == Passed::Point;
        if finished {
            // Dropped here, outside the borrow: a drop may run user code
            // that touches the runtime.
            futures[task.index()] = None;
        }
        // Filing this step and choosing the next take one borrow.
        next = execution::with(|execution| {
            file_step(execution, lent_steps.scheduler, task, finished, yielded);
            adopt_spawned(execution, futures);
            choose(execution, lent_steps.scheduler, steps_max, &mut halt)
        });
    }
}

/// The step loop's strategy, lent to the tasks' stacks (see
/// [`StepInPlace`]), with what a step in place leaves for the loop.
struct Steps<'a, S: ?Sized> {
    scheduler: &'a mut S,
    /// The task the strategy chose when a step ended on a task's stack
    /// ([`Passed::HandedOff`]), or `None` (why is in `halt` or `panic`).
    chosen: Option<TaskId>,
    /// Besides the choice, the loop has more to do: tasks were spawned
    /// (their futures join the loop's), or the strategy chose no task.
    unusual: bool,
    /// Why no task was chosen in place, as `choose_task` says.
    halt: Option<Halt>,
    /// The strategy panicked in place: the panic goes on to the caller,
    /// as from the loop.
    panic: Option<Box<dyn Any + Send>>,
}

impl<S: ?Sized> Steps<'_, S> {
    /// The next task after a step ended in place: the strategy's choice
    /// there, or `None` with why in `halt`.
    #[inline]
    fn handed_off(
        &mut self,
        futures: &mut Vec<Option<TaskFuture>>,
        halt: &mut Option<Halt>,
    ) -> Option<TaskId> {
        if self.unusual {
            return self.handed_off_unusually(futures, halt);
        }
        self.chosen
    }

    /// [`handed_off`](Self::handed_off) with more to do: adopts the tasks
    /// spawned, sets `halt`, raises the strategy's panic again.
    #[cold]
    #[inline(never)]
    fn handed_off_unusually(
        &mut self,
        futures: &mut Vec<Option<TaskFuture>>,
        halt: &mut Option<Halt>,
    ) -> Option<TaskId> {
        self.unusual = false;
        if let Some(payload) = self.panic.take() {
            std::panic::resume_unwind(payload);
        }
        *halt = self.halt.take();
        execution::with(|execution| adopt_spawned(execution, futures));
        self.chosen.take()
    }
}

impl<S: Scheduler + ?Sized> StepInPlace for Steps<'_, S> {
    /// A stackful task suspends at a scheduling point, still runnable:
    /// its step ends and the next task is chosen here, on its stack,
    /// exactly as the loop would after the poll (`after_poll`, the
    /// strategy's `observe_step`, `choose`), so schedules and traces are
    /// the same; only the switch back and forth is saved when the task is
    /// chosen again. Anything unusual (a task that blocks, the step limit
    /// near, a data choice or a shutdown to offer, an unwinding task) is
    /// left to the loop.
    fn step_in_place(&mut self) -> bool {
        let passed = execution::passed();
        if passed == Passed::HandedOff || std::thread::panicking() {
            return false;
        }
        let yielded = passed == Passed::Point;
        let Steps {
            scheduler,
            halt,
            unusual,
            ..
        } = self;
        let chosen = execution::with(|execution| {
            let task = execution.current?;
            let slot = &execution.tasks[task.index()];
            // Only a task's own stack, resumed by the loop, ends its step:
            // an async task polling a stackful future goes on polling
            // after it suspends.
            let runnable = slot.woken || yielded;
            if !slot.stackful || !runnable || execution.step + 1 >= execution.step_cold_at {
                return None;
            }
            execution::take_passed();
            Some(std::panic::catch_unwind(AssertUnwindSafe(|| {
                file_step(execution, &mut **scheduler, task, false, true);
                let chosen = choose_task(execution, &mut **scheduler, execution.current, halt);
                *unusual = chosen.is_none() || !execution.spawned.is_empty();
                (chosen == Some(task), chosen)
            })))
        });
        match chosen {
            None => false,
            Some(Ok((true, _))) => true,
            Some(Ok((false, chosen))) => {
                self.chosen = chosen;
                execution::hand_off();
                false
            }
            Some(Err(payload)) => {
                self.panic = Some(payload);
                self.unusual = true;
                execution::hand_off();
                false
            }
        }
    }
}

/// The execution under way. Ending it ([`Running::end`], or dropping it on
/// any other path out of [`Executor::run`]) ends the execution and drops
/// every task future outside the borrow, with recording off: drops release
/// locks and wake tasks, which is now moot.
struct Running<'a> {
    futures: &'a mut Vec<Option<TaskFuture>>,
    /// The state's execution has ended: the teardown is done or under way.
    ended: bool,
}

impl Running<'_> {
    /// Runs `last` on the execution's state, ends the execution in the same
    /// borrow and tears it down; returns what `last` returned, with the
    /// channel ends the teardown found (`ExecutionEnd::endpoints`).
    fn end<R>(&mut self, last: impl FnOnce(&mut Execution) -> R) -> (R, Vec<Endpoint>) {
        let unfinished = self.futures.iter().any(Option::is_some);
        let (last, left) = execution::with(|execution| {
            let last = last(execution);
            execution.end();
            // Usually every task finished and was joined, and no timer is
            // pending: nothing to drop, and the teardown ends here.
            if !unfinished && execution.leaves_nothing_to_drop() {
                execution.tearing_down = false;
                return (last, None);
            }
            (last, Some(execution.take_left()))
        });
        self.ended = true;
        let Some((never_taken, timer_wakers)) = left else {
            self.futures.clear();
            return (last, Vec::new());
        };
        crate::stackful::ending(true);
        timer_wakers.into_iter().for_each(drop_quietly);
        never_taken.into_iter().flatten().for_each(drop_quietly);
        if unfinished {
            let left = self.futures.drain(..).enumerate();
            let left = left.filter_map(|(index, future)| Some((index, future?)));
            // Each task's channel ends are noted as its own as they drop.
            let ending = |index: usize| {
                execution::with(|execution| execution.ending_task = Some(TaskId(index as u32)));
            };
            if let Some((_, payload)) = end_tasks(left.collect(), ending) {
                drop_quietly(payload);
            }
            execution::with(|execution| execution.ending_task = None);
        }
        self.futures.clear();
        let mut index = 0;
        while let Some((task, output)) = execution::with(|execution| execution.take_output(index)) {
            drop_quietly(output);
            index = task + 1;
        }
        // Destructors may spawn tasks, whose destructors may spawn again:
        // they never run, and are dropped in rounds, up to the task limit;
        // an endless chain beyond it is leaked rather than followed.
        let mut dropped = 0;
        loop {
            let abandoned = execution::with(|execution| {
                if execution.abandoned.is_empty() {
                    // Done: keep the allocation for the next execution.
                    execution.tearing_down = false;
                    return Vec::new();
                }
                std::mem::take(&mut execution.abandoned)
            });
            if abandoned.is_empty() {
                break;
            }
            dropped += abandoned.len();
            if dropped > TASKS_MAX {
                std::mem::forget(abandoned);
                execution::with(|execution| execution.tearing_down = false);
                break;
            }
            abandoned.into_iter().for_each(drop_quietly);
        }
        crate::stackful::ending(false);
        let endpoints = execution::with(|execution| std::mem::take(&mut execution.endpoints));
        (last, endpoints)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.end(|_| ());
        }
    }
}

/// Rounds of unwinding stackful tasks before those left are taken as blocked
/// for good (a destructor that yields forever).
const END_ROUNDS_MAX: usize = 10_000;

/// Ends the tasks an execution leaves unfinished, given as `(index,
/// future)`, at the runtime's shutdown or the teardown. Plain futures are
/// dropped first (which may release what a thread's destructors wait for),
/// then stackful tasks are unwound in rounds (see `stackful::ending`, which
/// the caller sets):
/// one whose destructor blocks waits for the next round, after the others
/// ended. Those still blocked after a round in which none ended or passed a
/// scheduling point are blocked for good, and are leaked as they are:
/// unwinding them further would make their destructors panic while
/// unwinding, which aborts the process. `enter` runs
/// before each task's destructors. Returns the first panic of a
/// destructor, with its task's index.
fn end_tasks(
    tasks: Vec<(usize, TaskFuture)>,
    mut enter: impl FnMut(usize),
) -> Option<(usize, Box<dyn Any + Send>)> {
    let mut first_panic = None;
    let mut note = |index: usize, payload: Box<dyn Any + Send>| match first_panic {
        None => first_panic = Some((index, payload)),
        Some(_) => drop_quietly(payload),
    };
    let (mut pending, plain): (Vec<_>, Vec<_>) = execution::with(|execution| {
        (tasks.into_iter()).partition(|(index, _)| execution.tasks[*index].stackful)
    });
    for (index, future) in plain {
        enter(index);
        if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(move || drop(future))) {
            note(index, payload);
        }
    }
    let mut rounds = 0;
    while !pending.is_empty() {
        rounds += 1;
        let before = pending.len();
        let mut blocked = Vec::new();
        // A task that passed a scheduling point is not blocked.
        let mut moved = false;
        for (index, mut future) in pending {
            enter(index);
            let mut context = Context::from_waker(Waker::noop());
            let ended = std::panic::catch_unwind(AssertUnwindSafe(|| {
                future.as_mut().poll(&mut context).is_ready()
            }));
            moved |= execution::take_yielded();
            match ended {
                Ok(false) => blocked.push((index, future)),
                Ok(true) => drop_quietly(future),
                Err(payload) if crate::stackful::is_cancellation(payload.as_ref()) => {
                    drop_quietly(future);
                }
                Err(payload) => {
                    note(index, payload);
                    drop_quietly(future);
                }
            }
        }
        if (blocked.len() == before && !moved) || rounds == END_ROUNDS_MAX {
            blocked.into_iter().for_each(std::mem::forget);
            break;
        }
        pending = blocked;
    }
    first_panic
}

/// Drops a value of the program's. A panicking destructor must not take the
/// exploration down with it; the execution is already decided.
fn drop_quietly<T>(value: T) {
    let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// What bounds one execution, and where its tasks may be interrupted.
///
/// ```
/// use racecheck_runtime::{Granularity, Limits};
/// let limits = Limits { granularity: Granularity::Step, ..Limits::default() };
/// assert_eq!(limits.steps_max, Limits::STEPS_MAX_DEFAULT);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Steps after which the execution fails as a livelock.
    pub steps_max: u32,
    /// Where tasks switch.
    pub granularity: Granularity,
    /// The stack size of stackful tasks, in bytes.
    pub stack_size: usize,
    /// What happens to the tasks left when the root returns.
    pub shutdown: Shutdown,
    /// Whether a task that returned `Pending` may be polled once more
    /// before anything wakes it: a spurious wake-up, one more choice for
    /// the strategy after every block (off by default).
    pub spurious_wakeups: bool,
    /// A what-if: the sleeps a task makes while it holds a lock or permits
    /// it took at this site end at once, as if that critical section took
    /// no virtual time. Each still records its `Sleep` (until the current
    /// time) and is a scheduling point, as `sleep(0)` is; a `timeout`'s
    /// deadline keeps its time. `None` (the default) changes nothing.
    pub instant_section: Option<Location>,
    /// Whether the execution may use primitives created outside any
    /// execution (a `static`, one built before `Runtime::block_on`): they
    /// work but are not recorded, so the detector does not see them. Off by
    /// default, where such a use panics with both places named: a primitive
    /// created outside the test's closure is usually a mistake.
    pub allow_untracked_objects: bool,
}

impl Limits {
    /// Default step limit per execution.
    pub const STEPS_MAX_DEFAULT: u32 = 100_000;
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            steps_max: Limits::STEPS_MAX_DEFAULT,
            granularity: Granularity::Await,
            stack_size: crate::STACK_SIZE_DEFAULT,
            shutdown: Shutdown::AfterLastTask,
            spurious_wakeups: false,
            instant_section: None,
            allow_untracked_objects: false,
        }
    }
}

/// Why no task was chosen.
enum Halt {
    /// No task can run until these timers' tasks are woken.
    FireTimers(Vec<Waker>),
    /// The execution failed.
    Fail(Box<RuntimeFailure>),
    /// The strategy chose to shut the runtime down.
    ShutDown,
}

/// Takes over the futures of tasks spawned since the last step.
#[inline]
fn adopt_spawned(execution: &mut Execution, futures: &mut Vec<Option<TaskFuture>>) {
    if !execution.spawned.is_empty() {
        futures.append(&mut execution.spawned);
    }
}

/// Picks the next task, or says why the execution cannot go on. The rare
/// outcomes live in cold functions, so this hot path stays small.
#[inline(always)]
fn choose<S: Scheduler + ?Sized>(
    execution: &mut Execution,
    scheduler: &mut S,
    steps_max: u32,
    halt: &mut Option<Halt>,
) -> Option<TaskId> {
    if execution.runnable.is_empty() || execution.step >= execution.step_cold_at {
        return choose_cold(execution, scheduler, steps_max, halt);
    }
    choose_task(execution, scheduler, execution.current, halt)
}

/// Chooses the next task when the execution cannot go on as usual: no task
/// can run, the step limit is reached, a task waits for a data choice, or
/// the runtime may shut down.
#[cold]
#[inline(never)]
fn choose_cold<S: Scheduler + ?Sized>(
    execution: &mut Execution,
    scheduler: &mut S,
    steps_max: u32,
    halt: &mut Option<Halt>,
) -> Option<TaskId> {
    if execution.runnable.is_empty() || execution.step >= steps_max {
        *halt = cannot_continue(execution, steps_max);
        return None;
    }
    let current = if execution.shutdown_offered {
        // The root has finished: what runs next is a free choice.
        execution.current.filter(|&task| task != TaskId::ROOT)
    } else {
        execution.current
    };
    let task = choose_task(execution, scheduler, current, halt)?;
    if let Err(failure) = make_choice(execution, scheduler, task) {
        *halt = Some(Halt::Fail(Box::new(failure)));
        return None;
    }
    execution.step_cold_at = if execution.choices_asked > 0 || execution.shutdown_offered {
        0
    } else {
        steps_max
    };
    Some(task)
}

/// Asks the scheduler for the next task, `current` having run the last
/// step, and marks it running.
#[inline(always)]
fn choose_task<S: Scheduler + ?Sized>(
    execution: &mut Execution,
    scheduler: &mut S,
    current: Option<TaskId>,
    halt: &mut Option<Halt>,
) -> Option<TaskId> {
    let chosen = scheduler.next_task(&execution.runnable, current);
    let slot = chosen
        .and_then(|task| execution.tasks.get_mut(task.index()))
        .filter(|slot| slot.state == TaskState::Runnable);
    let (Some(task), Some(slot)) = (chosen, slot) else {
        // A strategy that stops a redundant execution ends it quietly.
        *halt = (chosen.is_some() || !scheduler.redundant())
            .then(|| schedule_does_not_fit(execution, chosen, scheduler.diverged()));
        return None;
    };
    slot.state = TaskState::Running;
    slot.woken = false;
    slot.block_reason = BlockReason::Unknown;
    execution.source = slot.source;
    execution.schedule.push(task);
    execution.current = Some(task);
    execution.step_first_event = execution.trace.events.len();
    Some(task)
}

/// The scheduler makes the data choice `task` asked for, if it asked, before
/// it runs.
fn make_choice<S: Scheduler + ?Sized>(
    execution: &mut Execution,
    scheduler: &mut S,
    task: TaskId,
) -> Result<(), RuntimeFailure> {
    let slot = &mut execution.tasks[task.index()];
    let Choice::Asked(options) = slot.choice else {
        return Ok(());
    };
    match scheduler.choose(options) {
        Some(value) if value < options => {
            slot.choice = Choice::Made(value);
            execution.choices_asked -= 1;
            execution.schedule.push_choice(value);
            Ok(())
        }
        None if scheduler.diverged() => Err(RuntimeFailure::Nondeterministic {
            step: execution.step,
            runnable: execution.runnable.clone(),
        }),
        chosen => Err(RuntimeFailure::ChoiceMismatch {
            step: execution.step,
            options,
            chosen,
        }),
    }
}

/// No task is runnable, or the step limit is reached. `None`: the
/// execution is over (finished, or stuck with tasks blocked for good).
#[cold]
#[inline(never)]
fn cannot_continue(execution: &mut Execution, steps_max: u32) -> Option<Halt> {
    if !execution.runnable.is_empty() {
        return Some(Halt::Fail(Box::new(RuntimeFailure::StepLimit {
            steps_max,
        })));
    }
    if execution.tasks[TaskId::ROOT.index()].state == TaskState::Finished {
        return None;
    }
    let due = execution.fire_next_timers();
    if due.is_empty() {
        // Stuck: the detector explains it from the blocked tasks.
        return None;
    }
    Some(Halt::FireTimers(due))
}

/// The scheduler chose no task (having found the program not
/// deterministic, or at the end of a replayed schedule), or one that
/// cannot run, or the finished root: shut down.
#[cold]
#[inline(never)]
fn schedule_does_not_fit(
    execution: &mut Execution,
    chosen: Option<TaskId>,
    diverged: bool,
) -> Halt {
    if execution.shutdown_offered && chosen == Some(TaskId::ROOT) {
        execution.schedule.push(TaskId::ROOT);
        return Halt::ShutDown;
    }
    let step = execution.step;
    let runnable = execution.runnable.clone();
    let failure = match chosen {
        None if diverged => RuntimeFailure::Nondeterministic { step, runnable },
        None => RuntimeFailure::ScheduleEnded { step, runnable },
        Some(chosen) => RuntimeFailure::ScheduleMismatch {
            step,
            chosen,
            runnable,
        },
    };
    Halt::Fail(Box::new(failure))
}

/// Ends the step `task` just ran, in the loop or in place: files its new
/// state and shows the strategy the step's events.
#[inline(always)]
fn file_step<S: Scheduler + ?Sized>(
    execution: &mut Execution,
    scheduler: &mut S,
    task: TaskId,
    finished: bool,
    yielded: bool,
) {
    after_poll(execution, task, finished, yielded);
    // Not indexed: a strategy that ignores the events (most do) costs no
    // bounds check.
    let events = execution.trace.events.get(execution.step_first_event..);
    scheduler.observe_step(task, events.unwrap_or_default());
    execution.step += 1;
}

/// Files the task's new state after a poll.
#[inline]
fn after_poll(execution: &mut Execution, task: TaskId, finished: bool, yielded: bool) {
    let slot = &mut execution.tasks[task.index()];
    if !finished && (slot.woken || yielded) {
        slot.state = TaskState::Runnable;
        slot.spurious = false;
        return;
    }
    leave_runnable(execution, task, finished);
}

/// The task finished or blocked: it leaves the runnable set.
#[cold]
#[inline(never)]
fn leave_runnable(execution: &mut Execution, task: TaskId, finished: bool) {
    let slot = &mut execution.tasks[task.index()];
    if finished {
        slot.state = TaskState::Finished;
        let location = last_location(execution, task);
        execution.record(Op::Finish, location);
    } else {
        let spurious_next = execution.spurious_wakeups && !slot.spurious;
        // After a genuine poll, the task may be polled once more before it
        // is woken; after that spurious one, it blocks for real.
        slot.spurious = spurious_next;
        slot.state = if spurious_next {
            TaskState::Runnable
        } else {
            TaskState::Blocked
        };
        if slot.block_reason == BlockReason::Unknown {
            let on = WaitTarget::Untracked;
            slot.block_reason = BlockReason::Wait(on);
            let need = Need::Unstated;
            let location = last_location(execution, task);
            execution.record(Op::Block { on, need }, location);
        }
        if spurious_next {
            return;
        }
    }
    let others = execution.runnable.len() > 1;
    if finished && task == TaskId::ROOT && others && execution.shutdown == Shutdown::Explored {
        // The root's id stays runnable: choosing it shuts the runtime down.
        // The choice takes the executor's cold path.
        execution.shutdown_offered = true;
        execution.step_cold_at = 0;
        return;
    }
    execution.remove_runnable(task);
    if execution.shutdown_offered && execution.runnable == [TaskId::ROOT] {
        // Nothing else can run: the execution ends as it would anyway.
        execution.runnable.clear();
        execution.shutdown_offered = false;
    }
}

/// The runtime shuts down at this step, as the strategy chose: every
/// unfinished task is dropped, in id order, with its destructors' events
/// recorded as its own, all in this last step. The first destructor that
/// panics fails the execution.
#[cold]
#[inline(never)]
fn shut_down<S: Scheduler + ?Sized>(
    futures: &mut [Option<TaskFuture>],
    scheduler: &mut S,
) -> Option<RuntimeFailure> {
    execution::with(|execution| {
        execution.tearing_down = true;
        execution.step_first_event = execution.trace.events.len();
    });
    let left = futures.iter_mut().enumerate().skip(1);
    let left = left.filter_map(|(index, future)| Some((index, future.take()?)));
    crate::stackful::ending(true);
    let panicked = end_tasks(left.collect(), |index| {
        execution::with(|execution| {
            execution.current = Some(TaskId(index as u32));
            execution.source = execution.tasks[index].source;
            execution.tasks[index].state = TaskState::Dropped;
        });
    });
    crate::stackful::ending(false);
    let failure = panicked.map(|(index, payload)| {
        let task = TaskId(index as u32);
        let name = execution::with(|execution| execution.trace.task_label(task));
        let name = format!("{name}, dropped when the runtime shut down");
        RuntimeFailure::from_panic(task, &name, payload)
    });
    execution::with(|execution| {
        let events = &execution.trace.events[execution.step_first_event..];
        scheduler.observe_step(TaskId::ROOT, events);
        execution.step += 1;
        execution.current = None;
        execution.runnable.clear();
        execution.shutdown_offered = false;
    });
    failure
}

/// Where `task` is, for the events the runtime records on its behalf (its
/// finish, a block on a foreign future): where it was spawned, or for the
/// root, which user code did not spawn, where it last did something
/// visible.
fn last_location(execution: &Execution, task: TaskId) -> Location {
    if task != TaskId::ROOT {
        return execution.trace.tasks[task.index()].spawned_at;
    }
    let events = &execution.trace.events;
    events
        .iter()
        .rev()
        .find(|event| event.task == task)
        .map_or(Location::ROOT_TASK, |event| event.location)
}

/// The schedule of a plain single-threaded executor: the task that ran last
/// goes on while it can, otherwise the runnable task with the lowest id.
/// One execution, no choices; [`run_once`] uses it.
struct Cooperative;

impl Scheduler for Cooperative {
    fn new_execution(&mut self, iteration: u64) -> bool {
        iteration == 0
    }

    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
        current
            .filter(|task| runnable.contains(task))
            .or_else(|| runnable.first().copied())
    }
}

/// Runs the future `make_root` creates once, on a cooperative schedule (the
/// running task goes on while it can, else the lowest id), within the
/// default [`Limits`]: a simulated program run once, without exploring.
///
/// # Panics
/// If the execution fails (a task panics, the step limit) or the root
/// future never finishes (every task blocked), with what went wrong.
///
/// ```
/// racecheck_runtime::run_once(|| async {
///     let answer = racecheck_runtime::spawn(async { 6 * 7 }).await;
///     assert_eq!(answer, 42);
/// });
/// let stuck = std::panic::catch_unwind(|| {
///     racecheck_runtime::run_once(|| std::future::pending::<()>())
/// });
/// assert!(stuck.is_err());
/// ```
pub fn run_once<F, Fut>(make_root: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let mut executor = Executor::new(Limits::default());
    let outcome = executor.run(&make_root, &mut Cooperative);
    if let Some(failure) = outcome.failure {
        panic!("racecheck: the execution failed: {failure:?}");
    }
    assert!(
        outcome.end.root_finished,
        "racecheck: the root future never finished; blocked: {:?}",
        outcome.end.blocked
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn;

    /// Runs `tasks` tasks that yield once each, on a new executor, and
    /// returns the trace's length and the room it had.
    fn run_tasks(tasks: u32) -> (usize, usize) {
        let mut executor = Executor::new(Limits::default());
        let outcome = executor.run(
            &|| async move {
                for _ in 0..tasks {
                    spawn(crate::yield_now());
                }
            },
            &mut Cooperative,
        );
        assert!(outcome.failure.is_none(), "{:?}", outcome.failure);
        (outcome.trace.events.len(), outcome.trace.events.capacity())
    }

    #[test]
    fn the_next_exploration_on_a_thread_records_into_the_largest_trace_kept() {
        std::thread::spawn(|| {
            let (small_events, _) = run_tasks(2);
            let (large_events, large_room) = run_tasks(2_000);
            assert!(large_events > small_events);
            // A new executor's only execution records into the room the
            // dropped one left, and nothing of its events.
            let (events, room) = run_tasks(2);
            assert_eq!(events, small_events);
            assert_eq!(room, large_room);
        })
        .join()
        .expect("the explorations ran");
    }

    /// A seeded pseudo-random strategy that logs everything it is shown
    /// and chooses.
    struct Logged {
        state: u64,
        log: Vec<String>,
    }

    impl Logged {
        fn draw(&mut self, below: usize) -> usize {
            self.state = self
                .state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.state >> 33) as usize) % below
        }
    }

    impl Scheduler for Logged {
        fn new_execution(&mut self, iteration: u64) -> bool {
            self.log.push(format!("new {iteration}"));
            true
        }

        fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
            let chosen = runnable[self.draw(runnable.len())];
            self.log
                .push(format!("next {runnable:?} {current:?} {chosen:?}"));
            Some(chosen)
        }

        fn observe_step(&mut self, task: TaskId, events: &[racecheck_trace::Event]) {
            self.log.push(format!("step {task:?} {events:?}"));
        }

        fn choose(&mut self, options: u32) -> Option<u32> {
            let chosen = self.draw(options as usize) as u32;
            self.log.push(format!("choose {options} {chosen}"));
            Some(chosen)
        }
    }

    /// Threads that yield, pass synchronous points, sleep, ask for data
    /// choices, spawn and join; one of them panics on some schedules.
    fn threads_program() -> MainThread {
        crate::thread::main(|| {
            let workers: Vec<_> = (0..3)
                .map(|worker| {
                    crate::thread::spawn(move || {
                        for round in 0..4 {
                            crate::rt::sync_point();
                            if round == worker {
                                crate::thread::sleep(std::time::Duration::from_millis(1));
                            }
                            let choice = crate::block_on(crate::rt::choose(2));
                            if choice == 1 {
                                crate::thread::yield_now();
                            }
                            if worker == 2 && round == 3 && choice == 1 {
                                crate::thread::spawn(crate::thread::yield_now)
                                    .join()
                                    .unwrap();
                            }
                        }
                        assert!(worker != 1 || crate::block_on(crate::rt::choose(9)) != 0);
                    })
                })
                .collect();
            for worker in workers {
                crate::thread::yield_now();
                let _ = worker.join();
            }
        })
    }

    /// The thread program next to an async branch that yields, both polled
    /// by one async task (as `join!` does): after the threads' stack
    /// suspends, the same poll goes on with the other branch.
    fn nested_program() -> impl Future<Output = ()> {
        let mut threads = Box::pin(threads_program());
        let mut yields = Box::pin(async {
            for _ in 0..6 {
                crate::yield_now().await;
            }
        });
        let (mut threads_done, mut yields_done) = (false, false);
        std::future::poll_fn(move |cx| {
            threads_done = threads_done || threads.as_mut().poll(cx).is_ready();
            yields_done = yields_done || yields.as_mut().poll(cx).is_ready();
            if threads_done && yields_done {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
    }

    /// Everything the strategy saw and chose over `executions` executions of
    /// `make_root` from `seed`, with each outcome, steps in place on or off.
    fn explore_logged<F, Fut>(
        make_root: &F,
        seed: u64,
        in_place: bool,
        limits: Limits,
    ) -> Vec<String>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        crate::stackful::tests::IN_PLACE_OFF.set(!in_place);
        let mut executor = Executor::new(limits);
        let mut logged = Logged {
            state: seed,
            log: Vec::new(),
        };
        for iteration in 0..20 {
            logged.new_execution(iteration);
            let outcome = executor.run(make_root, &mut logged);
            let line = format!(
                "outcome {:?} {:?} {} {:?}",
                outcome.failure, outcome.end, outcome.steps, outcome.trace.events
            );
            logged.log.push(line);
        }
        crate::stackful::tests::IN_PLACE_OFF.set(false);
        logged.log
    }

    #[test]
    fn steps_in_place_leave_every_schedule_and_trace_as_they_were() {
        let granularities = [Granularity::Await, Granularity::Step];
        for (seed, granularity) in (0..12).flat_map(|seed| granularities.map(|g| (seed, g))) {
            let limits = Limits {
                granularity,
                ..Limits::default()
            };
            let off = explore_logged(&threads_program, seed, false, limits);
            let on = explore_logged(&threads_program, seed, true, limits);
            assert_eq!(on, off, "seed {seed}, {granularity:?}");
            // A thread program polled by an async task: its suspensions are
            // not the task's own (the task's poll goes on after them), so
            // they always switch.
            let off = explore_logged(&nested_program, seed, false, limits);
            let on = explore_logged(&nested_program, seed, true, limits);
            assert_eq!(on, off, "nested, seed {seed}, {granularity:?}");
        }
    }

    #[test]
    fn the_step_limit_is_reached_at_the_same_step_in_place() {
        let spin = || {
            crate::thread::main(|| {
                crate::thread::spawn(|| loop {
                    crate::thread::yield_now();
                });
                loop {
                    crate::thread::yield_now();
                }
            })
        };
        for seed in 0..4 {
            let limits = Limits {
                steps_max: 57,
                ..Limits::default()
            };
            let off = explore_logged(&spin, seed, false, limits);
            let on = explore_logged(&spin, seed, true, limits);
            assert!(off.iter().any(|line| line.contains("StepLimit")));
            assert_eq!(on, off, "seed {seed}");
        }
    }
}
