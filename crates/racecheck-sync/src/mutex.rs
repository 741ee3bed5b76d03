//! An async mutex with tokio's API.

use crate::batch::{Acquire, BatchSemaphore, TryAcquire};
use crate::lazy_arc::LazyArc;
use racecheck_runtime::rt;
use racecheck_trace::{Location, LockMode, ObjectKind, Op};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The lock around the value: taken only by the holder of the semaphore's
/// permit, so never contended. In an `Arc` (made at first use for a
/// `const_new` mutex) so that an owned guard can hold
/// it without borrowing the mutex.
type DataLock<T> = spin::lock_api::Mutex<T>;

/// The value's lock held through its `Arc`, by an [`OwnedMutexGuard`].
type DataArcGuard<T> = lock_api::ArcMutexGuard<spin::Mutex<()>, T>;

const UNCONTENDED: &str =
    "racecheck internal error: a Mutex's value is locked against its semaphore";

/// An async mutual-exclusion lock, like `tokio::sync::Mutex`.
///
/// - `lock().await` is a scheduling point, then takes the lock or blocks.
/// - Fair: waiters get the lock in the order they asked for it; a task that
///   unlocks and locks again queues behind them.
/// - Cancellation: dropping a pending `lock()` future leaves the queue
///   without taking the lock; a lock handed to it in the meantime passes on.
/// - The guard unlocks when dropped (recorded at the `lock` call's location).
///
/// ```
/// use racecheck_sync::Mutex;
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let rows = Mutex::named("db", 0);
///     {
///         let mut guard = rows.lock().await;
///         *guard += 1;
///     }
///     assert_eq!(*rows.lock().await, 1);
/// });
/// ```
pub struct Mutex<T> {
    semaphore: BatchSemaphore,
    data: LazyArc<DataLock<T>>,
}

/// The lock was held (or had waiters) when `try_lock` was called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("operation would block")]
pub struct TryLockError(());

/// The error of a failed `try_lock`, `try_read` or `try_write`.
pub(crate) fn try_lock_error() -> TryLockError {
    TryLockError(())
}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    #[track_caller]
    pub fn new(value: T) -> Mutex<T> {
        Mutex::create(None, value, Location::caller())
    }

    /// A mutex built in a `const`, for a `static`, as tokio's
    /// `Mutex::const_new`. No execution can record it: it works, but
    /// untracked (see `racecheck::Builder::allow_untracked_objects`).
    ///
    /// ```
    /// use racecheck_sync::Mutex;
    ///
    /// static HITS: Mutex<u32> = Mutex::const_new(0);
    /// *HITS.try_lock().unwrap() += 1;
    /// assert_eq!(*HITS.try_lock().unwrap(), 1);
    /// ```
    #[track_caller]
    pub const fn const_new(value: T) -> Mutex<T> {
        Mutex {
            semaphore: BatchSemaphore::untracked(1, Location::caller()),
            data: LazyArc::new_const(DataLock::new(value)),
        }
    }

    /// A new mutex with a name for reports (`Mutex 'db'`).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let db = racecheck_sync::Mutex::named("db", Vec::<u32>::new());
    ///     db.lock().await.push(1);
    /// });
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> Mutex<T> {
        Mutex::create(Some(name.into()), value, Location::caller())
    }

    fn create(name: Option<Cow<'static, str>>, value: T, location: Location) -> Mutex<T> {
        Mutex {
            semaphore: BatchSemaphore::new(1, ObjectKind::Mutex, name, location),
            data: LazyArc::new(DataLock::new(value)),
        }
    }

    /// Waits for the lock and returns a guard that releases it when dropped.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let counter = racecheck_sync::Mutex::new(1);
    ///     *counter.lock().await *= 5;
    ///     assert_eq!(*counter.lock().await, 5);
    /// });
    /// ```
    #[track_caller]
    pub fn lock(&self) -> impl Future<Output = MutexGuard<'_, T>> {
        self.lock_at(Location::caller())
    }

    /// [`Mutex::lock`], recorded at `location` (a `Condition` relocking).
    pub(crate) fn lock_at(&self, location: Location) -> Lock<'_, T> {
        Lock {
            mutex: self,
            acquire: self.semaphore.acquire(1, self.lock_op(), location),
            location,
        }
    }

    /// Takes the lock if it is free and nobody waits for it; recorded
    /// either way. Synchronous: a scheduling point at
    /// [`Granularity::Step`](racecheck_runtime::Granularity::Step) only.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let mutex = racecheck_sync::Mutex::new(());
    ///     let guard = mutex.try_lock().unwrap();
    ///     assert!(mutex.try_lock().is_err());
    ///     drop(guard);
    /// });
    /// ```
    #[track_caller]
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        let location = Location::caller();
        match self.semaphore.try_acquire(1, self.lock_op(), location) {
            Ok(()) => Ok(self.guard(location)),
            Err(TryAcquire::NoPermits | TryAcquire::Closed) => Err(TryLockError(())),
        }
    }

    /// Mutable access without locking: the borrow proves exclusivity.
    pub fn get_mut(&mut self) -> &mut T {
        self.data
            .get_mut()
            .expect("an owned guard holds an Arc of its mutex, so none outlives &mut")
            .get_mut()
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        match self.data.try_unwrap() {
            Some(data) => data.into_inner(),
            None => unreachable!("an owned guard holds an Arc of its mutex, so none outlives it"),
        }
    }

    /// The mutex's object, for primitives that work with its guards.
    pub(crate) fn object(&self) -> racecheck_runtime::rt::ObjectRef {
        self.semaphore.object()
    }

    fn lock_op(&self) -> Op {
        Op::Lock {
            object: self.semaphore.object().id(),
            mode: LockMode::Exclusive,
        }
    }

    fn guard(&self, location: Location) -> MutexGuard<'_, T> {
        MutexGuard {
            mutex: self,
            data: Some(self.data.try_lock().expect(UNCONTENDED)),
            location,
            within_operation: false,
        }
    }

    /// Waits for the lock and returns a guard that owns an `Arc` of the
    /// mutex, so it can outlive the borrow and move into another task.
    ///
    /// ```
    /// use racecheck_sync::Mutex;
    /// use std::sync::Arc;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let rows = Arc::new(Mutex::new(0));
    ///     let mut guard = rows.clone().lock_owned().await;
    ///     let writer = racecheck_runtime::spawn(async move { *guard += 1 });
    ///     writer.await;
    ///     assert_eq!(*rows.lock().await, 1);
    /// });
    /// ```
    #[track_caller]
    pub fn lock_owned(self: Arc<Self>) -> impl Future<Output = OwnedMutexGuard<T>> {
        let location = Location::caller();
        async move {
            let acquired = self.semaphore.acquire(1, self.lock_op(), location).await;
            debug_assert!(acquired.is_ok(), "a mutex is never closed");
            OwnedMutexGuard::new(self, location)
        }
    }

    /// `lock` for synchronous code: blocks a racecheck thread (tokio:
    /// `spawn_blocking`) or an OS thread outside any execution.
    ///
    /// # Panics
    /// In an async task that cannot block (at await granularity), as tokio
    /// does inside its runtime.
    ///
    /// ```
    /// let mutex = racecheck_sync::Mutex::new(1); // outside an execution
    /// *mutex.blocking_lock() += 1;
    /// assert_eq!(*mutex.blocking_lock(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        racecheck_runtime::block_on(self.lock_at(Location::caller()))
    }

    /// `lock_owned` for synchronous code, as
    /// [`blocking_lock`](Self::blocking_lock).
    #[track_caller]
    pub fn blocking_lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        racecheck_runtime::block_on(self.lock_owned())
    }

    /// Takes the lock, owned, if it is free and nobody waits for it; not a
    /// scheduling point.
    #[track_caller]
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        let location = Location::caller();
        match self.semaphore.try_acquire(1, self.lock_op(), location) {
            Ok(()) => Ok(OwnedMutexGuard::new(self, location)),
            Err(TryAcquire::NoPermits | TryAcquire::Closed) => Err(TryLockError(())),
        }
    }

    /// Records the unlock at `location` and hands the lock on.
    fn unlock(&self, location: Location) {
        unlock(&self.semaphore, location);
    }
}

/// Records the unlock of the mutex over `semaphore` and hands the lock on.
/// Inline into the guards' drops, which then call only the record (and
/// the serving of waiters, when there are any).
#[inline]
fn unlock(semaphore: &BatchSemaphore, location: Location) {
    let unlock = Op::Unlock {
        object: semaphore.object().id(),
        mode: LockMode::Exclusive,
    };
    semaphore.record(unlock, location);
    semaphore.release(1);
}

impl<T: Default> Default for Mutex<T> {
    /// A new Mutex holding `T::default()`, as tokio's.
    #[track_caller]
    fn default() -> Mutex<T> {
        Mutex::create(None, T::default(), Location::caller())
    }
}

impl<T> From<T> for Mutex<T> {
    /// A new Mutex holding `value`, as tokio's.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let lock = racecheck_sync::Mutex::from(5);
    ///     let empty: racecheck_sync::Mutex<Vec<u8>> = Default::default();
    ///     # let _ = (lock, empty);
    /// });
    /// ```
    #[track_caller]
    fn from(value: T) -> Mutex<T> {
        Mutex::create(None, value, Location::caller())
    }
}

impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("object", &self.semaphore.object().id())
            .finish_non_exhaustive()
    }
}

/// The future of [`Mutex::lock`]: a named type rather than an `async`
/// block so that its poll can be inlined into the task's (an `async` block
/// with two callers was not, which cost 3% of a lock-heavy execution).
pub(crate) struct Lock<'a, T> {
    mutex: &'a Mutex<T>,
    acquire: Acquire<'a>,
    location: Location,
}

impl<'a, T> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    // Always inline, as `Acquire::poll` is: with `#[inline]` alone, LLVM
    // kept this poll out of line in a task's poll.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let this = self.get_mut();
        let acquired = std::task::ready!(Pin::new(&mut this.acquire).poll(cx));
        debug_assert!(acquired.is_ok(), "a mutex is never closed");
        Poll::Ready(this.mutex.guard(this.location))
    }
}

/// Exclusive access to a [`Mutex`]'s value; unlocks when dropped (a
/// scheduling point at
/// [`Granularity::Step`](racecheck_runtime::Granularity::Step)).
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    data: Option<spin::lock_api::MutexGuard<'a, T>>,
    location: Location,
    /// Unlocked as part of another operation, past its scheduling point.
    within_operation: bool,
}

impl<'a, T> MutexGuard<'a, T> {
    /// The mutex this guard holds, to unlock and relock it around a
    /// `Condition` wait.
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }

    /// A guard of a part of the value, `f`'s result, holding the lock as
    /// this one did. Changes nothing another task sees: not recorded.
    ///
    /// ```
    /// use racecheck_sync::{Mutex, MutexGuard};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let pair = Mutex::new((1, String::from("a")));
    ///     let mut name = MutexGuard::map(pair.lock().await, |pair| &mut pair.1);
    ///     name.push('b');
    ///     drop(name);
    ///     assert_eq!(pair.lock().await.1, "ab");
    /// });
    /// ```
    pub fn map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> MappedMutexGuard<'a, U> {
        let data = this
            .data
            .take()
            .expect("guard holds its data until dropped");
        let (semaphore, location) = (&this.mutex.semaphore, this.location);
        std::mem::forget(this);
        MappedMutexGuard {
            semaphore,
            data: Some(lock_api::MutexGuard::map(data, f)),
            location,
        }
    }

    /// [`map`](Self::map) if `f` returns a part; the guard back otherwise.
    ///
    /// ```
    /// use racecheck_sync::{Mutex, MutexGuard};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let slots = Mutex::new(vec![1]);
    ///     let missing = MutexGuard::try_map(slots.lock().await, |slots| slots.get_mut(5));
    ///     let guard = missing.unwrap_err();
    ///     let first = MutexGuard::try_map(guard, |slots| slots.get_mut(0)).unwrap();
    ///     assert_eq!(*first, 1);
    /// });
    /// ```
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        let data = this
            .data
            .take()
            .expect("guard holds its data until dropped");
        match lock_api::MutexGuard::try_map(data, f) {
            Ok(mapped) => {
                let (semaphore, location) = (&this.mutex.semaphore, this.location);
                std::mem::forget(this);
                Ok(MappedMutexGuard {
                    semaphore,
                    data: Some(mapped),
                    location,
                })
            }
            Err(data) => {
                this.data = Some(data);
                Err(this)
            }
        }
    }

    /// Unlocks as part of the operation under way (a `Condition` wait
    /// gives the lock up in the same step as it starts waiting), without a
    /// scheduling point of its own.
    pub(crate) fn unlock_within_operation(mut self) {
        self.within_operation = true;
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data
            .as_ref()
            .expect("guard holds its data until dropped")
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data
            .as_mut()
            .expect("guard holds its data until dropped")
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if !self.within_operation {
            rt::sync_point();
        }
        self.data = None;
        self.mutex.unlock(self.location);
    }
}

/// Exclusive access to a part of a [`Mutex`]'s value
/// ([`MutexGuard::map`]); unlocks the mutex when dropped, as the guard it
/// came from would have.
///
/// ```
/// use racecheck_sync::{Mutex, MutexGuard};
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let counts = Mutex::new([0, 0]);
///     *MutexGuard::map(counts.lock().await, |counts| &mut counts[1]) += 1;
///     assert_eq!(*counts.lock().await, [0, 1]);
/// });
/// ```
pub struct MappedMutexGuard<'a, U: ?Sized> {
    semaphore: &'a BatchSemaphore,
    data: Option<lock_api::MappedMutexGuard<'a, spin::Mutex<()>, U>>,
    location: Location,
}

impl<U: ?Sized> Deref for MappedMutexGuard<'_, U> {
    type Target = U;

    fn deref(&self) -> &U {
        self.data
            .as_ref()
            .expect("guard holds its data until dropped")
    }
}

impl<U: ?Sized> DerefMut for MappedMutexGuard<'_, U> {
    fn deref_mut(&mut self) -> &mut U {
        self.data
            .as_mut()
            .expect("guard holds its data until dropped")
    }
}

impl<U: ?Sized + fmt::Debug> fmt::Debug for MappedMutexGuard<'_, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<U: ?Sized> Drop for MappedMutexGuard<'_, U> {
    fn drop(&mut self) {
        rt::sync_point();
        self.data = None;
        unlock(self.semaphore, self.location);
    }
}

/// Exclusive access to a [`Mutex`]'s value through an `Arc` of the mutex,
/// like tokio's `OwnedMutexGuard`; unlocks when dropped.
pub struct OwnedMutexGuard<T> {
    data: Option<DataArcGuard<T>>,
    mutex: Arc<Mutex<T>>,
    location: Location,
}

impl<T> OwnedMutexGuard<T> {
    fn new(mutex: Arc<Mutex<T>>, location: Location) -> OwnedMutexGuard<T> {
        OwnedMutexGuard {
            data: Some(mutex.data.try_lock_arc().expect(UNCONTENDED)),
            mutex,
            location,
        }
    }

    /// The mutex this guard holds.
    pub fn mutex(&self) -> &Arc<Mutex<T>> {
        &self.mutex
    }
}

impl<T> Deref for OwnedMutexGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data
            .as_ref()
            .expect("guard holds its data until dropped")
    }
}

impl<T> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data
            .as_mut()
            .expect("guard holds its data until dropped")
    }
}

impl<T: fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        rt::sync_point();
        self.data = None;
        self.mutex.unlock(self.location);
    }
}
