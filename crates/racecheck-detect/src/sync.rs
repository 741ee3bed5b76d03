//! Which events create happens-before order, in one table.
//!
//! Each visible operation either releases into an object's clock (unlock,
//! semaphore release, close, a sender dropped, oneshot send), acquires from
//! it (lock, acquire, receive), passes a message (mpsc send and receive,
//! matched first in first out), publishes for the one completion it causes
//! (notify → the `notified()` it woke or whose permit it stored, set → the
//! waits it released: the primitive names that event in the completion), or
//! creates no order at all (sleep, timers, yield, a failed `try_*`, a block,
//! an event clear). Atomics follow their orderings: a releasing store
//! replaces the atomic's clock (the load that reads it learns exactly what
//! that store published), a relaxed store empties it, a read-modify-write
//! adds to it when it releases and keeps it otherwise (release sequences),
//! and acquiring loads and read-modify-writes learn it. Relaxed operations
//! order nothing. Both the vector-clock tracker
//! and the happens-before graph read this table, so they cannot disagree on
//! the rules, only on the algebra.
//!
//! The rules of the later primitives, one line each:
//! - `Condition`: `notify_one`/`notify`/`notify_all` → the `wait` it woke
//!   (`Notified { by }`), as for `Notify`; the mutex orders the rest.
//! - `Queue`: `put` → the `get` that takes that item (messages matched first
//!   in first out, as mpsc); every `task_done` → a later `join` return.
//! - `Barrier`: every arrival → every later departure. A generation's
//!   departures are also ordered after arrivals of the next generation that
//!   happen to come first: an over-approximation that can hide a race but
//!   never invents one.
//! - `watch` and `broadcast`: a `send` → each borrow or receive that reads
//!   its value (`Observe { by }`); the sender's drop (`DropSender`, `Close`)
//!   → a receive that finds the channel closed. Subscribing and dropping a
//!   receiver order nothing.
//! - mpsc `reserve` and a permit dropped unused (`Reserve`, `Unreserve`)
//!   order nothing: the permit's `send` is the `Send` a receive matches.

use racecheck_trace::{LockMode, ObjectKind, Op};

/// An object's clock an operation releases into or acquires from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Channel {
    /// Everything that orders later acquires: releases, closes.
    Main,
    /// The main clock, replaced: an exclusive unlock, whose task acquired
    /// everything released before it, so the last one says it all.
    Last,
    /// Read unlocks of an `RwLock`: they order later *write* locks only.
    Readers,
}

/// What an operation does to happens-before order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// No order.
    None,
    /// Publishes the task's knowledge into the object's clock.
    Release(Channel),
    /// Learns what was published into the object's main clock, and also
    /// the readers' clock when `with_readers`.
    Acquire { with_readers: bool },
    /// Sends a message: the matching receive will learn what the sender
    /// knew.
    SendMessage,
    /// Receives the oldest message not yet received.
    ReceiveMessage,
    /// Publishes the task's knowledge for the completions it will cause
    /// (a notification, an event set).
    Publish,
    /// Learns what one earlier event published: the event at this index of
    /// the trace.
    AcquireFrom(u32),
    /// Reads or writes tracked state (checked for races, orders nothing).
    Access,
    /// A relaxed atomic store: a later acquire that reads it learns nothing,
    /// not even what earlier releases published.
    Overwrite,
    /// An atomic read-modify-write: learns what was published when it
    /// `acquires`, adds its task's knowledge when it `releases`, and keeps
    /// what earlier releases published either way (a release sequence).
    ReadModifyWrite { acquires: bool, releases: bool },
}

/// The role of `op` on an object of `kind`.
pub(crate) fn role(kind: ObjectKind, op: &Op) -> Role {
    use ObjectKind as Kind;
    match (kind, op) {
        (Kind::RwLock, Op::Lock { mode, .. }) => Role::Acquire {
            with_readers: *mode == LockMode::Exclusive,
        },
        (Kind::RwLock, Op::Unlock { mode, .. }) => Role::Release(match mode {
            LockMode::Exclusive => Channel::Last,
            LockMode::Shared => Channel::Readers,
        }),
        (_, Op::Lock { .. }) => Role::Acquire {
            with_readers: false,
        },
        (_, Op::Unlock { .. }) => Role::Release(Channel::Last),
        (Kind::Channel | Kind::Queue, Op::Send { .. }) => Role::SendMessage,
        (Kind::Channel | Kind::Queue, Op::Recv { .. }) => Role::ReceiveMessage,
        (Kind::Watch | Kind::Broadcast, Op::Send { .. }) => Role::Publish,
        (_, Op::Notify { .. } | Op::Set { .. }) => Role::Publish,
        (_, Op::Notified { by, .. } | Op::Wait { by, .. } | Op::Observe { by, .. }) => {
            Role::AcquireFrom(*by)
        }
        (
            _,
            Op::Release { .. }
            | Op::AddPermits { .. }
            | Op::Close { .. }
            | Op::DropSender { .. }
            | Op::Send { .. }
            | Op::TaskDone { .. }
            | Op::Arrive { .. },
        ) => Role::Release(Channel::Main),
        (
            _,
            Op::Acquire { .. }
            | Op::Recv { .. }
            | Op::RecvClosed { .. }
            | Op::AllDone { .. }
            | Op::Depart { .. },
        ) => Role::Acquire {
            with_readers: false,
        },
        (_, Op::Read { .. } | Op::Write { .. }) => Role::Access,
        (_, Op::Load { ordering, .. }) if ordering.acquires() => Role::Acquire {
            with_readers: false,
        },
        (_, Op::Load { .. }) => Role::None,
        (_, Op::Store { ordering, .. }) if ordering.releases() => Role::Release(Channel::Last),
        (_, Op::Store { .. }) => Role::Overwrite,
        (_, Op::ReadModifyWrite { ordering, .. }) => Role::ReadModifyWrite {
            acquires: ordering.acquires(),
            releases: ordering.releases(),
        },
        (
            _,
            Op::Spawn { .. }
            | Op::Finish
            | Op::Join { .. }
            | Op::Yield
            | Op::Sleep { .. }
            | Op::TimedOut
            | Op::Block { .. }
            | Op::TryFailed { .. }
            | Op::Forget { .. }
            | Op::Clear { .. }
            | Op::Subscribe { .. }
            | Op::Reserve { .. }
            | Op::Unreserve { .. }
            | Op::DropReceiver { .. }
            | Op::Inspect { .. },
        ) => Role::None,
    }
}
