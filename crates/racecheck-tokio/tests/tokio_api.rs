//! tokio's API as tests use it, written in plain tokio: without the
//! `racecheck` feature these run on real tokio, with it on racecheck (each
//! `#[tokio::test]` an exploration). The same assertions must hold on both.

use racecheck_tokio as tokio;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex, Notify, OnceCell, RwLock, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout, Instant};

#[tokio::test]
async fn join_handle_gives_the_output_or_a_join_error() {
    let answer = tokio::spawn(async { 40 + 2 });
    assert_eq!(answer.await.unwrap(), 42);

    let panicked = tokio::spawn(async { panic!("worker failed") });
    let error = panicked.await.unwrap_err();
    assert!(error.is_panic() && !error.is_cancelled());
    assert_eq!(
        error.into_panic().downcast_ref::<&str>(),
        Some(&"worker failed")
    );

    let sleeper = tokio::spawn(sleep(Duration::from_secs(3600)));
    sleeper.abort();
    let error = sleeper.await.unwrap_err();
    assert!(error.is_cancelled() && !error.is_panic());
}

#[tokio::test]
async fn abort_handle_and_is_finished() {
    let (send, receive) = oneshot::channel::<()>();
    let waiter = tokio::spawn(async move { receive.await.is_ok() });
    let abort = waiter.abort_handle();
    assert_eq!(abort.id(), waiter.id());
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    abort.abort();
    assert!(waiter.await.unwrap_err().is_cancelled());
    assert!(abort.is_finished());
    drop(send);
}

/// Panics when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("dropped");
    }
}

/// A task aborted while it waits is dropped inside its task; a panic of
/// that drop is the task's, given to whoever joins it, as in tokio.
#[tokio::test]
async fn a_panic_while_an_aborted_task_is_dropped_is_a_join_error() {
    let sleeper = tokio::spawn(async {
        let _dropped = PanicsOnDrop;
        sleep(Duration::from_secs(100)).await;
    });
    sleep(Duration::from_millis(10)).await;
    sleeper.abort();
    let error = sleeper.await.unwrap_err();
    assert!(error.is_panic());
    assert_eq!(error.into_panic().downcast_ref::<&str>(), Some(&"dropped"));
}

/// An output that reports, when dropped, which task was current.
struct ReportsTaskOnDrop(Option<oneshot::Sender<Option<tokio::task::Id>>>);

impl Drop for ReportsTaskOnDrop {
    fn drop(&mut self) {
        let send = self.0.take().unwrap();
        send.send(tokio::task::try_id()).unwrap();
    }
}

#[tokio::test]
async fn a_dropped_handle_drops_the_output_with_the_tasks_id() {
    // The test body is not a task.
    assert_eq!(tokio::task::try_id(), None);

    // Dropped while the task runs: the task drops its output itself.
    let (send, receive) = oneshot::channel();
    let handle = tokio::spawn(async move { ReportsTaskOnDrop(Some(send)) });
    let id = handle.id();
    drop(handle);
    assert_eq!(receive.await.unwrap(), Some(id));

    // Dropped after it finished: the handle drops the output, with the
    // task's id current meanwhile.
    let (send, mut receive) = oneshot::channel();
    let (finished, is_finished) = oneshot::channel();
    let handle = tokio::spawn(async move {
        finished.send(()).unwrap();
        ReportsTaskOnDrop(Some(send))
    });
    let id = handle.id();
    is_finished.await.unwrap();
    while !handle.is_finished() {
        tokio::task::yield_now().await;
    }
    assert!(receive.try_recv().is_err(), "kept until the handle goes");
    drop(handle);
    assert_eq!(receive.await.unwrap(), Some(id));
}

#[tokio::test(flavor = "multi_thread")]
async fn block_in_place_runs_on_the_multi_thread_flavor() {
    assert_eq!(tokio::task::block_in_place(|| 2 + 2), 4);
}

#[tokio::test]
#[should_panic(expected = "can call blocking only when running on the multi-threaded runtime")]
async fn block_in_place_panics_on_the_current_thread_flavor() {
    tokio::task::block_in_place(|| {});
}

#[tokio::test]
async fn spawn_blocking_runs_a_closure() {
    let sum = tokio::task::spawn_blocking(|| (1..=100u32).sum::<u32>());
    assert_eq!(sum.await.unwrap(), 5050);
    let failed = tokio::task::spawn_blocking(|| panic!("blocking failed"));
    assert!(failed.await.unwrap_err().is_panic());
}

#[tokio::test]
async fn join_set_joins_every_task_and_aborts_the_rest() {
    let mut set = JoinSet::new();
    for page in 1..=3u32 {
        set.spawn(async move { page * 10 });
    }
    assert_eq!(set.len(), 3);
    let mut total = 0;
    while let Some(result) = set.join_next().await {
        total += result.unwrap();
    }
    assert_eq!(total, 60);
    assert!(set.is_empty());

    set.spawn(async {
        sleep(Duration::from_secs(3600)).await;
        1
    });
    set.abort_all();
    let cancelled = set.join_next().await.unwrap().unwrap_err();
    assert!(cancelled.is_cancelled());

    set.spawn(std::future::pending());
    set.shutdown().await;
    assert!(set.is_empty());
}

#[tokio::test]
async fn select_takes_tokios_syntax() {
    // `biased;` polls in order: the first ready branch wins.
    let first = tokio::select! {
        biased;
        value = async { 1 } => value,
        value = async { 2 } => value,
    };
    assert_eq!(first, 1);

    // A branch whose output does not match its pattern is disabled.
    let (send, receive) = oneshot::channel::<u32>();
    drop(send);
    let matched = tokio::select! {
        Ok(value) = receive => value,
        value = async { 9 } => value,
    };
    assert_eq!(matched, 9);

    // A false precondition disables its branch; `else` when none is left.
    let skipped = tokio::select! {
        value = async { 1 }, if false => value,
        else => 0,
    };
    assert_eq!(skipped, 0);

    // Handlers may be blocks without a trailing comma.
    let (send, mut receive) = mpsc::channel::<u32>(1);
    send.send(5).await.unwrap();
    let received = tokio::select! {
        Some(value) = receive.recv() => {
            value * 2
        }
        _ = sleep(Duration::from_secs(1)) => {
            0
        }
    };
    assert_eq!(received, 10);
}

#[tokio::test]
async fn select_polled_by_hand_completes_on_its_first_poll() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    let (send, mut receive) = oneshot::channel::<u32>();
    send.send(7).unwrap();
    let mut select = std::pin::pin!(async {
        tokio::select! {
            value = &mut receive => value.unwrap(),
            () = std::future::pending() => 0,
        }
    });
    let mut by_hand = Context::from_waker(Waker::noop());
    assert_eq!(select.as_mut().poll(&mut by_hand), Poll::Ready(7));

    // An output type nothing names, in a disabled branch, still infers.
    let never = std::future::poll_fn(|_| panic!("a disabled branch is not polled"));
    let chosen = tokio::select! {
        _ = never, if false => 1,
        () = async {} => 2,
    };
    assert_eq!(chosen, 2);
}

#[tokio::test]
async fn an_empty_vec_compares_without_annotations() {
    // racecheck links no crate with `PartialEq` impls for the numbers (as
    // serde_json's `Value` has), so this infers as it does on tokio.
    let ticks: Vec<u32> = Vec::new();
    assert_eq!(ticks, vec![]);
}

#[tokio::test]
async fn join_and_try_join() {
    let (a, b, c) = tokio::join!(async { 1 }, async { "two" }, async { 3.0 });
    assert_eq!((a, b, c), (1, "two", 3.0));
    let ok: Result<(u8, u8), &str> = tokio::try_join!(async { Ok(1) }, async { Ok(2) });
    assert_eq!(ok, Ok((1, 2)));
    let failed: Result<(u8, u8), &str> =
        tokio::try_join!(async { Ok(1) }, async { Err("refused") });
    assert_eq!(failed, Err("refused"));
}

/// Appends `name` to `order` on each of its three polls.
async fn note_each_poll(name: u8, order: &std::sync::Mutex<Vec<u8>>) {
    for _ in 0..3 {
        order.lock().unwrap().push(name);
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn join_starts_each_poll_one_future_further_on() {
    let order = std::sync::Mutex::new(Vec::new());
    tokio::join!(note_each_poll(1, &order), note_each_poll(2, &order));
    assert_eq!(*order.lock().unwrap(), [1, 2, 2, 1, 1, 2]);

    let order = std::sync::Mutex::new(Vec::new());
    tokio::join!(biased; note_each_poll(1, &order), note_each_poll(2, &order));
    assert_eq!(*order.lock().unwrap(), [1, 2, 1, 2, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn time_is_virtual_and_pausable() {
    let start = Instant::now();
    sleep(Duration::from_secs(60)).await;
    assert!(start.elapsed() >= Duration::from_secs(60));

    let slow = timeout(Duration::from_millis(10), sleep(Duration::from_secs(5))).await;
    assert!(slow.is_err());
    let fast = timeout(Duration::from_secs(5), async { 7 }).await;
    assert_eq!(fast.unwrap(), 7);

    let mut ticks = tokio::time::interval(Duration::from_secs(10));
    let first = ticks.tick().await;
    let second = ticks.tick().await;
    assert_eq!(second - first, Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn an_interval_tick_a_little_late_keeps_the_schedule() {
    use tokio::time::MissedTickBehavior;
    let ms = Duration::from_millis;
    let start = Instant::now();
    let mut ticks = tokio::time::interval(ms(100));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    assert_eq!(ticks.tick().await, start);
    sleep(ms(103)).await;
    // 3 ms late is on time (tokio allows 5): the next is still due at 200.
    assert_eq!(ticks.tick().await, start + ms(100));
    assert_eq!(ticks.tick().await, start + ms(200));
    sleep(ms(150)).await;
    // 50 ms late is missed: `Delay` ticks now, then a period from now.
    assert_eq!(ticks.tick().await, start + ms(300));
    assert_eq!(ticks.tick().await, start + ms(450));
}

#[test]
#[should_panic(expected = "timers are disabled")]
fn a_runtime_built_without_enable_time_has_no_timers() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
}

#[test]
fn a_runtime_built_with_enable_time_has_timers() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let outcome = runtime
        .block_on(async { timeout(Duration::from_millis(1), std::future::pending::<()>()).await });
    assert!(outcome.is_err());
}

#[tokio::test]
#[should_panic(expected = "time is already frozen")]
async fn pausing_a_frozen_clock_panics() {
    tokio::time::pause();
    tokio::time::pause();
}

#[tokio::test]
#[should_panic(expected = "time is not frozen")]
async fn advancing_a_running_clock_panics() {
    tokio::time::advance(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_clock_that_starts_frozen_resumes_and_freezes_again() {
    let start = Instant::now();
    tokio::time::advance(Duration::from_secs(1)).await;
    tokio::time::resume();
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(start.elapsed() >= Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_primitives_at_tokios_paths() {
    let counter = Arc::new(Mutex::new(0));
    let config = Arc::new(RwLock::new("v1"));
    let ready = Arc::new(Notify::new());
    let slots = Arc::new(Semaphore::new(1));
    let once = Arc::new(OnceCell::new());
    let worker = {
        let (counter, config, ready, slots, once) = (
            counter.clone(),
            config.clone(),
            ready.clone(),
            slots.clone(),
            once.clone(),
        );
        tokio::spawn(async move {
            let _permit = slots.acquire().await.unwrap();
            *counter.lock().await += 1;
            assert_eq!(*config.read().await, "v1");
            assert_eq!(*once.get_or_init(|| async { 5 }).await, 5);
            ready.notify_one();
        })
    };
    ready.notified().await;
    worker.await.unwrap();
    assert_eq!(*counter.lock().await, 1);
    assert_eq!(once.get(), Some(&5));
    let permit = slots.clone().acquire_owned().await.unwrap();
    assert!(slots.try_acquire().is_err());
    drop(permit);

    let (send, receive) = oneshot::channel::<u32>();
    drop(receive);
    let returned: Result<(), u32> = send.send(1);
    assert_eq!(returned, Err(1));
    let (send, mut receive) = mpsc::channel::<u32>(1);
    drop(send);
    let closed: Result<u32, mpsc::error::TryRecvError> = receive.try_recv();
    assert_eq!(closed, Err(mpsc::error::TryRecvError::Disconnected));
}

#[tokio::test]
async fn owned_guards_move_into_tasks() {
    let rows = Arc::new(Mutex::new(Vec::new()));
    let mut guard = rows.clone().lock_owned().await;
    assert!(rows.clone().try_lock_owned().is_err());
    let writer = tokio::spawn(async move { guard.push(1) });
    writer.await.unwrap();
    assert_eq!(*rows.lock().await, [1]);

    let config = Arc::new(RwLock::new(1));
    let reader: tokio::sync::OwnedRwLockReadGuard<u32> = config.clone().read_owned().await;
    assert!(config.clone().try_write_owned().is_err());
    drop(reader);
    *config.clone().write_owned().await += 1;
    assert_eq!(*config.clone().try_read_owned().unwrap(), 2);

    let slots = Arc::new(Semaphore::new(3));
    let two = slots.clone().acquire_many_owned(2).await.unwrap();
    let one = slots.clone().try_acquire_owned().unwrap();
    assert!(slots.clone().try_acquire_many_owned(1).is_err());
    drop((two, one));
    assert_eq!(slots.available_permits(), 3);
}

#[tokio::test]
async fn a_test_may_return_a_result() -> Result<(), String> {
    let value = tokio::spawn(async { 3 })
        .await
        .map_err(|error| error.to_string())?;
    assert_eq!(value, 3);
    Ok(())
}

/// Code written for a multi-threaded tokio boxes futures as `Send`; the
/// simulated ones must be `Send` too.
#[test]
fn futures_and_handles_are_send() {
    fn send<T: Send>(_: &T) {}
    fn sync<T: Send + Sync>() {}
    let body = async {
        let lock = Mutex::new(0);
        *lock.lock().await += 1;
        let (sender, mut receiver) = mpsc::channel::<u32>(1);
        sender.send(1).await.unwrap();
        receiver.recv().await;
        sleep(Duration::from_millis(1)).await;
        let _ = timeout(Duration::from_millis(1), async {}).await;
        let mut ticks = tokio::time::interval(Duration::from_millis(1));
        ticks.tick().await;
        tokio::task::yield_now().await;
        let worker = tokio::spawn(async { 1 });
        worker.await.unwrap();
    };
    send(&body);
    sync::<tokio::task::JoinHandle<u32>>();
    sync::<tokio::task::AbortHandle>();
    sync::<tokio::task::JoinError>();
}

tokio::task_local! {
    static REQUEST_ID: u32;
}

#[tokio::test(flavor = "multi_thread")]
async fn task_locals_are_seen_by_their_own_task_only() {
    let first = tokio::spawn(REQUEST_ID.scope(1, async {
        tokio::task::yield_now().await;
        REQUEST_ID.get()
    }));
    let second = tokio::spawn(REQUEST_ID.scope(2, async {
        let outer = REQUEST_ID.get();
        let inner = REQUEST_ID.scope(3, async { REQUEST_ID.get() }).await;
        (outer, inner, REQUEST_ID.get())
    }));
    assert_eq!(first.await.unwrap(), 1);
    assert_eq!(second.await.unwrap(), (2, 3, 2));
    assert!(REQUEST_ID.try_get().is_err());
    assert_eq!(REQUEST_ID.sync_scope(4, || REQUEST_ID.get()), 4);
}

#[tokio::test]
async fn a_local_set_runs_local_tasks_and_waits_for_them() {
    let local = tokio::task::LocalSet::new();
    let counter = std::rc::Rc::new(std::cell::Cell::new(0));
    for _ in 0..2 {
        let counter = counter.clone();
        local.spawn_local(async move {
            tokio::task::yield_now().await;
            counter.set(counter.get() + 1);
        });
    }
    let nested = local
        .run_until(async { tokio::task::spawn_local(async { 7 }).await.unwrap() })
        .await;
    assert_eq!(nested, 7);
    local.await;
    assert_eq!(counter.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn coop_budget_and_interval_reset_after() {
    tokio::task::coop::consume_budget().await;
    let mut ticks = tokio::time::interval(Duration::from_secs(10));
    ticks.tick().await;
    let start = Instant::now();
    ticks.reset_after(Duration::from_secs(4));
    ticks.tick().await;
    assert_eq!(start.elapsed(), Duration::from_secs(4));
}

#[tokio::test]
async fn biased_join_and_a_select_with_only_else() {
    let (first, second) = tokio::join!(biased; async { 1 }, async { 2 });
    assert_eq!((first, second), (1, 2));
    let fallback = tokio::select! {
        else => 5,
    };
    assert_eq!(fallback, 5);
    let borrowed = tokio::select! {
        value = &mut std::future::ready(6) => value,
    };
    assert_eq!(borrowed, 6);
    let text = tokio::select! {
        Some(ref mut text) = async { Some(String::from("a")) } => {
            text.push('b');
            text.clone()
        }
    };
    assert_eq!(text, "ab");
}

#[tokio::test]
async fn a_scope_whose_value_was_taken_runs_without_it() {
    let mut scoped = Box::pin(REQUEST_ID.scope(5, async { REQUEST_ID.try_get().is_err() }));
    assert_eq!(scoped.as_mut().take_value(), Some(5));
    assert!(scoped.await, "the value was taken");
}

#[tokio::test]
async fn a_join_set_is_built_from_futures_and_extended() {
    let mut set: JoinSet<u32> = (1..=2).map(|n| async move { n }).collect();
    set.extend([async { 3 }]);
    set.spawn(async { 4 });
    let mut outputs = set.join_all().await;
    outputs.sort();
    assert_eq!(outputs, [1, 2, 3, 4]);
}
