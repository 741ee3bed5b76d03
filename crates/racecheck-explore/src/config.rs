//! What to explore and how far.

use crate::Strategy;
use racecheck_detect::Checks;
use racecheck_runtime::{Granularity, Limits, Shutdown};
use racecheck_trace::Location;

/// What to explore and how far.
///
/// ```
/// let config = racecheck_explore::Config { iterations: 10, ..Default::default() };
/// assert_eq!(config.seed, 0);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Seeds the strategy's random choices.
    pub seed: u64,
    /// How many executions to run at most.
    pub iterations: u64,
    /// Steps after which an execution is reported as a livelock.
    pub steps_max: u32,
    /// The strategy.
    pub strategy: Strategy,
    /// What the detector checks, and whether findings fail or warn.
    pub checks: Checks,
    /// The part of the iterations this run explores (random and PCT):
    /// iterations `i` with `i % count == index`.
    pub shard: Shard,
    /// Threads for [`explore_parallel`](crate::explore_parallel).
    pub jobs: usize,
    /// Count distinct interleaving classes ([`Report::classes`](crate::Report::classes)); costs a
    /// pass over each execution's events.
    pub coverage: bool,
    /// Where tasks may be interrupted.
    pub granularity: Granularity,
    /// The stack size of stackful tasks (threads, and every task at
    /// [`Granularity::Step`]), in bytes; [`STACK_SIZE_DEFAULT`] by default.
    /// On Linux (x86_64, aarch64) a task that overflows it fails the
    /// execution with a panic naming the size; elsewhere the overflow kills
    /// the process.
    ///
    /// [`STACK_SIZE_DEFAULT`]: racecheck_runtime::STACK_SIZE_DEFAULT
    pub stack_size: usize,
    /// What happens to the tasks left when the root returns: they run to
    /// their end (the default), or the runtime may shut down at any
    /// scheduling point after it, dropping them, as tokio's does.
    pub shutdown: Shutdown,
    /// Whether a task that returned `Pending` may be polled once more
    /// before anything wakes it (a spurious wake-up), as a choice of the
    /// strategy after every block.
    pub spurious_wakeups: bool,
    /// Gather the contention profile of every execution
    /// ([`Report::contention`](crate::Report::contention)); costs a pass
    /// over each trace, nothing on the per-step path.
    pub profile: bool,
    /// A what-if: sleeps made while holding a lock or permits taken at
    /// this site end at once, as if that critical section took no virtual
    /// time (see [`Limits::instant_section`]).
    pub instant_section: Option<Location>,
    /// Before a failure is reported, replay its schedule once and report
    /// uncontrolled nondeterminism if the events differ
    /// ([`Failure::nondeterminism`](crate::Failure::nondeterminism)). On
    /// by default; off for a body that can run only once.
    pub check_replay: bool,
    /// Also replay every `k`-th execution that passes (iterations `k - 1`,
    /// `2k - 1`, ...) and fail with
    /// [`FailureKind::Uncontrolled`](crate::FailureKind::Uncontrolled) if
    /// its events differ: catches nondeterminism that never makes a
    /// failure of its own, at the cost of one execution in `k`. 0 (the
    /// default) turns it off.
    pub check_replay_every: u64,
    /// Whether executions may use primitives created outside them (see
    /// [`Limits::allow_untracked_objects`]). Off by default.
    pub allow_untracked_objects: bool,
}

/// One of `count` disjoint parts of an exploration's iterations, for
/// splitting it across CI jobs: iteration `i` belongs to shard
/// `i % count`, and runs exactly as it would unsharded.
///
/// ```
/// use racecheck_explore::Shard;
/// let shard: Shard = "1/3".parse().unwrap();
/// assert_eq!((shard.index, shard.count), (1, 3));
/// assert!("3/3".parse::<Shard>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which part, from 0.
    pub index: u64,
    /// How many parts.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Shard {
        Shard { index: 0, count: 1 }
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let (index, count) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("shard `{text}` is not of the form i/n"))?;
        let parse = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| format!("shard `{text}`: `{part}` is not a number"))
        };
        let shard = Shard {
            index: parse(index)?,
            count: parse(count)?,
        };
        if shard.count == 0 || shard.index >= shard.count {
            return Err(format!("shard `{text}`: need 0 <= i < n"));
        }
        Ok(shard)
    }
}

impl Config {
    /// The iterations this configuration runs: the shard's, for strategies
    /// whose iterations are independent (random, PCT); all of them for the
    /// others.
    pub(crate) fn iterations_of_shard(&self) -> impl Iterator<Item = u64> {
        let Shard { index, count } = match self.strategy {
            Strategy::Random | Strategy::Pct { .. } => self.shard,
            Strategy::Replay(_) | Strategy::Exhaustive | Strategy::Bounded { .. } => {
                Shard::default()
            }
        };
        let iterations = self.iterations;
        (0..)
            .map(move |position: u64| index.saturating_add(position.saturating_mul(count)))
            .take_while(move |&iteration| iteration < iterations)
    }

    /// What bounds each execution.
    pub fn limits(&self) -> Limits {
        Limits {
            steps_max: self.steps_max,
            granularity: self.granularity,
            stack_size: self.stack_size,
            shutdown: self.shutdown,
            spurious_wakeups: self.spurious_wakeups,
            instant_section: self.instant_section,
            allow_untracked_objects: self.allow_untracked_objects,
        }
    }

    /// Default number of executions.
    pub const ITERATIONS_DEFAULT: u64 = 1000;
    /// Default step limit per execution.
    pub const STEPS_MAX_DEFAULT: u32 = Limits::STEPS_MAX_DEFAULT;
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 0,
            iterations: Config::ITERATIONS_DEFAULT,
            steps_max: Config::STEPS_MAX_DEFAULT,
            strategy: Strategy::Random,
            checks: Checks::default(),
            shard: Shard::default(),
            jobs: 1,
            coverage: false,
            granularity: Granularity::Await,
            stack_size: racecheck_runtime::STACK_SIZE_DEFAULT,
            shutdown: Shutdown::AfterLastTask,
            spurious_wakeups: false,
            profile: false,
            instant_section: None,
            check_replay: true,
            check_replay_every: 0,
            allow_untracked_objects: false,
        }
    }
}
