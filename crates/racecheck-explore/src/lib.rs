//! racecheck's exploration: many executions of one test under a strategy,
//! analysed by the detector, stopping at the first failure.
//!
//! The runtime (`racecheck-runtime`) runs one execution and asks a
//! [`Scheduler`](racecheck_runtime::Scheduler) at every scheduling point;
//! this crate holds the schedulers ([`RandomScheduler`], [`PctScheduler`],
//! [`ExhaustiveScheduler`], [`BoundedScheduler`], [`ReplayScheduler`]),
//! the loop over executions ([`explore`], [`explore_with`],
//! [`explore_parallel`]), minimisation ([`minimize`]) and what an
//! exploration returns ([`Report`], [`Failure`]), with a failure's text
//! report, its Chrome trace and its self-contained HTML page
//! ([`Failure::html`]).
//!
//! **Architecture invariant:** this crate never runs a task itself (the
//! runtime does) and never prints front-end syntax: how to replay a failure
//! is written by the front end that ran the exploration
//! ([`Failure::replay`]).
//!
//! ```
//! use racecheck_explore::{explore, Config};
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//!
//! let report = explore(&Config::default(), || async {
//!     let counter = Arc::new(AtomicU32::new(0));
//!     let worker = {
//!         let counter = counter.clone();
//!         racecheck_runtime::spawn(async move {
//!             racecheck_runtime::yield_now().await;
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
mod config;
mod exhaustive;
mod explore;
mod failure;
mod fairness;
mod html;
mod markup;
mod minimize;
mod nondeterminism;
mod parallel;
mod pct;
mod picture_svg;
mod probe;
mod random;
mod replay;
mod report;
mod strategy;
mod swimlanes;

pub use bounded::BoundedScheduler;
pub use config::{Config, Shard};
pub use exhaustive::ExhaustiveScheduler;
pub use explore::{explore, explore_with};
pub use failure::{timeline, Failure, FailureKind, PREDICTED_RACE, TIMELINE_EVENTS_MAX};
pub use minimize::{minimize, Minimized, MINIMIZE_STEPS_MAX};
pub use nondeterminism::Divergence;
pub use parallel::explore_parallel;
pub use pct::{calibrate_pct, PctScheduler};
pub use random::RandomScheduler;
pub use replay::ReplayScheduler;
pub use report::Report;
pub use strategy::Strategy;
pub use swimlanes::{SWIMLANE_STEPS_MAX, SWIMLANE_TASKS_MAX};
