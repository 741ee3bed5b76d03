//! The waiting machinery of the primitives that are not over the batch
//! semaphore (`batch.rs`): a FIFO line of blocked tasks, and the one
//! future every wait in such a line is ([`Waiting`]).
//!
//! A waiter is identified by a ticket. Granting pops the head and remembers
//! its ticket, so the woken future can tell on its next poll that it was
//! served (and, if it is dropped first, hand the grant back). A wake-all
//! drains the line; the woken futures tell what happened from the state.
//!
//! As tokio's waiter lists, one shape serves every such wait: a
//! [`Waiting`] future passes a scheduling point, looks at the primitive's
//! state under its lock, and either ends the wait (recording what the
//! primitive says) or stands in line, its waker kept fresh, and blocks on
//! the object. Dropped in line, it leaves. What is specific to a primitive,
//! what "over" means, what a look takes, what is recorded, and to whom a
//! dropped waiter passes a notification it was chosen for, is its
//! [`Wait`] implementation.

use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{ObjectRef, SchedulePoint};
use racecheck_trace::{EventIndex, Location, Need, Op};
use std::collections::VecDeque;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

pub(crate) struct WaitQueue<P> {
    waiting: VecDeque<Waiter<P>>,
    granted: Vec<u64>,
    next_ticket: u64,
}

pub(crate) struct Waiter<P> {
    pub(crate) ticket: u64,
    pub(crate) waker: Waker,
    pub(crate) payload: P,
}

impl<P> Default for WaitQueue<P> {
    fn default() -> Self {
        WaitQueue::new()
    }
}

impl<P> WaitQueue<P> {
    /// An empty queue; `const` for primitives built in a `static`.
    pub(crate) const fn new() -> WaitQueue<P> {
        WaitQueue {
            waiting: VecDeque::new(),
            granted: Vec::new(),
            next_ticket: 0,
        }
    }

    /// Queues a waiter at the back and returns its ticket.
    pub(crate) fn push(&mut self, payload: P, waker: Waker) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.waiting.push_back(Waiter {
            ticket,
            waker,
            payload,
        });
        ticket
    }

    /// The longest-waiting waiter.
    pub(crate) fn front(&self) -> Option<&Waiter<P>> {
        self.waiting.front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// How many tasks wait (granted ones no longer count).
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// The tickets of the waiting tasks, oldest first.
    pub(crate) fn tickets(&self) -> impl Iterator<Item = u64> + '_ {
        self.waiting.iter().map(|waiter| waiter.ticket)
    }

    /// The ticket the next waiter will get: every waiting ticket is below.
    pub(crate) fn next_ticket(&self) -> u64 {
        self.next_ticket
    }

    /// The wakers of every waiting task, to wake once the caller released
    /// its state lock.
    pub(crate) fn wakers(&self) -> Vec<Waker> {
        self.waiting
            .iter()
            .map(|waiter| waiter.waker.clone())
            .collect()
    }

    /// Serves the head: dequeues it, remembers its grant, returns it so the
    /// caller can wake it once its own state lock is released.
    pub(crate) fn grant_front(&mut self) -> Option<Waiter<P>> {
        let waiter = self.waiting.pop_front()?;
        self.granted.push(waiter.ticket);
        Some(waiter)
    }

    /// Serves the most recent waiter, as [`grant_front`](Self::grant_front)
    /// serves the oldest.
    pub(crate) fn grant_back(&mut self) -> Option<Waiter<P>> {
        let waiter = self.waiting.pop_back()?;
        self.granted.push(waiter.ticket);
        Some(waiter)
    }

    /// Whether the ticket was granted (and the grant not yet taken).
    pub(crate) fn is_granted(&self, ticket: u64) -> bool {
        self.granted.contains(&ticket)
    }

    /// Whether the ticket was granted; consumes the grant.
    pub(crate) fn take_grant(&mut self, ticket: u64) -> bool {
        match self.granted.iter().position(|&granted| granted == ticket) {
            Some(index) => {
                self.granted.swap_remove(index);
                true
            }
            None => false,
        }
    }

    /// Replaces a waiting ticket's waker (a future polled again); returns
    /// whether the ticket was waiting.
    pub(crate) fn update_waker(&mut self, ticket: u64, waker: &Waker) -> bool {
        let Some(waiter) = self.waiting.iter_mut().find(|w| w.ticket == ticket) else {
            return false;
        };
        if !waiter.waker.will_wake(waker) {
            waiter.waker = waker.clone();
        }
        true
    }

    /// Removes a waiting ticket (its future was dropped).
    pub(crate) fn remove(&mut self, ticket: u64) -> Option<Waiter<P>> {
        let index = self.waiting.iter().position(|w| w.ticket == ticket)?;
        self.waiting.remove(index)
    }

    /// Removes every waiter, for `close` and broadcast wakes.
    pub(crate) fn drain(&mut self) -> Vec<Waiter<P>> {
        self.waiting.drain(..).collect()
    }
}

/// The event that granted each granted ticket, for waiters that learn what
/// that event published: a notification choosing a waiter (`Notify`,
/// `Condition`).
#[derive(Debug, Default)]
pub(crate) struct Causes(Vec<(u64, Option<EventIndex>)>);

impl Causes {
    /// No waiter chosen; `const` for primitives built in a `static`.
    pub(crate) const fn new() -> Causes {
        Causes(Vec::new())
    }

    /// Grants the front waiter of `waiters` on behalf of event `event`.
    pub(crate) fn grant_front<P>(
        &mut self,
        waiters: &mut WaitQueue<P>,
        event: Option<EventIndex>,
    ) -> Option<Waiter<P>> {
        let waiter = waiters.grant_front()?;
        self.0.push((waiter.ticket, event));
        Some(waiter)
    }

    /// Grants the back waiter of `waiters` on behalf of event `event`.
    pub(crate) fn grant_back<P>(
        &mut self,
        waiters: &mut WaitQueue<P>,
        event: Option<EventIndex>,
    ) -> Option<Waiter<P>> {
        let waiter = waiters.grant_back()?;
        self.0.push((waiter.ticket, event));
        Some(waiter)
    }

    /// The event that granted `ticket`, forgetting it.
    pub(crate) fn take(&mut self, ticket: u64) -> Option<Option<EventIndex>> {
        let position = self.0.iter().position(|&(granted, _)| granted == ticket)?;
        Some(self.0.swap_remove(position).1)
    }

    /// A waiter's future was dropped: it leaves the queue, or, if it had
    /// been granted, gives back the event that granted it, for the caller
    /// to pass on to the next waiter.
    pub(crate) fn cancel<P>(
        &mut self,
        waiters: &mut WaitQueue<P>,
        ticket: u64,
    ) -> Option<Option<EventIndex>> {
        if waiters.take_grant(ticket) {
            self.take(ticket)
        } else {
            waiters.remove(ticket);
            None
        }
    }
}

/// Wakes the waiters, after the caller released its state lock.
pub(crate) fn wake_all<P>(waiters: impl IntoIterator<Item = Waiter<P>>) {
    for waiter in waiters {
        waiter.waker.wake();
    }
}

/// What one kind of wait on a primitive `On` is for: the parts of a
/// [`Waiting`] future that differ from one primitive to the next.
pub(crate) trait Wait<On: ?Sized> {
    /// The primitive's state, locked while the wait looks at it.
    type State;
    /// What a look that ends the wait found, carried out of the lock.
    type Found;
    /// What the wait returns.
    type Output;

    /// Whether the wait keeps its place in line from one look to the next
    /// (its ticket names it: a grant, a snapshot taken when it joined), or
    /// leaves and joins again at the back at each look that does not end
    /// it (a wait in a line that wake-alls drain, for a state another
    /// operation may have undone before it looked: a sender's `closed`).
    const KEEPS_PLACE: bool = true;

    /// What the waiting task needs of the object, as its block records it
    /// (a message, for a receiver's wait); most waits do not say.
    const NEED: Need = Need::Unstated;

    /// The primitive's state.
    fn state(on: &On) -> &StateLock<Self::State>;

    /// The line the wait stands in.
    fn line<'s>(&self, state: &'s mut Self::State) -> &'s mut WaitQueue<()>;

    /// Looks at the state, as the waiter with `ticket` (`None`: not in line
    /// yet): what ends the wait, taken from the state (a grant, a permit),
    /// or `None` to wait on.
    fn look(&mut self, state: &mut Self::State, ticket: Option<u64>) -> Option<Self::Found>;

    /// The wait has just joined the line: what it does once the state is
    /// unlocked, before it blocks (recording an arrival, unlocking a
    /// mutex).
    fn joined(&mut self, _object: ObjectRef, _location: Location) {}

    /// Ends the wait, the state unlocked: records what it found, as an
    /// event of the waiting task on `object`.
    fn finish(&mut self, found: Self::Found, object: ObjectRef, location: Location)
        -> Self::Output;

    /// The future is dropped in line: leaves the line, and, if a
    /// notification had chosen it, passes that on.
    fn leave(&mut self, on: &On, ticket: u64) {
        let stale = self.line(&mut lock_state(Self::state(on))).remove(ticket);
        // A waker's drop is user code, which may use this primitive
        // (tokio's `send_in_waker_drop`): after the state's lock.
        drop(stale);
    }
}

/// A wait in a primitive's line, through any handle `H` on the primitive
/// (a reference, an `Arc`): a scheduling point, then a look at the state
/// that ends the wait or joins the line (or refreshes the waker there) and
/// blocks the task on the object. Dropped in line, it leaves the line
/// ([`Wait::leave`]).
pub(crate) struct Waiting<H: Deref, W: Wait<H::Target>> {
    on: H,
    wait: W,
    object: ObjectRef,
    location: Location,
    point: SchedulePoint,
    ticket: Option<u64>,
}

impl<H: Deref, W: Wait<H::Target>> Waiting<H, W> {
    /// A wait on the primitive `on`, whose object is `object`, recorded at
    /// `location`.
    pub(crate) fn new(on: H, wait: W, object: ObjectRef, location: Location) -> Waiting<H, W> {
        Waiting {
            on,
            wait,
            object,
            location,
            point: SchedulePoint::new(),
            ticket: None,
        }
    }

    /// One look, with no scheduling point and no block: `Ready` with what
    /// the wait returns once it is over (recorded), or `Pending` in line,
    /// `waker` the one a wake-up calls.
    pub(crate) fn look(&mut self, waker: &Waker) -> Poll<W::Output> {
        let mut state = lock_state(W::state(&self.on));
        let stale = match self.ticket {
            Some(ticket) if !W::KEEPS_PLACE => {
                self.ticket = None;
                self.wait.line(&mut state).remove(ticket)
            }
            _ => None,
        };
        let found = self.wait.look(&mut state, self.ticket);
        let line = self.wait.line(&mut state);
        let Some(found) = found else {
            let joined = match self.ticket {
                Some(ticket) => {
                    let in_line = line.update_waker(ticket, waker);
                    debug_assert!(
                        in_line,
                        "a wait that keeps its place and is not over is in line"
                    );
                    false
                }
                None => {
                    self.ticket = Some(line.push((), waker.clone()));
                    true
                }
            };
            drop(state);
            drop(stale);
            if joined {
                self.wait.joined(self.object, self.location);
            }
            return Poll::Pending;
        };
        // Served by a grant or drained by a wake-all, it is out of the line
        // already, unless the look found the wait over by itself.
        let left = self.ticket.take().and_then(|ticket| line.remove(ticket));
        drop(state);
        drop(stale);
        drop(left);
        Poll::Ready(self.wait.finish(found, self.object, self.location))
    }

    /// Records that the wait looked at the object without ending
    /// (`Notified::enable`).
    pub(crate) fn record_inspection(&self) {
        record_inspection(self.object, self.location);
    }

    /// The future's poll, for a primitive's future wrapping it.
    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<W::Output> {
        if self.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let outcome = self.look(cx.waker());
        if outcome.is_pending() {
            self.object.block(W::NEED, self.location);
        }
        outcome
    }
}

// Nothing in a `Waiting` is pinned structurally.
impl<H: Deref, W: Wait<H::Target>> Unpin for Waiting<H, W> {}

impl<H: Deref, W: Wait<H::Target>> Future for Waiting<H, W> {
    type Output = W::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<W::Output> {
        self.get_mut().poll_wait(cx)
    }
}

impl<H: Deref, W: Wait<H::Target>> Drop for Waiting<H, W> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            self.wait.leave(&self.on, ticket);
        }
    }
}

/// A wait until a condition on a primitive's state holds (a sender's
/// `closed`, waiting for the receivers to go), in a line whoever makes it
/// hold drains: recorded as an inspection of the object when it returns.
pub(crate) type WaitUntil<'a, S> = Waiting<&'a StateLock<S>, Until<S>>;

/// What a [`WaitUntil`] waits for: the line it stands in, and when it is
/// over.
pub(crate) struct Until<S> {
    line: fn(&mut S) -> &mut WaitQueue<()>,
    done: fn(&S) -> bool,
}

impl<S> Until<S> {
    /// The wait, in the line `line` of `state`, until `done` holds.
    pub(crate) fn wait(
        state: &StateLock<S>,
        object: ObjectRef,
        line: fn(&mut S) -> &mut WaitQueue<()>,
        done: fn(&S) -> bool,
        location: Location,
    ) -> WaitUntil<'_, S> {
        Waiting::new(state, Until { line, done }, object, location)
    }
}

impl<S> Wait<StateLock<S>> for Until<S> {
    type State = S;
    type Found = ();
    type Output = ();

    // Woken by a drain, it may find the condition undone again (a new
    // receiver subscribed): it joins again.
    const KEEPS_PLACE: bool = false;

    fn state(on: &StateLock<S>) -> &StateLock<S> {
        on
    }

    fn line<'s>(&self, state: &'s mut S) -> &'s mut WaitQueue<()> {
        (self.line)(state)
    }

    fn look(&mut self, state: &mut S, _ticket: Option<u64>) -> Option<()> {
        (self.done)(state).then_some(())
    }

    fn finish(&mut self, (): (), object: ObjectRef, location: Location) {
        record_inspection(object, location);
    }
}

fn record_inspection(object: ObjectRef, location: Location) {
    let id = object.id();
    object.record(Op::Inspect { object: id }, location);
}
