//! The happens-before graph of an execution, built offline from its trace
//! with petgraph: for reports, for Graphviz output, and as the reference the
//! vector clocks are tested against.

use crate::sync::{role, Channel, Role};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, EdgeRef, Reversed};
use racecheck_trace::{Op, Trace};
use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write;

/// Why one event happens before another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// The same task, one event after the other.
    ProgramOrder,
    /// A spawn, to the child's first event.
    Spawn,
    /// A task's last event, to the join that awaited it.
    Join,
    /// A release (unlock, set, notify, send, ...) to a later acquire of the
    /// same object.
    Synchronises,
}

/// Events as nodes (weight: the index in the trace), happens-before as
/// edges: `a` happens before `b` exactly when there is a path from `a` to
/// `b`.
///
/// ```
/// use racecheck_detect::HbGraph;
/// use racecheck_trace::{Event, Location, Op, TaskId, Trace};
///
/// let mut trace = Trace::default();
/// for _ in 0..2 {
///     trace.events.push(Event { step: 0, task: TaskId(0), op: Op::Yield, location: Location::caller() });
/// }
/// let graph = HbGraph::from_trace(&trace);
/// assert!(graph.happens_before(0, 1));
/// assert!(!graph.happens_before(1, 0));
/// ```
#[derive(Clone, Debug)]
pub struct HbGraph {
    graph: DiGraph<usize, Edge>,
}

impl HbGraph {
    /// Builds the graph of `trace`.
    pub fn from_trace(trace: &Trace) -> HbGraph {
        let mut graph = DiGraph::with_capacity(trace.events.len(), trace.events.len() * 2);
        let nodes: Vec<NodeIndex> = (0..trace.events.len())
            .map(|index| graph.add_node(index))
            .collect();
        let mut last_of_task: Vec<Option<NodeIndex>> = Vec::new();
        let mut pending_spawn: Vec<Option<NodeIndex>> = Vec::new();
        let mut finish_of_task: Vec<Option<NodeIndex>> = Vec::new();
        let mut releases: Vec<[Vec<NodeIndex>; 2]> = Vec::new();
        let mut messages: Vec<VecDeque<NodeIndex>> = Vec::new();
        let mut published = vec![false; trace.events.len()];
        let grow = |table: &mut Vec<Option<NodeIndex>>, index: usize| {
            if table.len() <= index {
                table.resize(index + 1, None);
            }
        };
        for (index, event) in trace.events.iter().enumerate() {
            let node = nodes[index];
            let task = event.task.index();
            grow(&mut last_of_task, task);
            grow(&mut pending_spawn, task);
            grow(&mut finish_of_task, task);
            match last_of_task[task] {
                Some(previous) => {
                    graph.add_edge(previous, node, Edge::ProgramOrder);
                }
                None => {
                    if let Some(spawn) = pending_spawn[task] {
                        graph.add_edge(spawn, node, Edge::Spawn);
                    }
                }
            }
            last_of_task[task] = Some(node);
            match event.op {
                Op::Spawn { child } => {
                    grow(&mut pending_spawn, child.index());
                    pending_spawn[child.index()] = Some(node);
                }
                Op::Finish => finish_of_task[task] = Some(node),
                Op::Join { target } => {
                    if let Some(Some(finish)) = finish_of_task.get(target.index()) {
                        graph.add_edge(*finish, node, Edge::Join);
                    }
                }
                _ => {}
            }
            let Some(object) = event.op.object() else {
                continue;
            };
            if matches!(event.op, Op::Block { .. }) {
                continue;
            }
            let Some(info) = trace.objects.get(object.index()) else {
                continue;
            };
            if releases.len() <= object.index() {
                releases.resize_with(object.index() + 1, Default::default);
                messages.resize_with(object.index() + 1, VecDeque::new);
            }
            match role(info.kind, &event.op) {
                Role::Release(channel) => {
                    let [main, readers] = &mut releases[object.index()];
                    match channel {
                        Channel::Main => main.push(node),
                        Channel::Last => *main = vec![node],
                        Channel::Readers => readers.push(node),
                    }
                }
                Role::Acquire { with_readers } => {
                    let [main, readers] = &releases[object.index()];
                    let sources = main.iter().chain(readers.iter().filter(|_| with_readers));
                    for &source in sources {
                        graph.add_edge(source, node, Edge::Synchronises);
                    }
                }
                Role::AcquireFrom(source) => {
                    let source = source as usize;
                    if source < index && published[source] {
                        graph.add_edge(nodes[source], node, Edge::Synchronises);
                    }
                }
                Role::SendMessage => messages[object.index()].push_back(node),
                Role::ReceiveMessage => {
                    if let Some(send) = messages[object.index()].pop_front() {
                        graph.add_edge(send, node, Edge::Synchronises);
                    }
                }
                Role::Publish => published[index] = true,
                Role::Overwrite => releases[object.index()][0].clear(),
                Role::ReadModifyWrite {
                    acquires,
                    releases: publishes,
                } => {
                    let main = &mut releases[object.index()][0];
                    if acquires {
                        for &source in main.iter() {
                            graph.add_edge(source, node, Edge::Synchronises);
                        }
                    }
                    if publishes {
                        main.push(node);
                    }
                }
                Role::None | Role::Access => {}
            }
        }
        HbGraph { graph }
    }

    /// Every edge, as `(from, to, why)` with events as indices into the
    /// trace's events.
    ///
    /// ```
    /// use racecheck_detect::{Edge, HbGraph};
    /// use racecheck_trace::{Event, Location, Op, TaskId, Trace};
    ///
    /// let mut trace = Trace::default();
    /// for _ in 0..2 {
    ///     trace.events.push(Event { step: 0, task: TaskId(0), op: Op::Yield, location: Location::caller() });
    /// }
    /// let edges: Vec<_> = HbGraph::from_trace(&trace).edges().collect();
    /// assert_eq!(edges, [(0, 1, Edge::ProgramOrder)]);
    /// ```
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize, Edge)> + '_ {
        self.graph
            .edge_references()
            .map(|edge| (edge.source().index(), edge.target().index(), *edge.weight()))
    }

    /// Whether event `first` happens before event `second` (indices into
    /// the trace's events).
    pub fn happens_before(&self, first: usize, second: usize) -> bool {
        if first == second {
            return false;
        }
        let mut search = Dfs::new(&self.graph, NodeIndex::new(first));
        while let Some(node) = search.next(&self.graph) {
            if node.index() == second {
                return true;
            }
        }
        false
    }

    /// The events that happen before `event`, itself excluded.
    pub fn predecessors(&self, event: usize) -> BTreeSet<usize> {
        let reversed = Reversed(&self.graph);
        let mut search = Dfs::new(reversed, NodeIndex::new(event));
        let mut found = BTreeSet::new();
        while let Some(node) = search.next(reversed) {
            if node.index() != event {
                found.insert(node.index());
            }
        }
        found
    }

    /// Graphviz DOT of the events in `keep` and the edges among them, with
    /// `highlight` drawn in red: for showing a race or a cycle without the
    /// thousands of events around it.
    pub fn to_dot(&self, trace: &Trace, keep: &BTreeSet<usize>, highlight: &[usize]) -> String {
        let mut dot = String::from("digraph happens_before {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n");
        for &index in keep {
            let event = &trace.events[index];
            let label = format!(
                "#{index} step {}\\n{}: {}\\n{}",
                event.step,
                trace.task_label(event.task),
                trace.describe(&event.op),
                event.location
            )
            .replace('"', "'");
            let color = if highlight.contains(&index) {
                ", color=red, penwidth=2"
            } else {
                ""
            };
            let _ = writeln!(dot, "  e{index} [label=\"{label}\"{color}];");
        }
        for edge in self.graph.edge_references() {
            let (from, to) = (edge.source().index(), edge.target().index());
            if keep.contains(&from) && keep.contains(&to) {
                let style = match edge.weight() {
                    Edge::ProgramOrder => "",
                    Edge::Spawn | Edge::Join => " [style=dashed]",
                    Edge::Synchronises => " [color=blue]",
                };
                let _ = writeln!(dot, "  e{from} -> e{to}{style};");
            }
        }
        dot.push_str("}\n");
        dot
    }
}

/// Most events a finding's graph shows.
pub const DOT_EVENTS_MAX: usize = 40;

/// The happens-before graph around a finding, as Graphviz DOT: for a race,
/// the two accesses (in red) and the events of their tasks between them,
/// with the orders that do exist; for a deadlock or hang, the last events of
/// the stuck tasks. `None` for findings without events to show.
///
/// ```
/// use racecheck_detect::{finding_dot, Checks, Detector, ExecutionEnd};
/// use racecheck_trace::{Event, Location, ObjectId, ObjectInfo, ObjectKind, Op, TaskId, Trace};
///
/// let mut trace = Trace::default();
/// trace.objects.push(ObjectInfo { kind: ObjectKind::Shared, name: None, created_at: Location::caller() });
/// for task in [1, 2] {
///     trace.events.push(Event { step: task, task: TaskId(task), op: Op::Write { object: ObjectId(0) }, location: Location::caller() });
/// }
/// let end = ExecutionEnd { root_finished: true, ..ExecutionEnd::default() };
/// let verdict = Detector::new(Checks::default()).analyze(&trace, &end);
/// let dot = finding_dot(&trace, &verdict.failures[0]).unwrap();
/// assert!(dot.starts_with("digraph"));
/// ```
pub fn finding_dot(trace: &Trace, finding: &crate::Finding) -> Option<String> {
    let graph = HbGraph::from_trace(trace);
    match finding {
        crate::Finding::Race(race) => {
            let (first, second) = (race.first.event, race.second.event);
            let tasks = [race.first.task, race.second.task];
            let mut keep: BTreeSet<usize> = (first..=second)
                .filter(|&index| tasks.contains(&trace.events[index].task))
                .collect();
            // What the second access does know, near the first one.
            keep.extend(
                graph
                    .predecessors(second)
                    .into_iter()
                    .filter(|&index| index >= first.saturating_sub(DOT_EVENTS_MAX)),
            );
            let keep = bounded(keep, &[first, second]);
            Some(graph.to_dot(trace, &keep, &[first, second]))
        }
        crate::Finding::Deadlock(deadlock) => {
            let tasks: Vec<_> = deadlock.cycle.iter().map(|wait| wait.task).collect();
            Some(last_events_of(&graph, trace, &tasks))
        }
        crate::Finding::Hang(hang) => {
            let tasks: Vec<_> = hang.waits.iter().map(|wait| wait.task).collect();
            Some(last_events_of(&graph, trace, &tasks))
        }
        crate::Finding::PotentialDeadlock(_) | crate::Finding::Leak(_) => None,
    }
}

/// The last events of each task, the very last in red.
fn last_events_of(graph: &HbGraph, trace: &Trace, tasks: &[racecheck_trace::TaskId]) -> String {
    let per_task = (DOT_EVENTS_MAX / tasks.len().max(1)).max(1);
    let mut keep = BTreeSet::new();
    let mut highlight = Vec::new();
    for &task in tasks {
        let mine: Vec<usize> = (0..trace.events.len())
            .rev()
            .filter(|&index| trace.events[index].task == task)
            .take(per_task)
            .collect();
        highlight.extend(mine.first().copied());
        keep.extend(mine);
    }
    graph.to_dot(trace, &keep, &highlight)
}

/// At most `DOT_EVENTS_MAX` events, always including `must`: the ones
/// closest to them win.
fn bounded(keep: BTreeSet<usize>, must: &[usize]) -> BTreeSet<usize> {
    if keep.len() <= DOT_EVENTS_MAX {
        return keep;
    }
    let mut ranked: Vec<usize> = keep.into_iter().collect();
    ranked.sort_by_key(|&index| {
        must.iter()
            .map(|&anchor| index.abs_diff(anchor))
            .min()
            .unwrap_or(usize::MAX)
    });
    ranked.into_iter().take(DOT_EVENTS_MAX).collect()
}
