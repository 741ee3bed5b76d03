//! What `#[tokio::test]` expands to: the test's body as an exploration.

use racecheck::{Granularity, Strategy};
use std::fmt::Debug;
use std::future::Future;

/// The settings of one `#[tokio::test]`, from its attribute.
#[derive(Clone, Debug)]
pub struct TestSettings {
    /// `flavor = "multi_thread"`: step granularity.
    pub step: bool,
    /// Executions to explore (racecheck's default unless set).
    pub iterations: Option<u64>,
    /// The seed.
    pub seed: Option<u64>,
    /// `"random"`, `"pct"`, `"exhaustive"` or `"bounded"`.
    pub strategy: Option<&'static str>,
    /// PCT's depth (default 3), or the bounded search's preemptions
    /// (default 2).
    pub depth: Option<u32>,
    /// `check_replay_every = k`: replay every k-th passing execution.
    pub check_replay_every: Option<u64>,
    /// `unhandled_panic = "shutdown_runtime"`: a panic in any task fails
    /// the execution, instead of becoming a `JoinError`.
    pub panics_fail: bool,
    /// `name = "…"`: the runtime's name, as `Handle::name` returns it.
    pub name: Option<&'static str>,
    /// The package whose test this is, for the replay line.
    pub package: &'static str,
}

/// What a test body may return: `()`, or a `Result` whose `Err` fails the
/// execution.
pub trait TestOutput {
    /// Panics on failure.
    fn check(self);
}

impl TestOutput for () {
    fn check(self) {}
}

impl<E: Debug> TestOutput for Result<(), E> {
    #[track_caller]
    fn check(self) {
        if let Err(error) = self {
            panic!("the test returned Err({error:?})");
        }
    }
}

impl TestSettings {
    fn builder(&self) -> racecheck::Builder {
        let granularity = if self.step {
            Granularity::Step
        } else {
            Granularity::Await
        };
        let mut builder = racecheck::Builder::new()
            .granularity(granularity)
            .cargo_test_args(format!("-p {} --features racecheck", self.package))
            // tokio code keeps primitives in statics (`const_new`).
            .allow_untracked_objects(true);
        if let Some(iterations) = self.iterations {
            builder = builder.iterations(iterations);
        }
        if let Some(seed) = self.seed {
            builder = builder.seed(seed);
        }
        if let Some(every) = self.check_replay_every {
            builder = builder.check_replay_every(every);
        }
        let strategy = match self.strategy {
            None | Some("random") => Strategy::Random,
            Some("pct") => Strategy::Pct {
                depth: self.depth.unwrap_or(3),
            },
            Some("exhaustive") => Strategy::Exhaustive,
            Some("bounded") => Strategy::Bounded {
                preemptions: self.depth.unwrap_or(2),
            },
            Some(other) => panic!("racecheck-tokio: unknown strategy {other:?}"),
        };
        builder.strategy(strategy)
    }
}

/// Explores `body` under `settings` (environment overrides applied) and
/// panics with the report, which ends with the line that replays the
/// failure, on the first failure.
#[track_caller]
pub fn run_test<F, Fut>(settings: TestSettings, body: F)
where
    F: Fn() -> Fut,
    Fut: Future + 'static,
    Fut::Output: TestOutput,
{
    let _mode = crate::task::panics_fail(settings.panics_fail);
    let _name = super::name_runtime(settings.name);
    settings.builder().check(|| {
        let test = body();
        async move { test.await.check() }
    });
}
