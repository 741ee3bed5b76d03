//! A lock its owner may take again: asyncio-style `RLock`.

use crate::wait_queue::{WaitQueue, Waiter};
use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{Location, LockMode, Need, ObjectKind, Op, TaskId};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A re-entrant async lock, in the spirit of Python's `RLock`: the task that
/// holds it may acquire it again, and must release it as many times.
///
/// - `acquire().await` / `lock().await` are scheduling points; the owner
///   re-enters at once, other tasks queue FIFO.
/// - `release()` by a task that does not hold it is an error
///   ([`NotOwnerError`]), as `RuntimeError` in asyncio.
/// - Cancellation: dropping a pending acquire leaves the queue; if the lock
///   had been handed to it, it passes on.
/// - The value is shared (`&T`): a re-entrant lock cannot hand out two
///   `&mut` to the same task.
///
/// ```
/// use racecheck_sync::ReentrantMutex;
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let tree = ReentrantMutex::named("tree", ());
///     let outer = tree.lock().await;
///     let inner = tree.lock().await; // same task: re-enters
///     drop(inner);
///     drop(outer);
///
///     tree.acquire().await;
///     tree.release().unwrap();
///     assert!(tree.release().is_err()); // not held any more
/// });
/// ```
pub struct ReentrantMutex<T> {
    state: StateLock<ReentrantState>,
    object: ObjectRef,
    value: T,
}

struct ReentrantState {
    owner: Option<TaskId>,
    count: usize,
    /// Waiters with their task, which becomes the owner when served.
    /// Who waits, and where each asked.
    waiters: WaitQueue<(TaskId, Location)>,
}

/// `release` was called by a task that does not hold the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot release a lock that the current task ({task}) does not hold")]
pub struct NotOwnerError {
    /// The task that tried.
    pub task: TaskId,
}

impl<T> ReentrantMutex<T> {
    /// A new unlocked lock guarding `value`.
    #[track_caller]
    pub fn new(value: T) -> ReentrantMutex<T> {
        ReentrantMutex::create(None, value, Location::caller())
    }

    /// A new lock with a name for reports.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> ReentrantMutex<T> {
        ReentrantMutex::create(Some(name.into()), value, Location::caller())
    }

    fn create(name: Option<Cow<'static, str>>, value: T, location: Location) -> ReentrantMutex<T> {
        ReentrantMutex {
            state: StateLock::new(ReentrantState {
                owner: None,
                count: 0,
                waiters: WaitQueue::default(),
            }),
            object: rt::register(ObjectKind::ReentrantMutex, name, location),
            value,
        }
    }

    /// Waits for the lock (or re-enters it) and returns a guard that
    /// releases one level when dropped.
    #[track_caller]
    pub fn lock(&self) -> impl Future<Output = ReentrantMutexGuard<'_, T>> {
        let location = Location::caller();
        async move {
            self.acquire_at(location).await;
            ReentrantMutexGuard {
                mutex: self,
                location,
            }
        }
    }

    /// Waits for the lock (or re-enters it), asyncio style: pair it with
    /// [`release`](Self::release).
    #[track_caller]
    pub fn acquire(&self) -> impl Future<Output = ()> + '_ {
        self.acquire_at(Location::caller())
    }

    fn acquire_at(&self, location: Location) -> AcquireReentrant<'_, T> {
        AcquireReentrant {
            mutex: self,
            location,
            point: SchedulePoint::new(),
            ticket: None,
        }
    }

    /// Releases one level of the current task's hold.
    ///
    /// # Errors
    /// [`NotOwnerError`] if the current task does not hold the lock.
    #[track_caller]
    pub fn release(&self) -> Result<(), NotOwnerError> {
        rt::sync_point();
        let task = rt::current_task();
        self.release_by(task, Location::caller())
    }

    /// Whether any task holds the lock. Recorded as an inspection (a
    /// scheduling point at step granularity).
    #[track_caller]
    pub fn is_locked(&self) -> bool {
        crate::inspect(self.object, Location::caller(), || {
            lock_state(&self.state).owner.is_some()
        })
    }

    /// Whether the current task holds the lock. Recorded as an inspection.
    #[track_caller]
    pub fn is_owned_by_current_task(&self) -> bool {
        crate::inspect(self.object, Location::caller(), || {
            lock_state(&self.state).owner == Some(rt::current_task())
        })
    }

    fn release_by(&self, task: TaskId, location: Location) -> Result<(), NotOwnerError> {
        let served = {
            let mut state = lock_state(&self.state);
            if state.owner != Some(task) {
                drop(state);
                // The failure read the owner: recorded, so that the search
                // orders it against the lock's changes.
                let object = self.object.id();
                self.object.record(Op::TryFailed { object }, location);
                return Err(NotOwnerError { task });
            }
            state.count -= 1;
            self.object.record(self.op(false), location);
            if state.count > 0 {
                return Ok(());
            }
            state.owner = None;
            hand_over(&mut state, self.object)
        };
        if let Some(waiter) = served {
            waiter.waker.wake();
        }
        Ok(())
    }

    fn op(&self, lock: bool) -> Op {
        let object = self.object.id();
        let mode = LockMode::Exclusive;
        if lock {
            Op::Lock { object, mode }
        } else {
            Op::Unlock { object, mode }
        }
    }
}

/// Gives a free lock to the head waiter, which becomes the owner: its
/// acquisition is recorded now, on its behalf.
fn hand_over(state: &mut ReentrantState, object: ObjectRef) -> Option<Waiter<(TaskId, Location)>> {
    debug_assert!(state.owner.is_none());
    let waiter = state.waiters.grant_front()?;
    let (task, location) = waiter.payload;
    state.owner = Some(task);
    state.count = 1;
    let lock = Op::Lock {
        object: object.id(),
        mode: LockMode::Exclusive,
    };
    object.record_for(task, lock, location);
    Some(waiter)
}

impl<T> fmt::Debug for ReentrantMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReentrantMutex")
            .field("object", &self.object.id())
            .finish_non_exhaustive()
    }
}

struct AcquireReentrant<'a, T> {
    mutex: &'a ReentrantMutex<T>,
    location: Location,
    point: SchedulePoint,
    ticket: Option<u64>,
}

impl<T> Future for AcquireReentrant<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let mutex = this.mutex;
        let mut state = lock_state(&mutex.state);
        match this.ticket {
            Some(ticket) if state.waiters.take_grant(ticket) => {
                // Handed over by a release, which recorded the acquisition.
                drop(state);
                this.ticket = None;
                return Poll::Ready(());
            }
            Some(ticket) => {
                state.waiters.update_waker(ticket, cx.waker());
                drop(state);
                mutex
                    .object
                    .block(Need::Lock(LockMode::Exclusive), this.location);
                return Poll::Pending;
            }
            None => {
                let task = rt::current_task();
                if state.owner == Some(task) {
                    state.count += 1;
                } else if state.owner.is_none() && state.waiters.is_empty() {
                    state.owner = Some(task);
                    state.count = 1;
                } else {
                    let waiter = (task, this.location);
                    this.ticket = Some(state.waiters.push(waiter, cx.waker().clone()));
                    drop(state);
                    mutex
                        .object
                        .block(Need::Lock(LockMode::Exclusive), this.location);
                    return Poll::Pending;
                }
            }
        }
        drop(state);
        this.ticket = None;
        mutex.object.record(mutex.op(true), this.location);
        Poll::Ready(())
    }
}

impl<T> Drop for AcquireReentrant<'_, T> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else {
            return;
        };
        let mutex = self.mutex;
        let granted = lock_state(&mutex.state).waiters.is_granted(ticket);
        if granted {
            // Handed the lock but never took it: a release, recorded.
            rt::sync_point();
            mutex.object.record(mutex.op(false), self.location);
        }
        let served = {
            let mut state = lock_state(&mutex.state);
            if state.waiters.take_grant(ticket) {
                // Pass it on.
                state.owner = None;
                state.count = 0;
                hand_over(&mut state, mutex.object)
            } else {
                state.waiters.remove(ticket);
                None
            }
        };
        if let Some(waiter) = served {
            waiter.waker.wake();
        }
    }
}

/// One level of a [`ReentrantMutex`] hold; releases it when dropped.
pub struct ReentrantMutexGuard<'a, T> {
    mutex: &'a ReentrantMutex<T>,
    location: Location,
}

impl<T> Deref for ReentrantMutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.mutex.value
    }
}

impl<T> Drop for ReentrantMutexGuard<'_, T> {
    fn drop(&mut self) {
        rt::sync_point();
        let owner = lock_state(&self.mutex.state).owner;
        // The guard's task is the owner; during teardown no task runs, so
        // release on the owner's behalf.
        if let Some(owner) = owner {
            let released = self.mutex.release_by(owner, self.location);
            debug_assert!(released.is_ok());
        }
    }
}
