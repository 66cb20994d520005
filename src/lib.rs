//! crowdtwin: a digital-twin testbed for privacy-preserving AI video surveillance.
//!
//! The binary is a thin CLI over this library; [`pipeline::run`] is the driver that reads
//! top-down as a frame's whole path: source → masking → anomaly + alerts + storage →
//! recording ([`stages`]), then the run's files ([`report`]).

pub mod bench;
pub mod compare;
pub mod coverage;
pub mod crowd;
pub mod dataset;
pub mod eval;
pub mod frames;
pub mod output;
pub mod pipeline;
pub mod place;
pub mod recorder;
pub mod report;
pub mod scenario;
pub mod stages;

use std::path::{Path, PathBuf};

/// Resolves a project file (e.g. `models/nanodet.ron`): as given when it exists, else the
/// nearest one above the working directory or the executable, else beside the sources.
pub fn project_file(relative: &Path) -> PathBuf {
    if relative.exists() || relative.is_absolute() {
        return relative.to_path_buf();
    }
    crowdtwin_core::paths::find_in_ancestors(relative).unwrap_or_else(|| {
        let beside_sources = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
        if beside_sources.exists() { beside_sources } else { relative.to_path_buf() }
    })
}

#[cfg(test)]
mod module_graph {
    //! The CLI crate's modules form no import circle: a module's dependencies are the other
    //! top-level modules its code (not its comments) names as `crate::NAME` (or inside
    //! `crate::{…}`), read from the sources of `src/NAME.rs` and `src/NAME/`.

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Every top-level module and the sources that belong to it.
    fn modules(src: &Path) -> BTreeMap<String, String> {
        let mut modules = BTreeMap::new();
        for entry in std::fs::read_dir(src).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if matches!(name.as_str(), "lib" | "main") {
                continue;
            }
            let text = if path.is_dir() {
                let mut files: Vec<_> = std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()).collect();
                files.sort();
                files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect::<Vec<_>>().join("\n")
            } else if path.extension().is_some_and(|e| e == "rs") {
                std::fs::read_to_string(&path).unwrap()
            } else {
                continue;
            };
            // Comments may mention any module (doc links); only code makes an edge.
            let code: Vec<&str> = text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect();
            modules.entry(name).or_insert_with(String::new).push_str(&code.join("\n"));
        }
        modules
    }

    /// The identifiers named right after each `crate::`, expanding `crate::{a, b::c}` to a and b.
    pub(super) fn named_after_crate(text: &str) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 0;
                let mut item = String::new();
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            names.insert(ident(item.trim()));
                            item.clear();
                            continue;
                        }
                        _ => {}
                    }
                    if depth == 0 {
                        item.push(c);
                    }
                }
                names.insert(ident(item.trim()));
            } else {
                names.insert(ident(rest));
            }
        }
        names.retain(|n| !n.is_empty());
        names
    }

    fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
        fn visit(node: &str, graph: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
            if let Some(start) = path.iter().position(|n| n == node) {
                let mut circle = path[start..].to_vec();
                circle.push(node.to_string());
                return Some(circle);
            }
            if done.contains(node) {
                return None;
            }
            path.push(node.to_string());
            for next in graph.get(node).into_iter().flatten() {
                if let Some(circle) = visit(next, graph, path, done) {
                    return Some(circle);
                }
            }
            path.pop();
            done.insert(node.to_string());
            None
        }
        let mut done = BTreeSet::new();
        graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
    }

    #[test]
    fn no_module_imports_another_that_imports_it_back() {
        let modules = modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
        assert!(modules.contains_key("pipeline") && modules.contains_key("stages"), "{:?}", modules.keys());
        let graph: BTreeMap<String, BTreeSet<String>> = modules
            .iter()
            .map(|(name, text)| (name.clone(), named_after_crate(text).into_iter().filter(|n| n != name && modules.contains_key(n)).collect()))
            .collect();
        assert_eq!(cycle(&graph), None, "import circle among the CLI's modules; graph: {graph:?}");
        // The driver reaches the stages and the report, and nothing it uses reaches back.
        assert!(graph["pipeline"].contains("stages") && graph["pipeline"].contains("report"), "{graph:?}");
    }

    #[test]
    fn the_check_finds_a_circle_and_reads_grouped_imports() {
        assert_eq!(
            named_after_crate("use crate::{a::{x, y}, b};\nlet v = crate::c::f();"),
            ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
        );
        let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
            .iter()
            .map(|(from, to)| (from.to_string(), [to.to_string()].into_iter().collect()))
            .collect();
        assert_eq!(cycle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    }
}
