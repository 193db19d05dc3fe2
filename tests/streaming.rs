//! Streaming on the fixture model: a batch above the threshold runs through the per-design nodes in
//! chunks with the same designs, files and recipes as a batch that runs whole, reports its progress in
//! a log, and one design of it is re-created alone.

mod support;

use std::path::Path;
use std::process::Command;

use support::outputs::{decode_png, png_pixels, read_latents};
use support::{copy_fixture_model, text};

/// A folder with the fixture model and a graph drawing `seeds`, with random noise (which depends on
/// each design's position in the batch), saving every design and the batch's latents.
fn project(seeds: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_fixture_model(&dir.path().join("model"));
    let graph = format!(
        r#"Graph(
    version: 1,
    model: "model",
    nodes: {{
        "z": SampleLatent(seeds: "{seeds}"),
        "w": Map(z: "z", truncation: 0.7),
        "images": Synthesize(w: "w", noise: random, noise_seed: 5),
        "save": Save(images: "images", path: "out/{{index}}-{{seed}}.png"),
        "latents": SaveLatents(w: "w", path: "out/w.npy"),
    }},
)
"#
    );
    std::fs::write(dir.path().join("graph.ron"), graph).expect("graph");
    dir
}

/// `drape ARGS` in `dir` with standard error not a terminal and a progress line for every event.
fn drape_logged(args: &[&str], dir: &Path) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_drape"))
        .args(args)
        .env("DRAPE_PROGRESS_INTERVAL", "0")
        .env("DRAPE_BACKEND", "cpu")
        .current_dir(dir)
        .output()
        .expect("drape runs");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    (stdout, stderr)
}

/// The recipe line `key: value` of a saved design.
fn recipe_line(png: &Path, key: &str) -> String {
    let decoded = decode_png(png);
    let recipe = decoded.chunk("drape:recipe");
    recipe
        .lines()
        .find(|l| l.starts_with(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in {recipe}"))
        .to_string()
}

#[test]
fn a_streamed_batch_equals_a_whole_one_and_one_design_is_recreated_alone() {
    let streamed = project("0..300");
    let (stdout, stderr) = drape_logged(&["run", "graph.ron"], streamed.path());
    assert!(
        stdout.contains("wrote 281 more files (301 in all)"),
        "{stdout}"
    );
    for done in [64, 128, 192, 256, 300] {
        assert!(
            stderr.contains(&format!("progress: designs: {done}/300 (")),
            "no line for {done} designs:\n{stderr}"
        );
    }
    assert!(stderr.contains("designs/s"), "{stderr}");

    // 256 designs are under the threshold: they run whole, as every batch did before streaming.
    let whole = project("0..256");
    let (_, stderr) = drape_logged(&["run", "graph.ron"], whole.path());
    assert!(!stderr.contains("progress: designs"), "{stderr}");

    for k in [0, 63, 64, 65, 200, 255] {
        let name = format!("out/{k}-{k}.png");
        let (a, b) = (streamed.path().join(&name), whole.path().join(&name));
        assert_eq!(png_pixels(&a), png_pixels(&b), "design {k}");
        assert_eq!(recipe_line(&a, "index"), format!("index: {k}"));
    }
    let (shape, rows) = read_latents(&streamed.path().join("out/w.npy"));
    let (whole_shape, whole_rows) = read_latents(&whole.path().join("out/w.npy"));
    assert_eq!((shape[0], whole_shape[0]), (300, 256));
    assert_eq!(rows[..whole_rows.len()], whole_rows[..]);

    // Design 290 of 300 is re-created from its recipe without the other 299.
    let (stdout, stderr) = drape_logged(&["run", "out/290-290.png"], streamed.path());
    assert!(stdout.contains("wrote out/290-290.rerun.png"), "{stdout}");
    assert!(stderr.contains("progress: designs: 1/1"), "{stderr}");
    assert_eq!(
        png_pixels(&streamed.path().join("out/290-290.rerun.png")),
        png_pixels(&streamed.path().join("out/290-290.png"))
    );
}
