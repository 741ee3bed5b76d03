//! A single-producer, multi-consumer channel that keeps only the latest
//! value, with tokio's `watch` API.
//!
//! - [`channel`]`(init)`: the value starts as `init`, seen by the first
//!   receiver.
//! - [`Sender::send`] replaces the value and marks it unseen for every
//!   receiver; it fails, handing the value back, once every receiver is
//!   gone. [`Sender::send_replace`] replaces it regardless and returns the
//!   old one. Both are synchronous.
//! - [`Receiver::changed`]`.await` is a scheduling point; it returns at once
//!   if the value has changed since this receiver last marked it seen, and
//!   otherwise blocks until the next send. It marks the value seen. Once
//!   the sender is dropped (and the latest value was seen) it returns
//!   [`RecvError`].
//! - `borrow()` reads the latest value without marking it seen;
//!   `borrow_and_update()` also marks it seen. Intermediate values a
//!   receiver did not look at are lost: only the latest is kept.
//! - A [`Ref`] holds the value locked: a send while one is held panics (it
//!   would deadlock under tokio), so do not hold it across an `.await`.
//!
//! Happens-before: a send → every borrow, `borrow_and_update` or `changed`
//! that reads its value (named by the event, `Observe { by }`); the sender's
//! drop → a `changed` that reports the channel closed. Reading the initial
//! value, and `has_changed`, order nothing (both are recorded: they read the
//! channel).
//!
//! ```
//! use racecheck_sync::watch;
//!
//! racecheck_explore::explore(&Default::default(), || async {
//!     let (config, mut updates) = watch::channel("v1");
//!     let reloader = racecheck_runtime::spawn(async move {
//!         updates.changed().await.unwrap();
//!         *updates.borrow_and_update()
//!     });
//!     config.send("v2").unwrap();
//!     assert_eq!(reloader.await, "v2");
//! });
//! ```

use crate::wait_queue::{wake_all, Until, Wait, WaitQueue, Waiting};
use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{EventIndex, Location, Need, ObjectKind, Op};
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

/// A watch channel holding `init`.
///
/// ```
/// racecheck_explore::explore(&Default::default(), || async {
///     let (_sender, receiver) = racecheck_sync::watch::channel(0);
///     assert_eq!(*receiver.borrow(), 0);
/// });
/// ```
#[track_caller]
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let location = Location::caller();
    let channel = Arc::new(Channel {
        value: spin::RwLock::new(init),
        state: StateLock::new(WatchState {
            version: 0,
            sent_by: None,
            receivers: 1,
            senders: 1,
            waiters: WaitQueue::default(),
            closed_waiters: WaitQueue::default(),
        }),
        object: rt::register(ObjectKind::Watch, None, location),
        created_at: location,
    });
    (
        Sender {
            channel: channel.clone(),
        },
        Receiver { channel, seen: 0 },
    )
}

/// Every receiver is gone; the value is handed back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("watch channel closed")]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

/// The sender is gone (and the latest value was already seen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("watch channel closed")]
pub struct RecvError(());

struct Channel<T> {
    value: spin::RwLock<T>,
    state: StateLock<WatchState>,
    object: ObjectRef,
    created_at: Location,
}

struct WatchState {
    /// Incremented by each send.
    version: u64,
    /// The event index of the send that wrote the current value.
    sent_by: Option<EventIndex>,
    receivers: usize,
    /// Live senders (the sender can be cloned); 0 closes the channel.
    senders: usize,
    /// Receivers blocked in `changed`.
    waiters: WaitQueue<()>,
    /// The sender blocked in `closed`.
    closed_waiters: WaitQueue<()>,
}

impl<T> Channel<T> {
    fn record(&self, op: Op, location: Location) -> Option<EventIndex> {
        self.object.record(op, location)
    }

    /// Reads the value, recording which send wrote it.
    fn borrow(&self, location: Location, mark_seen: Option<&mut u64>) -> Ref<'_, T> {
        rt::sync_point();
        let (by, version) = {
            let state = lock_state(&self.state);
            (state.sent_by, state.version)
        };
        if let Some(seen) = mark_seen {
            *seen = version;
        }
        self.record(
            Op::Observe {
                object: self.object.id(),
                by,
            },
            location,
        );
        let guard = self.value.try_read().expect(
            "racecheck: a watch value is being replaced while it is borrowed \
             (a send during a borrow deadlocks under tokio)",
        );
        Ref { guard }
    }

    /// Replaces the value, waking every receiver blocked in `changed`.
    fn replace(&self, value: T, location: Location) -> T {
        let mut old = None;
        self.modify(location, |slot| {
            old = Some(std::mem::replace(slot, value));
            true
        });
        old.expect("the value was replaced")
    }

    /// Runs `modify` on the value; if it reports a change, records a send
    /// and wakes every receiver blocked in `changed`, otherwise records an
    /// inspection (a closure that changes the value yet returns `false`
    /// breaks tokio's contract too: the search takes it for a read).
    fn modify(&self, location: Location, modify: impl FnOnce(&mut T) -> bool) -> bool {
        let mut slot = self.value.try_write().unwrap_or_else(|| {
            panic!(
                "racecheck: watch value sent at {location} while a Ref of it is held; \
                 under tokio this deadlocks: do not hold a borrow across an .await"
            )
        });
        let modified = modify(&mut slot);
        drop(slot);
        let object = self.object.id();
        if !modified {
            self.record(Op::Inspect { object }, location);
            return false;
        }
        let event = self.record(Op::Send { object }, location);
        let waiters = {
            let mut state = lock_state(&self.state);
            state.version += 1;
            state.sent_by = event;
            state.waiters.drain()
        };
        wake_all(waiters);
        true
    }
}

/// Sends values to a watch channel.
pub struct Sender<T> {
    channel: Arc<Channel<T>>,
}

impl<T> Sender<T> {
    /// Replaces the value and notifies every receiver; fails, handing the
    /// value back and changing nothing, if every receiver is gone.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::watch::channel(1);
    ///     sender.send(2).unwrap();
    ///     drop(receiver);
    ///     assert_eq!(sender.send(3).unwrap_err().0, 3);
    /// });
    /// ```
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        rt::sync_point();
        let location = Location::caller();
        if lock_state(&self.channel.state).receivers == 0 {
            self.channel.record(
                Op::TryFailed {
                    object: self.channel.object.id(),
                },
                location,
            );
            return Err(SendError(value));
        }
        self.channel.replace(value, location);
        Ok(())
    }

    /// Replaces the value whether or not anyone receives, and returns the
    /// old one.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _) = racecheck_sync::watch::channel("old");
    ///     assert_eq!(sender.send_replace("new"), "old");
    ///     assert_eq!(*sender.borrow(), "new");
    /// });
    /// ```
    #[track_caller]
    pub fn send_replace(&self, value: T) -> T {
        rt::sync_point();
        self.channel.replace(value, Location::caller())
    }

    /// Changes the value in place and notifies every receiver, whether or
    /// not anyone receives. Synchronous: a scheduling point at step
    /// granularity only; recorded as a send.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::watch::channel(vec![1]);
    ///     sender.send_modify(|list| list.push(2));
    ///     receiver.changed().await.unwrap();
    ///     assert_eq!(*receiver.borrow(), [1, 2]);
    /// });
    /// ```
    #[track_caller]
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        rt::sync_point();
        self.channel.modify(Location::caller(), |value| {
            modify(value);
            true
        });
    }

    /// Changes the value in place; notifies every receiver, and returns
    /// `true`, only if `modify` returns `true` (it must return whether it
    /// changed the value). Synchronous: a scheduling point at step
    /// granularity only; recorded as a send, or an inspection when nothing
    /// changed.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::watch::channel(1);
    ///     let raise = |floor: u32| move |value: &mut u32| {
    ///         let raised = *value < floor;
    ///         *value = (*value).max(floor);
    ///         raised
    ///     };
    ///     assert!(!sender.send_if_modified(raise(0)));
    ///     assert!(!receiver.has_changed().unwrap());
    ///     assert!(sender.send_if_modified(raise(5)));
    ///     assert!(receiver.has_changed().unwrap());
    /// });
    /// ```
    #[track_caller]
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        rt::sync_point();
        self.channel.modify(Location::caller(), modify)
    }

    /// Waits until every receiver is gone (at once if none is left): a
    /// scheduling point; recorded as an inspection when it returns. Orders
    /// nothing: dropping a receiver publishes nothing.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::watch::channel(0);
    ///     let watcher = racecheck_runtime::spawn(async move { drop(receiver) });
    ///     sender.closed().await;
    ///     assert_eq!(sender.receiver_count(), 0);
    ///     watcher.await;
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

    /// Whether `other` sends to the same channel. Not recorded: it reads
    /// nothing that changes.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::watch::channel(0);
    ///     let (other, _other_receiver) = racecheck_sync::watch::channel(0);
    ///     assert!(sender.same_channel(&sender) && !sender.same_channel(&other));
    /// });
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.channel, &other.channel)
    }

    /// The latest value.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::watch::channel(5);
    ///     assert_eq!(*sender.borrow(), 5);
    /// });
    /// ```
    #[track_caller]
    pub fn borrow(&self) -> Ref<'_, T> {
        self.channel.borrow(Location::caller(), None)
    }

    /// A new receiver that has seen the current value.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _) = racecheck_sync::watch::channel(1);
    ///     let receiver = sender.subscribe();
    ///     assert!(!receiver.has_changed().unwrap());
    /// });
    /// ```
    #[track_caller]
    pub fn subscribe(&self) -> Receiver<T> {
        rt::sync_point();
        let seen = {
            let mut state = lock_state(&self.channel.state);
            state.receivers += 1;
            state.version
        };
        self.channel.record(
            Op::Subscribe {
                object: self.channel.object.id(),
            },
            Location::caller(),
        );
        Receiver {
            channel: self.channel.clone(),
            seen,
        }
    }

    /// Whether every receiver is gone: recorded as an inspection.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::watch::channel(());
    ///     assert!(!sender.is_closed());
    ///     drop(receiver);
    ///     assert!(sender.is_closed());
    /// });
    /// ```
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        crate::inspect(self.channel.object, Location::caller(), || {
            lock_state(&self.channel.state).receivers == 0
        })
    }

    /// How many senders exist now: recorded as an inspection.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, _receiver) = racecheck_sync::watch::channel(());
    ///     let _second = sender.clone();
    ///     assert_eq!(sender.sender_count(), 2);
    /// });
    /// ```
    #[track_caller]
    pub fn sender_count(&self) -> usize {
        crate::inspect(self.channel.object, Location::caller(), || {
            lock_state(&self.channel.state).senders
        })
    }

    /// How many receivers exist now.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::watch::channel(());
    ///     assert_eq!(sender.receiver_count(), 1);
    ///     drop(receiver);
    ///     assert_eq!(sender.receiver_count(), 0);
    /// });
    /// ```
    #[track_caller]
    pub fn receiver_count(&self) -> usize {
        crate::inspect(self.channel.object, Location::caller(), || {
            lock_state(&self.channel.state).receivers
        })
    }
}

impl<T> Clone for Sender<T> {
    /// Another sender of the same channel, which stays open until every
    /// sender is dropped. Not recorded: it publishes nothing.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::watch::channel(0);
    ///     let second = sender.clone();
    ///     drop(sender);
    ///     second.send(1).unwrap();
    ///     assert!(receiver.changed().await.is_ok());
    ///     drop(second);
    ///     assert!(receiver.changed().await.is_err());
    /// });
    /// ```
    fn clone(&self) -> Self {
        lock_state(&self.channel.state).senders += 1;
        Sender {
            channel: self.channel.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    /// Records `DropSender`; the last sender also closes the channel
    /// (`Close`) and wakes the receivers blocked in `changed`.
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
        let op = if last {
            Op::Close { object }
        } else {
            Op::DropSender { object }
        };
        self.channel.record(op, self.channel.created_at);
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

/// Receives the values of a watch channel; clone it for more receivers.
pub struct Receiver<T> {
    channel: Arc<Channel<T>>,
    /// The version this receiver marked seen.
    seen: u64,
}

impl<T> Receiver<T> {
    /// The latest value, without marking it seen.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::watch::channel(1);
    ///     sender.send(2).unwrap();
    ///     assert_eq!(*receiver.borrow(), 2);
    ///     assert!(receiver.has_changed().unwrap()); // still unseen
    /// });
    /// ```
    #[track_caller]
    pub fn borrow(&self) -> Ref<'_, T> {
        self.channel.borrow(Location::caller(), None)
    }

    /// The latest value, marking it seen.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::watch::channel(1);
    ///     sender.send(2).unwrap();
    ///     assert_eq!(*receiver.borrow_and_update(), 2);
    ///     assert!(!receiver.has_changed().unwrap());
    /// });
    /// ```
    #[track_caller]
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        self.channel
            .borrow(Location::caller(), Some(&mut self.seen))
    }

    /// Whether every sender is gone. Recorded as an inspection while a
    /// sender is left, and as a receive that found the channel closed once
    /// none is (ordered after the senders' drops, as `changed` failing is).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::watch::channel(());
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

    /// Whether a value this receiver has not marked seen is there; an error
    /// once the sender is gone. Recorded as an inspection (it orders
    /// nothing).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, receiver) = racecheck_sync::watch::channel(1);
    ///     assert_eq!(receiver.has_changed(), Ok(false));
    ///     drop(sender);
    ///     assert!(receiver.has_changed().is_err());
    /// });
    /// ```
    #[track_caller]
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let changed = crate::inspect(self.channel.object, Location::caller(), || {
            let state = lock_state(&self.channel.state);
            (state.senders > 0).then_some(state.version != self.seen)
        });
        changed.ok_or(RecvError(()))
    }

    /// Waits for a value this receiver has not seen and marks it seen;
    /// fails once the sender is gone and nothing unseen is left.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::watch::channel(0);
    ///     sender.send(1).unwrap();
    ///     assert!(receiver.changed().await.is_ok());
    ///     drop(sender);
    ///     assert!(receiver.changed().await.is_err());
    /// });
    /// ```
    #[track_caller]
    pub fn changed(&mut self) -> impl Future<Output = Result<(), RecvError>> + '_ {
        Changed::wait(&self.channel, &mut self.seen, Location::caller())
    }
}

impl<T> Receiver<T> {
    /// Waits for a value `predicate` accepts, marking each value it looks
    /// at seen: the current one first (unless the sender is gone and it was
    /// seen already), then each new one. Fails once the sender is gone and
    /// no unseen value is left. A scheduling point; each value looked at is
    /// recorded as an observation of the send that wrote it.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::watch::channel(0);
    ///     let counter = racecheck_runtime::spawn(async move {
    ///         for count in 1..=3 {
    ///             sender.send(count).unwrap();
    ///         }
    ///     });
    ///     assert_eq!(*receiver.wait_for(|count| *count == 3).await.unwrap(), 3);
    ///     counter.await;
    /// });
    /// ```
    #[track_caller]
    pub fn wait_for<'a>(
        &'a mut self,
        mut predicate: impl FnMut(&T) -> bool + 'a,
    ) -> impl Future<Output = Result<Ref<'a, T>, RecvError>> + 'a {
        let location = Location::caller();
        let Receiver { channel, seen } = self;
        let channel: &'a Channel<T> = channel;
        async move {
            let mut point = SchedulePoint::new();
            std::future::poll_fn(|cx| point.poll_point(cx)).await;
            let mut closed = false;
            loop {
                let before = *seen;
                let value = channel.borrow(location, Some(&mut *seen));
                if (!closed || before != *seen) && predicate(&value) {
                    return Ok(value);
                }
                drop(value);
                if closed {
                    return Err(RecvError(()));
                }
                closed = Changed::wait(channel, seen, location).await.is_err();
            }
        }
    }

    /// Marks the current value unseen, so that `changed` returns at once.
    /// Changes only this receiver: not recorded.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (_sender, mut receiver) = racecheck_sync::watch::channel(0);
    ///     receiver.mark_changed();
    ///     assert!(receiver.has_changed().unwrap());
    /// });
    /// ```
    pub fn mark_changed(&mut self) {
        self.seen = self.seen.wrapping_sub(1);
    }

    /// Marks the current value seen without reading it. Synchronous: a
    /// scheduling point at step granularity only; recorded as an inspection
    /// (it reads which value is current).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::watch::channel(0);
    ///     sender.send(1).unwrap();
    ///     receiver.mark_unchanged();
    ///     assert!(!receiver.has_changed().unwrap());
    /// });
    /// ```
    #[track_caller]
    pub fn mark_unchanged(&mut self) {
        self.seen = crate::inspect(self.channel.object, Location::caller(), || {
            lock_state(&self.channel.state).version
        });
    }

    /// Whether `other` receives from the same channel. Not recorded.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (_sender, receiver) = racecheck_sync::watch::channel(0);
    ///     assert!(receiver.same_channel(&receiver.clone()));
    /// });
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.channel, &other.channel)
    }
}

impl<T> Clone for Receiver<T> {
    #[track_caller]
    fn clone(&self) -> Self {
        rt::sync_point();
        lock_state(&self.channel.state).receivers += 1;
        self.channel.record(
            Op::Subscribe {
                object: self.channel.object.id(),
            },
            Location::caller(),
        );
        Receiver {
            channel: self.channel.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        rt::sync_point();
        let senders = {
            let mut state = lock_state(&self.channel.state);
            state.receivers -= 1;
            if state.receivers == 0 {
                state.closed_waiters.drain()
            } else {
                Vec::new()
            }
        };
        self.channel.record(
            Op::DropReceiver {
                object: self.channel.object.id(),
            },
            self.channel.created_at,
        );
        wake_all(senders);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("channel", &self.channel.object.id())
            .finish()
    }
}

/// A borrow of a watch channel's value. Do not hold it across an `.await`:
/// a send while it is held panics.
///
/// ```
/// racecheck_explore::explore(&Default::default(), || async {
///     let (_sender, receiver) = racecheck_sync::watch::channel(String::from("hi"));
///     let value = receiver.borrow();
///     assert_eq!(value.len(), 2);
/// });
/// ```
pub struct Ref<'a, T> {
    guard: spin::RwLockReadGuard<'a, T>,
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A `changed` wait: over once a value the receiver has not seen was
/// sent, or every sender is gone.
struct Changed<'a> {
    /// The receiver's seen version.
    seen: &'a mut u64,
}

impl<'a> Changed<'a> {
    fn wait<T>(
        channel: &'a Channel<T>,
        seen: &'a mut u64,
        location: Location,
    ) -> Waiting<&'a Channel<T>, Changed<'a>> {
        Waiting::new(channel, Changed { seen }, channel.object, location)
    }
}

impl<T> Wait<Channel<T>> for Changed<'_> {
    const NEED: Need = Need::Message;

    type State = WatchState;
    /// The send of the new value, or `Err` once the senders are gone.
    type Found = Result<Option<EventIndex>, RecvError>;
    type Output = Result<(), RecvError>;

    // Woken waiters were drained: each look stands in line afresh.
    const KEEPS_PLACE: bool = false;

    fn state(channel: &Channel<T>) -> &StateLock<WatchState> {
        &channel.state
    }

    fn line<'s>(&self, state: &'s mut WatchState) -> &'s mut WaitQueue<()> {
        &mut state.waiters
    }

    fn look(&mut self, state: &mut WatchState, _ticket: Option<u64>) -> Option<Self::Found> {
        if state.version != *self.seen {
            *self.seen = state.version;
            return Some(Ok(state.sent_by));
        }
        (state.senders == 0).then_some(Err(RecvError(())))
    }

    fn finish(
        &mut self,
        found: Self::Found,
        object: ObjectRef,
        location: Location,
    ) -> Self::Output {
        let id = object.id();
        let op = match found {
            Ok(by) => Op::Observe { object: id, by },
            Err(_) => Op::RecvClosed { object: id },
        };
        object.record(op, location);
        found.map(drop)
    }
}
