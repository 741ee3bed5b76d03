//! Replay: one execution that follows a recorded schedule.

use racecheck_runtime::Scheduler;
use racecheck_trace::{Schedule, TaskId};

/// Follows a recorded schedule, for exactly one execution.
///
/// ```
/// use racecheck_explore::ReplayScheduler;
/// use racecheck_runtime::Scheduler;
/// use racecheck_trace::{Event, Schedule, TaskId};
///
/// let mut replay = ReplayScheduler::new(Schedule::from_steps(vec![TaskId(1), TaskId(0)]));
/// assert!(replay.new_execution(0));
/// let runnable = [TaskId(0), TaskId(1)];
/// assert_eq!(replay.next_task(&runnable, None), Some(TaskId(1)));
/// assert_eq!(replay.next_task(&runnable, None), Some(TaskId(0)));
/// assert_eq!(replay.next_task(&runnable, None), None);
/// assert!(!replay.new_execution(1));
/// ```
#[derive(Clone, Debug)]
pub struct ReplayScheduler {
    schedule: Schedule,
    position: usize,
    choice_position: usize,
}

impl ReplayScheduler {
    /// A scheduler that replays `schedule`.
    pub fn new(schedule: Schedule) -> ReplayScheduler {
        ReplayScheduler {
            schedule,
            position: 0,
            choice_position: 0,
        }
    }

    /// Steps of the schedule not used by the execution so far.
    pub fn remaining(&self) -> usize {
        self.schedule.len() - self.position
    }
}

impl Scheduler for ReplayScheduler {
    fn new_execution(&mut self, iteration: u64) -> bool {
        if iteration != 0 {
            return false;
        }
        self.position = 0;
        self.choice_position = 0;
        true
    }

    fn next_task(&mut self, _runnable: &[TaskId], _current: Option<TaskId>) -> Option<TaskId> {
        let task = self.schedule.steps().get(self.position).copied()?;
        self.position += 1;
        Some(task)
    }

    fn choose(&mut self, _options: u32) -> Option<u32> {
        let choice = self.schedule.choices().get(self.choice_position).copied()?;
        self.choice_position += 1;
        Some(choice)
    }
}
