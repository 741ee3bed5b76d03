//! The fair batch semaphore under [`Mutex`](crate::Mutex),
//! [`RwLock`](crate::RwLock) and [`Semaphore`](crate::Semaphore), as in
//! tokio.
//!
//! Semantics, in one place:
//! - **blocks** when fewer permits are free than requested, or when anyone
//!   is already queued (FIFO, no barging: a large request at the head holds
//!   back smaller ones behind it);
//! - **wakes** on release: permits go straight to the head waiters, in
//!   order, as long as they fit; the woken task finds them already its own,
//!   and its acquisition is recorded then, in the releasing step, on its
//!   behalf (`ObjectRef::record_for`): from the release on, the lock is the
//!   waiter's, whatever other tasks do before it runs again;
//! - **cancellation**: dropping a pending acquire leaves the queue; if it
//!   had already been granted permits, they are released again, and that
//!   release is recorded;
//! - **close**: every waiter and every later acquire fails (recorded as a
//!   failed try, which reads the semaphore);
//! - **scheduling points**: an acquire passes one before it tries; the
//!   synchronous operations (`try_acquire`, releases, `add_permits`,
//!   `close`) are one at step granularity, as every visible operation is.

use crate::wait_queue::{wake_all, WaitQueue, Waiter};
use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{Location, ObjectKind, Op, TaskId};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub(crate) struct BatchSemaphore {
    state: StateLock<BatchState>,
    object: ObjectRef,
}

struct BatchState {
    permits: usize,
    closed: bool,
    waiters: WaitQueue<Pending>,
}

/// A queued acquire: what it needs, and what to record when it is served.
struct Pending {
    needed: usize,
    /// The waiting task; `None` for a destructor run at teardown, when no
    /// task runs and nothing is recorded.
    task: Option<TaskId>,
    success: Op,
    location: Location,
}

/// The semaphore was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Closed;

/// Why a non-blocking acquire failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TryAcquire {
    Closed,
    NoPermits,
}

impl BatchSemaphore {
    pub(crate) fn new(
        permits: usize,
        kind: ObjectKind,
        name: Option<Cow<'static, str>>,
        location: Location,
    ) -> BatchSemaphore {
        BatchSemaphore {
            state: StateLock::new(BatchState {
                permits,
                closed: false,
                waiters: WaitQueue::default(),
            }),
            object: rt::register(kind, name, location),
        }
    }

    /// A semaphore built in a `const` (for a `static`): untracked, as a
    /// primitive created outside any execution is.
    pub(crate) const fn untracked(permits: usize, location: Location) -> BatchSemaphore {
        BatchSemaphore {
            state: StateLock::new(BatchState {
                permits,
                closed: false,
                waiters: WaitQueue::new(),
            }),
            object: ObjectRef::untracked(location),
        }
    }

    pub(crate) fn object(&self) -> ObjectRef {
        self.object
    }

    pub(crate) fn available_permits(&self) -> usize {
        lock_state(&self.state).permits
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock_state(&self.state).closed
    }

    /// Takes `needed` permits now if that is possible without barging.
    /// Records `success` or a failed try. A scheduling point at step
    /// granularity.
    pub(crate) fn try_acquire(
        &self,
        needed: usize,
        success: Op,
        location: Location,
    ) -> Result<(), TryAcquire> {
        rt::sync_point();
        let outcome = {
            let mut state = lock_state(&self.state);
            if state.closed {
                Err(TryAcquire::Closed)
            } else if state.waiters.is_empty() && state.permits >= needed {
                state.permits -= needed;
                Ok(())
            } else {
                Err(TryAcquire::NoPermits)
            }
        };
        let op = match outcome {
            Ok(()) => success,
            Err(_) => Op::TryFailed {
                object: self.object.id(),
            },
        };
        self.object.record(op, location);
        outcome
    }

    /// Takes up to `permits` free permits away for good; returns how many.
    /// The caller records it.
    pub(crate) fn forget_available(&self, permits: usize) -> usize {
        let mut state = lock_state(&self.state);
        let forgotten = permits.min(state.permits);
        state.permits -= forgotten;
        forgotten
    }

    /// Waits for `needed` permits; records `success` when they are taken.
    pub(crate) fn acquire(&self, needed: usize, success: Op, location: Location) -> Acquire<'_> {
        Acquire {
            semaphore: self,
            needed,
            success,
            location,
            point: SchedulePoint::new(),
            ticket: None,
            done: false,
        }
    }

    /// Returns permits and serves the waiters they satisfy. The caller
    /// records the release.
    #[inline]
    pub(crate) fn release(&self, permits: usize) {
        let mut state = lock_state(&self.state);
        state.permits = state.permits.saturating_add(permits);
        if state.waiters.is_empty() {
            return;
        }
        let served = serve(&mut state, self.object);
        drop(state);
        wake_all(served);
    }

    /// Fails every waiter and every later acquire. The caller records it.
    pub(crate) fn close(&self) {
        let waiters = {
            let mut state = lock_state(&self.state);
            state.closed = true;
            state.waiters.drain()
        };
        wake_all(waiters);
    }
}

/// Grants permits to head waiters while they fit, recording each
/// acquisition on its waiter's behalf.
fn serve(state: &mut BatchState, object: ObjectRef) -> Vec<Waiter<Pending>> {
    let mut served = Vec::new();
    while let Some(head) = state.waiters.front() {
        if head.payload.needed > state.permits {
            break;
        }
        state.permits -= head.payload.needed;
        let granted = state.waiters.grant_front().expect("the head exists");
        let Pending {
            task,
            success,
            location,
            ..
        } = granted.payload;
        if let Some(task) = task {
            object.record_for(task, success, location);
        }
        served.push(granted);
    }
    served
}

/// The release that gives back what `acquired` took.
fn release_of(acquired: Op) -> Op {
    match acquired {
        Op::Lock { object, mode } => Op::Unlock { object, mode },
        Op::Acquire { object, permits } => Op::Release { object, permits },
        other => unreachable!("a batch semaphore acquires by Lock or Acquire, not {other:?}"),
    }
}

/// The future of [`BatchSemaphore::acquire`].
pub(crate) struct Acquire<'a> {
    semaphore: &'a BatchSemaphore,
    needed: usize,
    success: Op,
    location: Location,
    point: SchedulePoint,
    ticket: Option<u64>,
    done: bool,
}

impl Future for Acquire<'_> {
    type Output = Result<(), Closed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        debug_assert!(!this.done, "Acquire polled after completion");
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let object = this.semaphore.object;
        let mut state = lock_state(&this.semaphore.state);
        let acquired = match this.ticket {
            Some(ticket) if state.waiters.take_grant(ticket) => {
                // Served by a release, which recorded the acquisition.
                drop(state);
                this.done = true;
                this.ticket = None;
                return Poll::Ready(Ok(()));
            }
            Some(ticket) if state.closed => {
                state.waiters.remove(ticket);
                Err(Closed)
            }
            Some(ticket) => {
                state.waiters.update_waker(ticket, cx.waker());
                drop(state);
                object.block(this.location);
                return Poll::Pending;
            }
            None if state.closed => Err(Closed),
            None if state.waiters.is_empty() && state.permits >= this.needed => {
                state.permits -= this.needed;
                Ok(())
            }
            None => {
                let pending = Pending {
                    needed: this.needed,
                    task: rt::try_current_task(),
                    success: this.success,
                    location: this.location,
                };
                this.ticket = Some(state.waiters.push(pending, cx.waker().clone()));
                drop(state);
                object.block(this.location);
                return Poll::Pending;
            }
        };
        drop(state);
        this.done = true;
        this.ticket = None;
        // A failed acquire (the semaphore is closed) read the semaphore:
        // recorded, so that the search orders it against the close.
        let op = match acquired {
            Ok(()) => this.success,
            Err(Closed) => Op::TryFailed {
                object: object.id(),
            },
        };
        object.record(op, this.location);
        Poll::Ready(acquired)
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else {
            return;
        };
        let granted = lock_state(&self.semaphore.state).waiters.is_granted(ticket);
        if granted {
            // Granted but never observed: the permits go back, a release
            // recorded like any other.
            rt::sync_point();
            let object = self.semaphore.object;
            object.record(release_of(self.success), self.location);
        }
        let served = {
            let mut state = lock_state(&self.semaphore.state);
            if state.waiters.take_grant(ticket) {
                state.permits = state.permits.saturating_add(self.needed);
            } else {
                state.waiters.remove(ticket);
            }
            // Either way the head may have changed: a smaller request behind
            // a cancelled large one may fit now.
            serve(&mut state, self.semaphore.object)
        };
        wake_all(served);
    }
}
