//! Who holds which lock or permits, and whom a blocked task waits for.

use racecheck_trace::{
    ExecutionEnd, Holding, LockMode, Need, ObjectId, ObjectKind, Operand, Order, TaskId, Trace,
    WaitTarget,
};
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
/// and who could end the wait.
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
    /// What it needs of the object (its last block recorded it).
    pub need: Need,
    /// The tasks holding the lock or permits it waits for, those that keep
    /// it waiting: a reader is not kept waiting by other readers.
    pub holders: Vec<TaskId>,
    /// The tasks queued for the same lock or semaphore before it: it is
    /// served after them (the queue is first in, first out).
    pub queued_ahead: Vec<TaskId>,
    /// For a wait for a channel's slot or message, the tasks that could
    /// end it: those holding the receiver (a slot) or a sender (a message)
    /// at the end, as [`ExecutionEnd::endpoints`] says; for an asyncio
    /// queue, which has no ends, the unfinished tasks that got from it (a
    /// slot) or put on it (an item), or wait to. Any of them may end it.
    pub wakers: Vec<TaskId>,
    description: String,
}

impl fmt::Display for StuckTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// Explains each task blocked at the end: what it waits for and who could
/// end the wait.
///
/// ```
/// use racecheck_detect::stuck_tasks;
/// use racecheck_trace::{ExecutionEnd, Location, TaskId, TaskInfo, Trace, WaitTarget};
///
/// let mut trace = Trace::default();
/// for name in ["main", "worker"] {
///     trace.tasks.push(TaskInfo { name: name.into(), parent: None, spawned_at: Location::caller() });
/// }
/// let blocked = vec![(TaskId(0), WaitTarget::Task(TaskId(1)))];
/// let stuck = stuck_tasks(&trace, &ExecutionEnd { blocked, ..ExecutionEnd::default() });
/// assert_eq!(stuck[0].to_string(), "task 'main' waits for task 'worker' to finish");
/// ```
pub fn stuck_tasks(trace: &Trace, end: &ExecutionEnd) -> Vec<StuckTask> {
    let holdings = Holdings::from_trace(trace);
    let blocked = &end.blocked;
    // Each blocked task's last block event: when it queued, and its need.
    let waits: Vec<Option<usize>> = blocked
        .iter()
        .map(|&(task, _)| {
            (trace.events.iter())
                .rposition(|event| event.task == task && event.op.waits_for().is_some())
        })
        .collect();
    let need_of = |index: usize| match waits[index].map(|event| trace.events[event].op.operand()) {
        Some(Operand::Wait(_, need)) => need,
        _ => Need::Unstated,
    };
    let needs: Vec<Need> = (0..blocked.len()).map(need_of).collect();
    let mut stuck: Vec<StuckTask> = blocked
        .iter()
        .enumerate()
        .map(|(index, &(task, target))| {
            let need = needs[index];
            let (mut holders, mut queued_ahead, mut wakers) = (Vec::new(), Vec::new(), Vec::new());
            if let WaitTarget::Object(object) = target {
                holders = holders_in_the_way(trace, &holdings, object, task, need);
                if is_fifo(trace, object) {
                    queued_ahead = (0..blocked.len())
                        .filter(|&other| blocked[other].1 == target && blocked[other].0 != task)
                        .filter(|&other| waits[other] < waits[index])
                        .map(|other| blocked[other].0)
                        .collect();
                }
                wakers = channel_wakers(trace, end, &needs, object, need);
            }
            StuckTask {
                task,
                target,
                need,
                holders,
                queued_ahead,
                wakers,
                description: String::new(),
            }
        })
        .collect();
    for index in 0..stuck.len() {
        stuck[index].description = describe(trace, &stuck[index], &stuck);
    }
    stuck
}

/// The holders of `object` that keep `task`, needing `need`, waiting: all
/// of them, except that a reader of an `RwLock` waits only for a writer
/// (not for its own read lock nor another reader's).
fn holders_in_the_way(
    trace: &Trace,
    holdings: &Holdings,
    object: ObjectId,
    task: TaskId,
    need: Need,
) -> Vec<TaskId> {
    let holders = holdings.holders(object);
    if need != Need::Lock(LockMode::Shared) {
        return holders;
    }
    holders
        .into_iter()
        .filter(|&holder| holder != task && holds_exclusively(trace, holder, object))
        .collect()
}

/// Whether the last lock `task` took of `object` was exclusive.
fn holds_exclusively(trace: &Trace, task: TaskId, object: ObjectId) -> bool {
    trace
        .events
        .iter()
        .rev()
        .filter(|event| event.task == task && event.op.object() == Some(object))
        .find_map(|event| match event.op.holding() {
            Holding::Lock(mode) => Some(mode == LockMode::Exclusive),
            _ => None,
        })
        .unwrap_or(false)
}

/// Who could end a wait for a slot or a message of `object` (see
/// [`StuckTask::wakers`]); nobody for any other wait. `needs` are the
/// blocked tasks' needs, in `end.blocked`'s order.
fn channel_wakers(
    trace: &Trace,
    end: &ExecutionEnd,
    needs: &[Need],
    object: ObjectId,
    need: Need,
) -> Vec<TaskId> {
    if !matches!(need, Need::Slot | Need::Message) {
        return Vec::new();
    }
    let mut wakers: Vec<TaskId> = if kind_of(trace, object) == Some(ObjectKind::Queue) {
        // A get (the queue's receive) frees a slot; a put (its send), or a
        // putter waiting for a slot, brings an item; and the other way.
        let (gives, other_need) = if need == Need::Slot {
            (Order::Receive, Need::Message)
        } else {
            (Order::Send, Need::Slot)
        };
        let finished = |task: TaskId| {
            (trace.events.iter())
                .any(|event| event.task == task && event.op.order() == Order::Finish)
        };
        let did = (trace.events.iter())
            .filter(|event| event.op.object() == Some(object) && event.op.order() == gives)
            .map(|event| event.task);
        let will = (end.blocked.iter().zip(needs))
            .filter(|&(&(_, on), &other)| on == WaitTarget::Object(object) && other == other_need)
            .map(|(&(task, _), _)| task);
        did.chain(will).filter(|&task| !finished(task)).collect()
    } else {
        (end.endpoints.iter())
            .filter(|endpoint| endpoint.object == object && endpoint.gives == need)
            .map(|endpoint| endpoint.task)
            .collect()
    };
    wakers.sort_unstable();
    wakers.dedup();
    wakers
}

/// The sentence of a wait for a channel's or queue's slot or message, with
/// who could end it (`names` joins task names with a separator); `None`
/// for other waits.
fn describe_channel_wait(
    waiter: &str,
    label: &str,
    kind: Option<ObjectKind>,
    entry: &StuckTask,
    names: impl Fn(&[TaskId], &str) -> String,
) -> Option<String> {
    let queue = kind == Some(ObjectKind::Queue);
    let wait = match entry.need {
        Need::Slot => format!("{waiter} waits for capacity on {label}"),
        Need::Message if queue => format!("{waiter} waits for an item on {label}"),
        Need::Message => format!("{waiter} waits for a message on {label}"),
        Need::Unstated | Need::Lock(_) => return None,
    };
    if entry.wakers.is_empty() {
        return Some(wait);
    }
    Some(match entry.need {
        Need::Slot if queue => format!("{wait} (its getters: {})", names(&entry.wakers, ", ")),
        Need::Slot => format!("{wait} (its receiver: {})", names(&entry.wakers, ", ")),
        _ => format!("{wait} from {}", names(&entry.wakers, " or ")),
    })
}

/// `, queued behind 'a', 'b'` for the tasks queued ahead of `entry` (each
/// `writer` or `reader` on an `RwLock`), or nothing.
fn queued_behind(
    entry: &StuckTask,
    stuck: &[StuckTask],
    kind: Option<ObjectKind>,
    name: impl Fn(TaskId) -> String,
) -> String {
    if entry.queued_ahead.is_empty() {
        return String::new();
    }
    let ahead: Vec<String> = (entry.queued_ahead.iter())
        .map(|&other| {
            let need = stuck
                .iter()
                .find(|stuck| stuck.task == other)
                .map(|stuck| stuck.need);
            let role = match need {
                _ if kind != Some(ObjectKind::RwLock) => "",
                Some(Need::Lock(LockMode::Exclusive)) => "writer ",
                Some(Need::Lock(LockMode::Shared)) => "reader ",
                _ => "",
            };
            format!("{role}{}", name(other))
        })
        .collect();
    format!(", queued behind {}", ahead.join(", "))
}

fn kind_of(trace: &Trace, object: ObjectId) -> Option<ObjectKind> {
    trace.objects.get(object.index()).map(|info| info.kind)
}

/// Whether waiters for `object` are served first in, first out: the locks
/// and semaphores, all over one fair queue (no barging).
fn is_fifo(trace: &Trace, object: ObjectId) -> bool {
    matches!(
        kind_of(trace, object),
        Some(
            ObjectKind::Mutex
                | ObjectKind::RwLock
                | ObjectKind::ReentrantMutex
                | ObjectKind::Semaphore
        )
    )
}

/// The sentence of `entry`; `stuck` (every blocked task) says what the
/// tasks queued ahead of it need.
fn describe(trace: &Trace, entry: &StuckTask, stuck: &[StuckTask]) -> String {
    let waiter = format!("task '{}'", trace.task_label(entry.task));
    let object = match entry.target {
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
    let kind = kind_of(trace, object);
    let name = |task: TaskId| {
        if task == entry.task {
            "itself".to_string()
        } else {
            format!("'{}'", trace.task_label(task))
        }
    };
    let names = |tasks: &[TaskId], separator: &str| -> String {
        let names: Vec<String> = tasks.iter().map(|&task| name(task)).collect();
        names.join(separator)
    };
    if let Some(sentence) = describe_channel_wait(&waiter, &label, kind, entry, names) {
        return sentence;
    }
    let wait = match (kind, entry.need) {
        (Some(ObjectKind::RwLock), Need::Lock(LockMode::Shared)) => {
            format!("{waiter} waits to read-lock {label}")
        }
        (Some(ObjectKind::RwLock), Need::Lock(LockMode::Exclusive)) => {
            format!("{waiter} waits to write-lock {label}")
        }
        (Some(ObjectKind::Mutex | ObjectKind::RwLock | ObjectKind::ReentrantMutex), _) => {
            format!("{waiter} waits to lock {label}")
        }
        (Some(ObjectKind::Semaphore), _) => format!("{waiter} waits for a permit of {label}"),
        (Some(ObjectKind::Condition), _) => format!("{waiter} waits to be notified by {label}"),
        (Some(ObjectKind::Barrier), _) => format!("{waiter} waits for the other tasks at {label}"),
        _ => format!("{waiter} waits on {label}"),
    };
    let queue = queued_behind(entry, stuck, kind, name);
    let is_lock = matches!(
        kind,
        Some(ObjectKind::Mutex | ObjectKind::RwLock | ObjectKind::ReentrantMutex)
    );
    match (entry.holders.is_empty(), is_lock) {
        // A reader waits for no holder when only readers hold it.
        (true, true) if entry.need != Need::Lock(LockMode::Shared) => {
            format!("{wait}, held by no task{queue}")
        }
        (true, _) => format!("{wait}{queue}"),
        (false, _) => format!("{wait}, held by {}{queue}", names(&entry.holders, ", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use racecheck_trace::{Event, Location, ObjectInfo, Op, TaskInfo};

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
        for (kind, name) in [
            (ObjectKind::Mutex, "x"),
            (ObjectKind::Semaphore, "s"),
            (ObjectKind::Queue, "q"),
        ] {
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
    const Q: ObjectId = ObjectId(2);
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
        let blocked = vec![
            (TaskId(2), WaitTarget::Object(X)),
            (TaskId(1), WaitTarget::Object(X)),
            (TaskId(2), WaitTarget::Object(S)),
        ];
        let stuck = stuck_tasks(
            &trace,
            &ExecutionEnd {
                blocked,
                ..ExecutionEnd::default()
            },
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

    #[test]
    fn a_queue_wait_is_ended_by_the_unfinished_tasks_on_its_other_side() {
        let on = WaitTarget::Object(Q);
        let put = (1, Op::Send { object: Q });
        let get = (0, Op::Recv { object: Q });
        let b_waits = (
            2,
            Op::Block {
                on,
                need: Need::Slot,
            },
        );
        let main_joins = (
            0,
            Op::Block {
                on,
                need: Need::Unstated,
            },
        );
        let (a_gets, a_ends) = ((1, Op::Recv { object: Q }), (1, Op::Finish));
        type Case<'a> = (&'a [(u32, Op)], &'a str);
        let cases: &[Case] = &[
            // Nobody got from it; waiting for every item to be done is no get.
            (
                &[put, b_waits, main_joins],
                "task 'b' waits for capacity on Queue 'q'",
            ),
            (
                &[get, put, b_waits, main_joins],
                "task 'b' waits for capacity on Queue 'q' (its getters: 'main')",
            ),
            // A getter that finished gets no more.
            (
                &[a_gets, a_ends, put, b_waits, main_joins],
                "task 'b' waits for capacity on Queue 'q'",
            ),
        ];
        for (ops, expected) in cases {
            let end = ExecutionEnd {
                blocked: vec![(TaskId(2), on), (TaskId(0), on)],
                ..ExecutionEnd::default()
            };
            let stuck = stuck_tasks(&trace_with(ops), &end);
            assert_eq!(stuck[0].to_string(), *expected, "{ops:?}");
        }
    }
}
