//! CHESS's fair-scheduling rule (Musuvathi & Qadeer, PLDI 2008), shared by
//! the exhaustive and the bounded searches: a task that yields explicitly
//! gives up its turn, and runs again only after another task did something
//! visible, or when no other task can run. A spin loop that yields thus
//! lets the others make progress instead of spinning until the step limit.
//!
//! "Something visible" is a step whose footprint another task could see
//! (not [private](Footprint::is_private)): a step that only reaches a
//! scheduling point does not count, so that whether a schedule keeps the
//! rule depends on its partial order alone ([`Turns`]) and partial-order
//! reduction explores every fair schedule's class.

use racecheck_detect::{Footprint, Turns};
use racecheck_trace::{Event, TaskId, Touch};

/// Who is held back by a yield in the current execution.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fairness {
    turns: Turns,
    /// The task that yielded, while no other task did anything visible
    /// since.
    held: Option<TaskId>,
    /// The root has finished: a runnable root now stands for shutting the
    /// runtime down (`Shutdown::Explored`), which is not a task to give the
    /// turn to.
    root_finished: bool,
}

impl Fairness {
    /// A new execution starts.
    pub(crate) fn clear(&mut self) {
        self.turns.clear();
        self.held = None;
        self.root_finished = false;
    }

    /// The task among `runnable` that may not run next, if any: it yielded
    /// and other tasks can run.
    pub(crate) fn held_back(&self, runnable: &[TaskId]) -> Option<TaskId> {
        let held = self.held.filter(|task| runnable.contains(task))?;
        let shutdown = |task: TaskId| self.root_finished && task == TaskId::ROOT;
        let others = runnable.iter().any(|&task| task != held && !shutdown(task));
        others.then_some(held)
    }

    /// Files a step of `task` made of `events`; returns its footprint, with
    /// its part in the turn order.
    pub(crate) fn observe(&mut self, task: TaskId, events: &[Event]) -> Footprint {
        let footprint = self.turns.footprint(task, events);
        if task == TaskId::ROOT && events.iter().any(|event| event.op.touch() == Touch::Finish) {
            self.root_finished = true;
        }
        if events.iter().any(|event| event.op.touch() == Touch::Yield) {
            self.held = Some(task);
        } else if self.held == Some(task) || !footprint.is_private(task) {
            self.held = None;
        }
        footprint
    }
}
