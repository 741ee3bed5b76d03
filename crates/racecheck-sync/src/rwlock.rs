//! An async reader-writer lock with tokio's API.

use crate::batch::BatchSemaphore;
use racecheck_runtime::rt;
use racecheck_trace::{Location, LockMode, ObjectKind, Op};
use spin::rwlock::{
    RwLock as DataLock, RwLockReadGuard as DataReadGuard, RwLockWriteGuard as DataWriteGuard,
};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};

/// The semaphore admits readers or one writer before the value's lock is
/// touched, so that lock is never contended.
const UNCONTENDED: &str =
    "racecheck internal error: an RwLock's value is locked against its semaphore";

/// Permits a writer takes: all of them. A reader takes one.
const READERS_MAX: usize = u32::MAX as usize >> 3;

/// An async reader-writer lock, like `tokio::sync::RwLock`.
///
/// - Any number of readers, or one writer.
/// - Fair, as in tokio: requests are served in order, so a waiting writer
///   holds back readers that come after it (no writer starvation).
/// - `read().await` and `write().await` are scheduling points; dropping a
///   pending one leaves the queue.
///
/// ```
/// use racecheck_sync::RwLock;
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let config = RwLock::new(String::from("v1"));
///     {
///         let first = config.read().await;
///         let second = config.try_read().unwrap();
///         assert_eq!(*first, *second);
///     }
///     config.write().await.push_str("-patched");
///     assert_eq!(*config.read().await, "v1-patched");
/// });
/// ```
pub struct RwLock<T> {
    semaphore: BatchSemaphore,
    data: DataLock<T>,
}

impl<T> RwLock<T> {
    /// A new unlocked lock holding `value`.
    ///
    /// # Panics
    /// Outside a racecheck execution.
    #[track_caller]
    pub fn new(value: T) -> RwLock<T> {
        RwLock::create(None, value, Location::caller())
    }

    /// A new lock with a name for reports.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> RwLock<T> {
        RwLock::create(Some(name.into()), value, Location::caller())
    }

    fn create(name: Option<Cow<'static, str>>, value: T, location: Location) -> RwLock<T> {
        RwLock {
            semaphore: BatchSemaphore::new(READERS_MAX, ObjectKind::RwLock, name, location),
            data: DataLock::new(value),
        }
    }

    /// Waits for shared read access.
    #[track_caller]
    pub fn read(&self) -> impl Future<Output = RwLockReadGuard<'_, T>> {
        let location = Location::caller();
        let success = self.op(LockMode::Shared, true);
        async move {
            let acquired = self.semaphore.acquire(1, success, location).await;
            debug_assert!(acquired.is_ok(), "an RwLock is never closed");
            self.read_guard(location)
        }
    }

    /// Waits for exclusive write access.
    #[track_caller]
    pub fn write(&self) -> impl Future<Output = RwLockWriteGuard<'_, T>> {
        let location = Location::caller();
        let success = self.op(LockMode::Exclusive, true);
        async move {
            let acquired = self.semaphore.acquire(READERS_MAX, success, location).await;
            debug_assert!(acquired.is_ok(), "an RwLock is never closed");
            self.write_guard(location)
        }
    }

    /// Read access if available now. Synchronous: a scheduling point at
    /// [`Granularity::Step`](racecheck_runtime::Granularity::Step) only.
    #[track_caller]
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, crate::TryLockError> {
        let location = Location::caller();
        let success = self.op(LockMode::Shared, true);
        self.semaphore
            .try_acquire(1, success, location)
            .map(|()| self.read_guard(location))
            .map_err(|_| crate::mutex::try_lock_error())
    }

    /// Write access if available now. Synchronous: a scheduling point at
    /// [`Granularity::Step`](racecheck_runtime::Granularity::Step) only.
    #[track_caller]
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, crate::TryLockError> {
        let location = Location::caller();
        let success = self.op(LockMode::Exclusive, true);
        self.semaphore
            .try_acquire(READERS_MAX, success, location)
            .map(|()| self.write_guard(location))
            .map_err(|_| crate::mutex::try_lock_error())
    }

    /// Mutable access without locking.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    fn op(&self, mode: LockMode, lock: bool) -> Op {
        let object = self.semaphore.object().id();
        if lock {
            Op::Lock { object, mode }
        } else {
            Op::Unlock { object, mode }
        }
    }

    fn read_guard(&self, location: Location) -> RwLockReadGuard<'_, T> {
        RwLockReadGuard {
            lock: self,
            data: Some(self.data.try_read().expect(UNCONTENDED)),
            location,
        }
    }

    fn write_guard(&self, location: Location) -> RwLockWriteGuard<'_, T> {
        RwLockWriteGuard {
            lock: self,
            data: Some(self.data.try_write().expect(UNCONTENDED)),
            location,
        }
    }
}

impl<T> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock")
            .field("object", &self.semaphore.object().id())
            .finish_non_exhaustive()
    }
}

/// Shared access to an [`RwLock`]'s value.
pub struct RwLockReadGuard<'a, T> {
    lock: &'a RwLock<T>,
    data: Option<DataReadGuard<'a, T>>,
    location: Location,
}

/// Exclusive access to an [`RwLock`]'s value.
pub struct RwLockWriteGuard<'a, T> {
    lock: &'a RwLock<T>,
    data: Option<DataWriteGuard<'a, T>>,
    location: Location,
}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data
            .as_ref()
            .expect("guard holds its data until dropped")
    }
}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data
            .as_ref()
            .expect("guard holds its data until dropped")
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data
            .as_mut()
            .expect("guard holds its data until dropped")
    }
}

impl<T> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        rt::sync_point();
        self.data = None;
        let op = self.lock.op(LockMode::Shared, false);
        self.lock.semaphore.object().record(op, self.location);
        self.lock.semaphore.release(1);
    }
}

impl<T> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        rt::sync_point();
        self.data = None;
        let op = self.lock.op(LockMode::Exclusive, false);
        self.lock.semaphore.object().record(op, self.location);
        self.lock.semaphore.release(READERS_MAX);
    }
}
