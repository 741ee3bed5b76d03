//! Opt-in catching of a task's panics, for front ends whose join handles
//! report a panic as a value (tokio's `JoinError::is_panic`) instead of
//! failing the execution.
//!
//! By default a panic in a task fails the whole execution: that is what a
//! test written against racecheck wants. A task whose future is wrapped in
//! [`catch_unwind`] instead finishes with `Err(payload)`, and whoever joins
//! it decides what the panic means. Only panics of the task's own polls
//! inside an active execution are caught: the unwinding racecheck uses to
//! drop a suspended stackful task at teardown passes through untouched.

use crate::execution;
use crate::panic;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The payload of a caught panic, as `std::panic::catch_unwind` returns it.
pub type PanicPayload = Box<dyn Any + Send + 'static>;

/// Wraps `future` so that a panic while polling it completes the future with
/// `Err(payload)` instead of failing the execution; the future is dropped
/// at once, as tokio drops a panicked task's future.
///
/// ```
/// use racecheck_runtime::{catch_unwind, spawn};
///
/// racecheck_runtime::run_once(|| async {
///     let worker = spawn(catch_unwind(async { panic!("worker failed") }));
///     let payload = worker.await.unwrap_err();
///     assert_eq!(payload.downcast_ref::<&str>(), Some(&"worker failed"));
///     let fine = spawn(catch_unwind(async { 7 }));
///     assert_eq!(fine.await.ok(), Some(7));
/// });
/// ```
pub fn catch_unwind<F: Future>(future: F) -> CatchUnwind<F> {
    CatchUnwind {
        future: Some(future),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`catch_unwind`]: the wrapped future inline, dropped
    /// when it completes or panics.
    #[must_use = "futures do nothing unless awaited"]
    pub struct CatchUnwind<F> {
        #[pin]
        future: Option<F>,
    }
}

impl<F> fmt::Debug for CatchUnwind<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatchUnwind")
            .field("done", &self.future.is_none())
            .finish()
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, PanicPayload>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.project().future;
        let future = slot
            .as_mut()
            .as_pin_mut()
            .expect("racecheck: CatchUnwind polled after completion");
        let output = match catching(|| future.poll(cx)) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            Err(payload) => Err(payload),
        };
        drop_catching(slot);
        Poll::Ready(output)
    }
}

/// Runs `body`, catching its panic as [`catch_unwind`] does: `Err(payload)`
/// for a panic inside an active execution, which is then a value, not a
/// failure. The unwinding of a teardown (or a panic after the execution
/// ended) passes through. For front ends that keep a task's future in
/// their own wrapper (a poll, or the drop of an aborted task's future).
///
/// ```
/// use racecheck_runtime::catching;
///
/// racecheck_runtime::run_once(|| async {
///     assert_eq!(catching(|| 7).ok(), Some(7));
///     let payload = catching(|| panic!("boom")).unwrap_err();
///     assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
/// });
/// ```
pub fn catching<R>(body: impl FnOnce() -> R) -> Result<R, PanicPayload> {
    let payload = match std::panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(output) => return Ok(output),
        Err(payload) => payload,
    };
    if execution::with_active(|_| ()).is_none() {
        // Teardown unwinding a suspended stack, or a panic after the
        // execution ended: not the task's to catch.
        std::panic::resume_unwind(payload);
    }
    // The panic hook stashed the message for a report; this panic is now a
    // value, so the next report must not pick it up.
    let _ = panic::take_last(payload.as_ref());
    Err(payload)
}

/// Drops the future in `slot`, as tokio drops a finished or panicked
/// task's future: a panic of the drop is ignored, as tokio ignores it.
///
/// ```
/// use racecheck_runtime::drop_catching;
/// use std::pin::pin;
///
/// struct PanicsOnDrop;
/// impl Drop for PanicsOnDrop {
///     fn drop(&mut self) {
///         panic!("in drop");
///     }
/// }
/// let mut slot = pin!(Some(async { let _guard = PanicsOnDrop; }));
/// drop_catching(slot.as_mut());
/// assert!(slot.is_none());
/// ```
pub fn drop_catching<F>(mut slot: Pin<&mut Option<F>>) {
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| slot.set(None)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{spawn, thread, Executor, Granularity, Limits, Scheduler};
    use racecheck_trace::TaskId;

    struct First;
    impl Scheduler for First {
        fn new_execution(&mut self, _: u64) -> bool {
            true
        }
        fn next_task(&mut self, runnable: &[TaskId], _: Option<TaskId>) -> Option<TaskId> {
            runnable.first().copied()
        }
    }

    #[test]
    fn a_caught_panic_is_a_value_at_both_granularities() {
        for granularity in [Granularity::Await, Granularity::Step] {
            let mut executor = Executor::new(Limits {
                granularity,
                ..Limits::default()
            });
            let outcome = executor.run(
                &|| async {
                    let worker = spawn(catch_unwind(async {
                        crate::yield_now().await;
                        panic!("caught");
                    }));
                    let payload = worker.await.expect_err("the task panicked");
                    assert_eq!(payload.downcast_ref::<&str>(), Some(&"caught"));
                },
                &mut First,
            );
            assert!(outcome.failure.is_none(), "{:?}", outcome.failure);
            assert!(outcome.end.root_finished);
        }
    }

    #[test]
    fn an_uncaught_panic_still_fails_the_execution() {
        let mut executor = Executor::new(Limits::default());
        let outcome = executor.run(
            &|| async {
                let _caught = spawn(catch_unwind(async { panic!("caught") }));
                spawn(async { panic!("not caught") });
            },
            &mut First,
        );
        let failure = format!("{:?}", outcome.failure);
        assert!(failure.contains("not caught"), "{failure}");
    }

    #[test]
    fn teardown_of_a_blocked_stackful_task_is_not_caught() {
        // A thread blocked for good inside `catch_unwind` is unwound at
        // teardown. Catching that unwind would resume the thread's body
        // after the execution ended.
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let resumed = Arc::new(AtomicBool::new(false));
        let mut executor = Executor::new(Limits::default());
        let outcome = executor.run(
            &|| {
                let resumed = resumed.clone();
                async move {
                    thread::spawn(move || {
                        // Suspended inside the wrapped poll, as a blocking
                        // call inside an async task at step granularity is.
                        let blocked = async { crate::block_on(std::future::pending::<()>()) };
                        let _ = crate::block_on(catch_unwind(blocked));
                        resumed.store(true, Ordering::SeqCst);
                    });
                }
            },
            &mut First,
        );
        assert!(outcome.failure.is_none(), "{:?}", outcome.failure);
        assert_eq!(outcome.end.blocked.len(), 1);
        assert!(
            !resumed.load(Ordering::SeqCst),
            "the body ran on after teardown"
        );
    }
}
