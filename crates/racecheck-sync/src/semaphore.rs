//! A counting semaphore with tokio's API.

use crate::batch::{BatchSemaphore, Closed, TryAcquire};
use racecheck_runtime::rt;
use racecheck_trace::{Location, ObjectKind, Op};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// A counting semaphore, like `tokio::sync::Semaphore`.
///
/// - `acquire().await` / `acquire_many(n).await` are scheduling points, then
///   take permits or block.
/// - Fair, FIFO, no barging: a request for many permits at the head of the
///   queue holds back smaller requests behind it.
/// - Cancellation: dropping a pending acquire leaves the queue; permits
///   already assigned to it are returned.
/// - `close()` fails all pending and future acquires with [`AcquireError`].
/// - A permit returns its permits when dropped, unless `forget()`-ten.
///
/// ```
/// use racecheck_sync::Semaphore;
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let fetches = Semaphore::new(3);
///     let permit = fetches.acquire_many(2).await.unwrap();
///     assert_eq!(fetches.available_permits(), 1);
///     assert!(fetches.try_acquire_many(2).is_err());
///     drop(permit);
///     assert_eq!(fetches.available_permits(), 3);
/// });
/// ```
pub struct Semaphore {
    semaphore: BatchSemaphore,
}

/// The semaphore was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("semaphore closed")]
pub struct AcquireError(());

/// Why `try_acquire` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    #[error("semaphore closed")]
    Closed,
    /// Not enough permits were free (or others were queued first).
    #[error("no permits available")]
    NoPermits,
}

impl Semaphore {
    /// The largest number of permits a semaphore can hold.
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    #[track_caller]
    pub fn new(permits: usize) -> Semaphore {
        Semaphore::create(None, permits, Location::caller())
    }

    /// A semaphore built in a `const`, for a `static`, as tokio's
    /// `Semaphore::const_new`. No execution can record it: it works, but
    /// untracked (see `racecheck::Builder::allow_untracked_objects`).
    ///
    /// ```
    /// use racecheck_sync::Semaphore;
    ///
    /// static SLOTS: Semaphore = Semaphore::const_new(2);
    /// let permit = SLOTS.try_acquire().unwrap();
    /// assert_eq!(permit.num_permits(), 1);
    /// ```
    #[track_caller]
    pub const fn const_new(permits: usize) -> Semaphore {
        assert!(
            permits <= Semaphore::MAX_PERMITS,
            "a semaphore may not have more than MAX_PERMITS permits"
        );
        Semaphore {
            semaphore: BatchSemaphore::untracked(permits, Location::caller()),
        }
    }

    /// A semaphore with a name for reports.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, permits: usize) -> Semaphore {
        Semaphore::create(Some(name.into()), permits, Location::caller())
    }

    fn create(name: Option<Cow<'static, str>>, permits: usize, location: Location) -> Semaphore {
        assert!(
            permits <= Semaphore::MAX_PERMITS,
            "a semaphore may not have more than MAX_PERMITS permits ({})",
            Semaphore::MAX_PERMITS
        );
        Semaphore {
            semaphore: BatchSemaphore::new(permits, ObjectKind::Semaphore, name, location),
        }
    }

    /// Permits free now. Recorded as an inspection (a scheduling point at
    /// step granularity).
    #[track_caller]
    pub fn available_permits(&self) -> usize {
        crate::inspect(self.semaphore.object(), Location::caller(), || {
            self.semaphore.available_permits()
        })
    }

    /// Takes up to `permits` free permits out of the semaphore for good and
    /// returns how many it took. Synchronous: a scheduling point at step
    /// granularity only; recorded as acquiring and forgetting them in one
    /// step (so the holdings are unchanged), or a failed try when none was
    /// free.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let semaphore = racecheck_sync::Semaphore::new(3);
    ///     let permit = semaphore.acquire().await.unwrap();
    ///     assert_eq!(semaphore.forget_permits(5), 2);
    ///     drop(permit);
    ///     assert_eq!(semaphore.available_permits(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn forget_permits(&self, permits: usize) -> usize {
        rt::sync_point();
        let forgotten = self.semaphore.forget_available(permits);
        let location = Location::caller();
        let object = self.semaphore.object();
        let id = object.id();
        if forgotten == 0 {
            object.record(Op::TryFailed { object: id }, location);
            return 0;
        }
        let counted = recorded_count(forgotten);
        object.record(self.op(counted, true), location);
        object.record(
            Op::Forget {
                object: id,
                permits: counted,
            },
            location,
        );
        forgotten
    }

    /// Whether `close` was called. Recorded as an inspection.
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        crate::inspect(self.semaphore.object(), Location::caller(), || {
            self.semaphore.is_closed()
        })
    }

    /// Waits for one permit.
    #[track_caller]
    pub fn acquire(&self) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> {
        self.acquire_permits(1, Location::caller())
    }

    /// Waits for `permits` permits at once.
    #[track_caller]
    pub fn acquire_many(
        &self,
        permits: u32,
    ) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> {
        self.acquire_permits(permits, Location::caller())
    }

    fn acquire_permits(
        &self,
        permits: u32,
        location: Location,
    ) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> {
        let success = self.op(permits, true);
        async move {
            self.semaphore
                .acquire(permits as usize, success, location)
                .await
                .map_err(|Closed| AcquireError(()))?;
            Ok(SemaphorePermit {
                semaphore: self,
                permits: permits as usize,
                location,
            })
        }
    }

    /// Waits for one permit, owned: the permit keeps the semaphore alive and
    /// can move into another task.
    ///
    /// ```
    /// use racecheck_sync::Semaphore;
    /// use std::sync::Arc;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let slots = Arc::new(Semaphore::new(1));
    ///     let permit = slots.clone().acquire_owned().await.unwrap();
    ///     let worker = racecheck_runtime::spawn(async move { drop(permit) });
    ///     worker.await;
    ///     assert_eq!(slots.available_permits(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn acquire_owned(
        self: Arc<Self>,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        self.acquire_permits_owned(1, Location::caller())
    }

    /// Waits for `permits` permits at once, owned.
    #[track_caller]
    pub fn acquire_many_owned(
        self: Arc<Self>,
        permits: u32,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        self.acquire_permits_owned(permits, Location::caller())
    }

    fn acquire_permits_owned(
        self: Arc<Self>,
        permits: u32,
        location: Location,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        let success = self.op(permits, true);
        async move {
            self.semaphore
                .acquire(permits as usize, success, location)
                .await
                .map_err(|Closed| AcquireError(()))?;
            Ok(OwnedSemaphorePermit {
                semaphore: self,
                permits: permits as usize,
                location,
            })
        }
    }

    /// `acquire` for synchronous code: blocks a racecheck thread (tokio:
    /// `spawn_blocking`) or an OS thread outside any execution.
    ///
    /// # Panics
    /// In an async task that cannot block (at await granularity), as tokio
    /// does inside its runtime.
    ///
    /// ```
    /// let semaphore = racecheck_sync::Semaphore::new(1); // outside an execution
    /// let permit = semaphore.blocking_acquire().unwrap();
    /// assert_eq!(semaphore.available_permits(), 0);
    /// drop(permit);
    /// ```
    #[track_caller]
    pub fn blocking_acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        racecheck_runtime::block_on(self.acquire_permits(1, Location::caller()))
    }

    /// `acquire_many` for synchronous code, as
    /// [`blocking_acquire`](Self::blocking_acquire).
    #[track_caller]
    pub fn blocking_acquire_many(&self, permits: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        racecheck_runtime::block_on(self.acquire_permits(permits, Location::caller()))
    }

    /// `acquire_owned` for synchronous code, as
    /// [`blocking_acquire`](Self::blocking_acquire).
    #[track_caller]
    pub fn blocking_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        racecheck_runtime::block_on(self.acquire_permits_owned(1, Location::caller()))
    }

    /// `acquire_many_owned` for synchronous code, as
    /// [`blocking_acquire`](Self::blocking_acquire).
    #[track_caller]
    pub fn blocking_acquire_many_owned(
        self: Arc<Self>,
        permits: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        racecheck_runtime::block_on(self.acquire_permits_owned(permits, Location::caller()))
    }

    /// Takes one permit, owned, if one is free and nobody is queued.
    /// Synchronous: a scheduling point at
    /// [`Granularity::Step`](racecheck_runtime::Granularity::Step) only.
    ///
    /// ```
    /// use racecheck_sync::Semaphore;
    /// use std::sync::Arc;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let slots = Arc::new(Semaphore::new(2));
    ///     let both = slots.clone().try_acquire_many_owned(2).unwrap();
    ///     assert!(slots.clone().try_acquire_owned().is_err());
    ///     drop(both);
    ///     assert_eq!(slots.available_permits(), 2);
    /// });
    /// ```
    #[track_caller]
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_permits_owned(1, Location::caller())
    }

    /// Takes `permits` permits, owned, if they are free and nobody is
    /// queued.
    #[track_caller]
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        permits: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_permits_owned(permits, Location::caller())
    }

    fn try_acquire_permits_owned(
        self: Arc<Self>,
        permits: u32,
        location: Location,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        match self
            .semaphore
            .try_acquire(permits as usize, self.op(permits, true), location)
        {
            Ok(()) => Ok(OwnedSemaphorePermit {
                semaphore: self,
                permits: permits as usize,
                location,
            }),
            Err(TryAcquire::Closed) => Err(TryAcquireError::Closed),
            Err(TryAcquire::NoPermits) => Err(TryAcquireError::NoPermits),
        }
    }

    /// Takes one permit if one is free and nobody is queued. Synchronous: a
    /// scheduling point at
    /// [`Granularity::Step`](racecheck_runtime::Granularity::Step) only.
    #[track_caller]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_permits(1, Location::caller())
    }

    /// Takes `permits` permits if they are free and nobody is queued.
    #[track_caller]
    pub fn try_acquire_many(&self, permits: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_permits(permits, Location::caller())
    }

    fn try_acquire_permits(
        &self,
        permits: u32,
        location: Location,
    ) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        match self
            .semaphore
            .try_acquire(permits as usize, self.op(permits, true), location)
        {
            Ok(()) => Ok(SemaphorePermit {
                semaphore: self,
                permits: permits as usize,
                location,
            }),
            Err(TryAcquire::Closed) => Err(TryAcquireError::Closed),
            Err(TryAcquire::NoPermits) => Err(TryAcquireError::NoPermits),
        }
    }

    /// Adds `permits` new permits, serving queued acquires in order.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let semaphore = racecheck_sync::Semaphore::new(0);
    ///     semaphore.add_permits(2);
    ///     assert_eq!(semaphore.available_permits(), 2);
    /// });
    /// ```
    #[track_caller]
    pub fn add_permits(&self, permits: usize) {
        let available = self.semaphore.available_permits();
        assert!(
            available.saturating_add(permits) <= Semaphore::MAX_PERMITS,
            "number of added permits ({permits}) would overflow MAX_PERMITS ({})",
            Semaphore::MAX_PERMITS
        );
        rt::sync_point();
        let object = self.semaphore.object();
        object.record(
            Op::AddPermits {
                object: object.id(),
                permits: recorded_count(permits),
            },
            Location::caller(),
        );
        self.semaphore.release(permits);
    }

    /// Closes the semaphore: pending and future acquires fail.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let semaphore = racecheck_sync::Semaphore::new(1);
    ///     semaphore.close();
    ///     assert!(semaphore.acquire().await.is_err());
    /// });
    /// ```
    #[track_caller]
    pub fn close(&self) {
        rt::sync_point();
        let object = self.semaphore.object();
        object.record(
            Op::Close {
                object: object.id(),
            },
            Location::caller(),
        );
        self.semaphore.close();
    }

    fn op(&self, permits: u32, acquire: bool) -> Op {
        let object = self.semaphore.object().id();
        if acquire {
            Op::Acquire { object, permits }
        } else {
            Op::Release { object, permits }
        }
    }

    fn forget(&self, permits: usize, location: Location) {
        rt::sync_point();
        let object = self.semaphore.object();
        object.record(
            Op::Forget {
                object: object.id(),
                permits: recorded_count(permits),
            },
            location,
        );
    }

    fn release(&self, permits: usize, location: Location) {
        rt::sync_point();
        self.semaphore
            .object()
            .record(self.op(recorded_count(permits), false), location);
        self.semaphore.release(permits);
    }
}

/// A count of permits as events record it (`u32`, saturating).
fn recorded_count(permits: usize) -> u32 {
    u32::try_from(permits).unwrap_or(u32::MAX)
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("object", &self.semaphore.object().id())
            .field("permits", &self.semaphore.available_permits())
            .finish()
    }
}

/// Permits borrowed from a [`Semaphore`]; returned when dropped.
#[must_use = "dropping a permit releases it at once"]
#[derive(Debug)]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
    /// A `usize`: merged permits may hold more than `u32::MAX`.
    permits: usize,
    location: Location,
}

impl<'a> SemaphorePermit<'a> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Takes `other`'s permits into this one (they are released together).
    ///
    /// # Panics
    /// If `other` belongs to another semaphore, as tokio.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let semaphore = std::sync::Arc::new(racecheck_sync::Semaphore::new(3));
    ///     let mut permit = semaphore.acquire_many(3).await.unwrap();
    ///     let part = permit.split(1).unwrap();
    ///     assert_eq!((permit.num_permits(), part.num_permits()), (2, 1));
    ///     permit.merge(part);
    ///     assert_eq!(permit.num_permits(), 3);
    /// });
    /// ```
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            std::ptr::eq(self.semaphore, other.semaphore),
            "merging permits from different semaphore instances"
        );
        self.permits += std::mem::take(&mut other.permits);
    }

    /// Splits `n` of the permits off into a new permit; `None` if this holds
    /// fewer.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        if n > self.permits {
            return None;
        }
        self.permits -= n;
        Some(SemaphorePermit {
            semaphore: self.semaphore,
            permits: n,
            location: self.location,
        })
    }

    /// The semaphore the permits belong to.
    pub fn semaphore(&self) -> &'a Semaphore {
        self.semaphore
    }

    /// Keeps the permits taken for good: they are not returned.
    pub fn forget(mut self) {
        self.semaphore.forget(self.permits, self.location);
        self.permits = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.release(self.permits, self.location);
        }
    }
}

/// Permits owned independently of the [`Semaphore`]'s borrow.
#[must_use = "dropping a permit releases it at once"]
#[derive(Debug)]
pub struct OwnedSemaphorePermit {
    semaphore: Arc<Semaphore>,
    /// A `usize`: merged permits may hold more than `u32::MAX`.
    permits: usize,
    location: Location,
}

impl OwnedSemaphorePermit {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Takes `other`'s permits into this one (they are released together).
    ///
    /// # Panics
    /// If `other` belongs to another semaphore, as tokio.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let semaphore = std::sync::Arc::new(racecheck_sync::Semaphore::new(3));
    ///     let mut permit = semaphore.clone().acquire_many_owned(3).await.unwrap();
    ///     let part = permit.split(1).unwrap();
    ///     assert_eq!((permit.num_permits(), part.num_permits()), (2, 1));
    ///     permit.merge(part);
    ///     assert_eq!(permit.num_permits(), 3);
    /// });
    /// ```
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            Arc::ptr_eq(&self.semaphore, &other.semaphore),
            "merging permits from different semaphore instances"
        );
        self.permits += std::mem::take(&mut other.permits);
    }

    /// Splits `n` of the permits off into a new permit; `None` if this holds
    /// fewer.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        if n > self.permits {
            return None;
        }
        self.permits -= n;
        Some(OwnedSemaphorePermit {
            semaphore: self.semaphore.clone(),
            permits: n,
            location: self.location,
        })
    }

    /// The semaphore the permits belong to.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.semaphore
    }

    /// Keeps the permits taken for good: they are not returned.
    pub fn forget(mut self) {
        self.semaphore.forget(self.permits, self.location);
        self.permits = 0;
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.release(self.permits, self.location);
        }
    }
}
