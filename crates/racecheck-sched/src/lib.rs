//! racecheck's deterministic runtime.
//!
//! This crate is the only place that decides who runs. It polls the user's
//! async tasks on the test's thread, one step at a time: a *step* resumes one
//! task from one scheduling point to the next, and at every scheduling point a
//! [`Scheduler`] picks the next task among the runnable ones. Everything a
//! task does that others can observe is recorded as an event in a
//! [`Trace`](racecheck_trace::Trace), and every choice in a
//! [`Schedule`](racecheck_trace::Schedule), so an execution can be replayed
//! exactly from its schedule string.
//!
//! The pieces:
//! - [`explore`] runs many executions under a [`Config`] and returns a
//!   [`Report`] with the first [`Failure`];
//! - [`spawn`], [`JoinHandle`], [`yield_now`] and [`time`] are the task API;
//! - [`Scheduler`] is the seam for strategies ([`RandomScheduler`],
//!   [`ReplayScheduler`]);
//! - [`rt`] is the narrow interface primitives use to record events, block
//!   and be woken (see `racecheck-sync`).
//!
//! **Architecture invariant:** nothing inside an execution reads the wall
//! clock, spawns OS threads, uses a global RNG, iterates a `HashMap` or looks
//! at an address. Every choice goes through the [`Scheduler`], so a schedule
//! determines the execution.
//!
//! ```
//! use racecheck_sched::{explore, spawn, yield_now, Config};
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//!
//! let report = explore(&Config::default(), || async {
//!     let counter = Arc::new(AtomicU32::new(0));
//!     let worker = {
//!         let counter = counter.clone();
//!         spawn(async move {
//!             yield_now().await;
//!             counter.fetch_add(1, Ordering::SeqCst);
//!         })
//!     };
//!     worker.await;
//!     assert_eq!(counter.load(Ordering::SeqCst), 1);
//! });
//! assert!(report.failure.is_none());
//! assert_eq!(report.executions, 1000);
//! ```

mod bounded;
mod execution;
mod executor;
mod exhaustive;
mod explore;
mod minimize;
mod panic;
mod report;
pub mod rt;
mod stackful;
mod strategy;
mod task;
pub mod thread;
pub mod time;

pub use bounded::BoundedScheduler;
pub use exhaustive::ExhaustiveScheduler;
pub use explore::{
    calibrate_pct, explore, explore_parallel, explore_with, Config, Failure, FailureKind,
    Granularity, Report, Shard, Strategy,
};
pub use minimize::{minimize, Minimized};
pub use report::{timeline, TIMELINE_EVENTS_MAX};
pub use stackful::{block_on, STACK_SIZE_DEFAULT};
pub use strategy::{PctScheduler, RandomScheduler, ReplayScheduler, Scheduler};
pub use task::{spawn, spawn_named, yield_now, JoinHandle, YieldNow};
