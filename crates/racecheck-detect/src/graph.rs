//! The happens-before graph of an execution, built offline from its trace
//! with petgraph: for the pictures of findings, the Chrome trace's arrows,
//! and as the reference the vector clocks are tested against.

use crate::sync::{role, Channel, Role};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, EdgeRef, Reversed};
use racecheck_trace::{Event, EventIndex, Operand, Order, Trace};
use std::collections::{BTreeSet, VecDeque};

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
/// use racecheck_trace::{Event, EventIndex, Location, Op, TaskId, Trace};
///
/// let mut trace = Trace::default();
/// for _ in 0..2 {
///     trace.events.push(Event { step: 0, task: TaskId(0), op: Op::Yield, location: Location::caller() });
/// }
/// let graph = HbGraph::from_trace(&trace);
/// assert!(graph.happens_before(EventIndex(0), EventIndex(1)));
/// assert!(!graph.happens_before(EventIndex(1), EventIndex(0)));
/// ```
#[derive(Clone, Debug)]
pub struct HbGraph {
    graph: DiGraph<EventIndex, Edge>,
}

impl HbGraph {
    /// Builds the graph of `trace`.
    pub fn from_trace(trace: &Trace) -> HbGraph {
        let mut graph = DiGraph::with_capacity(trace.events.len(), trace.events.len() * 2);
        let nodes: Vec<NodeIndex> = (0..trace.events.len())
            .map(|index| graph.add_node(EventIndex::new(index)))
            .collect();
        let mut tasks = TaskEdges::default();
        let mut objects = ObjectEdges {
            releases: Vec::new(),
            messages: Vec::new(),
            published: vec![false; trace.events.len()],
        };
        for (index, event) in trace.events.iter().enumerate() {
            tasks.add(&mut graph, nodes[index], event);
            // A blocked task waits; it has not synchronised with anything.
            let op = event.op;
            let Operand::Object(object) = op.operand() else {
                continue;
            };
            if let Some(info) = trace.objects.get(object.index()) {
                let role = role(info.kind, op.order());
                objects.add(&mut graph, &nodes, index, object.index(), role);
            }
        }
        HbGraph { graph }
    }

    /// Every edge, as `(from, to, why)` with events as indices into the
    /// trace's events.
    ///
    /// ```
    /// use racecheck_detect::{Edge, HbGraph};
    /// use racecheck_trace::{Event, EventIndex, Location, Op, TaskId, Trace};
    ///
    /// let mut trace = Trace::default();
    /// for _ in 0..2 {
    ///     trace.events.push(Event { step: 0, task: TaskId(0), op: Op::Yield, location: Location::caller() });
    /// }
    /// let edges: Vec<_> = HbGraph::from_trace(&trace).edges().collect();
    /// assert_eq!(edges, [(EventIndex(0), EventIndex(1), Edge::ProgramOrder)]);
    /// ```
    pub fn edges(&self) -> impl Iterator<Item = (EventIndex, EventIndex, Edge)> + '_ {
        self.graph.edge_references().map(|edge| {
            let (from, to) = (self.graph[edge.source()], self.graph[edge.target()]);
            (from, to, *edge.weight())
        })
    }

    /// Whether event `first` happens before event `second` (indices into
    /// the trace's events).
    pub fn happens_before(&self, first: EventIndex, second: EventIndex) -> bool {
        if first == second {
            return false;
        }
        let mut search = Dfs::new(&self.graph, node(first));
        while let Some(node) = search.next(&self.graph) {
            if self.graph[node] == second {
                return true;
            }
        }
        false
    }

    /// The events that happen before `event`, itself excluded.
    pub fn predecessors(&self, event: EventIndex) -> BTreeSet<EventIndex> {
        let reversed = Reversed(&self.graph);
        let mut search = Dfs::new(reversed, node(event));
        let mut found = BTreeSet::new();
        while let Some(node) = search.next(reversed) {
            if self.graph[node] != event {
                found.insert(self.graph[node]);
            }
        }
        found
    }

    /// A shortest happens-before path from event `from` to event `to`,
    /// both included; `None` if `from` does not happen before `to`.
    ///
    /// ```
    /// use racecheck_detect::HbGraph;
    /// use racecheck_trace::{Event, EventIndex, Location, Op, TaskId, Trace};
    ///
    /// let mut trace = Trace::default();
    /// for _ in 0..3 {
    ///     trace.events.push(Event { step: 0, task: TaskId(0), op: Op::Yield, location: Location::caller() });
    /// }
    /// let graph = HbGraph::from_trace(&trace);
    /// let event = EventIndex;
    /// assert_eq!(graph.path(event(0), event(2)), Some(vec![event(0), event(1), event(2)]));
    /// assert_eq!(graph.path(event(2), event(0)), None);
    /// ```
    pub fn path(&self, from: EventIndex, to: EventIndex) -> Option<Vec<EventIndex>> {
        let mut reached_from: Vec<Option<EventIndex>> = vec![None; self.graph.node_count()];
        let mut queue = VecDeque::from([from]);
        while let Some(event) = queue.pop_front() {
            if event == to {
                let mut path = vec![to];
                while let Some(&before) = path
                    .last()
                    .and_then(|&at| reached_from[at.index()].as_ref())
                {
                    path.push(before);
                }
                path.reverse();
                return Some(path);
            }
            for next in self.graph.neighbors(node(event)) {
                let next = self.graph[next];
                if next != from && reached_from[next.index()].is_none() {
                    reached_from[next.index()] = Some(event);
                    queue.push_back(next);
                }
            }
        }
        None
    }

    /// Why `from` happens right before `to`, if an edge joins them.
    ///
    /// ```
    /// use racecheck_detect::{Edge, HbGraph};
    /// use racecheck_trace::{Event, EventIndex, Location, Op, TaskId, Trace};
    ///
    /// let mut trace = Trace::default();
    /// for _ in 0..2 {
    ///     trace.events.push(Event { step: 0, task: TaskId(0), op: Op::Yield, location: Location::caller() });
    /// }
    /// let graph = HbGraph::from_trace(&trace);
    /// assert_eq!(graph.edge_between(EventIndex(0), EventIndex(1)), Some(Edge::ProgramOrder));
    /// assert_eq!(graph.edge_between(EventIndex(1), EventIndex(0)), None);
    /// ```
    pub fn edge_between(&self, from: EventIndex, to: EventIndex) -> Option<Edge> {
        self.graph
            .find_edge(node(from), node(to))
            .map(|edge| self.graph[edge])
    }
}

/// The node of `event`: nodes are added in the order of the trace's events.
fn node(event: EventIndex) -> NodeIndex {
    NodeIndex::new(event.index())
}

/// The edges of program order, spawns and joins, built event by event.
#[derive(Default)]
struct TaskEdges {
    last_of_task: Vec<Option<NodeIndex>>,
    pending_spawn: Vec<Option<NodeIndex>>,
    finish_of_task: Vec<Option<NodeIndex>>,
}

impl TaskEdges {
    fn add(&mut self, graph: &mut DiGraph<EventIndex, Edge>, node: NodeIndex, event: &Event) {
        let grow = |table: &mut Vec<Option<NodeIndex>>, index: usize| {
            if table.len() <= index {
                table.resize(index + 1, None);
            }
        };
        let task = event.task.index();
        grow(&mut self.last_of_task, task);
        grow(&mut self.pending_spawn, task);
        grow(&mut self.finish_of_task, task);
        match self.last_of_task[task] {
            Some(previous) => {
                graph.add_edge(previous, node, Edge::ProgramOrder);
            }
            None => {
                if let Some(spawn) = self.pending_spawn[task] {
                    graph.add_edge(spawn, node, Edge::Spawn);
                }
            }
        }
        self.last_of_task[task] = Some(node);
        let op = event.op;
        match (op.order(), op.operand()) {
            (Order::Spawn, Operand::Task(child)) => {
                grow(&mut self.pending_spawn, child.index());
                self.pending_spawn[child.index()] = Some(node);
            }
            (Order::Finish, _) => self.finish_of_task[task] = Some(node),
            (Order::Join, Operand::Task(target)) => {
                if let Some(Some(finish)) = self.finish_of_task.get(target.index()) {
                    graph.add_edge(*finish, node, Edge::Join);
                }
            }
            _ => {}
        }
    }
}

/// The edges objects create (`sync.rs`'s roles), built event by event.
struct ObjectEdges {
    /// Per object, the releases a later acquire learns from: the main
    /// channel and the readers' one.
    releases: Vec<[Vec<NodeIndex>; 2]>,
    /// Per object, the messages sent and not yet received.
    messages: Vec<VecDeque<NodeIndex>>,
    /// Events that published for a completion that names them.
    published: Vec<bool>,
}

impl ObjectEdges {
    fn add(
        &mut self,
        graph: &mut DiGraph<EventIndex, Edge>,
        nodes: &[NodeIndex],
        index: usize,
        object: usize,
        role: Role,
    ) {
        let node = nodes[index];
        if self.releases.len() <= object {
            self.releases.resize_with(object + 1, Default::default);
            self.messages.resize_with(object + 1, VecDeque::new);
        }
        match role {
            Role::Release(channel) => {
                let [main, readers] = &mut self.releases[object];
                match channel {
                    Channel::Main => main.push(node),
                    Channel::Last => *main = vec![node],
                    Channel::Readers => readers.push(node),
                }
            }
            Role::Acquire { with_readers } => {
                let [main, readers] = &self.releases[object];
                let sources = main.iter().chain(readers.iter().filter(|_| with_readers));
                for &source in sources {
                    graph.add_edge(source, node, Edge::Synchronises);
                }
            }
            Role::AcquireFrom(source) => {
                let source = source.index();
                if source < index && self.published[source] {
                    graph.add_edge(nodes[source], node, Edge::Synchronises);
                }
            }
            Role::SendMessage => self.messages[object].push_back(node),
            Role::ReceiveMessage => {
                if let Some(send) = self.messages[object].pop_front() {
                    graph.add_edge(send, node, Edge::Synchronises);
                }
            }
            Role::Publish => self.published[index] = true,
            Role::Overwrite => self.releases[object][0].clear(),
            Role::ReadModifyWrite {
                acquires,
                releases: publishes,
            } => {
                let main = &mut self.releases[object][0];
                if acquires {
                    for &source in main.iter() {
                        graph.add_edge(source, node, Edge::Synchronises);
                    }
                }
                if publishes {
                    main.push(node);
                }
            }
            Role::None | Role::Access { .. } => {}
        }
    }
}
