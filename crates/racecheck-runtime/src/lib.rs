//! racecheck's deterministic engine: it runs one execution at a time.
//!
//! This crate is the only place that decides who runs. It polls the user's
//! async tasks (and simulated threads) on the test's thread, one step at a
//! time: a *step* resumes one task from one scheduling point to the next,
//! and at every scheduling point a [`Scheduler`] picks the next task among
//! the runnable ones. Everything a task does that others can observe is
//! recorded as an event in a [`Trace`](racecheck_trace::Trace), and every
//! choice in a [`Schedule`](racecheck_trace::Schedule); [`Executor::run`]
//! returns both with how the execution ended ([`ExecutionOutcome`]).
//!
//! The pieces:
//! - [`Executor`] runs executions within [`Limits`];
//! - [`Scheduler`] is the seam for strategies (they live in
//!   `racecheck-explore`, which also loops over executions);
//! - [`spawn`], [`JoinHandle`], [`yield_now`], [`time`], [`thread`] and
//!   [`block_on`] are the task API;
//! - [`rt`] is the narrow interface primitives use to record events, block
//!   and be woken (see `racecheck-sync`).
//!
//! **Architecture invariant:** nothing inside an execution reads the wall
//! clock, spawns OS threads, uses a global RNG, iterates a `HashMap` or looks
//! at an address. Every choice goes through the [`Scheduler`], so a schedule
//! determines the execution.
//!
//! **Architecture invariant:** this crate knows nothing of strategies,
//! of the detector, or of the front ends above it; it prints no report.
//!
//! ```
//! use racecheck_runtime::{spawn, yield_now, Executor, Limits, Scheduler};
//! use racecheck_trace::TaskId;
//! use std::cell::Cell;
//! use std::rc::Rc;
//!
//! /// Runs the task that ran last while it can, else the lowest id.
//! struct Sticky;
//! impl Scheduler for Sticky {
//!     fn new_execution(&mut self, _: u64) -> bool { true }
//!     fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
//!         current.filter(|task| runnable.contains(task)).or(runnable.first().copied())
//!     }
//! }
//!
//! let mut executor = Executor::new(Limits::default());
//! let outcome = executor.run(
//!     &|| async {
//!         let counter = Rc::new(Cell::new(0));
//!         let worker = {
//!             let counter = counter.clone();
//!             spawn(async move {
//!                 yield_now().await;
//!                 counter.set(counter.get() + 1);
//!             })
//!         };
//!         worker.await;
//!         assert_eq!(counter.get(), 1);
//!     },
//!     &mut Sticky,
//! );
//! assert!(outcome.failure.is_none());
//! ```

mod catch;
mod execution;
mod executor;
mod failure;
mod local;
mod panic;
pub mod rt;
mod scheduler;
mod scoped;
mod stackful;
mod task;
pub mod thread;
pub mod time;

pub use catch::{catch_unwind, catching, drop_catching, CatchUnwind, PanicPayload};
pub use execution::block_on;
pub use executor::{run_once, ExecutionOutcome, Executor, Limits};
pub use failure::RuntimeFailure;
pub use scheduler::Scheduler;
pub use scoped::{with_scoped_root, ScopedRoot};
pub use stackful::STACK_SIZE_DEFAULT;
pub use task::{spawn, spawn_named, yield_now, JoinHandle, YieldNow};

/// Where tasks may be interrupted.
///
/// ```
/// use racecheck_runtime::{Granularity, Limits};
/// let limits = Limits { granularity: Granularity::Step, ..Limits::default() };
/// assert_eq!(Limits::default().granularity, Granularity::Await);
/// # let _ = limits;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// Tasks switch only at awaits (and threads at blocking operations):
    /// exact for a current-thread runtime and for asyncio, where the code
    /// between two awaits runs without interruption.
    #[default]
    Await,
    /// Every visible operation is a scheduling point: atomic accesses,
    /// immediate `Shared` accesses and blocking operations too, as on a
    /// multi-threaded runtime where tasks run in parallel. Every task runs
    /// on its own stack so that it can be suspended inside a poll.
    Step,
}

/// What happens to the tasks left when the root future returns.
///
/// ```
/// use racecheck_runtime::{Limits, Shutdown};
/// let limits = Limits { shutdown: Shutdown::Explored, ..Limits::default() };
/// assert_eq!(Limits::default().shutdown, Shutdown::AfterLastTask);
/// # let _ = limits;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// Every task left runs until it finishes or blocks for good: the
    /// execution sees all the work of detached tasks.
    #[default]
    AfterLastTask,
    /// The runtime may shut down at any scheduling point once the root has
    /// returned, as tokio's does when the future given to `block_on`
    /// returns and the runtime is dropped: shutting down is one more choice
    /// for the strategy, next to running any task left. At the shutdown,
    /// every unfinished task is dropped, in id order, its destructors
    /// recorded as its own events (releasing what it held); a panic in one
    /// fails the execution, and tasks spawned meanwhile never run.
    Explored,
}
