//! The event model of racecheck: what happened in one execution, as plain data.
//!
//! This crate holds the vocabulary every other racecheck crate speaks:
//! [`TaskId`] and [`ObjectId`] name the actors and the things they touch,
//! [`Op`] is a visible operation, [`Event`] is one operation performed by one
//! task at one step, and [`Trace`] is the whole record of an execution.
//! [`Schedule`] is the sequence of scheduling choices of an execution, with a
//! compact, copy-pasteable string form that reproduces the execution exactly.
//!
//! **Architecture invariant:** this crate is data. It knows nothing of how
//! events are produced (the runtime) or what they mean (the detector), so a
//! saved trace can be analysed offline. The only logic here is encoding and
//! decoding.
//!
//! ```
//! use racecheck_trace::{Schedule, TaskId};
//!
//! let schedule = Schedule::from_steps(vec![TaskId(0), TaskId(0), TaskId(1), TaskId(0)]);
//! let text = schedule.to_string();
//! assert_eq!(text.parse::<Schedule>().unwrap(), schedule);
//! ```

mod event;
mod location;
mod op_table;
mod schedule;

pub use event::{
    Endpoint, Event, ExecutionEnd, LockMode, MemoryOrder, Need, ObjectInfo, ObjectKind, Op,
    TaskInfo, Trace, WaitTarget,
};
pub use location::Location;
pub use op_table::{Detail, Holding, Operand, Order, ReadRow, Row, Touch};
pub use schedule::{Schedule, ScheduleError};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies a task within one execution. Task 0 is the root future.
///
/// Ids are dense and assigned in spawn order, so the same schedule gives the
/// same ids on every run.
///
/// ```
/// use racecheck_trace::TaskId;
/// assert_eq!(TaskId::ROOT.to_string(), "t0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub u32);

impl TaskId {
    /// The root task: the future passed to `check`.
    pub const ROOT: TaskId = TaskId(0);

    /// The id as an index into per-task tables.
    ///
    /// ```
    /// assert_eq!(racecheck_trace::TaskId(3).index(), 3);
    /// ```
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// Identifies a synchronisation object or tracked location within one
/// execution, in creation order.
///
/// ```
/// use racecheck_trace::ObjectId;
/// assert_eq!(ObjectId(2).to_string(), "o2");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectId(pub u32);

impl ObjectId {
    /// The id as an index into per-object tables.
    ///
    /// ```
    /// assert_eq!(racecheck_trace::ObjectId(5).index(), 5);
    /// ```
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "o{}", self.0)
    }
}

/// The position of an event in its trace's `events`, the one index type
/// every crate uses for events. Where an event may be missing (a value no
/// event sent, an operation recorded after the execution ended), it is an
/// `Option<EventIndex>`, never a sentinel.
///
/// ```
/// use racecheck_trace::EventIndex;
/// let index = EventIndex::new(3);
/// assert_eq!(index.index(), 3);
/// assert_eq!(Some(index).max(None), Some(EventIndex(3)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventIndex(pub u32);

impl EventIndex {
    /// The index of the event at position `index` of a trace.
    ///
    /// # Panics
    /// If `index` does not fit the trace's `u32` positions (the step limit
    /// keeps traces far below it).
    #[inline]
    pub fn new(index: usize) -> EventIndex {
        EventIndex(u32::try_from(index).expect("racecheck: a trace holds at most u32::MAX events"))
    }

    /// The index as a position in the trace's events.
    ///
    /// ```
    /// assert_eq!(racecheck_trace::EventIndex(5).index(), 5);
    /// ```
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
