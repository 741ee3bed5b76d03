//! The outcome of an exploration.

use crate::{Config, Failure};
use racecheck_detect::{Contention, Finding};

/// The outcome of an exploration.
#[derive(Clone, Debug)]
pub struct Report {
    /// Executions run, including a failing one.
    pub executions: u64,
    /// The seed used.
    pub seed: u64,
    /// The strategy's name.
    pub strategy: &'static str,
    /// The first failure, if any.
    pub failure: Option<Failure>,
    /// Findings configured to warn, each once, in the order found.
    pub warnings: Vec<Finding>,
    /// The strategy ran out of schedules before the budget: with no failure,
    /// the exhaustive strategy has proved the test for every order of
    /// racecheck's operations. State the tasks share through anything else
    /// (std atomics, `std::sync`, `Cell`, globals) is invisible to it: its
    /// interleavings are not explored, and the search checks its first
    /// execution for such a dependency (see [`Report::hidden_dependency`]).
    pub complete: bool,
    /// Set when an exhaustive search that ran out of schedules turned out
    /// not to be complete: two steps of its first execution that touch no
    /// common racecheck object did something else when swapped, so the
    /// tasks depend on each other through state racecheck does not see. The
    /// sentence names the steps; `complete` is then `false`, and if the
    /// swapped execution failed, that is the reported failure.
    pub hidden_dependency: Option<String>,
    /// With [`Config::coverage`], how many distinct interleaving classes
    /// (executions that differ in the order of some conflicting steps) the
    /// executions covered.
    pub classes: Option<u64>,
    /// Executions covered by other executions: stopped part-way (the
    /// exhaustive search's sleep-set blocked prefixes) or run on only to
    /// learn from their steps (its tentative hand-overs); not counted in
    /// `executions`.
    pub redundant: u64,
    /// With [`Config::profile`], the contention profile of the executions.
    pub(crate) contention: Option<Contention>,
}

impl Report {
    /// No execution yet.
    pub(crate) fn empty(config: &Config) -> Report {
        Report {
            executions: 0,
            seed: config.seed,
            strategy: config.strategy.name(),
            failure: None,
            warnings: Vec::new(),
            complete: false,
            hidden_dependency: None,
            classes: None,
            redundant: 0,
            contention: config.profile.then(Contention::default),
        }
    }

    /// With [`Config::profile`], the contention profile of every execution
    /// counted in `executions`: per lock, semaphore, queue and channel, the
    /// waits and holds in virtual time and steps, sorted by total wait.
    ///
    /// ```
    /// use racecheck_explore::{explore, Config};
    ///
    /// let config = Config { profile: true, iterations: 10, ..Config::default() };
    /// let report = explore(&config, || async {
    ///     racecheck_runtime::time::sleep(std::time::Duration::from_millis(5)).await;
    /// });
    /// let contention = report.contention().unwrap();
    /// assert_eq!(contention.executions, 10);
    /// assert_eq!(contention.mean_virtual_ns(), 5e6);
    /// assert!(contention.rows().is_empty()); // no lock, no contention
    /// ```
    pub fn contention(&self) -> Option<&Contention> {
        self.contention.as_ref()
    }

    /// Adds one execution's profile, if profiling.
    #[inline]
    pub(crate) fn add_contention(&mut self, contention: Option<Contention>) {
        if let (Some(into), Some(from)) = (&mut self.contention, contention) {
            into.merge(from);
        }
    }

    /// One line saying what was explored: `exhaustive: all 90 executions
    /// explored, no failure`, or `random: 1000 executions, no failure`.
    pub fn summary(&self) -> String {
        let outcome = if self.failure.is_some() {
            "a failure"
        } else {
            "no failure"
        };
        let mut classes = match self.classes {
            Some(classes) => format!(", {classes} distinct interleaving classes"),
            None => String::new(),
        };
        if self.redundant > 0 {
            classes += &format!(" ({} redundant, covered by others)", self.redundant);
        }
        let mut summary = if self.complete {
            format!(
                "{}: all {} executions explored{classes}, {outcome}",
                self.strategy, self.executions
            )
        } else {
            format!(
                "{}: {} executions{classes}, {outcome}",
                self.strategy, self.executions
            )
        };
        if let Some(dependency) = &self.hidden_dependency {
            summary += &format!("; not a proof: {dependency}");
        }
        summary
    }
}
