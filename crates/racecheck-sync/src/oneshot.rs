//! A channel for a single value, with tokio's API.
//!
//! - `Sender::send` is synchronous (a scheduling point at step granularity
//!   only) and fails, handing the value back, if the receiver is gone.
//! - Closing or dropping the receiver is recorded (`DropReceiver`): a send
//!   after it fails, so the search orders the two.
//! - Awaiting the `Receiver` is a scheduling point; it yields the value, or
//!   [`RecvError`] if the sender was dropped without sending.
//!
//! ```
//! use racecheck_sync::oneshot;
//!
//! racecheck_explore::explore(&Default::default(), || async {
//!     let (reply, answer) = oneshot::channel();
//!     racecheck_runtime::spawn(async move { reply.send(42).unwrap() });
//!     assert_eq!(answer.await, Ok(42));
//! });
//! ```

use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{Location, Need, ObjectKind, Op};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// A new one-shot channel.
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let location = Location::caller();
    let inner = Arc::new(Oneshot {
        state: StateLock::new(OneshotState {
            value: None,
            sender_alive: true,
            receiver_alive: true,
            receiver: None,
            sender: None,
        }),
        object: rt::register(ObjectKind::Oneshot, None, location),
        created_at: location,
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver {
            inner,
            point: SchedulePoint::new(),
            location,
            terminated: false,
        },
    )
}

/// The sender was dropped without sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("channel closed")]
pub struct RecvError(());

/// Why `try_recv` got nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// Nothing sent yet.
    #[error("channel empty")]
    Empty,
    /// The sender is gone without sending (or the value was taken).
    #[error("channel closed")]
    Closed,
}

struct Oneshot<T> {
    state: StateLock<OneshotState<T>>,
    object: ObjectRef,
    created_at: Location,
}

struct OneshotState<T> {
    value: Option<T>,
    sender_alive: bool,
    receiver_alive: bool,
    receiver: Option<Waker>,
    /// The sender waiting in `closed`.
    sender: Option<Waker>,
}

/// Sends the one value.
pub struct Sender<T> {
    /// `None` once sent.
    inner: Option<Arc<Oneshot<T>>>,
}

impl<T> Sender<T> {
    /// Sends the value and wakes the receiver; hands the value back if the
    /// receiver is gone.
    #[track_caller]
    pub fn send(mut self, value: T) -> Result<(), T> {
        rt::sync_point();
        let inner = self.inner.take().expect("a sender sends once");
        let location = Location::caller();
        let receiver = {
            let mut state = lock_state(&inner.state);
            state.sender_alive = false;
            if !state.receiver_alive {
                drop(state);
                inner.object.record(
                    Op::TryFailed {
                        object: inner.object.id(),
                    },
                    location,
                );
                return Err(value);
            }
            state.value = Some(value);
            state.receiver.take()
        };
        inner.object.record(
            Op::Send {
                object: inner.object.id(),
            },
            location,
        );
        if let Some(receiver) = receiver {
            receiver.wake();
        }
        Ok(())
    }

    /// Waits until the receiver is gone (dropped or closed): a scheduling
    /// point; recorded as an inspection when it returns. Orders nothing:
    /// closing the receiver publishes nothing.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (mut sender, receiver) = racecheck_sync::oneshot::channel::<u8>();
    ///     let giver_up = racecheck_runtime::spawn(async move { drop(receiver) });
    ///     sender.closed().await;
    ///     assert!(sender.send(1).is_err());
    ///     giver_up.await;
    /// });
    /// ```
    #[track_caller]
    pub fn closed(&mut self) -> impl Future<Output = ()> + '_ {
        let location = Location::caller();
        let inner = self.inner.as_ref().expect("a sender sends once");
        let mut point = SchedulePoint::new();
        std::future::poll_fn(move |cx| {
            if point.poll_point(cx).is_pending() {
                return Poll::Pending;
            }
            let mut state = lock_state(&inner.state);
            if !state.receiver_alive {
                drop(state);
                let object = inner.object.id();
                inner.object.record(Op::Inspect { object }, location);
                return Poll::Ready(());
            }
            state.sender = Some(cx.waker().clone());
            drop(state);
            inner.object.block(Need::Unstated, location);
            Poll::Pending
        })
    }

    /// Whether the receiver is gone. Recorded as an inspection (a
    /// scheduling point at step granularity).
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        let Some(inner) = self.inner.as_ref() else {
            return true;
        };
        crate::inspect(inner.object, Location::caller(), || {
            !lock_state(&inner.state).receiver_alive
        })
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        inner.object.end_dropped(Need::Message);
        rt::sync_point();
        let receiver = {
            let mut state = lock_state(&inner.state);
            state.sender_alive = false;
            state.receiver.take()
        };
        inner.object.record(
            Op::Close {
                object: inner.object.id(),
            },
            inner.created_at,
        );
        if let Some(receiver) = receiver {
            receiver.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// Receives the one value: await it.
pub struct Receiver<T> {
    inner: Arc<Oneshot<T>>,
    point: SchedulePoint,
    location: Location,
    /// It returned the value or reported the channel closed.
    terminated: bool,
}

impl<T> Receiver<T> {
    /// Waits for the value in synchronous code: blocks a racecheck thread
    /// (tokio: `spawn_blocking`) or an OS thread outside any execution.
    ///
    /// # Panics
    /// In an async task that cannot block (at await granularity), as tokio
    /// does inside its runtime.
    ///
    /// ```
    /// let (sender, receiver) = racecheck_sync::oneshot::channel(); // outside an execution
    /// sender.send(3).unwrap();
    /// assert_eq!(receiver.blocking_recv(), Ok(3));
    /// ```
    #[track_caller]
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        racecheck_runtime::block_on(self)
    }

    /// The value if it was sent. Synchronous: a scheduling
    /// point at step granularity only.
    #[track_caller]
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        rt::sync_point();
        let location = Location::caller();
        let object = self.inner.object.id();
        let (result, op) = {
            let mut state = lock_state(&self.inner.state);
            match state.value.take() {
                Some(value) => (Ok(value), Op::Recv { object }),
                None if state.sender_alive && state.receiver_alive => {
                    (Err(TryRecvError::Empty), Op::TryFailed { object })
                }
                None => (Err(TryRecvError::Closed), Op::RecvClosed { object }),
            }
        };
        self.inner.object.record(op, location);
        self.terminated = !matches!(result, Err(TryRecvError::Empty));
        result
    }

    /// Whether there is no value to receive now: nothing sent yet, or it
    /// was received already. Recorded as an inspection (a scheduling point
    /// at step granularity).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::oneshot::channel();
    ///     assert!(receiver.is_empty());
    ///     sender.send(1).unwrap();
    ///     assert!(!receiver.is_empty());
    ///     assert_eq!((&mut receiver).await, Ok(1));
    ///     assert!(receiver.is_empty() && receiver.is_terminated());
    /// });
    /// ```
    #[track_caller]
    pub fn is_empty(&self) -> bool {
        crate::inspect(self.inner.object, Location::caller(), || {
            lock_state(&self.inner.state).value.is_none()
        })
    }

    /// Whether this receiver returned the value or reported the channel
    /// closed already (it must not be polled again). Reads only the
    /// receiver: not recorded.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let (sender, mut receiver) = racecheck_sync::oneshot::channel::<u8>();
    ///     drop(sender);
    ///     assert!(!receiver.is_terminated());
    ///     assert!((&mut receiver).await.is_err());
    ///     assert!(receiver.is_terminated());
    /// });
    /// ```
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// Refuses the value: a later `send` fails, and receiving gets a value
    /// sent before the close or an error at once.
    #[track_caller]
    pub fn close(&mut self) {
        self.refuse(Location::caller());
    }

    /// Marks the receiver gone, recorded the first time.
    fn refuse(&self, location: Location) {
        rt::sync_point();
        let (was_alive, sender) = {
            let mut state = lock_state(&self.inner.state);
            let was_alive = std::mem::replace(&mut state.receiver_alive, false);
            (was_alive, state.sender.take())
        };
        if was_alive {
            let object = self.inner.object.id();
            self.inner
                .object
                .record(Op::DropReceiver { object }, location);
        }
        if let Some(sender) = sender {
            sender.wake();
        }
    }
}

impl<T> Unpin for Receiver<T> {}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    /// # Panics
    /// When polled again after it returned the value or reported the
    /// channel closed (`try_recv` included), as tokio's.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(!this.terminated, "called after complete");
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let object = this.inner.object;
        let mut state = lock_state(&this.inner.state);
        if let Some(value) = state.value.take() {
            drop(state);
            object.record(
                Op::Recv {
                    object: object.id(),
                },
                this.location,
            );
            this.terminated = true;
            return Poll::Ready(Ok(value));
        }
        if !state.sender_alive || !state.receiver_alive {
            drop(state);
            this.terminated = true;
            object.record(
                Op::RecvClosed {
                    object: object.id(),
                },
                this.location,
            );
            return Poll::Ready(Err(RecvError(())));
        }
        state.receiver = Some(cx.waker().clone());
        drop(state);
        object.block(Need::Message, this.location);
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.refuse(self.location);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
