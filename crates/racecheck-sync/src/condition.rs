//! asyncio's `Condition`: wait for a notification with a mutex released.

use crate::mutex::MutexGuard;
use crate::wait_queue::{wake_all, Causes, WaitQueue, Waiter};
use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{EventIndex, Location, Need, ObjectId, ObjectKind, Op};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A condition variable for racecheck's [`Mutex`](crate::Mutex), like
/// Python's `asyncio.Condition` or an async `std::sync::Condvar`.
///
/// - `wait(guard).await` is a scheduling point; then, in one step, it
///   starts waiting and unlocks the mutex, and blocks until a notification
///   picks it. It then locks the mutex again (queueing like any `lock()`)
///   and returns the new guard.
/// - `notify_one()`, `notify(n)` and `notify_all()` wake waiters in the
///   order they started waiting. They are synchronous and need not hold the
///   mutex. A notification with nobody waiting is lost: there are no stored
///   permits (as in asyncio and std, unlike [`Notify`](crate::Notify)), so a
///   task must start waiting *before* the notification it needs.
/// - There are no spurious wake-ups, but the condition may no longer hold
///   when the waiter has the lock again (another task may have run first):
///   check it in a loop, or use [`Condition::wait_while`].
/// - Cancellation: dropping a `wait` future after a notification picked it
///   passes the notification on to the next waiter; the mutex stays
///   unlocked (the guard was given up when the wait started).
/// - One condition belongs to one mutex: waiting with guards of two
///   different mutexes panics.
///
/// Happens-before: each notification orders what its caller did before it
/// before the return of the `wait` it woke (`Notify` → `Notified { by }`);
/// the mutex's unlock → lock edges order the rest.
///
/// ```
/// use racecheck_sync::{Condition, Mutex};
/// use std::sync::Arc;
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let ready = Arc::new((Mutex::new(false), Condition::named("ready")));
///     let waiter = {
///         let ready = ready.clone();
///         racecheck_runtime::spawn(async move {
///             let (flag, changed) = &*ready;
///             let guard = changed.wait_while(flag.lock().await, |set| !*set).await;
///             assert!(*guard);
///         })
///     };
///     let (flag, changed) = &*ready;
///     *flag.lock().await = true;
///     changed.notify_all();
///     waiter.await;
/// });
/// ```
pub struct Condition {
    state: StateLock<ConditionState>,
    object: ObjectRef,
}

struct ConditionState {
    waiters: WaitQueue<()>,
    /// Waiters picked by a notification, with that notification's event
    /// index.
    chosen: Causes,
    /// The mutex of the first wait: every wait must use it.
    mutex: Option<ObjectId>,
    /// Who a single notification wakes.
    order: WakeOrder,
    /// With [`WakeOrder::Any`], the notifications not yet taken, oldest
    /// first, as `(event, bound)`: any waiter with a ticket below `bound`
    /// (waiting when it was sent) may take it.
    unclaimed: Vec<(Option<EventIndex>, u64)>,
}

/// Which waiter `notify_one` wakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WakeOrder {
    /// The longest waiter (asyncio's `Condition`).
    Fifo,
    /// Any of the waiters, as the scheduler decides (std's `Condvar`,
    /// which promises no order): the notification wakes every waiter, and
    /// the first of them to run takes it; the others wait again.
    Any,
}

impl Condition {
    /// A new condition with nobody waiting.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let condition = racecheck_sync::Condition::new();
    ///     condition.notify_all(); // nobody waits: nothing happens
    /// });
    /// ```
    #[track_caller]
    pub fn new() -> Condition {
        Condition::create(None, Location::caller())
    }

    /// A new condition with a name for reports (`Condition 'ready'`).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let not_empty = racecheck_sync::Condition::named("not empty");
    ///     not_empty.notify_one();
    /// });
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>) -> Condition {
        Condition::create(Some(name.into()), Location::caller())
    }

    fn create(name: Option<Cow<'static, str>>, location: Location) -> Condition {
        Condition::with_order(WakeOrder::Fifo, name, location)
    }

    /// A condition whose single notifications wake waiters in `order`.
    pub(crate) fn with_order(
        order: WakeOrder,
        name: Option<Cow<'static, str>>,
        location: Location,
    ) -> Condition {
        Condition {
            state: StateLock::new(ConditionState {
                waiters: WaitQueue::default(),
                chosen: Causes::default(),
                mutex: None,
                order,
                unclaimed: Vec::new(),
            }),
            object: rt::register(ObjectKind::Condition, name, location),
        }
    }

    /// Unlocks the guard's mutex, waits for a notification, locks the mutex
    /// again and returns the new guard. Starting to wait and unlocking happen
    /// in one step, so a notification sent after the mutex is unlocked is
    /// never missed.
    ///
    /// ```
    /// use racecheck_sync::{Condition, Mutex};
    /// use std::sync::Arc;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let jobs = Arc::new((Mutex::new(Vec::<u32>::new()), Condition::new()));
    ///     let worker = {
    ///         let jobs = jobs.clone();
    ///         racecheck_runtime::spawn(async move {
    ///             let (queue, added) = &*jobs;
    ///             let mut guard = queue.lock().await;
    ///             while guard.is_empty() {
    ///                 guard = added.wait(guard).await;
    ///             }
    ///             guard.pop()
    ///         })
    ///     };
    ///     let (queue, added) = &*jobs;
    ///     queue.lock().await.push(7);
    ///     added.notify_one();
    ///     assert_eq!(worker.await, Some(7));
    /// });
    /// ```
    #[track_caller]
    pub fn wait<'a, 'c, T>(
        &'c self,
        guard: MutexGuard<'a, T>,
    ) -> impl Future<Output = MutexGuard<'a, T>> + use<'a, 'c, T> {
        let location = Location::caller();
        self.wait_at(guard, location)
    }

    async fn wait_at<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        location: Location,
    ) -> MutexGuard<'a, T> {
        let mutex = guard.mutex();
        Waiting {
            condition: self,
            guard: Some(guard),
            location,
            point: SchedulePoint::new(),
            ticket: None,
        }
        .await;
        mutex.lock_at(location).await
    }

    /// Waits (as [`Condition::wait`]) for as long as `condition` returns
    /// `true` for the value, and returns the guard once it returns `false`.
    /// The predicate is checked with the lock held, first before waiting at
    /// all, then after every wake-up, so a notification that came too early
    /// or one meant for another waiter does no harm.
    ///
    /// ```
    /// use racecheck_sync::{Condition, Mutex};
    /// use std::sync::Arc;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let count = Arc::new((Mutex::new(0), Condition::new()));
    ///     let incrementer = {
    ///         let count = count.clone();
    ///         racecheck_runtime::spawn(async move {
    ///             for _ in 0..2 {
    ///                 *count.0.lock().await += 1;
    ///                 count.1.notify_all();
    ///             }
    ///         })
    ///     };
    ///     let (value, changed) = &*count;
    ///     let guard = changed.wait_while(value.lock().await, |count| *count < 2).await;
    ///     assert_eq!(*guard, 2);
    ///     drop(guard);
    ///     incrementer.await;
    /// });
    /// ```
    #[track_caller]
    pub fn wait_while<'a, 'c, T, F>(
        &'c self,
        guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> impl Future<Output = MutexGuard<'a, T>> + use<'a, 'c, T, F>
    where
        F: FnMut(&mut T) -> bool,
    {
        let location = Location::caller();
        async move {
            let mut guard = guard;
            while condition(&mut guard) {
                guard = self.wait_at(guard, location).await;
            }
            guard
        }
    }

    /// Wakes the longest waiter, if any.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     racecheck_sync::Condition::new().notify_one();
    /// });
    /// ```
    #[track_caller]
    pub fn notify_one(&self) {
        self.notify_at(1, Location::caller());
    }

    /// Wakes up to `n` waiters, longest waiting first. Records one
    /// notification per task woken (one in all if nobody waits).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     racecheck_sync::Condition::new().notify(3);
    /// });
    /// ```
    #[track_caller]
    pub fn notify(&self, n: usize) {
        self.notify_at(n, Location::caller());
    }

    /// Wakes every task waiting now.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     racecheck_sync::Condition::new().notify_all();
    /// });
    /// ```
    #[track_caller]
    pub fn notify_all(&self) {
        rt::sync_point();
        let event = self.object.record(
            Op::Notify {
                object: self.object.id(),
                all: true,
            },
            Location::caller(),
        );
        let served = {
            let state = &mut *lock_state(&self.state);
            let mut served = Vec::new();
            while let Some(waiter) = state.chosen.grant_front(&mut state.waiters, event) {
                served.push(waiter);
            }
            // Nobody is left to take an earlier notification.
            state.unclaimed.clear();
            served
        };
        wake_all(served);
    }

    fn notify_at(&self, count: usize, location: Location) {
        rt::sync_point();
        let waiting = {
            let state = lock_state(&self.state);
            // Waiters an earlier notification will wake are spoken for.
            state.waiters.len().saturating_sub(state.unclaimed.len())
        };
        let events = count.min(waiting).max(1);
        for _ in 0..events {
            let event = self.object.record(
                Op::Notify {
                    object: self.object.id(),
                    all: false,
                },
                location,
            );
            if count > 0 {
                self.pass_on(event);
            }
        }
    }

    /// Hands the notification of event `event` to the longest waiter, or,
    /// in any order, to whichever waiter runs first (waking them all); lost
    /// if nobody waits.
    fn pass_on(&self, event: Option<EventIndex>) {
        let woken: Vec<Waker> = {
            let state = &mut *lock_state(&self.state);
            match state.order {
                WakeOrder::Fifo => {
                    let served: Option<Waiter<()>> =
                        state.chosen.grant_front(&mut state.waiters, event);
                    served.map(|waiter| waiter.waker).into_iter().collect()
                }
                // Lost if every waiter is spoken for already.
                WakeOrder::Any if state.waiters.len() <= state.unclaimed.len() => Vec::new(),
                WakeOrder::Any => {
                    let bound = state.waiters.next_ticket();
                    state.unclaimed.push((event, bound));
                    state.waiters.wakers()
                }
            }
        };
        woken.into_iter().for_each(Waker::wake);
    }
}

impl ConditionState {
    /// The event of the notification that ends the wait of `ticket`, if
    /// one does: one that picked it, or (any order) one it may claim.
    fn notified(&mut self, ticket: u64) -> Option<Option<EventIndex>> {
        if !self.waiters.take_grant(ticket) {
            return self.claim(ticket);
        }
        let by = self.chosen.take(ticket);
        debug_assert!(
            by.is_some(),
            "a granted waiter was chosen by a notification"
        );
        by.or(Some(None))
    }

    /// For waiting `ticket`, takes the oldest unclaimed notification sent
    /// while it waited (any order): the ticket stops waiting, and the event
    /// of the notification is returned.
    fn claim(&mut self, ticket: u64) -> Option<Option<EventIndex>> {
        let position = self
            .unclaimed
            .iter()
            .position(|&(_, bound)| ticket < bound)?;
        let (event, _) = self.unclaimed.remove(position);
        self.waiters.remove(ticket);
        self.forget_unclaimable();
        Some(event)
    }

    /// Drops the unclaimed notifications no waiter left can take (their
    /// waiters were cancelled). Each notification, oldest first, is matched
    /// with the oldest waiter not yet matched that waited when it was sent;
    /// since the waiters of a later notification include those of an
    /// earlier one, this keeps as many as can still be taken.
    fn forget_unclaimable(&mut self) {
        let mut tickets = self.waiters.tickets().peekable();
        self.unclaimed.retain(|&(_, bound)| {
            let claimable = tickets.peek().is_some_and(|&ticket| ticket < bound);
            if claimable {
                tickets.next();
            }
            claimable
        });
    }
}

impl Default for Condition {
    #[track_caller]
    fn default() -> Condition {
        Condition::new()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("object", &self.object.id())
            .finish_non_exhaustive()
    }
}

/// Waiting for a notification, the mutex given up: the first half of
/// [`Condition::wait`].
struct Waiting<'c, 'a, T> {
    condition: &'c Condition,
    /// The guard, until the wait starts and unlocks it.
    guard: Option<MutexGuard<'a, T>>,
    location: Location,
    point: SchedulePoint,
    ticket: Option<u64>,
}

impl<T> Unpin for Waiting<'_, '_, T> {}

impl<T> Future for Waiting<'_, '_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let condition = this.condition;
        let mut state = lock_state(&condition.state);
        match this.ticket {
            None => {
                let guard = this.guard.take().expect("the guard is held until waiting");
                let mutex = guard.mutex().object().id();
                let bound = *state.mutex.get_or_insert(mutex);
                assert!(
                    bound == mutex,
                    "racecheck: a Condition waited on at {} with a guard of a different mutex \
                     than its earlier waits; a Condition belongs to one mutex",
                    this.location
                );
                this.ticket = Some(state.waiters.push((), cx.waker().clone()));
                drop(state);
                // Unlocking may wake a task waiting for the mutex: after the
                // condition's state is released.
                guard.unlock_within_operation();
            }
            Some(ticket) => match state.notified(ticket) {
                Some(by) => {
                    drop(state);
                    this.ticket = None;
                    condition.object.record(
                        Op::Notified {
                            object: condition.object.id(),
                            by,
                        },
                        this.location,
                    );
                    return Poll::Ready(());
                }
                None => {
                    state.waiters.update_waker(ticket, cx.waker());
                    drop(state);
                }
            },
        }
        condition.object.block(Need::Unstated, this.location);
        Poll::Pending
    }
}

impl<T> Drop for Waiting<'_, '_, T> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else {
            return;
        };
        let chosen = {
            let state = &mut *lock_state(&self.condition.state);
            let chosen = state.chosen.cancel(&mut state.waiters, ticket);
            state.forget_unclaimable();
            chosen
        };
        if let Some(event) = chosen {
            self.condition.pass_on(event);
        }
    }
}
