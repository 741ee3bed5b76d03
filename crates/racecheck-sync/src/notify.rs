//! Task notification with tokio's `Notify` semantics.

use crate::wait_queue::{Causes, WaitQueue};
use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{EventIndex, Location, Need, ObjectKind, Op};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// Notifies one task or all waiting tasks, like `tokio::sync::Notify`.
///
/// - `notify_one()` wakes the longest-waiting `notified()` future; if none
///   waits, it stores a single permit (several calls store one) that the next
///   `notified().await` consumes at once.
/// - `notify_waiters()` wakes every `notified()` future that exists at the
///   time of the call, polled yet or not, and stores no permit.
/// - A `Notified` future dropped after `notify_one` chose it passes the
///   notification on (to the next waiter, or as the permit).
///
/// ```
/// use racecheck_sync::Notify;
/// use std::sync::Arc;
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let ready = Arc::new(Notify::new());
///     let waiter = {
///         let ready = ready.clone();
///         racecheck_runtime::spawn(async move { ready.notified().await })
///     };
///     ready.notify_one(); // wakes the waiter, or leaves it a permit
///     waiter.await;
/// });
/// ```
pub struct Notify {
    state: StateLock<NotifyState>,
    object: ObjectRef,
}

struct NotifyState {
    /// The stored permit: the event index of the `notify_one` that stored
    /// it last.
    permit: Option<Option<EventIndex>>,
    /// Incremented by each `notify_waiters`.
    generation: u64,
    /// The event index of each `notify_waiters`, by generation.
    broadcasts: Vec<Option<EventIndex>>,
    waiters: WaitQueue<()>,
    /// Waiters chosen by `notify_one` or `notify_last`, with that call's
    /// event index.
    chosen: Causes,
    /// The tickets among them `notify_last` chose: cancelled, they pass
    /// the notification on to the newest waiter, as tokio does.
    chosen_newest: Vec<u64>,
}

impl NotifyState {
    /// The notification that chose `ticket`, now taken by it.
    fn take_chosen(&mut self, ticket: u64) -> Option<Option<EventIndex>> {
        self.chosen_newest.retain(|&chosen| chosen != ticket);
        self.chosen.take(ticket)
    }
}

impl Notify {
    /// A new `Notify` without a stored permit.
    #[track_caller]
    pub fn new() -> Notify {
        Notify::create(None, Location::caller())
    }

    /// A `Notify` built in a `const`, for a `static`, as tokio's
    /// `Notify::const_new`: untracked (see
    /// `racecheck::Builder::allow_untracked_objects`).
    ///
    /// ```
    /// use racecheck_sync::Notify;
    ///
    /// static READY: Notify = Notify::const_new();
    /// READY.notify_one(); // stores a permit
    /// ```
    #[track_caller]
    pub const fn const_new() -> Notify {
        Notify {
            state: StateLock::new(NotifyState {
                permit: None,
                generation: 0,
                broadcasts: Vec::new(),
                waiters: WaitQueue::new(),
                chosen: Causes::new(),
                chosen_newest: Vec::new(),
            }),
            object: ObjectRef::untracked(Location::caller()),
        }
    }

    /// A new `Notify` with a name for reports.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>) -> Notify {
        Notify::create(Some(name.into()), Location::caller())
    }

    fn create(name: Option<Cow<'static, str>>, location: Location) -> Notify {
        Notify {
            state: StateLock::new(NotifyState {
                permit: None,
                generation: 0,
                broadcasts: Vec::new(),
                waiters: WaitQueue::default(),
                chosen: Causes::default(),
                chosen_newest: Vec::new(),
            }),
            object: rt::register(ObjectKind::Notify, name, location),
        }
    }

    /// A future that completes when notified. It sees `notify_waiters` calls
    /// made from now on, even before its first poll: taking note of them is
    /// recorded as an inspection (a scheduling point at step granularity).
    #[track_caller]
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            waiter: Waiter::new(self, Location::caller()),
        }
    }

    /// [`notified`](Self::notified) through an `Arc`, for a future that
    /// owns its `Notify` (to store in a struct or move into a task).
    ///
    /// ```
    /// use racecheck_sync::Notify;
    /// use std::sync::Arc;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let notify = Arc::new(Notify::new());
    ///     let notified = notify.clone().notified_owned();
    ///     notify.notify_one();
    ///     notified.await;
    /// });
    /// ```
    #[track_caller]
    pub fn notified_owned(self: Arc<Self>) -> OwnedNotified {
        OwnedNotified {
            waiter: Waiter::new(self, Location::caller()),
        }
    }

    /// Wakes the longest waiter, or stores a permit if nobody waits.
    #[track_caller]
    pub fn notify_one(&self) {
        self.notify_single(Waiting::Longest, Location::caller());
    }

    /// Wakes the most recent waiter, or stores a permit if nobody waits.
    /// Synchronous: a scheduling point at step granularity only; recorded
    /// as `notify_one` is (the notification orders the `notified()` it
    /// completes). A notified future dropped before it ran passes the
    /// notification on to the newest waiter left, as tokio's does.
    ///
    /// ```
    /// use racecheck_sync::Notify;
    /// use std::sync::Arc;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let ready = Arc::new(Notify::new());
    ///     let waiter = {
    ///         let ready = ready.clone();
    ///         racecheck_runtime::spawn(async move { ready.notified().await })
    ///     };
    ///     ready.notify_last(); // wakes the waiter, or leaves it a permit
    ///     waiter.await;
    /// });
    /// ```
    #[track_caller]
    pub fn notify_last(&self) {
        self.notify_single(Waiting::Newest, Location::caller());
    }

    /// A notification for one waiter: recorded, then handed on.
    fn notify_single(&self, waiting: Waiting, location: Location) {
        rt::sync_point();
        let event = self.object.record(
            Op::Notify {
                object: self.object.id(),
                all: false,
            },
            location,
        );
        self.pass_on(event, waiting);
    }

    /// Wakes every `Notified` future created before this call.
    #[track_caller]
    pub fn notify_waiters(&self) {
        rt::sync_point();
        let event = self.object.record(
            Op::Notify {
                object: self.object.id(),
                all: true,
            },
            Location::caller(),
        );
        let waiters = {
            let mut state = lock_state(&self.state);
            state.generation += 1;
            state.broadcasts.push(event);
            state.waiters.drain()
        };
        crate::wait_queue::wake_all(waiters);
    }

    /// Hands the notification of event `event` to the longest or the
    /// newest waiter, or stores it as the permit.
    fn pass_on(&self, event: Option<EventIndex>, waiting: Waiting) {
        let served = {
            let state = &mut *lock_state(&self.state);
            let served = match waiting {
                Waiting::Longest => state.chosen.grant_front(&mut state.waiters, event),
                Waiting::Newest => {
                    let served = state.chosen.grant_back(&mut state.waiters, event);
                    state
                        .chosen_newest
                        .extend(served.as_ref().map(|waiter| waiter.ticket));
                    served
                }
            };
            if served.is_none() {
                state.permit = Some(event);
            }
            served
        };
        if let Some(waiter) = served {
            waiter.waker.wake();
        }
    }
}

/// Which waiter a single notification serves.
#[derive(Clone, Copy)]
enum Waiting {
    /// The first in line (`notify_one`).
    Longest,
    /// The last in line (`notify_last`).
    Newest,
}

impl Default for Notify {
    #[track_caller]
    fn default() -> Notify {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify")
            .field("object", &self.object.id())
            .finish_non_exhaustive()
    }
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    waiter: Waiter<&'a Notify>,
}

/// The future of [`Notify::notified_owned`]: [`Notified`] owning an `Arc`
/// of its `Notify`.
#[must_use = "futures do nothing unless awaited"]
pub struct OwnedNotified {
    waiter: Waiter<Arc<Notify>>,
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified").finish_non_exhaustive()
    }
}

impl fmt::Debug for OwnedNotified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedNotified").finish_non_exhaustive()
    }
}

impl Notified<'_> {
    /// Registers the future as a waiter without waiting, so that a
    /// `notify_one` or `notify_waiters` from now on is not lost on it (or
    /// takes a stored permit); returns whether it is notified already, when
    /// awaiting it returns at once. Synchronous: a scheduling point at step
    /// granularity only, as tokio's `Notified::enable`.
    ///
    /// ```
    /// use racecheck_sync::Notify;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let notify = Notify::new();
    ///     let mut notified = std::pin::pin!(notify.notified());
    ///     assert!(!notified.as_mut().enable());
    ///     notify.notify_waiters(); // reaches the enabled future
    ///     assert!(notified.as_mut().enable());
    ///     notified.await;
    /// });
    /// ```
    pub fn enable(self: Pin<&mut Self>) -> bool {
        self.get_mut().waiter.enable()
    }
}

impl OwnedNotified {
    /// As [`Notified::enable`].
    pub fn enable(self: Pin<&mut Self>) -> bool {
        self.get_mut().waiter.enable()
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().waiter.poll(cx)
    }
}

impl Future for OwnedNotified {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().waiter.poll(cx)
    }
}

/// A wait for a notification, through any handle on its `Notify`.
struct Waiter<N: Deref<Target = Notify>> {
    notify: N,
    generation: u64,
    location: Location,
    point: SchedulePoint,
    ticket: Option<u64>,
    done: bool,
}

impl<N: Deref<Target = Notify>> Waiter<N> {
    /// A wait that `notify_waiters` calls from now on release; recorded as
    /// an inspection.
    fn new(notify: N, location: Location) -> Waiter<N> {
        let generation = crate::inspect(notify.object, location, || {
            lock_state(&notify.state).generation
        });
        Waiter {
            notify,
            generation,
            location,
            point: SchedulePoint::new(),
            ticket: None,
            done: false,
        }
    }

    /// Takes a notification if there is one (recorded as `Notified`), or
    /// registers the wait and records that it looked (`Inspect`: whether a
    /// permit was stored is what it read).
    fn enable(&mut self) -> bool {
        if self.done {
            return true;
        }
        rt::sync_point();
        let notified = self.take_notification(Waker::noop());
        if !notified {
            let object = self.notify.object;
            object.record(
                Op::Inspect {
                    object: object.id(),
                },
                self.location,
            );
        }
        notified
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        if self.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        if self.take_notification(cx.waker()) {
            return Poll::Ready(());
        }
        self.notify.object.block(Need::Unstated, self.location);
        Poll::Pending
    }

    /// Takes the notification if there is one for this wait (recording
    /// it), or registers it as a waiter with `waker`. Returns whether it
    /// was notified.
    fn take_notification(&mut self, waker: &Waker) -> bool {
        let notify = &*self.notify;
        let mut state = lock_state(&notify.state);
        let notified_by = match self.ticket {
            _ if state.generation != self.generation => {
                if let Some(ticket) = self.ticket {
                    state.waiters.remove(ticket);
                    state.take_chosen(ticket);
                }
                Some(state.broadcasts[self.generation as usize])
            }
            Some(ticket) if state.waiters.take_grant(ticket) => state.take_chosen(ticket),
            Some(_) => None,
            None => state.permit.take(),
        };
        if let Some(by) = notified_by {
            drop(state);
            self.done = true;
            self.ticket = None;
            notify.object.record(
                Op::Notified {
                    object: notify.object.id(),
                    by,
                },
                self.location,
            );
            return true;
        }
        match self.ticket {
            Some(ticket) => state.waiters.update_waker(ticket, waker),
            None => self.ticket = Some(state.waiters.push((), waker.clone())),
        }
        false
    }
}

impl<N: Deref<Target = Notify>> Drop for Waiter<N> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else {
            return;
        };
        let chosen = {
            let state = &mut *lock_state(&self.notify.state);
            let waiting = match state
                .chosen_newest
                .iter()
                .position(|&chosen| chosen == ticket)
            {
                Some(position) => {
                    state.chosen_newest.swap_remove(position);
                    Waiting::Newest
                }
                None => Waiting::Longest,
            };
            state
                .chosen
                .cancel(&mut state.waiters, ticket)
                .map(|event| (event, waiting))
        };
        if let Some((event, waiting)) = chosen {
            self.notify.pass_on(event, waiting);
        }
    }
}
