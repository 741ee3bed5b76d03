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
//! | [`Shared`] | a database row, a cache entry | never | — |
//!
//! Every operation another task can observe passes a scheduling point first
//! (when it is async) and is recorded as an event with the caller's source
//! location, so the strategy controls the interleaving and the trace names
//! the line. Synchronous operations (`try_lock`, dropping a guard,
//! `notify_one`, `Shared::get`) are recorded but are not scheduling points:
//! at await granularity, code between two awaits runs atomically.
//!
//! **Architecture invariant:** primitives decide *when they block and whom
//! they wake*; they never decide who runs. All scheduling goes through
//! `racecheck_sched::rt`.
//!
//! ```
//! use racecheck_sync::Mutex;
//! use std::sync::Arc;
//!
//! racecheck_sched::explore(&Default::default(), || async {
//!     let hits = Arc::new(Mutex::new(0));
//!     let worker = {
//!         let hits = hits.clone();
//!         racecheck_sched::spawn(async move { *hits.lock().await += 1 })
//!     };
//!     *hits.lock().await += 1;
//!     worker.await;
//!     assert_eq!(*hits.lock().await, 2);
//! });
//! ```

mod batch;
mod event;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod reentrant;
mod rwlock;
mod semaphore;
mod shared;
mod wait_queue;

pub use event::Event;
pub use mutex::{Mutex, MutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use reentrant::{NotOwnerError, ReentrantMutex, ReentrantMutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
pub use shared::Shared;

use std::sync::{Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError};

/// Locks a primitive's internal state. The state is only touched between
/// scheduling points on one thread, so the lock is never contended; a
/// poisoned lock (a panic elsewhere already failed the execution) is used
/// as is.
fn lock_state<T>(state: &StdMutex<T>) -> StdMutexGuard<'_, T> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}
