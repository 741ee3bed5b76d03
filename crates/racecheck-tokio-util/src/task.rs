//! `tokio_util::task` on racecheck: [`TaskTracker`].
//!
//! A tracker's state (closed or open, how many tasks it tracks) is the value
//! of a racecheck `watch` channel; every change reads it and sends the new
//! value in one operation (`send_if_modified`), so the semantics and
//! the happens-before edges are the channel's:
//! - A task is tracked from [`TaskTracker::spawn`] (or
//!   [`TaskTracker::token`]) until it finishes (its token drops).
//! - [`TaskTracker::wait`]`.await` is a scheduling point; it returns once
//!   the tracker is closed and tracks no task, at once if it is already.
//! - Happens-before: each tracked task's exit → the `wait()` that returns
//!   (the exits form a chain through the state: each change reads the
//!   previous one), and `close()` → that `wait()`.
//!
//! ```
//! use racecheck_tokio::runtime::Runtime;
//! use racecheck_tokio_util::task::TaskTracker;
//!
//! Runtime::new().unwrap().block_on(async {
//!     let tracker = TaskTracker::new();
//!     for worker in 0..3 {
//!         tracker.spawn(async move { worker * 2 });
//!     }
//!     tracker.close();
//!     tracker.wait().await;
//!     assert!(tracker.is_empty());
//! });
//! ```

use racecheck_sync::watch;
use racecheck_tokio::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Tracks tasks so that one can wait for all of them to finish, like
/// `tokio_util::task::TaskTracker`. Clones share one tracker.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio_util::task::TaskTracker;
///
/// Runtime::new().unwrap().block_on(async {
///     let tracker = TaskTracker::new();
///     let handle = tracker.spawn(async { 5 });
///     assert_eq!(handle.await.unwrap(), 5);
///     tracker.close();
///     tracker.wait().await;
/// });
/// ```
#[derive(Clone)]
pub struct TaskTracker {
    state: Arc<watch::Sender<State>>,
}

/// What a tracker's channel holds.
#[derive(Clone, Copy, Debug)]
struct State {
    closed: bool,
    tasks: usize,
}

impl State {
    fn is_done(self) -> bool {
        self.closed && self.tasks == 0
    }
}

impl TaskTracker {
    /// A new, open tracker tracking no task.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     assert!(!tracker.is_closed() && tracker.is_empty());
    /// });
    /// ```
    #[track_caller]
    pub fn new() -> TaskTracker {
        let state = State {
            closed: false,
            tasks: 0,
        };
        TaskTracker {
            state: Arc::new(watch::channel(state).0),
        }
    }

    /// Reads the state, changes it, and sends it if `change` says it
    /// changed, as one operation (no scheduling point in between, so two
    /// tasks ending at once both count); returns that.
    #[track_caller]
    fn update(&self, change: impl FnOnce(&mut State) -> bool) -> bool {
        self.state.send_if_modified(change)
    }

    #[track_caller]
    fn state(&self) -> State {
        *self.state.borrow()
    }

    /// Waits until the tracker is closed and tracks no task.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     tracker.spawn(racecheck_tokio::task::yield_now());
    ///     tracker.close();
    ///     tracker.wait().await;
    ///     assert_eq!(tracker.len(), 0);
    /// });
    /// ```
    #[track_caller]
    pub fn wait(&self) -> TaskTrackerWaitFuture<'_> {
        let mut updates = self.state.subscribe();
        TaskTrackerWaitFuture {
            inner: Box::pin(async move {
                while !updates.borrow_and_update().is_done() {
                    // The sender lives in the tracker, which outlives this
                    // borrow of it: `changed` never fails here.
                    let _ = updates.changed().await;
                }
            }),
        }
    }

    /// Closes the tracker, so that [`wait`](Self::wait) can return once it
    /// tracks no task; whether it was open. Tasks can still be spawned on
    /// a closed tracker.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     assert!(tracker.close());
    ///     assert!(!tracker.close());
    /// });
    /// ```
    #[track_caller]
    pub fn close(&self) -> bool {
        self.update(|state| !std::mem::replace(&mut state.closed, true))
    }

    /// Opens the tracker again; whether it was closed.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     tracker.close();
    ///     assert!(tracker.reopen());
    ///     assert!(!tracker.is_closed());
    /// });
    /// ```
    #[track_caller]
    pub fn reopen(&self) -> bool {
        self.update(|state| std::mem::replace(&mut state.closed, false))
    }

    /// Whether the tracker is closed.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     tracker.close();
    ///     assert!(tracker.is_closed());
    /// });
    /// ```
    #[must_use]
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// How many tasks the tracker tracks.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     let token = tracker.token();
    ///     assert_eq!(tracker.len(), 1);
    ///     drop(token);
    ///     assert_eq!(tracker.len(), 0);
    /// });
    /// ```
    #[must_use]
    #[track_caller]
    pub fn len(&self) -> usize {
        self.state().tasks
    }

    /// Whether the tracker tracks no task.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     assert!(TaskTracker::new().is_empty());
    /// });
    /// ```
    #[must_use]
    #[track_caller]
    pub fn is_empty(&self) -> bool {
        self.state().tasks == 0
    }

    /// Spawns `task`, tracked until it finishes, like `tokio::spawn`.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     assert_eq!(tracker.spawn(async { 1 }).await.unwrap(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        racecheck_tokio::task::spawn(self.track_future(task))
    }

    /// Spawns `task` on the current thread, tracked until it finishes, like
    /// `tokio::task::spawn_local`.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    /// use std::rc::Rc;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     let local = Rc::new(2);
    ///     assert_eq!(tracker.spawn_local(async move { *local }).await.unwrap(), 2);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        racecheck_tokio::task::spawn_local(self.track_future(task))
    }

    /// Runs `task` on a simulated thread, tracked until it returns, like
    /// `tokio::task::spawn_blocking`.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     assert_eq!(tracker.spawn_blocking(|| 3).await.unwrap(), 3);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, T>(&self, task: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let token = self.token();
        racecheck_tokio::task::spawn_blocking(move || {
            let output = task();
            drop(token);
            output
        })
    }

    /// Wraps `future` so that it is tracked until it completes or is
    /// dropped.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     let tracked = tracker.track_future(async { 4 });
    ///     assert_eq!(tracker.len(), 1);
    ///     assert_eq!(tracked.await, 4);
    ///     assert_eq!(tracker.len(), 0);
    /// });
    /// ```
    #[track_caller]
    pub fn track_future<F: Future>(&self, future: F) -> TrackedFuture<F> {
        TrackedFuture {
            future: Box::pin(future),
            token: Some(self.token()),
        }
    }

    /// A token that counts as one tracked task until it is dropped.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     let token = tracker.token();
    ///     assert_eq!(tracker.len(), 1);
    ///     assert!(token.task_tracker().is_empty() == false);
    /// });
    /// ```
    #[track_caller]
    pub fn token(&self) -> TaskTrackerToken {
        self.update(|state| {
            state.tasks += 1;
            true
        });
        TaskTrackerToken {
            tracker: self.clone(),
        }
    }

    /// Whether both are clones of one tracker.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     assert!(TaskTracker::ptr_eq(&tracker, &tracker.clone()));
    ///     assert!(!TaskTracker::ptr_eq(&tracker, &TaskTracker::new()));
    /// });
    /// ```
    pub fn ptr_eq(left: &TaskTracker, right: &TaskTracker) -> bool {
        Arc::ptr_eq(&left.state, &right.state)
    }
}

impl Default for TaskTracker {
    #[track_caller]
    fn default() -> Self {
        TaskTracker::new()
    }
}

impl fmt::Debug for TaskTracker {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        formatter
            .debug_struct("TaskTracker")
            .field("len", &state.tasks)
            .field("is_closed", &state.closed)
            .finish()
    }
}

/// One tracked task of a [`TaskTracker`], until it is dropped. Cloning it
/// tracks one more.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio_util::task::TaskTracker;
///
/// Runtime::new().unwrap().block_on(async {
///     let tracker = TaskTracker::new();
///     let token = tracker.token();
///     let again = token.clone();
///     assert_eq!(tracker.len(), 2);
///     drop((token, again));
///     assert!(tracker.is_empty());
/// });
/// ```
#[must_use = "the task is tracked only while the token lives"]
pub struct TaskTrackerToken {
    tracker: TaskTracker,
}

impl TaskTrackerToken {
    /// The tracker this token counts in.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::task::TaskTracker;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     let token = tracker.token();
    ///     assert!(TaskTracker::ptr_eq(token.task_tracker(), &tracker));
    /// });
    /// ```
    pub fn task_tracker(&self) -> &TaskTracker {
        &self.tracker
    }
}

impl Clone for TaskTrackerToken {
    #[track_caller]
    fn clone(&self) -> Self {
        self.tracker.token()
    }
}

impl Drop for TaskTrackerToken {
    fn drop(&mut self) {
        self.tracker.update(|state| {
            state.tasks -= 1;
            true
        });
    }
}

impl fmt::Debug for TaskTrackerToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TaskTrackerToken")
            .field("tracker", &self.tracker)
            .finish()
    }
}

/// A future tracked by a [`TaskTracker`] until it completes or is dropped.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio_util::task::{TaskTracker, TrackedFuture};
///
/// Runtime::new().unwrap().block_on(async {
///     let tracker = TaskTracker::new();
///     let tracked: TrackedFuture<_> = tracker.track_future(async { "done" });
///     drop(tracked);
///     assert!(tracker.is_empty());
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct TrackedFuture<F> {
    future: Pin<Box<F>>,
    /// Dropped when the future completes, in the completing task's step.
    token: Option<TaskTrackerToken>,
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<F::Output> {
        let output = std::task::ready!(self.future.as_mut().poll(context));
        self.token = None;
        Poll::Ready(output)
    }
}

impl<F> fmt::Debug for TrackedFuture<F> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TrackedFuture")
            .field("token", &self.token)
            .finish()
    }
}

/// The future of [`TaskTracker::wait`].
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio_util::task::{TaskTracker, TaskTrackerWaitFuture};
///
/// Runtime::new().unwrap().block_on(async {
///     let tracker = TaskTracker::new();
///     tracker.close();
///     let wait: TaskTrackerWaitFuture<'_> = tracker.wait();
///     wait.await;
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct TaskTrackerWaitFuture<'a> {
    inner: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
}

impl Future for TaskTrackerWaitFuture<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(context)
    }
}

impl fmt::Debug for TaskTrackerWaitFuture<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("TaskTrackerWaitFuture")
    }
}
