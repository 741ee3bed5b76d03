//! Simulated threads, with `std::thread`'s names and signatures.
//!
//! A racecheck thread is a task whose body is a closure running on its own
//! stack: blocking operations inside it (a blocking `Mutex::lock`,
//! [`JoinHandle::join`], [`sleep`], [`block_on`] on a
//! future) suspend it at a scheduling point, and the strategy decides who
//! runs next, exactly as for async tasks. Threads and async tasks mix
//! freely in one test. Nothing here starts an OS thread: everything runs on
//! the test's thread, one step at a time.
//!
//! Differences from `std::thread`, all deliberate:
//! - a panicking thread fails the execution at once (racecheck reports it
//!   with the thread's name), so [`JoinHandle::join`] always returns `Ok`;
//! - [`sleep`] sleeps on the virtual clock;
//! - the stack size is the exploration's (`Limits::stack_size`, 256 KiB
//!   unless raised), not the [`Builder`]'s; on Linux (x86_64, aarch64) a
//!   thread that overflows it fails the execution with a panic saying so,
//!   elsewhere the overflow kills the process.
//!
//! A test whose main body is a thread too (so it can `join` and block)
//! returns [`main`]`(body)` as its root future:
//!
//! ```
//! use racecheck_runtime::thread;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//!
//! racecheck_runtime::run_once(|| thread::main(|| {
//!     let hits = Arc::new(AtomicU32::new(0));
//!     let workers: Vec<_> = (0..2)
//!         .map(|_| {
//!             let hits = hits.clone();
//!             thread::spawn(move || hits.fetch_add(1, Ordering::SeqCst))
//!         })
//!         .collect();
//!     for worker in workers {
//!         worker.join().unwrap();
//!     }
//!     assert_eq!(hits.load(Ordering::SeqCst), 2);
//! }));
//! ```

use crate::block_on;
use crate::execution::{self, TaskBody};
use crate::stackful::{self, StackfulTask};
use crate::task::{self, finish_with};
use racecheck_trace::{Location, Op, TaskId};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Runs `body` as the test's main thread: the root future of an
/// exploration whose main body blocks (joins threads, takes blocking
/// locks) instead of awaiting.
///
/// ```
/// use racecheck_runtime::thread;
///
/// racecheck_runtime::run_once(|| thread::main(|| {
///     let worker = thread::spawn(|| 1 + 1);
///     assert_eq!(worker.join().unwrap(), 2);
/// }));
/// ```
pub fn main<F: FnOnce() + 'static>(body: F) -> MainThread {
    MainThread(StackfulTask::new(Box::new(body)))
}

/// The future of [`main`]: polling it runs the body on its own stack.
pub struct MainThread(StackfulTask);

impl Future for MainThread {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl fmt::Debug for MainThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MainThread")
    }
}

/// Spawns a simulated thread running `body` and returns its handle.
///
/// ```
/// use racecheck_runtime::thread;
///
/// racecheck_runtime::run_once(|| thread::main(|| {
///     let answer = thread::spawn(|| 6 * 7);
///     assert_eq!(answer.join().unwrap(), 42);
/// }));
/// ```
#[track_caller]
pub fn spawn<F, T>(body: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_thread(Builder::new(), body, Location::caller())
}

fn spawn_thread<F, T>(builder: Builder, body: F, location: Location) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let Builder { name, stack_bytes } = builder;
    let label: Cow<'static, str> = name.clone().map_or(Cow::Borrowed(""), Cow::Owned);
    let body = Box::new(move || finish_with(Box::new(body())));
    let body = TaskBody::Thread(body, stack_bytes);
    let inner: task::JoinHandle<T> = task::add_task(body, label, location);
    JoinHandle {
        thread: Thread {
            id: ThreadId(inner.id()),
            name,
        },
        inner,
    }
}

/// Configures a thread before spawning it, like `std::thread::Builder`.
///
/// ```
/// use racecheck_runtime::thread;
///
/// racecheck_runtime::run_once(|| thread::main(|| {
///     let worker = thread::Builder::new()
///         .name("worker".into())
///         .spawn(|| thread::current().name().map(str::to_owned))
///         .unwrap();
///     assert_eq!(worker.join().unwrap().as_deref(), Some("worker"));
/// }));
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
    /// The least stack size asked; 0 for the exploration's.
    stack_bytes: usize,
}

impl Builder {
    /// A builder for an unnamed thread.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread; reports and timelines show the name.
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// The least size of the thread's stack, in bytes: it gets this or the
    /// exploration's size (`Limits::stack_size`, `Builder::stack_size` in
    /// the `racecheck` crate), whichever is larger. As std's, for a thread
    /// whose deep recursion needs more than the default.
    ///
    /// ```
    /// use racecheck_runtime::thread;
    ///
    /// racecheck_runtime::run_once(|| thread::main(|| {
    ///     let deep = thread::Builder::new()
    ///         .stack_size(1 << 20)
    ///         .spawn(|| std::hint::black_box([0u8; 300 * 1024])[0])
    ///         .unwrap();
    ///     assert_eq!(deep.join().unwrap(), 0);
    /// }));
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_bytes = bytes;
        self
    }

    /// Spawns the thread. Never fails; the `Result` is std's signature.
    #[track_caller]
    pub fn spawn<F, T>(self, body: F) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Ok(spawn_thread(self, body, Location::caller()))
    }
}

/// An owned permission to join a thread.
pub struct JoinHandle<T> {
    inner: task::JoinHandle<T>,
    thread: Thread,
}

impl<T: 'static> JoinHandle<T> {
    /// Waits for the thread to finish and returns its output. Always `Ok`:
    /// a panicking thread fails the execution before anyone can join it.
    ///
    /// ```
    /// use racecheck_runtime::thread;
    ///
    /// racecheck_runtime::run_once(|| thread::main(|| {
    ///     assert_eq!(thread::spawn(|| "done").join().unwrap(), "done");
    /// }));
    /// ```
    pub fn join(self) -> std::thread::Result<T> {
        if stackful::on_task_stack() {
            Ok(block_on(self.inner))
        } else {
            panic!(
                "racecheck: JoinHandle::join blocks; call it from a racecheck thread, or \
                 `.await` racecheck::thread::JoinHandle::into_future() in an async task"
            )
        }
    }

    /// The handle as a future, for joining a thread from an async task.
    ///
    /// ```
    /// racecheck_runtime::run_once(|| async {
    ///     let worker = racecheck_runtime::thread::spawn(|| 5);
    ///     assert_eq!(worker.into_future().await, 5);
    /// });
    /// ```
    pub fn into_future(self) -> task::JoinHandle<T> {
        self.inner
    }

    /// The thread's handle.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Whether the thread has finished.
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("thread", &self.thread)
            .finish()
    }
}

/// A thread's (or any task's) identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Thread {
    id: ThreadId,
    name: Option<String>,
}

impl Thread {
    /// The thread's id, unique within an execution.
    pub fn id(&self) -> ThreadId {
        self.id
    }

    /// The thread's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// A thread's id: the id of its task in the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(pub TaskId);

/// The running thread or task.
///
/// ```
/// racecheck_runtime::run_once(|| async {
///     assert_eq!(racecheck_runtime::thread::current().name(), Some("main"));
/// });
/// ```
pub fn current() -> Thread {
    execution::with(|execution| {
        let task = execution.current_task();
        let name = &execution.trace.tasks[task.index()].name;
        Thread {
            id: ThreadId(task),
            name: (!name.is_empty()).then(|| name.to_string()),
        }
    })
}

/// Gives other threads and tasks a chance to run: a scheduling point.
///
/// # Panics
/// In an async task at await granularity, which cannot be suspended here;
/// use `racecheck::yield_now().await`.
///
/// ```
/// use racecheck_runtime::thread;
///
/// racecheck_runtime::run_once(|| thread::main(|| {
///     thread::spawn(thread::yield_now).join().unwrap();
/// }));
/// ```
#[track_caller]
pub fn yield_now() {
    let location = Location::caller();
    let on_task_stack = stackful::on_task_stack();
    // One borrow both looks at the teardown and records the yield.
    let tearing_down = execution::with(|execution| {
        if !execution.tearing_down && on_task_stack {
            execution.record(Op::Yield, location);
        }
        execution.tearing_down
    });
    if tearing_down {
        // In a destructor run at the end: nobody else will run.
        return;
    }
    assert!(
        on_task_stack,
        "racecheck: thread::yield_now at {location} outside a racecheck thread; \
         use racecheck::yield_now().await in async tasks"
    );
    execution::yield_current();
    stackful::suspend();
}

/// Sleeps on the virtual clock: other threads and tasks run, and time jumps
/// ahead when nobody can.
///
/// ```
/// use std::time::Duration;
/// use racecheck_runtime::{thread, time::Instant};
///
/// racecheck_runtime::run_once(|| thread::main(|| {
///     let start = Instant::now();
///     thread::sleep(Duration::from_secs(60));
///     assert_eq!(start.elapsed(), Duration::from_secs(60));
/// }));
/// ```
#[track_caller]
pub fn sleep(duration: Duration) {
    block_on(crate::time::sleep(duration));
}
