//! The vector clocks agree with reachability in the happens-before graph,
//! for every pair of events of random traces over every kind of object; and
//! the race check, whose clocks keep entries only for tasks with live
//! accesses, reports what reachability says, on random traces of many tasks
//! over many tracked objects.

use proptest::prelude::*;
use racecheck_detect::{event_clocks, HappensBefore, HbGraph, RacePair};
use racecheck_trace::{
    Event, EventIndex, Location, LockMode, MemoryOrder, ObjectId, ObjectInfo, ObjectKind, Op,
    TaskId, TaskInfo, Trace,
};

const KINDS: [ObjectKind; 15] = [
    ObjectKind::Mutex,
    ObjectKind::RwLock,
    ObjectKind::ReentrantMutex,
    ObjectKind::Semaphore,
    ObjectKind::Event,
    ObjectKind::Notify,
    ObjectKind::Channel,
    ObjectKind::Oneshot,
    ObjectKind::Shared,
    ObjectKind::Condition,
    ObjectKind::Queue,
    ObjectKind::Barrier,
    ObjectKind::Watch,
    ObjectKind::Broadcast,
    ObjectKind::Atomic,
];

const ORDERINGS: [MemoryOrder; 5] = [
    MemoryOrder::Relaxed,
    MemoryOrder::Release,
    MemoryOrder::Acquire,
    MemoryOrder::AcqRel,
    MemoryOrder::SeqCst,
];

/// A raw choice: which task acts, on which object, which variant of the
/// operations that object kind offers.
fn choices() -> impl Strategy<Value = Vec<(u32, usize, u8)>> {
    prop::collection::vec((0..4u32, 0..KINDS.len(), any::<u8>()), 0..60)
}

/// Turns raw choices into a well-formed trace: task 0 spawns tasks 1 to 3
/// first; a finished task does nothing more; joins wait for a finish;
/// receives only take messages that were sent.
fn trace_of(choices: &[(u32, usize, u8)]) -> Trace {
    let location = Location::caller();
    let mut trace = Trace::default();
    for name in ["main", "a", "b", "c"] {
        trace.tasks.push(TaskInfo {
            name: name.into(),
            parent: None,
            spawned_at: location,
        });
    }
    for kind in KINDS {
        trace.objects.push(ObjectInfo {
            kind,
            name: None,
            created_at: location,
        });
    }
    for child in 1..4 {
        push(
            &mut trace,
            0,
            Op::Spawn {
                child: TaskId(child),
            },
        );
    }
    let mut finished = [false; 4];
    let mut messages = 0u32;
    for &(task, object_index, variant) in choices {
        if finished[task as usize] {
            continue;
        }
        let object = ObjectId(object_index as u32);
        let mode = if variant % 2 == 0 {
            LockMode::Exclusive
        } else {
            LockMode::Shared
        };
        let op = match (KINDS[object_index], variant % 4) {
            (_, 3) if variant % 16 == 3 => {
                finished[task as usize] = task != 0;
                if task == 0 {
                    Op::Yield
                } else {
                    Op::Finish
                }
            }
            (_, 3) if variant % 16 == 7 => {
                let target = (task + 1 + u32::from(variant) % 3) % 4;
                if finished[target as usize] {
                    Op::Join {
                        target: TaskId(target),
                    }
                } else {
                    Op::Sleep { until_ns: 5 }
                }
            }
            (ObjectKind::Mutex | ObjectKind::RwLock | ObjectKind::ReentrantMutex, 0 | 2) => {
                Op::Lock { object, mode }
            }
            (ObjectKind::Mutex | ObjectKind::RwLock | ObjectKind::ReentrantMutex, _) => {
                Op::Unlock { object, mode }
            }
            (ObjectKind::Semaphore, 0) => Op::Acquire { object, permits: 1 },
            (ObjectKind::Semaphore, 1) => Op::Release { object, permits: 1 },
            (ObjectKind::Semaphore, _) => Op::AddPermits { object, permits: 2 },
            (ObjectKind::Event, 0) => Op::Set { object },
            (ObjectKind::Event, 1) => Op::Wait {
                object,
                by: earlier(&trace, variant),
            },
            (ObjectKind::Event, _) => Op::Clear { object },
            (ObjectKind::Notify, 0) => Op::Notify {
                object,
                all: variant > 127,
            },
            (ObjectKind::Notify, _) => Op::Notified {
                object,
                by: earlier(&trace, variant),
            },
            (ObjectKind::Channel, 0 | 2) => {
                messages += 1;
                Op::Send { object }
            }
            (ObjectKind::Channel, _) if messages > 0 => {
                messages -= 1;
                Op::Recv { object }
            }
            (ObjectKind::Channel, _) => Op::Close { object },
            (ObjectKind::Oneshot, 0) => Op::Send { object },
            (ObjectKind::Oneshot, 1) => Op::Recv { object },
            (ObjectKind::Oneshot, _) => Op::RecvClosed { object },
            (ObjectKind::Shared, 0 | 2) => Op::Write { object },
            (ObjectKind::Shared, _) => Op::Read { object },
            (ObjectKind::Condition, 0) => Op::Notify {
                object,
                all: variant > 127,
            },
            (ObjectKind::Condition, _) => Op::Notified {
                object,
                by: earlier(&trace, variant),
            },
            // Receives on an empty queue learn nothing, in both algebras.
            (ObjectKind::Queue, 0) => Op::Send { object },
            (ObjectKind::Queue, 1) => Op::Recv { object },
            (ObjectKind::Queue, 2) => Op::TaskDone { object },
            (ObjectKind::Queue, _) => Op::AllDone { object },
            (ObjectKind::Barrier, 0 | 2) => Op::Arrive { object },
            (ObjectKind::Barrier, _) => Op::Depart {
                object,
                leader: variant > 127,
            },
            (ObjectKind::Watch | ObjectKind::Broadcast, 0) => Op::Send { object },
            (ObjectKind::Watch | ObjectKind::Broadcast, 1) => Op::Observe {
                object,
                by: earlier(&trace, variant),
            },
            (ObjectKind::Watch | ObjectKind::Broadcast, 2) => Op::Close { object },
            (ObjectKind::Watch | ObjectKind::Broadcast, _) => Op::RecvClosed { object },
            (ObjectKind::Atomic, kind) => {
                let ordering = ORDERINGS[usize::from(variant / 4) % ORDERINGS.len()];
                match kind {
                    0 => Op::Load { object, ordering },
                    1 => Op::Store { object, ordering },
                    _ => Op::ReadModifyWrite { object, ordering },
                }
            }
        };
        push(&mut trace, task, op);
    }
    trace
}

/// Appends an event of `task`, its step the next one.
fn push(trace: &mut Trace, task: u32, op: Op) {
    let step = trace.events.len() as u32;
    trace.events.push(Event {
        step,
        task: TaskId(task),
        op,
        location: Location::caller(),
    });
}

/// Some earlier event (any kind: only publishing ones order anything).
fn earlier(trace: &Trace, variant: u8) -> Option<EventIndex> {
    Some(EventIndex(
        u32::from(variant) % (trace.events.len() as u32).max(1),
    ))
}

/// The same trace with tasks 0 to 3 renamed [`FAR_IDS`] (and unused
/// tasks in between), so that the clocks store the acting tasks' entries
/// beyond their inline ones, in shared chunks: two in one chunk, one in
/// another.
fn far_apart(mut trace: Trace) -> Trace {
    const FAR_IDS: [u32; 4] = [0, 260, 300, 400];
    let far = |task: TaskId| TaskId(FAR_IDS[task.index()]);
    let acting = std::mem::take(&mut trace.tasks);
    for (info, id) in acting.into_iter().zip(FAR_IDS) {
        while trace.tasks.len() < id as usize {
            trace.tasks.push(info.clone());
        }
        trace.tasks.push(info);
    }
    for event in &mut trace.events {
        event.task = far(event.task);
        match &mut event.op {
            Op::Spawn { child } => *child = far(*child),
            Op::Join { target } => *target = far(*target),
            _ => {}
        }
    }
    trace
}

/// Every pair of events is ordered by the clocks exactly when the graph
/// orders it.
fn check_against_graph(trace: &Trace) -> Result<(), TestCaseError> {
    let clocks = event_clocks(trace);
    let graph = HbGraph::from_trace(trace);
    for (a, first) in trace.events.iter().enumerate() {
        let epoch = clocks[a].get(first.task.index());
        for (b, clock) in clocks.iter().enumerate() {
            let by_clocks = a != b && clock.get(first.task.index()) >= epoch;
            prop_assert_eq!(
                by_clocks,
                graph.happens_before(EventIndex::new(a), EventIndex::new(b)),
                "events {} and {} of {:#?}",
                a,
                b,
                trace.events
            );
        }
    }
    Ok(())
}

/// Tasks of [`many_tasks_trace_of`].
const MANY_TASKS: u32 = 12;
/// Its objects: locks first, then tracked state, then a channel.
const MANY_LOCKS: u32 = 3;
const MANY_SHARED: u32 = 6;

/// A well-formed trace of [`MANY_TASKS`] tasks over locks, tracked state
/// and a channel, with finishes and joins: enough tasks and objects that
/// the race check hands out, gives back and reuses many slots.
fn many_tasks_trace_of(choices: &[(u32, u32, u8)]) -> Trace {
    let location = Location::caller();
    let mut trace = Trace::default();
    for task in 0..MANY_TASKS {
        trace.tasks.push(TaskInfo {
            name: format!("t{task}").into(),
            parent: None,
            spawned_at: location,
        });
    }
    let kinds = (0..MANY_LOCKS)
        .map(|_| ObjectKind::Mutex)
        .chain((0..MANY_SHARED).map(|_| ObjectKind::Shared))
        .chain([ObjectKind::Channel]);
    for kind in kinds {
        trace.objects.push(ObjectInfo {
            kind,
            name: None,
            created_at: location,
        });
    }
    let channel = ObjectId(MANY_LOCKS + MANY_SHARED);
    let mut events = Vec::new();
    for child in 1..MANY_TASKS {
        events.push((
            0,
            Op::Spawn {
                child: TaskId(child),
            },
        ));
    }
    let mut finished = [false; MANY_TASKS as usize];
    let mut held: Vec<Option<u32>> = vec![None; MANY_LOCKS as usize];
    let mut messages = 0u32;
    for &(task, pick, variant) in choices {
        if finished[task as usize] {
            continue;
        }
        let op = match variant % 8 {
            // Locks: taken only when free, given back by their holder.
            0 | 1 => {
                let lock = pick % MANY_LOCKS;
                let object = ObjectId(lock);
                match held[lock as usize] {
                    None => {
                        held[lock as usize] = Some(task);
                        Op::Lock {
                            object,
                            mode: LockMode::Exclusive,
                        }
                    }
                    Some(holder) if holder == task => {
                        held[lock as usize] = None;
                        Op::Unlock {
                            object,
                            mode: LockMode::Exclusive,
                        }
                    }
                    Some(_) => Op::Yield,
                }
            }
            // Tracked state, mostly under its lock (object `i` under
            // lock `i % MANY_LOCKS`), now and then without: most accesses
            // are ordered, so the check goes on far past the first race.
            2..=5 => {
                let object = pick % MANY_SHARED;
                let guarded = held[(object % MANY_LOCKS) as usize] == Some(task);
                let object = ObjectId(MANY_LOCKS + object);
                if !guarded && variant < 240 {
                    Op::Yield
                } else if variant % 8 < 4 {
                    Op::Write { object }
                } else {
                    Op::Read { object }
                }
            }
            6 if variant % 16 == 6 => {
                messages += 1;
                Op::Send { object: channel }
            }
            6 if messages > 0 => {
                messages -= 1;
                Op::Recv { object: channel }
            }
            6 => Op::Yield,
            _ if task != 0 && !held.contains(&Some(task)) && variant > 200 => {
                finished[task as usize] = true;
                Op::Finish
            }
            _ => {
                let target = pick % MANY_TASKS;
                if finished[target as usize] {
                    Op::Join {
                        target: TaskId(target),
                    }
                } else {
                    Op::Yield
                }
            }
        };
        events.push((task, op));
    }
    for (task, op) in events {
        push(&mut trace, task, op);
    }
    trace
}

/// The race check reports, for each tracked object, the first access that
/// races with an earlier one (by reachability in the graph), paired with
/// an access it races with, and nothing else.
fn check_races_against_graph(trace: &Trace) -> Result<(), TestCaseError> {
    let mut hb = HappensBefore::default();
    let mut races = Vec::new();
    for (index, event) in trace.events.iter().enumerate() {
        hb.observe(EventIndex::new(index), event, &trace.objects, &mut races);
    }
    let graph = HbGraph::from_trace(trace);
    let access = |index: usize| match trace.events[index].op {
        Op::Write { object } => Some((object, true)),
        Op::Read { object } => Some((object, false)),
        _ => None,
    };
    let racy = |first: usize, second: usize| match (access(first), access(second)) {
        (Some((object, first_writes)), Some((other, second_writes))) => {
            object == other
                && (first_writes || second_writes)
                && trace.events[first].task != trace.events[second].task
                && !graph.happens_before(EventIndex::new(first), EventIndex::new(second))
        }
        _ => false,
    };
    let mut expected: Vec<(ObjectId, EventIndex)> = Vec::new();
    for second in 0..trace.events.len() {
        let Some((object, _)) = access(second) else {
            continue;
        };
        if expected.iter().any(|&(raced, _)| raced == object) {
            continue;
        }
        if (0..second).any(|first| racy(first, second)) {
            expected.push((object, EventIndex::new(second)));
        }
    }
    let reported: Vec<(ObjectId, EventIndex)> = races
        .iter()
        .map(|race| (race.object, race.second))
        .collect();
    prop_assert_eq!(
        &reported,
        &expected,
        "races {:?} in {:#?}",
        races,
        trace.events
    );
    for &RacePair { first, second, .. } in &races {
        prop_assert!(
            racy(first.index(), second.index()),
            "{:?} is no race",
            (first, second)
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn races_agree_with_graph_reachability(
        choices in prop::collection::vec((0..MANY_TASKS, 0..64u32, any::<u8>()), 0..200)
    ) {
        check_races_against_graph(&many_tasks_trace_of(&choices))?;
    }

    #[test]
    fn races_over_every_kind_agree_with_graph_reachability(choices in choices()) {
        check_races_against_graph(&trace_of(&choices))?;
    }

    #[test]
    fn vector_clocks_agree_with_graph_reachability(choices in choices()) {
        check_against_graph(&trace_of(&choices))?;
    }

    #[test]
    fn shared_clock_chunks_agree_with_graph_reachability(choices in choices()) {
        check_against_graph(&far_apart(trace_of(&choices)))?;
    }
}
