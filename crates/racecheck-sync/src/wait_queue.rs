//! A FIFO queue of blocked tasks, shared by the primitives.
//!
//! A waiter is identified by a ticket. Granting pops the head and remembers
//! its ticket, so the woken future can tell on its next poll that it was
//! served (and, if it is dropped first, hand the grant back).

use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{ObjectRef, SchedulePoint};
use racecheck_trace::{EventIndex, Location, Need, Op};
use std::collections::VecDeque;
use std::future::Future;
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

    /// Replaces a waiting ticket's waker (a future polled again).
    pub(crate) fn update_waker(&mut self, ticket: u64, waker: &Waker) {
        if let Some(waiter) = self.waiting.iter_mut().find(|w| w.ticket == ticket) {
            if !waiter.waker.will_wake(waker) {
                waiter.waker = waker.clone();
            }
        }
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
pub(crate) fn wake_all<P>(waiters: Vec<Waiter<P>>) {
    for waiter in waiters {
        waiter.waker.wake();
    }
}

/// A wait in a primitive's queue until a condition on its state holds (a
/// sender's `closed`, waiting for the receivers to go): a scheduling point,
/// then, once `done` holds, an inspection of the object; until then the
/// task blocks there. Whoever makes `done` hold wakes the queue.
pub(crate) struct WaitUntil<'a, S> {
    state: &'a StateLock<S>,
    object: ObjectRef,
    queue: fn(&mut S) -> &mut WaitQueue<()>,
    done: fn(&S) -> bool,
    location: Location,
    point: SchedulePoint,
    ticket: Option<u64>,
}

impl<'a, S> WaitUntil<'a, S> {
    pub(crate) fn new(
        state: &'a StateLock<S>,
        object: ObjectRef,
        queue: fn(&mut S) -> &mut WaitQueue<()>,
        done: fn(&S) -> bool,
        location: Location,
    ) -> WaitUntil<'a, S> {
        WaitUntil {
            state,
            object,
            queue,
            done,
            location,
            point: SchedulePoint::new(),
            ticket: None,
        }
    }
}

impl<S> Unpin for WaitUntil<'_, S> {}

impl<S> Future for WaitUntil<'_, S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let mut state = lock_state(this.state);
        if let Some(ticket) = this.ticket.take() {
            // Woken waiters were drained already; this forgets a stale one.
            (this.queue)(&mut state).remove(ticket);
        }
        if (this.done)(&state) {
            drop(state);
            let object = this.object.id();
            this.object.record(Op::Inspect { object }, this.location);
            return Poll::Ready(());
        }
        this.ticket = Some((this.queue)(&mut state).push((), cx.waker().clone()));
        drop(state);
        this.object.block(Need::Unstated, this.location);
        Poll::Pending
    }
}

impl<S> Drop for WaitUntil<'_, S> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            (self.queue)(&mut lock_state(self.state)).remove(ticket);
        }
    }
}
