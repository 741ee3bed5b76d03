//! Minimisation: from a failing schedule, a schedule that fails the same
//! way with fewer preemptions, which is easier to read.
//!
//! Each round tries to take out one context switch, from the last to the
//! first: the schedule is followed up to the switch, then the task that
//! was running goes on while it can, and then the rest of the original
//! schedule is followed, minus the steps that task has already taken. A
//! candidate that fails the same way with fewer preemptions replaces the
//! schedule; the rounds stop when no switch can go, or at the budget.
//! Then iterative context bounding ([`BoundedScheduler`]) runs the
//! schedules with fewer preemptions than found so far, fewest first, until
//! one fails the same way or the budget ends.

use crate::explore::Explorer;
use crate::{BoundedScheduler, Config, Failure, FailureKind};
use racecheck_detect::Finding;
use racecheck_runtime::Scheduler;
use racecheck_trace::{Schedule, TaskId};
use std::future::Future;

/// The outcome of [`minimize`].
#[derive(Clone, Debug)]
pub struct Minimized {
    /// The smallest failing execution found (the original if none was
    /// smaller).
    pub failure: Failure,
    /// Preemptions of the original schedule.
    pub preemptions_before: usize,
    /// Preemptions of the minimised one.
    pub preemptions_after: usize,
    /// Candidate executions tried.
    pub executions: u64,
}

/// Steps the minimiser runs at most, in all its candidates, whatever its
/// budget of executions: a candidate that runs into the step limit (a
/// livelock) costs the whole limit, and a report should not wait for a
/// thousand of them. Counted in steps, not time, so that the schedule
/// reported does not depend on the machine.
pub const MINIMIZE_STEPS_MAX: u64 = 2_000_000;

/// Searches, within `budget` executions (and [`MINIMIZE_STEPS_MAX`]
/// steps), for a schedule that fails like `failure` with fewer
/// preemptions. `config` supplies the checks and the step limit; `test`
/// must be the test that failed.
///
/// ```
/// use racecheck_explore::{explore, minimize, Config};
///
/// let test = || async {
///     let worker = racecheck_runtime::spawn(async { racecheck_runtime::yield_now().await });
///     racecheck_runtime::yield_now().await;
///     worker.await;
///     panic!("always");
/// };
/// let failure = explore(&Config::default(), test).failure.unwrap();
/// let minimized = minimize(&Config::default(), &failure, 100, test);
/// assert!(minimized.preemptions_after <= minimized.preemptions_before);
/// ```
pub fn minimize<F, Fut>(config: &Config, failure: &Failure, budget: u64, test: F) -> Minimized
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let mut search = Search {
        explorer: Explorer::new(config),
        test: &test,
        original: &failure.kind,
        budget,
        executions: 1,
        best: failure.clone(),
        best_preemptions: 0,
    };
    let (before, _) = search.run_guided(usize::MAX, 0);
    search.best_preemptions = before;
    search.delay_switches();
    search.bound_below();
    let Search {
        mut best,
        best_preemptions,
        executions,
        ..
    } = search;
    best.iteration = failure.iteration;
    best.seed = failure.seed;
    best.strategy = failure.strategy;
    best.nondeterminism = failure.nondeterminism.clone();
    if best_preemptions < before {
        best.minimized = Some((before, best_preemptions));
    }
    Minimized {
        failure: best,
        preemptions_before: before,
        preemptions_after: best_preemptions,
        executions,
    }
}

/// A minimisation under way: the best failure found so far and what the
/// search has spent.
struct Search<'a, 'c, F> {
    explorer: Explorer<'c>,
    test: &'a F,
    original: &'a FailureKind,
    budget: u64,
    executions: u64,
    best: Failure,
    best_preemptions: usize,
}

impl<F, Fut> Search<'_, '_, F>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    /// Whether the budget of executions or of steps is spent.
    fn spent(&self) -> bool {
        self.executions >= self.budget || self.explorer.steps_run() >= MINIMIZE_STEPS_MAX
    }

    /// Follows the best schedule for `keep` steps, lets the running task
    /// go on for up to `delay` steps, then follows the rest; returns the
    /// run's preemptions and its failure.
    fn run_guided(&mut self, keep: usize, delay: usize) -> (usize, Option<Failure>) {
        let mut scheduler = Guided::new(&self.best.schedule, keep, delay);
        let failure = self.explorer.run_alone(&mut scheduler, self.test);
        (scheduler.preemptions, failure)
    }

    /// Rounds of delaying each context switch, from the last to the first,
    /// as long as the running task can go on or by a single step; a
    /// candidate that fails the same way with fewer preemptions starts the
    /// next round.
    fn delay_switches(&mut self) {
        'rounds: loop {
            let steps = self.best.schedule.steps();
            let switches: Vec<usize> = (1..steps.len())
                .rev()
                .filter(|&step| steps[step] != steps[step - 1])
                .collect();
            let candidates = switches
                .iter()
                .flat_map(|&switch| [(switch, usize::MAX), (switch, 1)]);
            for (switch, delay) in candidates {
                if self.spent() {
                    return;
                }
                self.executions += 1;
                let (preemptions, candidate) = self.run_guided(switch, delay);
                let Some(candidate) = candidate else {
                    continue;
                };
                if preemptions < self.best_preemptions
                    && same_failure(&candidate.kind, self.original)
                {
                    self.best = candidate;
                    self.best_preemptions = preemptions;
                    continue 'rounds;
                }
            }
            return;
        }
    }

    /// Iterative context bounding below the fewest preemptions found: it
    /// runs the schedules in order of their preemptions, so its first
    /// failure like the original has the fewest of any within the bound.
    fn bound_below(&mut self) {
        if self.best_preemptions == 0 || self.spent() {
            return;
        }
        let mut search = BoundedScheduler::new(self.best_preemptions - 1)
            .with_executions_max(self.budget - self.executions);
        let mut iteration = 0;
        while !self.spent() && search.new_execution(iteration) {
            iteration += 1;
            self.executions += 1;
            let same = self
                .explorer
                .run_alone(&mut OneExecution(&mut search), self.test)
                .filter(|candidate| same_failure(&candidate.kind, self.original));
            if let Some(candidate) = same {
                self.best = candidate;
                self.best_preemptions = search.preemptions();
                return;
            }
        }
    }
}

/// Whether two failures are the same bug: the same kind at the same place.
fn same_failure(candidate: &FailureKind, original: &FailureKind) -> bool {
    match (candidate, original) {
        (
            FailureKind::Panic {
                message: first,
                location: first_at,
                ..
            },
            FailureKind::Panic {
                message: second,
                location: second_at,
                ..
            },
        ) => first == second && first_at == second_at,
        (
            FailureKind::Finding(Finding::Race(first)),
            FailureKind::Finding(Finding::Race(second)),
        ) => {
            let places = |race: &racecheck_detect::Race| {
                let mut places = [race.first.location, race.second.location];
                places.sort();
                places
            };
            places(first) == places(second)
        }
        (FailureKind::Finding(first), FailureKind::Finding(second)) => {
            first.title() == second.title()
        }
        (first, second) => std::mem::discriminant(first) == std::mem::discriminant(second),
    }
}

/// Follows the original schedule for `keep` steps, then lets the running
/// task go on while it can, then follows the rest of the original schedule,
/// skipping the steps that task took early. Counts preemptions: switches
/// away from a task that could go on.
struct Guided {
    original: Vec<TaskId>,
    keep: usize,
    /// Where following the original resumes.
    position: usize,
    /// Steps a task took ahead of the original, to skip later.
    ahead: Vec<usize>,
    /// Steps the task running at `keep` may still take ahead.
    delay: usize,
    preemptions: usize,
    schedule: Vec<TaskId>,
    /// The original's data choices, made again in the same order (a
    /// candidate whose tasks ask in another order fails otherwise, or not
    /// at all, and is not taken).
    choices: Vec<u32>,
    choices_made: usize,
}

impl Guided {
    fn new(original: &Schedule, keep: usize, delay: usize) -> Guided {
        let (choices, original) = (original.choices().to_vec(), original.steps());
        Guided {
            choices,
            choices_made: 0,
            original: original.to_vec(),
            keep,
            position: keep.min(original.len()),
            ahead: Vec::new(),
            delay,
            preemptions: 0,
            schedule: Vec::new(),
        }
    }

    /// The next task of the original schedule that can run, skipping steps
    /// already taken ahead and tasks that cannot run now.
    fn follow(&mut self, runnable: &[TaskId]) -> Option<TaskId> {
        while let Some(&task) = self.original.get(self.position) {
            self.position += 1;
            if let Some(ahead) = self.ahead.get_mut(task.index()).filter(|ahead| **ahead > 0) {
                *ahead -= 1;
                continue;
            }
            if runnable.contains(&task) {
                return Some(task);
            }
        }
        None
    }
}

impl Scheduler for Guided {
    fn new_execution(&mut self, iteration: u64) -> bool {
        iteration == 0
    }

    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
        let step = self.schedule.len();
        let still_running = current.filter(|task| runnable.contains(task));
        let chosen = if step < self.keep {
            self.original
                .get(step)
                .copied()
                .filter(|task| runnable.contains(task))
                .unwrap_or(runnable[0])
        } else {
            match still_running.filter(|_| self.delay > 0) {
                Some(task) => {
                    self.delay -= 1;
                    if self.ahead.len() <= task.index() {
                        self.ahead.resize(task.index() + 1, 0);
                    }
                    self.ahead[task.index()] += 1;
                    task
                }
                None => {
                    self.delay = 0;
                    self.follow(runnable).unwrap_or(runnable[0])
                }
            }
        };
        if still_running.is_some_and(|task| task != chosen) {
            self.preemptions += 1;
        }
        self.schedule.push(chosen);
        Some(chosen)
    }

    fn choose(&mut self, options: u32) -> Option<u32> {
        let choice = self.choices.get(self.choices_made).copied().unwrap_or(0);
        self.choices_made += 1;
        Some(choice.min(options - 1))
    }
}

/// One execution of a [`BoundedScheduler`] search, so that each can be
/// checked on its own. It does not pass on what each step did: the
/// minimiser counts a switch away from a task that could go on as a
/// preemption even right after an explicit yield (as [`Guided`] counts and
/// [`Minimized`] reports), so the search must not take such a switch as
/// free.
struct OneExecution<'a>(&'a mut BoundedScheduler);

impl Scheduler for OneExecution<'_> {
    fn new_execution(&mut self, iteration: u64) -> bool {
        iteration == 0
    }

    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
        self.0.next_task(runnable, current)
    }

    fn choose(&mut self, options: u32) -> Option<u32> {
        self.0.choose(options)
    }
}
