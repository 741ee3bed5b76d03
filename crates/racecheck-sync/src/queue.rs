//! asyncio's `Queue`: a FIFO of items with `task_done` and `join`.

use crate::wait_queue::{wake_all, WaitQueue, Waiter};
use crate::{lock_state, StateGuard, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{Location, ObjectKind, Op};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A first-in first-out queue shared by any number of producers and
/// consumers, like Python's `asyncio.Queue(maxsize)`.
///
/// - `put(item).await` is a scheduling point; it blocks while the queue
///   holds `maxsize` items (never when `maxsize` is 0: unbounded).
/// - `get().await` is a scheduling point; it blocks while the queue is
///   empty.
/// - Items come out in the order they went in. Blocked putters and getters
///   are served in the order they blocked, without barging: a slot freed by
///   a `get` is promised to the longest-blocked putter, an item put is
///   promised to the longest-blocked getter, and `put_nowait`/`get_nowait`
///   from other tasks cannot take them. Served getters take the oldest
///   items in the order they run (as asyncio's woken getters do), so two
///   getters served at once may take their items in either order.
/// - `task_done()` marks one item done; `join().await` waits until every
///   item put so far has been marked done (at once if none is pending).
///   As with asyncio's `Event`, a `join` woken when the count reached 0
///   returns even if another `put` came before it ran.
/// - Cancellation: dropping a pending `put` or `get` leaves the line; a
///   slot or item it was promised passes to the next in line.
///
/// Happens-before: a `put` → the `get` (or `get_nowait`) that takes that
/// item, matched first in first out; every `task_done` → every later return
/// of `join`. `qsize`, `empty` and `full` are not recorded and order
/// nothing.
///
/// ```
/// use racecheck_sync::Queue;
/// use std::sync::Arc;
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let urls = Arc::new(Queue::named("urls", 1));
///     let crawler = {
///         let urls = urls.clone();
///         racecheck_runtime::spawn(async move {
///             for _ in 0..2 {
///                 let url: &str = urls.get().await;
///                 assert!(url.starts_with('/'));
///                 urls.task_done();
///             }
///         })
///     };
///     urls.put("/").await; // blocks while the queue is full
///     urls.put("/about").await;
///     urls.join().await; // both were marked done
///     crawler.await;
/// });
/// ```
pub struct Queue<T> {
    state: StateLock<QueueState<T>>,
    object: ObjectRef,
    created_at: Location,
}

struct QueueState<T> {
    items: VecDeque<T>,
    /// 0 for an unbounded queue.
    maxsize: usize,
    /// Slots promised to served putters that have not put yet.
    reserved_slots: usize,
    /// Items promised to served getters that have not taken them yet.
    reserved_items: usize,
    putters: WaitQueue<()>,
    getters: WaitQueue<()>,
    /// Items put and not yet marked done.
    unfinished: usize,
    /// Incremented each time `unfinished` drops to 0.
    finished: u64,
    joiners: WaitQueue<()>,
}

impl<T> QueueState<T> {
    fn has_room(&self) -> bool {
        self.maxsize == 0 || self.items.len() + self.reserved_slots < self.maxsize
    }

    /// Items no served getter has been promised.
    fn has_free_item(&self) -> bool {
        self.items.len() > self.reserved_items
    }

    /// Promises free slots to blocked putters, in order.
    fn serve_putters(&mut self) -> Vec<Waiter<()>> {
        let mut served = Vec::new();
        while self.has_room() {
            let Some(waiter) = self.putters.grant_front() else {
                break;
            };
            self.reserved_slots += 1;
            served.push(waiter);
        }
        served
    }

    /// Promises free items to blocked getters, in order.
    fn serve_getters(&mut self) -> Vec<Waiter<()>> {
        let mut served = Vec::new();
        while self.has_free_item() {
            let Some(waiter) = self.getters.grant_front() else {
                break;
            };
            self.reserved_items += 1;
            served.push(waiter);
        }
        served
    }
}

/// `put_nowait` found the queue full; the item is handed back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("queue full")]
pub struct QueueFull<T>(pub T);

impl<T> fmt::Debug for QueueFull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QueueFull(..)")
    }
}

/// `try_task_done` was called more times than items were put (asyncio's
/// `ValueError: task_done() called too many times`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("task_done() called too many times")]
pub struct TaskDoneTooOften;

/// `get_nowait` found no item it could take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("queue empty")]
pub struct QueueEmpty;

impl<T> Queue<T> {
    /// A queue holding at most `maxsize` items; 0 means unbounded.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let queue = racecheck_sync::Queue::<u32>::new(0);
    ///     assert_eq!(queue.maxsize(), 0);
    ///     assert!(!queue.full()); // unbounded: never full
    /// });
    /// ```
    #[track_caller]
    pub fn new(maxsize: usize) -> Queue<T> {
        Queue::create(None, maxsize, Location::caller())
    }

    /// A queue with a name for reports (`Queue 'jobs'`).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let jobs = racecheck_sync::Queue::named("jobs", 4);
    ///     jobs.put_nowait(1).unwrap();
    ///     assert_eq!(jobs.qsize(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, maxsize: usize) -> Queue<T> {
        Queue::create(Some(name.into()), maxsize, Location::caller())
    }

    fn create(name: Option<Cow<'static, str>>, maxsize: usize, location: Location) -> Queue<T> {
        Queue {
            state: StateLock::new(QueueState {
                items: VecDeque::new(),
                maxsize,
                reserved_slots: 0,
                reserved_items: 0,
                putters: WaitQueue::default(),
                getters: WaitQueue::default(),
                unfinished: 0,
                finished: 0,
                joiners: WaitQueue::default(),
            }),
            object: rt::register(ObjectKind::Queue, name, location),
            created_at: location,
        }
    }

    /// Items in the queue now.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let queue = racecheck_sync::Queue::new(0);
    ///     queue.put("a").await;
    ///     assert_eq!(queue.qsize(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn qsize(&self) -> usize {
        crate::inspect(self.object, Location::caller(), || {
            lock_state(&self.state).items.len()
        })
    }

    /// Whether the queue holds no item.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     assert!(racecheck_sync::Queue::<u8>::new(1).empty());
    /// });
    /// ```
    #[track_caller]
    pub fn empty(&self) -> bool {
        crate::inspect(self.object, Location::caller(), || {
            lock_state(&self.state).items.is_empty()
        })
    }

    /// Whether a `put` would block now: `maxsize` items are in the queue or
    /// promised to blocked putters. Never for an unbounded queue.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let queue = racecheck_sync::Queue::new(1);
    ///     queue.put(()).await;
    ///     assert!(queue.full());
    /// });
    /// ```
    #[track_caller]
    pub fn full(&self) -> bool {
        crate::inspect(self.object, Location::caller(), || {
            !lock_state(&self.state).has_room()
        })
    }

    /// The bound given at creation; 0 for unbounded.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     assert_eq!(racecheck_sync::Queue::<u8>::new(3).maxsize(), 3);
    /// });
    /// ```
    pub fn maxsize(&self) -> usize {
        lock_state(&self.state).maxsize
    }

    /// Waits for room, then puts the item at the back.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let queue = racecheck_sync::Queue::new(2);
    ///     queue.put(1).await;
    ///     queue.put(2).await;
    ///     assert_eq!(queue.get().await, 1);
    /// });
    /// ```
    #[track_caller]
    pub fn put(&self, item: T) -> impl Future<Output = ()> + '_ {
        Put {
            queue: self,
            item: Some(item),
            location: Location::caller(),
            point: SchedulePoint::new(),
            ticket: None,
        }
    }

    /// Puts the item now if there is room. Synchronous: a scheduling
    /// point at step granularity only.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let queue = racecheck_sync::Queue::new(1);
    ///     queue.put_nowait("a").unwrap();
    ///     let full = queue.put_nowait("b").unwrap_err();
    ///     assert_eq!(full.0, "b");
    /// });
    /// ```
    #[track_caller]
    pub fn put_nowait(&self, item: T) -> Result<(), QueueFull<T>> {
        rt::sync_point();
        let location = Location::caller();
        let state = lock_state(&self.state);
        if !state.putters.is_empty() || !state.has_room() {
            drop(state);
            self.record_try_failed(location);
            return Err(QueueFull(item));
        }
        self.push(state, item, location);
        Ok(())
    }

    /// Waits for an item and takes the oldest.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let queue = racecheck_sync::Queue::new(0);
    ///     queue.put_nowait('x').unwrap();
    ///     assert_eq!(queue.get().await, 'x');
    /// });
    /// ```
    #[track_caller]
    pub fn get(&self) -> impl Future<Output = T> + '_ {
        Get {
            queue: self,
            location: Location::caller(),
            point: SchedulePoint::new(),
            ticket: None,
        }
    }

    /// Takes the oldest item if one is free now. Synchronous: a scheduling
    /// point at step granularity only.
    ///
    /// ```
    /// use racecheck_sync::{Queue, QueueEmpty};
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let queue = Queue::new(0);
    ///     assert_eq!(queue.get_nowait(), Err(QueueEmpty));
    ///     queue.put_nowait(5).unwrap();
    ///     assert_eq!(queue.get_nowait(), Ok(5));
    /// });
    /// ```
    #[track_caller]
    pub fn get_nowait(&self) -> Result<T, QueueEmpty> {
        rt::sync_point();
        let location = Location::caller();
        let state = lock_state(&self.state);
        if !state.getters.is_empty() || !state.has_free_item() {
            drop(state);
            self.record_try_failed(location);
            return Err(QueueEmpty);
        }
        Ok(self.pop(state, location))
    }

    /// Marks one item taken from the queue as done, waking `join`s when
    /// none is left pending.
    ///
    /// # Panics
    /// If called more times than items were put (asyncio raises
    /// `ValueError: task_done() called too many times`).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let queue = racecheck_sync::Queue::new(0);
    ///     queue.put(1).await;
    ///     queue.get().await;
    ///     queue.task_done();
    ///     queue.join().await; // returns at once
    /// });
    /// ```
    #[track_caller]
    pub fn task_done(&self) {
        if self.try_task_done_at(Location::caller()).is_err() {
            panic!(
                "task_done() called too many times on a Queue created at {}",
                self.created_at
            );
        }
    }

    /// [`Queue::task_done`], returning an error instead of panicking when
    /// no item is pending, for callers that report it their own way.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let queue = racecheck_sync::Queue::<u8>::new(0);
    ///     assert!(queue.try_task_done().is_err());
    /// });
    /// ```
    #[track_caller]
    pub fn try_task_done(&self) -> Result<(), TaskDoneTooOften> {
        self.try_task_done_at(Location::caller())
    }

    fn try_task_done_at(&self, location: Location) -> Result<(), TaskDoneTooOften> {
        rt::sync_point();
        let joiners = {
            let mut state = lock_state(&self.state);
            if state.unfinished == 0 {
                drop(state);
                // The failure read the count: recorded, so that the search
                // orders it against the puts.
                self.record_try_failed(location);
                return Err(TaskDoneTooOften);
            }
            state.unfinished -= 1;
            if state.unfinished == 0 {
                state.finished += 1;
                state.joiners.drain()
            } else {
                Vec::new()
            }
        };
        self.object.record(
            Op::TaskDone {
                object: self.object.id(),
            },
            location,
        );
        wake_all(joiners);
        Ok(())
    }

    /// Waits until every item put so far has been marked done with
    /// [`Queue::task_done`].
    ///
    /// ```
    /// use racecheck_sync::Queue;
    /// use std::sync::Arc;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let queue = Arc::new(Queue::new(0));
    ///     let worker = {
    ///         let queue = queue.clone();
    ///         racecheck_runtime::spawn(async move {
    ///             let _job: u32 = queue.get().await;
    ///             queue.task_done();
    ///         })
    ///     };
    ///     queue.put(1).await;
    ///     queue.join().await;
    ///     worker.await;
    /// });
    /// ```
    #[track_caller]
    pub fn join(&self) -> impl Future<Output = ()> + '_ {
        Join {
            queue: self,
            location: Location::caller(),
            point: SchedulePoint::new(),
            waiting: None,
        }
    }

    fn record_try_failed(&self, location: Location) {
        self.object.record(
            Op::TryFailed {
                object: self.object.id(),
            },
            location,
        );
    }

    /// Puts the item at the back (room already checked) and promises it to
    /// a blocked getter.
    fn push(&self, mut state: StateGuard<'_, QueueState<T>>, item: T, location: Location) {
        state.items.push_back(item);
        state.unfinished += 1;
        let served = state.serve_getters();
        drop(state);
        self.object.record(
            Op::Send {
                object: self.object.id(),
            },
            location,
        );
        wake_all(served);
    }

    /// Takes the front item (availability already checked) and promises
    /// the slot to a blocked putter.
    fn pop(&self, mut state: StateGuard<'_, QueueState<T>>, location: Location) -> T {
        let item = state
            .items
            .pop_front()
            .expect("an item was available to take");
        let served = state.serve_putters();
        drop(state);
        self.object.record(
            Op::Recv {
                object: self.object.id(),
            },
            location,
        );
        wake_all(served);
        item
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("object", &self.object.id())
            .field("qsize", &lock_state(&self.state).items.len())
            .finish_non_exhaustive()
    }
}

struct Put<'a, T> {
    queue: &'a Queue<T>,
    item: Option<T>,
    location: Location,
    point: SchedulePoint,
    ticket: Option<u64>,
}

impl<T> Unpin for Put<'_, T> {}

impl<T> Future for Put<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let queue = this.queue;
        let mut state = lock_state(&queue.state);
        let may_put = match this.ticket {
            Some(ticket) => state.putters.take_grant(ticket),
            None => state.putters.is_empty() && state.has_room(),
        };
        if may_put {
            if this.ticket.take().is_some() {
                state.reserved_slots -= 1;
            }
            let item = this.item.take().expect("Put polled after completion");
            queue.push(state, item, this.location);
            return Poll::Ready(());
        }
        match this.ticket {
            Some(ticket) => state.putters.update_waker(ticket, cx.waker()),
            None => this.ticket = Some(state.putters.push((), cx.waker().clone())),
        }
        drop(state);
        queue.object.block(this.location);
        Poll::Pending
    }
}

impl<T> Drop for Put<'_, T> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else {
            return;
        };
        let served = {
            let mut state = lock_state(&self.queue.state);
            if state.putters.take_grant(ticket) {
                state.reserved_slots -= 1;
                state.serve_putters()
            } else {
                state.putters.remove(ticket);
                Vec::new()
            }
        };
        wake_all(served);
    }
}

struct Get<'a, T> {
    queue: &'a Queue<T>,
    location: Location,
    point: SchedulePoint,
    ticket: Option<u64>,
}

impl<T> Future for Get<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let queue = this.queue;
        let mut state = lock_state(&queue.state);
        let may_get = match this.ticket {
            Some(ticket) => state.getters.take_grant(ticket),
            None => state.getters.is_empty() && state.has_free_item(),
        };
        if may_get {
            if this.ticket.take().is_some() {
                state.reserved_items -= 1;
            }
            return Poll::Ready(queue.pop(state, this.location));
        }
        match this.ticket {
            Some(ticket) => state.getters.update_waker(ticket, cx.waker()),
            None => this.ticket = Some(state.getters.push((), cx.waker().clone())),
        }
        drop(state);
        queue.object.block(this.location);
        Poll::Pending
    }
}

impl<T> Drop for Get<'_, T> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else {
            return;
        };
        let served = {
            let mut state = lock_state(&self.queue.state);
            if state.getters.take_grant(ticket) {
                state.reserved_items -= 1;
                state.serve_getters()
            } else {
                state.getters.remove(ticket);
                Vec::new()
            }
        };
        wake_all(served);
    }
}

struct Join<'a, T> {
    queue: &'a Queue<T>,
    location: Location,
    point: SchedulePoint,
    /// `(ticket, finished count when it started waiting)`.
    waiting: Option<(u64, u64)>,
}

impl<T> Future for Join<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let queue = this.queue;
        let mut state = lock_state(&queue.state);
        let done = match this.waiting {
            Some((_, finished)) => state.finished != finished,
            None => state.unfinished == 0,
        };
        if done {
            if let Some((ticket, _)) = this.waiting.take() {
                state.joiners.remove(ticket);
            }
            drop(state);
            queue.object.record(
                Op::AllDone {
                    object: queue.object.id(),
                },
                this.location,
            );
            return Poll::Ready(());
        }
        match this.waiting {
            Some((ticket, _)) => state.joiners.update_waker(ticket, cx.waker()),
            None => {
                let finished = state.finished;
                let ticket = state.joiners.push((), cx.waker().clone());
                this.waiting = Some((ticket, finished));
            }
        }
        drop(state);
        queue.object.block(this.location);
        Poll::Pending
    }
}

impl<T> Drop for Join<'_, T> {
    fn drop(&mut self) {
        if let Some((ticket, _)) = self.waiting {
            lock_state(&self.queue.state).joiners.remove(ticket);
        }
    }
}
