//! Primitives outside an execution, and operations that complete on their
//! first poll: what a plain `#[test]` that polls a primitive by hand sees
//! (tokio's own tests do this), primitives built in a `const` for a
//! `static`, `blocking_*` calls on OS threads, and a free lock taken on the
//! first poll at step granularity.

use racecheck::sync::{mpsc, oneshot, watch, Barrier, Mutex, Notify, RwLock, Semaphore};
use racecheck::{Builder, Granularity};
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn operations_that_can_complete_do_so_on_the_first_poll_outside_an_execution() {
    let semaphore = Semaphore::new(1);
    let Poll::Ready(Ok(permit)) = poll_once(pin!(semaphore.acquire())) else {
        panic!("a free permit is taken on the first poll");
    };
    assert!(poll_once(pin!(semaphore.acquire())).is_pending());
    drop(permit);

    let (sender, mut receiver) = mpsc::channel(1);
    assert!(matches!(
        poll_once(pin!(sender.send(1))),
        Poll::Ready(Ok(()))
    ));
    assert!(
        poll_once(pin!(sender.send(2))).is_pending(),
        "the channel is full"
    );
    assert_eq!(poll_once(pin!(receiver.recv())), Poll::Ready(Some(1)));

    let notify = Notify::new();
    notify.notify_one();
    assert!(poll_once(pin!(notify.notified())).is_ready());

    let (value_sender, mut value_receiver) = oneshot::channel();
    value_sender.send(5).unwrap();
    assert_eq!(poll_once(pin!(&mut value_receiver)), Poll::Ready(Ok(5)));

    let barrier = Barrier::new(1);
    assert!(poll_once(pin!(barrier.wait())).is_ready());

    let (watch_sender, mut watch_receiver) = watch::channel(0);
    watch_sender.send(1).unwrap();
    assert!(matches!(
        poll_once(pin!(watch_receiver.changed())),
        Poll::Ready(Ok(()))
    ));
}

#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_waiter_outside_an_execution_is_woken_through_its_waker() {
    let mutex = Mutex::new(0);
    let guard = mutex.try_lock().unwrap();
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    let mut lock = pin!(mutex.lock());
    assert!(lock
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    assert!(!flag.0.load(Ordering::SeqCst));
    drop(guard);
    assert!(
        flag.0.load(Ordering::SeqCst),
        "the release wakes the queued lock"
    );
    assert!(poll_once(lock).is_ready());
}

#[test]
fn blocking_calls_park_os_threads_outside_an_execution() {
    let (sender, mut receiver) = mpsc::channel(1);
    let producer = std::thread::spawn(move || {
        for value in 0..3 {
            sender.blocking_send(value).unwrap();
        }
    });
    let received: Vec<u32> = std::iter::from_fn(|| receiver.blocking_recv()).collect();
    producer.join().unwrap();
    assert_eq!(received, [0, 1, 2]);

    let lock = Arc::new(RwLock::new(0));
    let writer = {
        let lock = lock.clone();
        std::thread::spawn(move || *lock.blocking_write() += 1)
    };
    writer.join().unwrap();
    assert_eq!(*lock.blocking_read(), 1);
}

static HITS: Mutex<u64> = Mutex::const_new(0);
static SLOTS: Semaphore = Semaphore::const_new(1);
static CONFIG: RwLock<u32> = RwLock::const_new(7);
static READY: Notify = Notify::const_new();

#[test]
fn const_new_primitives_in_statics_work_in_explorations_that_allow_them() {
    let report = Builder::new()
        .allow_untracked_objects(true)
        .iterations(50)
        .run(|| async {
            *HITS.lock().await += 1;
            let _permit = SLOTS.acquire().await.unwrap();
            assert_eq!(*CONFIG.read().await, 7);
            READY.notify_one();
            READY.notified().await;
        });
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(*HITS.try_lock().unwrap(), 50);
}

#[test]
fn at_step_granularity_a_free_lock_is_taken_on_the_first_poll_by_hand() {
    Builder::new()
        .granularity(Granularity::Step)
        .iterations(100)
        .check(|| async {
            // Another task, so that the scheduling point is a real choice.
            let bystander = racecheck::spawn(async { racecheck::yield_now().await });
            let mutex = Mutex::new(0);
            assert!(
                poll_once(pin!(mutex.lock())).is_ready(),
                "a free lock is taken on the first poll"
            );
            bystander.await;
        });
}

#[test]
fn at_await_granularity_an_awaited_operation_first_passes_its_scheduling_point() {
    Builder::new().iterations(10).check(|| async {
        let mutex = Mutex::new(0);
        // Polled with the task's own context, as `.await` does: the first
        // poll is the scheduling point.
        let mut lock = pin!(mutex.lock());
        let mut polls = 0;
        let guard = std::future::poll_fn(|context| {
            polls += 1;
            lock.as_mut().poll(context)
        })
        .await;
        assert_eq!(polls, 2);
        drop(guard);
        // Polled by hand (another waker), it runs inside the current step.
        assert!(poll_once(pin!(mutex.lock())).is_ready());
    });
}

/// A waker whose drop sends on the channel it waits on.
struct SendOnDrop(racecheck::sync::broadcast::Sender<()>);

impl Wake for SendOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for SendOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[test]
fn a_waker_dropped_by_a_receive_may_use_the_channel() {
    let (sender, mut receiver) = racecheck::sync::broadcast::channel(4);
    let mut receive = pin!(receiver.recv());
    let waker = Waker::from(Arc::new(SendOnDrop(sender)));
    assert!(receive
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    drop(waker);
    // The second poll replaces the stored waker, whose drop sends: after
    // the poll, so the value is there for the next one.
    assert!(poll_once(receive.as_mut()).is_pending());
    assert_eq!(poll_once(receive), Poll::Ready(Ok(())));
}
