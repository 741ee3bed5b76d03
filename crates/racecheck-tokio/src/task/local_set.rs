//! `tokio::task::LocalSet` on racecheck. Every racecheck task runs on the
//! test's thread already, so a local set only keeps count of the tasks
//! spawned through it: awaiting it waits for them, and dropping it aborts
//! those still running, as in tokio. The count is a racecheck `watch`
//! channel, created by the first `spawn_local`, so a task's exit happens
//! before the await of the set that it ends.

use super::{spawn, AbortHandle, JoinHandle};
use racecheck_sync::watch;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A set of tasks spawned with [`LocalSet::spawn_local`], like
/// `tokio::task::LocalSet`.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::task::LocalSet;
/// use std::rc::Rc;
///
/// Runtime::new().unwrap().block_on(async {
///     let local = LocalSet::new();
///     let shared = Rc::new(3);
///     let task = local.spawn_local(async move { *shared * 2 });
///     let doubled = local.run_until(async move { task.await.unwrap() }).await;
///     assert_eq!(doubled, 6);
///     local.await;
/// });
/// ```
#[derive(Default)]
pub struct LocalSet {
    /// The tasks spawned through the set, for `Drop`.
    tasks: RefCell<Vec<AbortHandle>>,
    /// How many of them have not finished; `None` until the first spawn.
    running: RefCell<Option<Arc<watch::Sender<usize>>>>,
    /// The wait of `poll`, once started.
    waiting: Option<Pin<Box<dyn Future<Output = ()>>>>,
}

/// Counts one task of a [`LocalSet`] down when the task ends or is dropped.
struct Running(Arc<watch::Sender<usize>>);

impl Drop for Running {
    fn drop(&mut self) {
        let running = *self.0.borrow();
        self.0.send_replace(running - 1);
    }
}

impl LocalSet {
    /// An empty set.
    ///
    /// ```
    /// let local = racecheck_tokio::task::LocalSet::new();
    /// drop(local);
    /// ```
    pub fn new() -> LocalSet {
        LocalSet::default()
    }

    /// Spawns `future` as a task of the set, like
    /// `tokio::task::LocalSet::spawn_local`; it need not be `Send`.
    ///
    /// # Panics
    /// Outside a racecheck execution.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio::task::LocalSet;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let local = LocalSet::new();
    ///     assert_eq!(local.spawn_local(async { 1 }).await.unwrap(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let running = self
            .running
            .borrow_mut()
            .get_or_insert_with(|| Arc::new(watch::channel(0).0))
            .clone();
        let count = *running.borrow();
        running.send_replace(count + 1);
        let guard = Running(running);
        let handle = spawn(async move {
            let output = future.await;
            drop(guard);
            output
        });
        self.tasks.borrow_mut().push(handle.abort_handle());
        handle
    }

    /// Runs `future` to completion on the current task while the set's
    /// tasks run, like `tokio::task::LocalSet::run_until`.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio::task::LocalSet;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let local = LocalSet::new();
    ///     let value = local
    ///         .run_until(async { racecheck_tokio::task::spawn_local(async { 5 }).await.unwrap() })
    ///         .await;
    ///     assert_eq!(value, 5);
    /// });
    /// ```
    pub async fn run_until<F: Future>(&self, future: F) -> F::Output {
        future.await
    }

    /// Enters the set's context, like `tokio::task::LocalSet::enter`: under
    /// racecheck, `spawn_local` works everywhere, so the guard does nothing.
    ///
    /// ```
    /// let local = racecheck_tokio::task::LocalSet::new();
    /// let _guard = local.enter();
    /// ```
    pub fn enter(&self) -> LocalEnterGuard {
        LocalEnterGuard(())
    }
}

impl Future for LocalSet {
    type Output = ();

    /// Waits until every task spawned through the set has finished.
    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        let Some(running) = self.running.borrow().clone() else {
            return Poll::Ready(());
        };
        let waiting = self.waiting.get_or_insert_with(|| {
            let mut updates = running.subscribe();
            Box::pin(async move {
                while *updates.borrow_and_update() > 0 {
                    // `running` is kept alive by the set: never fails.
                    let _ = updates.changed().await;
                }
            })
        });
        waiting.as_mut().poll(context)
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        for task in self.tasks.get_mut().drain(..) {
            task.abort();
        }
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("LocalSet")
            .field("tasks", &self.tasks.borrow().len())
            .finish()
    }
}

/// The guard of [`LocalSet::enter`].
///
/// ```
/// let local = racecheck_tokio::task::LocalSet::new();
/// let guard: racecheck_tokio::task::LocalEnterGuard = local.enter();
/// drop(guard);
/// ```
#[derive(Debug)]
pub struct LocalEnterGuard(());
