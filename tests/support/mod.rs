//! Helpers shared by the primitive-semantics tests (`primitives.rs`,
//! `primitives_coordination.rs`): explore a scenario under many schedules, find its
//! first failure, and small conveniences.

use racecheck::{Builder, FailureKind, JoinHandle};
use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

/// Executions per scenario that must pass under every schedule.
pub const ITERATIONS: u64 = 1000;
/// Executions within which a scenario with a bug must fail.
pub const FAILURE_SEARCH_ITERATIONS: u64 = 1000;

pub fn explore<F, Fut>(test: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    Builder::new().iterations(ITERATIONS).check(test);
}

pub fn first_failure<F, Fut>(test: F) -> FailureKind
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let report = Builder::new()
        .iterations(FAILURE_SEARCH_ITERATIONS)
        .run(test);
    match report.failure {
        Some(failure) => failure.kind,
        None => panic!("no failure in {} executions", report.executions),
    }
}

/// Polls a primitive's future by hand, within this step, until it has
/// reached the primitive: past its scheduling point, it has then either
/// finished or queued. The caller keeps the queued future and may drop it.
pub async fn poll_into_queue<F: Future>(mut future: Pin<&mut F>) -> Poll<F::Output> {
    poll_fn(|context| {
        Poll::Ready(match future.as_mut().poll(context) {
            Poll::Ready(output) => Poll::Ready(output),
            Poll::Pending => future.as_mut().poll(context),
        })
    })
    .await
}

pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

pub type Log<T> = Rc<RefCell<Vec<T>>>;

pub fn log<T>() -> Log<T> {
    Rc::new(RefCell::new(Vec::new()))
}

pub async fn join_all<T: 'static>(handles: Vec<JoinHandle<T>>) -> Vec<T> {
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await);
    }
    outputs
}
