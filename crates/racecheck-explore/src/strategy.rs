//! Which strategy drives an exploration.

use racecheck_trace::Schedule;

/// Which strategy drives the exploration.
///
/// ```
/// use racecheck_explore::Strategy;
/// use racecheck_trace::{Schedule, TaskId};
///
/// let replay = Strategy::Replay(Schedule::from_steps(vec![TaskId(0)]));
/// assert_eq!(replay.name(), "replay");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Uniformly random choices, seeded ([`RandomScheduler`](crate::RandomScheduler)).
    #[default]
    Random,
    /// Exactly one execution following a recorded schedule
    /// ([`ReplayScheduler`](crate::ReplayScheduler)).
    Replay(Schedule),
    /// Every schedule up to reordering independent steps, depth first
    /// ([`ExhaustiveScheduler`](crate::ExhaustiveScheduler)); when it runs out before the iteration
    /// budget, [`Report::complete`](crate::Report::complete) says the test holds for every schedule.
    Exhaustive,
    /// Iterative context bounding: every schedule with at most
    /// `preemptions` preemptions, those with fewer first, each once
    /// ([`BoundedScheduler`](crate::BoundedScheduler)); the first failure has the fewest preemptions
    /// of any within the bound, and complete means every schedule within
    /// the bound was covered.
    Bounded {
        /// The most preemptions a schedule may have.
        preemptions: u32,
    },
    /// Probabilistic concurrency testing with bug depth `depth`
    /// ([`PctScheduler`](crate::PctScheduler)).
    Pct {
        /// How many ordering constraints the bugs sought need (1 to 3 is
        /// typical).
        depth: u32,
    },
}

impl Strategy {
    /// The strategy's name in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::Replay(_) => "replay",
            Strategy::Pct { .. } => "pct",
            Strategy::Exhaustive => "exhaustive",
            Strategy::Bounded { .. } => "bounded",
        }
    }
}
