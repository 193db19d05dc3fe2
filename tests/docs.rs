//! The documentation's graphs are real: every complete graph in a ```ron block of the README and of
//! docs/*.md passes `drape check` against the bundled model (names of directions included), and the
//! ApplyDirection examples name directions the bundled model has.

mod support;

use std::path::Path;

use support::{drape, root, text};

/// The ```ron blocks of a Markdown file.
fn ron_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```ron") => current = Some(String::new()),
            (Some(block), l) if l.starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

fn documents() -> Vec<std::path::PathBuf> {
    let mut files = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "md") {
            files.push(entry.path());
        }
    }
    files.sort();
    files
}

#[test]
fn every_documented_graph_checks_against_the_bundled_model() {
    let project = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root().join("models"), project.path().join("models")).unwrap();
    std::fs::create_dir_all(project.path().join("graphs")).unwrap();
    let mut checked = 0;
    for doc in documents() {
        let markdown = std::fs::read_to_string(&doc).unwrap();
        for (i, block) in ron_blocks(&markdown).into_iter().enumerate() {
            if !block.lines().any(|l| l.trim_start().starts_with("Graph(")) {
                continue;
            }
            let name = format!(
                "{}-{i}.ron",
                doc.file_stem().unwrap().to_string_lossy().to_lowercase()
            );
            let path = Path::new("graphs").join(&name);
            std::fs::write(project.path().join(&path), &block).unwrap();
            let out = drape(&["check", path.to_str().unwrap()], project.path());
            assert!(
                out.status.success(),
                "{} block {i}:\n{block}\n{}",
                doc.display(),
                text(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "only {checked} documented graphs found");
}

#[test]
fn documented_direction_edits_name_directions_of_the_bundled_model() {
    let named = std::fs::read_to_string(root().join("models/clothing/directions.ron")).unwrap();
    let mut found = 0;
    for doc in documents() {
        let markdown = std::fs::read_to_string(&doc).unwrap();
        for piece in markdown.split("(direction: \"").skip(1) {
            found += 1;
            let name = piece.split('"').next().unwrap();
            assert!(
                named.contains(&format!("name: \"{name}\"")),
                "{} uses direction \"{name}\", which models/clothing does not have",
                doc.display()
            );
        }
    }
    assert!(found >= 3, "only {found} documented direction edits found");
}
