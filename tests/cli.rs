//! The `drape` binary end to end: run writes PNGs carrying their recipe, check lists problems and
//! exits 1, overrides apply, broken weights give one clear error, and the node catalogue and its
//! Markdown copy in docs/ agree.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn drape(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drape"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("drape runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temp folder holding the cache test graph and a copy of the fixture model.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = dir.path().join("fixtures/rect-32px");
    std::fs::create_dir_all(&model).expect("model dir");
    std::fs::copy(
        root().join("tests/fixtures/rect-32px/generator.safetensors"),
        model.join("generator.safetensors"),
    )
    .expect("copy model");
    std::fs::create_dir_all(dir.path().join("graphs")).expect("graphs dir");
    std::fs::copy(
        root().join("tests/graphs/cache.ron"),
        dir.path().join("graphs/cache.ron"),
    )
    .expect("copy graph");
    dir
}

fn png_text_chunks(path: &Path) -> Vec<(String, String)> {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("png exists"),
    ));
    let reader = decoder.read_info().expect("valid png");
    let info = reader.info();
    assert_eq!((info.width, info.height), (32, 32));
    info.utf8_text
        .iter()
        .map(|c| (c.keyword.clone(), c.get_text().expect("utf8 text")))
        .collect()
}

#[test]
fn run_writes_pngs_with_the_graph_embedded() {
    let dir = workspace();
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
    let chunks = png_text_chunks(&dir.path().join("graphs/out/design-42.png"));
    let get = |k: &str| {
        chunks
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .expect(k)
    };
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
    let dir = workspace();
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
    let dir = workspace();
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
