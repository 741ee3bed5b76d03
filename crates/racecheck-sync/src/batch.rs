//! The fair batch semaphore, as in tokio: under [`Mutex`](crate::Mutex),
//! [`RwLock`](crate::RwLock), [`Semaphore`](crate::Semaphore) and
//! [`BoundedSemaphore`](crate::BoundedSemaphore), and under the bounded
//! [`mpsc`](crate::mpsc) channel's capacity and the
//! [`Queue`](crate::Queue)'s slots and items, which share their
//! primitive's object ([`BatchSemaphore::over`]).
//!
//! Semantics, in one place:
//! - **blocks** when fewer permits are free than requested, or when anyone
//!   is already queued (FIFO, no barging: a large request at the head holds
//!   back smaller ones behind it);
//! - **collects**, as tokio's: a request at the head takes the permits that
//!   are free, and those released while it waits, towards what it needs,
//!   so `available_permits` (a channel's `capacity`) drops while it waits.
//!   The collection is not recorded: the acquisition is, once complete, and
//!   it learns from every release before it (they publish into the
//!   object's one clock). A request dropped before it is complete gives
//!   what it collected back, unrecorded, as a wait leaving the line does;
//!   whoever takes those permits then learns from the releases that freed
//!   them, through the same clock;
//! - **wakes** on release: permits go straight to the head waiters, in
//!   order, as long as they fit; the woken task finds them already its own.
//!   For a lock or a semaphore ([`BatchSemaphore::acquire`]) the
//!   acquisition is recorded then, in the releasing step, on the waiter's
//!   behalf (`ObjectRef::record_for`): from the release on, the lock is the
//!   waiter's, whatever other tasks do before it runs again. A channel's
//!   sender or a queue's putter ([`BatchSemaphore::wait`]) records its own
//!   operation (`Send`, `Reserve`, `Recv`) when it runs again;
//! - **cancellation**: dropping a pending wait leaves the queue; if it had
//!   already been granted permits, they are released again (recorded as a
//!   release for an acquire; a wait's primitive records nothing, as the
//!   permits were never used), and whoever they now fit is served;
//! - **close**: every waiter and every later acquire fails (recorded as a
//!   failed try, which reads the semaphore);
//! - **scheduling points**: an acquire passes one before it tries (a wait's
//!   future passes its own); the synchronous operations (`try_acquire`,
//!   releases, `add_permits`, `close`) are one at step granularity, as
//!   every visible operation is.

use crate::wait_queue::{wake_all, WaitQueue, Waiter};
use crate::{lock_state, StateGuard, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{Location, Need, ObjectKind, Op, TaskId};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

pub(crate) struct BatchSemaphore {
    state: StateLock<BatchState>,
    object: ObjectRef,
    /// What its waiters need, as their blocks record it, when their
    /// request does not say (a lock's mode does): a channel's slot, a
    /// queue's item.
    need: Need,
}

struct BatchState {
    /// Free permits: while anyone waits (and the semaphore is open) none,
    /// as releases go to the head waiter.
    permits: usize,
    closed: bool,
    waiters: WaitQueue<Pending>,
    /// Permits the head waiter has collected towards a request larger
    /// than what was free, by its ticket (tokio's partial assignment). A
    /// waiter the close drained keeps them until it looks or is dropped.
    assigned: Option<(u64, usize)>,
}

impl BatchState {
    /// The permits `ticket` has collected, taken back from it.
    fn take_assigned(&mut self, ticket: u64) -> usize {
        match self.assigned {
            Some((holder, assigned)) if holder == ticket => {
                self.assigned = None;
                assigned
            }
            _ => 0,
        }
    }
}

/// A queued wait: what it needs, and what to record when it is served.
struct Pending {
    needed: usize,
    /// The waiting task, the acquisition recorded on its behalf when a
    /// release serves it, and where. `None` records nothing: a destructor
    /// run at teardown, when no task runs, or a [`PermitWait`] whose task
    /// records its own operation when it runs again.
    on_grant: Option<(TaskId, Op, Location)>,
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

/// How a wait got its permits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Taken {
    /// Free when it looked: taken then, by the waiting task itself.
    Now,
    /// Granted by a release while it waited in line.
    Granted,
}

impl BatchSemaphore {
    pub(crate) fn new(
        permits: usize,
        kind: ObjectKind,
        name: Option<Cow<'static, str>>,
        location: Location,
    ) -> BatchSemaphore {
        BatchSemaphore::over(rt::register(kind, name, location), permits, Need::Unstated)
    }

    /// A semaphore over a primitive's own object (a channel's capacity, a
    /// queue's slots): its waiters block on that object needing `need` of
    /// it (a slot, an item), and it records only what its callers ask for.
    pub(crate) fn over(object: ObjectRef, permits: usize, need: Need) -> BatchSemaphore {
        BatchSemaphore {
            state: StateLock::new(BatchState {
                permits,
                closed: false,
                waiters: WaitQueue::default(),
                assigned: None,
            }),
            object,
            need,
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
                assigned: None,
            }),
            object: ObjectRef::untracked(location),
            need: Need::Unstated,
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
        let outcome = self.try_take(needed);
        let op = match outcome {
            Ok(()) => success,
            Err(_) => Op::TryFailed {
                object: self.object.id(),
            },
        };
        self.object.record(op, location);
        outcome
    }

    /// [`try_acquire`](Self::try_acquire) without the scheduling point and
    /// the record, for a primitive that records its own operation.
    pub(crate) fn try_take(&self, needed: usize) -> Result<(), TryAcquire> {
        let mut state = lock_state(&self.state);
        if state.closed {
            Err(TryAcquire::Closed)
        } else if state.waiters.is_empty() && state.permits >= needed {
            state.permits -= needed;
            Ok(())
        } else {
            Err(TryAcquire::NoPermits)
        }
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
            wait: PermitWait {
                semaphore: self,
                needed,
                location,
                success: Some(success),
                ticket: None,
            },
            success,
            point: SchedulePoint::new(),
            done: false,
        }
    }

    /// A wait for `needed` permits that records nothing: its caller passes
    /// its own scheduling point, polls it and records what it does with
    /// the permits.
    pub(crate) fn wait(&self, needed: usize, location: Location) -> PermitWait<'_> {
        PermitWait {
            semaphore: self,
            needed,
            location,
            success: None,
            ticket: None,
        }
    }

    /// Records `op` of the running task on the semaphore's object, which
    /// it names in place (a copy of it would be made for the call).
    #[inline]
    pub(crate) fn record(&self, op: Op, location: Location) {
        self.object.record(op, location);
    }

    /// Returns permits and serves the waiters they satisfy. The caller
    /// records the release.
    #[inline]
    pub(crate) fn release(&self, permits: usize) {
        let mut state = lock_state(&self.state);
        state.permits = state.permits.saturating_add(permits);
        if !state.waiters.is_empty() {
            self.serve_released(state);
        }
    }

    /// Serves the waiters released permits satisfy, and wakes them once
    /// the state is unlocked. Out of line, so that a release nobody waits
    /// for is small enough to inline.
    #[inline(never)]
    fn serve_released(&self, mut state: StateGuard<'_, BatchState>) {
        let served = serve(&mut state, self.object);
        drop(state);
        served.wake();
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
/// acquisition on its waiter's behalf where it asked for that; a head they
/// do not satisfy collects them towards its request.
fn serve(state: &mut BatchState, object: ObjectRef) -> Served {
    let mut served = Served::default();
    while let Some(head) = state.waiters.front() {
        let (ticket, needed) = (head.ticket, head.payload.needed);
        let collected = state.take_assigned(ticket);
        let missing = needed - collected;
        if missing > state.permits {
            let collected = collected + std::mem::take(&mut state.permits);
            if collected > 0 {
                state.assigned = Some((ticket, collected));
            }
            break;
        }
        state.permits -= missing;
        let granted = state.waiters.grant_front().expect("the head exists");
        if let Some((task, success, location)) = granted.payload.on_grant {
            object.record_for(task, success, location);
        }
        served.push(granted);
    }
    served
}

/// The waiters [`serve`] granted, to wake once the state lock is released:
/// the first without allocating (a mutex's release serves one waiter), any
/// others after it, in the order they were served.
#[derive(Default)]
struct Served {
    first: Option<Waiter<Pending>>,
    rest: Vec<Waiter<Pending>>,
}

impl Served {
    fn push(&mut self, waiter: Waiter<Pending>) {
        if self.first.is_none() {
            self.first = Some(waiter);
        } else {
            self.rest.push(waiter);
        }
    }

    fn wake(self) {
        wake_all(self.first.into_iter().chain(self.rest));
    }
}

/// The release that gives back what `acquired` took.
fn release_of(acquired: Op) -> Op {
    match acquired {
        Op::Lock { object, mode } => Op::Unlock { object, mode },
        Op::Acquire { object, permits } => Op::Release { object, permits },
        other => unreachable!("a batch semaphore acquires by Lock or Acquire, not {other:?}"),
    }
}

/// A place in the semaphore's line, the wait every future over it shares
/// (an acquire, a channel's send and reserve, a queue's put and get): a
/// ticket while it waits, the permits once taken or granted. Dropped while
/// it waits, it leaves the line; dropped granted, it hands the permits
/// back; either way whoever now fits is served.
pub(crate) struct PermitWait<'a> {
    semaphore: &'a BatchSemaphore,
    needed: usize,
    location: Location,
    /// What a release serving it records on its task's behalf.
    success: Option<Op>,
    ticket: Option<u64>,
}

impl PermitWait<'_> {
    /// Tries for the permits, with no scheduling point: `Ready(Ok)` once
    /// they are the caller's, `Ready(Err)` if the semaphore closed first,
    /// or `Pending` in line, the task blocked on the semaphore's object.
    #[inline]
    pub(crate) fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<Result<Taken, Closed>> {
        let mut state = lock_state(&self.semaphore.state);
        // The common case, inline: not in line, and the permits are free.
        if self.ticket.is_none()
            && !state.closed
            && state.waiters.is_empty()
            && state.permits >= self.needed
        {
            state.permits -= self.needed;
            return Poll::Ready(Ok(Taken::Now));
        }
        self.poll_take_locked(state, cx)
    }

    /// [`poll_take`](Self::poll_take) with the state locked, for every
    /// case but permits taken at the first look.
    #[inline(never)]
    fn poll_take_locked(
        &mut self,
        mut state: StateGuard<'_, BatchState>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Taken, Closed>> {
        let semaphore = self.semaphore;
        let outcome = match self.ticket {
            // Served by a release, which recorded what it asked for.
            Some(ticket) if state.waiters.take_grant(ticket) => Ok(Taken::Granted),
            Some(ticket) if state.closed => {
                state.waiters.remove(ticket);
                let collected = state.take_assigned(ticket);
                state.permits = state.permits.saturating_add(collected);
                Err(Closed)
            }
            Some(ticket) => {
                state.waiters.update_waker(ticket, cx.waker());
                drop(state);
                semaphore.object.block(self.need(), self.location);
                return Poll::Pending;
            }
            None if state.closed => Err(Closed),
            None if state.waiters.is_empty() && state.permits >= self.needed => {
                state.permits -= self.needed;
                Ok(Taken::Now)
            }
            None => {
                let pending = Pending {
                    needed: self.needed,
                    on_grant: self
                        .success
                        .zip(rt::try_current_task())
                        .map(|(success, task)| (task, success, self.location)),
                };
                let ticket = state.waiters.push(pending, cx.waker().clone());
                self.ticket = Some(ticket);
                if state.waiters.len() == 1 && state.permits > 0 {
                    // At the head: what is free now is its start.
                    state.assigned = Some((ticket, state.permits));
                    state.permits = 0;
                }
                drop(state);
                semaphore.object.block(self.need(), self.location);
                return Poll::Pending;
            }
        };
        self.ticket = None;
        Poll::Ready(outcome)
    }

    /// What the waiting task needs, for its block: the lock in the mode
    /// its success records, or what the semaphore's waiters need.
    fn need(&self) -> Need {
        match self.success {
            Some(Op::Lock { mode, .. }) => Need::Lock(mode),
            _ => self.semaphore.need,
        }
    }

    /// Whether it waits in line (or was granted and has not looked yet).
    #[inline]
    pub(crate) fn is_waiting(&self) -> bool {
        self.ticket.is_some()
    }

    /// Whether a release granted it permits it has not looked at yet.
    fn is_granted(&self) -> bool {
        self.ticket
            .is_some_and(|ticket| lock_state(&self.semaphore.state).waiters.is_granted(ticket))
    }

    /// Gives up its place: leaves the line, or hands back permits it was
    /// granted, and serves whoever fits now. Nothing recorded.
    pub(crate) fn cancel(&mut self) {
        let Some(ticket) = self.ticket.take() else {
            return;
        };
        let served = {
            let mut state = lock_state(&self.semaphore.state);
            let given_back = if state.waiters.take_grant(ticket) {
                self.needed
            } else {
                state.waiters.remove(ticket);
                // Collected, never acquired: back unrecorded, as a wait
                // leaving the line is.
                state.take_assigned(ticket)
            };
            state.permits = state.permits.saturating_add(given_back);
            // Either way the head may have changed: a smaller request behind
            // a cancelled large one may fit now.
            serve(&mut state, self.semaphore.object)
        };
        served.wake();
    }
}

impl Drop for PermitWait<'_> {
    #[inline]
    fn drop(&mut self) {
        // Inline, so that the drop of a wait that ended costs a test.
        if self.is_waiting() {
            self.cancel();
        }
    }
}

/// The future of [`BatchSemaphore::acquire`].
pub(crate) struct Acquire<'a> {
    wait: PermitWait<'a>,
    success: Op,
    point: SchedulePoint,
    done: bool,
}

impl Future for Acquire<'_> {
    type Output = Result<(), Closed>;

    // Always inline into the awaiting future's poll: the scheduling
    // point's first poll and the permits taken at once cost no call but
    // the record's.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        debug_assert!(!this.done, "Acquire polled after completion");
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let taken = ready!(this.wait.poll_take(cx));
        this.done = true;
        // A failed acquire (the semaphore is closed) read the semaphore:
        // recorded, so that the search orders it against the close.
        let object = &this.wait.semaphore.object;
        let op = match taken {
            Ok(Taken::Granted) => return Poll::Ready(Ok(())),
            Ok(Taken::Now) => this.success,
            Err(Closed) => Op::TryFailed {
                object: object.id(),
            },
        };
        object.record(op, this.wait.location);
        Poll::Ready(taken.map(drop))
    }
}

impl Acquire<'_> {
    /// Records the release of permits granted while it waited and never
    /// observed, which the wait's own drop, next, gives back.
    #[inline(never)]
    fn drop_waiting(&mut self) {
        if self.wait.is_granted() {
            rt::sync_point();
            let object = self.wait.semaphore.object;
            object.record(release_of(self.success), self.wait.location);
        }
    }
}

impl Drop for Acquire<'_> {
    #[inline]
    fn drop(&mut self) {
        // Inline, so that the drop of an acquire that ended costs a test.
        if self.wait.is_waiting() {
            self.drop_waiting();
        }
    }
}
