//! Tasks: spawning, joining, yielding.

use crate::execution::{self, BlockReason, TaskBody};
use crate::rt::SchedulePoint;
use racecheck_trace::{Location, Need, Op, TaskId, WaitTarget};
use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Spawns a task running `future` and returns a handle to await its output.
///
/// Like `tokio::spawn`, the task starts running without being awaited and
/// keeps running if the handle is dropped. Unlike tokio, the future need not
/// be `Send` (everything runs on the test's thread), and the task's name in
/// reports is `task-N`; use [`spawn_named`] to choose one.
///
/// ```
/// racecheck_runtime::run_once(|| async {
///     let handle = racecheck_runtime::spawn(async { 40 + 2 });
///     assert_eq!(handle.await, 42);
/// });
/// ```
#[track_caller]
#[inline]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    spawn_task(Cow::Borrowed(""), future, Location::caller())
}

/// Spawns a task with a name, shown in reports and timelines.
///
/// ```
/// racecheck_runtime::run_once(|| async {
///     let scraper = racecheck_runtime::spawn_named("scraper-1", async { "page" });
///     assert_eq!(scraper.await, "page");
/// });
/// ```
#[track_caller]
#[inline]
pub fn spawn_named<F>(name: impl Into<Cow<'static, str>>, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    spawn_task(name.into(), future, Location::caller())
}

#[inline]
#[track_caller]
fn spawn_task<F>(name: Cow<'static, str>, future: F, location: Location) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    let body = Spawned {
        future: Some(future),
    };
    add_task(TaskBody::Async(Box::pin(body)), name, location)
}

pin_project_lite::pin_project! {
    /// A spawned task's body: its future, whose output is filed for the
    /// `JoinHandle` when it completes. A named future rather than an `async`
    /// block, which would hold the future twice (as captured, and as
    /// awaited), moving it from one to the other at the first poll.
    struct Spawned<F> {
        #[pin]
        future: Option<F>,
    }
}

impl<F: Future> Future for Spawned<F>
where
    F::Output: 'static,
{
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut future = self.project().future;
        let running = future
            .as_mut()
            .as_pin_mut()
            .expect("racecheck internal error: a finished task was polled");
        let output = std::task::ready!(running.poll(cx));
        // Dropped inside the task's poll, before its output is filed, as
        // an `async` block awaiting it would: a destructor's events and
        // panics are the task's.
        future.set(None);
        finish_with(Box::new(output));
        Poll::Ready(())
    }
}

/// Files a finished task's output for its `JoinHandle` and wakes the task
/// waiting to join it.
pub(crate) fn finish_with(output: Box<dyn Any>) {
    let joiner = execution::with(|execution| {
        let task = execution.current_task();
        let slot = &mut execution.tasks[task.index()];
        slot.output = Some(output);
        slot.joiner.take()
    });
    if let Some(joiner) = joiner {
        joiner.wake();
    }
}

/// The id in the handle of a task spawned during a teardown, which never
/// runs: no execution has a task with this id.
const NEVER_RUN: TaskId = TaskId(u32::MAX);

/// The execution of such a handle: executions are numbered from 1.
const NO_EXECUTION: u64 = 0;

/// Adds a task to the current execution, records its spawn and returns its
/// handle. During the teardown the task is not added, and never runs.
#[track_caller]
pub(crate) fn add_task<T>(
    body: TaskBody,
    name: Cow<'static, str>,
    location: Location,
) -> JoinHandle<T> {
    // Spawning is visible (the child may run at once): at step
    // granularity, a scheduling point first.
    execution::sync_point();
    // A body that is not added is dropped after the borrow: its
    // destructors may use the runtime (release a permit, spawn again).
    let mut body = Some(body);
    let admitted = execution::with(|execution| {
        if let Err(refusal) = execution.admits_task(location) {
            if refusal.is_none() {
                execution.abandoned.extend(body.take());
            }
            return Err(refusal);
        }
        let location = execution.source_of(location);
        let body = body.take().expect("taken once");
        let task = execution.add_task(body, name, location);
        execution.record(Op::Spawn { child: task }, location);
        Ok((task, execution.id))
    });
    drop(body);
    let (task, execution) = match admitted {
        Ok(admitted) => admitted,
        Err(Some(error)) => panic!("{error}"),
        // Spawned by a destructor during the teardown: the task never runs,
        // as a task spawned on a runtime that is shutting down.
        Err(None) => (NEVER_RUN, NO_EXECUTION),
    };
    JoinHandle {
        task,
        execution,
        point: SchedulePoint::new(),
        location,
        done: false,
        output: PhantomData,
    }
}

/// An owned permission to await a spawned task's output.
///
/// Awaiting it is a scheduling point and yields the task's output `T`
/// directly: a panic in the task fails the whole execution, so there is no
/// `JoinError` to handle (tokio's `JoinHandle` yields `Result<T, JoinError>`).
/// Dropping the handle detaches the task; it keeps running. A task spawned
/// while its execution is torn down (by a destructor of a task dropped at
/// the end) never runs, as on a runtime that is shutting down: its body is
/// dropped, and its handle never completes.
///
/// ```
/// racecheck_runtime::run_once(|| async {
///     let handle = racecheck_runtime::spawn(async { 7 });
///     let id = handle.id();
///     assert_eq!(handle.await, 7);
///     assert_eq!(id.0, 1);
/// });
/// ```
pub struct JoinHandle<T> {
    task: TaskId,
    execution: u64,
    point: SchedulePoint,
    location: Location,
    done: bool,
    output: PhantomData<fn() -> T>,
}

impl<T> JoinHandle<T> {
    /// The spawned task's id.
    pub fn id(&self) -> TaskId {
        self.task
    }

    /// Whether the task has finished. Looking is a visible operation, with
    /// a scheduling point before it at
    /// [`Granularity::Step`](crate::Granularity::Step): it reads the task's
    /// end, so the exhaustive search tries the task's end on either side of
    /// it, and a task found finished is known to the looker as after a
    /// join.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// racecheck_runtime::run_once(|| async {
    ///     let worker = racecheck_runtime::spawn(async {});
    ///     assert!(!worker.is_finished(), "not run yet");
    ///     racecheck_runtime::time::sleep(Duration::from_millis(1)).await;
    ///     assert!(worker.is_finished());
    /// });
    /// ```
    #[track_caller]
    pub fn is_finished(&self) -> bool {
        self.done || execution::look(self.task, Some(self.execution), Location::caller())
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("task", &self.task)
            .finish()
    }
}

impl<T> Unpin for JoinHandle<T> {}

impl<T: 'static> JoinHandle<T> {
    /// The task's output if it has finished, without waiting: the join is
    /// recorded as when awaiting the handle. `None` while the task runs,
    /// recorded as a look that found it running (as
    /// [`is_finished`](Self::is_finished)). A scheduling point comes
    /// first at [`Granularity::Step`](crate::Granularity::Step).
    ///
    /// # Panics
    /// With a handle from another execution.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// racecheck_runtime::run_once(|| async {
    ///     let mut worker = racecheck_runtime::spawn(async { 3 });
    ///     assert_eq!(worker.try_join(), None, "not run yet");
    ///     racecheck_runtime::time::sleep(Duration::from_millis(1)).await;
    ///     assert_eq!(worker.try_join(), Some(3));
    /// });
    /// ```
    #[track_caller]
    pub fn try_join(&mut self) -> Option<T> {
        execution::sync_point();
        let output = self.try_join_at(Location::caller())?;
        let output = output
            .downcast::<T>()
            .expect("racecheck internal error: a task's output has another type");
        Some(*output)
    }
}

impl<T> JoinHandle<T> {
    /// [`try_join`](Self::try_join) with the output left as a `Box<dyn
    /// Any>`, and without the scheduling point: for a handle being
    /// dropped, which needs no `T: 'static` to drop what the task returned
    /// (tokio drops a finished task's output with its handle). `None` once
    /// the output was taken, and outside an active execution (a handle
    /// dropped after its execution ended).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// racecheck_runtime::run_once(|| async {
    ///     let mut worker = racecheck_runtime::spawn(async { String::from("output") });
    ///     racecheck_runtime::time::sleep(Duration::from_millis(1)).await;
    ///     let output = worker.try_join_erased().expect("finished");
    ///     assert_eq!(output.downcast_ref::<String>().unwrap(), "output");
    ///     assert!(worker.try_join_erased().is_none());
    /// });
    /// ```
    #[track_caller]
    pub fn try_join_erased(&mut self) -> Option<Box<dyn std::any::Any>> {
        self.try_join_at(Location::caller())
    }

    /// Takes the output if the task has finished, recording the join at
    /// `location`, or records that it was found running.
    fn try_join_at(&mut self, location: Location) -> Option<Box<dyn std::any::Any>> {
        if self.done {
            return None;
        }
        let (target, from) = (self.task, self.execution);
        let output = execution::with_active(|execution| {
            assert!(
                execution.id == from,
                "racecheck: a JoinHandle from another execution was joined at {location}"
            );
            execution.current?;
            let Some(output) = execution.tasks[target.index()].output.take() else {
                execution.record(Op::FoundRunning { target }, location);
                return None;
            };
            execution.record(Op::Join { target }, location);
            Some(output)
        })??;
        self.done = true;
        Some(output)
    }
}

impl<T: 'static> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        assert!(!this.done, "racecheck: JoinHandle polled after completion");
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let (target, location) = (this.task, this.location);
        let output = execution::with(|execution| {
            assert!(
                execution.id == this.execution,
                "racecheck: a JoinHandle from another execution was awaited at {location}"
            );
            let slot = &mut execution.tasks[target.index()];
            if let Some(output) = slot.output.take() {
                execution.record(Op::Join { target }, location);
                return Some(output);
            }
            slot.joiner = Some(cx.waker().clone());
            let on = WaitTarget::Task(target);
            let need = Need::Unstated;
            execution.record(Op::Block { on, need }, location);
            let current = execution.current_task();
            execution.tasks[current.index()].block_reason = BlockReason::Wait(on);
            None
        });
        match output {
            Some(output) => {
                this.done = true;
                let output = output
                    .downcast::<T>()
                    .expect("racecheck internal error: a task's output has another type");
                Poll::Ready(*output)
            }
            None => Poll::Pending,
        }
    }
}

/// Yields to the scheduler: another runnable task may run before this one
/// resumes.
///
/// ```
/// racecheck_runtime::run_once(|| async {
///     racecheck_runtime::yield_now().await;
/// });
/// ```
#[track_caller]
pub fn yield_now() -> YieldNow {
    YieldNow {
        yielded: false,
        location: Location::caller(),
    }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
    location: Location,
}

impl Future for YieldNow {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.yielded {
            return Poll::Ready(());
        }
        this.yielded = true;
        yield_at(this.location);
        Poll::Pending
    }
}

/// Records the running task's yield at `location` and passes the
/// scheduling point. Out of line, so that the poll that returns `Ready`
/// after it costs its caller a test, not a call.
#[inline(never)]
fn yield_at(location: Location) {
    execution::with(|execution| execution.record(Op::Yield, location));
    execution::yield_current();
}
