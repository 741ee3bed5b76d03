//! `tokio::time::Interval` on the virtual clock.

use super::{deadline_after, sleep_until, Duration, Instant, Sleep};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A ticker whose first tick completes at once and the following ones every
/// `period`, like `tokio::time::interval`.
///
/// # Panics
/// If `period` is zero.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::time::{interval, Instant};
/// use std::time::Duration;
///
/// Runtime::new().unwrap().block_on(async {
///     let start = Instant::now();
///     let mut ticks = interval(Duration::from_secs(10));
///     ticks.tick().await; // at once
///     ticks.tick().await;
///     ticks.tick().await;
///     assert_eq!(start.elapsed(), Duration::from_secs(20));
/// });
/// ```
///
/// # Panics
/// If `period` is zero.
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    assert!(period > Duration::ZERO, "`period` must be non-zero.");
    interval_at(Instant::now(), period)
}

/// A ticker whose first tick completes at `start` and the following ones
/// every `period`.
///
/// # Panics
/// If `period` is zero.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(period > Duration::ZERO, "`period` must be non-zero.");
    Interval {
        sleep: sleep_until(start),
        period,
        missed_tick_behavior: MissedTickBehavior::Burst,
    }
}

/// What an [`Interval`] does when ticks were missed (the task was busy past
/// a deadline), as in tokio.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissedTickBehavior {
    /// Tick at once for every missed tick, then keep the original schedule.
    #[default]
    Burst,
    /// Tick at once, then every `period` from now.
    Delay,
    /// Tick at once, then at the next multiple of `period` of the original
    /// schedule.
    Skip,
}

impl MissedTickBehavior {
    /// The deadline after a tick due at `due` that completed at `now`,
    /// `period` apart. As in tokio, a tick at most 5 ms late is not
    /// missed, and a deadline past the end of the clock is a far future.
    fn next(self, due: Instant, now: Instant, period: Duration) -> Instant {
        const LATE: Duration = Duration::from_millis(5);
        let missed = now
            .checked_duration_since(due)
            .is_some_and(|late| late > LATE);
        let next = match self {
            _ if !missed => due.checked_add(period),
            MissedTickBehavior::Burst => due.checked_add(period),
            MissedTickBehavior::Delay => now.checked_add(period),
            MissedTickBehavior::Skip => {
                let late = now.duration_since(due).as_nanos();
                let periods = late / period.as_nanos() + 1;
                u32::try_from(periods)
                    .ok()
                    .and_then(|periods| period.checked_mul(periods))
                    .and_then(|skip| due.checked_add(skip))
            }
        };
        next.unwrap_or_else(|| deadline_after(Duration::MAX))
    }
}

/// The ticker of [`interval`] and [`interval_at`].
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns when it was due.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    #[track_caller]
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let due = self.sleep.deadline();
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let now = Instant::now();
        let next = self.missed_tick_behavior.next(due, now, self.period);
        self.sleep = sleep_until(next);
        Poll::Ready(due)
    }

    /// Restarts the schedule: the next tick is one period from now.
    #[track_caller]
    pub fn reset(&mut self) {
        self.sleep = sleep_until(deadline_after(self.period));
    }

    /// The next tick is at once.
    #[track_caller]
    pub fn reset_immediately(&mut self) {
        self.sleep = sleep_until(Instant::now());
    }

    /// The next tick is `after` from now.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio::time::{interval, Instant};
    /// use std::time::Duration;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let mut ticks = interval(Duration::from_secs(10));
    ///     ticks.tick().await;
    ///     let start = Instant::now();
    ///     ticks.reset_after(Duration::from_secs(3));
    ///     ticks.tick().await;
    ///     assert_eq!(start.elapsed(), Duration::from_secs(3));
    /// });
    /// ```
    #[track_caller]
    pub fn reset_after(&mut self, after: Duration) {
        self.sleep = sleep_until(deadline_after(after));
    }

    /// The next tick is at `deadline`.
    #[track_caller]
    pub fn reset_at(&mut self, deadline: Instant) {
        self.sleep = sleep_until(deadline);
    }

    /// What happens to missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_ticks_follow_the_behaviour() {
        crate::runtime::Runtime::new().unwrap().block_on(async {
            let start = Instant::now();
            let period = Duration::from_secs(10);
            let late = start + Duration::from_secs(25);
            let cases = [
                (MissedTickBehavior::Burst, start + period),
                (MissedTickBehavior::Delay, late + period),
                (MissedTickBehavior::Skip, start + Duration::from_secs(30)),
            ];
            for (behavior, expected) in cases {
                assert_eq!(behavior.next(start, late, period), expected, "{behavior:?}");
            }
        });
    }
}
