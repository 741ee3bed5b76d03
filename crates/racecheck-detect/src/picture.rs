//! A picture of every finding: the few nodes and edges that explain it,
//! as plain data that renders to Graphviz DOT here and to SVG in the HTML
//! report.
//!
//! - a race: both tasks' happens-before paths from their latest common
//!   ancestor (a spawn, usually) to the two accesses, and the two accesses
//!   joined by an "unordered" edge;
//! - a deadlock: the wait-for cycle, task → object → holder → …, with where
//!   each task waits and where each holder took its lock;
//! - a hang: the blocked task's wait, the last operation on the object that
//!   came before the wait (and so woke nobody), what the task did in
//!   between, and the waker's exit; or the holder that exited holding it;
//! - a potential deadlock: the lock-order cycle, one sample per edge;
//! - a leak: the holder and where it took what it never gave back.
//!
//! Every picture lists what its styles mean ([`FindingGraph::legend`]).

use crate::finding::{Deadlock, Hang, LockOrderEdge, Race};
use crate::graph::{Edge, HbGraph};
use crate::waits::{stuck_tasks, StuckTask};
use crate::Finding;
use racecheck_trace::{
    EventIndex, ExecutionEnd, Location, Need, ObjectId, TaskId, Touch, Trace, WaitTarget,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Most events a race's picture shows on each of its two paths: the first
/// and last ones of a longer path, with the middle elided.
pub const PATH_EVENTS_MAX: usize = 16;

/// What a node of a picture stands for.
///
/// ```
/// use racecheck_detect::NodeKind;
/// assert_eq!(NodeKind::Task.shape(), "ellipse");
/// assert_eq!(NodeKind::Finding.color(), "red");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeKind {
    /// One of the finding's own events: a racing access, a wait that never
    /// ended.
    Finding,
    /// An event that came too early: it happened before the wait it could
    /// have ended.
    CameFirst,
    /// Another event of the execution.
    Event,
    /// Events left out of a long path.
    Elided,
    /// A task.
    Task,
    /// A lock, semaphore, event, channel, ...
    Object,
}

/// What an edge of a picture says about its two ends.
///
/// ```
/// use racecheck_detect::EdgeKind;
/// assert!(EdgeKind::Unordered.dashed());
/// assert_eq!(EdgeKind::Synchronises.color(), "blue");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeKind {
    /// Happens-before within one task.
    ProgramOrder,
    /// Happens-before from a spawn to the child's first event, or from a
    /// task's end to the join that awaited it.
    SpawnOrJoin,
    /// Happens-before from a release to an acquire (unlock → lock, send →
    /// receive, set → wait, ...).
    Synchronises,
    /// Nothing orders the two accesses: the race.
    Unordered,
    /// A task waits for an object or another task.
    WaitsFor,
    /// An object is held by a task.
    HeldBy,
    /// A task is ahead of another in an object's queue.
    QueuedAhead,
    /// A task holds the other end of a channel (its receiver, a sender):
    /// it could end the wait.
    OtherEnd,
    /// Execution order without happens-before: what came next in this
    /// execution.
    Then,
    /// Held while taking the next lock (a lock-order edge).
    LockOrder,
}

/// A node: its kind and the text in it.
///
/// ```
/// use racecheck_detect::{GraphNode, NodeKind};
/// let node = GraphNode { kind: NodeKind::Task, label: "'main'".into() };
/// assert_eq!(node.kind.shape(), "ellipse");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphNode {
    /// What it stands for.
    pub kind: NodeKind,
    /// Its text, lines separated by `\n`.
    pub label: String,
}

/// An edge between two nodes (indices into [`FindingGraph::nodes`]).
///
/// ```
/// use racecheck_detect::{EdgeKind, GraphEdge};
/// let edge = GraphEdge { from: 0, to: 1, kind: EdgeKind::HeldBy, label: String::new() };
/// assert_eq!(edge.kind.meaning(), "is held by");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphEdge {
    /// The source node.
    pub from: usize,
    /// The target node.
    pub to: usize,
    /// What it says.
    pub kind: EdgeKind,
    /// Its text (may be empty).
    pub label: String,
}

/// The picture of a finding (see the module's documentation for what each
/// kind shows).
///
/// ```
/// use racecheck_detect::{finding_graph, Checks, Detector, EdgeKind, ExecutionEnd};
/// use racecheck_trace::{Event, Location, ObjectId, ObjectInfo, ObjectKind, Op, TaskId, Trace};
///
/// let mut trace = Trace::default();
/// trace.objects.push(ObjectInfo { kind: ObjectKind::Shared, name: None, created_at: Location::caller() });
/// for task in [1, 2] {
///     trace.events.push(Event { step: task, task: TaskId(task), op: Op::Write { object: ObjectId(0) }, location: Location::caller() });
/// }
/// let end = ExecutionEnd { root_finished: true, ..ExecutionEnd::default() };
/// let verdict = Detector::new(Checks::default()).analyze(&trace, &end);
/// let graph = finding_graph(&trace, &verdict.failures[0]);
/// assert!(graph.edges.iter().any(|edge| edge.kind == EdgeKind::Unordered));
/// assert!(graph.to_dot().starts_with("digraph finding {"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingGraph {
    /// The nodes, in the order they were added.
    pub nodes: Vec<GraphNode>,
    /// The edges.
    pub edges: Vec<GraphEdge>,
}

impl NodeKind {
    /// What the node's style means, for a legend.
    ///
    /// ```
    /// use racecheck_detect::NodeKind;
    /// assert_eq!(NodeKind::Task.meaning(), "a task");
    /// ```
    pub fn meaning(self) -> &'static str {
        match self {
            NodeKind::Finding => "what the finding is about: a racing access, a stuck task or wait",
            NodeKind::CameFirst => "came before the wait, so it woke nobody",
            NodeKind::Event => "an event of the execution",
            NodeKind::Elided => "events left out",
            NodeKind::Task => "a task",
            NodeKind::Object => "a lock, semaphore, event or channel",
        }
    }

    /// Its shape, in words: `box`, `ellipse`, `rounded box` or `text`.
    ///
    /// ```
    /// use racecheck_detect::NodeKind;
    /// assert_eq!(NodeKind::Object.shape(), "rounded box");
    /// ```
    pub fn shape(self) -> &'static str {
        match self {
            NodeKind::Task => "ellipse",
            NodeKind::Object => "rounded box",
            NodeKind::Elided => "text",
            NodeKind::Finding | NodeKind::CameFirst | NodeKind::Event => "box",
        }
    }

    /// Its border colour (a CSS and Graphviz colour name).
    ///
    /// ```
    /// use racecheck_detect::NodeKind;
    /// assert_eq!(NodeKind::CameFirst.color(), "darkorange");
    /// ```
    pub fn color(self) -> &'static str {
        match self {
            NodeKind::Finding => "red",
            NodeKind::CameFirst => "darkorange",
            NodeKind::Event | NodeKind::Task => "black",
            NodeKind::Elided => "gray",
            NodeKind::Object => "blue",
        }
    }
}

impl EdgeKind {
    /// What the edge's style means, for a legend.
    ///
    /// ```
    /// use racecheck_detect::EdgeKind;
    /// assert_eq!(EdgeKind::WaitsFor.meaning(), "waits for");
    /// ```
    pub fn meaning(self) -> &'static str {
        match self {
            EdgeKind::ProgramOrder => "happens before: the same task",
            EdgeKind::SpawnOrJoin => "happens before: spawn or join",
            EdgeKind::Synchronises => "happens before: release to acquire (unlock, set, send, ...)",
            EdgeKind::Unordered => "unordered: nothing orders these two accesses",
            EdgeKind::WaitsFor => "waits for",
            EdgeKind::HeldBy => "is held by",
            EdgeKind::QueuedAhead => "is promised first to (queued ahead)",
            EdgeKind::OtherEnd => "could be ended by (holds the other end)",
            EdgeKind::Then => "then, in this execution (no order between tasks)",
            EdgeKind::LockOrder => "held while taking",
        }
    }

    /// Its colour (a CSS and Graphviz colour name).
    ///
    /// ```
    /// use racecheck_detect::EdgeKind;
    /// assert_eq!(EdgeKind::LockOrder.color(), "red");
    /// ```
    pub fn color(self) -> &'static str {
        match self {
            EdgeKind::ProgramOrder | EdgeKind::SpawnOrJoin => "black",
            EdgeKind::Synchronises => "blue",
            EdgeKind::Unordered | EdgeKind::WaitsFor | EdgeKind::LockOrder => "red",
            EdgeKind::HeldBy | EdgeKind::QueuedAhead | EdgeKind::OtherEnd => "darkorange",
            EdgeKind::Then => "gray",
        }
    }

    /// Whether it is drawn dashed.
    ///
    /// ```
    /// use racecheck_detect::EdgeKind;
    /// assert!(!EdgeKind::ProgramOrder.dashed());
    /// ```
    pub fn dashed(self) -> bool {
        matches!(
            self,
            EdgeKind::SpawnOrJoin | EdgeKind::Unordered | EdgeKind::QueuedAhead | EdgeKind::Then
        )
    }
}

impl FindingGraph {
    fn node(&mut self, kind: NodeKind, label: String) -> usize {
        self.nodes.push(GraphNode { kind, label });
        self.nodes.len() - 1
    }

    fn edge(&mut self, from: usize, to: usize, kind: EdgeKind, label: String) {
        self.edges.push(GraphEdge {
            from,
            to,
            kind,
            label,
        });
    }

    /// The node kinds and the edge kinds this picture uses, each once, in
    /// the order of their declaration: what its legend explains.
    ///
    /// ```
    /// use racecheck_detect::FindingGraph;
    /// assert_eq!(FindingGraph::default().legend(), (vec![], vec![]));
    /// ```
    pub fn legend(&self) -> (Vec<NodeKind>, Vec<EdgeKind>) {
        let nodes: BTreeSet<NodeKind> = self.nodes.iter().map(|node| node.kind).collect();
        let edges: BTreeSet<EdgeKind> = self.edges.iter().map(|edge| edge.kind).collect();
        (nodes.into_iter().collect(), edges.into_iter().collect())
    }

    /// The picture as Graphviz DOT, with its legend as a note.
    ///
    /// ```
    /// use racecheck_detect::FindingGraph;
    /// let dot = FindingGraph::default().to_dot();
    /// assert!(dot.starts_with("digraph finding {") && dot.contains("legend [shape=note"));
    /// ```
    pub fn to_dot(&self) -> String {
        let mut dot = String::from(
            "digraph finding {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n",
        );
        for (index, node) in self.nodes.iter().enumerate() {
            let shape = match node.kind.shape() {
                "rounded box" => "box, style=rounded",
                "text" => "plaintext",
                shape => shape,
            };
            let width = if node.kind == NodeKind::Finding { 3 } else { 1 };
            let _ = writeln!(
                dot,
                "  n{index} [label=\"{}\", shape={shape}, color={}, penwidth={width}];",
                dot_escape(&node.label),
                node.kind.color()
            );
        }
        for edge in &self.edges {
            let style = if edge.kind.dashed() {
                "dashed"
            } else {
                "solid"
            };
            let arrow = if edge.kind == EdgeKind::Unordered {
                ", dir=none, constraint=false"
            } else {
                ""
            };
            let _ = writeln!(
                dot,
                "  n{} -> n{} [label=\"{}\", color={}, style={style}{arrow}];",
                edge.from,
                edge.to,
                dot_escape(&edge.label),
                edge.kind.color()
            );
        }
        let (nodes, edges) = self.legend();
        let mut legend = String::from("legend\\l");
        for kind in nodes {
            let _ = write!(
                legend,
                "{} {}: {}\\l",
                kind.color(),
                kind.shape(),
                kind.meaning()
            );
        }
        for kind in edges {
            let style = if kind.dashed() { "dashed" } else { "solid" };
            let _ = write!(
                legend,
                "{} {style} arrow: {}\\l",
                kind.color(),
                kind.meaning()
            );
        }
        let _ = writeln!(
            dot,
            "  legend [shape=note, label=\"{}\"];",
            legend.replace('"', "'")
        );
        dot.push_str("}\n");
        dot
    }
}

/// Text for a quoted DOT label: quotes and backslashes escaped, line
/// breaks as `\n`.
fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The picture of `finding` in the execution `trace`.
///
/// ```
/// use racecheck_detect::{finding_graph, Finding, Leak, NodeKind};
/// use racecheck_trace::{Location, Trace};
///
/// let leak = Finding::Leak(Leak {
///     object_label: "Mutex 'db'".into(),
///     created_at: Location::caller(),
///     holder_name: "main".into(),
///     count: 1,
///     taken_at: None,
/// });
/// let graph = finding_graph(&Trace::default(), &leak);
/// let (nodes, edges) = graph.legend();
/// assert_eq!(nodes, [NodeKind::Task, NodeKind::Object]);
/// assert!(edges[0].meaning().contains("held"));
/// ```
pub fn finding_graph(trace: &Trace, finding: &Finding) -> FindingGraph {
    match finding {
        Finding::Race(race) => race_graph(trace, race),
        Finding::Deadlock(deadlock) => deadlock_graph(trace, deadlock),
        Finding::Hang(hang) => hang_graph(trace, hang),
        Finding::PotentialDeadlock(potential) => lock_order_graph(&potential.cycle),
        Finding::Leak(leak) => {
            let mut graph = FindingGraph::default();
            let object = graph.node(
                NodeKind::Object,
                format!(
                    "{}\ncreated at {}",
                    leak.object_label,
                    site(leak.created_at)
                ),
            );
            let holder = graph.node(NodeKind::Task, format!("'{}'", leak.holder_name));
            let taken = leak
                .taken_at
                .map_or(String::new(), |at| format!("taken at {}\n", site(at)));
            graph.edge(
                object,
                holder,
                EdgeKind::HeldBy,
                format!("{taken}still held at the end"),
            );
            graph
        }
    }
}

/// The picture of `finding` as Graphviz DOT (see [`finding_graph`]).
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
/// assert!(finding_dot(&trace, &verdict.failures[0]).contains("legend"));
/// ```
pub fn finding_dot(trace: &Trace, finding: &Finding) -> String {
    finding_graph(trace, finding).to_dot()
}

/// The events a finding is about, as indices into the trace's events: a
/// race's two accesses, the last event (the wait) of each task of a
/// deadlock or hang; none for a potential deadlock or a leak.
///
/// ```
/// use racecheck_detect::{finding_events, Checks, Detector, ExecutionEnd};
/// use racecheck_trace::{Event, EventIndex, Location, ObjectId, ObjectInfo, ObjectKind, Op, TaskId, Trace};
///
/// let mut trace = Trace::default();
/// trace.objects.push(ObjectInfo { kind: ObjectKind::Shared, name: None, created_at: Location::caller() });
/// for task in [1, 2] {
///     trace.events.push(Event { step: task, task: TaskId(task), op: Op::Write { object: ObjectId(0) }, location: Location::caller() });
/// }
/// let end = ExecutionEnd { root_finished: true, ..ExecutionEnd::default() };
/// let verdict = Detector::new(Checks::default()).analyze(&trace, &end);
/// assert_eq!(finding_events(&trace, &verdict.failures[0]), [EventIndex(0), EventIndex(1)]);
/// ```
pub fn finding_events(trace: &Trace, finding: &Finding) -> Vec<EventIndex> {
    let last_of = |task: TaskId| {
        let last = trace.events.iter().rposition(|event| event.task == task);
        last.map(EventIndex::new)
    };
    match finding {
        Finding::Race(race) => vec![race.first.event, race.second.event],
        Finding::Deadlock(deadlock) => deadlock
            .cycle
            .iter()
            .filter_map(|wait| last_of(wait.task))
            .collect(),
        Finding::Hang(hang) => hang
            .waits
            .iter()
            .filter_map(|wait| last_of(wait.task))
            .collect(),
        Finding::PotentialDeadlock(_) | Finding::Leak(_) => Vec::new(),
    }
}

/// An event as a node's text: step, task and operation, source location.
fn event_label(trace: &Trace, index: usize) -> String {
    let event = &trace.events[index];
    format!(
        "step {}: '{}'\n{}\n{}",
        event.step,
        trace.task_label(event.task),
        trace.describe(&event.op),
        site(event.location)
    )
}

/// A source location as a picture shows it: the file's last two path
/// components, line and column (`scenarios/x.toml:15:5`), so that labels
/// stay short; the text report has the whole path.
fn site(location: Location) -> String {
    let file = location.file();
    let short = match file.rmatch_indices(['/', '\\']).nth(1) {
        Some((slash, _)) => &file[slash + 1..],
        None => file,
    };
    if location.line() == 0 {
        return short.to_string();
    }
    format!("{short}:{}:{}", location.line(), location.column())
}

/// One place on a path as a picture shows it.
enum Shown {
    Event(EventIndex),
    /// This many events left out.
    Elided(usize),
}

/// A path of at most `PATH_EVENTS_MAX` events: its first and last halves,
/// with the middle elided.
fn elide(path: &[EventIndex]) -> Vec<Shown> {
    if path.len() <= PATH_EVENTS_MAX {
        return path.iter().map(|&event| Shown::Event(event)).collect();
    }
    let half = PATH_EVENTS_MAX / 2;
    let mut shown: Vec<Shown> = path[..half]
        .iter()
        .map(|&event| Shown::Event(event))
        .collect();
    shown.push(Shown::Elided(path.len() - 2 * half));
    shown.extend(
        path[path.len() - half..]
            .iter()
            .map(|&event| Shown::Event(event)),
    );
    shown
}

fn race_graph(trace: &Trace, race: &Race) -> FindingGraph {
    let hb = HbGraph::from_trace(trace);
    let (first, second) = (race.first.event, race.second.event);
    let common = hb.predecessors(first);
    let ancestor = hb.predecessors(second).intersection(&common).max().copied();
    let path_to = |access: EventIndex| match ancestor {
        Some(ancestor) => hb.path(ancestor, access).unwrap_or_else(|| vec![access]),
        None => vec![access],
    };
    let mut graph = FindingGraph::default();
    let mut nodes: BTreeMap<EventIndex, usize> = BTreeMap::new();
    for access in [first, second] {
        let mut previous: Option<(Option<EventIndex>, usize)> = None;
        for shown in elide(&path_to(access)) {
            let (event, node) = match shown {
                Shown::Event(event) => {
                    let node = *nodes.entry(event).or_insert_with(|| {
                        let kind = if event == first || event == second {
                            NodeKind::Finding
                        } else {
                            NodeKind::Event
                        };
                        graph.node(kind, event_label(trace, event.index()))
                    });
                    (Some(event), node)
                }
                Shown::Elided(count) => (
                    None,
                    graph.node(NodeKind::Elided, format!("… {count} events …")),
                ),
            };
            if let Some((from_event, from)) = previous {
                let kind = match from_event
                    .zip(event)
                    .and_then(|(a, b)| hb.edge_between(a, b))
                {
                    Some(Edge::ProgramOrder) | None => EdgeKind::ProgramOrder,
                    Some(Edge::Spawn | Edge::Join) => EdgeKind::SpawnOrJoin,
                    Some(Edge::Synchronises) => EdgeKind::Synchronises,
                };
                if !graph
                    .edges
                    .iter()
                    .any(|edge| edge.from == from && edge.to == node)
                {
                    graph.edge(from, node, kind, String::new());
                }
            }
            previous = Some((event, node));
        }
    }
    graph.edge(
        nodes[&first],
        nodes[&second],
        EdgeKind::Unordered,
        "unordered: a race".to_string(),
    );
    graph
}

/// What each task waits for: its last event, a block.
fn blocked_targets(trace: &Trace, tasks: &[TaskId]) -> Vec<(TaskId, WaitTarget)> {
    tasks
        .iter()
        .filter_map(|&task| {
            let last = trace.events.iter().rev().find(|event| event.task == task)?;
            Some((task, last.op.waits_for()?))
        })
        .collect()
}

/// The last event of `task` that took `object`.
fn taken_at(trace: &Trace, task: TaskId, object: ObjectId) -> Option<usize> {
    trace.events.iter().rposition(|event| {
        let op = event.op;
        event.task == task && op.object() == Some(object) && op.holding().taken().is_some()
    })
}

/// The last block event of `task`.
fn wait_event(trace: &Trace, task: TaskId) -> Option<usize> {
    trace
        .events
        .iter()
        .rposition(|event| event.task == task && event.op.waits_for().is_some())
}

fn deadlock_graph(trace: &Trace, deadlock: &Deadlock) -> FindingGraph {
    let in_cycle: Vec<TaskId> = deadlock.cycle.iter().map(|wait| wait.task).collect();
    let mut tasks = in_cycle.clone();
    tasks.extend(deadlock.blocked_behind.iter().map(|wait| wait.task));
    let blocked = blocked_targets(trace, &tasks);
    let mut stuck = stuck_tasks(
        trace,
        &ExecutionEnd {
            blocked,
            ..ExecutionEnd::default()
        },
    );
    // The trace does not say who held a channel's ends; the finding does.
    for entry in &mut stuck {
        let waits = deadlock.cycle.iter().chain(&deadlock.blocked_behind);
        if let Some(wait) = waits.into_iter().find(|wait| wait.task == entry.task) {
            entry.wakers.clone_from(&wait.wakers);
        }
    }
    let mut graph = FindingGraph::default();
    let mut task_nodes: BTreeMap<TaskId, usize> = BTreeMap::new();
    for &task in &tasks {
        let kind = if in_cycle.contains(&task) {
            NodeKind::Finding
        } else {
            NodeKind::Task
        };
        task_nodes.insert(
            task,
            graph.node(kind, format!("'{}'", trace.task_label(task))),
        );
    }
    draw_waits(trace, &stuck, &mut graph, &mut task_nodes);
    graph
}

/// Each stuck task's wait: task → object → holders (and the tasks queued
/// ahead), or task → the task it joins; objects drawn once.
fn draw_waits(
    trace: &Trace,
    stuck: &[StuckTask],
    graph: &mut FindingGraph,
    task_nodes: &mut BTreeMap<TaskId, usize>,
) {
    let mut object_nodes: BTreeMap<ObjectId, usize> = BTreeMap::new();
    for entry in stuck {
        let waiter = task_nodes[&entry.task];
        let at = wait_event(trace, entry.task).map_or(String::new(), |index| {
            let event = &trace.events[index];
            format!("at {} (step {})", site(event.location), event.step)
        });
        let object = match entry.target {
            WaitTarget::Object(object) => object,
            WaitTarget::Task(target) => {
                let target = task_node(trace, graph, task_nodes, target);
                graph.edge(waiter, target, EdgeKind::WaitsFor, format!("joins it {at}"));
                continue;
            }
            WaitTarget::Untracked => continue,
        };
        let new = !object_nodes.contains_key(&object);
        let node = *object_nodes
            .entry(object)
            .or_insert_with(|| graph.node(NodeKind::Object, trace.object_label(object)));
        graph.edge(waiter, node, EdgeKind::WaitsFor, format!("waits {at}"));
        if !new {
            continue;
        }
        for &holder in &entry.holders {
            let label = taken_at(trace, holder, object).map_or(String::new(), |index| {
                let event = &trace.events[index];
                format!("taken at {} (step {})", site(event.location), event.step)
            });
            let holder = task_node(trace, graph, task_nodes, holder);
            graph.edge(node, holder, EdgeKind::HeldBy, label);
        }
        for &ahead in &entry.queued_ahead {
            let ahead = task_node(trace, graph, task_nodes, ahead);
            graph.edge(
                node,
                ahead,
                EdgeKind::QueuedAhead,
                "served first".to_string(),
            );
        }
        let end = match entry.need {
            Need::Slot => "takes from it",
            _ => "sends on it",
        };
        for &waker in &entry.wakers {
            let waker = task_node(trace, graph, task_nodes, waker);
            graph.edge(node, waker, EdgeKind::OtherEnd, end.to_string());
        }
    }
}

/// The node of `task`, added if the picture does not have one yet.
fn task_node(
    trace: &Trace,
    graph: &mut FindingGraph,
    task_nodes: &mut BTreeMap<TaskId, usize>,
    task: TaskId,
) -> usize {
    *task_nodes
        .entry(task)
        .or_insert_with(|| graph.node(NodeKind::Task, format!("'{}'", trace.task_label(task))))
}

fn hang_graph(trace: &Trace, hang: &Hang) -> FindingGraph {
    let tasks: Vec<TaskId> = hang.waits.iter().map(|wait| wait.task).collect();
    let mut graph = FindingGraph::default();
    for (task, target) in blocked_targets(trace, &tasks) {
        let Some(wait) = wait_event(trace, task) else {
            continue;
        };
        let wait_node = graph.node(NodeKind::Finding, event_label(trace, wait));
        let WaitTarget::Object(object) = target else {
            if let WaitTarget::Task(target) = target {
                let target = graph.node(NodeKind::Task, format!("'{}'", trace.task_label(target)));
                graph.edge(
                    wait_node,
                    target,
                    EdgeKind::WaitsFor,
                    "joins it".to_string(),
                );
            }
            continue;
        };
        let object_node = graph.node(NodeKind::Object, trace.object_label(object));
        graph.edge(
            wait_node,
            object_node,
            EdgeKind::WaitsFor,
            "waits, for good".to_string(),
        );
        draw_early_event(trace, &mut graph, task, object, wait, wait_node);
        draw_holders(trace, &mut graph, task, object, object_node);
    }
    graph
}

/// The last operation of another task on `object` before `task` waited
/// there: it came first and woke nobody; then what `task` did to the
/// object in between, and the other task's exit.
fn draw_early_event(
    trace: &Trace,
    graph: &mut FindingGraph,
    task: TaskId,
    object: ObjectId,
    wait: usize,
    wait_node: usize,
) {
    let Some(early) = trace.events[..wait].iter().rposition(|event| {
        let op = event.op;
        event.task != task && op.object() == Some(object) && op.waits_for().is_none()
    }) else {
        return;
    };
    let early_node = graph.node(NodeKind::CameFirst, event_label(trace, early));
    let mut previous = early_node;
    for index in early + 1..wait {
        let event = &trace.events[index];
        if event.task == task && event.op.object() == Some(object) {
            let node = graph.node(NodeKind::Event, event_label(trace, index));
            graph.edge(previous, node, EdgeKind::Then, "then".to_string());
            previous = node;
        }
    }
    graph.edge(
        previous,
        wait_node,
        EdgeKind::Then,
        "then, the wait: nobody wakes it".to_string(),
    );
    let waker = trace.events[early].task;
    if let Some(finish) = trace
        .events
        .iter()
        .rposition(|event| event.task == waker && event.op.touch() == Touch::Finish)
    {
        let exit = graph.node(NodeKind::Event, event_label(trace, finish));
        graph.edge(
            early_node,
            exit,
            EdgeKind::ProgramOrder,
            "exits without waking it".to_string(),
        );
    }
}

/// The tasks that hold `object` at the end (a lock or permits a finished
/// task never gave back).
fn draw_holders(
    trace: &Trace,
    graph: &mut FindingGraph,
    task: TaskId,
    object: ObjectId,
    object_node: usize,
) {
    let blocked = vec![(task, WaitTarget::Object(object))];
    let stuck = stuck_tasks(
        trace,
        &ExecutionEnd {
            blocked,
            ..ExecutionEnd::default()
        },
    );
    for &holder in stuck.iter().flat_map(|entry| &entry.holders) {
        let label = match taken_at(trace, holder, object) {
            Some(index) => format!(
                "taken at {} (step {})",
                site(trace.events[index].location),
                trace.events[index].step
            ),
            None => String::new(),
        };
        let node = graph.node(NodeKind::Task, format!("'{}'", trace.task_label(holder)));
        graph.edge(object_node, node, EdgeKind::HeldBy, label);
    }
}

fn lock_order_graph(cycle: &[LockOrderEdge]) -> FindingGraph {
    let mut graph = FindingGraph::default();
    let mut locks: BTreeMap<&str, usize> = BTreeMap::new();
    for edge in cycle {
        for name in [&edge.held, &edge.acquired] {
            if !locks.contains_key(name.as_str()) {
                locks.insert(name, graph.node(NodeKind::Object, name.clone()));
            }
        }
        graph.edge(
            locks[edge.held.as_str()],
            locks[edge.acquired.as_str()],
            EdgeKind::LockOrder,
            format!(
                "'{}' holds it (taken at {})\nand takes the next at {}",
                edge.task_name,
                site(edge.held_at),
                site(edge.acquired_at)
            ),
        );
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_keep_the_last_two_path_components() {
        let location = Location::caller();
        assert_eq!(
            site(location),
            format!("src/picture.rs:{}:{}", location.line(), location.column())
        );
        assert_eq!(site(Location::ROOT_TASK), Location::ROOT_TASK.file());
    }
}
