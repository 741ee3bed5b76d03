//! Tasks that can never run again: deadlocks (a cycle in the wait-for
//! graph, task → object → holder) and hangs (no cycle, nobody left to wake
//! them).

use crate::finding::{Deadlock, Hang, Wait};
use crate::waits::stuck_tasks;
use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;
use racecheck_trace::{TaskId, Trace, WaitTarget};

/// What is wrong with the tasks blocked at the end of an execution: a
/// deadlock if some wait in a cycle, a hang otherwise.
pub(crate) enum Stuck {
    Deadlock(Deadlock),
    Hang(Hang),
}

/// Explains the blocked tasks. `others_finished`: the execution went on and
/// finished without them (a partial deadlock or a hang at the end).
pub(crate) fn explain(
    trace: &Trace,
    blocked: &[(TaskId, WaitTarget)],
    others_finished: bool,
) -> Stuck {
    let stuck = stuck_tasks(trace, blocked);
    let mut graph = DiGraphMap::<u32, ()>::new();
    for entry in &stuck {
        graph.add_node(entry.task.0);
        let waits_for: Vec<TaskId> = match entry.target {
            WaitTarget::Object(_) => entry
                .holders
                .iter()
                .chain(&entry.queued_ahead)
                .copied()
                .collect(),
            WaitTarget::Task(target) => vec![target],
            WaitTarget::Untracked => Vec::new(),
        };
        for holder in waits_for {
            if blocked.iter().any(|&(task, _)| task == holder) {
                graph.add_edge(entry.task.0, holder.0, ());
            }
        }
    }
    let wait = |task: u32| {
        let entry = stuck
            .iter()
            .find(|entry| entry.task.0 == task)
            .expect("every node is a blocked task");
        Wait {
            task: entry.task,
            description: entry.to_string(),
        }
    };
    let cycle = tarjan_scc(&graph)
        .into_iter()
        .filter(|component| component.len() > 1 || graph.contains_edge(component[0], component[0]))
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
            partial: others_finished,
        });
    }
    let last_touched = stuck
        .iter()
        .map(|entry| match entry.target {
            WaitTarget::Object(object) => trace
                .events
                .iter()
                .rev()
                .find(|event| {
                    let op = event.op;
                    event.task != entry.task
                        && op.object() == Some(object)
                        && op.waits_for().is_none()
                })
                .map(|event| (trace.task_label(event.task), event.location)),
            WaitTarget::Task(_) | WaitTarget::Untracked => None,
        })
        .collect();
    Stuck::Hang(Hang {
        waits: stuck.iter().map(|entry| wait(entry.task.0)).collect(),
        last_touched,
    })
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
