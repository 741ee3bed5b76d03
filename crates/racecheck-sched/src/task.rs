//! Tasks: spawning, joining, yielding.

use crate::execution::{self, BlockReason};
use crate::rt::SchedulePoint;
use racecheck_trace::{Location, Op, TaskId, WaitTarget};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// Spawns a task running `future` and returns a handle to await its output.
///
/// Like `tokio::spawn`, the task starts running without being awaited and
/// keeps running if the handle is dropped. Unlike tokio, the future need not
/// be `Send` (everything runs on the test's thread), and the task's name in
/// reports is `task-N`; use [`spawn_named`] to choose one.
///
/// ```
/// racecheck_sched::explore(&Default::default(), || async {
///     let handle = racecheck_sched::spawn(async { 40 + 2 });
///     assert_eq!(handle.await, 42);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    spawn_task(Cow::Borrowed(""), future, Location::caller())
}

/// Spawns a task with a name, shown in reports and timelines.
///
/// ```
/// racecheck_sched::explore(&Default::default(), || async {
///     let scraper = racecheck_sched::spawn_named("scraper-1", async { "page" });
///     assert_eq!(scraper.await, "page");
/// });
/// ```
#[track_caller]
pub fn spawn_named<F>(name: impl Into<Cow<'static, str>>, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    spawn_task(name.into(), future, Location::caller())
}

fn spawn_task<F>(name: Cow<'static, str>, future: F, location: Location) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    let output = Arc::new(Mutex::new(JoinSlot {
        output: None,
        joiner: None,
    }));
    let slot = output.clone();
    let body = async move {
        let value = future.await;
        let joiner = {
            let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
            slot.output = Some(value);
            slot.joiner.take()
        };
        if let Some(joiner) = joiner {
            joiner.wake();
        }
    };
    let task = execution::with(|execution| {
        assert!(
            execution.active,
            "racecheck: spawn called outside a racecheck execution (at {location})"
        );
        let task = execution.add_task(Box::pin(body), name, location);
        execution.record(Op::Spawn { child: task }, location);
        task
    });
    JoinHandle {
        task,
        output,
        point: SchedulePoint::new(),
        location,
        done: false,
    }
}

struct JoinSlot<T> {
    output: Option<T>,
    joiner: Option<Waker>,
}

/// An owned permission to await a spawned task's output.
///
/// Awaiting it is a scheduling point and yields the task's output `T`
/// directly: a panic in the task fails the whole execution, so there is no
/// `JoinError` to handle (tokio's `JoinHandle` yields `Result<T, JoinError>`).
///
/// ```
/// racecheck_sched::explore(&Default::default(), || async {
///     let handle = racecheck_sched::spawn(async { 7 });
///     let id = handle.id();
///     assert_eq!(handle.await, 7);
///     assert_eq!(id.0, 1);
/// });
/// ```
pub struct JoinHandle<T> {
    task: TaskId,
    output: Arc<Mutex<JoinSlot<T>>>,
    point: SchedulePoint,
    location: Location,
    done: bool,
}

impl<T> JoinHandle<T> {
    /// The spawned task's id.
    pub fn id(&self) -> TaskId {
        self.task
    }

    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        let slot = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        slot.output.is_some() || self.done
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

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        assert!(!this.done, "racecheck: JoinHandle polled after completion");
        if this.point.poll_point().is_pending() {
            return Poll::Pending;
        }
        let mut slot = this.output.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(output) = slot.output.take() {
            drop(slot);
            this.done = true;
            let target = this.task;
            execution::with(|execution| execution.record(Op::Join { target }, this.location));
            return Poll::Ready(output);
        }
        slot.joiner = Some(cx.waker().clone());
        drop(slot);
        let on = WaitTarget::Task(this.task);
        execution::with(|execution| {
            execution.record(Op::Block { on }, this.location);
            let current = execution.current_task();
            execution.tasks[current.index()].block_reason = BlockReason::Wait(on);
        });
        Poll::Pending
    }
}

/// Yields to the scheduler: another runnable task may run before this one
/// resumes.
///
/// ```
/// racecheck_sched::explore(&Default::default(), || async {
///     racecheck_sched::yield_now().await;
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

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.yielded {
            return Poll::Ready(());
        }
        this.yielded = true;
        let location = this.location;
        execution::with(|execution| execution.record(Op::Yield, location));
        execution::yield_current();
        Poll::Pending
    }
}
