//! asyncio's `BoundedSemaphore`: a semaphore that refuses to grow past its
//! initial count.

use crate::batch::{BatchSemaphore, TryAcquire};
use crate::semaphore::TryAcquireError;
use crate::{lock_state, StateLock};
use racecheck_runtime::rt;
use racecheck_trace::{Location, ObjectKind, Op};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;

/// A counting semaphore that never holds more permits than it started
/// with, like Python's `asyncio.BoundedSemaphore(n)`.
///
/// - `acquire().await` is a scheduling point, then takes a permit or blocks;
///   fair, FIFO, no barging (it is the same fair semaphore as
///   [`Semaphore`](crate::Semaphore)); dropping a pending acquire leaves the
///   line.
/// - The permit returns when dropped. asyncio's unpaired style is
///   `acquire().await.forget()` then, later and from any task,
///   [`release()`](BoundedSemaphore::release): `forget` keeps the permit
///   out, `release` brings one back.
/// - `release()` fails with [`ReleasedTooOften`] (asyncio's `ValueError:
///   BoundedSemaphore released too many times`) when no forgotten permit is
///   owed: the semaphore would exceed its initial count once the permits
///   still held come back. Unlike asyncio, a permit held as a guard cannot
///   be released early with `release()`: its drop will return it.
///
/// Happens-before, as for `Semaphore`: every permit returned (a dropped
/// permit, a successful `release()`) → every later acquire. Releases
/// accumulate: an acquire is ordered after every release so far, which can
/// hide a race but never invents one. A failed `release()` orders nothing.
///
/// ```
/// use racecheck_sync::BoundedSemaphore;
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let slots = BoundedSemaphore::named("slots", 2);
///     slots.acquire().await.forget(); // asyncio's `await slots.acquire()`
///     assert_eq!(slots.available_permits(), 1);
///     assert!(slots.release().is_ok()); // asyncio's `slots.release()`
///     assert!(slots.release().is_err()); // a third permit: refused
///     assert_eq!(slots.available_permits(), 2);
/// });
/// ```
pub struct BoundedSemaphore {
    semaphore: BatchSemaphore,
    bound: usize,
    /// Permits given up with `forget` and not yet brought back by `release`.
    owed: StateLock<usize>,
}

/// `release()` would have raised the semaphore above its initial count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("BoundedSemaphore released too many times")]
pub struct ReleasedTooOften(());

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` permits, at most.
    ///
    /// # Panics
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`](crate::Semaphore::MAX_PERMITS).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let semaphore = racecheck_sync::BoundedSemaphore::new(3);
    ///     assert_eq!(semaphore.available_permits(), 3);
    /// });
    /// ```
    #[track_caller]
    pub fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore::create(None, permits, Location::caller())
    }

    /// A bounded semaphore with a name for reports (`Semaphore 'slots'`).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let slots = racecheck_sync::BoundedSemaphore::named("slots", 1);
    ///     drop(slots.acquire().await);
    /// });
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, permits: usize) -> BoundedSemaphore {
        BoundedSemaphore::create(Some(name.into()), permits, Location::caller())
    }

    fn create(
        name: Option<Cow<'static, str>>,
        permits: usize,
        location: Location,
    ) -> BoundedSemaphore {
        assert!(
            permits <= crate::Semaphore::MAX_PERMITS,
            "a semaphore may not have more than MAX_PERMITS permits ({})",
            crate::Semaphore::MAX_PERMITS
        );
        BoundedSemaphore {
            semaphore: BatchSemaphore::new(permits, ObjectKind::Semaphore, name, location),
            bound: permits,
            owed: StateLock::new(0),
        }
    }

    /// Permits free now.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let semaphore = racecheck_sync::BoundedSemaphore::new(1);
    ///     let permit = semaphore.acquire().await;
    ///     assert_eq!(semaphore.available_permits(), 0);
    ///     drop(permit);
    ///     assert_eq!(semaphore.available_permits(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn available_permits(&self) -> usize {
        crate::inspect(self.semaphore.object(), Location::caller(), || {
            self.semaphore.available_permits()
        })
    }

    /// Waits for a permit; it returns when dropped.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let semaphore = racecheck_sync::BoundedSemaphore::new(1);
    ///     let _permit = semaphore.acquire().await;
    ///     assert!(semaphore.try_acquire().is_err());
    /// });
    /// ```
    #[track_caller]
    pub fn acquire(&self) -> impl Future<Output = BoundedSemaphorePermit<'_>> {
        let location = Location::caller();
        let success = self.op(true);
        async move {
            let acquired = self.semaphore.acquire(1, success, location).await;
            debug_assert!(acquired.is_ok(), "a bounded semaphore is never closed");
            BoundedSemaphorePermit {
                semaphore: self,
                location,
                held: true,
            }
        }
    }

    /// Takes a permit if one is free and nobody is queued. Synchronous: a
    /// scheduling point at step granularity only.
    ///
    /// ```
    /// use racecheck_sync::{BoundedSemaphore, TryAcquireError};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let semaphore = BoundedSemaphore::new(1);
    ///     let permit = semaphore.try_acquire().unwrap();
    ///     assert_eq!(semaphore.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    ///     drop(permit);
    /// });
    /// ```
    #[track_caller]
    pub fn try_acquire(&self) -> Result<BoundedSemaphorePermit<'_>, TryAcquireError> {
        let location = Location::caller();
        match self.semaphore.try_acquire(1, self.op(true), location) {
            Ok(()) => Ok(BoundedSemaphorePermit {
                semaphore: self,
                location,
                held: true,
            }),
            Err(TryAcquire::Closed) => Err(TryAcquireError::Closed),
            Err(TryAcquire::NoPermits) => Err(TryAcquireError::NoPermits),
        }
    }

    /// Brings back one permit given up with
    /// [`forget`](BoundedSemaphorePermit::forget), serving a queued acquire;
    /// fails if none is owed (the count would exceed its initial value).
    /// Synchronous; recorded either way.
    ///
    /// ```
    /// use racecheck_sync::{BoundedSemaphore, ReleasedTooOften};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let semaphore = BoundedSemaphore::new(1);
    ///     assert!(semaphore.release().is_err()); // already at its bound
    ///     semaphore.acquire().await.forget();
    ///     assert_eq!(semaphore.release(), Ok(()));
    /// });
    /// ```
    #[track_caller]
    pub fn release(&self) -> Result<(), ReleasedTooOften> {
        rt::sync_point();
        let location = Location::caller();
        let object = self.semaphore.object();
        let released = {
            let mut owed = lock_state(&self.owed);
            if *owed == 0 {
                false
            } else {
                *owed -= 1;
                true
            }
        };
        if !released {
            object.record(
                Op::TryFailed {
                    object: object.id(),
                },
                location,
            );
            return Err(ReleasedTooOften(()));
        }
        object.record(
            Op::AddPermits {
                object: object.id(),
                permits: 1,
            },
            location,
        );
        self.semaphore.release(1);
        debug_assert!(
            self.semaphore.available_permits() <= self.bound,
            "a bounded semaphore exceeded its bound"
        );
        Ok(())
    }

    fn op(&self, acquire: bool) -> Op {
        let object = self.semaphore.object().id();
        if acquire {
            Op::Acquire { object, permits: 1 }
        } else {
            Op::Release { object, permits: 1 }
        }
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("object", &self.semaphore.object().id())
            .field("permits", &self.semaphore.available_permits())
            .field("bound", &self.bound)
            .finish()
    }
}

/// A permit of a [`BoundedSemaphore`]; returned when dropped.
///
/// ```
/// racecheck_explore::explore(&Default::default(), || async {
///     let semaphore = racecheck_sync::BoundedSemaphore::new(1);
///     {
///         let _permit = semaphore.acquire().await;
///     }
///     assert_eq!(semaphore.available_permits(), 1);
/// });
/// ```
#[must_use = "dropping a permit releases it at once"]
#[derive(Debug)]
pub struct BoundedSemaphorePermit<'a> {
    semaphore: &'a BoundedSemaphore,
    location: Location,
    held: bool,
}

impl BoundedSemaphorePermit<'_> {
    /// Keeps the permit out without returning it; a later
    /// [`BoundedSemaphore::release`] brings it back.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let semaphore = racecheck_sync::BoundedSemaphore::new(1);
    ///     semaphore.acquire().await.forget();
    ///     assert_eq!(semaphore.available_permits(), 0);
    /// });
    /// ```
    pub fn forget(mut self) {
        rt::sync_point();
        let object = self.semaphore.semaphore.object();
        object.record(
            Op::Forget {
                object: object.id(),
                permits: 1,
            },
            self.location,
        );
        *lock_state(&self.semaphore.owed) += 1;
        self.held = false;
    }
}

impl Drop for BoundedSemaphorePermit<'_> {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        rt::sync_point();
        let semaphore = self.semaphore;
        semaphore
            .semaphore
            .object()
            .record(semaphore.op(false), self.location);
        semaphore.semaphore.release(1);
    }
}
