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

use racecheck_trace::{EventIndex, LockMode, ObjectKind, Order};

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
    AcquireFrom(EventIndex),
    /// Reads or writes tracked state (checked for races, orders nothing).
    Access {
        /// The access writes.
        write: bool,
    },
    /// A relaxed atomic store: a later acquire that reads it learns nothing,
    /// not even what earlier releases published.
    Overwrite,
    /// An atomic read-modify-write: learns what was published when it
    /// `acquires`, adds its task's knowledge when it `releases`, and keeps
    /// what earlier releases published either way (a release sequence).
    ReadModifyWrite { acquires: bool, releases: bool },
}

/// The role of an operation whose row's happens-before column is `order`
/// on an object of `kind`.
#[inline(always)]
pub(crate) fn role(kind: ObjectKind, order: Order) -> Role {
    use ObjectKind as Kind;
    match (kind, order) {
        (Kind::RwLock, Order::Lock(mode)) => Role::Acquire {
            with_readers: mode == LockMode::Exclusive,
        },
        (Kind::RwLock, Order::Unlock(mode)) => Role::Release(match mode {
            LockMode::Exclusive => Channel::Last,
            LockMode::Shared => Channel::Readers,
        }),
        (_, Order::Lock(_)) => Role::Acquire {
            with_readers: false,
        },
        (_, Order::Unlock(_)) => Role::Release(Channel::Last),
        (Kind::Channel | Kind::Queue, Order::Send) => Role::SendMessage,
        (Kind::Channel | Kind::Queue, Order::Receive) => Role::ReceiveMessage,
        (Kind::Watch | Kind::Broadcast, Order::Send) | (_, Order::Publish) => Role::Publish,
        (_, Order::AcquireFrom(Some(source))) => Role::AcquireFrom(source),
        (_, Order::Release | Order::Send) => Role::Release(Channel::Main),
        (_, Order::Acquire | Order::Receive) => Role::Acquire {
            with_readers: false,
        },
        (_, Order::Access { write }) => Role::Access { write },
        (_, Order::Load(ordering)) if ordering.acquires() => Role::Acquire {
            with_readers: false,
        },
        (_, Order::Store(ordering)) if ordering.releases() => Role::Release(Channel::Last),
        (_, Order::Store(_)) => Role::Overwrite,
        (_, Order::ReadModifyWrite(ordering)) => Role::ReadModifyWrite {
            acquires: ordering.acquires(),
            releases: ordering.releases(),
        },
        // Task order (spawn, finish, join) is not an object's: the clocks
        // and the graph follow it from the operand's task.
        (
            _,
            Order::None
            | Order::Load(_)
            | Order::AcquireFrom(None)
            | Order::Spawn
            | Order::Finish
            | Order::Join,
        ) => Role::None,
    }
}
