//! The documentation's graphs are real: every complete graph in a ```ron block of the README and of
//! docs/*.md passes `drape check` against the bundled model (names of directions included), and the
//! ApplyDirection examples name directions the bundled model has; every documented `drape` command runs
//! (or, for long-running ones and files of the reader's own, passes the argument parser).

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

/// The `drape …` command lines of the README and docs/*.md (indented code, comments cut), in order.
fn documented_commands() -> Vec<(String, String)> {
    let mut commands = Vec::new();
    for doc in documents() {
        let markdown = std::fs::read_to_string(&doc).unwrap();
        let name = doc.file_name().unwrap().to_string_lossy().into_owned();
        for line in markdown.lines().filter(|l| l.starts_with("    ")) {
            let code = line.split(" # ").next().unwrap().trim();
            // `bash scripts/install.sh && drape run …`: the drape part.
            let drape = code.rsplit("&& ").next().unwrap().trim();
            if drape.starts_with("drape ") {
                commands.push((name.clone(), drape.to_string()));
            }
        }
    }
    commands
}

/// Whether a documented command is run for real: quick, and every file it reads exists by then
/// (earlier commands make some); the others (watch, bench, batches of thousands, discovery over
/// 100,000 samples, files of the reader's own) are checked by the argument parser only. Run with
/// `--nocapture` to see which is which.
fn runs_for_real(command: &str, project: &Path) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    let quick = matches!(
        words.get(1..3),
        Some(
            ["run", _]
                | ["check", _]
                | ["recipe", _]
                | ["nodes", _]
                | ["directions", "list" | "gallery"]
        )
    ) || words.len() <= 2;
    let files_exist = words
        .iter()
        .filter(|w| w.ends_with(".png") || w.ends_with(".npz"))
        .filter(|w| !w.contains("out/") || w.starts_with("graphs/out/"))
        .all(|w| project.join(w).exists());
    quick
        && files_exist
        && !many_designs(command)
        && !matches!(words.get(1), Some(&"watch" | &"bench"))
}

/// True when the command asks for a batch of thousands (a seed range `"A..B"` of more than 1,000).
fn many_designs(command: &str) -> bool {
    command.split('"').any(|piece| {
        piece.split_once("..").is_some_and(|(a, b)| {
            let (a, b) = (a.parse::<u64>(), b.trim_start_matches('=').parse::<u64>());
            matches!((a, b), (Ok(a), Ok(b)) if b.saturating_sub(a) > 1000)
        })
    })
}

#[test]
fn documented_commands_run_or_parse() {
    let project = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root().join("models"), project.path().join("models")).unwrap();
    std::fs::create_dir_all(project.path().join("graphs")).unwrap();
    for entry in std::fs::read_dir(root().join("graphs")).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "ron") {
            std::fs::copy(
                entry.path(),
                project.path().join("graphs").join(entry.file_name()),
            )
            .unwrap();
        }
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_drape")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (mut ran, mut parsed) = (0, 0);
    for (doc, command) in documented_commands() {
        let real = runs_for_real(&command, project.path());
        let line = if real {
            command.clone()
        } else {
            format!("{command} --help")
        };
        let out = std::process::Command::new("bash")
            .args(["-c", &line])
            .env("PATH", &path)
            .env("DRAPE_BACKEND", "cpu")
            .current_dir(project.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{doc}: `{line}` failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        eprintln!(
            "{} {doc}: {command}",
            if real { "ran   " } else { "parsed" }
        );
        if real {
            ran += 1;
        } else {
            parsed += 1;
        }
    }
    assert!(
        ran >= 15 && parsed >= 5,
        "ran {ran} and parsed {parsed} documented commands"
    );
}
