//! Helpers shared by the primitive-semantics tests (`primitives.rs`,
//! `primitives_coordination.rs`): explore a scenario under many schedules, find its
//! first failure, and small conveniences.

use racecheck::{Builder, FailureKind, JoinHandle};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
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
