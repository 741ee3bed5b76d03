//! Tasks that can never run again: deadlocks (a cycle in the wait-for
//! graph, task → object → holder, or → the other end's holder for a
//! channel) and hangs (no cycle, nobody left to wake them).

use crate::finding::{Deadlock, Hang, Wait};
use crate::waits::{stuck_tasks, StuckTask};
use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;
use racecheck_trace::{ExecutionEnd, Location, TaskId, Trace, WaitTarget};

/// What is wrong with the tasks blocked at the end of an execution: a
/// deadlock if some wait in a cycle, a hang otherwise.
pub(crate) enum Stuck {
    Deadlock(Deadlock),
    Hang(Hang),
}

/// Explains the tasks blocked at the end of an execution. The wait-for
/// graph has an edge from each blocked task to each blocked task that
/// could end its wait: the holders of the lock it waits for and those
/// queued ahead of it (all of whom must move), the task it joins, and the
/// tasks holding the other end of the channel it waits on (any of whom
/// could send the message or free the slot). A cycle is a deadlock only if
/// every task that could end a channel wait of it is in it: one left
/// outside (asleep, or stuck elsewhere) makes it a hang. If others
/// finished while these stayed stuck, the deadlock is partial.
pub(crate) fn explain(trace: &Trace, end: &ExecutionEnd) -> Stuck {
    let stuck = stuck_tasks(trace, end);
    let graph = wait_for_graph(&stuck, end);
    // Every task that could end a channel wait of the component is in it.
    let closed = |component: &[u32]| {
        (stuck.iter())
            .filter(|entry| component.contains(&entry.task.0))
            .all(|entry| {
                entry
                    .wakers
                    .iter()
                    .all(|waker| component.contains(&waker.0))
            })
    };
    let wait = |task: u32| {
        let entry = stuck
            .iter()
            .find(|entry| entry.task.0 == task)
            .expect("every node is a blocked task");
        Wait {
            task: entry.task,
            description: entry.to_string(),
            wakers: entry.wakers.clone(),
        }
    };
    let cycle = tarjan_scc(&graph)
        .into_iter()
        .filter(|component| component.len() > 1 || graph.contains_edge(component[0], component[0]))
        .filter(|component| closed(component))
        .min_by_key(|component| component.iter().copied().min());
    if let Some(component) = cycle {
        let order = walk_cycle(&graph, &component);
        let cycle: Vec<Wait> = order.iter().map(|&task| wait(task)).collect();
        let blocked_behind = stuck
            .iter()
            .filter(|entry| !order.contains(&entry.task.0))
            .map(|entry| wait(entry.task.0))
            .collect();
        return Stuck::Deadlock(Deadlock {
            cycle,
            blocked_behind,
            partial: end.root_finished,
        });
    }
    Stuck::Hang(Hang {
        waits: stuck.iter().map(|entry| wait(entry.task.0)).collect(),
        last_touched: stuck
            .iter()
            .map(|entry| last_touched(trace, entry))
            .collect(),
    })
}

/// An edge from each blocked task to each blocked task that could end its
/// wait (see [`explain`]).
fn wait_for_graph(stuck: &[StuckTask], end: &ExecutionEnd) -> DiGraphMap<u32, ()> {
    let mut graph = DiGraphMap::<u32, ()>::new();
    for entry in stuck {
        graph.add_node(entry.task.0);
        let waits_for: Vec<TaskId> = match entry.target {
            WaitTarget::Object(_) => (entry.holders.iter())
                .chain(&entry.queued_ahead)
                .chain(&entry.wakers)
                .copied()
                .collect(),
            WaitTarget::Task(target) => vec![target],
            WaitTarget::Untracked => Vec::new(),
        };
        for holder in waits_for {
            if end.blocked.iter().any(|&(task, _)| task == holder) {
                graph.add_edge(entry.task.0, holder.0, ());
            }
        }
    }
    graph
}

/// The last other task to touch the object `entry` waits on, and where.
fn last_touched(trace: &Trace, entry: &StuckTask) -> Option<(String, Location)> {
    let WaitTarget::Object(object) = entry.target else {
        return None;
    };
    let event = trace.events.iter().rev().find(|event| {
        let op = event.op;
        event.task != entry.task && op.object() == Some(object) && op.waits_for().is_none()
    })?;
    Some((trace.task_label(event.task), event.location))
}

/// The tasks of a strongly connected component in the order of one cycle
/// through it, starting at the lowest id.
fn walk_cycle(graph: &DiGraphMap<u32, ()>, component: &[u32]) -> Vec<u32> {
    let start = *component.iter().min().expect("components are not empty");
    let mut order = vec![start];
    let mut current = start;
    loop {
        // Through the others first: a task that also waits on itself (a
        // read lock it holds) shows the wait that involves someone else.
        let next = graph
            .neighbors(current)
            .filter(|node| component.contains(node))
            .min_by_key(|&node| (node == current && component.len() > 1, node))
            .expect("every task of a cycle waits for another task of it");
        if next == start || order.contains(&next) {
            return order;
        }
        order.push(next);
        current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use racecheck_trace::{
        Endpoint, Event, Location, LockMode, Need, ObjectId, ObjectInfo, ObjectKind, Op, TaskInfo,
    };

    const STATS: ObjectId = ObjectId(0);
    const JOBS: ObjectId = ObjectId(1);

    /// 'consumer' holds 'stats' and waits for a message on 'jobs';
    /// 'producer' waits for 'stats'; 'idle' waits on something untracked.
    fn consumer_and_producer() -> (Trace, Vec<(TaskId, WaitTarget)>) {
        let location = Location::caller();
        let mut trace = Trace::default();
        for name in ["consumer", "producer", "idle"] {
            trace.tasks.push(TaskInfo {
                name: name.into(),
                parent: None,
                spawned_at: location,
            });
        }
        for (kind, name) in [(ObjectKind::Mutex, "stats"), (ObjectKind::Channel, "jobs")] {
            trace.objects.push(ObjectInfo {
                kind,
                name: Some(name.into()),
                created_at: location,
            });
        }
        let mode = LockMode::Exclusive;
        let waits = [
            (0, WaitTarget::Object(JOBS), Need::Message),
            (1, WaitTarget::Object(STATS), Need::Lock(mode)),
            (2, WaitTarget::Untracked, Need::Unstated),
        ];
        let lock = Op::Lock {
            object: STATS,
            mode,
        };
        let blocks = waits.map(|(task, on, need)| (task, Op::Block { on, need }));
        for (step, (task, op)) in [(0, lock)].into_iter().chain(blocks).enumerate() {
            trace.events.push(Event {
                step: step as u32,
                task: TaskId(task),
                op,
                location,
            });
        }
        let blocked = waits.map(|(task, on, _)| (TaskId(task), on)).to_vec();
        (trace, blocked)
    }

    #[test]
    fn a_channel_cycle_is_a_deadlock_only_if_every_sender_is_in_it() {
        let sender = |task| Endpoint {
            task: TaskId(task),
            object: JOBS,
            gives: Need::Message,
        };
        let (trace, blocked) = consumer_and_producer();
        type Case = (&'static [u32], Option<[&'static str; 2]>);
        let cases: [Case; 3] = [
            (
                &[1],
                Some([
                    "task 'consumer' waits for a message on mpsc 'jobs' from 'producer'",
                    "task 'producer' waits to lock Mutex 'stats', held by 'consumer'",
                ]),
            ),
            // 'idle' could send too, and is not in the cycle.
            (&[1, 2], None),
            // Nobody holds a sender: nothing to wait for in a cycle.
            (&[], None),
        ];
        for (senders, expected) in cases {
            let end = ExecutionEnd {
                blocked: blocked.clone(),
                endpoints: senders.iter().map(|&task| sender(task)).collect(),
                ..ExecutionEnd::default()
            };
            let cycle = match explain(&trace, &end) {
                Stuck::Deadlock(deadlock) => Some(deadlock.cycle),
                Stuck::Hang(_) => None,
            };
            let descriptions = cycle.map(|cycle| {
                let sentences: Vec<String> =
                    cycle.into_iter().map(|wait| wait.description).collect();
                sentences
            });
            assert_eq!(
                descriptions,
                expected.map(|sentences| sentences.map(String::from).to_vec()),
                "senders {senders:?}"
            );
        }
    }
}
