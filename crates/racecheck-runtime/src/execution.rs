//! The state of the current execution, kept in a thread-local so that tasks,
//! primitives and wakers can reach it without threading a handle through
//! user code.
//!
//! The state is borrowed only for short, non-reentrant stretches: the runtime
//! never polls a future, drops a future or wakes a waker while it holds the
//! borrow. That is what lets primitives record events and wakers mark tasks
//! runnable from inside a poll.

use crate::local::set_cell;
use crate::stackful::{self, StackfulTask};
use crate::{Granularity, Shutdown};
use racecheck_trace::{
    Endpoint, Event, EventIndex, Holding, Location, ObjectId, Op, Schedule, TaskId, TaskInfo,
    Trace, WaitTarget,
};
use std::any::Any;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

/// A boxed task body, polled by the executor.
pub(crate) type TaskFuture = Pin<Box<dyn Future<Output = ()>>>;

/// A task's body as spawned: a future, or a thread's closure.
pub(crate) enum TaskBody {
    /// An async task: polled directly at await granularity, on its own
    /// stack at step granularity.
    Async(TaskFuture),
    /// A thread: always on its own stack, of at least the size given
    /// (0: the exploration's).
    Thread(Box<dyn FnOnce()>, usize),
    /// A future that already runs on its own stack (`thread::main`).
    Stackful(TaskFuture),
}

/// A limit on tasks per execution, so a runaway spawn loop is reported
/// rather than exhausting memory.
pub(crate) const TASKS_MAX: usize = 100_000;

thread_local! {
    static EXECUTION: RefCell<Execution> = const { RefCell::new(Execution::new()) };
    /// Set by a task passing a scheduling point during its step, or ending
    /// its step in place. Apart from the state because it is the hottest
    /// flag of all: a plain `Cell` costs no borrow.
    static YIELDED: Cell<Passed> = const { Cell::new(Passed::Nothing) };
    /// Whether the execution runs at [`Granularity::Step`]: synchronous
    /// visible operations are scheduling points too. Apart from the state
    /// for the same reason as `YIELDED`.
    static STEP_GRANULARITY: Cell<bool> = const { Cell::new(false) };
    /// The data pointer of the running task's own waker, set before each
    /// poll of a task: a future polled with another waker (a noop waker,
    /// `now_or_never`, a test's mock) is polled by hand. Compared for
    /// equality only; its value never reaches a schedule or a trace.
    static TASK_WAKER: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}

/// Notes the waker the executor polls the running task with.
#[inline]
pub(crate) fn set_task_waker(waker: &std::task::Waker) {
    set_cell(&TASK_WAKER, waker.data());
}

/// Whether a future polled with `waker` is polled by the running task's
/// executor (directly or through combinators that pass its context on),
/// rather than by hand.
#[inline]
pub(crate) fn polled_by_task(waker: &std::task::Waker) -> bool {
    waker.data() == TASK_WAKER.get()
}

/// Whether an execution is under way on this thread: between its start and
/// its end, teardown excluded. Outside one, racecheck primitives work
/// without recording, and their scheduling points pass at once.
#[inline]
pub(crate) fn active() -> bool {
    stackful::in_execution()
}

/// Whether the running task passes a scheduling point in place, by
/// suspending its own stack (a task at [`Granularity::Step`] not unwinding
/// from a panic), rather than by returning `Pending` to its executor.
#[inline]
pub(crate) fn points_in_place() -> bool {
    STEP_GRANULARITY.get() && stackful::on_task_stack() && !std::thread::panicking()
}

/// A scheduling point before a synchronous visible operation (an atomic
/// access, an immediate `Shared` access): at [`Granularity::Step`], the
/// running task is suspended and stays runnable, so the strategy chooses
/// who performs the next operation. At await granularity, off a task
/// stack, and while the task unwinds from a panic (a guard dropped on the
/// way out must not suspend the unwinding), it does nothing.
#[inline]
pub(crate) fn sync_point() {
    if points_in_place() {
        yield_current();
        stackful::suspend();
    }
}

/// Looks whether `target` has finished, after a scheduling point, and
/// records what was found. `false` outside a task of an active execution,
/// and in an execution other than `execution` (when given).
pub(crate) fn look(target: TaskId, execution: Option<u64>, location: Location) -> bool {
    sync_point();
    with_active(|current| {
        if execution.is_some_and(|id| id != current.id) || current.current.is_none() {
            return false;
        }
        let finished = current.tasks[target.index()].state == TaskState::Finished;
        let op = if finished {
            Op::FoundFinished { target }
        } else {
            Op::FoundRunning { target }
        };
        current.record(op, location);
        finished
    })
    .unwrap_or(false)
}

/// Runs `future` to completion on the current stackful task, suspending the
/// task whenever the future is pending: the blocking counterpart of
/// `.await`, for racecheck threads and for async tasks at
/// [`Granularity::Step`](crate::Granularity::Step).
///
/// Outside any execution (an OS thread of a plain test) it parks the
/// thread until the future is woken, like `futures::executor::block_on`.
///
/// # Panics
/// In an async task that runs off a task stack (at await granularity it
/// cannot be suspended inside a poll), at the caller's line. In a
/// destructor run while the execution is torn down, the future is polled
/// once, and the call panics only if it is not ready.
///
/// ```
/// use racecheck_runtime::{block_on, thread};
///
/// racecheck_runtime::run_once(|| thread::main(|| {
///     let answer = block_on(async {
///         racecheck_runtime::yield_now().await;
///         6 * 7
///     });
///     assert_eq!(answer, 42);
/// }));
/// ```
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    stackful::block_on_with(future, poll_edge, std::panic::Location::caller())
}

/// A poll on the running task's stack begins (`true`) or has returned
/// `Pending` (`false`). Such a poll can span steps: it suspends at
/// scheduling points inside it while other tasks run, and a wake-up that
/// comes meanwhile finds the task runnable, not running. If one came, the
/// task stays runnable after this `Pending` and polls again, instead of
/// losing it. Inline into the blocking calls, which call it at known
/// edges.
#[inline]
pub(crate) fn poll_edge(begins: bool) {
    let woken = with_active(|execution| {
        let task = execution.current_task();
        std::mem::replace(&mut execution.tasks[task.index()].woken_in_poll, false)
    });
    if woken == Some(true) && !begins {
        yield_current();
    }
}

/// How the running task's step ends, as far as the step loop must know
/// after the poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Passed {
    /// No scheduling point: the task finished, blocked, or was woken.
    Nothing,
    /// A scheduling point: the task stays runnable.
    Point,
    /// The step ended on the task's own stack and the strategy chose
    /// another task there (the executor's `StepInPlace`): the loop goes on
    /// from that choice.
    HandedOff,
}

/// Marks the running task as passing a scheduling point: it stays runnable
/// after this step.
#[inline]
pub(crate) fn yield_current() {
    set_cell(&YIELDED, Passed::Point);
}

/// How the running task's step ends so far.
#[inline]
pub(crate) fn passed() -> Passed {
    YIELDED.get()
}

/// Notes that the step ended in place and the next task is chosen.
#[inline]
pub(crate) fn hand_off() {
    set_cell(&YIELDED, Passed::HandedOff);
}

/// How the step of the task that just ran ended; resets the flag.
#[inline]
pub(crate) fn take_passed() -> Passed {
    YIELDED.replace(Passed::Nothing)
}

/// Whether the task that just ran passed a scheduling point; resets the
/// flag.
#[inline]
pub(crate) fn take_yielded() -> bool {
    take_passed() == Passed::Point
}

/// Runs `f` on the current thread's execution state.
///
/// Panics with an internal error if the state is already borrowed: the
/// runtime is written so that this never happens.
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&mut Execution) -> R) -> R {
    // `try_with`, unlike `LocalKey::with`, is `#[inline]`: the state's
    // address is then computed in place instead of through a call to an
    // out-of-line `with` per closure and its accessor's function pointer.
    EXECUTION
        .try_with(|cell| {
            let mut execution = cell
                .try_borrow_mut()
                .expect("racecheck internal error: execution state borrowed re-entrantly");
            f(&mut execution)
        })
        .unwrap_or_else(|_| state_destroyed())
}

/// Gives the thread's execution state the buffers of `trace` if they
/// hold more events than its own, which `trace` takes instead: the next
/// exploration on this thread records into memory already in use rather
/// than touching fresh pages (the trace of one execution of 10,000 tasks
/// is about 22 MB; touching its pages for the first time took about a
/// third of that execution's time). Does nothing if the state is in use
/// or gone.
pub(crate) fn keep_larger_trace(trace: &mut Trace) {
    let _ = EXECUTION.try_with(|cell| {
        let Ok(mut execution) = cell.try_borrow_mut() else {
            return;
        };
        if !execution.active && execution.trace.events.capacity() < trace.events.capacity() {
            std::mem::swap(&mut execution.trace, trace);
            execution.trace.clear();
        }
    });
}

/// The execution state was used while the thread's locals are destroyed.
#[cold]
#[inline(never)]
fn state_destroyed() -> ! {
    panic!("racecheck: the execution state was used after its thread ended")
}

/// Like [`with`], but only inside an active execution; otherwise returns
/// `None` without touching anything. Used by code that may also run during
/// teardown or after the execution ended (drops, wakes).
#[inline]
pub(crate) fn with_active<R>(f: impl FnOnce(&mut Execution) -> R) -> Option<R> {
    EXECUTION
        .try_with(|cell| {
            let mut execution = cell
                .try_borrow_mut()
                .expect("racecheck internal error: execution state borrowed re-entrantly");
            execution.active.then(|| f(&mut execution))
        })
        .ok()
        .flatten()
}

/// Whether the executor is dropping what an execution left: code running
/// now is a destructor, and racecheck operations do what they can without
/// an execution (they record nothing and wake nobody; sleeps end at once).
pub(crate) fn tearing_down() -> bool {
    EXECUTION
        .try_with(|cell| {
            cell.try_borrow()
                .is_ok_and(|execution| execution.tearing_down)
        })
        .unwrap_or(false)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskState {
    Runnable,
    Running,
    Blocked,
    Finished,
    /// Dropped unfinished when the runtime shut down (see
    /// [`Shutdown::Explored`](crate::Shutdown::Explored)).
    Dropped,
}

/// Why a task returned `Pending`, as told by the primitive it blocked in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockReason {
    /// Nothing said: a foreign future, or not blocked at all.
    Unknown,
    /// Sleeping on the virtual clock: a timer will wake it.
    Sleep,
    /// Waiting for an object or a task.
    Wait(WaitTarget),
}

/// A task's state in the execution. The fields a step reads and writes
/// (its state, wake flags, block reason and attributed source) come first,
/// in declaration order, within the first 32 bytes: with 10,000 tasks the
/// slots are 720 KB, beyond the L2 cache, and a step that chose a task at
/// random reads one line of its slot more often than two
/// (`docs/benchmarks.md`, "At service scale").
#[repr(C)]
pub(crate) struct TaskSlot {
    pub(crate) state: TaskState,
    /// Woken while running: stays runnable after this step.
    pub(crate) woken: bool,
    /// Woken while running or runnable since its task stack's last poll of
    /// a future began (see `stackful::block_on`): a poll that spans steps,
    /// suspended at scheduling points inside it, must not lose a wake-up
    /// that came while it was suspended.
    pub(crate) woken_in_poll: bool,
    /// Runnable only to be polled once more, spuriously: nothing woke it
    /// since it last returned `Pending` (see `Limits::spurious_wakeups`).
    pub(crate) spurious: bool,
    pub(crate) block_reason: BlockReason,
    /// The task runs on its own stack (a thread, or any task at step
    /// granularity): ending it early unwinds that stack.
    pub(crate) stackful: bool,
    /// Where the task's events are attributed instead of the Rust caller
    /// (see `rt::attribute_events_to`).
    pub(crate) source: Option<Location>,
    /// A data choice the task waits for (see `rt::choose`): the number of
    /// options until the scheduler chooses, then the value chosen.
    pub(crate) choice: Choice,
    /// The task's output, from when it finishes until it is joined.
    pub(crate) output: Option<Box<dyn Any>>,
    /// The task awaiting this one's `JoinHandle`.
    pub(crate) joiner: Option<Waker>,
}

/// A task's data choice (see `rt::choose`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Choice {
    /// None asked for.
    #[default]
    None,
    /// Asked for, among this many options; the scheduler chooses when the
    /// task is next chosen to run.
    Asked(u32),
    /// Chosen, not yet taken by the task.
    Made(u32),
}

/// Everything one execution owns. Reused across executions: `begin` clears
/// the collections but keeps their allocations.
pub(crate) struct Execution {
    /// Distinguishes executions, so wakers and objects from an earlier one
    /// are recognised.
    pub(crate) id: u64,
    /// Between `begin` and `end`: events are recorded, wakes are honoured.
    pub(crate) active: bool,
    /// While the executor drops what the execution left, at its teardown
    /// (recording off) or when the runtime shuts down (recording on): code
    /// running then is a destructor; tasks it spawns never run, and
    /// primitives it creates during the teardown record nothing.
    pub(crate) tearing_down: bool,
    /// Whether the runtime may shut down before every task finished.
    pub(crate) shutdown: Shutdown,
    /// The root finished and others can still run: the root's id stays in
    /// `runnable`, standing for "shut the runtime down now".
    pub(crate) shutdown_offered: bool,
    /// A task that returns `Pending` may be polled once more before
    /// anything wakes it.
    pub(crate) spurious_wakeups: bool,
    /// The sleeps a task makes while it holds a lock or permit it took at
    /// this site end at once (see `Limits::instant_section`).
    pub(crate) instant_section: Option<Location>,
    /// See `Limits::allow_untracked_objects`.
    pub(crate) allow_untracked_objects: bool,
    /// Bodies of tasks spawned during the teardown, for it to drop.
    pub(crate) abandoned: Vec<TaskBody>,
    /// The unfinished task whose future the teardown is dropping: the
    /// channel ends dropped meanwhile were its.
    pub(crate) ending_task: Option<TaskId>,
    /// The channel ends the teardown found so (`ExecutionEnd::endpoints`).
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) tasks: Vec<TaskSlot>,
    /// Runnable tasks, sorted by id. The running task stays in it.
    pub(crate) runnable: Vec<TaskId>,
    pub(crate) current: Option<TaskId>,
    pub(crate) step: u32,
    /// The step from which the executor takes its cold path to choose
    /// (the step limit, or 0 while a task waits for a data choice), so
    /// that the hot path tests one number per step.
    pub(crate) step_cold_at: u32,
    /// Tasks waiting for the scheduler to make their data choice.
    pub(crate) choices_asked: u32,
    /// The index of the running step's first event.
    pub(crate) step_first_event: usize,
    pub(crate) now_ns: u64,
    /// Pending timers as `(deadline_ns, timer id)`: earliest first, ties in
    /// registration order.
    pub(crate) timers: BinaryHeap<Reverse<(u64, usize)>>,
    /// Wakers by timer id; `None` once fired or cancelled.
    pub(crate) timer_wakers: Vec<Option<Waker>>,
    pub(crate) trace: Trace,
    pub(crate) schedule: Schedule,
    /// Futures of tasks added since the executor last looked, in id order;
    /// the executor owns them from then on. Each in an `Option`, as the
    /// executor keeps them, so that taking them over is one `append`.
    pub(crate) spawned: Vec<Option<TaskFuture>>,
    /// Where tasks switch: at awaits only, or at every visible operation.
    pub(crate) granularity: Granularity,
    /// The running task's attributed source (its slot's `source`), kept
    /// here so that recording an event reads one field.
    pub(crate) source: Option<Location>,
}

impl Execution {
    const fn new() -> Execution {
        Execution {
            id: 0,
            active: false,
            tearing_down: false,
            shutdown: Shutdown::AfterLastTask,
            shutdown_offered: false,
            spurious_wakeups: false,
            instant_section: None,
            allow_untracked_objects: false,
            abandoned: Vec::new(),
            ending_task: None,
            endpoints: Vec::new(),
            tasks: Vec::new(),
            runnable: Vec::new(),
            current: None,
            step: 0,
            step_cold_at: 0,
            choices_asked: 0,
            step_first_event: 0,
            now_ns: 0,
            timers: BinaryHeap::new(),
            timer_wakers: Vec::new(),
            trace: Trace::new(),
            schedule: Schedule::new(),
            spawned: Vec::new(),
            granularity: Granularity::Await,
            source: None,
        }
    }

    /// Starts a fresh execution on the reused state.
    pub(crate) fn begin(
        &mut self,
        granularity: Granularity,
        shutdown: Shutdown,
        spurious_wakeups: bool,
        instant_section: Option<Location>,
        allow_untracked_objects: bool,
    ) {
        assert!(
            !self.active,
            "racecheck: an execution is already running on this thread \
             (racecheck::check cannot be nested)"
        );
        self.id += 1;
        self.active = true;
        self.tasks.clear();
        self.runnable.clear();
        self.current = None;
        self.step = 0;
        self.step_cold_at = 0;
        self.choices_asked = 0;
        self.now_ns = 0;
        self.timers.clear();
        self.timer_wakers.clear();
        self.trace.clear();
        self.schedule.clear();
        self.spawned.clear();
        self.granularity = granularity;
        self.shutdown = shutdown;
        self.shutdown_offered = false;
        self.spurious_wakeups = spurious_wakeups;
        self.instant_section = instant_section;
        self.allow_untracked_objects = allow_untracked_objects;
        self.source = None;
        self.ending_task = None;
        self.endpoints.clear();
        set_cell(&STEP_GRANULARITY, granularity == Granularity::Step);
        stackful::set_in_execution(true);
    }

    /// Ends the execution: no more events, no more wakes, and the teardown
    /// begins.
    pub(crate) fn end(&mut self) {
        self.active = false;
        self.tearing_down = true;
        self.current = None;
        self.source = None;
        set_cell(&STEP_GRANULARITY, false);
        stackful::set_in_execution(false);
    }

    /// Whether the teardown has nothing of the state's to drop: no future
    /// the executor never took, no timer pending, every finished task's
    /// output joined, and no task spawned while the runtime shut down.
    pub(crate) fn leaves_nothing_to_drop(&self) -> bool {
        self.spawned.is_empty()
            && self.timer_wakers.iter().all(Option::is_none)
            && self.abandoned.is_empty()
            && self.tasks.iter().all(|slot| slot.output.is_none())
    }

    /// Takes the futures of tasks the executor never took and the wakers of
    /// pending timers, for the caller to drop outside the borrow (a waker's
    /// drop is user code).
    pub(crate) fn take_left(&mut self) -> (Vec<Option<TaskFuture>>, Vec<Waker>) {
        let timer_wakers = self
            .timer_wakers
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        self.timer_wakers.clear();
        self.timers.clear();
        if self.spawned.is_empty() {
            // Keep the allocation for the next execution.
            return (Vec::new(), timer_wakers);
        }
        (std::mem::take(&mut self.spawned), timer_wakers)
    }

    /// Takes the first output at or after task `index` that was never
    /// joined, with its task's index: user values, dropped by the caller
    /// outside the borrow.
    pub(crate) fn take_output(&mut self, index: usize) -> Option<(usize, Box<dyn Any>)> {
        self.tasks
            .iter_mut()
            .enumerate()
            .skip(index)
            .find_map(|(index, slot)| slot.output.take().map(|output| (index, output)))
    }

    /// Adds a task, runnable, and returns its id. The caller checks
    /// [`Execution::admits_task`] first.
    pub(crate) fn add_task(
        &mut self,
        body: TaskBody,
        name: Cow<'static, str>,
        location: Location,
    ) -> TaskId {
        debug_assert!(self.active && self.tasks.len() < TASKS_MAX);
        let task = TaskId(self.tasks.len() as u32);
        let stackful = !matches!(body, TaskBody::Async(_)) || self.granularity == Granularity::Step;
        let future: TaskFuture = match body {
            TaskBody::Async(future) if self.granularity == Granularity::Await => future,
            TaskBody::Async(future) => Box::pin(StackfulTask::from_future(future, poll_edge)),
            TaskBody::Thread(body, stack_bytes) => {
                Box::pin(StackfulTask::with_stack_at_least(body, stack_bytes))
            }
            TaskBody::Stackful(future) => future,
        };
        self.spawned.push(Some(future));
        self.tasks.push(TaskSlot {
            state: TaskState::Runnable,
            woken: false,
            woken_in_poll: false,
            block_reason: BlockReason::Unknown,
            output: None,
            joiner: None,
            source: None,
            spurious: false,
            stackful,
            choice: Choice::None,
        });
        self.trace.tasks.push(TaskInfo {
            name,
            parent: self.current,
            spawned_at: location,
        });
        // Ids grow, so pushing keeps `runnable` sorted.
        self.runnable.push(task);
        task
    }

    /// Whether a task spawned at `location` can be added now: `Err` with a
    /// sentence if spawning now is a mistake, `Err(None)` during the
    /// teardown, when the task is not added but that is no error (see
    /// [`Execution::tearing_down`]).
    pub(crate) fn admits_task(&self, location: Location) -> Result<(), Option<String>> {
        if self.tearing_down {
            return Err(None);
        }
        if !self.active {
            return Err(Some(format!(
                "racecheck: spawn called at {location} outside a racecheck execution; spawn \
                 tasks inside the future given to racecheck::check"
            )));
        }
        if self.tasks.len() >= TASKS_MAX {
            return Err(Some(format!(
                "racecheck: more than {TASKS_MAX} tasks in one execution (a spawn at {location} \
                 went over): a runaway spawn loop?"
            )));
        }
        Ok(())
    }

    /// The index the next recorded event gets. Not checked in release
    /// builds, being on the per-event path: a trace of `u32::MAX` events
    /// would take over 100 GiB, far past any step limit's reach.
    #[inline]
    fn next_event_index(&self) -> EventIndex {
        let index = self.trace.events.len();
        debug_assert!(u32::try_from(index).is_ok(), "racecheck: trace too long");
        EventIndex(index as u32)
    }

    /// Records an event of the running task in the current step and
    /// returns its index in the trace.
    #[inline]
    pub(crate) fn record(&mut self, op: Op, location: Location) -> EventIndex {
        let task = self
            .current
            .expect("racecheck: a visible operation was performed outside any task");
        let location = self.source.unwrap_or(location);
        let index = self.next_event_index();
        // Built in each branch, so that the common one writes the event
        // straight into the trace rather than through the stack.
        let event = || Event {
            step: self.step,
            task,
            op,
            location,
        };
        let events = &mut self.trace.events;
        if events.len() < events.capacity() {
            events.push(event());
        } else {
            push_growing(events, event());
        }
        index
    }

    /// Records an event of `task`, which is not running, in this step: an
    /// operation the running task completes on its behalf (a lock handed
    /// to a waiter). `location` is the waiting task's, or its attributed
    /// source if it has one.
    pub(crate) fn record_for(&mut self, task: TaskId, op: Op, location: Location) -> EventIndex {
        let location = self
            .tasks
            .get(task.index())
            .and_then(|slot| slot.source)
            .unwrap_or(location);
        let index = self.next_event_index();
        self.trace.events.push(Event {
            step: self.step,
            task,
            op,
            location,
        });
        index
    }

    /// Whether the running task holds a lock or permits it took at `site`
    /// and has not given back: a walk over the trace so far, made only by
    /// a sleep under `Limits::instant_section`.
    pub(crate) fn running_task_holds_taken_at(&self, site: Location) -> bool {
        let task = self.current_task();
        let mut held: Vec<ObjectId> = Vec::new();
        for event in self.trace.events.iter().filter(|event| event.task == task) {
            let Some(object) = event.op.object() else {
                continue;
            };
            match event.op.holding() {
                Holding::Lock(_) | Holding::Acquire(_) if event.location == site => {
                    held.push(object);
                }
                Holding::Unlock(_) | Holding::Release(_) => {
                    if let Some(position) = held.iter().rposition(|&taken| taken == object) {
                        held.swap_remove(position);
                    }
                }
                _ => {}
            }
        }
        !held.is_empty()
    }

    /// `location`, or the running task's attributed source if it has one.
    pub(crate) fn source_of(&self, location: Location) -> Location {
        self.source.unwrap_or(location)
    }

    /// The running task.
    pub(crate) fn current_task(&self) -> TaskId {
        self.current
            .expect("racecheck: a racecheck operation was used outside any task")
    }

    /// Marks a task runnable (or, if it is running, keeps it runnable after
    /// this step).
    pub(crate) fn wake(&mut self, task: TaskId) {
        let Some(slot) = self.tasks.get_mut(task.index()) else {
            return;
        };
        match slot.state {
            TaskState::Blocked => {
                slot.state = TaskState::Runnable;
                slot.block_reason = BlockReason::Unknown;
                if let Err(position) = self.runnable.binary_search(&task) {
                    self.runnable.insert(position, task);
                }
            }
            TaskState::Running => {
                slot.woken = true;
                slot.woken_in_poll = true;
            }
            // Woken for real: its next poll is no longer spurious.
            TaskState::Runnable => {
                slot.spurious = false;
                slot.woken_in_poll = true;
            }
            TaskState::Finished | TaskState::Dropped => {}
        }
    }

    /// Removes a task that blocked or finished from the runnable set.
    pub(crate) fn remove_runnable(&mut self, task: TaskId) {
        if let Ok(position) = self.runnable.binary_search(&task) {
            self.runnable.remove(position);
        }
    }

    /// Registers a timer and returns its id.
    pub(crate) fn add_timer(&mut self, deadline_ns: u64, waker: Waker) -> usize {
        let id = self.timer_wakers.len();
        self.timer_wakers.push(Some(waker));
        self.timers.push(Reverse((deadline_ns, id)));
        id
    }

    /// Advances the clock to the earliest live timer and returns the wakers
    /// of all timers due then, in registration order; empty if no timer is
    /// pending.
    pub(crate) fn fire_next_timers(&mut self) -> Vec<Waker> {
        let mut due = Vec::new();
        while let Some(&Reverse((deadline_ns, id))) = self.timers.peek() {
            if !due.is_empty() && deadline_ns != self.now_ns {
                break;
            }
            self.timers.pop();
            if let Some(waker) = self.timer_wakers[id].take() {
                debug_assert!(deadline_ns >= self.now_ns, "time never goes back");
                self.now_ns = deadline_ns;
                due.push(waker);
            }
        }
        due
    }
}

/// Pushes `event` onto a full trace. Out of line and cold, so that the
/// callers of [`Execution::record`] keep no values across a call to grow
/// the trace: without it, every record saved six registers.
#[cold]
#[inline(never)]
fn push_growing(events: &mut Vec<Event>, event: Event) {
    events.push(event);
}

/// The wakers of task ids, reused across executions: a waker is retargeted
/// to the current execution the first time its task id is used in it.
#[derive(Default)]
pub(crate) struct WakerPool {
    wakers: Vec<(Arc<TaskWaker>, Waker)>,
    /// Wakers below this index already point at the current execution.
    current: usize,
    execution: u64,
}

impl WakerPool {
    /// Starts retargeting the wakers to `execution`.
    pub(crate) fn begin(&mut self, execution: u64) {
        self.execution = execution;
        self.current = 0;
    }

    /// The waker of `task` in the current execution.
    #[inline]
    pub(crate) fn waker(&mut self, task: TaskId) -> &Waker {
        if task.index() >= self.current {
            self.retarget_up_to(task);
        }
        &self.wakers[task.index()].1
    }

    #[cold]
    #[inline(never)]
    fn retarget_up_to(&mut self, task: TaskId) {
        while self.current <= task.index() {
            let index = self.current;
            match self.wakers.get(index) {
                Some((waker, _)) => waker.execution.store(self.execution, Ordering::Relaxed),
                None => {
                    let waker = Arc::new(TaskWaker {
                        execution: AtomicU64::new(self.execution),
                        task: TaskId(index as u32),
                    });
                    self.wakers.push((waker.clone(), Waker::from(waker)));
                }
            }
            self.current += 1;
        }
    }
}

/// Wakes one task of one execution. Wakes from another execution (a waker
/// kept past its execution) or another thread are ignored.
pub(crate) struct TaskWaker {
    execution: AtomicU64,
    task: TaskId,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        with_active(|execution| {
            if execution.id == self.execution.load(Ordering::Relaxed) {
                execution.wake(self.task);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// What a step touches of a task's slot fits in its first 32 bytes.
    #[test]
    fn a_slot_keeps_what_a_step_touches_in_its_first_32_bytes() {
        assert_eq!(offset_of!(TaskSlot, state), 0);
        let hot_end = offset_of!(TaskSlot, source) + size_of::<Option<Location>>();
        assert!(hot_end <= 32, "hot fields end at byte {hot_end}");
        for hot in [
            offset_of!(TaskSlot, woken),
            offset_of!(TaskSlot, woken_in_poll),
            offset_of!(TaskSlot, spurious),
            offset_of!(TaskSlot, block_reason),
        ] {
            assert!(hot < hot_end);
        }
        assert_eq!(size_of::<TaskSlot>(), 72);
    }
}
