//! The architecture's invariants, checked on the source: crates depend on
//! each other in one direction only (the layers of `docs/architecture.md`),
//! and inside each crate no file imports another that imports it back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each crate of the workspace and its layer: a crate may depend only on
/// crates of lower layers.
const LAYERS: &[(&str, u32)] = &[
    ("racecheck-trace", 0),
    ("racecheck-detect", 1),
    ("racecheck-runtime", 1),
    ("racecheck-explore", 2),
    ("racecheck-sync", 2),
    ("racecheck", 3),
    ("racecheck-tokio-macros", 3),
    ("racecheck-programs", 4),
    ("racecheck-scenario", 4),
    ("racecheck-tokio", 4),
    ("racecheck-cli", 5),
    ("racecheck-bench", 5),
    ("racecheck-tokio-util", 5),
];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates")
}

/// The racecheck crates `manifest` lists under `[dependencies]`.
fn racecheck_dependencies(manifest: &str) -> Vec<String> {
    let mut in_dependencies = false;
    let mut found = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("");
        if in_dependencies && name.starts_with("racecheck") {
            found.push(name.to_string());
        }
    }
    found
}

#[test]
fn crates_depend_on_lower_layers_only() {
    let layer: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut checked = 0;
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let directory = entry.unwrap().path();
        let manifest = std::fs::read_to_string(directory.join("Cargo.toml")).unwrap();
        let name = directory.file_name().unwrap().to_str().unwrap().to_string();
        let own = *layer
            .get(name.as_str())
            .unwrap_or_else(|| panic!("crate {name} has no layer in LAYERS: add it"));
        for dependency in racecheck_dependencies(&manifest) {
            let theirs = layer[dependency.as_str()];
            assert!(
                theirs < own,
                "{name} (layer {own}) depends on {dependency} (layer {theirs})"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, LAYERS.len(), "every crate is checked");
}

/// The top-level modules of a crate's `src/`, by file stem (`lib` for the
/// crate root; a folder module's files count as the module).
fn modules(source: &Path) -> BTreeMap<String, String> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let text = if path.is_dir() {
            let mut text = String::new();
            for file in std::fs::read_dir(&path).unwrap() {
                text += &std::fs::read_to_string(file.unwrap().path()).unwrap();
            }
            text
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            std::fs::read_to_string(&path).unwrap()
        } else {
            continue;
        };
        modules
            .entry(stem)
            .or_insert_with(String::new)
            .push_str(&text);
    }
    modules
}

/// Names the crate root re-exports, with the module each comes from
/// (`pub use module::{A, B};`).
fn reexports(root: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for statement in root.split(';') {
        let statement = statement.trim();
        let Some(path) = statement.strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, items)) = path.split_once("::") else {
            continue;
        };
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let item = item.trim().rsplit("::").next().unwrap_or("").trim();
            names.insert(item.to_string(), module.trim().to_string());
        }
    }
    names
}

/// The modules `text` refers to through `crate::`.
fn references(
    text: &str,
    modules: &BTreeSet<String>,
    reexported: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            group[..end].split(',').map(str::trim).collect()
        } else {
            vec![rest]
        };
        for name in names {
            let first: String = name
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if modules.contains(&first) {
                found.insert(first);
            } else if let Some(module) = reexported.get(&first) {
                found.insert(module.clone());
            }
        }
    }
    found
}

/// A cycle in `graph`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|step| step == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if !done.insert(node.to_string()) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    for (name, _) in LAYERS {
        let source = crates_dir().join(name).join("src");
        let mut modules = modules(&source);
        let root = modules
            .remove("lib")
            .or_else(|| modules.remove("main"))
            .unwrap_or_default();
        let names: BTreeSet<String> = modules.keys().cloned().collect();
        let reexported = reexports(&root);
        let graph: BTreeMap<String, BTreeSet<String>> = modules
            .iter()
            .map(|(module, text)| {
                let mut refers = references(text, &names, &reexported);
                refers.remove(module);
                (module.clone(), refers)
            })
            .collect();
        if let Some(cycle) = cycle(&graph) {
            panic!(
                "{name}: files import each other in a circle: {}",
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_import_check_sees_a_circle() {
    let names: BTreeSet<String> = ["a", "b"].map(String::from).into();
    let reexported = reexports("pub use b::{Thing, Other};");
    let graph: BTreeMap<String, BTreeSet<String>> = [
        (
            "a".to_string(),
            references("use crate::{Thing};", &names, &reexported),
        ),
        (
            "b".to_string(),
            references("fn f() { crate::a::g() }", &names, &reexported),
        ),
    ]
    .into();
    assert_eq!(
        cycle(&graph),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
}
