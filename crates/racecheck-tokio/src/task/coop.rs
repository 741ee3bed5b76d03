//! tokio's cooperative scheduling budget, `tokio::task::coop`, on
//! racecheck: there is no budget, since racecheck's scheduler decides every
//! switch; [`consume_budget`] is a scheduling point instead, so the
//! strategy may switch tasks where tokio could. Polled by hand
//! (`now_or_never`) its first poll finds the budget spent, so that a loop
//! that spends it by hand ends, as it does in tokio after 128 units.
//!
//! ```
//! use racecheck_tokio::runtime::Runtime;
//!
//! Runtime::new().unwrap().block_on(async {
//!     racecheck_tokio::task::coop::consume_budget().await;
//!     assert!(racecheck_tokio::task::coop::has_budget_remaining());
//! });
//! ```

use racecheck_runtime::rt::SchedulePoint;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A scheduling point, where tokio would spend one unit of the task's
/// budget and yield once it is spent.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// Runtime::new().unwrap().block_on(async {
///     for _ in 0..3 {
///         racecheck_tokio::task::coop::consume_budget().await;
///     }
/// });
/// ```
pub async fn consume_budget() {
    let mut point = SchedulePoint::new();
    let mut found_spent = false;
    poll_fn(|cx| {
        if racecheck_runtime::rt::polled_by_hand(cx) && !found_spent {
            found_spent = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        point.poll_point(cx)
    })
    .await;
}

/// Always `true`: racecheck's tasks have no budget to run out of.
///
/// ```
/// assert!(racecheck_tokio::task::coop::has_budget_remaining());
/// ```
pub fn has_budget_remaining() -> bool {
    true
}

/// Runs `future` outside the budget, like `tokio::task::unconstrained`:
/// under racecheck, `future` itself.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// Runtime::new().unwrap().block_on(async {
///     assert_eq!(racecheck_tokio::task::unconstrained(async { 1 }).await, 1);
/// });
/// ```
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained {
        future: Box::pin(future),
    }
}

/// The future of [`unconstrained`].
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::task::coop::Unconstrained;
///
/// Runtime::new().unwrap().block_on(async {
///     let future: Unconstrained<_> = racecheck_tokio::task::coop::unconstrained(async { 2 });
///     assert_eq!(future.await, 2);
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Unconstrained<F> {
    future: Pin<Box<F>>,
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<F::Output> {
        self.future.as_mut().poll(context)
    }
}
