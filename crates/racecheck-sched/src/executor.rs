//! One execution: poll the chosen task, one step at a time, until the root
//! task and everything it left runnable are done, or something fails.

use crate::execution::{self, BlockReason, Execution, TaskFuture, TaskState};
use crate::explore::FailureKind;
use crate::panic;
use crate::strategy::Scheduler;
use racecheck_trace::{Location, Op, TaskId, WaitTarget};
use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};

/// Runs the execution whose root future `make_root` creates, under
/// `scheduler`, for at most `steps_max` steps. Returns the failure, if any;
/// the trace and schedule stay in the thread's execution state.
pub(crate) fn run_execution<F, Fut>(
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
            run_steps(scheduler, steps_max)
        }
        Err(payload) => Some(FailureKind::from_panic(TaskId::ROOT, "main", payload)),
    };
    teardown();
    outcome
}

fn run_steps(scheduler: &mut dyn Scheduler, steps_max: u32) -> Option<FailureKind> {
    loop {
        let (task, mut future, waker) = match choose(scheduler, steps_max) {
            Choice::Run(task, future, waker) => (task, future, waker),
            Choice::FireTimers(wakers) => {
                wakers.into_iter().for_each(|waker| waker.wake());
                continue;
            }
            Choice::Stop(outcome) => return outcome,
        };
        let mut context = Context::from_waker(&waker);
        let polled =
            std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut context)));
        let finished = execution::with(|execution| {
            let poll = match polled {
                Ok(poll) => poll,
                Err(payload) => {
                    execution.tasks[task.index()].future = Some(future);
                    let name = execution.trace.task_label(task);
                    return Err(FailureKind::from_panic(task, &name, payload));
                }
            };
            let finished = after_poll(execution, task, poll, future);
            execution.step += 1;
            Ok(finished)
        });
        match finished {
            // A finished future is dropped here, outside the borrow: its
            // drop may run user code that touches the runtime.
            Ok(finished) => drop(finished),
            Err(failure) => return Some(failure),
        }
    }
}

enum Choice {
    Run(TaskId, TaskFuture, std::task::Waker),
    FireTimers(Vec<std::task::Waker>),
    Stop(Option<FailureKind>),
}

/// Picks the next task and takes its future out of its slot, or says why
/// the execution cannot go on.
fn choose(scheduler: &mut dyn Scheduler, steps_max: u32) -> Choice {
    execution::with(|execution| {
        let root_finished = execution.tasks[TaskId::ROOT.index()].state == TaskState::Finished;
        if execution.runnable.is_empty() {
            if root_finished {
                return Choice::Stop(None);
            }
            let wakers = execution.fire_next_timers();
            if wakers.is_empty() {
                return Choice::Stop(Some(deadlock(execution)));
            }
            return Choice::FireTimers(wakers);
        }
        if execution.step >= steps_max {
            return Choice::Stop(Some(FailureKind::StepLimit { steps_max }));
        }
        let Some(task) = scheduler.next_task(&execution.runnable, execution.current) else {
            return Choice::Stop(Some(FailureKind::ScheduleEnded {
                step: execution.step,
                runnable: execution.runnable.clone(),
            }));
        };
        if execution.runnable.binary_search(&task).is_err() {
            return Choice::Stop(Some(FailureKind::ScheduleMismatch {
                step: execution.step,
                chosen: task,
                runnable: execution.runnable.clone(),
            }));
        }
        execution.schedule.push(task);
        execution.current = Some(task);
        let slot = &mut execution.tasks[task.index()];
        debug_assert_eq!(slot.state, TaskState::Runnable);
        slot.state = TaskState::Running;
        slot.woken = false;
        slot.block_reason = BlockReason::Unknown;
        let future = slot
            .future
            .take()
            .expect("racecheck internal error: a runnable task has no future");
        Choice::Run(task, future, slot.waker.clone())
    })
}

/// Files the task's new state after a poll. Returns the future if the task
/// finished, so the caller can drop it outside the borrow.
fn after_poll(
    execution: &mut Execution,
    task: TaskId,
    poll: Poll<()>,
    future: TaskFuture,
) -> Option<TaskFuture> {
    if poll.is_ready() {
        execution.record(Op::Finish, execution.trace.tasks[task.index()].spawned_at);
        execution.tasks[task.index()].state = TaskState::Finished;
        execution.remove_runnable(task);
        return Some(future);
    }
    let slot = &mut execution.tasks[task.index()];
    slot.future = Some(future);
    if slot.woken {
        slot.state = TaskState::Runnable;
        return None;
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
    None
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

/// Ends the execution and drops every task future outside the borrow, with
/// recording off: drops release locks and wake tasks, which is now moot.
fn teardown() {
    let futures = execution::with(Execution::end);
    for future in futures {
        // A panicking destructor must not take the exploration down with it;
        // the execution is already decided.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(future)));
    }
}
