//! racecheck's primitives, with tokio's names and signatures where tokio has
//! the type, and asyncio's vocabulary where it does not.
//!
//! | type | like | blocks when | wakes |
//! |---|---|---|---|
//! | [`Mutex`] | `tokio::sync::Mutex` | locked | the next waiter, FIFO |
//! | [`RwLock`] | `tokio::sync::RwLock` | a writer holds it, or (writers) anyone does | FIFO, readers in batches |
//! | [`Semaphore`] | `tokio::sync::Semaphore` | too few permits | FIFO, no barging |
//! | [`Notify`] | `tokio::sync::Notify` | no permit stored | one waiter, or all |
//! | [`mpsc`] | `tokio::sync::mpsc` | full (send), empty (recv) | FIFO senders, the receiver |
//! | [`oneshot`] | `tokio::sync::oneshot` | nothing sent yet | the receiver |
//! | [`ReentrantMutex`] | asyncio-style `RLock` | locked by another task | the next waiter, FIFO |
//! | [`Event`] | `asyncio.Event` | not set | all waiters |
//! | [`Condition`] | `asyncio.Condition`, an async `Condvar` | always, until notified (then relocks) | FIFO, one, `n` or all waiters |
//! | [`Queue`] | `asyncio.Queue` | full (`put`), empty (`get`), items not done (`join`) | FIFO putters and getters, all joiners |
//! | [`BoundedSemaphore`] | `asyncio.BoundedSemaphore` | no permit free | FIFO, no barging |
//! | [`Barrier`] | `tokio::sync::Barrier` | until `n` tasks arrived | the whole generation |
//! | [`watch`] | `tokio::sync::watch` | no unseen value (`changed`) | every receiver |
//! | [`broadcast`] | `tokio::sync::broadcast` | no new value (`recv`) | every receiver |
//! | [`Shared`] | a database row, a cache entry | never | — |
//!
//! Every operation another task can observe passes a scheduling point first
//! and is recorded as an event with the caller's source location (a failed
//! attempt too), so the strategy controls the interleaving and the trace
//! names the line. Synchronous operations (`try_lock`, dropping a guard,
//! `notify_one`, an unbounded `send`, `Shared::get`, spawning) are
//! scheduling points only at `Granularity::Step` (`rt::sync_point`): at
//! await granularity, code between two awaits runs atomically.
//!
//! A primitive created outside any execution (a plain `#[test]` that polls
//! it by hand, tokio's `const_new` in a `static`) is *untracked*: it works
//! as tokio's does, its scheduling points pass at once and its blocking
//! calls park the OS thread, but it records nothing. Used inside an
//! execution it panics with both places named, unless the exploration
//! allows it (`racecheck::Builder::allow_untracked_objects`, on in the
//! tokio layer): the detector and the exhaustive search do not see it, and
//! its state carries over from one execution to the next.
//!
//! **Architecture invariant:** primitives decide *when they block and whom
//! they wake*; they never decide who runs. All scheduling goes through
//! `racecheck_runtime::rt`.
//!
//! ```
//! use racecheck_sync::Mutex;
//! use std::sync::Arc;
//!
//! racecheck_explore::explore(&Default::default(), || async {
//!     let hits = Arc::new(Mutex::new(0));
//!     let worker = {
//!         let hits = hits.clone();
//!         racecheck_runtime::spawn(async move { *hits.lock().await += 1 })
//!     };
//!     *hits.lock().await += 1;
//!     worker.await;
//!     assert_eq!(*hits.lock().await, 2);
//! });
//! ```

pub mod atomic;
mod barrier;
mod batch;
pub mod blocking;
mod bounded_semaphore;
pub mod broadcast;
mod condition;
mod event;
mod lazy_arc;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod queue;
mod reentrant;
mod rwlock;
mod semaphore;
mod shared;
mod wait_queue;
pub mod watch;

pub use barrier::{Barrier, BarrierWaitResult};
pub use bounded_semaphore::{BoundedSemaphore, BoundedSemaphorePermit, ReleasedTooOften};
pub use condition::Condition;
pub use event::Event;
pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify, OwnedNotified};
pub use queue::{Queue, QueueEmpty, QueueFull, TaskDoneTooOften};
pub use reentrant::{NotOwnerError, ReentrantMutex, ReentrantMutexGuard};
pub use rwlock::{
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockMappedWriteGuard, RwLockReadGuard,
    RwLockWriteGuard,
};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
pub use shared::Shared;

/// The lock around a primitive's internal state (and around a lock's
/// value). An execution runs on one thread and racecheck never holds one of
/// these across a scheduling point, so it is never contended: a spin lock
/// costs one atomic read-modify-write and a plain store, half of what
/// `std::sync::Mutex` costs on the per-step path. It is only there to make
/// the primitives `Sync`, as tokio's are.
type StateLock<T> = spin::mutex::SpinMutex<T>;

/// A locked [`StateLock`].
type StateGuard<'a, T> = spin::mutex::SpinMutexGuard<'a, T>;

/// A look at a primitive's state that changes nothing (`is_set`,
/// `available_permits`, ...): a scheduling point at step granularity, then
/// recorded as an inspection of `object`, so that the search orders it
/// against the changes it could see.
fn inspect<R>(
    object: racecheck_runtime::rt::ObjectRef,
    location: racecheck_trace::Location,
    look: impl FnOnce() -> R,
) -> R {
    look_and_record(object, location, look, |_| false)
}

/// Whether every sender of a channel is gone, as a receiver asks it
/// (`is_closed`): recorded as an inspection while one is left, and as a
/// receive that found the channel closed once none is, so that it is
/// ordered after the senders' drops as a failed receive is.
fn senders_gone(
    object: racecheck_runtime::rt::ObjectRef,
    location: racecheck_trace::Location,
    gone: impl FnOnce() -> bool,
) -> bool {
    look_and_record(object, location, gone, |closed| *closed)
}

/// A scheduling point at step granularity, then `look`, recorded as an
/// inspection of `object`, or as a receive that found it closed when
/// `found_closed` says so of what `look` saw.
fn look_and_record<R>(
    object: racecheck_runtime::rt::ObjectRef,
    location: racecheck_trace::Location,
    look: impl FnOnce() -> R,
    found_closed: impl FnOnce(&R) -> bool,
) -> R {
    racecheck_runtime::rt::sync_point();
    let seen = look();
    let id = object.id();
    let op = if found_closed(&seen) {
        racecheck_trace::Op::RecvClosed { object: id }
    } else {
        racecheck_trace::Op::Inspect { object: id }
    };
    object.record(op, location);
    seen
}

/// Locks a primitive's internal state. Inside an execution it is never
/// contended (one thread, never held across a call out); an untracked
/// primitive shared by OS threads outside any execution may be, briefly.
#[inline]
fn lock_state<T>(state: &StateLock<T>) -> StateGuard<'_, T> {
    match state.try_lock() {
        Some(guard) => guard,
        None => lock_contended(state),
    }
}

/// Times [`lock_state`] retries a contended lock, yielding the OS thread
/// between tries, before it calls it a bug: enough for another thread to
/// finish its few instructions under the lock, and a clear failure rather
/// than a hang when the lock is taken twice on one thread.
const CONTENDED_TRIES: u32 = 100_000;

#[cold]
#[inline(never)]
fn lock_contended<T>(state: &StateLock<T>) -> StateGuard<'_, T> {
    for _ in 0..CONTENDED_TRIES {
        std::thread::yield_now();
        if let Some(guard) = state.try_lock() {
            return guard;
        }
    }
    panic!(
        "racecheck internal error: a primitive's state is locked twice on one thread \
         (a waker or a value dropped while the primitive updates itself?)"
    )
}
