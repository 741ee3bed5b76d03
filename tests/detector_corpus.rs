//! A labelled corpus for the happens-before race detector.
//!
//! For every edge racecheck's detector knows (program order, spawn, join,
//! each primitive's release → acquire pair) there is a small program whose
//! two accesses to a `Shared` race, and a twin whose accesses that edge
//! orders. Timers, yields, failed `try_*` calls and cancelled waits order
//! nothing, so programs that rely on them are labelled racy.
//!
//! A racy program must be flagged in ONE execution: detection is
//! predictive, so the race is reported even when this execution ran the two
//! accesses in a harmless order. Every racy program is therefore racy under
//! the happens-before order of *every* schedule, not only of some: where
//! two tasks touch the same lock, virtual time fixes which one takes it
//! first (the clock only moves when no task can run, and moving it adds no
//! edge). A race-free twin must be clean on every schedule, so it runs many
//! executions.
//!
//! Programs never panic and always finish: the only failure they can cause
//! is the detector's.

use racecheck::sync::broadcast::{self, RecvError};
use racecheck::sync::{
    mpsc, oneshot, watch, Barrier, BoundedSemaphore, Condition, Event, Mutex, MutexGuard, Notify,
    Queue, ReentrantMutex, RwLock, RwLockWriteGuard, Semaphore, Shared,
};
use racecheck::time::{sleep, timeout};
use racecheck::{spawn_named, yield_now, Builder, Check, FailureKind, Finding, Report};
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Executions a race-free twin must pass: every one of them must be clean.
const NO_RACE_ITERATIONS: u64 = 200;
/// Executions within which a racy program must be flagged: one, because
/// detection is predictive.
const RACE_ITERATIONS: u64 = 1;

/// A program of the corpus: the root task's future.
type Program = Pin<Box<dyn Future<Output = ()>>>;

/// The happens-before edge a case is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Edge {
    /// Program order within a task, and the kinds of access (awaited,
    /// immediate, read-modify-write, read/read).
    ProgramOrder,
    /// Sleep, yield: no edge at all.
    Timers,
    /// Spawn → the child's first event.
    Spawn,
    /// The child's last event → awaiting its `JoinHandle`.
    Join,
    /// Unlock → a later lock; a failed `try_lock` adds nothing.
    Mutex,
    /// Unlock of the last level → a later lock.
    ReentrantMutex,
    /// Write unlock → read or write lock; read unlock → write lock only.
    RwLock,
    /// Release or `add_permits` → a later acquire.
    Semaphore,
    /// `notify_one` / `notify_waiters` → the `notified()` that completes.
    Notify,
    /// `set` → a `wait` that returns.
    Event,
    /// Send → the recv that gets that message; last sender dropped → the
    /// recv that returns `None`.
    Mpsc,
    /// Send → receive.
    Oneshot,
    /// A notification → the `wait` it woke; a lost notification adds
    /// nothing.
    Condition,
    /// Put → the get that takes that item; `task_done` → `join`.
    Queue,
    /// A returned permit or `release()` → a later acquire; a refused
    /// `release()` adds nothing.
    BoundedSemaphore,
    /// Every arrival → the departures of its generation.
    Barrier,
    /// Send → the `changed`/borrow that reads its value; the sender's drop
    /// → `changed` reporting the channel closed.
    Watch,
    /// Send → each receive of its value; every sender dropped → `Closed`;
    /// a lagged receive adds nothing.
    Broadcast,
    /// Chains of edges through several tasks and primitives.
    Transitive,
}

/// What the detector must say about a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// A data race on the `Shared` with this name, and on no other.
    Race(&'static str),
    /// No data race on any schedule.
    NoRace,
}

struct Case {
    name: &'static str,
    edge: Edge,
    expect: Expect,
    program: fn() -> Program,
}

/// What one case's runs found.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// Nothing.
    Clean,
    /// Data races on these objects (their labels), first the failing one.
    Races(Vec<String>),
    /// Some other failure: a bug in the program, or in racecheck.
    Other(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Clean => f.write_str("no race"),
            Outcome::Races(objects) => write!(f, "race on {}", objects.join(" + ")),
            Outcome::Other(failure) => write!(f, "other: {failure}"),
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Race(name) => write!(f, "race on '{name}'"),
            Expect::NoRace => f.write_str("no race"),
        }
    }
}

macro_rules! cases {
    ($($edge:ident, $expect:expr, $program:ident;)*) => {
        &[$(Case {
            name: stringify!($program),
            edge: Edge::$edge,
            expect: $expect,
            program: $program,
        }),*]
    };
}

use Expect::{NoRace, Race};

const CASES: &[Case] = cases! {
    ProgramOrder, NoRace, one_task_uses_every_kind_of_access;
    ProgramOrder, NoRace, two_tasks_only_read;
    ProgramOrder, Race("x"), immediate_write_vs_immediate_write;
    ProgramOrder, Race("x"), immediate_write_vs_immediate_read;
    ProgramOrder, Race("x"), awaited_store_vs_awaited_load;
    ProgramOrder, Race("x"), awaited_store_vs_immediate_read;
    ProgramOrder, Race("x"), with_mut_vs_awaited_load;
    ProgramOrder, Race("x"), update_vs_update;
    ProgramOrder, Race("racy"), race_on_one_shared_next_to_a_guarded_one;
    ProgramOrder, Race("racy"), race_on_one_shared_among_a_hundred_guarded_ones;
    Timers, Race("x"), sleep_only;
    Timers, Race("x"), root_sleeps_until_the_child_is_done_then_reads;
    Timers, Race("x"), yield_only;
    Spawn, NoRace, write_before_spawn_then_child_writes;
    Spawn, NoRace, read_before_spawn_then_child_stores;
    Spawn, NoRace, spawn_orders_grandchildren;
    Spawn, Race("x"), write_after_spawn_races_with_the_child;
    Spawn, Race("x"), store_after_spawn_races_with_the_grandchild;
    Join, NoRace, join_then_read;
    Join, NoRace, join_by_another_task_then_write;
    Join, NoRace, join_before_spawning_the_next_sibling;
    Join, Race("x"), read_before_join;
    Join, Race("x"), siblings_joined_only_by_the_root;
    Join, Race("x"), join_of_an_unrelated_task;
    Join, Race("x"), join_does_not_order_a_grandchild_left_running;
    Mutex, NoRace, same_mutex;
    Mutex, NoRace, same_mutex_around_awaited_accesses;
    Mutex, NoRace, successful_try_lock_after_unlock;
    Mutex, NoRace, lock_handed_to_a_blocked_waiter;
    Mutex, Race("x"), different_mutexes;
    Mutex, Race("x"), one_task_skips_the_mutex;
    Mutex, Race("x"), write_after_unlock;
    Mutex, Race("x"), failed_try_lock;
    Mutex, Race("x"), lock_cancelled_by_a_timeout;
    Mutex, NoRace, seventy_tasks_behind_one_mutex;
    Mutex, NoRace, mapped_guard_holds_the_lock;
    Mutex, Race("x"), write_after_a_mapped_guard_dropped;
    Mutex, Race("x"), seventy_tasks_and_the_last_skips_the_mutex;
    ReentrantMutex, NoRace, reentrant_same_lock_written_inside_nested_holds;
    ReentrantMutex, NoRace, reentrant_acquire_release_pairs;
    ReentrantMutex, Race("x"), reentrant_write_after_release;
    ReentrantMutex, Race("x"), reentrant_different_locks;
    RwLock, NoRace, rwlock_readers_only_read;
    RwLock, NoRace, rwlock_writer_then_reader;
    RwLock, NoRace, rwlock_reader_then_writer;
    RwLock, NoRace, rwlock_two_writers;
    RwLock, Race("x"), rwlock_write_under_a_read_lock;
    RwLock, Race("x"), rwlock_read_unlock_does_not_order_a_later_reader;
    RwLock, Race("x"), rwlock_reader_skips_the_lock;
    RwLock, NoRace, rwlock_try_read_after_write_unlock;
    RwLock, Race("x"), rwlock_failed_try_write;
    RwLock, NoRace, rwlock_write_then_downgrade_then_reader;
    RwLock, Race("x"), rwlock_write_under_a_downgraded_guard;
    Semaphore, NoRace, semaphore_one_permit_as_a_lock;
    Semaphore, NoRace, semaphore_release_to_a_blocked_acquire;
    Semaphore, NoRace, semaphore_add_permits_as_a_signal;
    Semaphore, Race("x"), semaphore_two_permits_admit_two_holders;
    Semaphore, Race("x"), semaphore_write_after_add_permits;
    Semaphore, NoRace, semaphore_try_acquire_after_release;
    Semaphore, Race("x"), semaphore_failed_try_acquire;
    Semaphore, NoRace, semaphore_forget_permits_after_add_permits;
    Semaphore, Race("x"), semaphore_write_after_add_permits_then_forget;
    Notify, NoRace, notify_one_stores_a_permit_for_a_later_notified;
    Notify, NoRace, notify_one_wakes_a_waiting_notified;
    Notify, NoRace, notify_waiters_wakes_a_registered_notified;
    Notify, Race("x"), notify_one_then_write;
    Notify, Race("x"), notify_waiters_then_write;
    Notify, Race("x"), notify_waiters_with_no_waiter_orders_nothing;
    Notify, Race("x"), notify_one_taken_by_another_waiter;
    Notify, NoRace, notify_last_wakes_a_waiting_notified;
    Notify, Race("x"), notify_last_then_write;
    Event, NoRace, event_set_before_wait;
    Event, NoRace, event_wait_then_set;
    Event, Race("x"), event_write_after_set;
    Event, Race("x"), event_set_by_a_task_that_did_not_write;
    Event, Race("x"), event_wait_returned_by_a_set_after_a_clear;
    Event, Race("x"), write_after_one_of_two_concurrent_reads;
    Mpsc, NoRace, mpsc_write_then_send;
    Mpsc, NoRace, mpsc_unbounded_write_then_send;
    Mpsc, NoRace, mpsc_recv_of_the_later_message;
    Mpsc, NoRace, mpsc_last_sender_dropped;
    Mpsc, NoRace, mpsc_none_after_every_sender_dropped;
    Mpsc, NoRace, mpsc_try_recv_of_a_sent_message;
    Mpsc, Race("x"), mpsc_write_after_send;
    Mpsc, Race("x"), mpsc_recv_of_an_earlier_message;
    Mpsc, Race("x"), mpsc_write_after_sender_dropped;
    Mpsc, NoRace, mpsc_write_then_permit_send;
    Mpsc, NoRace, mpsc_write_between_reserve_and_permit_send;
    Mpsc, NoRace, mpsc_recv_many_of_a_sent_message;
    Mpsc, Race("x"), mpsc_write_after_permit_send;
    Mpsc, Race("x"), mpsc_reserve_given_back_orders_nothing;
    Oneshot, NoRace, oneshot_write_then_send;
    Oneshot, NoRace, oneshot_try_recv_after_send;
    Oneshot, Race("x"), oneshot_write_after_send;
    Condition, NoRace, condition_write_then_notify_one;
    Condition, NoRace, condition_write_then_notify_all;
    Condition, Race("x"), condition_write_after_notify_one;
    Condition, Race("x"), condition_lost_notification_orders_nothing;
    Queue, NoRace, queue_write_then_put;
    Queue, NoRace, queue_get_nowait_of_a_put_item;
    Queue, NoRace, queue_task_done_then_join;
    Queue, Race("x"), queue_write_after_put;
    Queue, Race("x"), queue_get_of_an_earlier_item;
    Queue, Race("x"), queue_write_after_task_done;
    BoundedSemaphore, NoRace, bounded_semaphore_permit_as_a_lock;
    BoundedSemaphore, NoRace, bounded_semaphore_release_as_a_signal;
    BoundedSemaphore, Race("x"), bounded_semaphore_refused_release;
    Barrier, NoRace, barrier_write_before_wait_read_after;
    Barrier, Race("x"), barrier_write_after_wait;
    Watch, NoRace, watch_write_then_send;
    Watch, NoRace, watch_sender_dropped;
    Watch, Race("x"), watch_write_after_send;
    Watch, Race("x"), watch_borrow_of_the_initial_value;
    Watch, NoRace, watch_write_then_send_modify_then_wait_for;
    Watch, Race("x"), watch_write_after_send_modify;
    Watch, Race("x"), watch_send_if_modified_that_changed_nothing;
    Watch, NoRace, watch_is_closed_after_every_cloned_sender_dropped;
    Watch, Race("x"), watch_write_after_dropping_a_cloned_sender;
    Broadcast, NoRace, broadcast_write_then_send_to_two_receivers;
    Broadcast, NoRace, broadcast_closed_after_every_sender_dropped;
    Broadcast, NoRace, broadcast_is_closed_after_every_sender_dropped;
    Broadcast, Race("x"), broadcast_write_after_send;
    Broadcast, Race("x"), broadcast_lagged_receive;
    Transitive, NoRace, chain_through_a_channel_and_an_event;
    Transitive, Race("x"), chain_broken_by_a_write_after_send;
};

/// Spawns a task named `$name` running `$body`, after cloning the `Rc`s
/// listed in brackets; anything else `$body` names is moved in.
macro_rules! task {
    ($name:literal, [$($shared:ident),*], $body:block) => {{
        $(let $shared = $shared.clone();)*
        spawn_named($name, async move $body)
    }};
}

/// The tracked state every case races on (or not).
#[track_caller]
fn shared_x() -> Rc<Shared<u32>> {
    Rc::new(Shared::named("x", 0))
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

// Program order and the kinds of access.

fn one_task_uses_every_kind_of_access() -> Program {
    Box::pin(async {
        let x = shared_x();
        x.set(1);
        x.store(2).await;
        x.update(|value| *value += 1).await;
        let seen = x.load().await + x.get();
        x.with_mut(|value| *value = seen);
        x.with(|value| *value);
    })
}

fn two_tasks_only_read() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], {
            x.load().await;
            x.get();
        });
        let b = task!("b", [x], {
            x.with(|value| *value);
            x.load().await;
        });
        a.await;
        b.await;
    })
}

fn immediate_write_vs_immediate_write() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.set(1) });
        let b = task!("b", [x], { x.set(2) });
        a.await;
        b.await;
    })
}

fn immediate_write_vs_immediate_read() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.set(1) });
        let b = task!("b", [x], {
            x.get();
        });
        a.await;
        b.await;
    })
}

fn awaited_store_vs_awaited_load() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.store(1).await });
        let b = task!("b", [x], {
            x.load().await;
        });
        a.await;
        b.await;
    })
}

fn awaited_store_vs_immediate_read() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.store(1).await });
        let b = task!("b", [x], {
            x.with(|value| *value);
        });
        a.await;
        b.await;
    })
}

fn with_mut_vs_awaited_load() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.with_mut(|value| *value = 1) });
        let b = task!("b", [x], {
            x.load().await;
        });
        a.await;
        b.await;
    })
}

/// `update` cannot be interrupted, but nothing orders the two updates.
fn update_vs_update() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.update(|value| *value += 1).await });
        let b = task!("b", [x], { x.update(|value| *value += 1).await });
        a.await;
        b.await;
    })
}

/// `guarded` is only touched under the mutex; `racy` after it, so whichever
/// task locks second is not ordered after the other's `racy` access.
fn race_on_one_shared_next_to_a_guarded_one() -> Program {
    Box::pin(async {
        let guarded = Rc::new(Shared::named("guarded", 0));
        let racy = Rc::new(Shared::named("racy", 0));
        let lock = Rc::new(Mutex::new(()));
        let a = task!("a", [guarded, racy, lock], {
            {
                let _held = lock.lock().await;
                guarded.set(1);
            }
            racy.set(1);
        });
        let b = task!("b", [guarded, racy, lock], {
            {
                let _held = lock.lock().await;
                guarded.get();
            }
            racy.get();
        });
        a.await;
        b.await;
    })
}

/// As above, with a hundred guarded objects created before the racy one.
fn race_on_one_shared_among_a_hundred_guarded_ones() -> Program {
    Box::pin(async {
        let guarded: Rc<Vec<Shared<u32>>> = Rc::new((0..100).map(Shared::new).collect());
        let racy = Rc::new(Shared::named("racy", 0));
        let lock = Rc::new(Mutex::new(()));
        let a = task!("a", [guarded, racy, lock], {
            {
                let _held = lock.lock().await;
                guarded.iter().for_each(|shared| shared.set(1));
            }
            racy.set(1);
        });
        let b = task!("b", [guarded, racy, lock], {
            {
                let _held = lock.lock().await;
                guarded.iter().for_each(|shared| {
                    shared.get();
                });
            }
            racy.get();
        });
        a.await;
        b.await;
    })
}

// Timers and yields order nothing.

fn sleep_only() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.set(1) });
        let b = task!("b", [x], {
            sleep(ms(10)).await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn root_sleeps_until_the_child_is_done_then_reads() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.store(1).await });
        sleep(ms(10)).await;
        x.get();
        a.await;
    })
}

fn yield_only() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.set(1) });
        let b = task!("b", [x], {
            for _ in 0..5 {
                yield_now().await;
            }
            x.get();
        });
        a.await;
        b.await;
    })
}

// Spawn → the child's first event.

fn write_before_spawn_then_child_writes() -> Program {
    Box::pin(async {
        let x = shared_x();
        x.set(1);
        let a = task!("a", [x], { x.set(2) });
        a.await;
    })
}

fn read_before_spawn_then_child_stores() -> Program {
    Box::pin(async {
        let x = shared_x();
        x.load().await;
        let a = task!("a", [x], { x.store(2).await });
        a.await;
    })
}

fn spawn_orders_grandchildren() -> Program {
    Box::pin(async {
        let x = shared_x();
        x.store(1).await;
        let a = task!("a", [x], {
            let b = task!("b", [x], { x.set(2) });
            b.await;
        });
        a.await;
    })
}

fn write_after_spawn_races_with_the_child() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], {
            x.get();
        });
        x.set(1);
        a.await;
    })
}

fn store_after_spawn_races_with_the_grandchild() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], {
            let b = task!("b", [x], {
                x.get();
            });
            b.await;
        });
        x.store(1).await;
        a.await;
    })
}

// The child's last event → join.

fn join_then_read() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.store(1).await });
        a.await;
        x.get();
    })
}

fn join_by_another_task_then_write() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.set(1) });
        let b = task!("b", [x], {
            a.await;
            x.set(2);
        });
        b.await;
    })
}

fn join_before_spawning_the_next_sibling() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.set(1) });
        a.await;
        let b = task!("b", [x], { x.store(2).await });
        b.await;
    })
}

fn read_before_join() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.set(1) });
        x.load().await;
        a.await;
    })
}

fn siblings_joined_only_by_the_root() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.set(1) });
        let b = task!("b", [x], { x.set(2) });
        a.await;
        b.await;
        x.get();
    })
}

fn join_of_an_unrelated_task() -> Program {
    Box::pin(async {
        let x = shared_x();
        let a = task!("a", [x], { x.set(1) });
        let c = task!("c", [], { yield_now().await });
        let b = task!("b", [x], {
            c.await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// `a` spawns `b` and finishes without joining it: joining `a` orders what
/// `a` did, not what `b` does later.
fn join_does_not_order_a_grandchild_left_running() -> Program {
    Box::pin(async {
        let (x, grandchild) = (shared_x(), Rc::new(Cell::new(None)));
        let a = task!("a", [x, grandchild], {
            grandchild.set(Some(task!("b", [x], { x.set(1) })));
        });
        a.await;
        x.get();
        if let Some(b) = grandchild.take() {
            b.await;
        }
    })
}

// Mutex: unlock → a later lock.

fn same_mutex() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(Mutex::new(())));
        let a = task!("a", [x, lock], {
            let _held = lock.lock().await;
            x.set(1);
        });
        let b = task!("b", [x, lock], {
            let _held = lock.lock().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn same_mutex_around_awaited_accesses() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(Mutex::new(())));
        let a = task!("a", [x, lock], {
            let _held = lock.lock().await;
            x.update(|value| *value += 1).await;
        });
        let b = task!("b", [x, lock], {
            let _held = lock.lock().await;
            let seen = x.load().await;
            x.store(seen + 1).await;
        });
        a.await;
        b.await;
    })
}

/// The lock is free when `b` tries it, so the `try_lock` succeeds and is a
/// lock like any other.
fn successful_try_lock_after_unlock() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(Mutex::new(())));
        let a = task!("a", [x, lock], {
            let _held = lock.lock().await;
            x.set(1);
        });
        let b = task!("b", [x, lock], {
            sleep(ms(10)).await;
            let _held = lock.try_lock();
            x.get();
        });
        a.await;
        b.await;
    })
}

/// `b` queues on the held mutex and is handed it at the unlock.
fn lock_handed_to_a_blocked_waiter() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(Mutex::new(())));
        let a = task!("a", [x, lock], {
            let _held = lock.lock().await;
            sleep(ms(10)).await;
            x.set(1);
        });
        let b = task!("b", [x, lock], {
            sleep(ms(5)).await;
            let _held = lock.lock().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn different_mutexes() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (first, second) = (Rc::new(Mutex::new(())), Rc::new(Mutex::new(())));
        let a = task!("a", [x, first], {
            let _held = first.lock().await;
            x.set(1);
        });
        let b = task!("b", [x, second], {
            let _held = second.lock().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn one_task_skips_the_mutex() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(Mutex::new(())));
        let a = task!("a", [x, lock], {
            let _held = lock.lock().await;
            x.set(1);
        });
        let b = task!("b", [x], {
            x.get();
        });
        a.await;
        b.await;
    })
}

/// `a` locks and unlocks first (`b` sleeps), then writes outside the lock.
fn write_after_unlock() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(Mutex::new(())));
        let a = task!("a", [x, lock], {
            drop(lock.lock().await);
            x.set(1);
        });
        let b = task!("b", [x, lock], {
            sleep(ms(10)).await;
            let _held = lock.lock().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// `b`'s `try_lock` fails while `a` holds the lock again, after an unlock
/// that followed the write: a failed `try_lock` synchronises with nothing.
fn failed_try_lock() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(Mutex::new(())));
        let a = task!("a", [x, lock], {
            {
                let _held = lock.lock().await;
                x.set(1);
            }
            let _held = lock.lock().await;
            sleep(ms(10)).await;
        });
        let b = task!("b", [x, lock], {
            sleep(ms(5)).await;
            let _refused = lock.try_lock();
            x.get();
        });
        a.await;
        b.await;
    })
}

/// Like a failed `try_lock`: a `lock()` given up by a timeout while `a`
/// holds the lock again synchronises with nothing.
fn lock_cancelled_by_a_timeout() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(Mutex::new(())));
        let a = task!("a", [x, lock], {
            {
                let _held = lock.lock().await;
                x.set(1);
            }
            let _held = lock.lock().await;
            sleep(ms(10)).await;
        });
        let b = task!("b", [x, lock], {
            sleep(ms(1)).await;
            let _gave_up = timeout(ms(4), lock.lock()).await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// Tasks that write behind one mutex.
const MANY_TASKS: usize = 70;

fn seventy_tasks_behind_one_mutex() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(Mutex::new(())));
        let mut tasks = Vec::new();
        for _ in 0..MANY_TASKS {
            tasks.push(task!("worker", [x, lock], {
                let _held = lock.lock().await;
                x.update(|value| *value += 1).await;
            }));
        }
        for task in tasks {
            task.await;
        }
        x.get();
    })
}

fn seventy_tasks_and_the_last_skips_the_mutex() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(Mutex::new(())));
        let mut tasks = Vec::new();
        for _ in 1..MANY_TASKS {
            tasks.push(task!("worker", [x, lock], {
                let _held = lock.lock().await;
                x.update(|value| *value += 1).await;
            }));
        }
        tasks.push(task!("careless", [x], {
            x.update(|value| *value += 1).await;
        }));
        for task in tasks {
            task.await;
        }
    })
}

// ReentrantMutex: the last level's unlock → a later lock.

/// `a` writes after releasing the inner level, still holding the outer one.
fn reentrant_same_lock_written_inside_nested_holds() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(ReentrantMutex::new(())));
        let a = task!("a", [x, lock], {
            let outer = lock.lock().await;
            let inner = lock.lock().await;
            drop(inner);
            x.set(1);
            drop(outer);
        });
        let b = task!("b", [x, lock], {
            let _held = lock.lock().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn reentrant_acquire_release_pairs() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(ReentrantMutex::new(())));
        let a = task!("a", [x, lock], {
            lock.acquire().await;
            lock.acquire().await;
            x.store(1).await;
            let _ = lock.release();
            let _ = lock.release();
        });
        let b = task!("b", [x, lock], {
            lock.acquire().await;
            x.get();
            let _ = lock.release();
        });
        a.await;
        b.await;
    })
}

fn reentrant_write_after_release() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(ReentrantMutex::new(())));
        let a = task!("a", [x, lock], {
            lock.acquire().await;
            let _ = lock.release();
            x.set(1);
        });
        let b = task!("b", [x, lock], {
            sleep(ms(10)).await;
            let _held = lock.lock().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn reentrant_different_locks() -> Program {
    Box::pin(async {
        let x = shared_x();
        let first = Rc::new(ReentrantMutex::new(()));
        let second = Rc::new(ReentrantMutex::new(()));
        let a = task!("a", [x, first], {
            let _held = first.lock().await;
            x.set(1);
        });
        let b = task!("b", [x, second], {
            let _held = second.lock().await;
            x.set(2);
        });
        a.await;
        b.await;
    })
}

// RwLock: write unlock → read or write lock; read unlock → write lock.

/// The root wrote before spawning; the readers only read, together.
fn rwlock_readers_only_read() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(RwLock::new(())));
        x.set(1);
        let a = task!("a", [x, lock], {
            let _held = lock.read().await;
            x.get();
        });
        let b = task!("b", [x, lock], {
            let _held = lock.read().await;
            x.load().await;
        });
        a.await;
        b.await;
    })
}

fn rwlock_writer_then_reader() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(RwLock::new(())));
        let a = task!("a", [x, lock], {
            let _held = lock.write().await;
            x.set(1);
        });
        let b = task!("b", [x, lock], {
            sleep(ms(10)).await;
            let _held = lock.read().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn rwlock_reader_then_writer() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(RwLock::new(())));
        let a = task!("a", [x, lock], {
            let _held = lock.read().await;
            x.get();
        });
        let b = task!("b", [x, lock], {
            sleep(ms(10)).await;
            let _held = lock.write().await;
            x.set(1);
        });
        a.await;
        b.await;
    })
}

fn rwlock_two_writers() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(RwLock::new(())));
        let a = task!("a", [x, lock], {
            let _held = lock.write().await;
            x.update(|value| *value += 1).await;
        });
        let b = task!("b", [x, lock], {
            let _held = lock.write().await;
            x.set(2);
        });
        a.await;
        b.await;
    })
}

fn rwlock_write_under_a_read_lock() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(RwLock::new(())));
        let a = task!("a", [x, lock], {
            let _held = lock.read().await;
            x.set(1);
        });
        let b = task!("b", [x, lock], {
            let _held = lock.read().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// `a` reads the lock, writes `x` and unlocks before `b` read-locks.
fn rwlock_read_unlock_does_not_order_a_later_reader() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(RwLock::new(())));
        let a = task!("a", [x, lock], {
            let _held = lock.read().await;
            x.set(1);
        });
        let b = task!("b", [x, lock], {
            sleep(ms(10)).await;
            let _held = lock.read().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn rwlock_reader_skips_the_lock() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(RwLock::new(())));
        let a = task!("a", [x, lock], {
            let _held = lock.write().await;
            x.set(1);
        });
        let b = task!("b", [x], {
            x.load().await;
        });
        a.await;
        b.await;
    })
}

/// The lock is free when `b` tries it: a successful `try_read` is a read
/// lock like any other.
fn rwlock_try_read_after_write_unlock() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(RwLock::new(())));
        let a = task!("a", [x, lock], {
            let _held = lock.write().await;
            x.set(1);
        });
        let b = task!("b", [x, lock], {
            sleep(ms(10)).await;
            let _held = lock.try_read();
            x.get();
        });
        a.await;
        b.await;
    })
}

/// `b`'s `try_write` fails while `a` reads, after `a`'s write unlock.
fn rwlock_failed_try_write() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(RwLock::new(())));
        let a = task!("a", [x, lock], {
            {
                let _held = lock.write().await;
                x.set(1);
            }
            let _held = lock.read().await;
            sleep(ms(10)).await;
        });
        let b = task!("b", [x, lock], {
            sleep(ms(5)).await;
            let _refused = lock.try_write();
            x.get();
        });
        a.await;
        b.await;
    })
}

// Semaphore: release or add_permits → a later acquire.

fn semaphore_one_permit_as_a_lock() -> Program {
    Box::pin(async {
        let (x, permits) = (shared_x(), Rc::new(Semaphore::new(1)));
        let a = task!("a", [x, permits], {
            let _permit = permits.acquire().await;
            x.set(1);
        });
        let b = task!("b", [x, permits], {
            let _permit = permits.acquire().await;
            x.store(2).await;
        });
        a.await;
        b.await;
    })
}

/// `b` queues while `a` holds the only permit and gets it at the release.
fn semaphore_release_to_a_blocked_acquire() -> Program {
    Box::pin(async {
        let (x, permits) = (shared_x(), Rc::new(Semaphore::new(1)));
        let a = task!("a", [x, permits], {
            let _permit = permits.acquire().await;
            sleep(ms(10)).await;
            x.set(1);
        });
        let b = task!("b", [x, permits], {
            sleep(ms(5)).await;
            let _permit = permits.acquire().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn semaphore_add_permits_as_a_signal() -> Program {
    Box::pin(async {
        let (x, permits) = (shared_x(), Rc::new(Semaphore::new(0)));
        let a = task!("a", [x, permits], {
            x.set(1);
            permits.add_permits(1);
        });
        let b = task!("b", [x, permits], {
            let _permit = permits.acquire().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// Both tasks take a permit at time 0 and hold it until 10 ms: no release
/// comes before either acquire.
fn semaphore_two_permits_admit_two_holders() -> Program {
    Box::pin(async {
        let (x, permits) = (shared_x(), Rc::new(Semaphore::new(2)));
        let a = task!("a", [x, permits], {
            let _permit = permits.acquire().await;
            x.set(1);
            sleep(ms(10)).await;
        });
        let b = task!("b", [x, permits], {
            let _permit = permits.acquire().await;
            x.set(2);
            sleep(ms(10)).await;
        });
        a.await;
        b.await;
    })
}

fn semaphore_write_after_add_permits() -> Program {
    Box::pin(async {
        let (x, permits) = (shared_x(), Rc::new(Semaphore::new(0)));
        let a = task!("a", [x, permits], {
            permits.add_permits(1);
            x.set(1);
        });
        let b = task!("b", [x, permits], {
            let _permit = permits.acquire().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn semaphore_try_acquire_after_release() -> Program {
    Box::pin(async {
        let (x, permits) = (shared_x(), Rc::new(Semaphore::new(1)));
        let a = task!("a", [x, permits], {
            let _permit = permits.acquire().await;
            x.set(1);
        });
        let b = task!("b", [x, permits], {
            sleep(ms(10)).await;
            let _permit = permits.try_acquire();
            x.get();
        });
        a.await;
        b.await;
    })
}

/// `b`'s `try_acquire` fails while `a` holds the permit again, after a
/// release that followed the write.
fn semaphore_failed_try_acquire() -> Program {
    Box::pin(async {
        let (x, permits) = (shared_x(), Rc::new(Semaphore::new(1)));
        let a = task!("a", [x, permits], {
            {
                let _permit = permits.acquire().await;
                x.set(1);
            }
            let _permit = permits.acquire().await;
            sleep(ms(10)).await;
        });
        let b = task!("b", [x, permits], {
            sleep(ms(5)).await;
            let _refused = permits.try_acquire();
            x.get();
        });
        a.await;
        b.await;
    })
}

// Notify: notify_one / notify_waiters → the notified() that completes.

fn notify_one_stores_a_permit_for_a_later_notified() -> Program {
    Box::pin(async {
        let (x, notify) = (shared_x(), Rc::new(Notify::new()));
        let a = task!("a", [x, notify], {
            x.set(1);
            notify.notify_one();
        });
        let b = task!("b", [x, notify], {
            sleep(ms(10)).await;
            notify.notified().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn notify_one_wakes_a_waiting_notified() -> Program {
    Box::pin(async {
        let (x, notify) = (shared_x(), Rc::new(Notify::new()));
        let a = task!("a", [x, notify], {
            sleep(ms(10)).await;
            x.store(1).await;
            notify.notify_one();
        });
        let b = task!("b", [x, notify], {
            notify.notified().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// `b` registers its `Notified` before `a` can call `notify_waiters`: the
/// `ready` event orders the registration first.
fn notify_waiters_wakes_a_registered_notified() -> Program {
    Box::pin(async {
        let (x, notify, ready) = (shared_x(), Rc::new(Notify::new()), Rc::new(Event::new()));
        let a = task!("a", [x, notify, ready], {
            ready.wait().await;
            x.set(1);
            notify.notify_waiters();
        });
        let b = task!("b", [x, notify, ready], {
            let notified = notify.notified();
            ready.set();
            notified.await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn notify_one_then_write() -> Program {
    Box::pin(async {
        let (x, notify) = (shared_x(), Rc::new(Notify::new()));
        let a = task!("a", [x, notify], {
            notify.notify_one();
            x.set(1);
        });
        let b = task!("b", [x, notify], {
            notify.notified().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn notify_waiters_then_write() -> Program {
    Box::pin(async {
        let (x, notify, ready) = (shared_x(), Rc::new(Notify::new()), Rc::new(Event::new()));
        let a = task!("a", [x, notify, ready], {
            ready.wait().await;
            notify.notify_waiters();
            x.set(1);
        });
        let b = task!("b", [x, notify, ready], {
            let notified = notify.notified();
            ready.set();
            notified.await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// `a`'s `notify_waiters` finds nobody waiting and stores nothing; `b`'s
/// `notified()` completes later, because of `c`'s notification.
fn notify_waiters_with_no_waiter_orders_nothing() -> Program {
    Box::pin(async {
        let (x, notify) = (shared_x(), Rc::new(Notify::new()));
        let a = task!("a", [x, notify], {
            x.set(1);
            notify.notify_waiters();
        });
        let c = task!("c", [notify], {
            sleep(ms(10)).await;
            notify.notify_one();
        });
        let b = task!("b", [x, notify], {
            sleep(ms(5)).await;
            notify.notified().await;
            x.get();
        });
        a.await;
        b.await;
        c.await;
    })
}

/// `a`'s notification goes to `d` (both run at time 0, `b` only queues at
/// 5 ms); `b` is woken by `c`'s, which follows no write.
fn notify_one_taken_by_another_waiter() -> Program {
    Box::pin(async {
        let (x, notify) = (shared_x(), Rc::new(Notify::new()));
        let a = task!("a", [x, notify], {
            x.set(1);
            notify.notify_one();
        });
        let d = task!("d", [notify], { notify.notified().await });
        let c = task!("c", [notify], {
            sleep(ms(10)).await;
            notify.notify_one();
        });
        let b = task!("b", [x, notify], {
            sleep(ms(5)).await;
            notify.notified().await;
            x.get();
        });
        a.await;
        b.await;
        c.await;
        d.await;
    })
}

// Event: set → a wait that returns.

/// The event is already set when `b` waits: the wait returns at once, and
/// is still ordered after the set.
fn event_set_before_wait() -> Program {
    Box::pin(async {
        let (x, done) = (shared_x(), Rc::new(Event::new()));
        let a = task!("a", [x, done], {
            x.set(1);
            done.set();
        });
        let b = task!("b", [x, done], {
            sleep(ms(10)).await;
            done.wait().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn event_wait_then_set() -> Program {
    Box::pin(async {
        let (x, done) = (shared_x(), Rc::new(Event::new()));
        let a = task!("a", [x, done], {
            sleep(ms(10)).await;
            x.store(1).await;
            done.set();
        });
        let b = task!("b", [x, done], {
            done.wait().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn event_write_after_set() -> Program {
    Box::pin(async {
        let (x, done) = (shared_x(), Rc::new(Event::new()));
        let a = task!("a", [x, done], {
            done.set();
            x.set(1);
        });
        let b = task!("b", [x, done], {
            done.wait().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn event_set_by_a_task_that_did_not_write() -> Program {
    Box::pin(async {
        let (x, done) = (shared_x(), Rc::new(Event::new()));
        let a = task!("a", [x], { x.set(1) });
        let c = task!("c", [done], { done.set() });
        let b = task!("b", [x, done], {
            done.wait().await;
            x.get();
        });
        a.await;
        b.await;
        c.await;
    })
}

/// `b` reads at time 0; `a` reads at 5 ms and then sets the event `c`
/// waits for before writing. The write follows `a`'s read, the last one,
/// but not `b`'s: concurrent reads must all be remembered.
fn write_after_one_of_two_concurrent_reads() -> Program {
    Box::pin(async {
        let (x, done) = (shared_x(), Rc::new(Event::new()));
        let a = task!("a", [x, done], {
            sleep(ms(5)).await;
            x.get();
            done.set();
        });
        let b = task!("b", [x], {
            x.get();
        });
        let c = task!("c", [x, done], {
            done.wait().await;
            x.set(1);
        });
        a.await;
        b.await;
        c.await;
    })
}

/// `a` sets the event after its write and clears it again; `b`'s wait
/// starts later and returns because of `c`'s set, which follows no write.
fn event_wait_returned_by_a_set_after_a_clear() -> Program {
    Box::pin(async {
        let (x, done) = (shared_x(), Rc::new(Event::new()));
        let a = task!("a", [x, done], {
            x.set(1);
            done.set();
            done.clear();
        });
        let c = task!("c", [done], {
            sleep(ms(10)).await;
            done.set();
        });
        let b = task!("b", [x, done], {
            sleep(ms(5)).await;
            done.wait().await;
            x.get();
        });
        a.await;
        b.await;
        c.await;
    })
}

// mpsc: send → the recv that gets that message; last sender dropped → the
// recv that returns None.

fn mpsc_write_then_send() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::channel(1);
        let a = task!("a", [x], {
            x.set(1);
            let _ = sender.send(()).await;
        });
        let b = task!("b", [x], {
            receiver.recv().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn mpsc_unbounded_write_then_send() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let a = task!("a", [x], {
            x.store(1).await;
            let _ = sender.send(());
        });
        let b = task!("b", [x], {
            receiver.recv().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// The write is between the two sends; `b` reads after receiving both.
fn mpsc_recv_of_the_later_message() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let a = task!("a", [x], {
            let _ = sender.send(1);
            x.set(1);
            let _ = sender.send(2);
        });
        let b = task!("b", [x], {
            receiver.recv().await;
            receiver.recv().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn mpsc_last_sender_dropped() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::channel::<()>(1);
        let a = task!("a", [x], {
            x.set(1);
            drop(sender);
        });
        let b = task!("b", [x], {
            while receiver.recv().await.is_some() {}
            x.get();
        });
        a.await;
        b.await;
    })
}

/// Two producers; `a` writes and drops its sender first, `c` drops the
/// last one later. `None` says every sender is gone, `a`'s included (as in
/// tokio, where each drop is a release on the sender count).
fn mpsc_none_after_every_sender_dropped() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::channel::<()>(1);
        let other_sender = sender.clone();
        let a = task!("a", [x], {
            x.set(1);
            drop(sender);
        });
        let c = task!("c", [], {
            sleep(ms(10)).await;
            drop(other_sender);
        });
        let b = task!("b", [x], {
            while receiver.recv().await.is_some() {}
            x.get();
        });
        a.await;
        b.await;
        c.await;
    })
}

/// The message is queued when `b` looks: a successful `try_recv` receives
/// it like `recv`.
fn mpsc_try_recv_of_a_sent_message() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let a = task!("a", [x], {
            x.set(1);
            let _ = sender.send(());
        });
        let b = task!("b", [x], {
            sleep(ms(10)).await;
            let _ = receiver.try_recv();
            x.get();
        });
        a.await;
        b.await;
    })
}

fn mpsc_write_after_send() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::channel(1);
        let a = task!("a", [x], {
            let _ = sender.send(()).await;
            x.set(1);
        });
        let b = task!("b", [x], {
            receiver.recv().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// The write is between the two sends; `b` reads after receiving only the
/// first: a channel orders a message's sender with its receiver, not every
/// send with every recv.
fn mpsc_recv_of_an_earlier_message() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let a = task!("a", [x], {
            let _ = sender.send(1);
            x.set(1);
            let _ = sender.send(2);
        });
        let b = task!("b", [x], {
            receiver.recv().await;
            x.get();
            receiver.recv().await;
        });
        a.await;
        b.await;
    })
}

fn mpsc_write_after_sender_dropped() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::channel::<()>(1);
        let a = task!("a", [x], {
            drop(sender);
            x.set(1);
        });
        let b = task!("b", [x], {
            while receiver.recv().await.is_some() {}
            x.get();
        });
        a.await;
        b.await;
    })
}

fn mpsc_write_then_permit_send() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::channel(1);
        let a = task!("a", [x], {
            x.set(1);
            if let Ok(permit) = sender.reserve().await {
                permit.send(());
            }
        });
        let b = task!("b", [x], {
            receiver.recv().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// The message is sent by the permit, not the reservation: a write after
/// `reserve` and before `Permit::send` is ordered before the receive.
fn mpsc_write_between_reserve_and_permit_send() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::channel(1);
        let a = task!("a", [x], {
            let permit = sender.reserve_owned().await;
            x.set(1);
            if let Ok(permit) = permit {
                permit.send(());
            }
        });
        let b = task!("b", [x], {
            receiver.recv().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn mpsc_recv_many_of_a_sent_message() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let a = task!("a", [x], {
            let _ = sender.send(0);
            x.set(1);
            let _ = sender.send(1);
        });
        let b = task!("b", [x], {
            let mut messages = Vec::new();
            while !messages.contains(&1) {
                if receiver.recv_many(&mut messages, 2).await == 0 {
                    break;
                }
            }
            x.get();
        });
        a.await;
        b.await;
    })
}

fn mpsc_write_after_permit_send() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = mpsc::channel(1);
        let a = task!("a", [x], {
            if let Ok(permit) = sender.try_reserve() {
                permit.send(());
            }
            x.set(1);
        });
        let b = task!("b", [x], {
            receiver.recv().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// A permit dropped unused gives its slot back and publishes nothing: the
/// reservation that gets the slot next learns nothing of the write.
fn mpsc_reserve_given_back_orders_nothing() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, _receiver) = mpsc::channel::<()>(1);
        let other = sender.clone();
        let a = task!("a", [x], {
            let permit = sender.reserve().await;
            x.set(1);
            drop(permit);
        });
        let b = task!("b", [x], {
            let _permit = other.reserve().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn mapped_guard_holds_the_lock() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(Mutex::new((0, 0))));
        let a = task!("a", [x, lock], {
            let mut second = MutexGuard::map(lock.lock().await, |pair| &mut pair.1);
            *second += 1;
            x.set(1);
        });
        let b = task!("b", [x, lock], {
            sleep(ms(10)).await;
            let _held = lock.lock().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn write_after_a_mapped_guard_dropped() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(Mutex::new((0, 0))));
        let a = task!("a", [x, lock], {
            drop(MutexGuard::map(lock.lock().await, |pair| &mut pair.1));
            x.set(1);
        });
        let b = task!("b", [x, lock], {
            sleep(ms(10)).await;
            let _held = lock.lock().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn rwlock_write_then_downgrade_then_reader() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(RwLock::new(())));
        let a = task!("a", [x, lock], {
            let writer = lock.write().await;
            x.set(1);
            let _reader = RwLockWriteGuard::downgrade(writer);
            x.get();
        });
        let b = task!("b", [x, lock], {
            sleep(ms(10)).await;
            let _held = lock.read().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// A downgraded guard is a read lock: a write under it is not ordered
/// before a later reader.
fn rwlock_write_under_a_downgraded_guard() -> Program {
    Box::pin(async {
        let (x, lock) = (shared_x(), Rc::new(RwLock::new(())));
        let a = task!("a", [x, lock], {
            let _reader = RwLockWriteGuard::downgrade(lock.write().await);
            x.set(1);
        });
        let b = task!("b", [x, lock], {
            sleep(ms(10)).await;
            let _held = lock.read().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn semaphore_forget_permits_after_add_permits() -> Program {
    Box::pin(async {
        let (x, permits) = (shared_x(), Rc::new(Semaphore::new(0)));
        let a = task!("a", [x, permits], {
            x.set(1);
            permits.add_permits(1);
        });
        let b = task!("b", [x, permits], {
            sleep(ms(10)).await;
            if permits.forget_permits(1) == 1 {
                x.get();
            }
        });
        a.await;
        b.await;
    })
}

fn semaphore_write_after_add_permits_then_forget() -> Program {
    Box::pin(async {
        let (x, permits) = (shared_x(), Rc::new(Semaphore::new(0)));
        let a = task!("a", [x, permits], {
            permits.add_permits(1);
            x.set(1);
        });
        let b = task!("b", [x, permits], {
            sleep(ms(10)).await;
            if permits.forget_permits(1) == 1 {
                x.get();
            }
        });
        a.await;
        b.await;
    })
}

fn notify_last_wakes_a_waiting_notified() -> Program {
    Box::pin(async {
        let (x, notify) = (shared_x(), Rc::new(Notify::new()));
        let a = task!("a", [x, notify], {
            sleep(ms(10)).await;
            x.store(1).await;
            notify.notify_last();
        });
        let b = task!("b", [x, notify], {
            notify.notified().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn notify_last_then_write() -> Program {
    Box::pin(async {
        let (x, notify) = (shared_x(), Rc::new(Notify::new()));
        let a = task!("a", [x, notify], {
            notify.notify_last();
            x.set(1);
        });
        let b = task!("b", [x, notify], {
            notify.notified().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

// oneshot: send → receive.

fn oneshot_write_then_send() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, receiver) = oneshot::channel();
        let a = task!("a", [x], {
            x.set(1);
            let _ = sender.send(());
        });
        let b = task!("b", [x], {
            let _ = receiver.await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn oneshot_try_recv_after_send() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = oneshot::channel();
        let a = task!("a", [x], {
            x.set(1);
            let _ = sender.send(());
        });
        let b = task!("b", [x], {
            sleep(ms(10)).await;
            let _ = receiver.try_recv();
            x.get();
        });
        a.await;
        b.await;
    })
}

fn oneshot_write_after_send() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, receiver) = oneshot::channel();
        let a = task!("a", [x], {
            let _ = sender.send(());
            x.set(1);
        });
        let b = task!("b", [x], {
            let _ = receiver.await;
            x.get();
        });
        a.await;
        b.await;
    })
}

// Condition: a notification → the wait it woke.

/// `b` waits before `a` notifies: the clock only moves when `b` is blocked.
fn condition_write_then_notify_one() -> Program {
    Box::pin(async {
        let (x, pair) = (shared_x(), Rc::new((Mutex::new(()), Condition::new())));
        let a = task!("a", [x, pair], {
            sleep(ms(10)).await;
            x.set(1);
            pair.1.notify_one();
        });
        let b = task!("b", [x, pair], {
            let guard = pair.0.lock().await;
            let _guard = pair.1.wait(guard).await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn condition_write_then_notify_all() -> Program {
    Box::pin(async {
        let (x, pair) = (shared_x(), Rc::new((Mutex::new(()), Condition::new())));
        let a = task!("a", [x, pair], {
            sleep(ms(10)).await;
            x.store(1).await;
            pair.1.notify_all();
        });
        let b = task!("b", [x, pair], {
            let guard = pair.0.lock().await;
            drop(pair.1.wait(guard).await);
            x.get();
        });
        a.await;
        b.await;
    })
}

fn condition_write_after_notify_one() -> Program {
    Box::pin(async {
        let (x, pair) = (shared_x(), Rc::new((Mutex::new(()), Condition::new())));
        let a = task!("a", [x, pair], {
            sleep(ms(10)).await;
            pair.1.notify_one();
            x.set(1);
        });
        let b = task!("b", [x, pair], {
            let guard = pair.0.lock().await;
            let _guard = pair.1.wait(guard).await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// `a` notifies before anyone waits: the notification is lost (no permit
/// is stored) and `b` is woken later by `d`, which knows nothing of the
/// write.
fn condition_lost_notification_orders_nothing() -> Program {
    Box::pin(async {
        let (x, pair) = (shared_x(), Rc::new((Mutex::new(()), Condition::new())));
        let a = task!("a", [x, pair], {
            x.set(1);
            pair.1.notify_one();
        });
        let b = task!("b", [x, pair], {
            sleep(ms(1)).await;
            let guard = pair.0.lock().await;
            drop(pair.1.wait(guard).await);
            x.get();
        });
        let d = task!("d", [pair], {
            sleep(ms(10)).await;
            pair.1.notify_one();
        });
        a.await;
        b.await;
        d.await;
    })
}

// Queue: put → the get that takes that item; task_done → join.

fn queue_write_then_put() -> Program {
    Box::pin(async {
        let (x, queue) = (shared_x(), Rc::new(Queue::new(1)));
        let a = task!("a", [x, queue], {
            x.set(1);
            queue.put(()).await;
        });
        let b = task!("b", [x, queue], {
            queue.get().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// `b` takes the item only once it is there: it sleeps past `a`'s put.
fn queue_get_nowait_of_a_put_item() -> Program {
    Box::pin(async {
        let (x, queue) = (shared_x(), Rc::new(Queue::new(0)));
        let a = task!("a", [x, queue], {
            x.store(1).await;
            let _ = queue.put_nowait(());
        });
        let b = task!("b", [x, queue], {
            sleep(ms(10)).await;
            if queue.get_nowait().is_ok() {
                x.get();
            }
        });
        a.await;
        b.await;
    })
}

fn queue_task_done_then_join() -> Program {
    Box::pin(async {
        let (x, queue) = (shared_x(), Rc::new(Queue::new(0)));
        let worker = task!("worker", [x, queue], {
            queue.get().await;
            x.set(1);
            queue.task_done();
        });
        queue.put(()).await;
        queue.join().await;
        x.get();
        worker.await;
    })
}

fn queue_write_after_put() -> Program {
    Box::pin(async {
        let (x, queue) = (shared_x(), Rc::new(Queue::new(0)));
        let a = task!("a", [x, queue], {
            queue.put(()).await;
            x.set(1);
        });
        let b = task!("b", [x, queue], {
            queue.get().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

/// The write is between the two puts; `b` reads after taking the first.
fn queue_get_of_an_earlier_item() -> Program {
    Box::pin(async {
        let (x, queue) = (shared_x(), Rc::new(Queue::new(0)));
        let a = task!("a", [x, queue], {
            let _ = queue.put_nowait(1);
            x.set(1);
            let _ = queue.put_nowait(2);
        });
        let b = task!("b", [x, queue], {
            queue.get().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn queue_write_after_task_done() -> Program {
    Box::pin(async {
        let (x, queue) = (shared_x(), Rc::new(Queue::new(0)));
        let worker = task!("worker", [x, queue], {
            queue.get().await;
            queue.task_done();
            x.set(1);
        });
        queue.put(()).await;
        queue.join().await;
        x.get();
        worker.await;
    })
}

// BoundedSemaphore: a returned permit or release() → a later acquire.

fn bounded_semaphore_permit_as_a_lock() -> Program {
    Box::pin(async {
        let (x, permits) = (shared_x(), Rc::new(BoundedSemaphore::new(1)));
        let a = task!("a", [x, permits], {
            let _permit = permits.acquire().await;
            x.set(1);
        });
        let b = task!("b", [x, permits], {
            let _permit = permits.acquire().await;
            x.store(2).await;
        });
        a.await;
        b.await;
    })
}

/// asyncio style: the only permit is taken up front; `a`'s `release()`
/// lets `b` in.
fn bounded_semaphore_release_as_a_signal() -> Program {
    Box::pin(async {
        let (x, permits) = (shared_x(), Rc::new(BoundedSemaphore::new(1)));
        permits.acquire().await.forget();
        let a = task!("a", [x, permits], {
            x.set(1);
            let _ = permits.release();
        });
        let b = task!("b", [x, permits], {
            drop(permits.acquire().await);
            x.get();
        });
        a.await;
        b.await;
    })
}

/// Nothing is owed, so `a`'s `release()` is refused and publishes nothing.
fn bounded_semaphore_refused_release() -> Program {
    Box::pin(async {
        let (x, permits) = (shared_x(), Rc::new(BoundedSemaphore::new(1)));
        let a = task!("a", [x, permits], {
            x.set(1);
            let _ = permits.release();
        });
        let b = task!("b", [x, permits], {
            sleep(ms(10)).await;
            drop(permits.acquire().await);
            x.get();
        });
        a.await;
        b.await;
    })
}

// Barrier: every arrival → the departures of its generation.

fn barrier_write_before_wait_read_after() -> Program {
    Box::pin(async {
        let (x, barrier) = (shared_x(), Rc::new(Barrier::new(2)));
        let a = task!("a", [x, barrier], {
            x.set(1);
            barrier.wait().await;
        });
        let b = task!("b", [x, barrier], {
            barrier.wait().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn barrier_write_after_wait() -> Program {
    Box::pin(async {
        let (x, barrier) = (shared_x(), Rc::new(Barrier::new(2)));
        let a = task!("a", [x, barrier], {
            barrier.wait().await;
            x.set(1);
        });
        let b = task!("b", [x, barrier], {
            barrier.wait().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

// watch: send → the changed/borrow that reads its value.

fn watch_write_then_send() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = watch::channel(0);
        let a = task!("a", [x], {
            x.set(1);
            let _ = sender.send(1);
        });
        let b = task!("b", [x], {
            if receiver.changed().await.is_ok() {
                x.get();
            }
        });
        a.await;
        b.await;
    })
}

fn watch_write_then_send_modify_then_wait_for() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = watch::channel(0);
        let a = task!("a", [x], {
            x.set(1);
            sender.send_modify(|value| *value += 1);
        });
        let b = task!("b", [x], {
            if receiver.wait_for(|value| *value == 1).await.is_ok() {
                x.get();
            }
        });
        a.await;
        b.await;
    })
}

fn watch_write_after_send_modify() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = watch::channel(0);
        let a = task!("a", [x], {
            sender.send_modify(|value| *value += 1);
            x.set(1);
        });
        let b = task!("b", [x], {
            if receiver.wait_for(|value| *value == 1).await.is_ok() {
                x.get();
            }
        });
        a.await;
        b.await;
    })
}

/// A `send_if_modified` whose closure reports no change notifies nobody
/// and publishes nothing: the receiver reads the initial value.
fn watch_send_if_modified_that_changed_nothing() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = watch::channel(0);
        let a = task!("a", [x], {
            x.set(1);
            sender.send_if_modified(|_| false);
        });
        let b = task!("b", [x], {
            let _ = receiver.wait_for(|_| true).await;
            x.get();
        });
        a.await;
        b.await;
    })
}

fn watch_sender_dropped() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = watch::channel(0);
        let a = task!("a", [x], {
            x.store(1).await;
            drop(sender);
        });
        let b = task!("b", [x], {
            while receiver.changed().await.is_ok() {}
            x.get();
        });
        a.await;
        b.await;
    })
}

fn watch_is_closed_after_every_cloned_sender_dropped() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, receiver) = watch::channel(0);
        let clone = sender.clone();
        let a = task!("a", [x], {
            x.store(1).await;
            drop(clone);
        });
        let c = task!("c", [], {
            drop(sender);
        });
        let b = task!("b", [x], {
            while !receiver.is_closed() {
                yield_now().await;
            }
            x.get();
        });
        a.await;
        c.await;
        b.await;
    })
}

fn watch_write_after_dropping_a_cloned_sender() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, receiver) = watch::channel(0);
        let clone = sender.clone();
        drop(sender);
        let a = task!("a", [x], {
            drop(clone);
            x.set(1);
        });
        let b = task!("b", [x], {
            while !receiver.is_closed() {
                yield_now().await;
            }
            x.get();
        });
        a.await;
        b.await;
    })
}

fn watch_write_after_send() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = watch::channel(0);
        let a = task!("a", [x], {
            let _ = sender.send(1);
            x.set(1);
        });
        let b = task!("b", [x], {
            if receiver.changed().await.is_ok() {
                x.get();
            }
        });
        a.await;
        b.await;
    })
}

/// `b` borrows before `a` sends: the initial value was written by nobody.
fn watch_borrow_of_the_initial_value() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, receiver) = watch::channel(0);
        let a = task!("a", [x], {
            sleep(ms(10)).await;
            x.set(1);
            let _ = sender.send(1);
        });
        let b = task!("b", [x], {
            let _ = *receiver.borrow();
            x.get();
        });
        a.await;
        b.await;
    })
}

// broadcast: send → each receive of its value.

fn broadcast_write_then_send_to_two_receivers() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut first) = broadcast::channel(2);
        let mut second = sender.subscribe();
        let a = task!("a", [x], {
            x.set(1);
            let _ = sender.send(());
        });
        let b = task!("b", [x], {
            if first.recv().await.is_ok() {
                x.get();
            }
        });
        let c = task!("c", [x], {
            if second.recv().await.is_ok() {
                x.get();
            }
        });
        a.await;
        b.await;
        c.await;
    })
}

fn broadcast_closed_after_every_sender_dropped() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = broadcast::channel::<()>(1);
        let other = sender.clone();
        let a = task!("a", [x], {
            x.set(1);
            drop(sender);
        });
        let b = task!("b", [], {
            yield_now().await;
            drop(other);
        });
        let c = task!("c", [x], {
            if receiver.recv().await == Err(RecvError::Closed) {
                x.get();
            }
        });
        a.await;
        b.await;
        c.await;
    })
}

fn broadcast_is_closed_after_every_sender_dropped() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, receiver) = broadcast::channel::<u8>(1);
        let a = task!("a", [x], {
            x.store(1).await;
            drop(sender);
        });
        let b = task!("b", [x], {
            while !receiver.is_closed() {
                yield_now().await;
            }
            x.get();
        });
        a.await;
        b.await;
    })
}

fn broadcast_write_after_send() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = broadcast::channel(2);
        let a = task!("a", [x], {
            let _ = sender.send(());
            x.set(1);
        });
        let b = task!("b", [x], {
            if receiver.recv().await.is_ok() {
                x.get();
            }
        });
        a.await;
        b.await;
    })
}

/// Capacity 1: `b` misses the first value and lags; the lag orders
/// nothing, and the write was after the first send only.
fn broadcast_lagged_receive() -> Program {
    Box::pin(async {
        let x = shared_x();
        let (sender, mut receiver) = broadcast::channel(1);
        let a = task!("a", [x], {
            let _ = sender.send(1);
            x.set(1);
            let _ = sender.send(2);
        });
        let b = task!("b", [x], {
            let _ = receiver.recv().await;
            x.get();
        });
        a.await;
        b.await;
    })
}

// Chains of edges.

/// `a` → (message) → `b` → (event) → `c`.
fn chain_through_a_channel_and_an_event() -> Program {
    Box::pin(async {
        let (x, relayed) = (shared_x(), Rc::new(Event::new()));
        let (sender, mut receiver) = mpsc::channel(1);
        let a = task!("a", [x], {
            x.set(1);
            let _ = sender.send(()).await;
        });
        let b = task!("b", [relayed], {
            receiver.recv().await;
            relayed.set();
        });
        let c = task!("c", [x, relayed], {
            relayed.wait().await;
            x.get();
        });
        a.await;
        b.await;
        c.await;
    })
}

fn chain_broken_by_a_write_after_send() -> Program {
    Box::pin(async {
        let (x, relayed) = (shared_x(), Rc::new(Event::new()));
        let (sender, mut receiver) = mpsc::channel(1);
        let a = task!("a", [x], {
            let _ = sender.send(()).await;
            x.set(1);
        });
        let b = task!("b", [relayed], {
            receiver.recv().await;
            relayed.set();
        });
        let c = task!("c", [x, relayed], {
            relayed.wait().await;
            x.get();
        });
        a.await;
        b.await;
        c.await;
    })
}

// Running the corpus.

/// The labels of the data races a report shows: the failing one first,
/// then the warnings.
fn races_in(report: &Report) -> Result<Vec<String>, String> {
    let mut races = Vec::new();
    if let Some(failure) = &report.failure {
        match &failure.kind {
            FailureKind::Finding(Finding::Race(race)) => races.push(race.object_label.clone()),
            other => {
                let text = other.to_string();
                return Err(text.lines().next().unwrap_or_default().to_string());
            }
        }
    }
    for warning in &report.warnings {
        if let Finding::Race(race) = warning {
            if !races.contains(&race.object_label) {
                races.push(race.object_label.clone());
            }
        }
    }
    Ok(races)
}

fn run_quietly(builder: Builder, program: fn() -> Program) -> Result<Report, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| builder.run(program))).map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("a non-string panic");
        format!("racecheck panicked: {message}")
    })
}

/// Runs a case the way its label asks: a racy program once with races
/// failing (which must fail it), and once more with races as warnings to
/// see every race it reports; a race-free one on many schedules.
fn outcome(case: &Case) -> Outcome {
    let runs = match case.expect {
        Race(_) => vec![
            Builder::new().iterations(RACE_ITERATIONS),
            Builder::new()
                .iterations(RACE_ITERATIONS)
                .races(Check::Warn),
        ],
        NoRace => vec![Builder::new().iterations(NO_RACE_ITERATIONS)],
    };
    let mut races: Vec<String> = Vec::new();
    for builder in runs {
        let found = run_quietly(builder, case.program).and_then(|report| races_in(&report));
        match found {
            Ok(found) if found.is_empty() => break,
            Ok(found) => {
                for race in found {
                    if !races.contains(&race) {
                        races.push(race);
                    }
                }
            }
            Err(failure) => return Outcome::Other(failure),
        }
    }
    if races.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Races(races)
    }
}

/// Why an outcome does not match its label, if it does not.
fn mismatch(expect: Expect, outcome: &Outcome) -> Option<&'static str> {
    match (expect, outcome) {
        (_, Outcome::Other(_)) => Some("other failure"),
        (NoRace, Outcome::Clean) => None,
        (NoRace, Outcome::Races(_)) => Some("FALSE POSITIVE"),
        (Race(_), Outcome::Clean) => Some("FALSE NEGATIVE"),
        (Race(name), Outcome::Races(objects)) => {
            let quoted = format!("'{name}'");
            if objects.iter().all(|object| object.contains(&quoted)) {
                None
            } else if objects.iter().any(|object| object.contains(&quoted)) {
                Some("FALSE POSITIVE (extra object)")
            } else {
                Some("WRONG OBJECT")
            }
        }
    }
}

#[test]
fn corpus_covers_every_edge_with_a_race_and_a_race_free_twin() {
    assert!(CASES.len() >= 44, "{} cases", CASES.len());
    let mut edges: Vec<Edge> = CASES.iter().map(|case| case.edge).collect();
    edges.dedup();
    for edge in edges {
        let of_edge = || CASES.iter().filter(move |case| case.edge == edge);
        let racy = of_edge().filter(|case| case.expect != NoRace).count();
        let race_free = of_edge().filter(|case| case.expect == NoRace).count();
        assert!(racy > 0, "{edge:?} has no racy case");
        assert!(
            race_free > 0 || edge == Edge::Timers,
            "{edge:?} has no race-free twin"
        );
    }
    let mut names: Vec<&str> = CASES.iter().map(|case| case.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len(), "case names are unique");
}

#[test]
fn detector_agrees_with_every_label() {
    let started = Instant::now();
    let mut table = format!(
        "{:<52} {:<15} {:<16} {:<30} {}\n",
        "case", "edge", "expected", "got", "verdict"
    );
    let mut mismatches: Vec<(&str, &str)> = Vec::new();
    for case in CASES {
        let outcome = outcome(case);
        let verdict = mismatch(case.expect, &outcome);
        if let Some(verdict) = verdict {
            mismatches.push((case.name, verdict));
        }
        table.push_str(&format!(
            "{:<52} {:<15} {:<16} {:<30} {}\n",
            case.name,
            format!("{:?}", case.edge),
            case.expect.to_string(),
            outcome.to_string(),
            verdict.unwrap_or("ok"),
        ));
    }
    let count = |prefix: &str| {
        mismatches
            .iter()
            .filter(|(_, verdict)| verdict.starts_with(prefix))
            .count()
    };
    println!("{table}");
    println!(
        "{} cases in {:.1?}: {} false positives, {} false negatives, {} wrong objects, {} other failures",
        CASES.len(),
        started.elapsed(),
        count("FALSE POSITIVE"),
        count("FALSE NEGATIVE"),
        count("WRONG OBJECT"),
        count("other"),
    );
    assert!(
        mismatches.is_empty(),
        "the detector disagrees with {} labels: {mismatches:?}\n{table}",
        mismatches.len()
    );
}

// The report of a race.

/// Writes `x` and returns the line of the call: the line the detector must
/// name for the write.
#[track_caller]
fn write_here(x: &Shared<u32>) -> u32 {
    x.set(1);
    std::panic::Location::caller().line()
}

/// Reads `x` and returns the line of the call.
#[track_caller]
fn read_here(x: &Shared<u32>) -> u32 {
    x.get();
    std::panic::Location::caller().line()
}

#[test]
fn race_report_names_both_lines_and_the_object() {
    let lines = Rc::new((Cell::new(0), Cell::new(0)));
    let report = Builder::new().iterations(RACE_ITERATIONS).run({
        let lines = lines.clone();
        move || {
            let lines = lines.clone();
            async move {
                let cache = Rc::new(Shared::named("page_cache", 0));
                let writer = task!("writer", [cache, lines], {
                    lines.0.set(write_here(&cache))
                });
                let reader = task!("reader", [cache, lines], { lines.1.set(read_here(&cache)) });
                writer.await;
                reader.await;
            }
        }
    });
    let (write_line, read_line) = (lines.0.get(), lines.1.get());
    let failure = report.failure.expect("the race is reported");
    let text = failure.to_string();
    let FailureKind::Finding(Finding::Race(race)) = &failure.kind else {
        panic!("expected a data race, got:\n{text}");
    };
    assert!(race.object_label.contains("'page_cache'"), "{text}");
    let mut accesses = [&race.first, &race.second];
    accesses.sort_by_key(|access| access.task_name.clone());
    let [read, write] = accesses;
    assert_eq!(
        (read.task_name.as_str(), read.write, read.location.line()),
        ("reader", false, read_line),
        "{text}"
    );
    assert_eq!(
        (write.task_name.as_str(), write.write, write.location.line()),
        ("writer", true, write_line),
        "{text}"
    );
    assert!(!race.explanation.is_empty(), "{text}");
    let finding = failure.kind.to_string();
    for shown in [&text, &finding] {
        for line in [write_line, read_line] {
            let location = format!("detector_corpus.rs:{line}");
            assert!(shown.contains(&location), "no {location} in:\n{shown}");
        }
        assert!(shown.contains("page_cache"), "{shown}");
    }
}

#[test]
fn races_configured_as_warn_become_warnings() {
    let report = Builder::new()
        .iterations(RACE_ITERATIONS)
        .races(Check::Warn)
        .run(immediate_write_vs_immediate_read);
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(!report.warnings.is_empty());
    for warning in &report.warnings {
        let Finding::Race(race) = warning else {
            panic!("only the race is expected, got {warning}");
        };
        assert_eq!(race.object_label, "Shared 'x'");
    }
}

/// Executions run the two accesses in either order; the race is the same
/// pair of places, so it is one warning.
#[test]
fn a_race_seen_in_both_orders_is_one_warning() {
    let report = Builder::new()
        .iterations(10)
        .races(Check::Warn)
        .run(immediate_write_vs_immediate_read);
    assert!(report.failure.is_none(), "{:?}", report.failure);
    let races: Vec<String> = report
        .warnings
        .iter()
        .map(|warning| match warning {
            Finding::Race(race) => format!(
                "{} first {} second {}",
                race.object_label, race.first.location, race.second.location
            ),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(races.len(), 1, "one race, one warning: {races:#?}");
}

#[test]
fn races_turned_off_are_not_reported() {
    let report = Builder::new()
        .iterations(10)
        .races(Check::Off)
        .run(immediate_write_vs_immediate_read);
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}
