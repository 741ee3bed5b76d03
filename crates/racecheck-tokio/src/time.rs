//! `tokio::time` on racecheck's virtual clock.
//!
//! The clock starts at zero in every execution and jumps to the next timer
//! when no task can run: it behaves as tokio's clock with `start_paused =
//! true` always. A test that sleeps for an hour finishes at once, and no
//! timing depends on the machine. [`pause`] and [`resume`] therefore do
//! nothing, and [`advance`] sleeps for the duration (other tasks run
//! meanwhile, as the clock reaches each timer on the way).
//!
//! ```
//! use racecheck_tokio::runtime::Runtime;
//! use racecheck_tokio::time::{sleep, Instant};
//! use std::time::Duration;
//!
//! Runtime::new().unwrap().block_on(async {
//!     let start = Instant::now();
//!     sleep(Duration::from_secs(3600)).await;
//!     assert_eq!(start.elapsed(), Duration::from_secs(3600));
//! });
//! ```

mod interval;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use racecheck_runtime::time::{timeout, Instant, Timeout};
pub use std::time::Duration;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The errors of `time`, as in `tokio::time::error`.
pub mod error {
    pub use racecheck_runtime::time::Elapsed;
}

/// Waits until `duration` has passed on the virtual clock.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use std::time::Duration;
///
/// Runtime::new().unwrap().block_on(async {
///     racecheck_tokio::time::sleep(Duration::from_millis(10)).await;
/// });
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(deadline_after(duration))
}

/// `now + duration`, or, where that overflows racecheck's clock, a far
/// future (30 years from now), as tokio's `Instant::far_future`.
pub(crate) fn deadline_after(duration: Duration) -> Instant {
    const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);
    let now = Instant::now();
    now.checked_add(duration)
        .unwrap_or_else(|| now + FAR_FUTURE)
}

/// Waits until the virtual clock reads `deadline`.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::time::{sleep_until, Instant};
/// use std::time::Duration;
///
/// Runtime::new().unwrap().block_on(async {
///     let deadline = Instant::now() + Duration::from_secs(1);
///     sleep_until(deadline).await;
///     assert_eq!(Instant::now(), deadline);
/// });
/// ```
///
/// # Panics
/// Outside an execution, as tokio's panics outside a runtime.
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    assert!(
        racecheck_runtime::rt::try_current_task().is_some(),
        "there is no reactor running, must be called from the context of a Tokio 1.x runtime"
    );
    Sleep {
        inner: racecheck_runtime::time::sleep_until(deadline),
        deadline,
        elapsed: false,
    }
}

/// The future of [`sleep`] and [`sleep_until`], like `tokio::time::Sleep`,
/// with its deadline and [`reset`](Sleep::reset).
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    inner: racecheck_runtime::time::Sleep,
    deadline: Instant,
    elapsed: bool,
}

impl Sleep {
    /// When the sleep ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the sleep has completed.
    pub fn is_elapsed(&self) -> bool {
        self.elapsed
    }

    /// Moves the deadline, also of a sleep that has completed.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio::time::{sleep, Instant};
    /// use std::time::Duration;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let start = Instant::now();
    ///     let nap = sleep(Duration::from_secs(60));
    ///     racecheck_tokio::pin!(nap);
    ///     nap.as_mut().reset(start + Duration::from_secs(1));
    ///     nap.await;
    ///     assert_eq!(start.elapsed(), Duration::from_secs(1));
    /// });
    /// ```
    #[track_caller]
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        *self.get_mut() = sleep_until(deadline);
    }
}

impl Future for Sleep {
    type Output = ();

    /// A deadline already reached completes at once, as tokio's does (a
    /// `sleep` reset to the past, `sleep(Duration::ZERO)`): no scheduling
    /// point, nothing recorded.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.elapsed || Instant::now() >= this.deadline {
            this.elapsed = true;
            return Poll::Ready(());
        }
        let poll = Pin::new(&mut this.inner).poll(cx);
        this.elapsed |= poll.is_ready();
        poll
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// Runs `future` until the virtual clock reads `deadline`:
/// `Err(Elapsed)` if it gets there first.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::time::{sleep, timeout_at, Instant};
/// use std::time::Duration;
///
/// Runtime::new().unwrap().block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     assert!(timeout_at(deadline, sleep(Duration::from_secs(1))).await.is_err());
/// });
/// ```
#[track_caller]
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    timeout(deadline.saturating_duration_since(Instant::now()), future)
}

/// Does nothing: racecheck's clock is always paused, and moves to the next
/// timer when no task can run (tokio's `start_paused = true`).
pub fn pause() {}

/// Does nothing: racecheck's clock never runs in real time.
pub fn resume() {}

/// Moves the clock forward by `duration`: the calling task sleeps that long
/// on the virtual clock, and timers due on the way fire in order.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::time::{advance, Instant};
/// use std::time::Duration;
///
/// Runtime::new().unwrap().block_on(async {
///     let start = Instant::now();
///     advance(Duration::from_secs(5)).await;
///     assert_eq!(start.elapsed(), Duration::from_secs(5));
/// });
/// ```
#[track_caller]
pub fn advance(duration: Duration) -> Sleep {
    sleep(duration)
}
