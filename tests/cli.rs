//! The `drape` binary end to end: run writes PNGs carrying their recipe, check lists problems and
//! exits 1, overrides apply, broken weights give one clear error, and the node catalogue and its
//! Markdown copy in docs/ agree.

mod support;

use std::path::Path;

use support::outputs::decode_png;
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

#[test]
fn every_example_graph_runs() {
    let graphs = root().join("graphs");
    let dir = tempfile::tempdir().expect("temp dir");
    // The examples name ../models/clothing; a link keeps that path valid while outputs go to the temp dir.
    std::os::unix::fs::symlink(root().join("models"), dir.path().join("models"))
        .expect("link models");
    std::fs::create_dir_all(dir.path().join("graphs")).unwrap();
    let mut ran = 0;
    for entry in std::fs::read_dir(&graphs).expect("graphs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "ron") {
            continue;
        }
        let name = path.file_name().unwrap();
        std::fs::copy(&path, dir.path().join("graphs").join(name)).unwrap();
        let shown = Path::new("graphs").join(name);
        let out = drape(&["run", shown.to_str().unwrap()], dir.path());
        assert!(
            out.status.success(),
            "{}: {}{}",
            shown.display(),
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains("wrote "),
            "{} wrote nothing",
            shown.display()
        );
        ran += 1;
    }
    assert!(ran >= 2, "the example graphs were not found");
}
