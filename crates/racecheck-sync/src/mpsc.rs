//! Multi-producer, single-consumer channels with tokio's API.
//!
//! - [`channel`]`(capacity)`: `send().await` is a scheduling point and
//!   blocks while the channel is full; blocked senders are served FIFO.
//! - [`unbounded_channel`]: `send` never blocks and is synchronous.
//! - `recv().await` is a scheduling point; it blocks while the channel is
//!   empty and returns `None` once it is empty and every sender is gone (or
//!   the receiver closed it).
//! - Dropping the receiver (or `close()`) makes sends fail with the value
//!   handed back; messages already queued can still be received.
//! - Cancellation: dropping a pending `send` leaves the queue (a slot it was
//!   given passes to the next sender); dropping a pending `recv` loses
//!   nothing.
//!
//! ```
//! use racecheck_sync::mpsc;
//!
//! racecheck_explore::explore(&Default::default(), || async {
//!     let (pages, mut inbox) = mpsc::channel(2);
//!     let crawler = racecheck_runtime::spawn(async move {
//!         for page in ["/", "/about"] {
//!             pages.send(page).await.unwrap();
//!         }
//!     });
//!     assert_eq!(inbox.recv().await, Some("/"));
//!     assert_eq!(inbox.recv().await, Some("/about"));
//!     assert_eq!(inbox.recv().await, None); // the crawler's sender is gone
//!     crawler.await;
//! });
//! ```

use crate::wait_queue::{wake_all, WaitQueue, Waiter};
use crate::{lock_state, StateGuard, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{Location, ObjectKind, Op};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// A bounded channel holding at most `capacity` messages.
///
/// # Panics
/// If `capacity` is 0 (as tokio), or outside a racecheck execution.
#[track_caller]
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "mpsc bounded channel requires capacity > 0");
    let channel = Channel::new(Some(capacity), Location::caller());
    (
        Sender {
            channel: channel.clone(),
        },
        Receiver { channel },
    )
}

/// A channel without a bound: sending never blocks.
///
/// ```
/// racecheck_explore::explore(&Default::default(), || async {
///     let (log, mut lines) = racecheck_sync::mpsc::unbounded_channel();
///     log.send("started").unwrap();
///     assert_eq!(lines.recv().await, Some("started"));
/// });
/// ```
#[track_caller]
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let channel = Channel::new(None, Location::caller());
    (
        UnboundedSender {
            channel: channel.clone(),
        },
        UnboundedReceiver {
            receiver: Receiver { channel },
        },
    )
}

/// The receiver is gone; the value is handed back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("channel closed")]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

/// Why `try_send` failed; the value is handed back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError<T> {
    /// The channel is full (or senders are queued).
    #[error("no available capacity")]
    Full(T),
    /// The receiver is gone.
    #[error("channel closed")]
    Closed(T),
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

/// Why `try_recv` got nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// No message now; senders remain.
    #[error("receiving on an empty channel")]
    Empty,
    /// No message, and every sender is gone.
    #[error("receiving on a closed channel")]
    Disconnected,
}

struct Channel<T> {
    state: StateLock<ChannelState<T>>,
    object: ObjectRef,
    created_at: Location,
}

struct ChannelState<T> {
    queue: VecDeque<T>,
    /// `None` for unbounded channels.
    capacity: Option<usize>,
    /// Slots promised to served senders that have not sent yet.
    reserved: usize,
    senders: usize,
    receiver_open: bool,
    receiver: Option<Waker>,
    blocked_senders: WaitQueue<()>,
}

impl<T> ChannelState<T> {
    fn has_room(&self) -> bool {
        self.capacity
            .is_none_or(|capacity| self.queue.len() + self.reserved < capacity)
    }

    /// Promises free slots to blocked senders, in order.
    fn serve_senders(&mut self) -> Vec<Waiter<()>> {
        let mut served = Vec::new();
        while self.has_room() {
            let Some(waiter) = self.blocked_senders.grant_front() else {
                break;
            };
            self.reserved += 1;
            served.push(waiter);
        }
        served
    }
}

impl<T> Channel<T> {
    fn new(capacity: Option<usize>, location: Location) -> Arc<Channel<T>> {
        Arc::new(Channel {
            state: StateLock::new(ChannelState {
                queue: VecDeque::new(),
                capacity,
                reserved: 0,
                senders: 1,
                receiver_open: true,
                receiver: None,
                blocked_senders: WaitQueue::default(),
            }),
            object: rt::register(ObjectKind::Channel, None, location),
            created_at: location,
        })
    }

    fn record(&self, op: fn(racecheck_trace::ObjectId) -> Op, location: Location) {
        self.object.record(op(self.object.id()), location);
    }

    /// Queues a value (room already checked) and wakes the receiver.
    fn deliver(&self, mut state: StateGuard<'_, ChannelState<T>>, value: T) {
        state.queue.push_back(value);
        let receiver = state.receiver.take();
        drop(state);
        if let Some(receiver) = receiver {
            receiver.wake();
        }
    }

    fn add_sender(&self) {
        lock_state(&self.state).senders += 1;
    }

    fn drop_sender(&self) {
        rt::sync_point();
        let (last, receiver) = {
            let mut state = lock_state(&self.state);
            state.senders -= 1;
            let last = state.senders == 0;
            (last, if last { state.receiver.take() } else { None })
        };
        // Every sender's drop orders what it did before the `None` the
        // receiver gets once all are gone.
        self.record(|object| Op::DropSender { object }, self.created_at);
        if !last {
            return;
        }
        self.record(|object| Op::Close { object }, self.created_at);
        if let Some(receiver) = receiver {
            receiver.wake();
        }
    }

    fn close_receiver(&self, location: Location) {
        rt::sync_point();
        let senders = {
            let mut state = lock_state(&self.state);
            if !state.receiver_open {
                return;
            }
            state.receiver_open = false;
            state.blocked_senders.drain()
        };
        self.record(|object| Op::Close { object }, location);
        wake_all(senders);
    }

    fn try_send(&self, value: T, location: Location) -> Result<(), TrySendError<T>> {
        rt::sync_point();
        let state = lock_state(&self.state);
        if !state.receiver_open {
            drop(state);
            self.record(|object| Op::TryFailed { object }, location);
            return Err(TrySendError::Closed(value));
        }
        if !state.blocked_senders.is_empty() || !state.has_room() {
            drop(state);
            self.record(|object| Op::TryFailed { object }, location);
            return Err(TrySendError::Full(value));
        }
        self.record(|object| Op::Send { object }, location);
        self.deliver(state, value);
        Ok(())
    }

    fn try_recv(&self, location: Location) -> Result<T, TryRecvError> {
        rt::sync_point();
        let (value, served) = {
            let mut state = lock_state(&self.state);
            match state.queue.pop_front() {
                Some(value) => (Ok(value), state.serve_senders()),
                None if state.senders == 0 || !state.receiver_open => {
                    (Err(TryRecvError::Disconnected), Vec::new())
                }
                None => (Err(TryRecvError::Empty), Vec::new()),
            }
        };
        match value {
            Ok(_) => self.record(|object| Op::Recv { object }, location),
            Err(TryRecvError::Disconnected) => {
                self.record(|object| Op::RecvClosed { object }, location)
            }
            Err(TryRecvError::Empty) => self.record(|object| Op::TryFailed { object }, location),
        }
        wake_all(served);
        value
    }
}

/// Sends to a bounded channel; clone it for more producers.
pub struct Sender<T> {
    channel: Arc<Channel<T>>,
}

impl<T> Sender<T> {
    /// Waits for room, then sends. Fails, handing the value back, if the
    /// receiver is gone.
    #[track_caller]
    pub fn send(&self, value: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        Send {
            channel: &self.channel,
            value: Some(value),
            location: Location::caller(),
            point: SchedulePoint::new(),
            ticket: None,
        }
    }

    /// Sends if there is room now. Synchronous: a scheduling
    /// point at step granularity only.
    #[track_caller]
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.channel.try_send(value, Location::caller())
    }

    /// Whether the receiver is gone.
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        crate::inspect(self.channel.object, Location::caller(), || {
            !lock_state(&self.channel.state).receiver_open
        })
    }

    /// The channel's capacity now: free slots.
    #[track_caller]
    pub fn capacity(&self) -> usize {
        crate::inspect(self.channel.object, Location::caller(), || {
            let state = lock_state(&self.channel.state);
            let capacity = state.capacity.unwrap_or(usize::MAX);
            capacity.saturating_sub(state.queue.len() + state.reserved)
        })
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.channel.add_sender();
        Sender {
            channel: self.channel.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.channel.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("channel", &self.channel.object.id())
            .finish()
    }
}

struct Send<'a, T> {
    channel: &'a Channel<T>,
    value: Option<T>,
    location: Location,
    point: SchedulePoint,
    ticket: Option<u64>,
}

impl<T> Unpin for Send<'_, T> {}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.point.poll_point().is_pending() {
            return Poll::Pending;
        }
        let channel = this.channel;
        let mut state = lock_state(&channel.state);
        let value = this.value.take().expect("Send polled after completion");
        if !state.receiver_open {
            let served = match this.ticket.take() {
                Some(ticket) => state.waiters_forget(ticket),
                None => Vec::new(),
            };
            drop(state);
            wake_all(served);
            channel.record(|object| Op::TryFailed { object }, this.location);
            return Poll::Ready(Err(SendError(value)));
        }
        let may_send = match this.ticket {
            Some(ticket) => state.blocked_senders.take_grant(ticket),
            None => state.blocked_senders.is_empty() && state.has_room(),
        };
        if may_send {
            if this.ticket.take().is_some() {
                state.reserved -= 1;
            }
            channel.record(|object| Op::Send { object }, this.location);
            channel.deliver(state, value);
            return Poll::Ready(Ok(()));
        }
        this.value = Some(value);
        match this.ticket {
            Some(ticket) => state.blocked_senders.update_waker(ticket, cx.waker()),
            None => this.ticket = Some(state.blocked_senders.push((), cx.waker().clone())),
        }
        drop(state);
        channel.object.block(this.location);
        Poll::Pending
    }
}

impl<T> ChannelState<T> {
    /// Forgets a sender's place: its grant (freeing the reserved slot) or
    /// its queue entry. Returns the senders served by a freed slot.
    fn waiters_forget(&mut self, ticket: u64) -> Vec<Waiter<()>> {
        if self.blocked_senders.take_grant(ticket) {
            self.reserved -= 1;
            return self.serve_senders();
        }
        self.blocked_senders.remove(ticket);
        Vec::new()
    }
}

impl<T> Drop for Send<'_, T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            let served = lock_state(&self.channel.state).waiters_forget(ticket);
            wake_all(served);
        }
    }
}

/// Receives from a bounded channel.
pub struct Receiver<T> {
    channel: Arc<Channel<T>>,
}

impl<T> Receiver<T> {
    /// Waits for a message; `None` once the channel is empty and every
    /// sender is gone.
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Option<T>> + '_ {
        Recv {
            channel: &self.channel,
            location: Location::caller(),
            point: SchedulePoint::new(),
        }
    }

    /// A message if one is queued now. Synchronous: a scheduling
    /// point at step granularity only.
    #[track_caller]
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.channel.try_recv(Location::caller())
    }

    /// Closes the channel for sending; queued messages stay receivable.
    #[track_caller]
    pub fn close(&mut self) {
        self.channel.close_receiver(Location::caller());
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let location = self.channel.created_at;
        self.channel.close_receiver(location);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("channel", &self.channel.object.id())
            .finish()
    }
}

struct Recv<'a, T> {
    channel: &'a Channel<T>,
    location: Location,
    point: SchedulePoint,
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        if this.point.poll_point().is_pending() {
            return Poll::Pending;
        }
        let channel = this.channel;
        let mut state = lock_state(&channel.state);
        if let Some(value) = state.queue.pop_front() {
            let served = state.serve_senders();
            drop(state);
            channel.record(|object| Op::Recv { object }, this.location);
            wake_all(served);
            return Poll::Ready(Some(value));
        }
        if state.senders == 0 || !state.receiver_open {
            drop(state);
            channel.record(|object| Op::RecvClosed { object }, this.location);
            return Poll::Ready(None);
        }
        state.receiver = Some(cx.waker().clone());
        drop(state);
        channel.object.block(this.location);
        Poll::Pending
    }
}

/// Sends to an unbounded channel; never blocks.
pub struct UnboundedSender<T> {
    channel: Arc<Channel<T>>,
}

impl<T> UnboundedSender<T> {
    /// Sends at once (synchronous: a scheduling point at step granularity
    /// only). Fails, handing the value back, if the receiver is gone.
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.channel
            .try_send(value, Location::caller())
            .map_err(|error| match error {
                TrySendError::Full(value) | TrySendError::Closed(value) => SendError(value),
            })
    }

    /// Whether the receiver is gone.
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        crate::inspect(self.channel.object, Location::caller(), || {
            !lock_state(&self.channel.state).receiver_open
        })
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        self.channel.add_sender();
        UnboundedSender {
            channel: self.channel.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        self.channel.drop_sender();
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender")
            .field("channel", &self.channel.object.id())
            .finish()
    }
}

/// Receives from an unbounded channel.
#[derive(Debug)]
pub struct UnboundedReceiver<T> {
    receiver: Receiver<T>,
}

impl<T> UnboundedReceiver<T> {
    /// Waits for a message; `None` once the channel is empty and every
    /// sender is gone.
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Option<T>> + '_ {
        Recv {
            channel: &self.receiver.channel,
            location: Location::caller(),
            point: SchedulePoint::new(),
        }
    }

    /// A message if one is queued now. Synchronous: a scheduling
    /// point at step granularity only.
    #[track_caller]
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.receiver.channel.try_recv(Location::caller())
    }

    /// Closes the channel for sending.
    #[track_caller]
    pub fn close(&mut self) {
        self.receiver.channel.close_receiver(Location::caller());
    }
}
