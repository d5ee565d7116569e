//! The server's top-level modules depend on one another in one direction only.
//!
//! Every `crate::<module>` path in a source file under `src/` is an edge from the file's
//! top-level module (`src/scim/users.rs` belongs to `scim`) to `<module>`. The graph of those
//! edges must have no cycle, and the router (`app`) may be imported by the CLI alone, so a
//! handler can never reach back into the module that routes to it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crate roots: they declare the modules, so they are no module of their own.
const ROOTS: &[&str] = &["lib.rs", "main.rs"];

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `scim` for `src/scim/users.rs` and `src/scim/mod.rs`, `state` for `src/state.rs`.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative
        .components()
        .next()?
        .as_os_str()
        .to_str()?
        .to_string();
    if ROOTS.contains(&first.as_str()) {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_string())
}

/// The modules a source text names as `crate::<module>`, in paths and in `use` groups
/// (`use crate::{api, scim};`). Comments are skipped.
fn referenced_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
            rest = after;
        }
    }
    out
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_module(&src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for file in &files {
        let Some(from) = top_module(&src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for to in referenced_modules(&text) {
            // Re-exports of the crate root (`crate::AppState`) are not modules.
            if to != from && modules.contains(&to) {
                graph.get_mut(&from).unwrap().insert(to);
            }
        }
    }
    graph
}

/// A cycle of `graph` as the path that closes it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unvisited,
        OnPath,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_string(), Mark::OnPath);
        path.push(node.to_string());
        for next in &graph[node] {
            match marks[next.as_str()] {
                Mark::OnPath => {
                    let start = path.iter().position(|n| n == next).unwrap();
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::Unvisited => {
                    if let Some(cycle) = visit(next, graph, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks: BTreeMap<String, Mark> =
        graph.keys().map(|k| (k.clone(), Mark::Unvisited)).collect();
    for node in graph.keys() {
        if marks[node.as_str()] == Mark::Unvisited {
            if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

#[test]
fn the_top_level_modules_import_one_another_without_a_cycle() {
    let graph = module_graph();
    for expected in [
        "state", "http", "scim", "api", "saml", "console", "cli", "app",
    ] {
        assert!(
            graph.contains_key(expected),
            "no module {expected}: {graph:?}"
        );
    }
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}\ngraph: {graph:#?}", cycle.join(" → "));
    }
}

#[test]
fn only_the_cli_imports_the_router() {
    for (from, to) in module_graph() {
        assert!(
            !to.contains("app") || from == "cli",
            "{from} imports the router (app)"
        );
    }
}

#[test]
fn state_and_http_import_no_surface() {
    let graph = module_graph();
    let surfaces = ["scim", "api", "saml", "console", "cli", "app", "health"];
    for lower in ["state", "http"] {
        for surface in surfaces {
            assert!(
                !graph[lower].contains(surface),
                "{lower} imports {surface}: {:?}",
                graph[lower]
            );
        }
    }
    assert!(!graph["http"].contains("state"), "http imports state");
}

#[test]
fn the_checker_sees_a_cycle_and_grouped_imports() {
    let refs =
        referenced_modules("use crate::{api, scim::x};\nlet a = crate::state::X; // crate::cli");
    assert_eq!(
        refs,
        ["api", "scim", "state"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".to_string(), "b".to_string(), "a".to_string()])
    );
}
