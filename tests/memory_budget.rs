//! The memory budget: graphs whose values would not fit are refused by `drape check` and `drape run`
//! before anything runs, with the numbers, and the budget is set with `--memory-budget` or
//! `DRAPE_MEMORY_BUDGET`.

mod support;

use std::path::Path;

use npyz::WriterBuilder;
use support::{copy_fixture_model, drape, text};

/// A folder with the fixture model (8 ws of 40 values, 32 px) and `graph.ron` made of `nodes`.
fn project(nodes: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_fixture_model(&dir.path().join("model"));
    let graph = format!(
        "Graph(\n    version: 1,\n    model: \"model\",\n    nodes: {{\n{nodes}\n    }},\n)\n"
    );
    std::fs::write(dir.path().join("graph.ron"), graph).expect("graph");
    dir
}

fn stderr_of(args: &[&str], dir: &Path) -> (bool, String) {
    let out = drape(args, dir);
    (out.status.success(), text(&out.stderr))
}

const ALL_PAIRS: &str = r#"        "a": SampleLatent(seeds: "0..3000"),
        "b": SampleLatent(seeds: "3000..6000"),
        "wa": Map(z: "a"),
        "wb": Map(z: "b"),
        "mix": MixLayers(a: "wa", b: "wb", pairs: all),
        "save": SaveLatents(w: "mix", path: "out/mix.npy"),"#;

#[test]
fn every_pair_of_two_big_batches_is_refused_before_anything_runs() {
    let dir = project(ALL_PAIRS);
    let (ok, stderr) = stderr_of(&["check", "graph.ron"], dir.path());
    assert!(!ok);
    assert!(
        stderr.contains(
            "error: node \"mix\": this node's output would take 10.7 GiB (9,000,000 designs of 320 \
             values), over the memory budget of 4.0 GiB"
        ) && stderr.contains("graph.ron:9:")
            && stderr.contains("--memory-budget"),
        "{stderr}"
    );
    let (ok, stderr) = stderr_of(&["run", "graph.ron"], dir.path());
    assert!(!ok && stderr.contains("over the memory budget"), "{stderr}");
    assert!(!dir.path().join("out").exists(), "nothing ran");

    // A larger budget admits it (checked only: running it would really take 11 GiB).
    let (ok, stderr) = stderr_of(
        &["check", "--memory-budget", "12GiB", "graph.ron"],
        dir.path(),
    );
    assert!(ok, "{stderr}");
}

#[test]
fn the_budget_covers_all_values_a_run_holds_and_reads_the_environment() {
    // Each node alone fits in the budget; together they do not (a batch this small runs whole).
    let nodes = r#"        "z": SampleLatent(seeds: "0..250"),
        "w": Map(z: "z"),
        "images": Synthesize(w: "w"),
        "save": Save(images: "images", path: "out/{seed}.png"),"#;
    let dir = project(nodes);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_drape"))
        .args(["check", "graph.ron"])
        .env("DRAPE_MEMORY_BUDGET", "3MiB")
        .current_dir(dir.path())
        .output()
        .expect("drape runs");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "node \"images\": this node's output would take 2.9 MiB (250 images of 32 × 32 px), \
             3.3 MiB with what the graph holds before it, over the memory budget of 3.0 MiB"
        ),
        "{stderr}"
    );
    let (ok, stderr) = stderr_of(
        &["check", "--memory-budget", "3.5MiB", "graph.ron"],
        dir.path(),
    );
    assert!(ok, "{stderr}");
}

#[test]
fn a_streamed_batch_counts_one_chunk_of_designs() {
    // 100,000 designs of 32 px would take 1.1 GiB at once; they stream 64 at a time.
    let dir = project(
        r#"        "z": SampleLatent(seeds: "0..100000"),
        "w": Map(z: "z"),
        "images": Synthesize(w: "w"),
        "save": Save(images: "images", path: "out/{seed}.png"),"#,
    );
    let (ok, stderr) = stderr_of(
        &["check", "--memory-budget", "64MiB", "graph.ron"],
        dir.path(),
    );
    assert!(ok, "{stderr}");
}

#[test]
fn a_small_compressed_latent_file_with_many_rows_is_measured_from_its_header() {
    let dir = project(
        r#"        "w": LoadLatents(path: "many.npz"),
        "save": SaveLatents(w: "w", path: "out/copy.npy"),"#,
    );
    // 60,000 designs of zeros: 77 MB of values in a file of a few hundred kilobytes.
    let path = dir.path().join("many.npz");
    let mut npz = npyz::npz::NpzWriter::create(&path).expect("npz");
    let options = npyz::zip::write::FileOptions::default()
        .compression_method(npyz::zip::CompressionMethod::Deflated);
    let mut writer = npz
        .array::<f32>("w", options)
        .expect("entry")
        .default_dtype()
        .shape(&[60_000, 8, 40])
        .begin_nd()
        .expect("header");
    writer
        .extend(std::iter::repeat_n(0f32, 60_000 * 320))
        .expect("data");
    writer.finish().expect("array");
    npz.zip_writer().finish().expect("archive");
    assert!(std::fs::metadata(&path).unwrap().len() < 2 << 20);

    let (ok, stderr) = stderr_of(
        &["check", "--memory-budget", "64MiB", "graph.ron"],
        dir.path(),
    );
    assert!(!ok);
    assert!(
        stderr.contains(
            "node \"w\": this node's output would take 73.2 MiB (60,000 designs of 320 values)"
        ),
        "{stderr}"
    );
    let (ok, stderr) = stderr_of(&["check", "graph.ron"], dir.path());
    assert!(ok, "{stderr}");
}
