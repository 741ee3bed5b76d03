//! When each event of a trace happened on the virtual clock.

use racecheck_trace::{Operand, Trace};
use std::collections::BTreeMap;

/// The virtual time of each event of `trace`, in nanoseconds since the
/// execution began: what the clock read when the event was recorded.
///
/// The clock moves only when no task can run, to the earliest deadline of
/// a sleeping task, so a task that slept until `t` records its next event
/// at `t` or later, and nothing else moves it. The times never go back.
///
/// ```
/// use racecheck_detect::event_times_ns;
/// use racecheck_trace::{Event, Location, Op, TaskId, Trace};
///
/// let mut trace = Trace::default();
/// let at = Location::caller();
/// trace.events.push(Event { step: 0, task: TaskId(1), op: Op::Sleep { until_ns: 10 }, location: at });
/// trace.events.push(Event { step: 1, task: TaskId(2), op: Op::Yield, location: at });
/// trace.events.push(Event { step: 2, task: TaskId(1), op: Op::Finish, location: at });
/// assert_eq!(event_times_ns(&trace), vec![0, 0, 10]);
/// ```
pub fn event_times_ns(trace: &Trace) -> Vec<u64> {
    let mut wakes_at: BTreeMap<u32, u64> = BTreeMap::new();
    let mut now_ns: u64 = 0;
    trace
        .events
        .iter()
        .map(|event| {
            if let Some(until) = wakes_at.remove(&event.task.0) {
                now_ns = now_ns.max(until);
            }
            if let Operand::Until(until_ns) = event.op.operand() {
                wakes_at.insert(event.task.0, until_ns);
            }
            now_ns
        })
        .collect()
}
