//! The operation table: what each [`Op`] is, one row of plain data per
//! variant.
//!
//! An operation's row says what it acts on ([`Operand`]), how it reads
//! ([`OpRow::verb`], [`Detail`]), which happens-before order it creates
//! ([`Order`]), what it touches for partial-order reduction ([`Touch`]) and
//! what it does to the locks and permits tasks hold ([`Holding`]). Every
//! analysis reads these columns instead of listing variants: the clocks and
//! the graph read `order`, the dependency relation `touch`, the holdings,
//! leaks, lock order, profile and pictures `holding` and `operand`, the
//! timelines `verb`. A new operation is a new variant of [`Op`] and its row
//! in [`Op::row`]; the columns are a small vocabulary the analyses already
//! interpret, so none of them changes unless the operation needs a new word.

use crate::event::{LockMode, MemoryOrder, Op, Trace, WaitTarget};
use crate::{EventIndex, ObjectId, TaskId};

/// What an operation acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// Nothing another task can name (a yield, a timeout, a finish).
    None,
    /// A synchronisation object or tracked state.
    Object(ObjectId),
    /// Another task: the child spawned, the task joined.
    Task(TaskId),
    /// What a blocked task waits for: the operation is a wait.
    Wait(WaitTarget),
    /// The virtual time a sleep wakes at, in nanoseconds.
    Until(u64),
}

/// What the description of an operation adds after its operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Nothing.
    None,
    /// A count of semaphore permits (`acquire 2 permits of ...`).
    Permits(u32),
    /// An atomic's ordering (`load Atomic@... (SeqCst)`).
    Ordering(MemoryOrder),
}

/// The happens-before order an operation creates, before the object's
/// kind refines it (the detector's `sync.rs` says how: a `Send` on an
/// mpsc channel is a message, on a watch a publication).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// No order.
    None,
    /// Starts the operand's task, which learns what its parent knew.
    Spawn,
    /// Ends the task: joins of it learn what it knew.
    Finish,
    /// Learns what the operand's task knew when it finished.
    Join,
    /// Takes a lock: learns what its unlocks released.
    Lock(LockMode),
    /// Releases a lock.
    Unlock(LockMode),
    /// Publishes into the object for every later acquire.
    Release,
    /// Learns what was released into the object.
    Acquire,
    /// Sends a value the matching receive learns from.
    Send,
    /// Receives a value.
    Receive,
    /// Publishes for the completions that will name this event.
    Publish,
    /// Learns what the named event published (nothing when none).
    AcquireFrom(Option<EventIndex>),
    /// Reads (`write: false`) or writes tracked state: checked for races.
    Access {
        /// The access writes.
        write: bool,
    },
    /// An atomic load.
    Load(MemoryOrder),
    /// An atomic store.
    Store(MemoryOrder),
    /// An atomic read-modify-write.
    ReadModifyWrite(MemoryOrder),
}

/// What an operation touches, for the dependency relation: its operand,
/// read or changed, or its own task or the turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    /// Nothing another task sees.
    None,
    /// Reads the operand (an object, or a task's end).
    Read,
    /// Changes the operand (an object, a waited-on object's queue, a new
    /// task).
    Change,
    /// Ends the task performing it.
    Finish,
    /// Gives other tasks the turn (an explicit yield).
    Yield,
}

/// What an operation does to what the performing task holds of its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holding {
    /// Nothing.
    None,
    /// Takes a lock.
    Lock(LockMode),
    /// Gives a lock back.
    Unlock(LockMode),
    /// Takes permits.
    Acquire(u32),
    /// Gives permits back to the object.
    Release(u32),
    /// Gives up permits held without returning them.
    Forget(u32),
    /// Adds permits the task never held.
    Add(u32),
}

impl Holding {
    /// How many locks or permits the task takes, when it takes any (a
    /// lock counts one).
    ///
    /// ```
    /// use racecheck_trace::{Holding, LockMode};
    /// assert_eq!(Holding::Lock(LockMode::Shared).taken(), Some(1));
    /// assert_eq!(Holding::Acquire(3).taken(), Some(3));
    /// assert_eq!(Holding::Release(3).taken(), None);
    /// ```
    #[inline]
    pub fn taken(self) -> Option<u32> {
        match self {
            Holding::Lock(_) => Some(1),
            Holding::Acquire(permits) => Some(permits),
            _ => None,
        }
    }

    /// How many locks or permits the task stops holding, returned or
    /// forgotten, when it gives any up.
    ///
    /// ```
    /// use racecheck_trace::{Holding, LockMode};
    /// assert_eq!(Holding::Unlock(LockMode::Exclusive).given_up(), Some(1));
    /// assert_eq!(Holding::Forget(2).given_up(), Some(2));
    /// assert_eq!(Holding::Add(2).given_up(), None);
    /// ```
    #[inline]
    pub fn given_up(self) -> Option<u32> {
        match self {
            Holding::Unlock(_) => Some(1),
            Holding::Release(permits) | Holding::Forget(permits) => Some(permits),
            _ => None,
        }
    }

    /// Whether the object gets locks or permits back (an unlock, a
    /// release, permits added): what a blocked taker waits for.
    ///
    /// ```
    /// use racecheck_trace::Holding;
    /// assert!(Holding::Add(1).returns() && !Holding::Forget(1).returns());
    /// ```
    #[inline]
    pub fn returns(self) -> bool {
        matches!(
            self,
            Holding::Unlock(_) | Holding::Release(_) | Holding::Add(_)
        )
    }
}

/// One row of the operation table: everything the analyses know about an
/// operation, as plain data. See [`Op::row`].
///
/// ```
/// use racecheck_trace::{ObjectId, Op, Operand, Order, Touch};
/// let row = Op::Read { object: ObjectId(1) }.row();
/// assert_eq!(row.operand, Operand::Object(ObjectId(1)));
/// assert_eq!((row.verb, row.order, row.touch), ("read", Order::Access { write: false }, Touch::Read));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpRow {
    /// A short verb naming the operation, for timelines.
    pub verb: &'static str,
    /// What it acts on.
    pub operand: Operand,
    /// What its description adds after the operand.
    pub detail: Detail,
    /// The happens-before order it creates.
    pub order: Order,
    /// What it reads or changes, for the dependency relation.
    pub touch: Touch,
    /// What it does to the locks and permits its task holds.
    pub holding: Holding,
}

impl OpRow {
    /// A row acting on `operand` that holds nothing and adds no detail.
    const fn new(verb: &'static str, operand: Operand, order: Order, touch: Touch) -> OpRow {
        OpRow {
            verb,
            operand,
            detail: Detail::None,
            order,
            touch,
            holding: Holding::None,
        }
    }

    /// The same row, changing what its task holds.
    const fn holding(self, holding: Holding) -> OpRow {
        OpRow { holding, ..self }
    }

    /// The same row, with `detail` in its description.
    const fn detail(self, detail: Detail) -> OpRow {
        OpRow { detail, ..self }
    }

    /// The object the operation acts on or waits for, if any.
    ///
    /// ```
    /// use racecheck_trace::{ObjectId, Op, WaitTarget};
    /// let block = Op::Block { on: WaitTarget::Object(ObjectId(2)) };
    /// assert_eq!(block.row().object(), Some(ObjectId(2)));
    /// assert_eq!(Op::Yield.row().object(), None);
    /// ```
    #[inline]
    pub fn object(&self) -> Option<ObjectId> {
        match self.operand {
            Operand::Object(object) | Operand::Wait(WaitTarget::Object(object)) => Some(object),
            _ => None,
        }
    }

    /// What the operation waits for, when it is a wait (a blocked attempt).
    ///
    /// ```
    /// use racecheck_trace::{Op, TaskId, WaitTarget};
    /// let on = WaitTarget::Task(TaskId(1));
    /// assert_eq!(Op::Block { on }.row().waits_for(), Some(on));
    /// assert_eq!(Op::Finish.row().waits_for(), None);
    /// ```
    #[inline]
    pub fn waits_for(&self) -> Option<WaitTarget> {
        match self.operand {
            Operand::Wait(target) => Some(target),
            _ => None,
        }
    }
}

impl Op {
    /// The object the operation acts on or waits for, if any (its row's
    /// [`OpRow::object`]).
    #[inline]
    pub fn object(&self) -> Option<ObjectId> {
        self.row().object()
    }

    /// A short verb naming the operation, for timelines (its row's).
    #[inline]
    pub fn verb(&self) -> &'static str {
        self.row().verb
    }

    /// The operation's row of the operation table: the one place that
    /// says what each variant is. Analyses read the row's columns, so a
    /// new operation is a variant and its row here.
    ///
    /// ```
    /// use racecheck_trace::{Holding, LockMode, ObjectId, Op, Order, Touch};
    /// let unlock = Op::Unlock { object: ObjectId(0), mode: LockMode::Exclusive }.row();
    /// assert_eq!(unlock.order, Order::Unlock(LockMode::Exclusive));
    /// assert_eq!((unlock.touch, unlock.holding), (Touch::Change, Holding::Unlock(LockMode::Exclusive)));
    /// ```
    #[inline]
    #[rustfmt::skip]
    pub const fn row(&self) -> OpRow {
        use Detail::{Ordering, Permits};
        use Operand::{Object as On, Task, Until, Wait};
        use Order as O;
        use Touch::{Change, Read};
        let row = OpRow::new;
        match *self {
            Op::Spawn { child } => row("spawn", Task(child), O::Spawn, Change),
            Op::Finish => row("finish", Operand::None, O::Finish, Touch::Finish),
            Op::Join { target } => row("join", Task(target), O::Join, Read),
            Op::Yield => row("yield", Operand::None, O::None, Touch::Yield),
            Op::Sleep { until_ns } => row("sleep", Until(until_ns), O::None, Touch::None),
            Op::TimedOut => row("timed out", Operand::None, O::None, Touch::None),
            // Blocking on an object queues the task there: the queue's order
            // decides who is served next, so it changes the object. Waiting
            // for a task changes nothing anyone else sees.
            Op::Block { on } => row("block on", Wait(on), O::None, block_touch(on)),
            Op::TryFailed { object } => row("try failed", On(object), O::None, Read),
            Op::Lock { object, mode } => row(lock_verb(mode), On(object), O::Lock(mode), Change)
                .holding(Holding::Lock(mode)),
            Op::Unlock { object, mode } => row(unlock_verb(mode), On(object), O::Unlock(mode), Change)
                .holding(Holding::Unlock(mode)),
            Op::Acquire { object, permits } => row("acquire", On(object), O::Acquire, Change)
                .holding(Holding::Acquire(permits)).detail(Permits(permits)),
            Op::Release { object, permits } => row("release", On(object), O::Release, Change)
                .holding(Holding::Release(permits)).detail(Permits(permits)),
            Op::Forget { object, permits } => row("forget", On(object), O::None, Change)
                .holding(Holding::Forget(permits)).detail(Permits(permits)),
            Op::AddPermits { object, permits } => row("add", On(object), O::Release, Change)
                .holding(Holding::Add(permits)).detail(Permits(permits)),
            Op::DropSender { object } => row("drop a sender of", On(object), O::Release, Change),
            Op::Close { object } => row("close", On(object), O::Release, Change),
            Op::Notify { object, all } => row(notify_verb(all), On(object), O::Publish, Change),
            Op::Notified { object, by } => row("notified", On(object), O::AcquireFrom(by), Change),
            Op::Set { object } => row("set", On(object), O::Publish, Change),
            Op::Clear { object } => row("clear", On(object), O::None, Change),
            Op::Wait { object, by } => row("wait", On(object), O::AcquireFrom(by), Change),
            Op::Send { object } => row("send", On(object), O::Send, Change),
            Op::Reserve { object } => row("reserve a slot of", On(object), O::None, Change),
            Op::Unreserve { object } => row("give back a slot of", On(object), O::None, Change),
            Op::Recv { object } => row("recv", On(object), O::Receive, Change),
            Op::RecvClosed { object } => row("recv (closed)", On(object), O::Acquire, Change),
            // Observing a watch or broadcast value reads the channel; what it
            // changes (the receiver's own position) belongs to one task.
            Op::Observe { object, by } => row("observe", On(object), O::AcquireFrom(by), Read),
            Op::Subscribe { object } => row("subscribe to", On(object), O::None, Change),
            Op::DropReceiver { object } => row("drop a receiver of", On(object), O::None, Change),
            Op::Inspect { object } => row("inspect", On(object), O::None, Read),
            Op::TaskDone { object } => row("task_done on", On(object), O::Release, Change),
            Op::AllDone { object } => row("join", On(object), O::Acquire, Change),
            Op::Arrive { object } => row("arrive at", On(object), O::Release, Change),
            Op::Depart { object, leader } => row(depart_verb(leader), On(object), O::Acquire, Change),
            Op::Read { object } => row("read", On(object), O::Access { write: false }, Read),
            Op::Write { object } => row("write", On(object), O::Access { write: true }, Change),
            Op::Load { object, ordering } => row("load", On(object), O::Load(ordering), Read)
                .detail(Ordering(ordering)),
            Op::Store { object, ordering } => row("store", On(object), O::Store(ordering), Change)
                .detail(Ordering(ordering)),
            Op::ReadModifyWrite { object, ordering } => {
                row("read-modify-write", On(object), O::ReadModifyWrite(ordering), Change)
                    .detail(Ordering(ordering))
            }
        }
    }
}

const fn block_touch(on: WaitTarget) -> Touch {
    match on {
        WaitTarget::Object(_) => Touch::Change,
        WaitTarget::Task(_) | WaitTarget::Untracked => Touch::None,
    }
}

const fn lock_verb(mode: LockMode) -> &'static str {
    match mode {
        LockMode::Exclusive => "lock",
        LockMode::Shared => "read-lock",
    }
}

const fn unlock_verb(mode: LockMode) -> &'static str {
    match mode {
        LockMode::Exclusive => "unlock",
        LockMode::Shared => "read-unlock",
    }
}

const fn notify_verb(all: bool) -> &'static str {
    if all {
        "notify_waiters"
    } else {
        "notify_one"
    }
}

const fn depart_verb(leader: bool) -> &'static str {
    if leader {
        "leave (leader)"
    } else {
        "leave"
    }
}

impl Trace {
    /// The operation in words, with task and object names resolved:
    /// `lock Mutex 'db'`, `spawn scraper-1`, `sleep until 10ms`.
    pub fn describe(&self, op: &Op) -> String {
        let row = op.row();
        let verb = row.verb;
        let operand = match row.operand {
            Operand::None => return verb.to_string(),
            Operand::Object(object) => self.object_label(object),
            Operand::Task(task) => self.task_label(task),
            Operand::Until(until_ns) => return format!("{verb} until {}", format_nanos(until_ns)),
            Operand::Wait(WaitTarget::Object(object)) => self.object_label(object),
            Operand::Wait(WaitTarget::Task(task)) => format!("join of {}", self.task_label(task)),
            Operand::Wait(WaitTarget::Untracked) => "an untracked future".to_string(),
        };
        match row.detail {
            Detail::None => format!("{verb} {operand}"),
            Detail::Permits(permits) => {
                let plural = if permits == 1 { "" } else { "s" };
                format!("{verb} {permits} permit{plural} of {operand}")
            }
            Detail::Ordering(ordering) => format!("{verb} {operand} ({ordering:?})"),
        }
    }
}

/// Formats virtual nanoseconds in the largest unit that keeps them exact:
/// `1h`, `10ms`, `1500us`, `7ns`.
fn format_nanos(nanos: u64) -> String {
    const UNITS: [(u64, &str); 6] = [
        (3_600_000_000_000, "h"),
        (60_000_000_000, "min"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    if nanos == 0 {
        return "0s".to_string();
    }
    UNITS
        .iter()
        .find(|(unit, _)| nanos % unit == 0)
        .map(|(unit, suffix)| format!("{}{suffix}", nanos / unit))
        .unwrap_or_else(|| format!("{nanos}ns"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_name_the_object_and_the_verb_each_variant_had() {
        let object = ObjectId(7);
        let shared = LockMode::Shared;
        let cases = [
            (
                Op::Lock {
                    object,
                    mode: shared,
                },
                Some(object),
                "read-lock",
            ),
            (
                Op::Unlock {
                    object,
                    mode: shared,
                },
                Some(object),
                "read-unlock",
            ),
            (
                Op::Notify { object, all: true },
                Some(object),
                "notify_waiters",
            ),
            (
                Op::Notify { object, all: false },
                Some(object),
                "notify_one",
            ),
            (
                Op::Depart {
                    object,
                    leader: true,
                },
                Some(object),
                "leave (leader)",
            ),
            (Op::AllDone { object }, Some(object), "join"),
            (Op::Observe { object, by: None }, Some(object), "observe"),
            (
                Op::Block {
                    on: WaitTarget::Object(object),
                },
                Some(object),
                "block on",
            ),
            (
                Op::Block {
                    on: WaitTarget::Task(TaskId(1)),
                },
                None,
                "block on",
            ),
            (Op::Spawn { child: TaskId(1) }, None, "spawn"),
            (Op::Sleep { until_ns: 5 }, None, "sleep"),
        ];
        for (op, expected_object, expected_verb) in cases {
            assert_eq!(
                (op.object(), op.verb()),
                (expected_object, expected_verb),
                "{op:?}"
            );
        }
    }

    #[test]
    fn completions_carry_the_event_they_name() {
        let object = ObjectId(0);
        let named = Op::Wait {
            object,
            by: Some(EventIndex(3)),
        };
        assert_eq!(named.row().order, Order::AcquireFrom(Some(EventIndex(3))));
        assert_eq!(
            Op::Notified { object, by: None }.row().order,
            Order::AcquireFrom(None)
        );
    }

    #[test]
    fn formats_virtual_time_in_the_largest_exact_unit() {
        let cases = [
            (0, "0s"),
            (7, "7ns"),
            (1_500_000, "1500us"),
            (10_000_000, "10ms"),
            (3_600_000_000_000, "1h"),
        ];
        for (nanos, expected) in cases {
            assert_eq!(format_nanos(nanos), expected, "{nanos}");
        }
    }
}
