//! Whether a complete exhaustive search is a proof: it explored the orders
//! of racecheck's own operations only, and took two steps that touch no
//! common racecheck object as independent. State the tasks share through
//! anything else (std atomics, `std::sync`, `Cell`/`RefCell`, globals) is
//! invisible to it, and its interleavings were never explored.
//!
//! The probe checks that assumption where it is cheapest to check: on the
//! search's first execution. It takes each step in turn and moves it as
//! early as the search's own reasoning allows, before every step of other
//! tasks it is independent of (at most [`HOISTS_MAX`] such moves), and
//! replays the result. If those steps really are independent, the moved
//! execution is the same one in another order: it follows the moved
//! schedule to its end, every task does exactly what it did before (the
//! same operations at the same places) and nothing fails. A failure of the
//! moved execution is reported as the failure it is (whatever its cause,
//! it is a real schedule of the program, and it replays); a task doing
//! other operations as [`Report::hidden_dependency`]; either way the
//! search is not complete. A moved execution that leaves the schedule
//! proves nothing: a lone blocked attempt to join (or to poll a foreign
//! future) is independent of everything and may vanish when steps move. A
//! program
//! whose tasks share only racecheck's primitives never trips the probe:
//! independent steps commute.
//!
//! It cannot see everything: a dependency that only matters in other
//! executions than the first, or only when a step moves part of the way,
//! goes unnoticed. It is a check, not a cure: docs/architecture.md says
//! what a complete search guarantees.

use crate::{ExhaustiveScheduler, Failure, ReplayScheduler, Report};
use racecheck_detect::Footprint;
use racecheck_runtime::Scheduler;
use racecheck_trace::{Event, Location, Op, Order, Schedule, TaskId, Touch, Trace};
use std::mem::Discriminant;

/// The most moved executions the probe replays after a search.
pub(crate) const HOISTS_MAX: usize = 64;

/// What moving a step before steps the search took as independent of it
/// showed.
enum Hoist {
    /// The moved execution did not follow the moved schedule: nothing
    /// learnt.
    Inconclusive,
    /// Every task did what it did before.
    Commutes,
    /// A task did something else: a dependency racecheck does not see.
    Differs,
    /// The moved execution fails.
    Fails(Box<Failure>),
}

/// One execution the probe ran, analysed as in the search.
pub(crate) struct Run {
    /// Its failure, if any.
    pub(crate) failure: Option<Failure>,
    pub(crate) trace: Trace,
    pub(crate) schedule: Schedule,
}

/// Checks a complete exhaustive search without failure (see the module
/// documentation) and returns its report, amended if the check failed.
/// `run` runs one execution of the test under a scheduler, prepared for
/// its first execution.
pub(crate) fn check_complete(
    mut report: Report,
    mut run: impl FnMut(&mut dyn Scheduler) -> Run,
) -> Report {
    if !report.complete || report.failure.is_some() {
        return report;
    }
    let mut first = Recording {
        search: ExhaustiveScheduler::new(),
        steps: 0,
        choosing: Vec::new(),
    };
    first.new_execution(0);
    let Run {
        failure: None,
        trace,
        schedule,
    } = run(&mut first)
    else {
        // Not the execution the search ran first: the program is not
        // deterministic, and the search would have said so.
        return report;
    };
    let steps = step_events(&trace, schedule.len());
    let footprints: Vec<Footprint> = steps
        .iter()
        .zip(schedule.steps())
        .map(|(events, &task)| Footprint::of(task, events))
        .collect();
    let projection = projection(&trace);
    let first = First {
        schedule: &schedule,
        steps: &steps,
        footprints: &footprints,
        choosing: &first.choosing,
        root_finished: root_finished(&trace),
    };
    let moves = (1..schedule.len())
        .filter_map(|step| {
            let earliest = first.earliest(step);
            (earliest < step).then_some((earliest, step))
        })
        .take(HOISTS_MAX);
    for (earliest, step) in moves {
        let failure = match hoist(&mut run, &schedule, earliest, step, &projection) {
            Hoist::Inconclusive | Hoist::Commutes => continue,
            Hoist::Differs => None,
            Hoist::Fails(failure) => Some(*failure),
        };
        report.complete = false;
        report.hidden_dependency = Some(hidden_dependency(&trace, &schedule, earliest, step));
        report.failure = failure;
        break;
    }
    report
}

/// The search's first execution, step by step.
struct First<'a> {
    schedule: &'a Schedule,
    steps: &'a [&'a [Event]],
    footprints: &'a [Footprint],
    /// The steps that started with a data choice, in order.
    choosing: &'a [usize],
    /// The step in which the root finished: a later step of the root is
    /// the runtime shutting down (`Shutdown::Explored`).
    root_finished: Option<usize>,
}

impl First<'_> {
    /// How early step `step` can run by the search's reasoning: before
    /// every step of another task just before it that it does not conflict
    /// with. Two spawns conflict (in the other order they number the tasks
    /// otherwise), and so do two data choices (the schedule gives values in
    /// order); the runtime's shutdown moves nowhere.
    fn earliest(&self, step: usize) -> usize {
        let task = self.schedule.steps()[step];
        if self.shuts_down(step) {
            return step;
        }
        let mut earliest = step;
        while earliest > 0 {
            let before = earliest - 1;
            let dependent = self.schedule.steps()[before] == task
                || self.footprints[before].conflicts_with(&self.footprints[step])
                || (spawns(self.steps[before]) && spawns(self.steps[step]))
                || (self.choosing.contains(&before) && self.choosing.contains(&step));
            if dependent {
                break;
            }
            earliest = before;
        }
        earliest
    }

    fn shuts_down(&self, step: usize) -> bool {
        self.schedule.steps()[step] == TaskId::ROOT
            && self.root_finished.is_some_and(|finished| step > finished)
    }
}

/// The step in which the root finished, if it did.
fn root_finished(trace: &Trace) -> Option<usize> {
    trace
        .events
        .iter()
        .find(|event| event.task == TaskId::ROOT && event.op.touch() == Touch::Finish)
        .map(|event| event.step as usize)
}

/// The exhaustive search's first execution, noting the steps that start
/// with a data choice.
struct Recording {
    search: ExhaustiveScheduler,
    steps: usize,
    choosing: Vec<usize>,
}

impl Scheduler for Recording {
    fn new_execution(&mut self, iteration: u64) -> bool {
        self.search.new_execution(iteration)
    }

    fn next_task(&mut self, runnable: &[TaskId], current: Option<TaskId>) -> Option<TaskId> {
        self.steps += 1;
        self.search.next_task(runnable, current)
    }

    fn choose(&mut self, options: u32) -> Option<u32> {
        self.choosing.push(self.steps - 1);
        self.search.choose(options)
    }

    fn observe_step(&mut self, task: TaskId, events: &[Event]) {
        self.search.observe_step(task, events);
    }
}

/// Replays `schedule` with step `step` moved to position `earliest`.
fn hoist(
    run: &mut impl FnMut(&mut dyn Scheduler) -> Run,
    schedule: &Schedule,
    earliest: usize,
    step: usize,
    projection: &[Vec<(Discriminant<Op>, Location)>],
) -> Hoist {
    let mut steps = schedule.steps().to_vec();
    let task = steps.remove(step);
    steps.insert(earliest, task);
    let choices = schedule.choices().to_vec();
    let mut replay = ReplayScheduler::new(Schedule::from_parts(steps, choices));
    replay.new_execution(0);
    let moved = run(&mut replay);
    match moved.failure {
        Some(failure) if failure.kind.is_schedule_error() => Hoist::Inconclusive,
        Some(failure) => Hoist::Fails(Box::new(failure)),
        None if replay.remaining() > 0 => Hoist::Inconclusive,
        None if self::projection(&moved.trace) != projection => Hoist::Differs,
        None => Hoist::Commutes,
    }
}

/// The events of each step, in step order.
fn step_events(trace: &Trace, steps: usize) -> Vec<&[Event]> {
    let mut events = trace.events.as_slice();
    (0..steps)
        .map(|step| {
            let length = events
                .iter()
                .take_while(|event| event.step as usize == step)
                .count();
            let (this, rest) = events.split_at(length);
            events = rest;
            this
        })
        .collect()
}

fn spawns(events: &[Event]) -> bool {
    events.iter().any(|event| event.op.order() == Order::Spawn)
}

/// What each task did, in its own order: which operations, where. Ids of
/// objects are left out: two independent steps that create objects number
/// them otherwise when moved. So are blocks: a poll's lone attempt to join
/// a task, after which it blocks, is independent of everything (see
/// `racecheck_detect::Footprint::went_on`), and may happen or not when
/// steps move; it shows with the task's other operations in the same step.
fn projection(trace: &Trace) -> Vec<Vec<(Discriminant<Op>, Location)>> {
    let mut tasks = vec![Vec::new(); trace.tasks.len()];
    for event in &trace.events {
        if event.op.waits_for().is_some() {
            continue;
        }
        if let Some(task) = tasks.get_mut(event.task.index()) {
            task.push((std::mem::discriminant(&event.op), event.location));
        }
    }
    tasks
}

/// The sentence saying which move showed the dependency.
fn hidden_dependency(trace: &Trace, schedule: &Schedule, earliest: usize, step: usize) -> String {
    let describe = |step: usize| {
        let task: TaskId = schedule.steps()[step];
        let place = trace
            .events
            .iter()
            .find(|event| event.step as usize == step)
            .map(|event| format!(" (at {})", event.location))
            .unwrap_or_default();
        format!("step {step} of '{}'{place}", trace.task_label(task))
    };
    format!(
        "running {} before {}, which touch no common racecheck object, changed what the tasks \
         did: they depend on each other through state racecheck does not see (std atomics, \
         std::sync, Cell or RefCell, globals), whose interleavings were not explored; share \
         state through racecheck::sync's types",
        describe(step),
        describe(earliest)
    )
}
