//! A multi-producer, multi-consumer channel where every receiver sees every
//! value, with tokio's `broadcast` API.
//!
//! - [`channel`]`(capacity)`: the channel keeps the last `capacity` values,
//!   rounded up to a power of two as tokio does (tokio documents that the
//!   actual capacity may be greater than the one asked for).
//! - [`Sender::send`] never blocks and is synchronous: it appends the value
//!   for every receiver and returns how many there are; it fails, handing
//!   the value back, when there are none. When the channel is full the
//!   oldest value is dropped.
//! - [`Receiver::recv`]`.await` is a scheduling point; it returns the next
//!   value this receiver has not received (a clone), and blocks while there
//!   is none. A receiver that fell behind by more than the capacity gets
//!   [`RecvError::Lagged`]`(n)` with the number of values it missed, and
//!   then continues from the oldest value kept. Once every sender is gone
//!   and it has received everything, it gets [`RecvError::Closed`].
//! - [`Sender::subscribe`] makes a receiver that sees the values sent after
//!   the call.
//! - Cancellation: dropping a pending `recv` loses nothing.
//!
//! Happens-before: a send → each receive that returns its value (named by
//! the event, `Observe { by }`); every sender's drop → a receive that
//! reports the channel closed. A lagged receive orders nothing.
//!
//! ```
//! use racecheck_sync::broadcast;
//!
//! racecheck_explore::explore(&Default::default(), || async {
//!     let (events, mut first) = broadcast::channel(4);
//!     let mut second = events.subscribe();
//!     let listener = racecheck_runtime::spawn(async move { second.recv().await.unwrap() });
//!     assert_eq!(events.send("started").unwrap(), 2); // two receivers
//!     assert_eq!(first.recv().await.unwrap(), "started");
//!     assert_eq!(listener.await, "started");
//! });
//! ```

use crate::wait_queue::{wake_all, Until, Wait, WaitQueue, Waiting};
use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{self, ObjectRef};
use racecheck_trace::{EventIndex, Location, Need, ObjectKind, Op};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// A broadcast channel keeping the last `capacity` values (rounded up to a
/// power of two).
///
/// # Panics
/// If `capacity` is 0 or larger than `usize::MAX / 2` (as tokio).
///
/// ```
/// racecheck_explore::explore(&Default::default(), || async {
///     let (sender, mut receiver) = racecheck_sync::broadcast::channel(3);
///     sender.send(1).unwrap();
///     assert_eq!(receiver.try_recv(), Ok(1));
/// });
/// ```
#[track_caller]
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let channel = Channel::new(capacity, 1, Location::caller());
    (
        Sender {
            channel: channel.clone(),
        },
        Receiver { channel, next: 0 },
    )
}

/// No receiver exists; the value is handed back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("channel closed")]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

/// Why `recv` returned no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// Every sender is gone and every value was received.
    #[error("channel closed")]
    Closed,
    /// The receiver fell behind: this many values were dropped before it
    /// received them. The next `recv` returns the oldest value kept.
    #[error("channel lagged by {0}")]
    Lagged(u64),
}

/// Why `try_recv` returned no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// Nothing new now; senders remain.
    #[error("channel empty")]
    Empty,
    /// Every sender is gone and every value was received.
    #[error("channel closed")]
    Closed,
    /// The receiver fell behind by this many values.
    #[error("channel lagged by {0}")]
    Lagged(u64),
}

struct Channel<T> {
    state: StateLock<BroadcastState<T>>,
    object: ObjectRef,
    created_at: Location,
}

struct BroadcastState<T> {
    /// The last `capacity` values with the event index of their send,
    /// oldest first; the last is at position `tail - 1`.
    buffer: VecDeque<Slot<T>>,
    capacity: usize,
    /// The position of the next value sent.
    tail: u64,
    senders: usize,
    /// Live `WeakSender`s.
    weak_senders: usize,
    receivers: usize,
    /// Receivers blocked in `recv`.
    waiters: WaitQueue<()>,
    /// Senders blocked in `closed`.
    closed_waiters: WaitQueue<()>,
}

/// A value kept in the channel.
struct Slot<T> {
    value: T,
    /// The event index of its send.
    sent_by: Option<EventIndex>,
    /// Receivers alive at the send that have not received it yet: the
    /// value counts in `Sender::len` while this is not 0.
    unseen: usize,
}

/// What a receive found, before it is recorded.
enum Received<T> {
    Value(T, Option<EventIndex>),
    Lagged(u64),
    Empty,
    Closed,
}

impl<T> Channel<T> {
    /// A channel with one sender and `receivers` receivers (0 or 1).
    ///
    /// # Panics
    /// If `capacity` is 0 or larger than `usize::MAX / 2`, as tokio, at
    /// the caller's line.
    #[track_caller]
    fn new(capacity: usize, receivers: usize, location: Location) -> Arc<Channel<T>> {
        assert!(capacity > 0, "broadcast channel capacity cannot be zero");
        assert!(
            capacity <= usize::MAX >> 1,
            "broadcast channel capacity exceeded `usize::MAX / 2`"
        );
        let capacity = capacity.next_power_of_two();
        Arc::new(Channel {
            state: StateLock::new(BroadcastState {
                buffer: VecDeque::with_capacity(capacity),
                capacity,
                tail: 0,
                senders: 1,
                weak_senders: 0,
                receivers,
                waiters: WaitQueue::default(),
                closed_waiters: WaitQueue::default(),
            }),
            object: rt::register(ObjectKind::Broadcast, None, location),
            created_at: location,
        })
    }

    /// Live senders, recorded as an inspection.
    fn strong_count(&self, location: Location) -> usize {
        crate::inspect(self.object, location, || lock_state(&self.state).senders)
    }

    /// Live weak senders, recorded as an inspection.
    fn weak_count(&self, location: Location) -> usize {
        crate::inspect(self.object, location, || {
            lock_state(&self.state).weak_senders
        })
    }

    /// A new receiver of the values sent from now on.
    fn subscribe(self: &Arc<Self>, location: Location) -> Receiver<T> {
        rt::sync_point();
        let next = {
            let mut state = lock_state(&self.state);
            state.receivers += 1;
            state.tail
        };
        self.object.record(
            Op::Subscribe {
                object: self.object.id(),
            },
            location,
        );
        Receiver {
            channel: self.clone(),
            next,
        }
    }
}

impl<T: Clone> Channel<T> {
    fn record(&self, op: Op, location: Location) -> Option<EventIndex> {
        self.object.record(op, location)
    }

    /// The next value for a receiver at position `next`, moving it on.
    fn take(state: &mut BroadcastState<T>, next: &mut u64) -> Received<T> {
        let oldest = state.tail - state.buffer.len() as u64;
        if *next < oldest {
            let missed = oldest - *next;
            *next = oldest;
            return Received::Lagged(missed);
        }
        if *next < state.tail {
            let slot = &mut state.buffer[(*next - oldest) as usize];
            slot.unseen = slot.unseen.saturating_sub(1);
            *next += 1;
            return Received::Value(slot.value.clone(), slot.sent_by);
        }
        if state.senders == 0 {
            Received::Closed
        } else {
            Received::Empty
        }
    }
}

impl<T> Received<T> {
    /// Records a receive's outcome on the channel's `object`.
    fn record(&self, object: ObjectRef, location: Location) {
        let id = object.id();
        let op = match *self {
            Received::Value(_, by) => Op::Observe { object: id, by },
            Received::Lagged(_) => Op::Observe {
                object: id,
                by: None,
            },
            Received::Closed => Op::RecvClosed { object: id },
            Received::Empty => Op::TryFailed { object: id },
        };
        object.record(op, location);
    }
}

/// Sends to a broadcast channel; clone it for more producers.
pub struct Sender<T> {
    channel: Arc<Channel<T>>,
}

impl<T: Clone> Sender<T> {
    /// Sends to every receiver that exists now and returns how many there
    /// are; fails, handing the value back, if there are none. Never blocks.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::broadcast::channel(2);
    ///     assert_eq!(sender.send("a").unwrap(), 1);
    ///     drop(receiver);
    ///     assert_eq!(sender.send("b").unwrap_err().0, "b");
    /// });
    /// ```
    #[track_caller]
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        rt::sync_point();
        let location = Location::caller();
        let object = self.channel.object.id();
        if lock_state(&self.channel.state).receivers == 0 {
            self.channel.record(Op::TryFailed { object }, location);
            return Err(SendError(value));
        }
        let event = self.channel.record(Op::Send { object }, location);
        let (receivers, waiters) = {
            let mut state = lock_state(&self.channel.state);
            if state.buffer.len() == state.capacity {
                state.buffer.pop_front();
            }
            let unseen = state.receivers;
            state.buffer.push_back(Slot {
                value,
                sent_by: event,
                unseen,
            });
            state.tail += 1;
            debug_assert!(state.buffer.len() <= state.capacity);
            (state.receivers, state.waiters.drain())
        };
        wake_all(waiters);
        Ok(receivers)
    }

    /// A new receiver of the values sent from now on.
    ///
    /// ```
    /// use racecheck_sync::broadcast::{self, TryRecvError};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _first) = broadcast::channel(2);
    ///     sender.send(1).unwrap();
    ///     let mut late = sender.subscribe();
    ///     assert_eq!(late.try_recv(), Err(TryRecvError::Empty));
    ///     sender.send(2).unwrap();
    ///     assert_eq!(late.try_recv(), Ok(2));
    /// });
    /// ```
    #[track_caller]
    pub fn subscribe(&self) -> Receiver<T> {
        self.channel.subscribe(Location::caller())
    }

    /// Whether `other` sends to the same channel. Not recorded: it reads
    /// nothing that changes.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::broadcast::channel::<u8>(1);
    ///     assert!(sender.same_channel(&sender.clone()));
    /// });
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.channel, &other.channel)
    }

    /// How many receivers exist now.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::broadcast::channel::<u8>(1);
    ///     assert_eq!(sender.receiver_count(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn receiver_count(&self) -> usize {
        crate::inspect(self.channel.object, Location::caller(), || {
            lock_state(&self.channel.state).receivers
        })
    }
}

impl<T> Sender<T> {
    /// A channel with no receiver yet (see [`Sender::subscribe`]), keeping
    /// the last `capacity` values (rounded up to a power of two).
    ///
    /// # Panics
    /// If `capacity` is 0 or larger than `usize::MAX / 2`, as tokio.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let sender = racecheck_sync::broadcast::Sender::new(2);
    ///     assert!(sender.send(1).is_err()); // nobody receives yet
    ///     let mut receiver = sender.subscribe();
    ///     sender.send(2).unwrap();
    ///     assert_eq!(receiver.recv().await, Ok(2));
    /// });
    /// ```
    #[track_caller]
    pub fn new(capacity: usize) -> Sender<T> {
        Sender {
            channel: Channel::new(capacity, 0, Location::caller()),
        }
    }

    /// How many values are queued: sent and not yet received by every
    /// receiver alive when they were sent, nor pushed out by later sends.
    /// Recorded as an inspection.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut first) = racecheck_sync::broadcast::channel(4);
    ///     let mut second = sender.subscribe();
    ///     sender.send(1).unwrap();
    ///     assert_eq!(sender.len(), 1);
    ///     first.recv().await.unwrap();
    ///     assert_eq!(sender.len(), 1); // `second` has not received it
    ///     second.recv().await.unwrap();
    ///     assert!(sender.is_empty());
    /// });
    /// ```
    #[track_caller]
    pub fn len(&self) -> usize {
        crate::inspect(self.channel.object, Location::caller(), || {
            let state = lock_state(&self.channel.state);
            state.buffer.iter().filter(|slot| slot.unseen > 0).count()
        })
    }

    /// Whether no value is queued (see [`len`](Self::len)).
    #[track_caller]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until every receiver is gone (at once if none is left): a
    /// scheduling point; recorded as an inspection when it returns.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::broadcast::channel::<u8>(1);
    ///     let listener = racecheck_runtime::spawn(async move { drop(receiver) });
    ///     sender.closed().await;
    ///     assert_eq!(sender.receiver_count(), 0);
    ///     listener.await;
    /// });
    /// ```
    #[track_caller]
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        Until::wait(
            &self.channel.state,
            self.channel.object,
            |state| &mut state.closed_waiters,
            |state| state.receivers == 0,
            Location::caller(),
        )
    }

    /// A sender that does not keep the channel open; see [`WeakSender`].
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::broadcast::channel::<u8>(1);
    ///     let weak = sender.downgrade();
    ///     assert_eq!((sender.strong_count(), sender.weak_count()), (1, 1));
    ///     drop(sender);
    ///     assert!(weak.upgrade().is_none());
    /// });
    /// ```
    pub fn downgrade(&self) -> WeakSender<T> {
        lock_state(&self.channel.state).weak_senders += 1;
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

    /// How many weak senders there are, recorded as an inspection (their
    /// creation and drops are not recorded).
    #[track_caller]
    pub fn weak_count(&self) -> usize {
        self.channel.weak_count(Location::caller())
    }
}

/// A sender of a broadcast channel that does not keep it open: when every
/// [`Sender`] is gone receivers see the channel closed, and
/// [`upgrade`](Self::upgrade) fails from then on.
///
/// ```
/// use racecheck_sync::broadcast::{self, RecvError};
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let (sender, mut receiver) = broadcast::channel(1);
///     let weak = sender.downgrade();
///     weak.upgrade().unwrap().send(1).unwrap();
///     drop(sender);
///     assert_eq!(receiver.recv().await, Ok(1));
///     assert_eq!(receiver.recv().await, Err(RecvError::Closed));
///     assert!(weak.upgrade().is_none());
/// });
/// ```
pub struct WeakSender<T> {
    channel: Arc<Channel<T>>,
}

impl<T> WeakSender<T> {
    /// A sender, if any sender is still alive. Synchronous: a scheduling
    /// point at step granularity only; recorded as a new subscriber (it
    /// changes the count a last drop reads), or a failed try when every
    /// sender is gone.
    #[track_caller]
    pub fn upgrade(&self) -> Option<Sender<T>> {
        rt::sync_point();
        let upgraded = {
            let mut state = lock_state(&self.channel.state);
            if state.senders > 0 {
                state.senders += 1;
            }
            state.senders > 1
        };
        let object = self.channel.object.id();
        let op = if upgraded {
            Op::Subscribe { object }
        } else {
            Op::TryFailed { object }
        };
        self.channel.object.record(op, Location::caller());
        upgraded.then(|| Sender {
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
        lock_state(&self.channel.state).weak_senders += 1;
        WeakSender {
            channel: self.channel.clone(),
        }
    }
}

impl<T> Drop for WeakSender<T> {
    fn drop(&mut self) {
        lock_state(&self.channel.state).weak_senders -= 1;
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakSender")
            .field("channel", &self.channel.object.id())
            .finish()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        lock_state(&self.channel.state).senders += 1;
        Sender {
            channel: self.channel.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.channel.object.end_dropped(Need::Message);
        rt::sync_point();
        let (last, waiters) = {
            let mut state = lock_state(&self.channel.state);
            state.senders -= 1;
            let last = state.senders == 0;
            (
                last,
                if last {
                    state.waiters.drain()
                } else {
                    Vec::new()
                },
            )
        };
        let object = self.channel.object.id();
        let location = self.channel.created_at;
        // Every sender's drop orders what it did before the `Closed` a
        // receiver gets once all are gone.
        self.channel
            .object
            .record(Op::DropSender { object }, location);
        if last {
            self.channel.object.record(Op::Close { object }, location);
        }
        wake_all(waiters);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("channel", &self.channel.object.id())
            .finish()
    }
}

/// Receives every value of a broadcast channel sent after it was created.
pub struct Receiver<T> {
    channel: Arc<Channel<T>>,
    /// The position of the next value to receive.
    next: u64,
}

impl<T: Clone> Receiver<T> {
    /// Waits for the next value; see the [module docs](self) for `Lagged`
    /// and `Closed`.
    ///
    /// ```
    /// use racecheck_sync::broadcast::{self, RecvError};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = broadcast::channel(1);
    ///     sender.send(1).unwrap();
    ///     sender.send(2).unwrap(); // drops 1: the capacity is 1
    ///     assert_eq!(receiver.recv().await, Err(RecvError::Lagged(1)));
    ///     assert_eq!(receiver.recv().await, Ok(2));
    ///     drop(sender);
    ///     assert_eq!(receiver.recv().await, Err(RecvError::Closed));
    /// });
    /// ```
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Result<T, RecvError>> + '_ {
        let Receiver { channel, next } = self;
        Waiting::new(
            &**channel,
            Next { next },
            channel.object,
            Location::caller(),
        )
    }

    /// The next value if there is one now. Synchronous: a scheduling
    /// point at step granularity only.
    ///
    /// ```
    /// use racecheck_sync::broadcast::{self, TryRecvError};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = broadcast::channel(2);
    ///     assert_eq!(receiver.try_recv(), Err(TryRecvError::Empty));
    ///     sender.send('a').unwrap();
    ///     assert_eq!(receiver.try_recv(), Ok('a'));
    /// });
    /// ```
    #[track_caller]
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        rt::sync_point();
        let received = Channel::take(&mut lock_state(&self.channel.state), &mut self.next);
        received.record(self.channel.object, Location::caller());
        match received {
            Received::Value(value, _) => Ok(value),
            Received::Lagged(missed) => Err(TryRecvError::Lagged(missed)),
            Received::Empty => Err(TryRecvError::Empty),
            Received::Closed => Err(TryRecvError::Closed),
        }
    }
}

impl<T> Receiver<T> {
    /// How many values this receiver has not received yet, those it lagged
    /// behind included. Recorded as an inspection (a scheduling point at
    /// step granularity).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::broadcast::channel(4);
    ///     assert!(receiver.is_empty());
    ///     sender.send(1).unwrap();
    ///     sender.send(2).unwrap();
    ///     assert_eq!(receiver.len(), 2);
    ///     receiver.try_recv().unwrap();
    ///     assert_eq!(receiver.len(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn len(&self) -> usize {
        crate::inspect(self.channel.object, Location::caller(), || {
            (lock_state(&self.channel.state).tail - self.next) as usize
        })
    }

    /// Whether this receiver has received every value sent. Recorded as an
    /// inspection.
    #[track_caller]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every sender is gone. Recorded as an inspection while one
    /// is left, and as a receive that found the channel closed once none
    /// is (ordered after the senders' drops).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::broadcast::channel::<u8>(1);
    ///     assert!(!receiver.is_closed());
    ///     drop(sender);
    ///     assert!(receiver.is_closed());
    /// });
    /// ```
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        crate::senders_gone(self.channel.object, Location::caller(), || {
            lock_state(&self.channel.state).senders == 0
        })
    }

    /// How many senders keep the channel open, recorded as an inspection.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::broadcast::channel::<u8>(1);
    ///     let _weak = sender.downgrade();
    ///     assert_eq!((receiver.sender_strong_count(), receiver.sender_weak_count()), (1, 1));
    /// });
    /// ```
    #[track_caller]
    pub fn sender_strong_count(&self) -> usize {
        self.channel.strong_count(Location::caller())
    }

    /// How many weak senders there are, recorded as an inspection.
    #[track_caller]
    pub fn sender_weak_count(&self) -> usize {
        self.channel.weak_count(Location::caller())
    }

    /// A new receiver of the values sent from now on, as
    /// [`Sender::subscribe`]; recorded as a subscription.
    ///
    /// ```
    /// use racecheck_sync::broadcast::{self, TryRecvError};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, first) = broadcast::channel(2);
    ///     sender.send(1).unwrap();
    ///     let mut second = first.resubscribe();
    ///     assert_eq!(second.try_recv(), Err(TryRecvError::Empty));
    ///     sender.send(2).unwrap();
    ///     assert_eq!(second.try_recv(), Ok(2));
    /// });
    /// ```
    #[track_caller]
    pub fn resubscribe(&self) -> Receiver<T> {
        self.channel.subscribe(Location::caller())
    }

    /// Whether `other` receives from the same channel. Not recorded.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::broadcast::channel::<u8>(1);
    ///     assert!(receiver.same_channel(&sender.subscribe()));
    /// });
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.channel, &other.channel)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        rt::sync_point();
        let (closed_waiters, unreachable) = {
            let mut state = lock_state(&self.channel.state);
            state.receivers -= 1;
            // The values it did not receive no longer wait for it.
            let oldest = state.tail - state.buffer.len() as u64;
            let unseen_from = self.next.saturating_sub(oldest) as usize;
            for slot in state.buffer.iter_mut().skip(unseen_from) {
                slot.unseen = slot.unseen.saturating_sub(1);
            }
            if state.receivers == 0 {
                // No receiver is left to take them (a new one starts at
                // the next send): dropped now, as in tokio.
                (
                    state.closed_waiters.drain(),
                    std::mem::take(&mut state.buffer),
                )
            } else {
                (Vec::new(), VecDeque::new())
            }
        };
        // Outside the state's lock: a value's destructor may use the channel.
        drop(unreachable);
        self.channel.object.record(
            Op::DropReceiver {
                object: self.channel.object.id(),
            },
            self.channel.created_at,
        );
        wake_all(closed_waiters);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("channel", &self.channel.object.id())
            .finish()
    }
}

/// A `recv` wait: over once a value at the receiver's position was sent,
/// it lagged behind, or every sender is gone.
struct Next<'a> {
    /// The receiver's position.
    next: &'a mut u64,
}

impl<T: Clone> Wait<Channel<T>> for Next<'_> {
    const NEED: Need = Need::Message;

    type State = BroadcastState<T>;
    type Found = Received<T>;
    type Output = Result<T, RecvError>;

    // Woken waiters were drained: each look stands in line afresh.
    const KEEPS_PLACE: bool = false;

    fn state(channel: &Channel<T>) -> &StateLock<BroadcastState<T>> {
        &channel.state
    }

    fn line<'s>(&self, state: &'s mut BroadcastState<T>) -> &'s mut WaitQueue<()> {
        &mut state.waiters
    }

    fn look(&mut self, state: &mut BroadcastState<T>, _ticket: Option<u64>) -> Option<Received<T>> {
        match Channel::take(state, self.next) {
            Received::Empty => None,
            received => Some(received),
        }
    }

    fn finish(
        &mut self,
        received: Received<T>,
        object: ObjectRef,
        location: Location,
    ) -> Self::Output {
        received.record(object, location);
        match received {
            Received::Value(value, _) => Ok(value),
            Received::Lagged(missed) => Err(RecvError::Lagged(missed)),
            Received::Closed => Err(RecvError::Closed),
            Received::Empty => unreachable!("an empty receive waits"),
        }
    }
}
