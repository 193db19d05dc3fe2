//! `drape import` end to end: the project's ADA-shaped pickle (tests/fixtures/import/) and a genuine
//! rosinality checkpoint (when `../shared/fixtures` is present) become model folders that render, and
//! bad files give one clear error, exit 1 and leave no folder behind; a float16 import renders within
//! two 8-bit levels of the float32 one.

mod support;

use std::path::Path;

use support::outputs::png_pixels;
use support::{drape, root, succeeded, text};

#[test]
fn an_upstream_checkpoint_imports_and_renders() {
    let file = root().join("../shared/fixtures/upstream/rosinality-64px.legacy.pt");
    if !file.exists() {
        eprintln!("note: {} is absent; skipping", file.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = file.to_str().unwrap();
    let stdout = succeeded(&drape(
        &["import", file, "--out", "models/ros", "--f16"],
        dir.path(),
    ));
    assert!(
        stdout.contains("64 px") && stdout.contains("latent_avg"),
        "{stdout}"
    );
    let card = std::fs::read_to_string(dir.path().join("models/ros/MODEL.md")).unwrap();
    assert!(
        card.contains("rosinality-64px.legacy.pt") && card.contains("float16"),
        "{card}"
    );
    render_one(dir.path(), "ros", 1);
}

#[test]
fn the_projects_ada_shaped_pickle_imports_and_renders() {
    let file = root().join("tests/fixtures/import/ada-shaped-32px.pkl");
    let dir = tempfile::tempdir().unwrap();
    let file = file.to_str().unwrap();
    let stdout = succeeded(&drape(
        &["import", file, "--network", "G_ema", "--out", "models/ada"],
        dir.path(),
    ));
    assert!(
        stdout.contains("32 px") && stdout.contains("G_ema.mapping.w_avg"),
        "{stdout}"
    );
    let card = std::fs::read_to_string(dir.path().join("models/ada/MODEL.md")).unwrap();
    assert!(card.contains("ada-shaped-32px.pkl"), "{card}");
    render_one(dir.path(), "ada", 42);

    // --f16 halves the file and stays within a few 8-bit levels of the float32 import.
    succeeded(&drape(
        &["import", file, "--out", "models/ada16", "--f16"],
        dir.path(),
    ));
    let size = |m: &str| {
        std::fs::metadata(dir.path().join(m).join("generator.safetensors"))
            .unwrap()
            .len()
    };
    assert!(size("models/ada16") * 10 < size("models/ada") * 6);
    succeeded(&drape(
        &[
            "run",
            "graphs/one.ron",
            "--backend",
            "cpu",
            "--model",
            "models/ada16",
            "--out-dir",
            "f16",
        ],
        dir.path(),
    ));
    let (a, b) = (
        png_pixels(&dir.path().join("graphs/out/42.png")),
        png_pixels(&dir.path().join("f16/out/42.png")),
    );
    let levels = a.iter().zip(&b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
    eprintln!("--f16 against float32: at most {levels} levels");
    assert!(levels <= F16_LEVELS, "{levels} levels apart");
}

/// How far a float16 import's 8-bit pixels may be from the float32 import's: its weights carry
/// 11-bit mantissas, about 5e-4 relative.
const F16_LEVELS: u8 = 2;

/// Renders design `seed` of model folder `models/MODEL` under `dir` into `graphs/out/SEED.png`.
fn render_one(dir: &Path, model: &str, seed: u32) {
    std::fs::create_dir_all(dir.join("graphs")).unwrap();
    let graph = format!(
        r#"Graph(
    version: 1,
    model: "../models/{model}",
    nodes: {{
        "z": SampleLatent(seeds: [{seed}]),
        "w": Map(z: "z", truncation: 0.7),
        "image": Synthesize(w: "w"),
        "save": Save(images: "image", path: "out/{{seed}}.png"),
    }},
)
"#
    );
    std::fs::write(dir.join("graphs/one.ron"), graph).unwrap();
    succeeded(&drape(&["run", "graphs/one.ron", "--backend", "cpu"], dir));
    assert!(dir.join(format!("graphs/out/{seed}.png")).exists());
}

fn refused(bytes: &[u8], expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.pt"), bytes).unwrap();
    let out = drape(&["import", "bad.pt", "--out", "models/bad"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bad.pt") && stderr.contains(expect),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!Path::new(&dir.path().join("models/bad")).exists());
}

#[test]
fn bad_files_are_one_clear_error() {
    refused(b"not a checkpoint", "neither a torch checkpoint");
    refused(
        b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00hi\x85R.",
        "`os.system`",
    );
    refused(b"PK\x03\x04 truncated", "zip");
}
