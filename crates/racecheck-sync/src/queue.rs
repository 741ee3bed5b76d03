//! asyncio's `Queue`: a FIFO of items with `task_done` and `join`.
//!
//! Its waiting is two fair batch semaphores over the queue's own object
//! (`batch.rs`): free slots (none for an unbounded queue) and free items.
//! A `put` takes a slot, pushes, and releases an item; a `get` takes an
//! item, pops, and releases a slot. The semaphores record nothing: a
//! served putter records its `Send` (and a getter its `Recv`) when it runs
//! again, as the queue's own operation.

use crate::batch::{BatchSemaphore, PermitWait};
use crate::wait_queue::{wake_all, Wait, WaitQueue, Waiting};
use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{Location, Need, ObjectKind, Op};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

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
    /// Slots neither filled nor promised to a served putter; `None` for an
    /// unbounded queue. Blocked putters wait here.
    free_slots: Option<BatchSemaphore>,
    /// Items not promised to a served getter. Blocked getters wait here.
    free_items: BatchSemaphore,
    /// 0 for an unbounded queue.
    maxsize: usize,
    object: ObjectRef,
    created_at: Location,
}

struct QueueState<T> {
    items: VecDeque<T>,
    /// Items put and not yet marked done.
    unfinished: usize,
    /// Incremented each time `unfinished` drops to 0.
    finished: u64,
    joiners: WaitQueue<()>,
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
        let object = rt::register(ObjectKind::Queue, name, location);
        Queue {
            state: StateLock::new(QueueState {
                items: VecDeque::new(),
                unfinished: 0,
                finished: 0,
                joiners: WaitQueue::default(),
            }),
            free_slots: (maxsize > 0).then(|| BatchSemaphore::over(object, maxsize, Need::Slot)),
            free_items: BatchSemaphore::over(object, 0, Need::Message),
            maxsize,
            object,
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
            self.free_slots
                .as_ref()
                .is_some_and(|slots| slots.available_permits() == 0)
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
        self.maxsize
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
        let location = Location::caller();
        Put {
            queue: self,
            item: Some(item),
            slot: self
                .free_slots
                .as_ref()
                .map(|slots| slots.wait(1, location)),
            location,
            point: SchedulePoint::new(),
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
        let full = (self.free_slots.as_ref()).is_some_and(|slots| slots.try_take(1).is_err());
        if full {
            self.record_try_failed(location);
            return Err(QueueFull(item));
        }
        self.push(item, location);
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
        let location = Location::caller();
        Get {
            queue: self,
            item: self.free_items.wait(1, location),
            location,
            point: SchedulePoint::new(),
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
        if self.free_items.try_take(1).is_err() {
            self.record_try_failed(location);
            return Err(QueueEmpty);
        }
        Ok(self.pop(location))
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
        Waiting::new(
            self,
            AllDone { finished: 0 },
            self.object,
            Location::caller(),
        )
    }

    fn record_try_failed(&self, location: Location) {
        self.object.record(
            Op::TryFailed {
                object: self.object.id(),
            },
            location,
        );
    }

    /// Puts the item at the back (a slot already taken) and promises it
    /// to a blocked getter.
    fn push(&self, item: T, location: Location) {
        {
            let mut state = lock_state(&self.state);
            state.items.push_back(item);
            state.unfinished += 1;
        }
        self.free_items.release(1);
        self.object.record(
            Op::Send {
                object: self.object.id(),
            },
            location,
        );
    }

    /// Takes the front item (an item already taken from `free_items`) and
    /// promises its slot to a blocked putter.
    fn pop(&self, location: Location) -> T {
        let item = lock_state(&self.state)
            .items
            .pop_front()
            .expect("an item was available to take");
        if let Some(slots) = &self.free_slots {
            slots.release(1);
        }
        self.object.record(
            Op::Recv {
                object: self.object.id(),
            },
            location,
        );
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

/// The future of [`Queue::put`]: a scheduling point, a free slot (at
/// once for an unbounded queue), the push.
struct Put<'a, T> {
    queue: &'a Queue<T>,
    item: Option<T>,
    /// `None` for an unbounded queue.
    slot: Option<PermitWait<'a>>,
    location: Location,
    point: SchedulePoint,
}

impl<T> Unpin for Put<'_, T> {}

impl<T> Future for Put<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(slot) = &mut this.slot {
            let taken = ready!(slot.poll_take(cx));
            debug_assert!(taken.is_ok(), "a queue's semaphores never close");
        }
        let item = this.item.take().expect("Put polled after completion");
        this.queue.push(item, this.location);
        Poll::Ready(())
    }
}

/// The future of [`Queue::get`]: a scheduling point, a free item, the pop.
struct Get<'a, T> {
    queue: &'a Queue<T>,
    item: PermitWait<'a>,
    location: Location,
    point: SchedulePoint,
}

impl<T> Future for Get<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let taken = ready!(this.item.poll_take(cx));
        debug_assert!(taken.is_ok(), "a queue's semaphores never close");
        Poll::Ready(this.queue.pop(this.location))
    }
}

/// A `join`: over once every item put has been marked done.
struct AllDone {
    /// How many times the count had dropped to 0 when it joined the line.
    finished: u64,
}

impl<T> Wait<Queue<T>> for AllDone {
    type State = QueueState<T>;
    type Found = ();
    type Output = ();

    fn state(queue: &Queue<T>) -> &StateLock<QueueState<T>> {
        &queue.state
    }

    fn line<'s>(&self, state: &'s mut QueueState<T>) -> &'s mut WaitQueue<()> {
        &mut state.joiners
    }

    fn look(&mut self, state: &mut QueueState<T>, ticket: Option<u64>) -> Option<()> {
        let done = match ticket {
            Some(_) => state.finished != self.finished,
            None => {
                self.finished = state.finished;
                state.unfinished == 0
            }
        };
        done.then_some(())
    }

    fn finish(&mut self, (): (), object: ObjectRef, location: Location) {
        let id = object.id();
        object.record(Op::AllDone { object: id }, location);
    }
}
