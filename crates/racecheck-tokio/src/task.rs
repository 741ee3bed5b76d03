//! `tokio::task` on racecheck: spawning, joining, aborting, yielding.
//!
//! Every task is a racecheck task: the scheduler decides when it runs, its
//! operations are recorded, and the detector sees them. As in tokio, and
//! unlike racecheck's own `JoinHandle`, awaiting a [`JoinHandle`] gives
//! `Result<T, JoinError>`: a task that panicked or was aborted completes
//! with a [`JoinError`] for whoever joins it, and the exploration goes on.
//! A panic in a task that nobody joins is silent, as in tokio.
//!
//! ```
//! use racecheck_tokio::runtime::Runtime;
//!
//! Runtime::new().unwrap().block_on(async {
//!     let answer = racecheck_tokio::spawn(async { 6 * 7 });
//!     assert_eq!(answer.await.unwrap(), 42);
//!     let failed = racecheck_tokio::spawn(async { panic!("boom") });
//!     assert!(failed.await.unwrap_err().is_panic());
//! });
//! ```

pub mod coop;
mod join_set;
mod local_set;
/// What `task_local!` expands to. Not public API.
#[doc(hidden)]
pub mod task_local;

pub use coop::{consume_budget, unconstrained};
pub use join_set::JoinSet;
pub use local_set::{LocalEnterGuard, LocalSet};
pub use task_local::{AccessError, LocalKey};

/// Named future types of `tokio::task`.
pub mod futures {
    pub use super::task_local::TaskLocalFuture;
}

use racecheck::TaskId;
use racecheck_runtime::{block_on, catch_unwind, catching, drop_catching, PanicPayload};
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::task::{ready, Context, Poll};

thread_local! {
    /// Whether a panic in a spawned task fails the execution instead of
    /// becoming a `JoinError`: tokio's `unhandled_panic = "shutdown_runtime"`.
    static PANICS_FAIL: Cell<bool> = const { Cell::new(false) };
    /// The task whose output a dropped `JoinHandle` is dropping: its id is
    /// the current one meanwhile, as in tokio.
    static DROPPING_OUTPUT_OF: Cell<Option<Id>> = const { Cell::new(None) };
}

/// Makes panics in tasks spawned on this thread fail the execution (or
/// become `JoinError`s again) until the returned guard is dropped.
pub(crate) fn panics_fail(fail: bool) -> PanicModeGuard {
    PanicModeGuard {
        was: PANICS_FAIL.replace(fail),
    }
}

/// Restores the panic mode of [`panics_fail`].
pub(crate) struct PanicModeGuard {
    was: bool,
}

impl Drop for PanicModeGuard {
    fn drop(&mut self) {
        PANICS_FAIL.set(self.was);
    }
}

/// Runs a simulated thread's `body` as `spawn_blocking` does: its panic
/// becomes the task's output, unless panics fail the execution.
fn run_catching<R>(body: impl FnOnce() -> R) -> Result<R, PanicPayload> {
    if PANICS_FAIL.get() {
        Ok(body())
    } else {
        block_on(catch_unwind(async move { body() }))
    }
}

/// Yields to the scheduler: another task may run before this one resumes.
pub use racecheck_runtime::yield_now;

/// A task's id, unique among the tasks of one execution.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// Runtime::new().unwrap().block_on(async {
///     let worker = racecheck_tokio::spawn(async { racecheck_tokio::task::id() });
///     let id = worker.id();
///     assert_eq!(worker.await.unwrap(), id);
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(u64);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Id {
    fn of(task: racecheck::TaskId) -> Id {
        Id(u64::from(task.0))
    }
}

/// The id of the running task.
///
/// # Panics
/// Outside a spawned task, as in tokio: in the future of
/// `Runtime::block_on` and in a `#[tokio::test]` body, which are not tasks.
#[track_caller]
pub fn id() -> Id {
    try_id().expect("Can't get a task id when not inside a task")
}

/// The id of the running task, or `None` outside a spawned one (in the
/// future of `Runtime::block_on` or a test body too, as in tokio).
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// Runtime::new().unwrap().block_on(async {
///     assert_eq!(racecheck_tokio::task::try_id(), None);
///     let worker = racecheck_tokio::spawn(async { racecheck_tokio::task::try_id() });
///     let id = worker.id();
///     assert_eq!(worker.await.unwrap(), Some(id));
/// });
/// ```
pub fn try_id() -> Option<Id> {
    if let Some(id) = DROPPING_OUTPUT_OF.get() {
        return Some(id);
    }
    racecheck_runtime::rt::try_current_task()
        .filter(|&task| task != racecheck::TaskId::ROOT)
        .map(Id::of)
}

/// Whether a task was aborted, whether it has lost its handle. Flags,
/// so that a poll reads them without a lock.
#[derive(Default)]
struct AbortState {
    aborted: AtomicBool,
    /// The `JoinHandle` was dropped: nobody will take the output, so the
    /// task drops it when it finishes.
    detached: AtomicBool,
    /// An abort wakes the task so that its next poll sees it: a task's, not
    /// a `spawn_blocking` thread's, which only looks before it starts.
    wakes_on_abort: bool,
}

/// Shared between a task's wrapper and its handles.
#[derive(Clone)]
struct Control(Arc<AbortState>);

impl Control {
    /// The control of a task, which an abort wakes.
    fn of_task() -> Control {
        Control(Arc::new(AbortState {
            wakes_on_abort: true,
            ..AbortState::default()
        }))
    }

    /// The control of a `spawn_blocking` thread.
    fn of_thread() -> Control {
        Control(Arc::default())
    }

    /// Cancels `task` at its next poll (a task), or before it starts (a
    /// thread).
    fn abort(&self, task: TaskId) {
        self.0.aborted.store(true, Ordering::Release);
        if self.0.wakes_on_abort {
            racecheck_runtime::rt::wake(task);
        }
    }

    #[inline]
    fn aborted(&self) -> bool {
        self.0.aborted.load(Ordering::Acquire)
    }
}

pin_project_lite::pin_project! {
    /// A task's future as tokio runs it, in one wrapper so that a poll costs
    /// little over the future's own: cancelled at its next poll once
    /// aborted (the future is dropped inside the task, as tokio drops an
    /// aborted task's future), its panic caught as the task's output
    /// unless panics fail the execution, its output dropped inside the task
    /// when no handle will take it.
    struct TaskBody<F> {
        #[pin]
        future: Option<F>,
        control: Control,
        // Panics become `JoinError`s (tokio's default), or fail the
        // execution (`unhandled_panic = "shutdown_runtime"`).
        catch_panics: bool,
    }
}

impl<F: Future> TaskBody<F> {
    fn new(future: F, control: Control) -> Self {
        TaskBody {
            future: Some(future),
            control,
            catch_panics: !PANICS_FAIL.get(),
        }
    }
}

impl<F: Future> Future for TaskBody<F> {
    type Output = TaskOutput<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let aborted = this.control.aborted();
        let future = this.future.as_mut().as_pin_mut().filter(|_| !aborted);
        let Some(future) = future else {
            // Cancelled: the future is dropped here, and a panic of its drop
            // is the task's, as in tokio.
            let mut slot = this.future;
            if !*this.catch_panics {
                slot.set(None);
            } else if let Err(payload) = catching(|| slot.set(None)) {
                return Poll::Ready(Err(payload));
            }
            return Poll::Ready(Ok(None));
        };
        let output = if *this.catch_panics {
            match catching(|| future.poll(cx)) {
                Ok(polled) => ready!(polled),
                Err(payload) => {
                    drop_catching(this.future);
                    return Poll::Ready(Err(payload));
                }
            }
        } else {
            ready!(future.poll(cx))
        };
        this.future.set(None);
        if this.control.0.detached.load(Ordering::Acquire) {
            // As in tokio: no handle will take it, so the output is
            // dropped here, inside the task (`task::id()` is the task's).
            drop(output);
            return Poll::Ready(Ok(None));
        }
        Poll::Ready(Ok(Some(output)))
    }
}

/// Spawns a task, like `tokio::spawn`: it starts without being awaited and
/// keeps running if the handle is dropped.
///
/// Unlike tokio, the future need not be `Send`: everything runs on the
/// test's thread.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// Runtime::new().unwrap().block_on(async {
///     let handle = racecheck_tokio::task::spawn(async { "done" });
///     assert_eq!(handle.await.unwrap(), "done");
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let control = Control::of_task();
    let task = TaskBody::new(future, control.clone());
    JoinHandle::new(racecheck_runtime::spawn(task), control)
}

/// Spawns a task on the current thread, like `tokio::task::spawn_local`.
/// Every racecheck task runs on the test's thread, so this is [`spawn`],
/// and no `LocalSet` is needed.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use std::rc::Rc;
///
/// Runtime::new().unwrap().block_on(async {
///     let local = Rc::new(5);
///     let handle = racecheck_tokio::task::spawn_local(async move { *local + 1 });
///     assert_eq!(handle.await.unwrap(), 6);
/// });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn(future)
}

/// Runs a blocking closure on a simulated thread, like
/// `tokio::task::spawn_blocking`: blocking racecheck primitives
/// (`racecheck::sync::blocking`, `Handle::block_on`) suspend it, and the
/// scheduler interleaves it with the async tasks. Aborting it before it
/// starts keeps it from running; once started it runs to the end.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// Runtime::new().unwrap().block_on(async {
///     let sum = racecheck_tokio::task::spawn_blocking(|| (1..=10).sum::<u32>());
///     assert_eq!(sum.await.unwrap(), 55);
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(body: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let control = Control::of_thread();
    let thread_control = control.clone();
    let thread = racecheck_runtime::thread::spawn(move || {
        let control = thread_control;
        if control.aborted() {
            return Ok(None);
        }
        run_catching(body).map(Some)
    });
    JoinHandle::new(thread.into_future(), control)
}

/// Runs `body` on the current task, like `tokio::task::block_in_place`:
/// blocking primitives inside it suspend the task.
///
/// # Panics
/// In a task at await granularity (`flavor = "current_thread"`, a
/// current-thread `Runtime`), with tokio's message: tokio's current-thread
/// runtime cannot give its only thread away.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// Runtime::new().unwrap().block_on(async {
///     assert_eq!(racecheck_tokio::task::block_in_place(|| 2 + 2), 4);
/// });
/// ```
#[track_caller]
pub fn block_in_place<F: FnOnce() -> R, R>(body: F) -> R {
    let in_task = racecheck_runtime::rt::try_current_task().is_some();
    assert!(
        !in_task || racecheck_runtime::rt::can_block(),
        "can call blocking only when running on the multi-threaded runtime"
    );
    body()
}

/// The racecheck task's output: `None` if it was aborted, `Err` if it
/// panicked.
type TaskOutput<T> = Result<Option<T>, PanicPayload>;

/// An owned permission to join a task, like `tokio::task::JoinHandle`:
/// awaiting it gives the task's output or a [`JoinError`]. Dropping it
/// detaches the task.
pub struct JoinHandle<T> {
    inner: racecheck_runtime::JoinHandle<TaskOutput<T>>,
    control: Control,
    id: Id,
}

impl<T> JoinHandle<T> {
    fn new(inner: racecheck_runtime::JoinHandle<TaskOutput<T>>, control: Control) -> Self {
        let id = Id::of(inner.id());
        JoinHandle { inner, control, id }
    }

    /// Cancels the task: it is dropped at its next scheduling point (or
    /// never runs, if it has not started), and awaiting the handle gives a
    /// [`JoinError`] that [`is_cancelled`](JoinError::is_cancelled). A task
    /// that finishes first is not affected.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use std::time::Duration;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let sleeper = racecheck_tokio::spawn(racecheck_tokio::time::sleep(Duration::from_secs(60)));
    ///     sleeper.abort();
    ///     assert!(sleeper.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        self.control.abort(self.inner.id());
    }

    /// A handle that can abort the task without owning its output.
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            control: self.control.clone(),
            task: self.inner.id(),
        }
    }

    /// Whether the task has finished (returned, panicked or been
    /// cancelled).
    #[track_caller]
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.id
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id).finish()
    }
}

impl<T> Unpin for JoinHandle<T> {}

impl<T: 'static> JoinHandle<T> {
    /// The task's result if it has finished, without waiting (for
    /// `JoinSet::try_join_next`): a look at the task's end, recorded.
    #[track_caller]
    pub(crate) fn try_join(&mut self) -> Option<Result<T, JoinError>> {
        let output = self.inner.try_join()?;
        Some(self.result(output))
    }

    fn result(&self, output: TaskOutput<T>) -> Result<T, JoinError> {
        match output {
            Ok(Some(output)) => Ok(output),
            Ok(None) => Err(JoinError::cancelled(self.id)),
            Err(payload) => Err(JoinError::panic(self.id, payload)),
        }
    }
}

impl<T: 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let output = ready!(Pin::new(&mut this.inner).poll(cx));
        Poll::Ready(this.result(output))
    }
}

impl<T> Drop for JoinHandle<T> {
    /// As in tokio: a task that has finished has its output dropped here,
    /// with its id current; one still running drops it when it finishes.
    ///
    /// Where the output is dropped is visible only when dropping it does
    /// something: then the drop looks at the task's end (recorded, so the
    /// exhaustive search tries the task's end on either side of it).
    fn drop(&mut self) {
        self.control.0.detached.store(true, Ordering::Release);
        if !std::mem::needs_drop::<T>() {
            return;
        }
        if let Some(output) = self.inner.try_join_erased() {
            let outer = DROPPING_OUTPUT_OF.replace(Some(self.id));
            drop(output);
            DROPPING_OUTPUT_OF.set(outer);
        }
    }
}

/// Aborts a task without owning its output, like `tokio::task::AbortHandle`.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// Runtime::new().unwrap().block_on(async {
///     let handle = racecheck_tokio::spawn(std::future::pending::<()>());
///     let abort = handle.abort_handle();
///     abort.abort();
///     assert!(handle.await.unwrap_err().is_cancelled());
///     assert!(abort.is_finished());
/// });
/// ```
#[derive(Clone)]
pub struct AbortHandle {
    control: Control,
    task: TaskId,
}

impl AbortHandle {
    /// Cancels the task, as [`JoinHandle::abort`].
    pub fn abort(&self) {
        self.control.abort(self.task);
    }

    /// Whether the task has finished (returned, panicked or been
    /// cancelled).
    #[track_caller]
    pub fn is_finished(&self) -> bool {
        racecheck_runtime::rt::is_finished(self.task)
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        Id::of(self.task)
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}

/// A task failed to return a value: it panicked or was cancelled, like
/// `tokio::task::JoinError`.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// Runtime::new().unwrap().block_on(async {
///     let error = racecheck_tokio::spawn(async { panic!("boom") }).await.unwrap_err();
///     assert!(error.is_panic() && !error.is_cancelled());
///     assert_eq!(error.into_panic().downcast_ref::<&str>(), Some(&"boom"));
/// });
/// ```
pub struct JoinError {
    id: Id,
    /// The panic's payload; `None` for a cancelled task. In a mutex so that
    /// `JoinError` is `Sync`, as tokio's is.
    panic: Option<StdMutex<PanicPayload>>,
}

impl JoinError {
    fn cancelled(id: Id) -> JoinError {
        JoinError { id, panic: None }
    }

    fn panic(id: Id, payload: PanicPayload) -> JoinError {
        JoinError {
            id,
            panic: Some(StdMutex::new(payload)),
        }
    }

    /// Whether the task was cancelled (aborted).
    pub fn is_cancelled(&self) -> bool {
        self.panic.is_none()
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        self.panic.is_some()
    }

    /// The panic's payload, to resume it with `std::panic::resume_unwind`.
    ///
    /// # Panics
    /// If the task was cancelled rather than panicking.
    #[track_caller]
    pub fn into_panic(self) -> PanicPayload {
        self.try_into_panic()
            .expect("`JoinError` reason is not a panic.")
    }

    /// The panic's payload, or the error itself if the task was cancelled.
    pub fn try_into_panic(self) -> Result<PanicPayload, JoinError> {
        match self.panic {
            Some(payload) => Ok(payload.into_inner().unwrap_or_else(PoisonError::into_inner)),
            None => Err(self),
        }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> Id {
        self.id
    }

    fn message(&self) -> Option<String> {
        let payload = self.panic.as_ref()?;
        let payload = payload.lock().unwrap_or_else(PoisonError::into_inner);
        payload
            .downcast_ref::<&str>()
            .map(|message| message.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.panic, self.message()) {
            (None, _) => write!(f, "task {} was cancelled", self.id),
            (Some(_), Some(message)) => {
                write!(f, "task {} panicked with message {message:?}", self.id)
            }
            (Some(_), None) => write!(f, "task {} panicked", self.id),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.panic, self.message()) {
            (None, _) => write!(f, "JoinError::Cancelled({:?})", self.id),
            (Some(_), Some(message)) => {
                write!(f, "JoinError::Panic({:?}, {message:?}, ...)", self.id)
            }
            (Some(_), None) => write!(f, "JoinError::Panic({:?}, ...)", self.id),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(error: JoinError) -> std::io::Error {
        std::io::Error::other(error.to_string())
    }
}
