//! Determinism, property-tested: random programs of tasks (async tasks and
//! threads) and operations over every primitive, at await and at step
//! granularity, run twice with the same seed, give identical schedules and
//! traces; the schedule of a failure replays to the identical trace and
//! failure.
//!
//! Programs are data, run by a small interpreter over racecheck's
//! primitives, so proptest can generate and shrink them.

use proptest::prelude::*;
use racecheck::sync::atomic::{AtomicU64, Ordering};
use racecheck::sync::{
    broadcast, mpsc, watch, Condition, Event, Mutex, Notify, Queue, Semaphore, Shared,
};
use racecheck::time::sleep;
use racecheck::{Builder, Failure, Granularity};
use std::sync::Arc;
use std::time::Duration;

const OBJECTS: usize = 2;

#[derive(Clone, Debug)]
enum Operation {
    Yield,
    Sleep {
        millis: u64,
    },
    /// Lock, read-yield-write the counter, unlock.
    LockedIncrement {
        mutex: usize,
    },
    /// Read, yield, write: a lost update when interleaved.
    RacyIncrement {
        counter: usize,
    },
    Acquire {
        semaphore: usize,
    },
    Notify {
        notify: usize,
    },
    Notified {
        notify: usize,
    },
    SetEvent {
        event: usize,
    },
    WaitEvent {
        event: usize,
    },
    Send {
        channel: usize,
    },
    Recv {
        channel: usize,
    },
    /// Panics if the counter exceeds the bound: a failure some schedules hit.
    AssertAtMost {
        counter: usize,
        bound: u64,
    },
    /// Load, then store one more: a lost update at step granularity.
    AtomicIncrement {
        atomic: usize,
    },
    Put {
        queue: usize,
    },
    Get {
        queue: usize,
    },
    /// Lock, notify the condition, unlock.
    ConditionNotify {
        condition: usize,
    },
    /// Lock, wait for a notification (at most one wait per call), unlock.
    ConditionWait {
        condition: usize,
    },
    WatchSend {
        watch: usize,
    },
    BroadcastSend {
        broadcast: usize,
    },
    BroadcastRecv {
        broadcast: usize,
    },
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        4 => first_operations(),
        1 => newer_operations(),
    ]
}

fn newer_operations() -> impl Strategy<Value = Operation> {
    let object = 0..OBJECTS;
    prop_oneof![
        object
            .clone()
            .prop_map(|atomic| Operation::AtomicIncrement { atomic }),
        object.clone().prop_map(|queue| Operation::Put { queue }),
        object.clone().prop_map(|queue| Operation::Get { queue }),
        object
            .clone()
            .prop_map(|condition| Operation::ConditionNotify { condition }),
        object
            .clone()
            .prop_map(|condition| Operation::ConditionWait { condition }),
        object
            .clone()
            .prop_map(|watch| Operation::WatchSend { watch }),
        object
            .clone()
            .prop_map(|broadcast| Operation::BroadcastSend { broadcast }),
        object.prop_map(|broadcast| Operation::BroadcastRecv { broadcast }),
    ]
}

fn first_operations() -> impl Strategy<Value = Operation> {
    let object = 0..OBJECTS;
    prop_oneof![
        Just(Operation::Yield),
        (1..30u64).prop_map(|millis| Operation::Sleep { millis }),
        object
            .clone()
            .prop_map(|mutex| Operation::LockedIncrement { mutex }),
        object
            .clone()
            .prop_map(|counter| Operation::RacyIncrement { counter }),
        object
            .clone()
            .prop_map(|semaphore| Operation::Acquire { semaphore }),
        object
            .clone()
            .prop_map(|notify| Operation::Notify { notify }),
        object
            .clone()
            .prop_map(|notify| Operation::Notified { notify }),
        object
            .clone()
            .prop_map(|event| Operation::SetEvent { event }),
        object
            .clone()
            .prop_map(|event| Operation::WaitEvent { event }),
        object
            .clone()
            .prop_map(|channel| Operation::Send { channel }),
        object
            .clone()
            .prop_map(|channel| Operation::Recv { channel }),
        (object, 1..4u64).prop_map(|(counter, bound)| Operation::AssertAtMost { counter, bound }),
    ]
}

/// Tasks spawned by the root, each a list of operations; the root joins
/// them all.
fn program() -> impl Strategy<Value = Vec<Vec<Operation>>> {
    prop::collection::vec(prop::collection::vec(operation(), 1..6), 1..4)
}

struct World {
    mutexes: Vec<Mutex<u64>>,
    counters: Vec<Shared<u64>>,
    semaphores: Vec<Semaphore>,
    notifies: Vec<Notify>,
    events: Vec<Event>,
    senders: Vec<mpsc::Sender<u64>>,
    receivers: Vec<Mutex<mpsc::Receiver<u64>>>,
    atomics: Vec<AtomicU64>,
    queues: Vec<Queue<u64>>,
    conditions: Vec<(Mutex<()>, Condition)>,
    watches: Vec<watch::Sender<u64>>,
    broadcasts: Vec<broadcast::Sender<u64>>,
    subscribers: Vec<Mutex<broadcast::Receiver<u64>>>,
}

impl World {
    fn new() -> World {
        let (broadcasts, subscribers) = (0..OBJECTS)
            .map(|_| {
                let (sender, receiver) = broadcast::channel(2);
                (sender, Mutex::new(receiver))
            })
            .unzip();
        let (senders, receivers) = (0..OBJECTS)
            .map(|_| {
                let (sender, receiver) = mpsc::channel(1);
                (sender, Mutex::new(receiver))
            })
            .unzip();
        World {
            mutexes: (0..OBJECTS).map(|_| Mutex::new(0)).collect(),
            counters: (0..OBJECTS).map(|_| Shared::new(0)).collect(),
            semaphores: (0..OBJECTS).map(|_| Semaphore::new(1)).collect(),
            notifies: (0..OBJECTS).map(|_| Notify::new()).collect(),
            events: (0..OBJECTS).map(|_| Event::new()).collect(),
            senders,
            receivers,
            atomics: (0..OBJECTS).map(|_| AtomicU64::new(0)).collect(),
            queues: (0..OBJECTS).map(|_| Queue::new(1)).collect(),
            conditions: (0..OBJECTS)
                .map(|_| (Mutex::new(()), Condition::new()))
                .collect(),
            watches: (0..OBJECTS).map(|_| watch::channel(0).0).collect(),
            broadcasts,
            subscribers,
        }
    }

    async fn perform(&self, operation: &Operation) {
        match *operation {
            Operation::Yield => racecheck::yield_now().await,
            Operation::Sleep { millis } => sleep(Duration::from_millis(millis)).await,
            Operation::LockedIncrement { mutex } => {
                let mut guard = self.mutexes[mutex].lock().await;
                racecheck::yield_now().await;
                *guard += 1;
            }
            Operation::RacyIncrement { counter } => {
                let seen = self.counters[counter].load().await;
                self.counters[counter].store(seen + 1).await;
            }
            Operation::Acquire { semaphore } => {
                let _permit = self.semaphores[semaphore].acquire().await.unwrap();
                racecheck::yield_now().await;
            }
            Operation::Notify { notify } => self.notifies[notify].notify_one(),
            Operation::Notified { notify } => self.notifies[notify].notified().await,
            Operation::SetEvent { event } => self.events[event].set(),
            Operation::WaitEvent { event } => self.events[event].wait().await,
            Operation::Send { channel } => self.senders[channel].send(1).await.unwrap(),
            Operation::Recv { channel } => {
                let mut receiver = self.receivers[channel].lock().await;
                receiver.recv().await;
            }
            Operation::AssertAtMost { counter, bound } => {
                assert!(
                    self.counters[counter].get() <= bound,
                    "counter above {bound}"
                );
            }
            Operation::AtomicIncrement { atomic } => {
                let seen = self.atomics[atomic].load(Ordering::Acquire);
                self.atomics[atomic].store(seen + 1, Ordering::Release);
            }
            Operation::Put { queue } => self.queues[queue].put(1).await,
            Operation::Get { queue } => {
                self.queues[queue].get().await;
            }
            Operation::ConditionNotify { condition } => {
                let (lock, condition) = &self.conditions[condition];
                let _guard = lock.lock().await;
                condition.notify_one();
            }
            Operation::ConditionWait { condition } => {
                let (lock, condition) = &self.conditions[condition];
                drop(condition.wait(lock.lock().await).await);
            }
            Operation::WatchSend { watch } => {
                let _ = self.watches[watch].send(1);
            }
            Operation::BroadcastSend { broadcast } => {
                let _ = self.broadcasts[broadcast].send(1);
            }
            Operation::BroadcastRecv { broadcast } => {
                let _ = self.subscribers[broadcast].lock().await.recv().await;
            }
        }
    }
}

/// Runs each list of operations as a task; at step granularity the odd ones
/// as threads, which block on each operation.
async fn interpret(program: Arc<Vec<Vec<Operation>>>, granularity: Granularity) {
    let world = Arc::new(World::new());
    let tasks: Vec<_> = (0..program.len())
        .map(|index| {
            let (world, program) = (world.clone(), program.clone());
            if granularity == Granularity::Step && index % 2 == 1 {
                racecheck::thread::spawn(move || {
                    for operation in &program[index] {
                        racecheck::block_on(world.perform(operation));
                    }
                })
                .into_future()
            } else {
                racecheck::spawn(async move {
                    for operation in &program[index] {
                        world.perform(operation).await;
                    }
                })
            }
        })
        .collect();
    for task in tasks {
        task.await;
    }
    // Every execution ends in a failure, so its trace comes back to compare.
    panic!("end of program");
}

fn run_once(
    program: &Arc<Vec<Vec<Operation>>>,
    strategy: racecheck::Strategy,
    seed: u64,
    granularity: Granularity,
) -> Failure {
    let program = program.clone();
    Builder::new()
        .seed(seed)
        .iterations(1)
        .max_steps(2_000)
        .strategy(strategy)
        .granularity(granularity)
        .run(move || interpret(program.clone(), granularity))
        .failure
        .expect("every execution fails, at the latest at its end")
}

fn granularity() -> impl Strategy<Value = Granularity> {
    prop_oneof![Just(Granularity::Await), Just(Granularity::Step)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_trace(
        program in program(),
        seed in any::<u64>(),
        granularity in granularity(),
    ) {
        let program = Arc::new(program);
        let first = run_once(&program, racecheck::Strategy::Random, seed, granularity);
        let second = run_once(&program, racecheck::Strategy::Random, seed, granularity);
        prop_assert_eq!(&first.schedule, &second.schedule);
        prop_assert_eq!(&first.trace, &second.trace);
        prop_assert_eq!(&first.kind, &second.kind);
    }

    #[test]
    fn replaying_the_schedule_gives_the_same_trace_and_failure(
        program in program(),
        seed in any::<u64>(),
        granularity in granularity(),
    ) {
        let program = Arc::new(program);
        let original = run_once(&program, racecheck::Strategy::Random, seed, granularity);
        let printed = original.schedule.to_string();
        let parsed: racecheck::Schedule = printed.parse().unwrap();
        let replayed = run_once(&program, racecheck::Strategy::Replay(parsed), seed, granularity);
        prop_assert_eq!(&replayed.kind, &original.kind);
        prop_assert_eq!(&replayed.trace, &original.trace);
        prop_assert_eq!(&replayed.schedule, &original.schedule);
    }
}

/// Exploration as a whole is deterministic: the first failing iteration,
/// its schedule and its report are the same on every run.
#[test]
fn the_first_failure_of_an_exploration_is_the_same_every_time() {
    let racy = Arc::new(vec![
        vec![Operation::RacyIncrement { counter: 0 }],
        vec![
            Operation::RacyIncrement { counter: 0 },
            Operation::AssertAtMost {
                counter: 0,
                bound: 1,
            },
        ],
        vec![Operation::RacyIncrement { counter: 0 }],
    ]);
    let explore = || {
        let racy = racy.clone();
        Builder::new()
            .seed(42)
            .run(move || interpret(racy.clone(), Granularity::Await))
            .failure
            .expect("a failure")
    };
    let (first, second) = (explore(), explore());
    assert_eq!(first.iteration, second.iteration);
    assert_eq!(first.to_string(), second.to_string());
}

/// A program whose executions pass, of tasks that lock, send and sleep.
async fn passing_service() {
    let counter = Arc::new(Mutex::new(0));
    let (send, mut receive) = mpsc::channel::<u32>(1);
    let workers: Vec<_> = (0..3)
        .map(|worker| {
            let (counter, send) = (counter.clone(), send.clone());
            racecheck::spawn(async move {
                *counter.lock().await += 1;
                sleep(Duration::from_millis(worker)).await;
                send.send(worker as u32).await.unwrap();
            })
        })
        .collect();
    drop(send);
    let mut received = 0;
    while receive.recv().await.is_some() {
        received += 1;
    }
    for worker in workers {
        worker.await;
    }
    assert_eq!((received, *counter.lock().await), (3, 3));
}

#[test]
fn every_passing_execution_replays_to_its_own_trace() {
    for granularity in [Granularity::Await, Granularity::Step] {
        let report = Builder::new()
            .iterations(300)
            .granularity(granularity)
            .check_replay_every(1)
            .run(passing_service);
        assert!(report.failure.is_none(), "{:?}", report.failure);
        assert_eq!(report.executions, 300);
    }
}

#[test]
fn nondeterminism_that_never_fails_is_caught_by_the_periodic_replay() {
    // State kept across executions decides how many times a task yields;
    // no execution fails, so only a replay can notice.
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let body = || async {
        let yields = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 3;
        let task = racecheck::spawn(async move {
            for _ in 0..yields {
                racecheck::yield_now().await;
            }
        });
        task.await;
    };
    let unchecked = Builder::new().iterations(50).run(body);
    assert!(unchecked.failure.is_none());
    let report = Builder::new()
        .iterations(50)
        .check_replay_every(7)
        .run(body);
    let failure = report.failure.expect("the replay of iteration 6 differs");
    assert!(
        matches!(failure.kind, racecheck::FailureKind::Uncontrolled(_)),
        "{}",
        failure.kind
    );
    assert_eq!((failure.iteration, report.executions), (6, 7));
    assert!(failure.to_string().contains("uncontrolled nondeterminism"));
}
