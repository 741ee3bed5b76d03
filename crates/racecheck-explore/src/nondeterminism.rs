//! Uncontrolled nondeterminism: a failing execution whose schedule, replayed,
//! does not give the same events.
//!
//! Everything an execution does is meant to follow from its schedule. A
//! program that reads the wall clock, iterates a `HashMap`, draws from a
//! real RNG, runs a real tokio primitive or keeps state across executions
//! breaks that, and its replay line would pass silently or fail elsewhere.
//! Before a failure is reported its schedule is replayed once, and the two
//! traces are compared event by event; the first difference is reported
//! with the failure. With `Config::check_replay_every` set, every k-th
//! passing execution is replayed the same way, and a difference is a
//! failure of its own (`FailureKind::Uncontrolled`).

use crate::{Config, ReplayScheduler};
use racecheck_runtime::{Executor, Scheduler};
use racecheck_trace::{Event, EventIndex, Schedule, Trace};
use std::fmt;
use std::future::Future;

/// Where a replay of a failing execution left the failing execution's
/// events.
///
/// ```
/// use racecheck_explore::{explore, Config};
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// static SECOND_RUN: AtomicBool = AtomicBool::new(false);
/// let report = explore(&Config::default(), || async {
///     if !SECOND_RUN.swap(true, Ordering::SeqCst) {
///         racecheck_runtime::yield_now().await;
///     }
///     panic!("always fails");
/// });
/// let divergence = report.failure.unwrap().nondeterminism.expect("the replay differs");
/// assert_eq!(divergence.event, racecheck_trace::EventIndex(0));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The index of the first event that differs.
    pub event: EventIndex,
    /// The step of the failing execution's event there, or of its last
    /// event if the replay went on.
    pub step: u32,
    /// The failing execution's event there, in words with its location
    /// (`None`: it had no more events).
    pub expected: Option<String>,
    /// The replay's event there (`None`: it had no more events).
    pub got: Option<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_end = |event: &Option<String>| {
            event
                .clone()
                .unwrap_or_else(|| "the end of the execution".to_owned())
        };
        write!(
            f,
            "uncontrolled nondeterminism: replaying the schedule gave a different trace at step {} \
             (event {}: expected {}, got {}); something outside racecheck's control (the wall \
             clock, a HashMap's order, a real RNG or thread, a real tokio primitive, state kept \
             across executions) decides what the program does, and the replay line may not \
             reproduce this execution",
            self.step,
            self.event.index(),
            or_end(&self.expected),
            or_end(&self.got),
        )
    }
}

/// Replays `schedule` once and compares the events with `trace`, the
/// failing execution's: the first difference, or `None` if the replay is
/// the same.
pub(crate) fn replay_divergence<F, Fut>(
    config: &Config,
    schedule: &Schedule,
    trace: &Trace,
    body: &F,
) -> Option<Divergence>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let mut scheduler = ReplayScheduler::new(schedule.clone());
    scheduler.new_execution(0);
    let mut executor = Executor::new(config.limits());
    let replayed = executor.run(body, &mut scheduler);
    first_difference(trace, replayed.trace)
}

/// The first event where `replayed` differs from `expected`.
fn first_difference(expected: &Trace, replayed: &Trace) -> Option<Divergence> {
    let describe = |trace: &Trace, event: Option<&Event>| {
        event.map(|event| {
            format!(
                "{} {} at {}",
                trace.task_label(event.task),
                trace.describe(&event.op),
                event.location
            )
        })
    };
    let length = expected.events.len().max(replayed.events.len());
    (0..length).find_map(|index| {
        let (left, right) = (expected.events.get(index), replayed.events.get(index));
        if left == right {
            return None;
        }
        let step = left
            .or(expected.events.last())
            .map_or(0, |event| event.step);
        Some(Divergence {
            event: EventIndex::new(index),
            step,
            expected: describe(expected, left),
            got: describe(replayed, right),
        })
    })
}
