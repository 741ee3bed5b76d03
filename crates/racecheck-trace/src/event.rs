//! Visible operations, the events that record them, and the trace of an
//! execution.

use crate::{EventIndex, Location, ObjectId, TaskId};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// Whether a lock is held exclusively (mutex, write lock) or shared (read
/// lock).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LockMode {
    /// One holder at a time.
    Exclusive,
    /// Any number of readers at a time.
    Shared,
}

/// What a blocked task waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WaitTarget {
    /// A synchronisation object (lock, semaphore, channel, ...).
    Object(ObjectId),
    /// Another task's completion (a join).
    Task(TaskId),
    /// Something racecheck does not track (a foreign future that returned
    /// `Pending` without a racecheck primitive involved).
    Untracked,
}

/// What a task blocked on an object needs from it, where the object's kind
/// alone does not say: a bounded channel blocks its senders for a slot and
/// its receiver for a message, a reader-writer lock its readers and writers.
/// The detector reads it to name who could end the wait.
///
/// ```
/// use racecheck_trace::{LockMode, Need, ObjectId, Op, Operand, WaitTarget};
/// let on = WaitTarget::Object(ObjectId(0));
/// let send = Op::Block { on, need: Need::Slot };
/// assert_eq!(send.operand(), Operand::Wait(on, Need::Slot));
/// assert_eq!(Need::default(), Need::Unstated);
/// assert_ne!(Need::Lock(LockMode::Shared), Need::Lock(LockMode::Exclusive));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Need {
    /// What the object's kind says: a mutex's lock, a semaphore's permits,
    /// a notification, the other parties of a barrier, a task's end.
    #[default]
    Unstated,
    /// The lock in this mode (a reader or a writer of an `RwLock`; a mutex
    /// is exclusive).
    Lock(LockMode),
    /// A free slot of a bounded channel or queue: a receiver must take a
    /// message out (or close it).
    Slot,
    /// A message or item: a sender must send one (or the last sender go).
    Message,
}

/// A visible operation: something another task can observe.
///
/// Each records its effect *as it happened*: `Lock` means the lock was
/// acquired, `Recv` that a message was received. A task that cannot proceed
/// records `Block` and a later event when it does.
///
/// ```
/// use racecheck_trace::{ObjectId, Op};
/// assert_eq!(Op::Write { object: ObjectId(1) }.object(), Some(ObjectId(1)));
/// assert_eq!(Op::Yield.verb(), "yield");
/// ```
// `repr(u8)` gives the variant its own tag byte. Without it the compiler
// hides the tag in the niche of a `by: Option<EventIndex>`, and every
// `match` on an operation (one per event in each of the detector's passes)
// first decodes the tag from there; the size stays 16 bytes either way.
//
// The variants' order is the tags' order, and it is chosen: `Block` and
// the five that change what a task holds come first, so that the leak
// and nested-lock passes (one `Op::with_row` per event, over every
// variant) send all the others past on one range check instead of through
// a jump table. The JSON form names variants and does not depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Op {
    /// Could not proceed; not runnable until woken.
    Block {
        /// What the task waits for.
        on: WaitTarget,
        /// What it needs from it (traces saved before it was recorded read
        /// as [`Need::Unstated`]).
        #[serde(default)]
        need: Need,
    },
    /// Acquired a lock.
    Lock {
        /// The lock.
        object: ObjectId,
        /// Exclusive or shared.
        mode: LockMode,
    },
    /// Released a lock.
    Unlock {
        /// The lock.
        object: ObjectId,
        /// Exclusive or shared.
        mode: LockMode,
    },
    /// Acquired semaphore permits.
    Acquire {
        /// The semaphore.
        object: ObjectId,
        /// How many permits.
        permits: u32,
    },
    /// Released (or added) semaphore permits.
    Release {
        /// The semaphore.
        object: ObjectId,
        /// How many permits.
        permits: u32,
    },
    /// Gave up permits for good without returning them (`forget`).
    Forget {
        /// The semaphore.
        object: ObjectId,
        /// How many permits.
        permits: u32,
    },
    /// Spawned a new task.
    Spawn {
        /// The new task.
        child: TaskId,
    },
    /// The task's future completed: its last event.
    Finish,
    /// Awaited another task's completion and got its output.
    Join {
        /// The task that was joined.
        target: TaskId,
    },
    /// Looked whether another task had finished (`is_finished`, a
    /// `try_join` that got nothing) and found it still running.
    FoundRunning {
        /// The task looked at.
        target: TaskId,
    },
    /// Looked whether another task had finished and found it finished:
    /// what it did is known to the looker from then on, as after a join.
    FoundFinished {
        /// The task looked at.
        target: TaskId,
    },
    /// Gave other tasks a chance to run.
    Yield,
    /// Started sleeping on the virtual clock.
    Sleep {
        /// The virtual time to wake at, in nanoseconds since the execution
        /// began.
        until_ns: u64,
    },
    /// A `timeout` expired before its future completed.
    TimedOut,
    /// A non-blocking attempt (`try_lock`, `try_acquire`, `try_recv`, ...)
    /// failed.
    TryFailed {
        /// The object tried.
        object: ObjectId,
    },
    /// Added permits to a semaphore without having acquired them
    /// (`add_permits`).
    AddPermits {
        /// The semaphore.
        object: ObjectId,
        /// How many permits.
        permits: u32,
    },
    /// Dropped one sender of an mpsc or broadcast channel (the last one
    /// also records `Close`).
    DropSender {
        /// The channel.
        object: ObjectId,
    },
    /// Closed a semaphore or a channel (for an mpsc or oneshot channel: the
    /// last sender or the receiver went away).
    Close {
        /// The object closed.
        object: ObjectId,
    },
    /// Notified a `Notify` or a `Condition`.
    Notify {
        /// The `Notify` or `Condition`.
        object: ObjectId,
        /// `notify_waiters` / `notify_all` rather than one waiter.
        all: bool,
    },
    /// A `notified()` future (or a `Condition` wait) completed.
    Notified {
        /// The `Notify` or `Condition`.
        object: ObjectId,
        /// The `Notify` event that released it (the `notify_one` that
        /// stored the permit it took, or the call that woke it); `None`
        /// when that event was not recorded (sent as the execution ended).
        by: Option<EventIndex>,
    },
    /// Set an event.
    Set {
        /// The event.
        object: ObjectId,
    },
    /// Cleared an event.
    Clear {
        /// The event.
        object: ObjectId,
    },
    /// An event wait returned.
    Wait {
        /// The event.
        object: ObjectId,
        /// The `Set` event that released it; `None` when that event was
        /// not recorded (set as the execution ended).
        by: Option<EventIndex>,
    },
    /// Sent a message on a channel.
    Send {
        /// The channel.
        object: ObjectId,
    },
    /// Reserved a slot of a bounded mpsc channel (`reserve`,
    /// `try_reserve`): the permit's `send` will fill it (recorded as
    /// `Send`), or dropping the permit gives it back (`Unreserve`).
    Reserve {
        /// The channel.
        object: ObjectId,
    },
    /// Gave back a reserved slot of an mpsc channel unused (a permit
    /// dropped without sending).
    Unreserve {
        /// The channel.
        object: ObjectId,
    },
    /// Received a message from a channel.
    Recv {
        /// The channel.
        object: ObjectId,
    },
    /// A receive found the channel closed and empty.
    RecvClosed {
        /// The channel.
        object: ObjectId,
    },
    /// A receiver or a borrow read a value that an earlier `Send` published
    /// (a `watch` borrow or `changed`, a `broadcast` receive).
    Observe {
        /// The watch or broadcast channel.
        object: ObjectId,
        /// The `Send` event whose value it read; `None` when it read no
        /// sent value (a watch's initial value, a broadcast receiver told it
        /// lagged).
        by: Option<EventIndex>,
    },
    /// A new receiver of a watch or broadcast channel (`subscribe`).
    Subscribe {
        /// The channel.
        object: ObjectId,
    },
    /// A receiver of a watch, broadcast or oneshot channel was dropped (or
    /// closed).
    DropReceiver {
        /// The channel.
        object: ObjectId,
    },
    /// Looked at a primitive's state without changing it or waiting
    /// (`Event::is_set`, `Semaphore::available_permits`, a channel's
    /// `is_closed`, watch's `has_changed`, the notifications a `notified()`
    /// future will see): orders nothing, recorded so that exploration
    /// orders it against the changes it sees.
    Inspect {
        /// The primitive.
        object: ObjectId,
    },
    /// Marked one item of a queue done (`task_done`).
    TaskDone {
        /// The queue.
        object: ObjectId,
    },
    /// A queue's `join()` returned: every item put had been marked done.
    AllDone {
        /// The queue.
        object: ObjectId,
    },
    /// Arrived at a barrier (counted towards its generation).
    Arrive {
        /// The barrier.
        object: ObjectId,
    },
    /// Left a barrier: its generation was complete.
    Depart {
        /// The barrier.
        object: ObjectId,
        /// This task's `wait` returned the generation's leader.
        leader: bool,
    },
    /// Read tracked shared state.
    Read {
        /// The shared location.
        object: ObjectId,
    },
    /// Wrote tracked shared state.
    Write {
        /// The shared location.
        object: ObjectId,
    },
    /// An atomic load (also a failed compare-exchange).
    Load {
        /// The atomic.
        object: ObjectId,
        /// The ordering the caller asked for.
        ordering: MemoryOrder,
    },
    /// An atomic store.
    Store {
        /// The atomic.
        object: ObjectId,
        /// The ordering the caller asked for.
        ordering: MemoryOrder,
    },
    /// An atomic read-modify-write: `swap`, `fetch_*`, a successful
    /// compare-exchange.
    ReadModifyWrite {
        /// The atomic.
        object: ObjectId,
        /// The ordering the caller asked for.
        ordering: MemoryOrder,
    },
}

/// The memory ordering of an atomic operation, as the caller wrote it
/// (`std::sync::atomic::Ordering`). racecheck interleaves atomic operations
/// sequentially consistently whatever the ordering; the ordering decides
/// only which happens-before edges they create.
///
/// ```
/// use racecheck_trace::MemoryOrder;
/// assert!(MemoryOrder::SeqCst.releases() && MemoryOrder::SeqCst.acquires());
/// assert!(!MemoryOrder::Relaxed.releases());
/// assert!(MemoryOrder::AcqRel.acquires());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MemoryOrder {
    /// No ordering: the operation is atomic and nothing more.
    Relaxed,
    /// A store that publishes what its task did before it.
    Release,
    /// A load that learns what the store it reads published.
    Acquire,
    /// Both, for read-modify-writes.
    AcqRel,
    /// Both, and one total order over all such operations.
    SeqCst,
}

impl MemoryOrder {
    /// Whether a store or read-modify-write with this ordering publishes.
    pub fn releases(self) -> bool {
        matches!(
            self,
            MemoryOrder::Release | MemoryOrder::AcqRel | MemoryOrder::SeqCst
        )
    }

    /// Whether a load or read-modify-write with this ordering learns what
    /// was published.
    pub fn acquires(self) -> bool {
        matches!(
            self,
            MemoryOrder::Acquire | MemoryOrder::AcqRel | MemoryOrder::SeqCst
        )
    }
}

/// The kind of a tracked object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectKind {
    /// An async mutex.
    Mutex,
    /// An async reader-writer lock.
    RwLock,
    /// A lock its owner may take again (asyncio's `RLock`).
    ReentrantMutex,
    /// A counting semaphore.
    Semaphore,
    /// tokio's `Notify`.
    Notify,
    /// asyncio's `Event`.
    Event,
    /// A multi-producer, single-consumer channel.
    Channel,
    /// A one-shot channel.
    Oneshot,
    /// A condition variable bound to a `Mutex` (asyncio's `Condition`).
    Condition,
    /// A FIFO queue with `task_done`/`join` (asyncio's `Queue`).
    Queue,
    /// tokio's `Barrier`.
    Barrier,
    /// A single-value channel that keeps the latest value (`watch`).
    Watch,
    /// A multi-consumer channel every receiver sees all of (`broadcast`).
    Broadcast,
    /// Tracked shared state (`Shared<T>`).
    Shared,
    /// An atomic variable.
    Atomic,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ObjectKind::Mutex => "Mutex",
            ObjectKind::RwLock => "RwLock",
            ObjectKind::ReentrantMutex => "ReentrantMutex",
            ObjectKind::Semaphore => "Semaphore",
            ObjectKind::Notify => "Notify",
            ObjectKind::Event => "Event",
            ObjectKind::Channel => "mpsc",
            ObjectKind::Oneshot => "oneshot",
            ObjectKind::Condition => "Condition",
            ObjectKind::Queue => "Queue",
            ObjectKind::Barrier => "Barrier",
            ObjectKind::Watch => "watch",
            ObjectKind::Broadcast => "broadcast",
            ObjectKind::Shared => "Shared",
            ObjectKind::Atomic => "Atomic",
        };
        f.write_str(name)
    }
}

/// What the trace knows about an object: its kind, optional name, and where
/// it was created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// The kind of object.
    pub kind: ObjectKind,
    /// A name the user gave it, if any.
    pub name: Option<Cow<'static, str>>,
    /// Where it was created.
    pub created_at: Location,
}

impl fmt::Display for ObjectInfo {
    /// `Mutex 'db'` when named, `Mutex@src/db.rs:4:14` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{} '{}'", self.kind, name),
            None => write!(f, "{}@{}", self.kind, self.created_at),
        }
    }
}

/// What the trace knows about a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// Its name as given at spawn; empty when none was given (labels then
    /// read `task-N`). The root is `main`.
    pub name: Cow<'static, str>,
    /// The task that spawned it (`None` for the root).
    pub parent: Option<TaskId>,
    /// Where it was spawned.
    pub spawned_at: Location,
}

/// One visible operation performed by one task during one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The step (0-based resumption count) during which it happened.
    pub step: u32,
    /// The task that performed it.
    pub task: TaskId,
    /// What it did.
    pub op: Op,
    /// Where in the user's code.
    pub location: Location,
}

/// The record of one execution: its tasks, its objects and its events in the
/// order they happened.
///
/// ```
/// use racecheck_trace::{Event, Location, Op, TaskId, TaskInfo, Trace};
///
/// let mut trace = Trace::default();
/// trace.tasks.push(TaskInfo { name: "main".into(), parent: None, spawned_at: Location::caller() });
/// trace.events.push(Event { step: 0, task: TaskId::ROOT, op: Op::Yield, location: Location::caller() });
/// assert_eq!(trace.task_label(TaskId::ROOT), "main");
/// assert_eq!(trace.describe(&trace.events[0].op), "yield");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// Tasks, indexed by [`TaskId`].
    pub tasks: Vec<TaskInfo>,
    /// Objects, indexed by [`ObjectId`].
    pub objects: Vec<ObjectInfo>,
    /// Events in execution order.
    pub events: Vec<Event>,
}

impl Trace {
    /// An empty trace.
    ///
    /// ```
    /// assert!(racecheck_trace::Trace::new().events.is_empty());
    /// ```
    pub const fn new() -> Trace {
        Trace {
            tasks: Vec::new(),
            objects: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Empties the trace, keeping its allocations for the next execution.
    pub fn clear(&mut self) {
        self.tasks.clear();
        self.objects.clear();
        self.events.clear();
    }

    /// The task's name, or `task-N` if it has none or the trace does not
    /// know it.
    pub fn task_label(&self, task: TaskId) -> String {
        match self.tasks.get(task.index()) {
            Some(info) if !info.name.is_empty() => info.name.to_string(),
            _ => format!("task-{}", task.0),
        }
    }

    /// The object's label (see [`ObjectInfo`]'s `Display`), or its id.
    pub fn object_label(&self, object: ObjectId) -> String {
        match self.objects.get(object.index()) {
            Some(info) => info.to_string(),
            None => object.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_named_and_unnamed_objects() {
        let created_at = Location::caller();
        let named = ObjectInfo {
            kind: ObjectKind::Mutex,
            name: Some("db".into()),
            created_at,
        };
        let unnamed = ObjectInfo {
            kind: ObjectKind::Shared,
            name: None,
            created_at,
        };
        assert_eq!(named.to_string(), "Mutex 'db'");
        assert_eq!(unnamed.to_string(), format!("Shared@{created_at}"));
    }

    #[test]
    fn trace_round_trips_through_json() {
        let location = Location::caller();
        let trace = Trace {
            tasks: vec![TaskInfo {
                name: "main".into(),
                parent: None,
                spawned_at: location,
            }],
            objects: vec![ObjectInfo {
                kind: ObjectKind::Semaphore,
                name: None,
                created_at: location,
            }],
            events: vec![Event {
                step: 3,
                task: TaskId(0),
                op: Op::Acquire {
                    object: ObjectId(0),
                    permits: 2,
                },
                location,
            }],
        };
        let json = serde_json::to_string(&trace).unwrap();
        assert_eq!(serde_json::from_str::<Trace>(&json).unwrap(), trace);
        assert_eq!(
            trace.describe(&trace.events[0].op),
            format!("acquire 2 permits of Semaphore@{location}")
        );
    }
}

/// How an execution ended, as the runtime saw it.
///
/// ```
/// use racecheck_trace::ExecutionEnd;
/// let end = ExecutionEnd { root_finished: true, ..ExecutionEnd::default() };
/// assert!(end.blocked.is_empty() && !end.sleeping);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionEnd {
    /// Tasks blocked (not sleeping) at the end, with what they wait for.
    pub blocked: Vec<(TaskId, WaitTarget)>,
    /// The root task finished (the execution was not stuck).
    pub root_finished: bool,
    /// The runtime itself failed the execution (a panic, the step limit):
    /// only races and lock orders are analysed.
    pub failed: bool,
    /// Some task was asleep on the virtual clock at the end: when the root
    /// finished, it could still have woken the blocked tasks, which are
    /// then dropped like any task at a runtime's shutdown, not hung.
    pub sleeping: bool,
    /// The channel ends the unfinished tasks held, found as their futures
    /// were dropped after the end: who could still have sent a message or
    /// freed a slot. Empty when every task finished.
    pub endpoints: Vec<Endpoint>,
}

/// An end of a channel an unfinished task held when the execution ended:
/// with it the task could have ended a wait on the channel, a sender's by
/// giving a message, the receiver's by freeing a slot.
///
/// The runtime learns it by dropping each unfinished task's future: the
/// ends dropped meanwhile were that task's. An end kept out of every task
/// (leaked, in a `static`) is nobody's; one shared through an `Arc` is
/// counted to the task whose drop let it go.
///
/// ```
/// use racecheck_trace::{Endpoint, Need, ObjectId, TaskId};
/// let sender = Endpoint { task: TaskId(0), object: ObjectId(3), gives: Need::Message };
/// assert_eq!(sender.gives, Need::Message);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The task that held it.
    pub task: TaskId,
    /// The channel.
    pub object: ObjectId,
    /// What it could give a blocked task: [`Need::Message`] for a sender,
    /// [`Need::Slot`] for a receiver.
    pub gives: Need,
}
