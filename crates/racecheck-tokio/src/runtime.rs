//! `tokio::runtime` on racecheck, as far as tests use it.
//!
//! Outside an execution, [`Runtime::block_on`] runs its future as *one*
//! racecheck execution (seed 0's random schedule, detector on) and panics
//! with the report if it fails: a plain `#[test]` that builds a runtime
//! still runs under racecheck's scheduler, but explores one schedule; use
//! `#[tokio::test]` to explore many. Inside an execution, on a simulated
//! thread or at step granularity, it blocks the caller on the future, as
//! `Handle::block_on` does inside `spawn_blocking`.
//!
//! ```
//! use racecheck_tokio::runtime::{Builder, Handle};
//!
//! let runtime = Builder::new_current_thread().enable_all().build().unwrap();
//! let answer = runtime.block_on(async {
//!     let worker = Handle::current().spawn(async { 6 * 7 });
//!     worker.await.unwrap()
//! });
//! assert_eq!(answer, 42);
//! ```

pub(crate) mod test;

use crate::task::{self, JoinHandle, LocalSet};
use racecheck::Granularity;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;

/// A runtime, like `tokio::runtime::Runtime`: a way into racecheck from
/// synchronous code.
#[derive(Debug)]
pub struct Runtime {
    handle: Handle,
}

impl Runtime {
    /// A multi-thread runtime: its executions run at step granularity.
    pub fn new() -> io::Result<Runtime> {
        Builder::new_multi_thread().build()
    }

    /// Runs `future` to completion: as one execution outside an execution,
    /// by blocking the simulated thread inside one.
    ///
    /// # Panics
    /// If the execution fails (with its report); inside an async task at
    /// await granularity, which cannot block, as tokio panics when a
    /// runtime is started from within a runtime.
    #[track_caller]
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future,
    {
        self.handle.block_on(future)
    }

    /// Spawns a task (inside an execution), as [`task::spawn`].
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        task::spawn(future)
    }

    /// Runs a blocking closure on a simulated thread (inside an execution),
    /// as [`task::spawn_blocking`].
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, body: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        task::spawn_blocking(body)
    }

    /// A handle to this runtime.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Enters the runtime's context, like `tokio::runtime::Runtime::enter`.
    /// racecheck has no context outside an execution: the guard does
    /// nothing, primitives created under it are untracked, and timers
    /// still need an execution (`block_on`).
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    ///
    /// let runtime = Runtime::new().unwrap();
    /// let _guard = runtime.enter();
    /// let (sender, mut receiver) = racecheck_tokio::sync::mpsc::unbounded_channel();
    /// sender.send(3).unwrap();
    /// assert_eq!(runtime.block_on(async { receiver.recv().await }), Some(3));
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard { _runtime: self }
    }

    /// Does nothing: tasks left at the end of an execution are dropped when
    /// it ends.
    pub fn shutdown_background(self) {}

    /// Does nothing, as [`shutdown_background`](Self::shutdown_background).
    pub fn shutdown_timeout(self, _timeout: std::time::Duration) {}
}

/// Configures a [`Runtime`], like `tokio::runtime::Builder`. The flavor
/// decides the granularity of executions it starts; the other settings are
/// accepted and do nothing.
#[derive(Debug)]
pub struct Builder {
    granularity: Granularity,
}

impl Builder {
    /// A current-thread runtime: executions at await granularity.
    pub fn new_current_thread() -> Builder {
        Builder {
            granularity: Granularity::Await,
        }
    }

    /// A multi-thread runtime: executions at step granularity, where every
    /// visible operation is a scheduling point.
    pub fn new_multi_thread() -> Builder {
        Builder {
            granularity: Granularity::Step,
        }
    }

    /// Accepted; racecheck's time is always on.
    pub fn enable_all(&mut self) -> &mut Builder {
        self
    }

    /// Accepted; racecheck's time is always on.
    pub fn enable_time(&mut self) -> &mut Builder {
        self
    }

    /// Accepted; racecheck's clock is always paused.
    pub fn start_paused(&mut self, _paused: bool) -> &mut Builder {
        self
    }

    /// Accepted; every task is simulated on the test's thread.
    pub fn worker_threads(&mut self, _threads: usize) -> &mut Builder {
        self
    }

    /// Accepted; every blocking task is a simulated thread.
    pub fn max_blocking_threads(&mut self, _threads: usize) -> &mut Builder {
        self
    }

    /// Accepted; simulated threads are named after their tasks.
    pub fn thread_name(&mut self, _name: impl Into<String>) -> &mut Builder {
        self
    }

    /// The runtime. Never fails; the `Result` is tokio's signature.
    pub fn build(&mut self) -> io::Result<Runtime> {
        Ok(Runtime {
            handle: Handle {
                name: None,
                granularity: self.granularity,
            },
        })
    }
}

/// The guard of [`Runtime::enter`], like `tokio::runtime::EnterGuard`.
#[derive(Debug)]
pub struct EnterGuard<'a> {
    _runtime: &'a Runtime,
}

/// A handle to the runtime, like `tokio::runtime::Handle`.
#[derive(Clone, Debug)]
pub struct Handle {
    granularity: Granularity,
    name: Option<&'static str>,
}

thread_local! {
    /// The name of the runtime a `#[tokio::test]` runs on this thread.
    static RUNTIME_NAME: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Names the runtime of this thread's `#[tokio::test]` until the guard is
/// dropped.
pub(crate) fn name_runtime(name: Option<&'static str>) -> RuntimeNameGuard {
    RuntimeNameGuard {
        was: RUNTIME_NAME.replace(name),
    }
}

/// Restores the name [`name_runtime`] replaced.
pub(crate) struct RuntimeNameGuard {
    was: Option<&'static str>,
}

impl Drop for RuntimeNameGuard {
    fn drop(&mut self) {
        RUNTIME_NAME.set(self.was);
    }
}

/// There is no runtime here: [`Handle::try_current`] outside an execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no racecheck execution is running on this thread")
    }
}

impl std::error::Error for TryCurrentError {}

impl Handle {
    /// The handle of the running execution.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn current() -> Handle {
        Handle::try_current().unwrap_or_else(|_| {
            panic!(
                "there is no reactor running, must be called from the context of a \
                 racecheck execution (a #[tokio::test] or Runtime::block_on)"
            )
        })
    }

    /// The handle of the running execution, or an error outside one.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        racecheck_runtime::rt::try_current_task()
            .map(|_| Handle {
                granularity: Granularity::Await,
                name: RUNTIME_NAME.get(),
            })
            .ok_or(TryCurrentError(()))
    }

    /// The runtime's name, from `#[tokio::test(name = "…")]`, like
    /// `tokio::runtime::Handle::name`.
    ///
    /// ```
    /// use racecheck_tokio::runtime::{Handle, Runtime};
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     assert_eq!(Handle::current().name(), None);
    /// });
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name
    }

    /// Spawns a task, as [`task::spawn`].
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        task::spawn(future)
    }

    /// Runs a blocking closure on a simulated thread, as
    /// [`task::spawn_blocking`].
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, body: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        task::spawn_blocking(body)
    }

    /// Runs `future` to completion, as [`Runtime::block_on`].
    #[track_caller]
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future,
    {
        if racecheck_runtime::rt::try_current_task().is_none() {
            return run_one_execution(self.granularity, future);
        }
        assert!(
            racecheck_runtime::rt::can_block(),
            "Cannot start a runtime from within a runtime: block_on inside an async task \
             at await granularity would block the runtime's only thread; use \
             spawn_blocking, or flavor = \"multi_thread\""
        );
        racecheck_runtime::block_on(future)
    }
}

/// Runs `future` as the root of one execution and returns its output.
#[track_caller]
fn run_one_execution<F: Future>(granularity: Granularity, future: F) -> F::Output {
    let output = RefCell::new(None);
    // The future may borrow the caller's locals, as with tokio: it is lent
    // to the one execution and dropped before this returns.
    let root = async {
        let value = future.await;
        *output.borrow_mut() = Some(value);
    };
    let report = racecheck_runtime::with_scoped_root(root, |root| {
        racecheck::Builder::new()
            .granularity(granularity)
            .iterations(1)
            .minimize_failures(false)
            // The future runs once: a replay would find it gone, and
            // `RACECHECK_ITERATIONS` or `RACECHECK_REPLAY` must not run it again.
            .check_replay(false)
            .read_environment(false)
            // Tests build primitives before `block_on` and keep them in statics.
            .allow_untracked_objects(true)
            .run(|| root.take())
    });
    if let Some(failure) = report.failure {
        panic!("{failure}");
    }
    let value = output.into_inner();
    value.expect("racecheck-tokio: the block_on future did not finish")
}

/// `JoinSet::spawn_on` lives here, beside `Handle`, so that `task` does not
/// name `runtime` back.
impl<T: 'static> task::JoinSet<T> {
    /// Spawns `future` into the set, like `tokio::task::JoinSet::spawn_on`:
    /// every racecheck task runs on the execution's one runtime, so the
    /// handle only names it.
    ///
    /// ```
    /// use racecheck_tokio::runtime::{Handle, Runtime};
    /// use racecheck_tokio::task::JoinSet;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let mut set = JoinSet::new();
    ///     set.spawn_on(async { 7 }, &Handle::current());
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), 7);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, _handle: &Handle) -> task::AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.spawn(future)
    }
}

/// `LocalSet::block_on` lives here, beside `Runtime`, so that `task` does
/// not name `runtime` back.
impl LocalSet {
    /// Runs `future` on `runtime` while the set's tasks run, like
    /// `tokio::task::LocalSet::block_on`.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio::task::LocalSet;
    ///
    /// let runtime = Runtime::new().unwrap();
    /// let value = LocalSet::new().block_on(&runtime, async { 2 + 2 });
    /// assert_eq!(value, 4);
    /// ```
    #[track_caller]
    pub fn block_on<F>(&self, runtime: &Runtime, future: F) -> F::Output
    where
        F: Future,
    {
        runtime.block_on(future)
    }
}
