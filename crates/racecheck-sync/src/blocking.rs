//! Blocking primitives with `std::sync`'s names and signatures ([`Mutex`],
//! [`RwLock`], [`Condvar`], [`Barrier`], [`Once`], [`mpsc`]), for
//! racecheck threads (`racecheck::thread`) and for async tasks at step
//! granularity: `lock()` blocks the calling thread, not a future.
//!
//! Each is the async primitive of the same role underneath, driven by
//! `racecheck_runtime::block_on`, so the happens-before edges, deadlock
//! detection and lock-order checks are exactly the async ones. Nothing is
//! ever poisoned: a panic while holding a lock fails the execution first,
//! so `lock()` always returns `Ok`.
//!
//! In an async task at await granularity (which cannot block inside a
//! poll), a blocking lock is tried once: free, it is taken; held, the task
//! panics with an explanation, because on a current-thread runtime that
//! call would block the runtime's only thread for good.
//!
//! ```
//! use racecheck_runtime::thread;
//! use racecheck_sync::blocking::Mutex;
//! use std::sync::Arc;
//!
//! racecheck_explore::explore(&Default::default(), || thread::main(|| {
//!     let hits = Arc::new(Mutex::new(0));
//!     let worker = {
//!         let hits = hits.clone();
//!         thread::spawn(move || *hits.lock().unwrap() += 1)
//!     };
//!     *hits.lock().unwrap() += 1;
//!     worker.join().unwrap();
//!     assert_eq!(*hits.lock().unwrap(), 2);
//! }));
//! ```

use crate::condition::WakeOrder;
use racecheck_runtime::{block_on, rt};
use std::borrow::Cow;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;
use std::sync::{LockResult, TryLockError, TryLockResult};

/// Blocks on the future `$blocking` where the task can block; otherwise
/// takes the `Option` `$attempt`, or panics naming `$what` when it would
/// block. A macro rather than a function taking a closure, so that both
/// expressions are evaluated in the `#[track_caller]` method that uses it:
/// their events then carry the caller's line, not this file's.
macro_rules! block_or_try {
    ($blocking:expr, $attempt:expr, $what:expr) => {
        if rt::can_block() {
            block_on($blocking)
        } else {
            match $attempt {
                Some(done) => done,
                None => would_block($what),
            }
        }
    };
}

/// Panics: a blocking operation in an async task at await granularity
/// would block.
#[track_caller]
fn would_block(what: &str) -> ! {
    panic!(
        "racecheck: blocking {what} at {} in an async task, and it would block: on a \
         current-thread runtime this blocks the runtime's only thread for good. Await \
         the async primitive, or use Granularity::Step to model a multi-threaded runtime",
        std::panic::Location::caller()
    )
}

/// `std::sync::Mutex`: mutual exclusion that blocks the calling thread.
///
/// ```
/// use racecheck_sync::blocking::Mutex;
///
/// racecheck_explore::explore(&Default::default(), || racecheck_runtime::thread::main(|| {
///     let rows = Mutex::named("rows", vec![1]);
///     rows.lock().unwrap().push(2);
///     assert_eq!(rows.into_inner().unwrap(), [1, 2]);
/// }));
/// ```
pub struct Mutex<T> {
    inner: crate::Mutex<T>,
}

/// Access to a [`Mutex`]'s value; unlocks on drop.
pub struct MutexGuard<'a, T> {
    inner: crate::MutexGuard<'a, T>,
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    #[track_caller]
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            inner: crate::Mutex::new(value),
        }
    }

    /// A mutex with a name for reports.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> Mutex<T> {
        Mutex {
            inner: crate::Mutex::named(name, value),
        }
    }

    /// Blocks until the lock is free, then takes it. A scheduling point.
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let inner = block_or_try!(self.inner.lock(), self.inner.try_lock().ok(), "Mutex::lock");
        Ok(MutexGuard { inner })
    }

    /// Takes the lock if it is free, without blocking.
    #[track_caller]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        self.inner
            .try_lock()
            .map(|inner| MutexGuard { inner })
            .map_err(|_| TryLockError::WouldBlock)
    }

    /// Always `false`: racecheck fails the execution at the panic that
    /// would poison a lock.
    pub fn is_poisoned(&self) -> bool {
        false
    }

    /// The value, through exclusive access.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        Ok(self.inner.get_mut())
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> LockResult<T> {
        Ok(self.inner.into_inner())
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mutex { .. }")
    }
}

/// `std::sync::RwLock`: many readers or one writer, blocking the calling
/// thread. Fair: a waiting writer holds back later readers.
///
/// ```
/// use racecheck_sync::blocking::RwLock;
///
/// racecheck_explore::explore(&Default::default(), || racecheck_runtime::thread::main(|| {
///     let config = RwLock::new(1);
///     *config.write().unwrap() = 2;
///     assert_eq!(*config.read().unwrap(), 2);
/// }));
/// ```
pub struct RwLock<T> {
    inner: crate::RwLock<T>,
}

/// Shared access to an [`RwLock`]'s value.
pub struct RwLockReadGuard<'a, T> {
    inner: crate::RwLockReadGuard<'a, T>,
}

/// Exclusive access to an [`RwLock`]'s value.
pub struct RwLockWriteGuard<'a, T> {
    inner: crate::RwLockWriteGuard<'a, T>,
}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    #[track_caller]
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            inner: crate::RwLock::new(value),
        }
    }

    /// A lock with a name for reports.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> RwLock<T> {
        RwLock {
            inner: crate::RwLock::named(name, value),
        }
    }

    /// Blocks until no writer holds or waits for the lock, then reads.
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let inner = block_or_try!(
            self.inner.read(),
            self.inner.try_read().ok(),
            "RwLock::read"
        );
        Ok(RwLockReadGuard { inner })
    }

    /// Blocks until nobody holds the lock, then writes.
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let inner = block_or_try!(
            self.inner.write(),
            self.inner.try_write().ok(),
            "RwLock::write"
        );
        Ok(RwLockWriteGuard { inner })
    }

    /// Reads if no writer holds or waits for the lock.
    #[track_caller]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        self.inner
            .try_read()
            .map(|inner| RwLockReadGuard { inner })
            .map_err(|_| TryLockError::WouldBlock)
    }

    /// Writes if nobody holds the lock.
    #[track_caller]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        self.inner
            .try_write()
            .map(|inner| RwLockWriteGuard { inner })
            .map_err(|_| TryLockError::WouldBlock)
    }

    /// Always `false` (see [`Mutex::is_poisoned`]).
    pub fn is_poisoned(&self) -> bool {
        false
    }

    /// The value, through exclusive access.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        Ok(self.inner.get_mut())
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> LockResult<T> {
        Ok(self.inner.into_inner())
    }
}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RwLock { .. }")
    }
}

/// `std::sync::Condvar`: waits for a notification, releasing a [`Mutex`]
/// meanwhile. A notification reaches only tasks already waiting (none is
/// stored), and there are no spurious wake-ups (racecheck explores the real
/// ones instead). A notify happens before the wait it ends returns.
///
/// Which waiter `notify_one` wakes is a scheduling choice, because std
/// promises no order: the notification wakes every task waiting when it was
/// sent, the first of them the strategy runs takes it, and the others wait
/// again. So every strategy explores each waiter being the one woken, and a
/// replayed schedule wakes the same one. (asyncio's and this crate's async
/// [`Condition`](crate::Condition) promise FIFO order, and keep it.)
///
/// ```
/// use racecheck_sync::blocking::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// racecheck_explore::explore(&Default::default(), || racecheck_runtime::thread::main(|| {
///     let pair = Arc::new((Mutex::new(false), Condvar::new()));
///     let starter = {
///         let pair = pair.clone();
///         racecheck_runtime::thread::spawn(move || {
///             *pair.0.lock().unwrap() = true;
///             pair.1.notify_one();
///         })
///     };
///     let (started, changed) = &*pair;
///     let guard = changed.wait_while(started.lock().unwrap(), |started| !*started).unwrap();
///     assert!(*guard);
///     drop(guard);
///     starter.join().unwrap();
/// }));
/// ```
pub struct Condvar {
    inner: crate::Condition,
}

impl Condvar {
    /// A condition variable nobody waits on.
    #[track_caller]
    pub fn new() -> Condvar {
        Condvar {
            inner: crate::Condition::with_order(
                WakeOrder::Any,
                None,
                racecheck_trace::Location::caller(),
            ),
        }
    }

    /// A condition variable with a name for reports.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>) -> Condvar {
        Condvar {
            inner: crate::Condition::with_order(
                WakeOrder::Any,
                Some(name.into()),
                racecheck_trace::Location::caller(),
            ),
        }
    }

    /// Releases the guard's lock, blocks until notified, and takes the lock
    /// again.
    #[track_caller]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let inner = block_or_try!(self.inner.wait(guard.inner), None, "Condvar::wait");
        Ok(MutexGuard { inner })
    }

    /// Waits (as [`wait`](Self::wait)) for as long as `condition` holds.
    #[track_caller]
    pub fn wait_while<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        condition: impl FnMut(&mut T) -> bool,
    ) -> LockResult<MutexGuard<'a, T>> {
        let inner = block_or_try!(
            self.inner.wait_while(guard.inner, condition),
            None,
            "Condvar::wait_while"
        );
        Ok(MutexGuard { inner })
    }

    /// Wakes one waiter, if any; which one is the scheduler's choice.
    #[track_caller]
    pub fn notify_one(&self) {
        self.inner.notify_one();
    }

    /// Wakes every waiter.
    #[track_caller]
    pub fn notify_all(&self) {
        self.inner.notify_all();
    }
}

impl Default for Condvar {
    #[track_caller]
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Condvar { .. }")
    }
}

/// `std::sync::Barrier`: blocks until `n` threads have called
/// [`wait`](Self::wait), then releases them all; exactly one is the leader.
/// Reusable. Every arrival happens before every departure of its
/// generation (racecheck joins generations, which can hide a race, never
/// invent one).
///
/// ```
/// use racecheck_sync::blocking::Barrier;
/// use std::sync::Arc;
///
/// racecheck_explore::explore(&Default::default(), || racecheck_runtime::thread::main(|| {
///     let barrier = Arc::new(Barrier::new(2));
///     let other = {
///         let barrier = barrier.clone();
///         racecheck_runtime::thread::spawn(move || barrier.wait().is_leader())
///     };
///     let leaders = [barrier.wait().is_leader(), other.join().unwrap()];
///     assert_eq!(leaders.iter().filter(|leader| **leader).count(), 1);
/// }));
/// ```
pub struct Barrier {
    inner: crate::Barrier,
}

impl Barrier {
    /// A barrier for `n` threads.
    #[track_caller]
    pub fn new(n: usize) -> Barrier {
        Barrier {
            inner: crate::Barrier::new(n),
        }
    }

    /// Blocks until `n` threads are waiting.
    #[track_caller]
    pub fn wait(&self) -> crate::BarrierWaitResult {
        block_or_try!(self.inner.wait(), None, "Barrier::wait")
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Barrier { .. }")
    }
}

/// `std::sync::Once`: runs an initialisation exactly once; callers that
/// arrive meanwhile block until it is done (and learn everything it did).
///
/// ```
/// use racecheck_sync::blocking::Once;
///
/// racecheck_explore::explore(&Default::default(), || racecheck_runtime::thread::main(|| {
///     let init = Once::new();
///     let mut runs = 0;
///     init.call_once(|| runs += 1);
///     init.call_once(|| runs += 1);
///     assert_eq!(runs, 1);
///     assert!(init.is_completed());
/// }));
/// ```
pub struct Once {
    /// Held while the initialisation runs.
    running: crate::Mutex<()>,
    /// Set (releasing) once it has run.
    done: crate::atomic::AtomicBool,
}

impl Once {
    /// A `Once` that has not run.
    #[track_caller]
    pub fn new() -> Once {
        Once {
            running: crate::Mutex::named("Once", ()),
            done: crate::atomic::AtomicBool::named("Once done", false),
        }
    }

    /// Runs `init` if no call has yet; blocks while another call runs it.
    #[track_caller]
    pub fn call_once(&self, init: impl FnOnce()) {
        if self.is_completed() {
            return;
        }
        let _running = block_or_try!(
            self.running.lock(),
            self.running.try_lock().ok(),
            "Once::call_once"
        );
        if !self.done.load(Ordering::Acquire) {
            init();
            self.done.store(true, Ordering::Release);
        }
    }

    /// Whether a call has completed; if so, everything the initialisation
    /// did happens before this returns.
    #[track_caller]
    pub fn is_completed(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

impl Default for Once {
    #[track_caller]
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Once { .. }")
    }
}

/// `std::sync::mpsc`: channels whose `recv` (and a full `SyncSender`'s
/// `send`) block the calling thread. A send happens before the receive
/// that takes its message.
///
/// ```
/// use racecheck_sync::blocking::mpsc;
///
/// racecheck_explore::explore(&Default::default(), || racecheck_runtime::thread::main(|| {
///     let (sender, receiver) = mpsc::channel();
///     racecheck_runtime::thread::spawn(move || sender.send("page").unwrap());
///     assert_eq!(receiver.recv(), Ok("page"));
///     assert!(receiver.recv().is_err(), "the sender is gone");
/// }));
/// ```
pub mod mpsc {
    use super::would_block;
    use crate::mpsc as channel;
    use racecheck_runtime::{block_on, rt};
    use std::cell::RefCell;
    use std::fmt;
    pub use std::sync::mpsc::{RecvError, SendError, TryRecvError, TrySendError};

    /// An unbounded channel: `send` never blocks.
    #[track_caller]
    pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
        let (sender, receiver) = channel::unbounded_channel();
        (
            Sender { inner: sender },
            Receiver {
                inner: RefCell::new(Inner::Unbounded(receiver)),
            },
        )
    }

    /// A channel holding at most `bound` messages: `send` blocks while it is
    /// full.
    ///
    /// # Panics
    /// With `bound == 0`: std's rendezvous channel is not modelled yet.
    #[track_caller]
    pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
        assert!(
            bound > 0,
            "racecheck: sync_channel(0) (a rendezvous channel) is not supported yet"
        );
        let (sender, receiver) = channel::channel(bound);
        (
            SyncSender { inner: sender },
            Receiver {
                inner: RefCell::new(Inner::Bounded(receiver)),
            },
        )
    }

    /// The sending half of [`channel()`].
    pub struct Sender<T> {
        inner: channel::UnboundedSender<T>,
    }

    impl<T> Sender<T> {
        /// Sends `value`; fails, giving it back, when the receiver is gone.
        #[track_caller]
        pub fn send(&self, value: T) -> Result<(), SendError<T>> {
            self.inner.send(value).map_err(|error| SendError(error.0))
        }
    }

    impl<T> Clone for Sender<T> {
        fn clone(&self) -> Sender<T> {
            Sender {
                inner: self.inner.clone(),
            }
        }
    }

    impl<T> fmt::Debug for Sender<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Sender { .. }")
        }
    }

    /// The sending half of [`sync_channel`].
    pub struct SyncSender<T> {
        inner: channel::Sender<T>,
    }

    impl<T> SyncSender<T> {
        /// Blocks while the channel is full, then sends `value`; fails when
        /// the receiver is gone.
        #[track_caller]
        pub fn send(&self, value: T) -> Result<(), SendError<T>> {
            if racecheck_runtime::rt::can_block() {
                return racecheck_runtime::block_on(self.inner.send(value))
                    .map_err(|error| SendError(error.0));
            }
            self.try_send(value).map_err(|error| match error {
                TrySendError::Disconnected(value) => SendError(value),
                TrySendError::Full(_) => panic!(
                    "racecheck: SyncSender::send on a full channel in an async task at await \
                     granularity would block the runtime's only thread"
                ),
            })
        }

        /// Sends `value` if there is room, without blocking.
        #[track_caller]
        pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
            self.inner.try_send(value).map_err(|error| match error {
                channel::TrySendError::Full(value) => TrySendError::Full(value),
                channel::TrySendError::Closed(value) => TrySendError::Disconnected(value),
            })
        }
    }

    impl<T> Clone for SyncSender<T> {
        fn clone(&self) -> SyncSender<T> {
            SyncSender {
                inner: self.inner.clone(),
            }
        }
    }

    impl<T> fmt::Debug for SyncSender<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("SyncSender { .. }")
        }
    }

    enum Inner<T> {
        Unbounded(channel::UnboundedReceiver<T>),
        Bounded(channel::Receiver<T>),
    }

    /// The receiving half of a channel.
    pub struct Receiver<T> {
        // std's `recv` takes `&self`; the receiver is `!Sync`, so only its
        // own thread ever borrows this.
        inner: RefCell<Inner<T>>,
    }

    impl<T> Receiver<T> {
        /// Blocks until a message arrives, or fails when the channel is empty
        /// and every sender is gone.
        #[track_caller]
        pub fn recv(&self) -> Result<T, RecvError> {
            let mut inner = self.inner.borrow_mut();
            let received = match &mut *inner {
                Inner::Unbounded(receiver) => {
                    block_or_try!(receiver.recv(), None, "mpsc::Receiver::recv")
                }
                Inner::Bounded(receiver) => {
                    block_or_try!(receiver.recv(), None, "mpsc::Receiver::recv")
                }
            };
            received.ok_or(RecvError)
        }

        /// A message if one is waiting, without blocking.
        #[track_caller]
        pub fn try_recv(&self) -> Result<T, TryRecvError> {
            let result = match &mut *self.inner.borrow_mut() {
                Inner::Unbounded(receiver) => receiver.try_recv(),
                Inner::Bounded(receiver) => receiver.try_recv(),
            };
            result.map_err(|error| match error {
                channel::TryRecvError::Empty => TryRecvError::Empty,
                channel::TryRecvError::Disconnected => TryRecvError::Disconnected,
            })
        }

        /// The messages, blocking for each, until every sender is gone.
        pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
            std::iter::from_fn(|| self.recv().ok())
        }

        /// The messages waiting now, without blocking.
        pub fn try_iter(&self) -> impl Iterator<Item = T> + '_ {
            std::iter::from_fn(|| self.try_recv().ok())
        }
    }

    impl<T> fmt::Debug for Receiver<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Receiver { .. }")
        }
    }
}
