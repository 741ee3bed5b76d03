//! The picture of every kind of finding (`racecheck::detect::finding_graph`):
//! the nodes and edges that must be there, and the legend.

use racecheck::detect::{finding_graph, EdgeKind, FindingGraph, NodeKind, PATH_EVENTS_MAX};
mod finding_programs;

use racecheck::sync::{mpsc, Mutex, Shared};
use racecheck::{Builder, Failure, FailureKind, Finding, PREDICTED_RACE};
use std::collections::BTreeSet;
use std::sync::Arc;

fn graph_of(failure: &Failure) -> FindingGraph {
    let FailureKind::Finding(finding) = &failure.kind else {
        panic!("expected a finding, got {}", failure.kind);
    };
    finding_graph(&failure.trace, finding)
}

fn nodes_of(graph: &FindingGraph, kind: NodeKind) -> Vec<usize> {
    (0..graph.nodes.len())
        .filter(|&node| graph.nodes[node].kind == kind)
        .collect()
}

/// The nodes reachable from `from` along edges of the given kinds.
fn reachable(graph: &FindingGraph, from: usize, kinds: &[EdgeKind]) -> BTreeSet<usize> {
    let mut found = BTreeSet::from([from]);
    let mut work = vec![from];
    while let Some(node) = work.pop() {
        for edge in &graph.edges {
            if edge.from == node && kinds.contains(&edge.kind) && found.insert(edge.to) {
                work.push(edge.to);
            }
        }
    }
    found
}

/// Every kind the picture uses is explained in its DOT legend.
fn assert_legend(graph: &FindingGraph) {
    let dot = graph.to_dot();
    let legend = dot
        .lines()
        .find(|line| line.contains("legend ["))
        .expect("a legend");
    let (nodes, edges) = graph.legend();
    assert!(!nodes.is_empty() && !edges.is_empty());
    for meaning in nodes
        .iter()
        .map(|kind| kind.meaning())
        .chain(edges.iter().map(|kind| kind.meaning()))
    {
        assert!(legend.contains(meaning), "{meaning} missing from {legend}");
    }
}

#[test]
fn a_race_shows_both_paths_from_the_common_spawn_to_the_two_accesses() {
    let failure = finding_programs::race("scraper-1");
    let Finding::Race(race) = (match &failure.kind {
        FailureKind::Finding(finding) => finding.clone(),
        other => panic!("expected a race, got {other}"),
    }) else {
        panic!("expected a race");
    };
    let graph = graph_of(&failure);
    let accesses = nodes_of(&graph, NodeKind::Finding);
    assert_eq!(accesses.len(), 2);
    let unordered: Vec<_> = graph
        .edges
        .iter()
        .filter(|edge| edge.kind == EdgeKind::Unordered)
        .collect();
    assert_eq!(unordered.len(), 1);
    assert_eq!(
        BTreeSet::from([unordered[0].from, unordered[0].to]),
        BTreeSet::from_iter(accesses.clone())
    );
    // One node, a spawn, from which happens-before paths reach both accesses.
    let ordering = [
        EdgeKind::ProgramOrder,
        EdgeKind::SpawnOrJoin,
        EdgeKind::Synchronises,
    ];
    let roots: Vec<usize> = (0..graph.nodes.len())
        .filter(|&node| {
            !graph
                .edges
                .iter()
                .any(|edge| edge.to == node && ordering.contains(&edge.kind))
        })
        .collect();
    assert_eq!(roots.len(), 1, "{graph:#?}");
    assert!(graph.nodes[roots[0]].label.contains("spawn scraper-"));
    let from_root = reachable(&graph, roots[0], &ordering);
    assert!(accesses.iter().all(|access| from_root.contains(access)));
    // The second task's path goes through its own read before its write.
    let second_task = format!("'{}'", race.second.task_name);
    assert!(
        graph
            .nodes
            .iter()
            .any(|node| node.label.contains(&second_task)
                && node.label.contains("read Shared 'rows'")),
        "{graph:#?}"
    );
    assert_legend(&graph);
}

#[test]
fn a_race_in_a_harmless_execution_says_it_was_predicted() {
    let failure = finding_programs::two_writers(false);
    assert!(failure.is_predicted_race());
    assert!(failure.to_string().contains(PREDICTED_RACE), "{failure}");

    let failure = finding_programs::two_writers(true);
    assert!(
        matches!(failure.also[..], [FailureKind::Panic { .. }]),
        "{failure}"
    );
    assert!(!failure.is_predicted_race());
    assert!(!failure.to_string().contains(PREDICTED_RACE), "{failure}");
}

#[test]
fn the_dining_philosophers_deadlock_is_one_closed_cycle_of_ten() {
    let failure = finding_programs::deadlock();
    let graph = graph_of(&failure);
    let philosophers = nodes_of(&graph, NodeKind::Finding);
    let forks = nodes_of(&graph, NodeKind::Object);
    assert_eq!((philosophers.len(), forks.len()), (5, 5), "{graph:#?}");
    // Follow waits-for and held-by from one philosopher: every node of the
    // cycle once, and back to the start after ten edges.
    let start = philosophers[0];
    let mut at = start;
    let mut visited = Vec::new();
    for _ in 0..10 {
        let next: Vec<_> = graph
            .edges
            .iter()
            .filter(|edge| edge.from == at)
            .filter(|edge| matches!(edge.kind, EdgeKind::WaitsFor | EdgeKind::HeldBy))
            .collect();
        assert_eq!(next.len(), 1, "one way on from {}", graph.nodes[at].label);
        visited.push(at);
        at = next[0].to;
    }
    assert_eq!(at, start, "the cycle closes");
    let mut sorted = visited.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 10);
    // Each fork says where its holder took it.
    for edge in graph.edges.iter().filter(|e| e.kind == EdgeKind::HeldBy) {
        assert!(edge.label.contains("taken at") && edge.label.contains("finding_programs/mod.rs:"));
    }
    assert_legend(&graph);
}

#[test]
fn a_deadlock_through_a_channel_closes_at_the_sender_it_waits_for() {
    let report =
        Builder::new().iterations(1).run(|| async {
            let (results, mut inbox) = mpsc::unbounded_channel::<u32>();
            let collector = racecheck::spawn_named("collector", async move {
                while inbox.recv().await.is_some() {}
            });
            results.send(1).unwrap();
            collector.await; // still holding `results`
        });
    let graph = graph_of(&report.failure.expect("a deadlock"));
    let tasks = nodes_of(&graph, NodeKind::Finding);
    let channel = nodes_of(&graph, NodeKind::Object);
    assert_eq!((tasks.len(), channel.len()), (2, 1), "{graph:#?}");
    // main joins the collector, which waits on the channel, whose sender
    // main holds.
    let cycle = [EdgeKind::WaitsFor, EdgeKind::OtherEnd];
    for &task in &tasks {
        assert_eq!(reachable(&graph, task, &cycle).len(), 3, "{graph:#?}");
    }
    let other_end: Vec<_> = graph
        .edges
        .iter()
        .filter(|edge| edge.kind == EdgeKind::OtherEnd)
        .map(|edge| {
            (
                edge.from,
                graph.nodes[edge.to].label.as_str(),
                edge.label.as_str(),
            )
        })
        .collect();
    assert_eq!(other_end, [(channel[0], "'main'", "sends on it")]);
    assert_legend(&graph);
}

#[test]
fn a_lost_wakeup_shows_the_set_that_came_before_the_wait() {
    let failure = finding_programs::lost_wakeup();
    let graph = graph_of(&failure);
    let early = nodes_of(&graph, NodeKind::CameFirst);
    assert_eq!(early.len(), 1, "{graph:#?}");
    let label = &graph.nodes[early[0]].label;
    assert!(label.contains("'producer'") && label.contains("set Event 'ready'"));
    let waits: Vec<usize> = nodes_of(&graph, NodeKind::Finding)
        .into_iter()
        .filter(|&node| graph.nodes[node].label.contains("'consumer'"))
        .collect();
    assert_eq!(waits.len(), 1);
    // The early set, then the consumer's clear, then its wait.
    let after_set = reachable(&graph, early[0], &[EdgeKind::Then]);
    assert!(after_set.contains(&waits[0]));
    assert!(after_set
        .iter()
        .any(|&node| graph.nodes[node].label.contains("clear Event 'ready'")));
    // The producer then exits without waking it.
    assert!(graph.edges.iter().any(|edge| edge.from == early[0]
        && edge.label.contains("exits without waking it")
        && graph.nodes[edge.to].label.contains("finish")));
    assert!(graph.edges.iter().any(|edge| edge.from == waits[0]
        && edge.kind == EdgeKind::WaitsFor
        && graph.nodes[edge.to].label == "Event 'ready'"));
    assert_legend(&graph);
}

#[test]
fn a_potential_deadlock_draws_the_lock_order_cycle_with_a_site_per_edge() {
    let report = Builder::new().iterations(1).run(|| async {
        let (a, b) = (
            Arc::new(Mutex::named("a", ())),
            Arc::new(Mutex::named("b", ())),
        );
        let forward = {
            let (a, b) = (a.clone(), b.clone());
            racecheck::spawn_named("a-then-b", async move {
                let _a = a.lock().await;
                let _b = b.lock().await;
            })
        };
        forward.await;
        let _b = b.lock().await;
        let _a = a.lock().await;
    });
    let finding = report
        .warnings
        .iter()
        .find(|warning| matches!(warning, Finding::PotentialDeadlock(_)))
        .expect("a potential deadlock");
    let graph = finding_graph(&racecheck::Trace::default(), finding);
    let locks = nodes_of(&graph, NodeKind::Object);
    assert_eq!(locks.len(), 2);
    let orders: Vec<_> = graph
        .edges
        .iter()
        .filter(|edge| edge.kind == EdgeKind::LockOrder)
        .collect();
    assert_eq!(orders.len(), 2);
    assert_eq!(
        reachable(&graph, locks[0], &[EdgeKind::LockOrder]).len(),
        2,
        "each lock leads to the other"
    );
    assert!(reachable(&graph, locks[1], &[EdgeKind::LockOrder]).contains(&locks[0]));
    for edge in orders {
        assert!(edge.label.contains("pictures.rs:"), "{}", edge.label);
    }
    assert_legend(&graph);
}

#[test]
fn a_leak_names_its_holder_and_where_it_took_the_lock() {
    let failure = finding_programs::leak();
    let graph = graph_of(&failure);
    assert_eq!(nodes_of(&graph, NodeKind::Object).len(), 1);
    let held: Vec<_> = graph
        .edges
        .iter()
        .filter(|edge| edge.kind == EdgeKind::HeldBy)
        .collect();
    assert_eq!(held.len(), 1);
    assert!(held[0].label.contains("finding_programs/mod.rs:"));
    assert_legend(&graph);
}

#[test]
fn a_long_path_to_an_access_is_elided_in_the_middle() {
    const BUSY: usize = 30;
    let report = Builder::new().iterations(1).run(|| async {
        let rows = Arc::new(Shared::named("rows", 0));
        let writer = {
            let rows = rows.clone();
            racecheck::spawn_named("writer", async move {
                let scratch = Shared::named("scratch", 0);
                for _ in 0..BUSY {
                    scratch.load().await;
                }
                rows.store(1).await;
            })
        };
        rows.store(2).await;
        writer.await;
    });
    let failure = report.failure.expect("a race");
    let graph = graph_of(&failure);
    let elided = nodes_of(&graph, NodeKind::Elided);
    assert_eq!(elided.len(), 1, "{graph:#?}");
    // The writer's path: the spawn, 30 reads, the write; 16 shown.
    let hidden = BUSY + 2 - PATH_EVENTS_MAX;
    assert_eq!(graph.nodes[elided[0]].label, format!("… {hidden} events …"));
    assert!(graph.nodes.len() <= 2 * PATH_EVENTS_MAX + 1);
    assert_eq!(nodes_of(&graph, NodeKind::Finding).len(), 2);
}
