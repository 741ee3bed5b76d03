//! Analyses over racecheck's event model.
//!
//! Everything here is a pure function of a [`Trace`](racecheck_trace::Trace):
//! it never asks the runtime anything, so a saved trace can be analysed
//! offline and the runtime can be replaced without touching the analyses.
//!
//! So far this crate answers "who holds what and who waits for whom" at the
//! end of an execution ([`stuck_tasks`]), which the runtime uses to explain a
//! deadlock. The happens-before analysis (vector clocks, predictive races,
//! lock-order graphs) builds on the same ground.
//!
//! **Architecture invariant:** this crate depends on `racecheck-trace` only.
//! It never runs user code and never decides a schedule.
//!
//! ```
//! use racecheck_detect::Holdings;
//! use racecheck_trace::Trace;
//!
//! let holdings = Holdings::from_trace(&Trace::default());
//! assert!(holdings.is_empty());
//! ```

mod waits;

pub use waits::{stuck_tasks, Holdings, StuckTask};
