//! `tokio::task::JoinSet`: a set of tasks joined in the order they finish.

use super::{spawn, spawn_blocking, AbortHandle, JoinError, JoinHandle};
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

/// A collection of spawned tasks, like `tokio::task::JoinSet`: join them as
/// they finish, abort them all, or drop the set to abort them.
///
/// Of several tasks that have finished, `join_next` returns the one spawned
/// first: which tasks finish before a `join_next` is the scheduler's choice,
/// so the order still varies across executions.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::task::JoinSet;
///
/// Runtime::new().unwrap().block_on(async {
///     let mut set = JoinSet::new();
///     for page in 0..3 {
///         set.spawn(async move { page * 10 });
///     }
///     let mut total = 0;
///     while let Some(result) = set.join_next().await {
///         total += result.unwrap();
///     }
///     assert_eq!(total, 30);
///     assert!(set.is_empty());
/// });
/// ```
pub struct JoinSet<T> {
    tasks: Vec<JoinHandle<T>>,
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet { tasks: Vec::new() }
    }

    /// The number of tasks in the set, finished or not, not yet joined.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the set has no tasks.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Aborts every task in the set; they stay in it until joined.
    pub fn abort_all(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }

    /// Removes every task from the set without aborting it.
    pub fn detach_all(&mut self) {
        self.tasks.clear();
    }
}

impl<T: 'static> JoinSet<T> {
    /// Spawns `future` into the set and returns a handle to abort it.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(spawn(future))
    }

    /// Spawns `future`, which need not be `Send`, into the set, like
    /// `tokio::task::JoinSet::spawn_local` (every racecheck task runs on
    /// the test's thread).
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio::task::JoinSet;
    /// use std::rc::Rc;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let mut set = JoinSet::new();
    ///     let local = Rc::new(4);
    ///     set.spawn_local(async move { *local });
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), 4);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.spawn(future)
    }

    /// Runs `body` on a simulated thread in the set (see
    /// [`spawn_blocking`](super::spawn_blocking)).
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, body: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        self.insert(spawn_blocking(body))
    }

    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        self.tasks.push(handle);
        abort
    }

    /// Spawns `future` into the set on `local_set`, like
    /// `tokio::task::JoinSet::spawn_local_on` (every racecheck task runs on
    /// the test's thread).
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio::task::{JoinSet, LocalSet};
    ///
    /// let local = LocalSet::new();
    /// let runtime = Runtime::new().unwrap();
    /// local.block_on(&runtime, async {
    ///     let mut set = JoinSet::new();
    ///     set.spawn_local_on(async { 3 }, &LocalSet::new());
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), 3);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_local_on<F>(&mut self, future: F, _local_set: &super::LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.spawn(future)
    }

    /// Waits for a task of the set to finish and returns its result, or
    /// `None` if the set is empty.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Polls for a task of the set that finished, like
    /// `tokio::task::JoinSet::poll_join_next`: `Ready(None)` if the set is
    /// empty, `Pending` (with `cx` woken when a task finishes) if none has.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio::task::JoinSet;
    /// use std::future::poll_fn;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let mut set = JoinSet::new();
    ///     set.spawn(async { 1 });
    ///     let joined = poll_fn(|cx| set.poll_join_next(cx)).await;
    ///     assert_eq!(joined.unwrap().unwrap(), 1);
    /// });
    /// ```
    pub fn poll_join_next(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<T, JoinError>>> {
        if self.tasks.is_empty() {
            return Poll::Ready(None);
        }
        for index in 0..self.tasks.len() {
            if let Poll::Ready(result) = Pin::new(&mut self.tasks[index]).poll(cx) {
                self.tasks.remove(index);
                return Poll::Ready(Some(result));
            }
        }
        Poll::Pending
    }

    /// A task of the set that has finished, without waiting: `None` if
    /// none has (or the set is empty), like
    /// `tokio::task::JoinSet::try_join_next`.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio::task::JoinSet;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let mut set = JoinSet::new();
    ///     assert!(set.try_join_next().is_none());
    ///     set.spawn(async { 1 });
    ///     while set.try_join_next().is_none() {
    ///         racecheck_tokio::task::yield_now().await;
    ///     }
    ///     assert!(set.is_empty());
    /// });
    /// ```
    #[track_caller]
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        for index in 0..self.tasks.len() {
            if let Some(result) = self.tasks[index].try_join() {
                self.tasks.remove(index);
                return Some(result);
            }
        }
        None
    }

    /// Aborts every task and waits for them all to finish.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task and returns their outputs in the order they
    /// finished.
    ///
    /// # Panics
    /// If a task panicked (resuming its panic) or was cancelled.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut outputs = Vec::with_capacity(self.len());
        while let Some(result) = self.join_next().await {
            match result {
                Ok(output) => outputs.push(output),
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                Err(error) => panic!("{error}"),
            }
        }
        outputs
    }
}

/// Spawns each future into a new set, like tokio's `FromIterator` for
/// `JoinSet`.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::task::JoinSet;
///
/// Runtime::new().unwrap().block_on(async {
///     let set: JoinSet<u32> = (1..=3).map(|n| async move { n }).collect();
///     let mut outputs = set.join_all().await;
///     outputs.sort();
///     assert_eq!(outputs, [1, 2, 3]);
/// });
/// ```
impl<T: 'static, F: Future<Output = T> + 'static> FromIterator<F> for JoinSet<T> {
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = F>>(futures: I) -> Self {
        let mut set = JoinSet::new();
        set.extend(futures);
        set
    }
}

/// Spawns each future into the set, like tokio's `Extend` for `JoinSet`.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::task::JoinSet;
///
/// Runtime::new().unwrap().block_on(async {
///     let mut set = JoinSet::new();
///     set.extend((1..=2).map(|n| async move { n }));
///     assert_eq!(set.len(), 2);
///     set.shutdown().await;
/// });
/// ```
impl<T: 'static, F: Future<Output = T> + 'static> Extend<F> for JoinSet<T> {
    #[track_caller]
    fn extend<I: IntoIterator<Item = F>>(&mut self, futures: I) {
        for future in futures {
            self.spawn(future);
        }
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}
