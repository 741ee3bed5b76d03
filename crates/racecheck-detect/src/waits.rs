//! Who holds which lock or permits, and whom a blocked task waits for.

use racecheck_trace::{ObjectId, ObjectKind, TaskId, Trace, WaitTarget};
use std::collections::BTreeMap;
use std::fmt;

/// The locks and permits each task holds after the events of a trace:
/// lock and acquire events count up, unlock and release events count down.
///
/// ```
/// use racecheck_detect::Holdings;
/// use racecheck_trace::{Event, Location, LockMode, ObjectId, Op, TaskId, Trace};
///
/// let mut trace = Trace::default();
/// let lock = Op::Lock { object: ObjectId(0), mode: LockMode::Exclusive };
/// trace.events.push(Event { step: 0, task: TaskId(1), op: lock, location: Location::caller() });
/// let holdings = Holdings::from_trace(&trace);
/// assert_eq!(holdings.holders(ObjectId(0)), vec![TaskId(1)]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holdings {
    /// `(object, task)` → lock count or permits held; entries never reach 0.
    held: BTreeMap<(ObjectId, TaskId), u64>,
}

impl Holdings {
    /// Replays the trace's lock, unlock, acquire and release events.
    pub fn from_trace(trace: &Trace) -> Holdings {
        let mut holdings = Holdings::default();
        for event in &trace.events {
            let op = event.op;
            let Some(object) = op.object() else {
                continue;
            };
            if let Some(taken) = op.holding().taken() {
                holdings.add(object, event.task, u64::from(taken));
            }
            if let Some(given_up) = op.holding().given_up() {
                holdings.remove(object, event.task, u64::from(given_up));
            }
        }
        holdings
    }

    /// Whether no task holds anything.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// How many locks or permits of `object` `task` holds.
    pub fn count(&self, object: ObjectId, task: TaskId) -> u64 {
        self.held.get(&(object, task)).copied().unwrap_or(0)
    }

    /// The tasks holding the object, in id order.
    pub fn holders(&self, object: ObjectId) -> Vec<TaskId> {
        self.held
            .range((object, TaskId(0))..=(object, TaskId(u32::MAX)))
            .map(|(&(_, task), _)| task)
            .collect()
    }

    fn add(&mut self, object: ObjectId, task: TaskId, count: u64) {
        *self.held.entry((object, task)).or_insert(0) += count;
    }

    /// Permits may be released by a task other than the one that acquired
    /// them (a permit moved into another task, `add_permits`): take them from
    /// the releasing task first, then from the other holders in id order.
    fn remove(&mut self, object: ObjectId, task: TaskId, mut count: u64) {
        let mut holders = vec![task];
        holders.extend(self.holders(object).into_iter().filter(|&t| t != task));
        for holder in holders {
            if count == 0 {
                break;
            }
            let Some(held) = self.held.get_mut(&(object, holder)) else {
                continue;
            };
            let taken = count.min(*held);
            *held -= taken;
            count -= taken;
            if *held == 0 {
                self.held.remove(&(object, holder));
            }
        }
    }
}

/// A task that cannot proceed at the end of an execution, what it waits for,
/// and who holds that.
///
/// Its `Display` is a sentence for reports, with names resolved through the
/// trace given to [`stuck_tasks`]:
/// `task 'transfer-1' waits to lock Mutex 'b', held by 'transfer-2'`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StuckTask {
    /// The blocked task.
    pub task: TaskId,
    /// What it waits for.
    pub target: WaitTarget,
    /// The tasks holding the object it waits for (locks and semaphores).
    pub holders: Vec<TaskId>,
    /// The tasks queued for the same lock or semaphore before it: it is
    /// served after them (the queue is first in, first out).
    pub queued_ahead: Vec<TaskId>,
    description: String,
}

impl fmt::Display for StuckTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// Explains each blocked task: what it waits for and who holds it.
///
/// ```
/// use racecheck_detect::stuck_tasks;
/// use racecheck_trace::{Location, TaskId, TaskInfo, Trace, WaitTarget};
///
/// let mut trace = Trace::default();
/// for name in ["main", "worker"] {
///     trace.tasks.push(TaskInfo { name: name.into(), parent: None, spawned_at: Location::caller() });
/// }
/// let stuck = stuck_tasks(&trace, &[(TaskId(0), WaitTarget::Task(TaskId(1)))]);
/// assert_eq!(stuck[0].to_string(), "task 'main' waits for task 'worker' to finish");
/// ```
pub fn stuck_tasks(trace: &Trace, blocked: &[(TaskId, WaitTarget)]) -> Vec<StuckTask> {
    let holdings = Holdings::from_trace(trace);
    // When each blocked task queued: its last block event.
    let queued_at = |task: TaskId| {
        trace
            .events
            .iter()
            .rposition(|event| event.task == task && event.op.waits_for().is_some())
    };
    blocked
        .iter()
        .map(|&(task, target)| {
            let (holders, queued_ahead) = match target {
                WaitTarget::Object(object) if is_fifo(trace, object) => {
                    let mine = queued_at(task);
                    let ahead = blocked
                        .iter()
                        .filter(|&&(other, on)| other != task && on == target)
                        .filter(|&&(other, _)| queued_at(other) < mine)
                        .map(|&(other, _)| other)
                        .collect();
                    (holdings.holders(object), ahead)
                }
                WaitTarget::Object(object) => (holdings.holders(object), Vec::new()),
                WaitTarget::Task(_) | WaitTarget::Untracked => (Vec::new(), Vec::new()),
            };
            let description = describe(trace, task, target, &holders, &queued_ahead);
            StuckTask {
                task,
                target,
                holders,
                queued_ahead,
                description,
            }
        })
        .collect()
}

/// Whether waiters for `object` are served first in, first out: the locks
/// and semaphores, all over one fair queue (no barging).
fn is_fifo(trace: &Trace, object: ObjectId) -> bool {
    matches!(
        trace.objects.get(object.index()).map(|info| info.kind),
        Some(
            ObjectKind::Mutex
                | ObjectKind::RwLock
                | ObjectKind::ReentrantMutex
                | ObjectKind::Semaphore
        )
    )
}

fn describe(
    trace: &Trace,
    task: TaskId,
    target: WaitTarget,
    holders: &[TaskId],
    queued_ahead: &[TaskId],
) -> String {
    let waiter = format!("task '{}'", trace.task_label(task));
    let object = match target {
        WaitTarget::Task(other) => {
            return format!(
                "{waiter} waits for task '{}' to finish",
                trace.task_label(other)
            )
        }
        WaitTarget::Untracked => {
            return format!("{waiter} waits on a future racecheck does not track")
        }
        WaitTarget::Object(object) => object,
    };
    let label = trace.object_label(object);
    let kind = trace.objects.get(object.index()).map(|info| info.kind);
    let wait = match kind {
        Some(ObjectKind::Mutex | ObjectKind::RwLock | ObjectKind::ReentrantMutex) => {
            format!("{waiter} waits to lock {label}")
        }
        Some(ObjectKind::Semaphore) => format!("{waiter} waits for a permit of {label}"),
        Some(ObjectKind::Condition) => format!("{waiter} waits to be notified by {label}"),
        Some(ObjectKind::Barrier) => format!("{waiter} waits for the other tasks at {label}"),
        _ => format!("{waiter} waits on {label}"),
    };
    let queue = if queued_ahead.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = queued_ahead
            .iter()
            .map(|&other| format!("'{}'", trace.task_label(other)))
            .collect();
        format!(", queued behind {}", names.join(", "))
    };
    if holders.is_empty() {
        return match kind {
            Some(ObjectKind::Mutex | ObjectKind::RwLock | ObjectKind::ReentrantMutex) => {
                format!("{wait}, held by no task{queue}")
            }
            _ => format!("{wait}{queue}"),
        };
    }
    let names: Vec<String> = holders
        .iter()
        .map(|&holder| {
            if holder == task {
                "itself".to_string()
            } else {
                format!("'{}'", trace.task_label(holder))
            }
        })
        .collect();
    format!("{wait}, held by {}{queue}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use racecheck_trace::{Event, Location, LockMode, ObjectInfo, Op, TaskInfo};

    fn trace_with(ops: &[(u32, Op)]) -> Trace {
        let location = Location::caller();
        let mut trace = Trace::default();
        for name in ["main", "a", "b"] {
            trace.tasks.push(TaskInfo {
                name: name.into(),
                parent: None,
                spawned_at: location,
            });
        }
        for (kind, name) in [(ObjectKind::Mutex, "x"), (ObjectKind::Semaphore, "s")] {
            trace.objects.push(ObjectInfo {
                kind,
                name: Some(name.into()),
                created_at: location,
            });
        }
        for (step, &(task, op)) in ops.iter().enumerate() {
            trace.events.push(Event {
                step: step as u32,
                task: TaskId(task),
                op,
                location,
            });
        }
        trace
    }

    const X: ObjectId = ObjectId(0);
    const S: ObjectId = ObjectId(1);
    const LOCK_X: Op = Op::Lock {
        object: X,
        mode: LockMode::Exclusive,
    };
    const UNLOCK_X: Op = Op::Unlock {
        object: X,
        mode: LockMode::Exclusive,
    };

    #[test]
    fn lock_counts_follow_lock_and_unlock_events() {
        type Case<'a> = (&'a [(u32, Op)], &'a [TaskId]);
        let cases: &[Case] = &[
            (&[], &[]),
            (&[(1, LOCK_X)], &[TaskId(1)]),
            (&[(1, LOCK_X), (1, UNLOCK_X)], &[]),
            (&[(1, LOCK_X), (1, LOCK_X), (1, UNLOCK_X)], &[TaskId(1)]),
            (&[(1, LOCK_X), (1, UNLOCK_X), (2, LOCK_X)], &[TaskId(2)]),
        ];
        for (ops, expected) in cases {
            let holdings = Holdings::from_trace(&trace_with(ops));
            assert_eq!(holdings.holders(X), *expected, "{ops:?}");
        }
    }

    #[test]
    fn permits_released_by_another_task_come_off_the_holders() {
        let ops = [
            (
                1,
                Op::Acquire {
                    object: S,
                    permits: 2,
                },
            ),
            (
                2,
                Op::Release {
                    object: S,
                    permits: 1,
                },
            ),
        ];
        let holdings = Holdings::from_trace(&trace_with(&ops));
        assert_eq!(holdings.holders(S), vec![TaskId(1)]);
        let ops = [
            (
                1,
                Op::Acquire {
                    object: S,
                    permits: 2,
                },
            ),
            (
                2,
                Op::Release {
                    object: S,
                    permits: 2,
                },
            ),
        ];
        assert!(Holdings::from_trace(&trace_with(&ops)).is_empty());
    }

    #[test]
    fn describes_lock_waits_with_their_holders() {
        let trace = trace_with(&[(1, LOCK_X)]);
        let stuck = stuck_tasks(
            &trace,
            &[
                (TaskId(2), WaitTarget::Object(X)),
                (TaskId(1), WaitTarget::Object(X)),
                (TaskId(2), WaitTarget::Object(S)),
            ],
        );
        assert_eq!(
            stuck[0].to_string(),
            "task 'b' waits to lock Mutex 'x', held by 'a'"
        );
        assert_eq!(
            stuck[1].to_string(),
            "task 'a' waits to lock Mutex 'x', held by itself"
        );
        assert_eq!(
            stuck[2].to_string(),
            "task 'b' waits for a permit of Semaphore 's'"
        );
        assert_eq!(stuck[0].holders, vec![TaskId(1)]);
    }
}
