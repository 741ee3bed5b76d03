//! racecheck runs your async tasks on a seeded scheduler that controls every
//! interleaving, explores many interleavings per test, and reports the first
//! failure with a replay string that reproduces it exactly, on any machine.
//!
//! ```
//! use racecheck::sync::{Mutex, Shared};
//! use std::sync::Arc;
//!
//! // A lost update: each task reads the row count, awaits, writes it back.
//! let report = racecheck::Builder::new().iterations(100).run(|| async {
//!     let rows = Arc::new(Shared::named("rows", 0));
//!     let tasks: Vec<_> = (0..2)
//!         .map(|_| {
//!             let rows = rows.clone();
//!             racecheck::spawn(async move {
//!                 let seen = rows.load().await;
//!                 rows.store(seen + 1).await;
//!             })
//!         })
//!         .collect();
//!     for task in tasks {
//!         task.await;
//!     }
//!     assert_eq!(rows.get(), 2, "lost update");
//! });
//! let failure = report.failure.expect("racecheck finds the race behind the lost update");
//! assert!(failure.to_string().contains("data race on Shared 'rows'"));
//! ```
//!
//! Use [`check`] (or [`Builder::check`]) in tests: it panics with the report.
//! Set `RACECHECK_SEED`, `RACECHECK_ITERATIONS` or `RACECHECK_REPLAY` in the
//! environment to override the code's settings; a failure's report prints
//! the `RACECHECK_REPLAY=...` line that reproduces it.
//!
//! **Architecture invariant:** this crate is the public surface and nothing
//! more: it wires the engine (`racecheck-runtime`), the exploration
//! (`racecheck-explore`) and the primitives (`racecheck-sync`) together,
//! reads the environment, in one place, and writes the lines that replay a
//! failure from a Rust test.

mod builder;

/// The README's example, compiled as a doctest so it cannot rot.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use builder::{check, replay, Builder, MINIMIZE_BUDGET};
pub use racecheck_detect::{
    Check, Contention, ContentionRow, Cost, Finding, Section, SiteCost, WhatIf,
};
pub use racecheck_explore::{
    timeline, Failure, FailureKind, Minimized, Report, Strategy, PREDICTED_RACE,
    TIMELINE_EVENTS_MAX,
};
pub use racecheck_runtime::rt::choose;
pub use racecheck_runtime::{
    block_on, spawn, spawn_named, thread, yield_now, Granularity, JoinHandle, Shutdown,
    STACK_SIZE_DEFAULT,
};
pub use racecheck_trace::{Location, Schedule, ScheduleError, TaskId, Trace};

/// The detector's findings in detail, and its analyses for saved traces.
/// See [`racecheck_detect`].
pub mod detect {
    pub use racecheck_detect::*;
}

/// Synchronisation primitives: tokio's names and signatures, asyncio's
/// vocabulary, and tracked shared state. See [`racecheck_sync`] for the
/// semantics of each.
pub mod sync {
    pub use racecheck_sync::*;
}

/// The engine and the exploration underneath: custom strategies
/// ([`sched::Scheduler`], [`sched::explore_with`]), the schedulers
/// themselves, and [`sched::attribute_events_to`] and
/// [`sched::without_schedule_points`] for interpreters whose users' code is
/// not Rust. See [`racecheck_runtime`] and
/// [`racecheck_explore`].
pub mod sched {
    pub use racecheck_explore::{
        explore, explore_parallel, explore_with, BoundedScheduler, Config, ExhaustiveScheduler,
        PctScheduler, RandomScheduler, ReplayScheduler, Shard, MINIMIZE_STEPS_MAX,
    };
    pub use racecheck_runtime::rt::{attribute_events_to, without_schedule_points};
    pub use racecheck_runtime::Scheduler;
}

/// Virtual time: a clock that jumps to the next timer when no task can run.
pub mod time {
    pub use racecheck_runtime::time::*;
}
