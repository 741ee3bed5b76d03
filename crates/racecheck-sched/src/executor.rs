//! One execution: poll the chosen task, one step at a time, until the root
//! task and everything it left runnable are done, or something fails.

use crate::execution::{self, BlockReason, Execution, TaskFuture, TaskState, WakerPool};
use crate::explore::FailureKind;
use crate::panic;
use crate::strategy::Scheduler;
use racecheck_trace::{Location, Op, TaskId, WaitTarget};
use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll, Waker};

/// What the executor keeps across executions: the task futures of the
/// current one (outside the shared state, so polling them needs no borrow)
/// and the pool of wakers.
#[derive(Default)]
pub(crate) struct Executor {
    futures: Vec<Option<TaskFuture>>,
    wakers: WakerPool,
}

impl Executor {
    /// Runs the execution whose root future `make_root` creates, under
    /// `scheduler`, for at most `steps_max` steps. Returns the failure, if
    /// any; the trace and schedule stay in the thread's execution state.
    pub(crate) fn run<F, Fut>(
        &mut self,
        make_root: &F,
        scheduler: &mut dyn Scheduler,
        steps_max: u32,
    ) -> Option<FailureKind>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        execution::with(Execution::begin);
        let _silence = panic::Silenced::begin();
        let outcome = match std::panic::catch_unwind(AssertUnwindSafe(make_root)) {
            Ok(root) => {
                let root: TaskFuture = Box::pin(root);
                execution::with(|execution| {
                    execution.add_task(root, Cow::Borrowed("main"), Location::caller())
                });
                self.run_steps(scheduler, steps_max)
            }
            Err(payload) => Some(FailureKind::from_panic(TaskId::ROOT, "main", payload)),
        };
        self.teardown();
        outcome
    }

    fn run_steps(&mut self, scheduler: &mut dyn Scheduler, steps_max: u32) -> Option<FailureKind> {
        // The outcome of the previous step, filed in the same borrow that
        // chooses the next one: one borrow of the state per step.
        let mut polled: Option<Polled> = None;
        loop {
            let futures = &mut self.futures;
            let choice = execution::with(|execution| {
                if !execution.spawned.is_empty() {
                    futures.extend(execution.spawned.drain(..).map(Some));
                }
                if let Some(previous) = polled.take() {
                    if let Err(panicked) = settle(execution, previous) {
                        return Choice::Panicked(panicked);
                    }
                }
                choose(execution, scheduler, steps_max)
            });
            let (task, execution_id) = match choice {
                Choice::Run { task, execution_id } => (task, execution_id),
                Choice::FireTimers(due) => {
                    due.into_iter().for_each(Waker::wake);
                    continue;
                }
                Choice::Stop(outcome) => return outcome.map(|failure| *failure),
                Choice::Panicked(panicked) => {
                    let Panicked {
                        task,
                        name,
                        payload,
                    } = *panicked;
                    return Some(FailureKind::from_panic(task, &name, payload));
                }
            };
            let mut context = Context::from_waker(self.wakers.waker(execution_id, task));
            let future = self.futures[task.index()]
                .as_mut()
                .expect("racecheck internal error: a runnable task has no future");
            execution::take_yielded();
            let outcome =
                std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut context)));
            if let Ok(Poll::Ready(())) = outcome {
                // Dropped here, outside the borrow: a drop may run user code
                // that touches the runtime.
                self.futures[task.index()] = None;
            }
            polled = Some(Polled {
                task,
                outcome,
                yielded: execution::take_yielded(),
            });
        }
    }

    /// Ends the execution and drops every task future outside the borrow,
    /// with recording off: drops release locks and wake tasks, which is now
    /// moot.
    fn teardown(&mut self) {
        let never_taken = execution::with(Execution::end);
        for future in self.futures.drain(..).flatten().chain(never_taken) {
            // A panicking destructor must not take the exploration down with
            // it; the execution is already decided.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(future)));
        }
    }
}

/// What a poll returned.
struct Polled {
    task: TaskId,
    outcome: std::thread::Result<Poll<()>>,
    /// Passed a scheduling point: stays runnable.
    yielded: bool,
}

/// A task that panicked; its payload is user data, dropped outside the
/// borrow.
struct Panicked {
    task: TaskId,
    name: String,
    payload: Box<dyn Any + Send>,
}

enum Choice {
    Run { task: TaskId, execution_id: u64 },
    FireTimers(Vec<Waker>),
    Stop(Option<Box<FailureKind>>),
    Panicked(Box<Panicked>),
}

/// Files the outcome of a step; a panic ends the execution.
fn settle(execution: &mut Execution, polled: Polled) -> Result<(), Box<Panicked>> {
    let Polled {
        task,
        outcome,
        yielded,
    } = polled;
    execution.step += 1;
    match outcome {
        Ok(poll) => {
            after_poll(execution, task, poll, yielded);
            Ok(())
        }
        Err(payload) => Err(Box::new(Panicked {
            task,
            name: execution.trace.task_label(task),
            payload,
        })),
    }
}

/// Picks the next task, or says why the execution cannot go on.
fn choose(execution: &mut Execution, scheduler: &mut dyn Scheduler, steps_max: u32) -> Choice {
    if execution.runnable.is_empty() {
        if execution.tasks[TaskId::ROOT.index()].state == TaskState::Finished {
            return Choice::Stop(None);
        }
        let due = execution.fire_next_timers();
        if due.is_empty() {
            return Choice::Stop(Some(Box::new(deadlock(execution))));
        }
        return Choice::FireTimers(due);
    }
    if execution.step >= steps_max {
        return Choice::Stop(Some(Box::new(FailureKind::StepLimit { steps_max })));
    }
    let Some(task) = scheduler.next_task(&execution.runnable, execution.current) else {
        return Choice::Stop(Some(Box::new(FailureKind::ScheduleEnded {
            step: execution.step,
            runnable: execution.runnable.clone(),
        })));
    };
    if execution.runnable.binary_search(&task).is_err() {
        return Choice::Stop(Some(Box::new(FailureKind::ScheduleMismatch {
            step: execution.step,
            chosen: task,
            runnable: execution.runnable.clone(),
        })));
    }
    execution.schedule.push(task);
    execution.current = Some(task);
    let slot = &mut execution.tasks[task.index()];
    debug_assert_eq!(slot.state, TaskState::Runnable);
    slot.state = TaskState::Running;
    slot.woken = false;
    slot.block_reason = BlockReason::Unknown;
    Choice::Run {
        task,
        execution_id: execution.id,
    }
}

/// Files the task's new state after a poll.
fn after_poll(execution: &mut Execution, task: TaskId, poll: Poll<()>, yielded: bool) {
    if poll.is_ready() {
        execution.record(Op::Finish, execution.trace.tasks[task.index()].spawned_at);
        execution.tasks[task.index()].state = TaskState::Finished;
        execution.remove_runnable(task);
        return;
    }
    let slot = &mut execution.tasks[task.index()];
    if slot.woken || yielded {
        slot.state = TaskState::Runnable;
        return;
    }
    slot.state = TaskState::Blocked;
    if slot.block_reason == BlockReason::Unknown {
        slot.block_reason = BlockReason::Wait(WaitTarget::Untracked);
        let location = execution.trace.tasks[task.index()].spawned_at;
        execution.record(
            Op::Block {
                on: WaitTarget::Untracked,
            },
            location,
        );
    }
    execution.remove_runnable(task);
}

/// No task can run and no timer is pending while the root has not finished.
fn deadlock(execution: &Execution) -> FailureKind {
    let blocked: Vec<(TaskId, WaitTarget)> = execution
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, slot)| slot.state == TaskState::Blocked)
        .map(|(index, slot)| {
            let target = match slot.block_reason {
                BlockReason::Wait(target) => target,
                BlockReason::Unknown | BlockReason::Sleep => WaitTarget::Untracked,
            };
            (TaskId(index as u32), target)
        })
        .collect();
    FailureKind::Deadlock {
        waits: racecheck_detect::stuck_tasks(&execution.trace, &blocked)
            .into_iter()
            .map(|stuck| stuck.to_string())
            .collect(),
    }
}
