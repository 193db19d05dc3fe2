//! The `drape` binary end to end: run writes PNGs carrying their recipe, check lists problems and
//! exits 1, overrides apply, broken weights give one clear error, and the node catalogue and its
//! Markdown copy in docs/ agree.

mod support;

use std::path::Path;

use support::outputs::{decode_png, png_pixels};
use support::{cache_graph_project, drape, root, text};

#[test]
fn run_writes_pngs_with_the_graph_embedded() {
    let dir = cache_graph_project();
    let out = drape(
        &[
            "run",
            "graphs/cache.ron",
            "--timings",
            "--set",
            "w.truncation=0.5",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("wrote graphs/out/design-42.png"),
        "{stdout}"
    );
    assert!(stdout.contains("6 nodes: 6 ran, 0 cached"), "{stdout}");
    assert!(stdout.contains("synthesize"), "timings table: {stdout}");
    let design = decode_png(&dir.path().join("graphs/out/design-42.png"));
    assert_eq!((design.width, design.height), (32, 32));
    let get = |k: &str| design.chunk(k);
    assert_eq!(
        get("drape:graph"),
        std::fs::read_to_string(dir.path().join("graphs/cache.ron")).unwrap()
    );
    assert_eq!(get("drape:design"), "seed 42; truncation=0.5");
    // No temporary files are left beside the outputs.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("graphs/out"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".drape-"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn check_reports_outputs_that_leave_the_graph_folder() {
    let dir = cache_graph_project();
    let graph = std::fs::read_to_string(dir.path().join("graphs/cache.ron")).unwrap();
    let path_line = graph
        .lines()
        .find(|l| l.contains("path:"))
        .expect("a Save path")
        .to_string();
    let start = path_line.find("path:").unwrap();
    let escaping = format!(
        "{}path: \"out/{{seed}}/../../../../x-{{seed}}.png\"),",
        &path_line[..start]
    );
    let edited = graph.replacen(&path_line, &escaping, 1);
    std::fs::write(dir.path().join("graphs/escape.ron"), &edited).unwrap();
    let out = drape(&["check", "graphs/escape.ron"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("writes outside the graph's folder"),
        "{stderr}"
    );
    let run = drape(&["run", "graphs/escape.ron"], dir.path());
    assert_eq!(run.status.code(), Some(1));
    assert!(!dir.path().join("x-42.png").exists());
}

#[test]
fn runtime_errors_point_at_the_offending_value() {
    let dir = cache_graph_project();
    let graph = std::fs::read_to_string(dir.path().join("graphs/cache.ron")).unwrap();
    let fixed = graph.replace("out/design-{seed}.png", "out/design.png");
    std::fs::write(dir.path().join("graphs/fixed.ron"), &fixed).unwrap();
    let (line, text_line) = fixed
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("out/design.png"))
        .unwrap();
    let column = text_line.find("\"out/design.png\"").unwrap() + 1;
    let out = drape(&["run", "graphs/fixed.ron"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("would all be written to"), "{stderr}");
    let at = format!("graphs/fixed.ron:{}:{column}", line + 1);
    assert!(stderr.contains(&at), "expected {at} in {stderr}");
}

#[test]
fn a_parameter_set_twice_is_an_error() {
    let out = drape(
        &[
            "check",
            "tests/graphs/cache.ron",
            "--set",
            "w.truncation=0.5",
            "--set",
            "w.truncation=0.6",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--set gives w.truncation twice (first 0.5, then 0.6)"),
        "{stderr}"
    );
}

#[test]
fn check_lists_every_problem_and_exits_1() {
    let out = drape(
        &[
            "check",
            "tests/bad_graphs/parameter_problems.ron",
            "tests/graphs/cache.ron",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("tests/bad_graphs/parameter_problems.ron:7:26"),
        "{stderr}"
    );
    assert!(stderr.contains("6 errors"), "{stderr}");
    assert!(text(&out.stdout).contains("ok: tests/graphs/cache.ron"));
}

#[test]
fn run_refuses_an_invalid_graph_before_doing_anything() {
    let dir = cache_graph_project();
    let out = drape(
        &["run", "graphs/cache.ron", "--set", "image.noise=loud"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("`loud` is not one of const, random, none"));
    assert!(!dir.path().join("graphs/out").exists());
}

#[test]
fn a_corrupt_weights_file_is_one_clear_error_with_a_failing_exit() {
    let dir = cache_graph_project();
    let weights = dir.path().join("fixtures/rect-32px/generator.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let out = drape(&["run", "graphs/cache.ron"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("generator.safetensors"), "{stderr}");
    assert!(
        stderr.contains("graphs/cache.ron:"),
        "located at the node: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_catalogue_lists_every_node_and_docs_nodes_md_is_current() {
    let out = drape(&["nodes"], &root());
    assert!(out.status.success());
    let list = text(&out.stdout);
    for name in ["sample-latent", "map", "synthesize", "grid", "save"] {
        assert!(list.contains(name), "{name} missing from {list}");
    }
    let detail = drape(&["nodes", "Map"], &root());
    assert!(text(&detail.stdout).contains("truncation"));
    let unknown = drape(&["nodes", "mapp"], &root());
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("did you mean Map"));

    let markdown = text(&drape(&["nodes", "--markdown"], &root()).stdout);
    let committed = std::fs::read_to_string(root().join("docs/nodes.md")).unwrap_or_default();
    assert!(
        committed == markdown,
        "docs/nodes.md is stale: run `cargo run -- nodes --markdown > docs/nodes.md`"
    );
}

/// A project folder with a copy of the example graphs; `models` links to the repository's, so the
/// examples' `../models/clothing` stays valid while outputs go to the temp dir.
fn example_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink(root().join("models"), dir.path().join("models"))
        .expect("link models");
    std::fs::create_dir_all(dir.path().join("graphs")).unwrap();
    dir
}

/// Every PNG under `dir`, relative to it, sorted.
fn pngs_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "png") {
                found.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

/// Runs every example graph on the native CPU backend and on the WGSL path (on `DRAPE_ADAPTER`, else
/// lavapipe): both succeed, print nothing on stderr, and write the same PNGs within one 8-bit level.
#[test]
fn every_example_graph_runs_alike_on_both_backends() {
    let adapter = std::env::var("DRAPE_ADAPTER").unwrap_or_else(|_| "llvmpipe".into());
    let cpu = example_project();
    let gpu = example_project();
    let mut ran = 0;
    for entry in std::fs::read_dir(root().join("graphs")).expect("graphs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "ron") {
            continue;
        }
        let name = path.file_name().unwrap();
        let shown = Path::new("graphs").join(name);
        for (project, backend) in [
            (&cpu, vec!["--backend", "cpu"]),
            (
                &gpu,
                vec!["--backend", "gpu", "--adapter", adapter.as_str()],
            ),
        ] {
            std::fs::copy(&path, project.path().join("graphs").join(name)).unwrap();
            let mut args = vec!["run", shown.to_str().unwrap(), "-v"];
            args.extend(&backend);
            let out = drape(&args, project.path());
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            assert!(
                out.status.success(),
                "{}: {stdout}{stderr}",
                shown.display()
            );
            assert!(
                stdout.contains("wrote "),
                "{} wrote nothing",
                shown.display()
            );
            // -v lists each node's status on stderr; nothing else may appear there.
            let stray: Vec<&str> = stderr
                .lines()
                .filter(|l| {
                    !["ran ", "cached "]
                        .iter()
                        .any(|s| l.trim_start().starts_with(s))
                })
                .collect();
            assert!(
                stray.is_empty(),
                "{} {backend:?} printed on stderr: {stray:?}",
                shown.display()
            );
            let expected = if backend[1] == "cpu" {
                "backend: cpu (native"
            } else {
                "backend: gpu: "
            };
            assert!(stdout.contains(expected), "{stdout}");
        }
        ran += 1;
    }
    assert!(ran >= 2, "the example graphs were not found");
    let written = pngs_under(&cpu.path().join("graphs"));
    assert_eq!(
        written,
        pngs_under(&gpu.path().join("graphs")),
        "same files"
    );
    assert!(written.len() >= 20, "{written:?}");
    for file in written {
        let a = png_pixels(&cpu.path().join("graphs").join(&file));
        let b = png_pixels(&gpu.path().join("graphs").join(&file));
        assert_eq!(a.len(), b.len(), "{}", file.display());
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap_or(0);
        assert!(
            worst <= 1,
            "{}: pixels differ by {worst} levels",
            file.display()
        );
    }
}
