//! asyncio's `Event`: a flag tasks can wait for.

use crate::wait_queue::{wake_all, WaitQueue};
use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{EventIndex, Location, Need, ObjectKind, Op};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A flag that tasks wait to be set, like Python's `asyncio.Event`.
///
/// - `wait().await` is a scheduling point; it returns at once if the flag is
///   set, and otherwise blocks until `set()`.
/// - `set()` wakes every waiter; each returns even if the flag is cleared
///   again before it runs (as in asyncio).
/// - `clear()` resets the flag: later `wait()`s block again.
///
/// ```
/// use racecheck_sync::Event;
/// use std::sync::Arc;
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let loaded = Arc::new(Event::named("loaded"));
///     let reader = {
///         let loaded = loaded.clone();
///         racecheck_runtime::spawn(async move { loaded.wait().await })
///     };
///     loaded.set();
///     reader.await;
///     assert!(loaded.is_set());
/// });
/// ```
pub struct Event {
    state: StateLock<EventState>,
    object: ObjectRef,
}

struct EventState {
    set: bool,
    /// Incremented each time the flag goes from clear to set.
    sets: u64,
    /// The event index of the set that raised the flag each time, by `sets`.
    raised_by: Vec<Option<EventIndex>>,
    /// The event index of the latest set since the flag was last cleared.
    latest_set: Option<Option<EventIndex>>,
    waiters: WaitQueue<()>,
}

impl Event {
    /// A new, clear event.
    #[track_caller]
    pub fn new() -> Event {
        Event::create(None, Location::caller())
    }

    /// A new, clear event with a name for reports.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>) -> Event {
        Event::create(Some(name.into()), Location::caller())
    }

    fn create(name: Option<Cow<'static, str>>, location: Location) -> Event {
        Event {
            state: StateLock::new(EventState {
                set: false,
                sets: 0,
                raised_by: Vec::new(),
                latest_set: None,
                waiters: WaitQueue::default(),
            }),
            object: rt::register(ObjectKind::Event, name, location),
        }
    }

    /// Whether the flag is set. Recorded as an inspection (a scheduling
    /// point at step granularity).
    #[track_caller]
    pub fn is_set(&self) -> bool {
        crate::inspect(self.object, Location::caller(), || {
            lock_state(&self.state).set
        })
    }

    /// Sets the flag and wakes every waiter.
    #[track_caller]
    pub fn set(&self) {
        rt::sync_point();
        let event = self.object.record(
            Op::Set {
                object: self.object.id(),
            },
            Location::caller(),
        );
        let waiters = {
            let mut state = lock_state(&self.state);
            if !state.set {
                state.set = true;
                state.sets += 1;
                state.raised_by.push(event);
            }
            state.latest_set = Some(event);
            state.waiters.drain()
        };
        wake_all(waiters);
    }

    /// Clears the flag.
    #[track_caller]
    pub fn clear(&self) {
        rt::sync_point();
        self.object.record(
            Op::Clear {
                object: self.object.id(),
            },
            Location::caller(),
        );
        let mut state = lock_state(&self.state);
        state.set = false;
        state.latest_set = None;
    }

    /// Waits until the flag is set.
    #[track_caller]
    pub fn wait(&self) -> impl Future<Output = ()> + '_ {
        EventWait {
            event: self,
            location: Location::caller(),
            point: SchedulePoint::new(),
            waiting: None,
        }
    }
}

impl Default for Event {
    #[track_caller]
    fn default() -> Event {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("object", &self.object.id())
            .field("set", &lock_state(&self.state).set)
            .finish()
    }
}

struct EventWait<'a> {
    event: &'a Event,
    location: Location,
    point: SchedulePoint,
    /// `(ticket, sets when it started waiting)`.
    waiting: Option<(u64, u64)>,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let event = this.event;
        let mut state = lock_state(&event.state);
        // Released by the set that raised the flag while it waited, or
        // (not waiting yet) by the latest set since the last clear.
        let released_by = match this.waiting {
            Some((_, sets)) if state.sets != sets => Some(state.raised_by[sets as usize]),
            Some(_) => None,
            None => state.latest_set.filter(|_| state.set),
        };
        if let Some(by) = released_by {
            if let Some((ticket, _)) = this.waiting.take() {
                state.waiters.remove(ticket);
            }
            drop(state);
            event.object.record(
                Op::Wait {
                    object: event.object.id(),
                    by,
                },
                this.location,
            );
            return Poll::Ready(());
        }
        match this.waiting {
            Some((ticket, _)) => state.waiters.update_waker(ticket, cx.waker()),
            None => {
                let sets = state.sets;
                let ticket = state.waiters.push((), cx.waker().clone());
                this.waiting = Some((ticket, sets));
            }
        }
        drop(state);
        event.object.block(Need::Unstated, this.location);
        Poll::Pending
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some((ticket, _)) = self.waiting {
            lock_state(&self.event.state).waiters.remove(ticket);
        }
    }
}
