//! The operation table: what each [`Op`] is, one row of plain data per
//! variant, and the operation in words ([`Trace::describe`]).
//!
//! An operation's row says how it reads ([`Op::verb`], [`Detail`]), what it
//! acts on ([`Operand`]), which happens-before order it creates
//! ([`Order`]), what it touches for partial-order reduction ([`Touch`]) and
//! what it does to the locks and permits tasks hold ([`Holding`]). Every
//! analysis reads these columns instead of listing variants: the clocks and
//! the graph read `order` and `operand`, the dependency relation `touch`,
//! the holdings, leaks, lock order, profile and pictures `holding` and
//! `operand`, the timelines `verb`. A new operation is a new variant of
//! [`Op`] and its row in the `operation_table!` below; the columns are a
//! small vocabulary the analyses already interpret, so none of them changes
//! unless the operation needs a new word.
//!
//! Each column is a method of [`Op`] (`op.order()`, `op.holding()`, ...)
//! that the table's macro writes as one `match`: reading a column costs a
//! hand-written `match` on that column alone. The detector's per-event
//! passes read with [`Op::with_row`] instead: their [`ReadRow`] is copied
//! into each arm of one `match`, where the row is constant, so what they
//! derive from it (an object's role, a lock count) folds into the arm, as
//! when each pass listed the variants itself.

use crate::event::{LockMode, MemoryOrder, Need, ObjectKind, Op, Trace, WaitTarget};
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
    /// What a blocked task waits for, and what it needs from it: the
    /// operation is a wait.
    Wait(WaitTarget, Need),
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
    /// What a blocked task needs of its object, where its kind does not
    /// say it (`block on mpsc@... for a slot`).
    Need(Need),
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
    #[inline(always)]
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
    #[inline(always)]
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
    #[inline(always)]
    pub fn returns(self) -> bool {
        matches!(
            self,
            Holding::Unlock(_) | Holding::Release(_) | Holding::Add(_)
        )
    }
}

impl Op {
    /// The object the operation acts on or waits for, if any (its
    /// operand's).
    ///
    /// ```
    /// use racecheck_trace::{Need, ObjectId, Op, WaitTarget};
    /// let block = Op::Block { on: WaitTarget::Object(ObjectId(2)), need: Need::Unstated };
    /// assert_eq!(block.object(), Some(ObjectId(2)));
    /// assert_eq!(Op::Yield.object(), None);
    /// ```
    #[inline(always)]
    pub fn object(&self) -> Option<ObjectId> {
        match self.operand() {
            Operand::Object(object) | Operand::Wait(WaitTarget::Object(object), _) => Some(object),
            _ => None,
        }
    }

    /// What the operation waits for, when it is a wait (a blocked
    /// attempt).
    ///
    /// ```
    /// use racecheck_trace::{Need, Op, TaskId, WaitTarget};
    /// let on = WaitTarget::Task(TaskId(1));
    /// assert_eq!(Op::Block { on, need: Need::Unstated }.waits_for(), Some(on));
    /// assert_eq!(Op::Finish.waits_for(), None);
    /// ```
    #[inline(always)]
    pub fn waits_for(&self) -> Option<WaitTarget> {
        match self.operand() {
            Operand::Wait(target, _) => Some(target),
            _ => None,
        }
    }
}

/// One row of the table: every column of an operation, as
/// [`Op::with_row`] hands it to a reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// [`Op::verb`].
    pub verb: &'static str,
    /// [`Op::operand`].
    pub operand: Operand,
    /// [`Op::order`].
    pub order: Order,
    /// [`Op::touch`].
    pub touch: Touch,
    /// [`Op::holding`].
    pub holding: Holding,
    /// [`Op::detail`].
    pub detail: Detail,
}

/// What an analysis computes from one row, for [`Op::with_row`].
pub trait ReadRow {
    /// What it computes.
    type Output;

    /// Computes it from `row`. Mark it `#[inline(always)]` and keep it
    /// small: it is copied into each of the table's arms, where the row
    /// is constant.
    fn read(self, row: Row) -> Self::Output;
}

/// Writes the table's columns as methods of [`Op`], one `match` each, so
/// that reading a column costs what a hand-written `match` on it would,
/// and [`Op::with_row`], which reads several in the same `match`.
macro_rules! operation_table {
    ($(
        $variant:ident $({ $($field:ident),* })? =>
            $verb:expr, $operand:expr, $order:expr, $touch:expr, $holding:expr, $detail:expr;
    )*) => {
        impl Op {
            /// Hands the operation's row to `reader` inside each arm of one
            /// `match` on the variant, and returns what it computes.
            ///
            /// An analysis's per-event hot path reads the row this way: its
            /// [`ReadRow::read`] is `#[inline(always)]`, so every arm gets
            /// its own copy with that arm's columns as constants, and the
            /// compiler folds what the reader derives from them (an
            /// object's role, a lock count) into the arm, instead of
            /// building the columns and matching on them a second time.
            ///
            /// ```
            /// use racecheck_trace::{LockMode, ObjectId, Op, ReadRow, Row};
            /// struct Taken;
            /// impl ReadRow for Taken {
            ///     type Output = Option<u32>;
            ///     #[inline(always)]
            ///     fn read(self, row: Row) -> Option<u32> {
            ///         row.holding.taken()
            ///     }
            /// }
            /// let lock = Op::Lock { object: ObjectId(0), mode: LockMode::Shared };
            /// assert_eq!(lock.with_row(Taken), Some(1));
            /// ```
            #[inline(always)]
            #[allow(unused_variables)]
            pub fn with_row<R: ReadRow>(&self, reader: R) -> R::Output {
                use Operand::{Object as On, Task, Until, Wait};
                use Order as O;
                use Touch::{Change, Read};
                use Holding as H;
                use Detail::{Ordering, Permits};
                match *self {
                    $(Op::$variant $({ $($field),* })? => reader.read(Row {
                        verb: $verb,
                        operand: $operand,
                        order: $order,
                        touch: $touch,
                        holding: $holding,
                        detail: $detail,
                    }),)*
                }
            }

            /// A short verb naming the operation, for timelines.
            ///
            /// ```
            /// assert_eq!(racecheck_trace::Op::Yield.verb(), "yield");
            /// ```
            #[inline(always)]
            #[allow(unused_variables)]
            pub const fn verb(&self) -> &'static str {
                match *self { $(Op::$variant $({ $($field),* })? => $verb,)* }
            }

            /// What the operation acts on.
            ///
            /// ```
            /// use racecheck_trace::{Op, Operand};
            /// assert_eq!(Op::Sleep { until_ns: 5 }.operand(), Operand::Until(5));
            /// ```
            #[inline(always)]
            #[allow(unused_variables)]
            pub const fn operand(&self) -> Operand {
                use Operand::{Object as On, Task, Until, Wait};
                match *self { $(Op::$variant $({ $($field),* })? => $operand,)* }
            }

            /// The happens-before order the operation creates.
            ///
            /// ```
            /// use racecheck_trace::{ObjectId, Op, Order};
            /// assert_eq!(Op::Send { object: ObjectId(0) }.order(), Order::Send);
            /// ```
            #[inline(always)]
            #[allow(unused_variables)]
            pub const fn order(&self) -> Order {
                use Order as O;
                match *self { $(Op::$variant $({ $($field),* })? => $order,)* }
            }

            /// What the operation reads or changes, for the dependency
            /// relation.
            ///
            /// ```
            /// use racecheck_trace::{ObjectId, Op, Touch};
            /// assert_eq!(Op::Inspect { object: ObjectId(0) }.touch(), Touch::Read);
            /// ```
            #[inline(always)]
            #[allow(unused_variables)]
            pub const fn touch(&self) -> Touch {
                use Touch::{Change, Read};
                match *self { $(Op::$variant $({ $($field),* })? => $touch,)* }
            }

            /// What the operation does to the locks and permits its task
            /// holds.
            ///
            /// ```
            /// use racecheck_trace::{Holding, ObjectId, Op};
            /// assert_eq!(Op::Forget { object: ObjectId(0), permits: 2 }.holding(), Holding::Forget(2));
            /// ```
            #[inline(always)]
            #[allow(unused_variables)]
            pub const fn holding(&self) -> Holding {
                use Holding as H;
                match *self { $(Op::$variant $({ $($field),* })? => $holding,)* }
            }

            /// What the operation's description adds after its operand.
            ///
            /// ```
            /// use racecheck_trace::{Detail, ObjectId, Op};
            /// assert_eq!(Op::Acquire { object: ObjectId(0), permits: 2 }.detail(), Detail::Permits(2));
            /// ```
            #[inline(always)]
            #[allow(unused_variables)]
            pub const fn detail(&self) -> Detail {
                use Detail::{Ordering, Permits};
                match *self { $(Op::$variant $({ $($field),* })? => $detail,)* }
            }
        }
    };
}

// The table. Columns: verb, operand, happens-before order, touch, holding,
// detail. Blocking on an object queues the task there: the queue's order
// decides who is served next, so it changes the object; waiting for a task
// changes nothing anyone else sees. Observing a watch or broadcast value
// reads the channel; what it changes (the receiver's own position) belongs
// to one task.
operation_table! {
    Spawn { child } => "spawn", Task(child), O::Spawn, Change, H::None, Detail::None;
    Finish => "finish", Operand::None, O::Finish, Touch::Finish, H::None, Detail::None;
    Join { target } => "join", Task(target), O::Join, Read, H::None, Detail::None;
    FoundRunning { target } => "found running", Task(target), O::None, Read, H::None, Detail::None;
    FoundFinished { target } => "found finished", Task(target), O::Join, Read, H::None, Detail::None;
    Yield => "yield", Operand::None, O::None, Touch::Yield, H::None, Detail::None;
    Sleep { until_ns } => "sleep", Until(until_ns), O::None, Touch::None, H::None, Detail::None;
    TimedOut => "timed out", Operand::None, O::None, Touch::None, H::None, Detail::None;
    Block { on, need } => "block on", Wait(on, need), O::None, block_touch(on), H::None, Detail::Need(need);
    TryFailed { object } => "try failed", On(object), O::None, Read, H::None, Detail::None;
    Lock { object, mode } =>
        lock_verb(mode), On(object), O::Lock(mode), Change, H::Lock(mode), Detail::None;
    Unlock { object, mode } =>
        unlock_verb(mode), On(object), O::Unlock(mode), Change, H::Unlock(mode), Detail::None;
    Acquire { object, permits } =>
        "acquire", On(object), O::Acquire, Change, H::Acquire(permits), Permits(permits);
    Release { object, permits } =>
        "release", On(object), O::Release, Change, H::Release(permits), Permits(permits);
    Forget { object, permits } =>
        "forget", On(object), O::None, Change, H::Forget(permits), Permits(permits);
    AddPermits { object, permits } =>
        "add", On(object), O::Release, Change, H::Add(permits), Permits(permits);
    DropSender { object } => "drop a sender of", On(object), O::Release, Change, H::None, Detail::None;
    Close { object } => "close", On(object), O::Release, Change, H::None, Detail::None;
    Notify { object, all } => notify_verb(all), On(object), O::Publish, Change, H::None, Detail::None;
    Notified { object, by } => "notified", On(object), O::AcquireFrom(by), Change, H::None, Detail::None;
    Set { object } => "set", On(object), O::Publish, Change, H::None, Detail::None;
    Clear { object } => "clear", On(object), O::None, Change, H::None, Detail::None;
    Wait { object, by } => "wait", On(object), O::AcquireFrom(by), Change, H::None, Detail::None;
    Send { object } => "send", On(object), O::Send, Change, H::None, Detail::None;
    Reserve { object } => "reserve a slot of", On(object), O::None, Change, H::None, Detail::None;
    Unreserve { object } => "give back a slot of", On(object), O::None, Change, H::None, Detail::None;
    Recv { object } => "recv", On(object), O::Receive, Change, H::None, Detail::None;
    RecvClosed { object } => "recv (closed)", On(object), O::Acquire, Change, H::None, Detail::None;
    Observe { object, by } => "observe", On(object), O::AcquireFrom(by), Read, H::None, Detail::None;
    Subscribe { object } => "subscribe to", On(object), O::None, Change, H::None, Detail::None;
    DropReceiver { object } => "drop a receiver of", On(object), O::None, Change, H::None, Detail::None;
    Inspect { object } => "inspect", On(object), O::None, Read, H::None, Detail::None;
    TaskDone { object } => "task_done on", On(object), O::Release, Change, H::None, Detail::None;
    AllDone { object } => "join", On(object), O::Acquire, Change, H::None, Detail::None;
    Arrive { object } => "arrive at", On(object), O::Release, Change, H::None, Detail::None;
    Depart { object, leader } => depart_verb(leader), On(object), O::Acquire, Change, H::None, Detail::None;
    Read { object } => "read", On(object), O::Access { write: false }, Read, H::None, Detail::None;
    Write { object } => "write", On(object), O::Access { write: true }, Change, H::None, Detail::None;
    Load { object, ordering } =>
        "load", On(object), O::Load(ordering), Read, H::None, Ordering(ordering);
    Store { object, ordering } =>
        "store", On(object), O::Store(ordering), Change, H::None, Ordering(ordering);
    ReadModifyWrite { object, ordering } =>
        "read-modify-write", On(object), O::ReadModifyWrite(ordering), Change, H::None, Ordering(ordering);
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
        let verb = op.verb();
        let operand = match op.operand() {
            Operand::None => return verb.to_string(),
            Operand::Object(object) => self.object_label(object),
            Operand::Task(task) => self.task_label(task),
            Operand::Until(until_ns) => return format!("{verb} until {}", format_nanos(until_ns)),
            Operand::Wait(WaitTarget::Object(object), _) => self.object_label(object),
            Operand::Wait(WaitTarget::Task(task), _) => {
                format!("join of {}", self.task_label(task))
            }
            Operand::Wait(WaitTarget::Untracked, _) => "an untracked future".to_string(),
        };
        match op.detail() {
            Detail::None => format!("{verb} {operand}"),
            Detail::Permits(permits) => {
                let plural = if permits == 1 { "" } else { "s" };
                format!("{verb} {permits} permit{plural} of {operand}")
            }
            Detail::Ordering(ordering) => format!("{verb} {operand} ({ordering:?})"),
            Detail::Need(need) => {
                let kind = op
                    .object()
                    .and_then(|object| self.objects.get(object.index()));
                let words = need_words(need, kind.map(|info| info.kind));
                format!("{verb} {operand}{words}")
            }
        }
    }
}

/// What a block's description adds for its need: a channel's slot or
/// message, an `RwLock`'s read or write lock; nothing where the object's
/// kind says it (a mutex's lock).
fn need_words(need: Need, kind: Option<ObjectKind>) -> &'static str {
    match need {
        Need::Lock(LockMode::Shared) => " for a read lock",
        Need::Lock(LockMode::Exclusive) if kind == Some(ObjectKind::RwLock) => " for a write lock",
        Need::Unstated | Need::Lock(_) => "",
        Need::Slot => " for a slot",
        Need::Message => " for a message",
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
                    need: Need::Slot,
                },
                Some(object),
                "block on",
            ),
            (
                Op::Block {
                    on: WaitTarget::Task(TaskId(1)),
                    need: Need::Unstated,
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

    /// Reads the whole row, to compare with the columns read one by one.
    struct WholeRow;

    impl ReadRow for WholeRow {
        type Output = Row;

        #[inline(always)]
        fn read(self, row: Row) -> Row {
            row
        }
    }

    #[test]
    fn the_row_holds_the_columns() {
        let object = ObjectId(3);
        let ops = [
            Op::Spawn { child: TaskId(1) },
            Op::Finish,
            Op::Sleep { until_ns: 9 },
            Op::Block {
                on: WaitTarget::Object(object),
                need: Need::Lock(LockMode::Shared),
            },
            Op::Lock {
                object,
                mode: LockMode::Exclusive,
            },
            Op::Forget { object, permits: 2 },
            Op::Wait {
                object,
                by: Some(EventIndex(4)),
            },
            Op::Store {
                object,
                ordering: MemoryOrder::Release,
            },
        ];
        for op in ops {
            let columns = Row {
                verb: op.verb(),
                operand: op.operand(),
                order: op.order(),
                touch: op.touch(),
                holding: op.holding(),
                detail: op.detail(),
            };
            assert_eq!(op.with_row(WholeRow), columns, "{op:?}");
        }
    }

    #[test]
    fn an_operation_takes_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Op>(), 16);
    }

    #[test]
    fn completions_carry_the_event_they_name() {
        let object = ObjectId(0);
        let named = Op::Wait {
            object,
            by: Some(EventIndex(3)),
        };
        assert_eq!(named.order(), Order::AcquireFrom(Some(EventIndex(3))));
        assert_eq!(
            Op::Notified { object, by: None }.order(),
            Order::AcquireFrom(None)
        );
    }

    #[test]
    fn a_block_says_what_it_needs_where_the_kind_does_not() {
        use crate::{Location, ObjectInfo};
        let mut trace = Trace::default();
        for (kind, name) in [
            (ObjectKind::Channel, "jobs"),
            (ObjectKind::RwLock, "config"),
        ] {
            trace.objects.push(ObjectInfo {
                kind,
                name: Some(name.into()),
                created_at: Location::caller(),
            });
        }
        let (jobs, config) = (ObjectId(0), ObjectId(1));
        let cases = [
            (jobs, Need::Slot, "block on mpsc 'jobs' for a slot"),
            (jobs, Need::Message, "block on mpsc 'jobs' for a message"),
            (
                config,
                Need::Lock(LockMode::Shared),
                "block on RwLock 'config' for a read lock",
            ),
            (
                config,
                Need::Lock(LockMode::Exclusive),
                "block on RwLock 'config' for a write lock",
            ),
            (config, Need::Unstated, "block on RwLock 'config'"),
        ];
        for (object, need, expected) in cases {
            let on = WaitTarget::Object(object);
            assert_eq!(trace.describe(&Op::Block { on, need }), expected);
        }
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
