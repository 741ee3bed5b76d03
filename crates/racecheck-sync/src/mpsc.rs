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
//! A bounded channel's capacity is a fair batch semaphore over the
//! channel's own object (`batch.rs`), as in tokio: `send`, `reserve` and
//! `try_*` take a slot (`reserve_many(n)` takes `n`), a receive or an
//! unused permit gives one back, and closing the receiver closes it, so
//! FIFO service, no barging and the hand-on of a dropped waiter's slots
//! are the semaphore's. It records nothing itself: a served sender records
//! its `Send` or `Reserve` when it runs again.
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

use crate::batch::{BatchSemaphore, PermitWait};
use crate::wait_queue::{wake_all, Until, WaitQueue, WaitUntil};
use crate::{lock_state, StateGuard, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{Location, Need, ObjectKind, Op};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

/// A bounded channel holding at most `capacity` messages.
///
/// # Panics
/// If `capacity` is 0 (as tokio).
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

impl<T> TrySendError<T> {
    /// The value handed back.
    ///
    /// ```
    /// use racecheck_sync::mpsc::TrySendError;
    /// assert_eq!(TrySendError::Full(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(value) | TrySendError::Closed(value) => value,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

/// Why `send_timeout` failed; the value is handed back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendTimeoutError<T> {
    /// The channel stayed full until the timeout.
    #[error("timed out waiting on send operation")]
    Timeout(T),
    /// The receiver is gone.
    #[error("channel closed")]
    Closed(T),
}

impl<T> SendTimeoutError<T> {
    /// The value handed back.
    ///
    /// ```
    /// use racecheck_sync::mpsc::SendTimeoutError;
    /// assert_eq!(SendTimeoutError::Timeout(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(value) | SendTimeoutError::Closed(value) => value,
        }
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Closed(_) => f.write_str("Closed(..)"),
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
    /// `usize::MAX` for unbounded channels.
    capacity: usize,
    /// A bounded channel's slots neither filled nor reserved, over the
    /// channel's object; `None` for unbounded channels. Blocked senders
    /// wait here, for 1 slot (or `n` for `reserve_many(n)`); a receive
    /// releases one.
    slots: Option<BatchSemaphore>,
    object: ObjectRef,
    created_at: Location,
}

// A panic while the state lock is held cannot leave the channel
// inconsistent: every change is made under the lock in one go. As tokio,
// the handles may cross `catch_unwind`.
impl<T> std::panic::RefUnwindSafe for Channel<T> {}

struct ChannelState<T> {
    queue: VecDeque<T>,
    senders: usize,
    /// Live `WeakSender`s and `WeakUnboundedSender`s.
    weak_senders: usize,
    receiver_open: bool,
    receiver: Option<Waker>,
    /// Senders waiting in `closed` for the receiver to go.
    closed_waiters: WaitQueue<()>,
}

impl<T> Channel<T> {
    fn new(capacity: Option<usize>, location: Location) -> Arc<Channel<T>> {
        let object = rt::register(ObjectKind::Channel, None, location);
        Arc::new(Channel {
            state: StateLock::new(ChannelState {
                queue: VecDeque::new(),
                senders: 1,
                weak_senders: 0,
                receiver_open: true,
                receiver: None,
                closed_waiters: WaitQueue::default(),
            }),
            capacity: capacity.unwrap_or(usize::MAX),
            slots: capacity.map(|capacity| BatchSemaphore::over(object, capacity, Need::Slot)),
            object,
            created_at: location,
        })
    }

    /// The slots of a bounded channel, the only kind whose senders wait
    /// and reserve.
    fn slots(&self) -> &BatchSemaphore {
        self.slots
            .as_ref()
            .expect("only a bounded channel's senders wait for slots")
    }

    /// Slots reserved (by permits, or granted to senders that have not
    /// run yet) and not filled: a closed channel's `recv` waits for them,
    /// as tokio's.
    fn reserved(&self, state: &ChannelState<T>) -> usize {
        self.slots.as_ref().map_or(0, |slots| {
            self.capacity - slots.available_permits() - state.queue.len()
        })
    }

    /// Wakes the receiver when it closed the channel and nothing more can
    /// come: no message queued, no slot reserved.
    fn wake_idle_receiver(&self) {
        let receiver = {
            let mut state = lock_state(&self.state);
            let idle = !state.receiver_open && state.queue.is_empty() && self.reserved(&state) == 0;
            if idle {
                state.receiver.take()
            } else {
                None
            }
        };
        if let Some(receiver) = receiver {
            receiver.wake();
        }
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

    fn max_capacity(&self) -> usize {
        self.capacity
    }

    fn add_sender(&self) {
        lock_state(&self.state).senders += 1;
    }

    fn drop_sender(&self) {
        self.object.end_dropped(Need::Message);
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
        let closed_waiters = {
            let mut state = lock_state(&self.state);
            if !state.receiver_open {
                return;
            }
            state.receiver_open = false;
            state.closed_waiters.drain()
        };
        // Wakes the blocked senders, which find the receiver gone.
        if let Some(slots) = &self.slots {
            slots.close();
        }
        self.record(|object| Op::Close { object }, location);
        wake_all(closed_waiters);
    }

    fn try_send(&self, value: T, location: Location) -> Result<(), TrySendError<T>> {
        rt::sync_point();
        let state = lock_state(&self.state);
        if !state.receiver_open {
            drop(state);
            self.record(|object| Op::TryFailed { object }, location);
            return Err(TrySendError::Closed(value));
        }
        let full = (self.slots.as_ref()).is_some_and(|slots| slots.try_take(1).is_err());
        if full {
            drop(state);
            self.record(|object| Op::TryFailed { object }, location);
            return Err(TrySendError::Full(value));
        }
        self.record(|object| Op::Send { object }, location);
        self.deliver(state, value);
        Ok(())
    }

    /// Waits until the receiver is gone (dropped or closed).
    fn closed(&self, location: Location) -> WaitUntil<'_, ChannelState<T>> {
        Until::wait(
            &self.state,
            self.object,
            |state| &mut state.closed_waiters,
            |state| !state.receiver_open,
            location,
        )
    }

    /// A look at the channel's state, recorded as an inspection.
    fn inspect<R>(&self, location: Location, look: impl FnOnce(&ChannelState<T>) -> R) -> R {
        crate::inspect(self.object, location, || look(&lock_state(&self.state)))
    }

    /// Live senders, recorded as an inspection.
    fn strong_count(&self, location: Location) -> usize {
        self.inspect(location, |state| state.senders)
    }

    /// Live weak senders, recorded as an inspection.
    fn weak_count(&self, location: Location) -> usize {
        self.inspect(location, |state| state.weak_senders)
    }

    /// Free slots now (`usize::MAX` unbounded), recorded as an inspection.
    fn free_slots(&self, location: Location) -> usize {
        self.inspect(location, |_| {
            self.slots
                .as_ref()
                .map_or(usize::MAX, BatchSemaphore::available_permits)
        })
    }

    fn downgrade(&self) {
        lock_state(&self.state).weak_senders += 1;
    }

    fn drop_weak(&self) {
        lock_state(&self.state).weak_senders -= 1;
    }

    /// A new sender from a weak one, if any sender is left: recorded as a
    /// new subscriber (it changes the count a last drop reads) or a failed
    /// try.
    fn upgrade(&self, location: Location) -> bool {
        rt::sync_point();
        let upgraded = {
            let mut state = lock_state(&self.state);
            if state.senders > 0 {
                state.senders += 1;
            }
            state.senders > 1
        };
        if upgraded {
            self.record(|object| Op::Subscribe { object }, location);
        } else {
            self.record(|object| Op::TryFailed { object }, location);
        }
        upgraded
    }

    /// Takes up to `limit` queued messages into `take` (recording a
    /// receive for each), or finds the channel closed and empty (0), or
    /// blocks.
    fn poll_take(
        &self,
        cx: &mut Context<'_>,
        location: Location,
        limit: usize,
        mut take: impl FnMut(T),
    ) -> Poll<usize> {
        let mut state = lock_state(&self.state);
        if !state.queue.is_empty() {
            let taken = limit.min(state.queue.len());
            for value in state.queue.drain(..taken) {
                take(value);
            }
            drop(state);
            self.free(taken);
            for _ in 0..taken {
                self.record(|object| Op::Recv { object }, location);
            }
            return Poll::Ready(taken);
        }
        // Closed by the receiver, a slot still reserved: its permit may
        // still send.
        if state.senders == 0 || (!state.receiver_open && self.reserved(&state) == 0) {
            drop(state);
            self.record(|object| Op::RecvClosed { object }, location);
            return Poll::Ready(0);
        }
        state.receiver = Some(cx.waker().clone());
        drop(state);
        self.object.block(Need::Message, location);
        Poll::Pending
    }

    /// Reserves a slot if one is free and no sender is queued; records
    /// `Reserve` or a failed try.
    fn try_reserve(&self, slots: usize, location: Location) -> Result<(), TrySendError<()>> {
        rt::sync_point();
        let outcome = if !lock_state(&self.state).receiver_open {
            Err(TrySendError::Closed(()))
        } else if self.slots().try_take(slots).is_err() {
            Err(TrySendError::Full(()))
        } else {
            Ok(())
        };
        match outcome {
            Ok(()) => self.record(|object| Op::Reserve { object }, location),
            Err(_) => self.record(|object| Op::TryFailed { object }, location),
        }
        outcome
    }

    /// Fills a slot reserved earlier.
    fn send_reserved(&self, value: T, location: Location) {
        rt::sync_point();
        let state = lock_state(&self.state);
        debug_assert!(self.reserved(&state) > 0, "a permit sends into its slot");
        self.record(|object| Op::Send { object }, location);
        self.deliver(state, value);
    }

    /// Gives a reserved slot back unused, serving the next blocked sender.
    fn unreserve(&self, location: Location) {
        rt::sync_point();
        debug_assert!(
            self.reserved(&lock_state(&self.state)) > 0,
            "a permit gives back its slot"
        );
        self.free(1);
        self.record(|object| Op::Unreserve { object }, location);
        self.wake_idle_receiver();
    }

    /// Frees `slots` slots of a bounded channel (received or given back),
    /// serving the blocked senders they fit.
    fn free(&self, slots: usize) {
        if let Some(free) = &self.slots {
            free.release(slots);
        }
    }

    fn try_recv(&self, location: Location) -> Result<T, TryRecvError> {
        rt::sync_point();
        let value = {
            let state = &mut *lock_state(&self.state);
            match state.queue.pop_front() {
                Some(value) => Ok(value),
                None if state.senders == 0
                    || (!state.receiver_open && self.reserved(state) == 0) =>
                {
                    Err(TryRecvError::Disconnected)
                }
                None => Err(TryRecvError::Empty),
            }
        };
        match value {
            Ok(_) => {
                self.free(1);
                self.record(|object| Op::Recv { object }, location);
            }
            Err(TryRecvError::Disconnected) => {
                self.record(|object| Op::RecvClosed { object }, location)
            }
            Err(TryRecvError::Empty) => self.record(|object| Op::TryFailed { object }, location),
        }
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
            slot: SlotWait::new(&self.channel, Location::caller()),
            value: Some(value),
        }
    }

    /// Sends, waiting for room at most `timeout` of virtual time; as tokio,
    /// a [`reserve`](Self::reserve) under a `timeout`, then the permit's
    /// send. A timeout is recorded as the runtime's `timeout` records it,
    /// and the slot's wait leaves the queue.
    ///
    /// ```
    /// use racecheck_sync::mpsc::{self, SendTimeoutError};
    /// use std::time::Duration;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = mpsc::channel(1);
    ///     sender.send_timeout(1, Duration::from_secs(1)).await.unwrap();
    ///     let full = sender.send_timeout(2, Duration::from_secs(1)).await;
    ///     assert!(matches!(full, Err(SendTimeoutError::Timeout(2))));
    ///     assert_eq!(receiver.recv().await, Some(1));
    /// });
    /// ```
    #[track_caller]
    pub fn send_timeout(
        &self,
        value: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), SendTimeoutError<T>>> + '_ {
        let location = Location::caller();
        let reserve = Reserve {
            slot: SlotWait::new(&self.channel, location),
        };
        async move {
            match racecheck_runtime::time::timeout(timeout, reserve).await {
                Err(_) => Err(SendTimeoutError::Timeout(value)),
                Ok(Err(_)) => Err(SendTimeoutError::Closed(value)),
                Ok(Ok(permit)) => {
                    permit.send_at(value, location);
                    Ok(())
                }
            }
        }
    }

    /// Waits for a free slot and reserves it: a scheduling point, FIFO
    /// behind blocked senders, as `send`. Fails once the receiver is gone.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::mpsc::channel(1);
    ///     let permit = sender.reserve().await.unwrap();
    ///     permit.send("ready");
    ///     assert_eq!(receiver.recv().await, Some("ready"));
    /// });
    /// ```
    #[track_caller]
    pub fn reserve(&self) -> impl Future<Output = Result<Permit<'_, T>, SendError<()>>> + '_ {
        Reserve {
            slot: SlotWait::new(&self.channel, Location::caller()),
        }
    }

    /// [`reserve`](Self::reserve), giving the sender up to the permit,
    /// which hands it back when it sends.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::mpsc::channel(1);
    ///     let sender = sender.reserve_owned().await.unwrap().send(7);
    ///     assert_eq!(receiver.recv().await, Some(7));
    ///     assert!(!sender.is_closed());
    /// });
    /// ```
    #[track_caller]
    pub fn reserve_owned(self) -> impl Future<Output = Result<OwnedPermit<T>, SendError<()>>> {
        let location = Location::caller();
        async move {
            SlotWait::new(&self.channel, location).await?;
            self.channel
                .record(|object| Op::Reserve { object }, location);
            Ok(OwnedPermit { sender: Some(self) })
        }
    }

    /// Reserves a slot if one is free now and no sender is queued.
    /// Synchronous: a scheduling point at step granularity only; a failure
    /// is recorded as a failed try.
    ///
    /// ```
    /// use racecheck_sync::mpsc::TrySendError;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::mpsc::channel::<u8>(1);
    ///     let permit = sender.try_reserve().unwrap();
    ///     assert!(matches!(sender.try_reserve(), Err(TrySendError::Full(()))));
    ///     drop(permit);
    ///     assert!(sender.try_reserve().is_ok());
    /// });
    /// ```
    #[track_caller]
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        self.channel.try_reserve(1, Location::caller())?;
        Ok(Permit {
            channel: &self.channel,
        })
    }

    /// [`try_reserve`](Self::try_reserve), giving the sender up to the
    /// permit; on failure the sender comes back in the error.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::mpsc::channel(1);
    ///     let sender = sender.try_reserve_owned().unwrap().send(1);
    ///     let sender = sender.try_reserve_owned().unwrap_err().into_inner();
    ///     assert_eq!(receiver.recv().await, Some(1));
    ///     drop(sender);
    /// });
    /// ```
    #[track_caller]
    pub fn try_reserve_owned(self) -> Result<OwnedPermit<T>, TrySendError<Self>> {
        match self.channel.try_reserve(1, Location::caller()) {
            Ok(()) => Ok(OwnedPermit { sender: Some(self) }),
            Err(TrySendError::Full(())) => Err(TrySendError::Full(self)),
            Err(TrySendError::Closed(())) => Err(TrySendError::Closed(self)),
        }
    }

    /// Waits for `n` slots at once (first come, first served: a large
    /// request at the head of the queue holds back smaller ones behind it)
    /// and returns them as an iterator of permits; fails at once if `n`
    /// exceeds the channel's capacity, or once the receiver is gone.
    /// Recorded as one `Reserve`; each permit's `send` as a `Send`, each
    /// permit left unused as an `Unreserve`.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::mpsc::channel(3);
    ///     let permits = sender.reserve_many(2).await.unwrap();
    ///     assert_eq!(permits.len(), 2);
    ///     for (value, permit) in permits.enumerate() {
    ///         permit.send(value);
    ///     }
    ///     assert_eq!(receiver.recv().await, Some(0));
    ///     assert!(sender.reserve_many(4).await.is_err()); // more than the capacity
    /// });
    /// ```
    #[track_caller]
    pub fn reserve_many(
        &self,
        n: usize,
    ) -> impl Future<Output = Result<PermitIterator<'_, T>, SendError<()>>> + '_ {
        let location = Location::caller();
        async move {
            if n > self.max_capacity() {
                self.channel
                    .record(|object| Op::TryFailed { object }, location);
                return Err(SendError(()));
            }
            SlotWait::for_slots(&self.channel, n, location).await?;
            self.channel
                .record(|object| Op::Reserve { object }, location);
            Ok(PermitIterator {
                channel: &self.channel,
                left: n,
            })
        }
    }

    /// Reserves `n` slots if they are free now and no sender is queued;
    /// `Full` also when `n` exceeds the capacity. Synchronous: a scheduling
    /// point at step granularity only; a failure is recorded as a failed
    /// try.
    ///
    /// ```
    /// use racecheck_sync::mpsc::TrySendError;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::mpsc::channel::<u8>(2);
    ///     let permits = sender.try_reserve_many(2).unwrap();
    ///     assert!(matches!(sender.try_reserve_many(1), Err(TrySendError::Full(()))));
    ///     drop(permits);
    ///     assert!(sender.try_reserve_many(1).is_ok());
    /// });
    /// ```
    #[track_caller]
    pub fn try_reserve_many(&self, n: usize) -> Result<PermitIterator<'_, T>, TrySendError<()>> {
        let location = Location::caller();
        if n > self.max_capacity() {
            rt::sync_point();
            self.channel
                .record(|object| Op::TryFailed { object }, location);
            return Err(TrySendError::Full(()));
        }
        self.channel.try_reserve(n, location)?;
        Ok(PermitIterator {
            channel: &self.channel,
            left: n,
        })
    }

    /// `send` for synchronous code: blocks a racecheck thread (tokio:
    /// `spawn_blocking`) or an OS thread outside any execution until there
    /// is room.
    ///
    /// # Panics
    /// In an async task that cannot block (at await granularity), as
    /// tokio does inside its runtime.
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        racecheck_runtime::block_on(self.send(value))
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
        self.channel.free_slots(Location::caller())
    }

    /// The capacity the channel was created with. A constant: not recorded.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::mpsc::channel::<u8>(4);
    ///     sender.try_send(1).unwrap();
    ///     assert_eq!((sender.capacity(), sender.max_capacity()), (3, 4));
    /// });
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.channel.max_capacity()
    }

    /// Waits until the receiver is gone (dropped or closed): a scheduling
    /// point, recorded as an inspection when it returns. Orders nothing:
    /// closing the receiver publishes nothing.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::mpsc::channel::<u8>(1);
    ///     let consumer = racecheck_runtime::spawn(async move { drop(receiver) });
    ///     sender.closed().await;
    ///     assert!(sender.is_closed());
    ///     consumer.await;
    /// });
    /// ```
    #[track_caller]
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        self.channel.closed(Location::caller())
    }

    /// Whether `other` sends to the same channel. Not recorded: it reads
    /// nothing that changes.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::mpsc::channel::<u8>(1);
    ///     let (other, _other_receiver) = racecheck_sync::mpsc::channel::<u8>(1);
    ///     assert!(sender.same_channel(&sender.clone()));
    ///     assert!(!sender.same_channel(&other));
    /// });
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.channel, &other.channel)
    }

    /// A sender that does not keep the channel open; see [`WeakSender`].
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::mpsc::channel::<u8>(1);
    ///     let weak = sender.downgrade();
    ///     assert_eq!((sender.strong_count(), sender.weak_count()), (1, 1));
    ///     drop(sender);
    ///     assert!(weak.upgrade().is_none());
    /// });
    /// ```
    pub fn downgrade(&self) -> WeakSender<T> {
        self.channel.downgrade();
        WeakSender {
            channel: self.channel.clone(),
        }
    }

    /// How many senders keep the channel open, recorded as an inspection.
    /// Cloning a sender is not recorded, so the search does not order a
    /// clone against this count.
    #[track_caller]
    pub fn strong_count(&self) -> usize {
        self.channel.strong_count(Location::caller())
    }

    /// How many weak senders there are, recorded as an inspection (weak
    /// senders' creation and drops are not recorded).
    #[track_caller]
    pub fn weak_count(&self) -> usize {
        self.channel.weak_count(Location::caller())
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

/// A sender's wait for a free slot, shared by `send` and `reserve`: a
/// scheduling point, then a slot now (no barging past queued senders) or
/// a place in the FIFO of blocked senders, served by a receive.
struct SlotWait<'a, T> {
    channel: &'a Channel<T>,
    slots: PermitWait<'a>,
    location: Location,
    point: SchedulePoint,
}

impl<'a, T> SlotWait<'a, T> {
    fn new(channel: &'a Channel<T>, location: Location) -> SlotWait<'a, T> {
        SlotWait::for_slots(channel, 1, location)
    }

    fn for_slots(channel: &'a Channel<T>, slots: usize, location: Location) -> SlotWait<'a, T> {
        SlotWait {
            channel,
            slots: channel.slots().wait(slots, location),
            location,
            point: SchedulePoint::new(),
        }
    }
}

impl<T> Future for SlotWait<'_, T> {
    /// `Ok`: the slots are reserved for the caller, which records what it
    /// does with them. `Err` once the receiver is gone (recorded as a
    /// failed try).
    type Output = Result<(), SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_slot(cx)
    }
}

impl<T> SlotWait<'_, T> {
    fn poll_slot(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError<()>>> {
        if self.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let channel = self.channel;
        if !lock_state(&channel.state).receiver_open {
            // Slots granted before the close go back unused.
            self.slots.cancel();
            channel.wake_idle_receiver();
            channel.record(|object| Op::TryFailed { object }, self.location);
            return Poll::Ready(Err(SendError(())));
        }
        // The slots close only with the receiver, checked above.
        let taken = ready!(self.slots.poll_take(cx));
        Poll::Ready(taken.map(drop).map_err(|_| SendError(())))
    }
}

impl<T> Drop for SlotWait<'_, T> {
    fn drop(&mut self) {
        if self.slots.is_waiting() {
            self.slots.cancel();
            self.channel.wake_idle_receiver();
        }
    }
}

struct Send<'a, T> {
    slot: SlotWait<'a, T>,
    value: Option<T>,
}

impl<T> Unpin for Send<'_, T> {}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Poll::Ready(slot) = this.slot.poll_slot(cx) else {
            return Poll::Pending;
        };
        let value = this.value.take().expect("Send polled after completion");
        if slot.is_err() {
            return Poll::Ready(Err(SendError(value)));
        }
        let channel = this.slot.channel;
        let state = lock_state(&channel.state);
        channel.record(|object| Op::Send { object }, this.slot.location);
        channel.deliver(state, value);
        Poll::Ready(Ok(()))
    }
}

/// The future of [`Sender::reserve`].
struct Reserve<'a, T> {
    slot: SlotWait<'a, T>,
}

impl<'a, T> Future for Reserve<'a, T> {
    type Output = Result<Permit<'a, T>, SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Poll::Ready(slot) = this.slot.poll_slot(cx) else {
            return Poll::Pending;
        };
        let channel = this.slot.channel;
        Poll::Ready(slot.map(|()| {
            channel.record(|object| Op::Reserve { object }, this.slot.location);
            Permit { channel }
        }))
    }
}

/// A slot reserved in a bounded channel ([`Sender::reserve`],
/// [`Sender::try_reserve`]): sending through it cannot fail or wait.
/// Dropping it unused gives the slot back (recorded, and it serves the next
/// blocked sender).
///
/// ```
/// racecheck_explore::explore(&Default::default(), || async {
///     let (sender, mut receiver) = racecheck_sync::mpsc::channel(1);
///     let permit = sender.reserve().await.unwrap();
///     assert!(sender.try_send(1).is_err()); // the only slot is promised
///     permit.send(2);
///     assert_eq!(receiver.recv().await, Some(2));
/// });
/// ```
pub struct Permit<'a, T> {
    channel: &'a Channel<T>,
}

impl<T> Permit<'_, T> {
    /// Fills the reserved slot with `value` and wakes the receiver.
    /// Synchronous: a scheduling point at step granularity only. If the
    /// receiver is gone the value is dropped with the channel, as in tokio.
    #[track_caller]
    pub fn send(self, value: T) {
        self.send_at(value, Location::caller());
    }

    fn send_at(self, value: T, location: Location) {
        let channel = self.channel;
        std::mem::forget(self);
        channel.send_reserved(value, location);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.channel.unreserve(self.channel.created_at);
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("channel", &self.channel.object.id())
            .finish()
    }
}

/// Slots reserved together ([`Sender::reserve_many`],
/// [`Sender::try_reserve_many`]): each item is a [`Permit`] for one of
/// them. Slots not taken as permits are given back when it is dropped
/// (one `Unreserve` each).
///
/// ```
/// racecheck_explore::explore(&Default::default(), || async {
///     let (sender, mut receiver) = racecheck_sync::mpsc::channel(2);
///     let mut permits = sender.reserve_many(2).await.unwrap();
///     permits.next().unwrap().send('a');
///     drop(permits); // the second slot is free again
///     sender.try_send('b').unwrap();
///     assert_eq!(receiver.recv().await, Some('a'));
/// });
/// ```
pub struct PermitIterator<'a, T> {
    channel: &'a Channel<T>,
    left: usize,
}

impl<'a, T> Iterator for PermitIterator<'a, T> {
    type Item = Permit<'a, T>;

    fn next(&mut self) -> Option<Permit<'a, T>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(Permit {
            channel: self.channel,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for PermitIterator<'_, T> {}

impl<T> std::iter::FusedIterator for PermitIterator<'_, T> {}

impl<T> Drop for PermitIterator<'_, T> {
    fn drop(&mut self) {
        for _ in 0..std::mem::take(&mut self.left) {
            self.channel.unreserve(self.channel.created_at);
        }
    }
}

impl<T> fmt::Debug for PermitIterator<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PermitIterator")
            .field("channel", &self.channel.object.id())
            .field("left", &self.left)
            .finish()
    }
}

/// A slot reserved in a bounded channel by a sender given up for it
/// ([`Sender::reserve_owned`], [`Sender::try_reserve_owned`]); sending
/// through it hands the sender back.
///
/// ```
/// racecheck_explore::explore(&Default::default(), || async {
///     let (sender, mut receiver) = racecheck_sync::mpsc::channel(1);
///     let permit = sender.reserve_owned().await.unwrap();
///     let sender = permit.send("ping");
///     assert_eq!(receiver.recv().await, Some("ping"));
///     drop(sender);
///     assert_eq!(receiver.recv().await, None);
/// });
/// ```
pub struct OwnedPermit<T> {
    /// `None` once sent or released.
    sender: Option<Sender<T>>,
}

impl<T> OwnedPermit<T> {
    /// Fills the reserved slot with `value`; returns the sender.
    /// Synchronous: a scheduling point at step granularity only.
    #[track_caller]
    pub fn send(mut self, value: T) -> Sender<T> {
        let sender = self.sender.take().expect("a permit holds its sender");
        sender.channel.send_reserved(value, Location::caller());
        sender
    }

    /// Gives the slot back unused; returns the sender.
    #[track_caller]
    pub fn release(mut self) -> Sender<T> {
        let sender = self.sender.take().expect("a permit holds its sender");
        sender.channel.unreserve(Location::caller());
        sender
    }

    /// Whether `other` sends to the same channel as this permit.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::mpsc::channel::<u8>(2);
    ///     let other = sender.clone();
    ///     let permit = sender.reserve_owned().await.unwrap();
    ///     assert!(permit.same_channel_as_sender(&other));
    /// });
    /// ```
    pub fn same_channel_as_sender(&self, other: &Sender<T>) -> bool {
        self.sender
            .as_ref()
            .is_some_and(|sender| sender.same_channel(other))
    }
}

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(sender) = &self.sender {
            sender.channel.unreserve(sender.channel.created_at);
        }
    }
}

impl<T> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("sender", &self.sender)
            .finish()
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

    /// Polls for a message, as `recv().await` would: `Ready(None)` once
    /// the channel is empty and every sender is gone. For hand-written
    /// futures and `poll_fn`; a scheduling point at step granularity.
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::mpsc::channel(1);
    ///     sender.try_send(7).unwrap();
    ///     assert_eq!(poll_fn(|cx| receiver.poll_recv(cx)).await, Some(7));
    /// });
    /// ```
    #[track_caller]
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        rt::sync_point();
        let mut received = None;
        self.channel
            .poll_take(cx, Location::caller(), 1, |value| received = Some(value))
            .map(|_| received)
    }

    /// Polls for up to `limit` messages, as `recv_many(buffer, limit)`
    /// would; a scheduling point at step granularity.
    #[track_caller]
    pub fn poll_recv_many(
        &mut self,
        cx: &mut Context<'_>,
        buffer: &mut Vec<T>,
        limit: usize,
    ) -> Poll<usize> {
        if limit == 0 {
            return Poll::Ready(0);
        }
        rt::sync_point();
        self.channel
            .poll_take(cx, Location::caller(), limit, |value| buffer.push(value))
    }

    /// `recv` for synchronous code: blocks a racecheck thread (tokio:
    /// `spawn_blocking`) or an OS thread outside any execution until a
    /// message comes.
    ///
    /// # Panics
    /// In an async task that cannot block (at await granularity), as
    /// tokio does inside its runtime.
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<T> {
        racecheck_runtime::block_on(self.recv())
    }

    /// `recv_many` for synchronous code, as [`blocking_recv`](Self::blocking_recv).
    #[track_caller]
    pub fn blocking_recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        racecheck_runtime::block_on(self.recv_many(buffer, limit))
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

    /// Waits for at least one message, then moves up to `limit` queued
    /// messages to the end of `buffer` (each recorded as a receive).
    /// Returns how many; 0 once the channel is closed and empty, or at once
    /// if `limit` is 0.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::mpsc::channel(4);
    ///     for job in [1, 2, 3] {
    ///         sender.try_send(job).unwrap();
    ///     }
    ///     let mut batch = Vec::new();
    ///     assert_eq!(receiver.recv_many(&mut batch, 2).await, 2);
    ///     assert_eq!(batch, [1, 2]);
    /// });
    /// ```
    #[track_caller]
    pub fn recv_many<'a>(
        &'a mut self,
        buffer: &'a mut Vec<T>,
        limit: usize,
    ) -> impl Future<Output = usize> + 'a {
        RecvMany {
            channel: &self.channel,
            buffer,
            limit,
            location: Location::caller(),
            point: SchedulePoint::new(),
        }
    }

    /// How many messages are queued, recorded as an inspection.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::mpsc::channel(4);
    ///     assert!(receiver.is_empty());
    ///     sender.try_send(1).unwrap();
    ///     assert_eq!(receiver.len(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn len(&self) -> usize {
        self.channel
            .inspect(Location::caller(), |state| state.queue.len())
    }

    /// Whether no message is queued, recorded as an inspection.
    #[track_caller]
    pub fn is_empty(&self) -> bool {
        self.channel
            .inspect(Location::caller(), |state| state.queue.is_empty())
    }

    /// Whether the channel is closed for sending: the receiver closed it
    /// or every sender is gone. Recorded as an inspection.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::mpsc::channel::<u8>(4);
    ///     assert!(!receiver.is_closed());
    ///     drop(sender);
    ///     assert!(receiver.is_closed());
    /// });
    /// ```
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        self.channel.inspect(Location::caller(), |state| {
            !state.receiver_open || state.senders == 0
        })
    }

    /// How many senders keep the channel open, recorded as an inspection.
    #[track_caller]
    pub fn sender_strong_count(&self) -> usize {
        self.channel.strong_count(Location::caller())
    }

    /// How many weak senders there are, recorded as an inspection.
    #[track_caller]
    pub fn sender_weak_count(&self) -> usize {
        self.channel.weak_count(Location::caller())
    }

    /// Free slots now, recorded as an inspection.
    #[track_caller]
    pub fn capacity(&self) -> usize {
        self.channel.free_slots(Location::caller())
    }

    /// The capacity the channel was created with. A constant: not recorded.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (_sender, receiver) = racecheck_sync::mpsc::channel::<u8>(2);
    ///     assert_eq!((receiver.capacity(), receiver.max_capacity()), (2, 2));
    /// });
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.channel.max_capacity()
    }
}

impl<T> Drop for Receiver<T> {
    /// Closes the channel and drops the messages left in it now, outside
    /// the channel's lock (as tokio, a message whose drop panics does not
    /// keep the others from being dropped).
    fn drop(&mut self) {
        self.channel.object.end_dropped(Need::Slot);
        let location = self.channel.created_at;
        self.channel.close_receiver(location);
        let left = std::mem::take(&mut lock_state(&self.channel.state).queue);
        drop(left);
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
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let mut received = None;
        this.channel
            .poll_take(cx, this.location, 1, |value| received = Some(value))
            .map(|_| received)
    }
}

/// The future of `recv_many`.
struct RecvMany<'a, T> {
    channel: &'a Channel<T>,
    buffer: &'a mut Vec<T>,
    limit: usize,
    location: Location,
    point: SchedulePoint,
}

impl<T> Future for RecvMany<'_, T> {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let this = self.get_mut();
        if this.limit == 0 {
            return Poll::Ready(0);
        }
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let buffer = &mut *this.buffer;
        this.channel
            .poll_take(cx, this.location, this.limit, |value| buffer.push(value))
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

impl<T> UnboundedSender<T> {
    /// Waits until the receiver is gone, as [`Sender::closed`].
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::mpsc::unbounded_channel::<u8>();
    ///     receiver.close();
    ///     sender.closed().await;
    ///     assert!(sender.send(1).is_err());
    /// });
    /// ```
    #[track_caller]
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        self.channel.closed(Location::caller())
    }

    /// Whether `other` sends to the same channel. Not recorded: it reads
    /// nothing that changes.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::mpsc::unbounded_channel::<u8>();
    ///     assert!(sender.same_channel(&sender.clone()));
    /// });
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.channel, &other.channel)
    }

    /// A sender that does not keep the channel open; see
    /// [`WeakUnboundedSender`].
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::mpsc::unbounded_channel();
    ///     let weak = sender.downgrade();
    ///     weak.upgrade().unwrap().send(1).unwrap();
    ///     drop(sender);
    ///     assert_eq!(receiver.recv().await, Some(1));
    ///     assert_eq!(receiver.recv().await, None);
    /// });
    /// ```
    pub fn downgrade(&self) -> WeakUnboundedSender<T> {
        self.channel.downgrade();
        WeakUnboundedSender {
            channel: self.channel.clone(),
        }
    }

    /// How many senders keep the channel open, recorded as an inspection.
    /// Cloning a sender is not recorded, so the search does not order a
    /// clone against this count.
    #[track_caller]
    pub fn strong_count(&self) -> usize {
        self.channel.strong_count(Location::caller())
    }

    /// How many weak senders there are, recorded as an inspection.
    #[track_caller]
    pub fn weak_count(&self) -> usize {
        self.channel.weak_count(Location::caller())
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
pub struct UnboundedReceiver<T> {
    receiver: Receiver<T>,
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedReceiver")
            .field("channel", &self.receiver.channel.object.id())
            .finish()
    }
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

    /// Polls for a message, as [`Receiver::poll_recv`].
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::mpsc::unbounded_channel();
    ///     sender.send(7).unwrap();
    ///     assert_eq!(poll_fn(|cx| receiver.poll_recv(cx)).await, Some(7));
    /// });
    /// ```
    #[track_caller]
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.receiver.poll_recv(cx)
    }

    /// Polls for up to `limit` messages, as [`Receiver::poll_recv_many`].
    #[track_caller]
    pub fn poll_recv_many(
        &mut self,
        cx: &mut Context<'_>,
        buffer: &mut Vec<T>,
        limit: usize,
    ) -> Poll<usize> {
        self.receiver.poll_recv_many(cx, buffer, limit)
    }

    /// `recv` for synchronous code, as [`Receiver::blocking_recv`].
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<T> {
        self.receiver.blocking_recv()
    }

    /// `recv_many` for synchronous code, as [`Receiver::blocking_recv_many`].
    #[track_caller]
    pub fn blocking_recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        self.receiver.blocking_recv_many(buffer, limit)
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

    /// Waits for at least one message, then moves up to `limit` of them to
    /// `buffer`, as [`Receiver::recv_many`].
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::mpsc::unbounded_channel();
    ///     for job in [1, 2, 3] {
    ///         sender.send(job).unwrap();
    ///     }
    ///     let mut batch = Vec::new();
    ///     assert_eq!(receiver.recv_many(&mut batch, 5).await, 3);
    ///     assert!(receiver.is_empty());
    /// });
    /// ```
    #[track_caller]
    pub fn recv_many<'a>(
        &'a mut self,
        buffer: &'a mut Vec<T>,
        limit: usize,
    ) -> impl Future<Output = usize> + 'a {
        self.receiver.recv_many(buffer, limit)
    }

    /// How many messages are queued, as [`Receiver::len`].
    #[track_caller]
    pub fn len(&self) -> usize {
        self.receiver.len()
    }

    /// Whether no message is queued, as [`Receiver::is_empty`].
    #[track_caller]
    pub fn is_empty(&self) -> bool {
        self.receiver.is_empty()
    }

    /// Whether the channel is closed for sending, as
    /// [`Receiver::is_closed`].
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        self.receiver.is_closed()
    }

    /// How many senders keep the channel open, as
    /// [`Receiver::sender_strong_count`].
    #[track_caller]
    pub fn sender_strong_count(&self) -> usize {
        self.receiver.sender_strong_count()
    }

    /// How many weak senders there are, as
    /// [`Receiver::sender_weak_count`].
    #[track_caller]
    pub fn sender_weak_count(&self) -> usize {
        self.receiver.sender_weak_count()
    }
}

/// A sender of a bounded channel that does not keep it open: when every
/// [`Sender`] is gone the receiver sees the channel closed, and
/// [`upgrade`](Self::upgrade) fails from then on.
///
/// ```
/// racecheck_explore::explore(&Default::default(), || async {
///     let (sender, mut receiver) = racecheck_sync::mpsc::channel(1);
///     let weak = sender.downgrade();
///     drop(sender);
///     assert!(weak.upgrade().is_none());
///     assert_eq!(receiver.recv().await, None::<u8>);
/// });
/// ```
pub struct WeakSender<T> {
    channel: Arc<Channel<T>>,
}

impl<T> WeakSender<T> {
    /// A sender, if any sender is still alive. Synchronous: a scheduling
    /// point at step granularity only; recorded as a new subscriber, or a
    /// failed try when every sender is gone.
    #[track_caller]
    pub fn upgrade(&self) -> Option<Sender<T>> {
        self.channel.upgrade(Location::caller()).then(|| Sender {
            channel: self.channel.clone(),
        })
    }

    /// How many senders keep the channel open, recorded as an inspection.
    #[track_caller]
    pub fn strong_count(&self) -> usize {
        self.channel.strong_count(Location::caller())
    }

    /// How many weak senders there are, recorded as an inspection.
    #[track_caller]
    pub fn weak_count(&self) -> usize {
        self.channel.weak_count(Location::caller())
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        self.channel.downgrade();
        WeakSender {
            channel: self.channel.clone(),
        }
    }
}

impl<T> Drop for WeakSender<T> {
    fn drop(&mut self) {
        self.channel.drop_weak();
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakSender")
            .field("channel", &self.channel.object.id())
            .finish()
    }
}

/// A sender of an unbounded channel that does not keep it open, as
/// [`WeakSender`].
///
/// ```
/// racecheck_explore::explore(&Default::default(), || async {
///     let (sender, _receiver) = racecheck_sync::mpsc::unbounded_channel::<u8>();
///     let weak = sender.downgrade();
///     assert!(weak.upgrade().is_some());
///     drop(sender);
///     assert!(weak.upgrade().is_none());
/// });
/// ```
pub struct WeakUnboundedSender<T> {
    channel: Arc<Channel<T>>,
}

impl<T> WeakUnboundedSender<T> {
    /// A sender, if any sender is still alive; recorded as
    /// [`WeakSender::upgrade`] is.
    #[track_caller]
    pub fn upgrade(&self) -> Option<UnboundedSender<T>> {
        self.channel
            .upgrade(Location::caller())
            .then(|| UnboundedSender {
                channel: self.channel.clone(),
            })
    }

    /// How many senders keep the channel open, recorded as an inspection.
    #[track_caller]
    pub fn strong_count(&self) -> usize {
        self.channel.strong_count(Location::caller())
    }

    /// How many weak senders there are, recorded as an inspection.
    #[track_caller]
    pub fn weak_count(&self) -> usize {
        self.channel.weak_count(Location::caller())
    }
}

impl<T> Clone for WeakUnboundedSender<T> {
    fn clone(&self) -> Self {
        self.channel.downgrade();
        WeakUnboundedSender {
            channel: self.channel.clone(),
        }
    }
}

impl<T> Drop for WeakUnboundedSender<T> {
    fn drop(&mut self) {
        self.channel.drop_weak();
    }
}

impl<T> fmt::Debug for WeakUnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakUnboundedSender")
            .field("channel", &self.channel.object.id())
            .finish()
    }
}
