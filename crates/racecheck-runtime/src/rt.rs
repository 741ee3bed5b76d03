//! The interface between the runtime and the primitives built on it.
//!
//! A primitive (in `racecheck-sync`) registers itself as an object, passes a
//! [`SchedulePoint`] before each visible operation, records the operation's
//! effect as an event, and, when it cannot proceed, records what it blocks on
//! and returns `Pending` with the task's waker stored; whoever unblocks it
//! wakes that waker. The runtime derives who is runnable, who holds what and
//! who waits for whom from exactly these calls.
//!
//! ```
//! use racecheck_runtime::rt::{self, SchedulePoint};
//! use racecheck_trace::{Location, ObjectKind, Op};
//! use std::future::poll_fn;
//!
//! racecheck_runtime::run_once(|| async {
//!     let object = rt::register(ObjectKind::Event, Some("ready".into()), Location::caller());
//!     let mut point = SchedulePoint::new();
//!     poll_fn(|cx| point.poll_point(cx)).await;
//!     object.record(Op::Set { object: object.id() }, Location::caller());
//! });
//! ```

use crate::execution::{self, BlockReason, Choice, Execution};
use racecheck_trace::{
    Endpoint, EventIndex, Location, Need, ObjectId, ObjectInfo, ObjectKind, Op, TaskId, WaitTarget,
};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A handle on an object registered with the current execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    id: ObjectId,
    execution: u64,
    created_at: Location,
}

/// Registers an object (lock, channel, shared cell, ...) with the current
/// execution, so its events can name it.
///
/// Outside an execution (a plain `#[test]` that polls a primitive by hand,
/// a destructor run while an execution is torn down) the object is
/// *untracked*: it works, but records nothing, and its scheduling points
/// pass at once. An untracked object used later inside an execution stays
/// untracked there: the detector does not see it, as for a `static`.
///
/// ```
/// use racecheck_runtime::rt;
/// use racecheck_trace::{Location, ObjectKind};
///
/// let untracked = rt::register(ObjectKind::Mutex, None, Location::caller());
/// assert!(!untracked.is_tracked());
/// racecheck_runtime::run_once(|| async {
///     let lock = rt::register(ObjectKind::Mutex, None, Location::caller());
///     assert!(lock.is_tracked());
/// });
/// ```
pub fn register(
    kind: ObjectKind,
    name: Option<Cow<'static, str>>,
    location: Location,
) -> ObjectRef {
    let tracked = execution::with_active(|execution| {
        let location = execution.source_of(location);
        let id = ObjectId(execution.trace.objects.len() as u32);
        execution.trace.objects.push(ObjectInfo {
            kind,
            name,
            created_at: location,
        });
        ObjectRef {
            id,
            execution: execution.id,
            created_at: location,
        }
    });
    tracked.unwrap_or(ObjectRef::untracked(location))
}

/// The execution number of an untracked object: no execution has it.
const UNTRACKED: u64 = u64::MAX;

impl ObjectRef {
    /// An untracked object (see [`register`]), for primitives built in a
    /// `const` (`Mutex::const_new` in a `static`), which no execution can
    /// register.
    ///
    /// ```
    /// use racecheck_runtime::rt::ObjectRef;
    /// use racecheck_trace::Location;
    ///
    /// const OBJECT: ObjectRef = ObjectRef::untracked(Location::caller());
    /// assert!(!OBJECT.is_tracked());
    /// ```
    pub const fn untracked(created_at: Location) -> ObjectRef {
        ObjectRef {
            id: ObjectId(u32::MAX),
            execution: UNTRACKED,
            created_at,
        }
    }

    /// The object's id in the trace.
    #[inline]
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// Whether the object belongs to an execution, whose trace records its
    /// operations; `false` for one created outside any (see [`register`]).
    #[inline]
    pub fn is_tracked(&self) -> bool {
        self.execution != UNTRACKED
    }

    /// Records an event of the running task on this object and returns
    /// its index in the trace (for operations that name the event they
    /// synchronise with). Does nothing once the execution has ended (guards
    /// dropped during teardown) and returns `None`.
    ///
    /// # Panics
    /// If the object belongs to another execution.
    // Out of line, one copy for every caller: its arguments arrive in
    // registers, where an inlined `with_active` left each caller a closure
    // to marshal for a shared out-of-line `try_with`.
    #[inline(never)]
    pub fn record(&self, op: Op, location: Location) -> Option<EventIndex> {
        execution::with_active(|execution| {
            self.records_in(execution)
                .then(|| execution.record(op, location))
        })
        .flatten()
    }

    /// Records an event of `task`, a waiter the running task serves, on
    /// this object: the operation takes effect now, in the running task's
    /// step (a lock handed to the head of its queue is the waiter's from
    /// the release on), not when the waiter next runs. Does nothing once
    /// the execution has ended and returns `None`.
    ///
    /// ```
    /// use racecheck_runtime::rt;
    /// use racecheck_trace::{ObjectKind, Op};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let object = rt::register(ObjectKind::Mutex, None, racecheck_trace::Location::caller());
    ///     let me = rt::current_task();
    ///     let lock = Op::Lock { object: object.id(), mode: racecheck_trace::LockMode::Exclusive };
    ///     object.record_for(me, lock, racecheck_trace::Location::caller());
    /// });
    /// ```
    ///
    /// # Panics
    /// If the object belongs to another execution.
    pub fn record_for(&self, task: TaskId, op: Op, location: Location) -> Option<EventIndex> {
        execution::with_active(|execution| {
            self.records_in(execution)
                .then(|| execution.record_for(task, op, location))
        })
        .flatten()
    }

    /// Records that the running task blocks on this object, needing
    /// `need` of it (a slot or a message of a channel, a lock in a mode;
    /// [`Need::Unstated`] where the object's kind says it). The caller
    /// stores the task's waker and returns `Pending`.
    #[inline]
    pub fn block(&self, need: Need, location: Location) {
        execution::with_active(|execution| {
            if !self.records_in(execution) {
                return;
            }
            let on = WaitTarget::Object(self.id);
            execution.record(Op::Block { on, need }, location);
            let current = execution.current_task();
            execution.tasks[current.index()].block_reason = BlockReason::Wait(on);
        });
    }

    /// Notes that an end of this channel is dropped: a sender (`gives`
    /// [`Need::Message`]) or the receiver ([`Need::Slot`]). It does
    /// something only while the teardown drops the future of a task left
    /// unfinished, whose end it was: the execution's end lists it
    /// ([`Endpoint`]), so that the detector knows who could have ended a
    /// wait on the channel. Outside the teardown it costs one look at the
    /// execution's state.
    ///
    /// ```
    /// use racecheck_runtime::rt;
    /// use racecheck_trace::{Location, Need, ObjectKind};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let channel = rt::register(ObjectKind::Channel, None, Location::caller());
    ///     channel.end_dropped(Need::Message); // not in the teardown: nothing
    /// });
    /// ```
    pub fn end_dropped(&self, gives: Need) {
        if !execution::tearing_down() {
            return;
        }
        execution::with(|execution| {
            if let Some(task) = execution.ending_task {
                if self.execution == execution.id && self.is_tracked() {
                    execution.endpoints.push(Endpoint {
                        task,
                        object: self.id,
                        gives,
                    });
                }
            }
        });
    }

    /// Whether the object records in `execution`: `false` for an
    /// untracked object, where the execution allows them.
    ///
    /// # Panics
    /// If the object belongs to another execution, or is untracked and the
    /// execution does not allow that (`Limits::allow_untracked_objects`).
    #[inline]
    fn records_in(&self, execution: &Execution) -> bool {
        if self.execution != execution.id {
            if !self.is_tracked() && execution.allow_untracked_objects {
                return false;
            }
            self.used_in_another_execution();
        }
        true
    }

    #[cold]
    #[inline(never)]
    fn used_in_another_execution(&self) -> ! {
        if !self.is_tracked() {
            panic!(
                "racecheck: an object created at {} outside a racecheck execution is used \
                 inside one; create primitives inside the closure given to racecheck::check",
                self.created_at
            )
        }
        panic!(
            "racecheck: an object created at {} is used in an execution other than the \
             one that created it; create primitives inside the closure given to \
             racecheck::check",
            self.created_at
        )
    }
}

/// The task running now.
///
/// # Panics
/// Outside a task of an execution.
pub fn current_task() -> TaskId {
    execution::with(|execution| execution.current_task())
}

/// The task running now, or `None` outside a task of an active execution:
/// for front ends that behave differently inside an execution (tokio's
/// `Handle::try_current`).
///
/// ```
/// assert_eq!(racecheck_runtime::rt::try_current_task(), None);
/// racecheck_runtime::run_once(|| async {
///     assert!(racecheck_runtime::rt::try_current_task().is_some());
/// });
/// ```
pub fn try_current_task() -> Option<TaskId> {
    execution::with_active(|execution| execution.current).flatten()
}

/// Wakes `task` of the current execution, as its waker would: for front
/// ends whose handles tell a task to look at its state again (tokio's
/// `JoinHandle::abort`) without keeping its waker. Outside an active
/// execution, nothing happens.
///
/// ```
/// use racecheck_runtime::{rt, spawn};
///
/// racecheck_runtime::run_once(|| async {
///     let worker = spawn(async {});
///     rt::wake(worker.id()); // a task that is runnable stays so
///     worker.await;
/// });
/// rt::wake(racecheck_trace::TaskId(1)); // outside an execution: nothing
/// ```
pub fn wake(task: TaskId) {
    execution::with_active(|execution| execution.wake(task));
}

/// Whether `task` of the current execution has finished, looked at as
/// [`JoinHandle::is_finished`](crate::JoinHandle::is_finished) does (a
/// visible operation that reads the task's end): for front ends whose
/// handles keep only the task's id (tokio's `AbortHandle`). `false`
/// outside a task of an active execution.
///
/// ```
/// use racecheck_runtime::{rt, spawn};
/// use std::time::Duration;
///
/// racecheck_runtime::run_once(|| async {
///     let worker = spawn(async {});
///     racecheck_runtime::time::sleep(Duration::from_millis(1)).await;
///     assert!(rt::is_finished(worker.id()));
/// });
/// ```
#[track_caller]
pub fn is_finished(task: TaskId) -> bool {
    execution::look(task, None, Location::caller())
}

/// A scheduling point, passed by polling it until it is ready.
///
/// - At [`Granularity::Step`](crate::Granularity::Step), on the task's own
///   stack, the point is passed in place: the task is suspended inside the
///   poll, the strategy chooses who performs the next visible operation,
///   and the poll returns `Ready` when the task is resumed. So an operation
///   that can complete at once completes on its first poll, as in tokio,
///   even when a future is polled by hand.
/// - At await granularity the first poll returns `Pending` with the task
///   still runnable, and the next poll returns `Ready`. A future polled by
///   hand, with a waker other than its task's (`now_or_never`, a noop
///   waker, a test's mock task), passes the point at once: the operation
///   runs inside the current step, as any code between two awaits does,
///   and completes on that poll if it can, as in tokio.
/// - Outside an execution it is `Ready` at once.
///
/// ```
/// use racecheck_runtime::rt::SchedulePoint;
/// use std::task::{Context, Poll, Waker};
///
/// let mut point = SchedulePoint::new();
/// let mut context = Context::from_waker(Waker::noop());
/// assert_eq!(point.poll_point(&mut context), Poll::Ready(())); // outside an execution
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulePoint {
    state: PointState,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum PointState {
    #[default]
    Fresh,
    Yielded,
    Passed,
}

impl SchedulePoint {
    /// A point not yet reached.
    #[inline]
    pub const fn new() -> SchedulePoint {
        SchedulePoint {
            state: PointState::Fresh,
        }
    }

    /// Polls the point: passes it in place and returns `Ready` on a task
    /// stack at step granularity; elsewhere in an execution `Pending` once
    /// (the task stays runnable), then `Ready` forever, unless polled by
    /// hand (`cx` holds another waker than the task's).
    // Always inline: at await granularity its first poll is a few flag
    // tests, cheaper than a call; at step granularity the suspension then
    // returns into the future that passes the point, not through a frame
    // of its own.
    #[inline(always)]
    pub fn poll_point(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.state {
            PointState::Fresh if execution::points_in_place() && !skipping_points() => {
                execution::sync_point();
                self.state = PointState::Passed;
                Poll::Ready(())
            }
            PointState::Fresh if execution::active() && execution::polled_by_task(cx.waker()) => {
                execution::yield_current();
                self.state = PointState::Yielded;
                Poll::Pending
            }
            PointState::Fresh | PointState::Yielded | PointState::Passed => {
                self.state = PointState::Passed;
                Poll::Ready(())
            }
        }
    }
}

/// Lets the scheduler choose one of `options` values: a decision the
/// program leaves open, such as which ready branch of a `select!` wins or
/// which waiter a notification wakes. The awaiting task passes a scheduling
/// point, and the scheduler chooses the value when it next runs the task;
/// the value is recorded in the schedule, so random and PCT search draw it,
/// the exhaustive search tries every value, and replay reproduces it.
/// With one option (or none) it returns 0 at once, and so it does when
/// polled by hand ([`polled_by_hand`]: `tokio_test::task::spawn(..).poll()`),
/// where the task cannot pass a scheduling point: that decision is then
/// always the first value, and not explored.
///
/// ```
/// use racecheck_explore::{explore, Config, Strategy};
///
/// // Both values are explored: the exhaustive search finds the failing one.
/// let config = Config { strategy: Strategy::Exhaustive, ..Config::default() };
/// let report = explore(&config, || async {
///     let branch = racecheck_runtime::rt::choose(2).await;
///     assert_eq!(branch, 0, "the second branch won");
/// });
/// let failure = report.failure.expect("the second value is tried");
/// assert_eq!(failure.schedule.choices(), &[1]);
/// ```
pub fn choose(options: u32) -> Choose {
    Choose {
        options,
        asked: false,
    }
}

/// The future of [`choose`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Choose {
    options: u32,
    asked: bool,
}

impl Future for Choose {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        if self.options <= 1 || (!self.asked && polled_by_hand(cx)) {
            return Poll::Ready(0);
        }
        if !self.asked {
            self.asked = true;
            let options = self.options;
            execution::with(|execution| {
                let task = execution.current_task();
                execution.tasks[task.index()].choice = Choice::Asked(options);
                // The executor's next choice goes the cold way, which asks.
                execution.choices_asked += 1;
                execution.step_cold_at = 0;
            });
            execution::yield_current();
            return Poll::Pending;
        }
        let choice = execution::with(|execution| {
            let task = execution.current_task();
            std::mem::take(&mut execution.tasks[task.index()].choice)
        });
        match choice {
            Choice::Made(value) => Poll::Ready(value as usize),
            // Chosen when the task is chosen to run, which it was.
            Choice::None | Choice::Asked(_) => {
                unreachable!("racecheck internal error: a task resumed without its data choice")
            }
        }
    }
}

/// A scheduling point before a *synchronous* visible operation (an atomic
/// access, an immediate `Shared` access): at
/// [`Granularity::Step`](crate::Granularity::Step) the running task is
/// suspended here, still runnable, and the strategy chooses who performs the
/// next operation. At await granularity it does nothing: the code between
/// two awaits runs without interruption.
///
/// ```
/// use racecheck_runtime::{rt, Executor, Granularity, Limits, Scheduler};
/// use racecheck_trace::TaskId;
///
/// struct First;
/// impl Scheduler for First {
///     fn new_execution(&mut self, _: u64) -> bool { true }
///     fn next_task(&mut self, runnable: &[TaskId], _: Option<TaskId>) -> Option<TaskId> {
///         runnable.first().copied()
///     }
/// }
/// let mut executor = Executor::new(Limits { granularity: Granularity::Step, ..Limits::default() });
/// let outcome = executor.run(&|| async {
///     rt::sync_point(); // a step boundary at Step granularity
/// }, &mut First);
/// assert_eq!(outcome.steps, 2);
/// ```
#[inline]
pub fn sync_point() {
    execution::sync_point();
}

/// Whether a future polled with `cx` is polled by hand, inside an
/// execution: with a waker other than the running task's own (a noop
/// waker, `now_or_never`, a test's mock task). Such a poll passes its
/// scheduling point at once (see [`SchedulePoint`]).
///
/// ```
/// use std::task::{Context, Waker};
///
/// racecheck_runtime::run_once(|| async {
///     let by_hand = racecheck_runtime::rt::polled_by_hand(&Context::from_waker(Waker::noop()));
///     assert!(by_hand);
///     let awaited = std::future::poll_fn(|cx| {
///         std::task::Poll::Ready(racecheck_runtime::rt::polled_by_hand(cx))
///     });
///     assert!(!awaited.await);
/// });
/// assert!(!racecheck_runtime::rt::polled_by_hand(&Context::from_waker(Waker::noop())));
/// ```
#[inline]
pub fn polled_by_hand(cx: &Context<'_>) -> bool {
    execution::active() && !execution::polled_by_task(cx.waker())
}

/// Whether the running task can block inside a synchronous call: it is a
/// thread, or any task at [`Granularity::Step`](crate::Granularity::Step).
/// Blocking primitives use [`block_on`](crate::block_on) when it can, and
/// fall back to trying once when it cannot.
///
/// ```
/// racecheck_runtime::run_once(|| async {
///     assert!(!racecheck_runtime::rt::can_block());
///     racecheck_runtime::thread::spawn(|| assert!(racecheck_runtime::rt::can_block()));
/// });
/// ```
#[inline]
pub fn can_block() -> bool {
    crate::stackful::on_task_stack()
}

/// Attributes the running task's events (and the tasks and objects it
/// creates) to `source` instead of the Rust line that performs them, until
/// called again with `None`: for interpreters whose users' code is not
/// Rust, such as scenario files, so that reports name the scenario's line.
///
/// ```
/// use racecheck_trace::Location;
///
/// racecheck_runtime::run_once(|| async {
///     racecheck_runtime::rt::attribute_events_to(Some(Location::from_parts("bank.toml", 12, 5)));
///     racecheck_runtime::yield_now().await;
///     racecheck_runtime::rt::attribute_events_to(None);
/// });
/// ```
pub fn attribute_events_to(source: Option<Location>) {
    execution::with(|execution| {
        let task = execution.current_task();
        execution.tasks[task.index()].source = source;
        execution.source = source;
    });
}

/// Polls `future` with every scheduling point it reaches passed at once, so
/// that it gives other tasks a turn only where it blocks: for interpreters
/// of languages whose operations switch tasks only when they must wait, such
/// as asyncio, where `await lock.acquire()` on a free lock or
/// `await event.wait()` on a set event does not yield to the event loop.
/// Rust code keeps its points: a multi-threaded runtime can interleave
/// there.
///
/// The operation itself is the primitive's own, so its events and
/// happens-before edges are recorded as usual; only the scheduling point
/// before it is gone. Points reached by the future's later polls (after a
/// wake-up) pass at once as well. It works by polling `future` again
/// whenever it stops at a scheduling point (up to 1,000 times in one poll,
/// so that a spin loop of yields still switches), which leaves the hot path
/// of every other scheduling point untouched. Points are async scheduling
/// points: at [`Granularity::Step`](crate::Granularity::Step), the
/// synchronous points inside atomics and immediate accesses still switch.
///
/// ```
/// use racecheck_runtime::rt::{self, SchedulePoint};
/// use racecheck_runtime::{Executor, Limits, Scheduler};
/// use racecheck_trace::TaskId;
/// use std::future::poll_fn;
///
/// struct First;
/// impl Scheduler for First {
///     fn new_execution(&mut self, _: u64) -> bool { true }
///     fn next_task(&mut self, runnable: &[TaskId], _: Option<TaskId>) -> Option<TaskId> {
///         runnable.first().copied()
///     }
/// }
/// async fn point() {
///     let mut point = SchedulePoint::new();
///     poll_fn(|cx| point.poll_point(cx)).await
/// }
/// let mut executor = Executor::new(Limits::default());
/// let outcome = executor.run(&|| async {
///     point().await; // a scheduling point: the task's first step ends here
///     rt::without_schedule_points(point()).await; // passed at once
/// }, &mut First);
/// assert_eq!(outcome.steps, 2);
/// ```
pub async fn without_schedule_points<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        // Whether the task had passed a point before this poll: kept, so
        // that only the points of `future` are skipped.
        let yielded_before = execution::take_yielded();
        for _ in 0..SKIPPED_POINTS_MAX {
            // Points reached in this poll return `Pending` rather than
            // suspend the task's stack, so they can be skipped.
            let poll = {
                let _skipping = SkippingPoints::start();
                future.as_mut().poll(cx)
            };
            match poll {
                Poll::Ready(output) => {
                    if yielded_before {
                        execution::yield_current();
                    }
                    return Poll::Ready(output);
                }
                // Pending at a scheduling point (the task stays runnable):
                // pass it at once by polling again.
                Poll::Pending if execution::take_yielded() => continue,
                // Pending because it must wait: a real switch.
                Poll::Pending => {
                    if yielded_before {
                        execution::yield_current();
                    }
                    return Poll::Pending;
                }
            }
        }
        // A future that does nothing but pass points (a spin loop of
        // yields) gets its switch after all, so the step limit can catch it.
        execution::yield_current();
        Poll::Pending
    })
    .await
}

/// Scheduling points [`without_schedule_points`] passes in one poll before
/// it lets the task switch anyway.
const SKIPPED_POINTS_MAX: u32 = 1_000;

thread_local! {
    /// Set while [`without_schedule_points`] polls its future.
    static SKIPPING_POINTS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks a poll of [`without_schedule_points`]'s future, until dropped
/// (also when the poll panics).
struct SkippingPoints {
    before: bool,
}

impl SkippingPoints {
    fn start() -> SkippingPoints {
        SkippingPoints {
            before: SKIPPING_POINTS.replace(true),
        }
    }
}

impl Drop for SkippingPoints {
    fn drop(&mut self) {
        SKIPPING_POINTS.set(self.before);
    }
}

/// Whether [`without_schedule_points`] is polling the running future, so
/// its scheduling points must return `Pending` to be skipped.
#[inline]
fn skipping_points() -> bool {
    SKIPPING_POINTS.get()
}
