//! An async reader-writer lock with tokio's API.

use crate::batch::BatchSemaphore;
use crate::lazy_arc::LazyArc;
use racecheck_runtime::rt;
use racecheck_trace::{Location, LockMode, ObjectKind, Op};
use spin::lock_api::{
    RwLock as DataLock, RwLockReadGuard as DataReadGuard, RwLockWriteGuard as DataWriteGuard,
};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// The value (or a part of it) read through a borrowed guard.
type MappedDataReadGuard<'a, T> = lock_api::MappedRwLockReadGuard<'a, spin::RwLock<()>, T>;
/// A part of the value written through a mapped guard.
type MappedDataWriteGuard<'a, T> = lock_api::MappedRwLockWriteGuard<'a, spin::RwLock<()>, T>;

/// The value's lock held through its `Arc`, by the owned guards.
type DataArcReadGuard<T> = lock_api::ArcRwLockReadGuard<spin::RwLock<()>, T>;
type DataArcWriteGuard<T> = lock_api::ArcRwLockWriteGuard<spin::RwLock<()>, T>;

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
    /// Readers at once; a writer takes them all.
    max_readers: usize,
    /// In an `Arc` (made at first use for a `const_new` lock) so that
    /// owned guards can hold it without a borrow.
    data: LazyArc<DataLock<T>>,
}

impl<T> RwLock<T> {
    /// A new unlocked lock holding `value`.
    #[track_caller]
    pub fn new(value: T) -> RwLock<T> {
        RwLock::create(None, value, Location::caller())
    }

    /// A new lock with a name for reports.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> RwLock<T> {
        RwLock::create(Some(name.into()), value, Location::caller())
    }

    /// A new unlocked lock that lets at most `max_reads` readers in at
    /// once, as tokio's.
    ///
    /// # Panics
    /// If `max_reads` is 0 or above `u32::MAX >> 3`, as tokio.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let lock = racecheck_sync::RwLock::with_max_readers(0, 1);
    ///     let _reader = lock.read().await;
    ///     assert!(lock.try_read().is_err());
    /// });
    /// ```
    #[track_caller]
    pub fn with_max_readers(value: T, max_reads: u32) -> RwLock<T> {
        assert!(
            max_reads as usize <= READERS_MAX,
            "a RwLock may not be created with more than {READERS_MAX} readers"
        );
        assert!(max_reads > 0, "a RwLock may not be created with 0 readers");
        RwLock::with_readers(None, value, max_reads as usize, Location::caller())
    }

    /// A lock built in a `const`, for a `static`, as tokio's
    /// `RwLock::const_new`: untracked (see
    /// `racecheck::Builder::allow_untracked_objects`).
    ///
    /// ```
    /// use racecheck_sync::RwLock;
    ///
    /// static CONFIG: RwLock<u32> = RwLock::const_new(1);
    /// assert_eq!(*CONFIG.try_read().unwrap(), 1);
    /// ```
    #[track_caller]
    pub const fn const_new(value: T) -> RwLock<T> {
        RwLock::const_with_max_readers(value, READERS_MAX as u32)
    }

    /// [`with_max_readers`](Self::with_max_readers) in a `const`, as
    /// [`const_new`](Self::const_new).
    ///
    /// # Panics
    /// If `max_reads` is 0 or above `u32::MAX >> 3`, as tokio.
    #[track_caller]
    pub const fn const_with_max_readers(value: T, max_reads: u32) -> RwLock<T> {
        assert!(
            max_reads as usize <= READERS_MAX,
            "a RwLock may not be created with more than u32::MAX >> 3 readers"
        );
        assert!(max_reads > 0, "a RwLock may not be created with 0 readers");
        RwLock {
            semaphore: BatchSemaphore::untracked(max_reads as usize, Location::caller()),
            max_readers: max_reads as usize,
            data: LazyArc::new_const(DataLock::new(value)),
        }
    }

    fn create(name: Option<Cow<'static, str>>, value: T, location: Location) -> RwLock<T> {
        RwLock::with_readers(name, value, READERS_MAX, location)
    }

    fn with_readers(
        name: Option<Cow<'static, str>>,
        value: T,
        max_readers: usize,
        location: Location,
    ) -> RwLock<T> {
        RwLock {
            semaphore: BatchSemaphore::new(max_readers, ObjectKind::RwLock, name, location),
            max_readers,
            data: LazyArc::new(DataLock::new(value)),
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
            let acquired = self
                .semaphore
                .acquire(self.max_readers, success, location)
                .await;
            debug_assert!(acquired.is_ok(), "an RwLock is never closed");
            self.write_guard(location)
        }
    }

    /// `read` for synchronous code: blocks a racecheck thread (tokio:
    /// `spawn_blocking`) or an OS thread outside any execution.
    ///
    /// # Panics
    /// In an async task that cannot block (at await granularity), as tokio
    /// does inside its runtime.
    ///
    /// ```
    /// let lock = racecheck_sync::RwLock::new(1); // outside an execution
    /// *lock.blocking_write() += 1;
    /// assert_eq!(*lock.blocking_read(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_read(&self) -> RwLockReadGuard<'_, T> {
        racecheck_runtime::block_on(self.read())
    }

    /// `write` for synchronous code, as [`blocking_read`](Self::blocking_read).
    #[track_caller]
    pub fn blocking_write(&self) -> RwLockWriteGuard<'_, T> {
        racecheck_runtime::block_on(self.write())
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
            .try_acquire(self.max_readers, success, location)
            .map(|()| self.write_guard(location))
            .map_err(|_| crate::mutex::try_lock_error())
    }

    /// Mutable access without locking.
    pub fn get_mut(&mut self) -> &mut T {
        self.data
            .get_mut()
            .expect("an owned guard holds an Arc of its lock, so none outlives &mut")
            .get_mut()
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        match self.data.try_unwrap() {
            Some(data) => data.into_inner(),
            None => unreachable!("an owned guard holds an Arc of its lock, so none outlives it"),
        }
    }

    /// Waits for shared read access through an `Arc` of the lock.
    ///
    /// ```
    /// use racecheck_sync::RwLock;
    /// use std::sync::Arc;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let config = Arc::new(RwLock::new(1));
    ///     let reader = config.clone().read_owned().await;
    ///     let other = config.clone().try_read_owned().unwrap();
    ///     assert!(config.clone().try_write_owned().is_err());
    ///     assert_eq!(*reader + *other, 2);
    ///     drop((reader, other));
    ///     *config.clone().write_owned().await += 1;
    ///     assert_eq!(*config.read().await, 2);
    /// });
    /// ```
    #[track_caller]
    pub fn read_owned(self: Arc<Self>) -> impl Future<Output = OwnedRwLockReadGuard<T>> {
        let location = Location::caller();
        let success = self.op(LockMode::Shared, true);
        async move {
            let acquired = self.semaphore.acquire(1, success, location).await;
            debug_assert!(acquired.is_ok(), "an RwLock is never closed");
            OwnedRwLockReadGuard::new(self, location)
        }
    }

    /// Waits for exclusive write access through an `Arc` of the lock.
    #[track_caller]
    pub fn write_owned(self: Arc<Self>) -> impl Future<Output = OwnedRwLockWriteGuard<T>> {
        let location = Location::caller();
        let success = self.op(LockMode::Exclusive, true);
        async move {
            let acquired = self
                .semaphore
                .acquire(self.max_readers, success, location)
                .await;
            debug_assert!(acquired.is_ok(), "an RwLock is never closed");
            OwnedRwLockWriteGuard::new(self, location)
        }
    }

    /// Owned read access if available now; not a scheduling point.
    #[track_caller]
    pub fn try_read_owned(self: Arc<Self>) -> Result<OwnedRwLockReadGuard<T>, crate::TryLockError> {
        let location = Location::caller();
        let success = self.op(LockMode::Shared, true);
        match self.semaphore.try_acquire(1, success, location) {
            Ok(()) => Ok(OwnedRwLockReadGuard::new(self, location)),
            Err(_) => Err(crate::mutex::try_lock_error()),
        }
    }

    /// Owned write access if available now; not a scheduling point.
    #[track_caller]
    pub fn try_write_owned(
        self: Arc<Self>,
    ) -> Result<OwnedRwLockWriteGuard<T>, crate::TryLockError> {
        let location = Location::caller();
        let success = self.op(LockMode::Exclusive, true);
        match self
            .semaphore
            .try_acquire(self.max_readers, success, location)
        {
            Ok(()) => Ok(OwnedRwLockWriteGuard::new(self, location)),
            Err(_) => Err(crate::mutex::try_lock_error()),
        }
    }

    /// Records the release of `mode` at `location` and hands the lock on.
    fn unlock(&self, mode: LockMode, location: Location) {
        self.holding().unlock(mode, location);
    }

    fn op(&self, mode: LockMode, lock: bool) -> Op {
        self.holding().op(mode, lock)
    }

    fn holding(&self) -> Holding<'_> {
        Holding {
            semaphore: &self.semaphore,
            max_readers: self.max_readers,
        }
    }

    fn read_guard(&self, location: Location) -> RwLockReadGuard<'_, T> {
        let data = self.data.try_read().expect(UNCONTENDED);
        RwLockReadGuard {
            holding: self.holding(),
            data: Some(DataReadGuard::map(data, |value| value)),
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

impl<T: Default> Default for RwLock<T> {
    /// A new RwLock holding `T::default()`, as tokio's.
    #[track_caller]
    fn default() -> RwLock<T> {
        RwLock::create(None, T::default(), Location::caller())
    }
}

impl<T> From<T> for RwLock<T> {
    /// A new RwLock holding `value`, as tokio's.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let lock = racecheck_sync::RwLock::from(5);
    ///     let empty: racecheck_sync::RwLock<Vec<u8>> = Default::default();
    ///     # let _ = (lock, empty);
    /// });
    /// ```
    #[track_caller]
    fn from(value: T) -> RwLock<T> {
        RwLock::create(None, value, Location::caller())
    }
}

impl<T> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock")
            .field("object", &self.semaphore.object().id())
            .finish_non_exhaustive()
    }
}

/// What a guard gives back when dropped, whatever part of the value it
/// maps to.
#[derive(Clone, Copy)]
struct Holding<'a> {
    semaphore: &'a BatchSemaphore,
    max_readers: usize,
}

impl Holding<'_> {
    fn unlock(self, mode: LockMode, location: Location) {
        self.semaphore
            .object()
            .record(self.op(mode, false), location);
        let permits = match mode {
            LockMode::Shared => 1,
            LockMode::Exclusive => self.max_readers,
        };
        self.semaphore.release(permits);
    }

    /// Records a downgrade: the exclusive unlock and a shared lock.
    fn record_downgrade(self, location: Location) {
        let object = self.semaphore.object();
        object.record(self.op(LockMode::Exclusive, false), location);
        object.record(self.op(LockMode::Shared, true), location);
    }

    fn op(self, mode: LockMode, lock: bool) -> Op {
        let object = self.semaphore.object().id();
        if lock {
            Op::Lock { object, mode }
        } else {
            Op::Unlock { object, mode }
        }
    }
}

/// Shared access to an [`RwLock`]'s value, or to a part of it
/// ([`map`](Self::map)).
pub struct RwLockReadGuard<'a, T: ?Sized> {
    holding: Holding<'a>,
    data: Option<MappedDataReadGuard<'a, T>>,
    location: Location,
}

/// Exclusive access to a part of an [`RwLock`]'s value
/// ([`RwLockWriteGuard::map`]), like tokio's `RwLockMappedWriteGuard`.
pub struct RwLockMappedWriteGuard<'a, T: ?Sized> {
    holding: Holding<'a>,
    data: Option<MappedDataWriteGuard<'a, T>>,
    location: Location,
}

/// Exclusive access to an [`RwLock`]'s value.
pub struct RwLockWriteGuard<'a, T> {
    lock: &'a RwLock<T>,
    data: Option<DataWriteGuard<'a, T>>,
    location: Location,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
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

impl<'a, T> RwLockWriteGuard<'a, T> {
    /// Turns the write access into read access without letting a writer
    /// in between: readers queued behind this writer (up to the next
    /// queued writer) get in at once. Synchronous: a scheduling point at
    /// step granularity only; recorded as the exclusive unlock and a shared
    /// lock, in one step.
    ///
    /// ```
    /// use racecheck_sync::{RwLock, RwLockWriteGuard};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let config = RwLock::new(1);
    ///     let mut writer = config.write().await;
    ///     *writer = 2;
    ///     let reader = RwLockWriteGuard::downgrade(writer);
    ///     assert_eq!((*reader, *config.try_read().unwrap()), (2, 2));
    ///     assert!(config.try_write().is_err());
    /// });
    /// ```
    pub fn downgrade(this: Self) -> RwLockReadGuard<'a, T> {
        RwLockWriteGuard::downgrade_map(this, |value| value)
    }

    /// [`downgrade`](Self::downgrade) to read access to a part of the
    /// value, as one step.
    ///
    /// ```
    /// use racecheck_sync::{RwLock, RwLockWriteGuard};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let pair = RwLock::new((1, String::from("a")));
    ///     let mut writer = pair.write().await;
    ///     writer.0 = 2;
    ///     let name = RwLockWriteGuard::downgrade_map(writer, |pair| &pair.1);
    ///     assert_eq!((name.as_str(), pair.try_read().unwrap().0), ("a", 2));
    /// });
    /// ```
    pub fn downgrade_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> &U,
    ) -> RwLockReadGuard<'a, U> {
        rt::sync_point();
        let (lock, data, location) = this.into_parts();
        lock.holding().record_downgrade(location);
        let read = DataReadGuard::map(DataWriteGuard::downgrade(data), f);
        lock.semaphore.release(lock.max_readers - 1);
        RwLockReadGuard {
            holding: lock.holding(),
            data: Some(read),
            location,
        }
    }

    /// [`downgrade_map`](Self::downgrade_map) if `f` returns a part; the
    /// write guard back, still exclusive, otherwise.
    ///
    /// ```
    /// use racecheck_sync::{RwLock, RwLockWriteGuard};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let slots = RwLock::new(vec![7]);
    ///     let writer = slots.write().await;
    ///     let writer = RwLockWriteGuard::try_downgrade_map(writer, |slots| slots.get(3)).unwrap_err();
    ///     assert!(slots.try_read().is_err(), "still exclusive");
    ///     let first = RwLockWriteGuard::try_downgrade_map(writer, |slots| slots.first()).unwrap();
    ///     assert_eq!(*first, 7);
    /// });
    /// ```
    pub fn try_downgrade_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<RwLockReadGuard<'a, U>, Self> {
        let (lock, data, location) = this.into_parts();
        // Only the value's own lock is downgraded here: the semaphore still
        // admits no one else, so it can be taken back for writing.
        match DataReadGuard::try_map(DataWriteGuard::downgrade(data), f) {
            Ok(read) => {
                rt::sync_point();
                lock.holding().record_downgrade(location);
                lock.semaphore.release(lock.max_readers - 1);
                Ok(RwLockReadGuard {
                    holding: lock.holding(),
                    data: Some(read),
                    location,
                })
            }
            Err(read) => {
                drop(read);
                Err(lock.write_guard(location))
            }
        }
    }

    /// Write access to a part of the value.
    ///
    /// ```
    /// use racecheck_sync::{RwLock, RwLockWriteGuard};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let pair = RwLock::new((1, 2));
    ///     *RwLockWriteGuard::map(pair.write().await, |pair| &mut pair.1) += 5;
    ///     assert_eq!(*pair.read().await, (1, 7));
    /// });
    /// ```
    pub fn map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> RwLockMappedWriteGuard<'a, U> {
        let (lock, data, location) = this.into_parts();
        RwLockMappedWriteGuard {
            holding: lock.holding(),
            data: Some(DataWriteGuard::map(data, f)),
            location,
        }
    }

    /// [`map`](Self::map) if `f` returns a part; the guard back otherwise.
    ///
    /// ```
    /// use racecheck_sync::{RwLock, RwLockWriteGuard};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let slots = RwLock::new(vec![1]);
    ///     let writer = RwLockWriteGuard::try_map(slots.write().await, |slots| slots.get_mut(4));
    ///     let mut first = RwLockWriteGuard::try_map(writer.unwrap_err(), |slots| slots.first_mut()).unwrap();
    ///     *first = 9;
    ///     drop(first);
    ///     assert_eq!(*slots.read().await, [9]);
    /// });
    /// ```
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<RwLockMappedWriteGuard<'a, U>, Self> {
        let (lock, data, location) = this.into_parts();
        match DataWriteGuard::try_map(data, f) {
            Ok(data) => Ok(RwLockMappedWriteGuard {
                holding: lock.holding(),
                data: Some(data),
                location,
            }),
            Err(data) => Err(RwLockWriteGuard {
                lock,
                data: Some(data),
                location,
            }),
        }
    }

    /// The same access as a mapped guard of the whole value.
    pub fn into_mapped(this: Self) -> RwLockMappedWriteGuard<'a, T> {
        RwLockWriteGuard::map(this, |value| value)
    }

    /// The guard's parts, without unlocking.
    fn into_parts(mut self) -> (&'a RwLock<T>, DataWriteGuard<'a, T>, Location) {
        let data = self
            .data
            .take()
            .expect("guard holds its data until dropped");
        let (lock, location) = (self.lock, self.location);
        std::mem::forget(self);
        (lock, data, location)
    }
}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// Read access to a part of the value.
    ///
    /// ```
    /// use racecheck_sync::{RwLock, RwLockReadGuard};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let pair = RwLock::new((1, "b"));
    ///     let name = RwLockReadGuard::map(pair.read().await, |pair| &pair.1);
    ///     assert_eq!(*name, "b");
    /// });
    /// ```
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &U) -> RwLockReadGuard<'a, U> {
        let (holding, data, location) = this.into_parts();
        RwLockReadGuard {
            holding,
            data: Some(MappedDataReadGuard::map(data, f)),
            location,
        }
    }

    /// [`map`](Self::map) if `f` returns a part; the guard back otherwise.
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<RwLockReadGuard<'a, U>, Self> {
        let (holding, data, location) = this.into_parts();
        match MappedDataReadGuard::try_map(data, f) {
            Ok(data) => Ok(RwLockReadGuard {
                holding,
                data: Some(data),
                location,
            }),
            Err(data) => Err(RwLockReadGuard {
                holding,
                data: Some(data),
                location,
            }),
        }
    }

    fn into_parts(mut self) -> (Holding<'a>, MappedDataReadGuard<'a, T>, Location) {
        let data = self
            .data
            .take()
            .expect("guard holds its data until dropped");
        let (holding, location) = (self.holding, self.location);
        std::mem::forget(self);
        (holding, data, location)
    }
}

impl<'a, T: ?Sized> RwLockMappedWriteGuard<'a, T> {
    /// Write access to a smaller part.
    ///
    /// ```
    /// use racecheck_sync::{RwLock, RwLockMappedWriteGuard, RwLockWriteGuard};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let nested = RwLock::new(((0, 1), 2));
    ///     let outer = RwLockWriteGuard::map(nested.write().await, |nested| &mut nested.0);
    ///     *RwLockMappedWriteGuard::map(outer, |inner| &mut inner.1) = 5;
    ///     assert_eq!(*nested.read().await, ((0, 5), 2));
    /// });
    /// ```
    pub fn map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> RwLockMappedWriteGuard<'a, U> {
        let (holding, data, location) = this.into_parts();
        RwLockMappedWriteGuard {
            holding,
            data: Some(MappedDataWriteGuard::map(data, f)),
            location,
        }
    }

    /// [`map`](Self::map) if `f` returns a part; the guard back otherwise.
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<RwLockMappedWriteGuard<'a, U>, Self> {
        let (holding, data, location) = this.into_parts();
        match MappedDataWriteGuard::try_map(data, f) {
            Ok(data) => Ok(RwLockMappedWriteGuard {
                holding,
                data: Some(data),
                location,
            }),
            Err(data) => Err(RwLockMappedWriteGuard {
                holding,
                data: Some(data),
                location,
            }),
        }
    }

    fn into_parts(mut self) -> (Holding<'a>, MappedDataWriteGuard<'a, T>, Location) {
        let data = self
            .data
            .take()
            .expect("guard holds its data until dropped");
        let (holding, location) = (self.holding, self.location);
        std::mem::forget(self);
        (holding, data, location)
    }
}

impl<T: ?Sized> Deref for RwLockMappedWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data
            .as_ref()
            .expect("guard holds its data until dropped")
    }
}

impl<T: ?Sized> DerefMut for RwLockMappedWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data
            .as_mut()
            .expect("guard holds its data until dropped")
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockMappedWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> Drop for RwLockMappedWriteGuard<'_, T> {
    fn drop(&mut self) {
        rt::sync_point();
        self.data = None;
        self.holding.unlock(LockMode::Exclusive, self.location);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for OwnedRwLockReadGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for OwnedRwLockWriteGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        rt::sync_point();
        self.data = None;
        self.holding.unlock(LockMode::Shared, self.location);
    }
}

impl<T> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        rt::sync_point();
        self.data = None;
        self.lock.unlock(LockMode::Exclusive, self.location);
    }
}

/// Shared access to an [`RwLock`]'s value through an `Arc` of the lock,
/// like tokio's `OwnedRwLockReadGuard`.
pub struct OwnedRwLockReadGuard<T> {
    data: Option<DataArcReadGuard<T>>,
    lock: Arc<RwLock<T>>,
    location: Location,
}

impl<T> OwnedRwLockReadGuard<T> {
    fn new(lock: Arc<RwLock<T>>, location: Location) -> OwnedRwLockReadGuard<T> {
        OwnedRwLockReadGuard {
            data: Some(lock.data.try_read_arc().expect(UNCONTENDED)),
            lock,
            location,
        }
    }
}

/// Exclusive access to an [`RwLock`]'s value through an `Arc` of the lock,
/// like tokio's `OwnedRwLockWriteGuard`.
pub struct OwnedRwLockWriteGuard<T> {
    data: Option<DataArcWriteGuard<T>>,
    lock: Arc<RwLock<T>>,
    location: Location,
}

impl<T> OwnedRwLockWriteGuard<T> {
    fn new(lock: Arc<RwLock<T>>, location: Location) -> OwnedRwLockWriteGuard<T> {
        OwnedRwLockWriteGuard {
            data: Some(lock.data.try_write_arc().expect(UNCONTENDED)),
            lock,
            location,
        }
    }
}

impl<T> Deref for OwnedRwLockReadGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data
            .as_ref()
            .expect("guard holds its data until dropped")
    }
}

impl<T> Deref for OwnedRwLockWriteGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data
            .as_ref()
            .expect("guard holds its data until dropped")
    }
}

impl<T> DerefMut for OwnedRwLockWriteGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data
            .as_mut()
            .expect("guard holds its data until dropped")
    }
}

impl<T> Drop for OwnedRwLockReadGuard<T> {
    fn drop(&mut self) {
        rt::sync_point();
        self.data = None;
        self.lock.unlock(LockMode::Shared, self.location);
    }
}

impl<T> Drop for OwnedRwLockWriteGuard<T> {
    fn drop(&mut self) {
        rt::sync_point();
        self.data = None;
        self.lock.unlock(LockMode::Exclusive, self.location);
    }
}
