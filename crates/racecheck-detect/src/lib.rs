//! racecheck's detector: what could go wrong, decided from the events of
//! an execution.
//!
//! Everything here is a function of a [`Trace`](racecheck_trace::Trace) (and,
//! for lock orders, of the traces seen so far): it never asks the runtime
//! anything, so a saved trace can be analysed offline.
//!
//! - [`HappensBefore`] keeps vector clocks as events arrive and reports
//!   *predictive* data races on tracked state: two accesses, one a write,
//!   from different tasks, not ordered by happens-before, whichever order
//!   this execution ran them in.
//! - [`HbGraph`] is the same order as a petgraph graph, for reports (and
//!   as the reference the clocks are tested against).
//! - [`finding_graph`] draws any finding as a small graph (a race's two
//!   paths, a deadlock's wait-for cycle, ...), as Graphviz DOT or data.
//! - [`Contention`] is the contention profile of an exploration: per lock,
//!   semaphore, queue and channel, waits and holds in virtual time and
//!   steps, whom to blame, and what removing a critical section's time
//!   would save.
//! - [`Detector`] runs every check configured by [`Checks`] over one
//!   execution: races, deadlocks (cycles in the wait-for graph), hangs,
//!   leaks, and potential deadlocks from a lock-order graph kept across the
//!   exploration. Its [`Finding`]s print as sentences and serialise as JSON.
//!
//! **Architecture invariant:** this crate depends on `racecheck-trace` (and
//! petgraph, serde) only. It never runs user code and never decides a
//! schedule.
//!
//! ```
//! use racecheck_detect::{Checks, Detector, ExecutionEnd, Finding};
//! use racecheck_trace::{Event, Location, ObjectId, ObjectInfo, ObjectKind, Op, TaskId, Trace};
//!
//! let mut trace = Trace::default();
//! trace.objects.push(ObjectInfo { kind: ObjectKind::Shared, name: Some("rows".into()), created_at: Location::caller() });
//! for task in [1, 2] {
//!     trace.events.push(Event { step: task, task: TaskId(task), op: Op::Write { object: ObjectId(0) }, location: Location::caller() });
//! }
//! let end = ExecutionEnd { root_finished: true, ..ExecutionEnd::default() };
//! let verdict = Detector::new(Checks::default()).analyze(&trace, &end);
//! assert!(matches!(verdict.failures[0], Finding::Race(_)));
//! ```

mod chrome;
mod clock;
mod coverage;
mod critical_path;
mod dependency;
mod detector;
mod finding;
mod graph;
mod hb;
mod lock_order;
mod picture;
mod profile;
mod stuck;
mod sync;
mod virtual_time;
mod waits;

pub use chrome::{chrome_trace, CHROME_FLOWS_MAX};
pub use clock::VectorClock;
pub use coverage::interleaving_class;
pub use dependency::{Footprint, Key, Turns};
pub use detector::{Check, Checks, Detector, Verdict};
pub use finding::{
    Access, Deadlock, Finding, Hang, Leak, LockOrderEdge, PotentialDeadlock, Race, Wait,
};
pub use graph::{Edge, HbGraph};
pub use hb::{event_clocks, HappensBefore, RacePair};
pub use lock_order::LockOrderDelta;
pub use picture::{
    finding_dot, finding_events, finding_graph, EdgeKind, FindingGraph, GraphEdge, GraphNode,
    NodeKind, PATH_EVENTS_MAX,
};
pub use profile::{Contention, ContentionRow, Cost, Section, SiteCost, WhatIf, BLAME_SITES_MAX};
pub use racecheck_trace::ExecutionEnd;
pub use virtual_time::event_times_ns;
pub use waits::{stuck_tasks, Holdings, StuckTask};
