//! Virtual time: [`sleep`], [`timeout`] and [`Instant`] on a simulated clock.
//!
//! The clock starts at zero in every execution and only moves when no task
//! is runnable: it then jumps to the earliest pending timer. A test that
//! sleeps for an hour finishes at once, and timing never depends on the
//! machine. Timers create no order between tasks: two tasks ordered only by
//! their sleeps still race, and a strategy may run them in either order
//! whenever both are runnable at the same virtual instant.
//!
//! ```
//! use racecheck_runtime::time::{sleep, Instant};
//! use std::time::Duration;
//!
//! racecheck_runtime::run_once(|| async {
//!     let start = Instant::now();
//!     sleep(Duration::from_secs(3600)).await;
//!     assert_eq!(start.elapsed(), Duration::from_secs(3600));
//! });
//! ```

use crate::execution::{self, BlockReason};
use crate::rt::SchedulePoint;
use racecheck_trace::{Location, Op};
use std::fmt;
use std::future::Future;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A point on the virtual clock of the current execution.
///
/// ```
/// use racecheck_runtime::time::Instant;
/// use std::time::Duration;
///
/// racecheck_runtime::run_once(|| async {
///     let start = Instant::now();
///     let later = start + Duration::from_millis(5);
///     assert_eq!(later - start, Duration::from_millis(5));
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    nanos: u64,
}

impl Instant {
    /// The current virtual time. Every execution's clock starts at the
    /// same origin, which is also what it reads outside an execution (an
    /// instant taken before `block_on`, as tokio's tests do).
    ///
    /// ```
    /// use racecheck_runtime::time::Instant;
    ///
    /// let before = Instant::now();
    /// racecheck_runtime::run_once(move || async move {
    ///     assert_eq!(Instant::now(), before);
    /// });
    /// ```
    pub fn now() -> Instant {
        let nanos = execution::with_active(|execution| execution.now_ns);
        Instant {
            nanos: nanos.unwrap_or(0),
        }
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }

    /// Virtual time passed since `self`.
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// Time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.nanos
            .checked_sub(earlier.nanos)
            .map(Duration::from_nanos)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later (as
    /// [`duration_since`](Self::duration_since)).
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }

    /// `self + duration`, or `None` on overflow.
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        let nanos = u64::try_from(duration.as_nanos()).ok()?;
        Some(Instant {
            nanos: self.nanos.checked_add(nanos)?,
        })
    }

    /// `self - duration`, or `None` before the start of the execution.
    ///
    /// ```
    /// use racecheck_runtime::time::Instant;
    /// use std::time::Duration;
    ///
    /// racecheck_runtime::run_once(|| async {
    ///     let start = Instant::now();
    ///     assert_eq!(start.checked_sub(Duration::from_nanos(1)), None);
    ///     let later = start + Duration::from_secs(2);
    ///     assert_eq!(later.checked_sub(Duration::from_secs(2)), Some(start));
    /// });
    /// ```
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        let nanos = u64::try_from(duration.as_nanos()).ok()?;
        Some(Instant {
            nanos: self.nanos.checked_sub(nanos)?,
        })
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    fn sub(self, duration: Duration) -> Instant {
        self.checked_sub(duration)
            .expect("racecheck: an Instant minus a duration is before the execution started")
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, duration: Duration) {
        *self = *self + duration;
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, duration: Duration) {
        *self = *self - duration;
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, duration: Duration) -> Instant {
        self.checked_add(duration)
            .expect("racecheck: overflow when adding a duration to an Instant")
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

/// Waits until `duration` has passed on the virtual clock.
///
/// Sleeping is a visible operation. A zero duration is a scheduling point
/// that does not block, like [`yield_now`](crate::yield_now).
///
/// ```
/// use std::time::Duration;
///
/// racecheck_runtime::run_once(|| async {
///     racecheck_runtime::time::sleep(Duration::from_millis(10)).await;
/// });
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(SleepUntil::After(duration), true, Location::caller())
}

/// Waits until the virtual clock reads `deadline`.
///
/// ```
/// use racecheck_runtime::time::{sleep_until, Instant};
/// use std::time::Duration;
///
/// racecheck_runtime::run_once(|| async {
///     let deadline = Instant::now() + Duration::from_secs(1);
///     sleep_until(deadline).await;
///     assert_eq!(Instant::now(), deadline);
/// });
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(SleepUntil::At(deadline), true, Location::caller())
}

#[derive(Clone, Copy, Debug)]
enum SleepUntil {
    After(Duration),
    At(Instant),
}

/// The future of [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    until: SleepUntil,
    state: SleepState,
    /// Whether to record a `Sleep` event (not when inside a `timeout`).
    visible: bool,
    location: Location,
}

#[derive(Clone, Copy, Debug)]
enum SleepState {
    Start,
    Yielding(SchedulePoint),
    Waiting { deadline_ns: u64, timer: usize },
    Done,
}

impl Sleep {
    fn new(until: SleepUntil, visible: bool, location: Location) -> Sleep {
        Sleep {
            until,
            state: SleepState::Start,
            visible,
            location,
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep").field("until", &self.until).finish()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match &mut this.state {
            SleepState::Start => {
                if execution::tearing_down() {
                    // In a destructor run at the end: time is over too.
                    return Poll::Ready(());
                }
                let (visible, location, until) = (this.visible, this.location, this.until);
                let waker = cx.waker().clone();
                this.state = execution::with(|execution| {
                    let now_ns = execution.now_ns;
                    let mut deadline_ns = match until {
                        SleepUntil::After(duration) => {
                            let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
                            now_ns.saturating_add(nanos)
                        }
                        SleepUntil::At(instant) => instant.nanos.max(now_ns),
                    };
                    // The what-if of `Limits::instant_section`: work inside
                    // that critical section takes no time. A `timeout`'s
                    // deadline (not visible) is not work and keeps its time.
                    if let Some(site) = execution.instant_section {
                        if visible && execution.running_task_holds_taken_at(site) {
                            deadline_ns = now_ns;
                        }
                    }
                    if visible {
                        execution.record(
                            Op::Sleep {
                                until_ns: deadline_ns,
                            },
                            location,
                        );
                    }
                    if deadline_ns == now_ns {
                        return SleepState::Yielding(SchedulePoint::new());
                    }
                    let current = execution.current_task();
                    execution.tasks[current.index()].block_reason = BlockReason::Sleep;
                    let timer = execution.add_timer(deadline_ns, waker);
                    SleepState::Waiting { deadline_ns, timer }
                });
                if let SleepState::Yielding(point) = &mut this.state {
                    // Passed in place at step granularity: the sleep is over.
                    if point.poll_point(cx).is_ready() {
                        this.state = SleepState::Done;
                        return Poll::Ready(());
                    }
                }
                Poll::Pending
            }
            SleepState::Yielding(point) => {
                let poll = point.poll_point(cx);
                if poll.is_ready() {
                    this.state = SleepState::Done;
                }
                poll
            }
            SleepState::Waiting { deadline_ns, timer } => {
                let (deadline_ns, timer) = (*deadline_ns, *timer);
                let waker = cx.waker().clone();
                let (due, replaced) = execution::with(|execution| {
                    if execution.now_ns >= deadline_ns {
                        return (true, None);
                    }
                    // Woken early (a `select!` sibling): keep waiting.
                    let replaced = execution.timer_wakers[timer].replace(waker);
                    let current = execution.current_task();
                    execution.tasks[current.index()].block_reason = BlockReason::Sleep;
                    (false, replaced)
                });
                // Outside the borrow: a waker's drop is user code, which
                // may drop another sleep.
                drop(replaced);
                if due {
                    this.state = SleepState::Done;
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
            SleepState::Done => Poll::Ready(()),
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let SleepState::Waiting { timer, .. } = self.state {
            let waker = execution::with_active(|execution| {
                execution.timer_wakers.get_mut(timer).and_then(Option::take)
            });
            // Outside the borrow: a waker's drop is user code, which may
            // drop another sleep (tokio's `drop_from_waker_drop`).
            drop(waker);
        }
    }
}

/// Error returned by [`timeout`] when the deadline passed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `future` with a virtual-time limit: `Err(Elapsed)` if `duration`
/// passes before it completes (and the future is dropped).
///
/// ```
/// use racecheck_runtime::time::{sleep, timeout};
/// use std::time::Duration;
///
/// racecheck_runtime::run_once(|| async {
///     let slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(1))).await;
///     assert!(slow.is_err());
///     let fast = timeout(Duration::from_secs(1), async { 3 }).await;
///     assert_eq!(fast, Ok(3));
/// });
/// ```
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    let location = Location::caller();
    Timeout {
        future: Box::pin(future),
        sleep: Sleep::new(SleepUntil::After(duration), false, location),
        location,
    }
}

/// The future of [`timeout`].
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    future: Pin<Box<F>>,
    sleep: Sleep,
    location: Location,
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("sleep", &self.sleep)
            .finish()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(output) = this.future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => {
                let location = this.location;
                execution::with(|execution| execution.record(Op::TimedOut, location));
                Poll::Ready(Err(Elapsed(())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
