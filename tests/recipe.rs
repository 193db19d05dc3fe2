//! Saved designs re-create themselves: `drape run design.png` rebuilds the same pixels from the recipe
//! in the PNG without touching the source, reports a changed model and broken recipes clearly, and
//! `drape recipe` shows the recipe and writes the graph back out.

mod support;

use std::path::Path;

use support::outputs::png_pixels;
use support::{cache_graph_project, drape, text};

/// A temp folder with the cache test graph and a copy of the fixture model, run once with an override.
fn rendered() -> tempfile::TempDir {
    let dir = cache_graph_project();
    let out = drape(
        &["run", "graphs/cache.ron", "--set", "w.truncation=0.5"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir
}

/// A 2×2 PNG with the given text chunks.
fn write_png(path: &Path, chunks: &[(&str, &str)]) {
    let file = std::fs::File::create(path).expect("create png");
    let mut encoder = png::Encoder::new(file, 2, 2);
    encoder.set_color(png::ColorType::Rgb);
    for (key, value) in chunks {
        encoder
            .add_itxt_chunk(key.to_string(), value.to_string())
            .expect("chunk");
    }
    let mut writer = encoder.write_header().expect("header");
    writer.write_image_data(&[0; 12]).expect("pixels");
}

#[test]
fn a_saved_design_re_creates_identical_pixels_without_touching_the_source() {
    let dir = rendered();
    let source = dir.path().join("graphs/out/design-42.png");
    let before = std::fs::read(&source).unwrap();
    let modified = std::fs::metadata(&source).unwrap().modified().unwrap();

    let out = drape(&["run", "graphs/out/design-42.png"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("wrote graphs/out/design-42.rerun.png"),
        "{stdout}"
    );
    // Only what the one Save needs ran: not the sheet.
    assert!(stdout.contains("4 nodes: 4 ran"), "{stdout}");
    let rerun = dir.path().join("graphs/out/design-42.rerun.png");
    assert_eq!(png_pixels(&rerun), png_pixels(&source));
    assert_ne!(
        png_pixels(&rerun),
        png_pixels(&dir.path().join("graphs/out/design-123456.png")),
        "the second design of the batch differs, so the item index mattered"
    );
    assert_eq!(std::fs::read(&source).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&source).unwrap().modified().unwrap(),
        modified
    );

    // --out picks the file; the source itself is refused.
    let custom = drape(
        &["run", "graphs/out/design-123456.png", "--out", "again.png"],
        dir.path(),
    );
    assert!(custom.status.success(), "{}", text(&custom.stderr));
    assert_eq!(
        png_pixels(&dir.path().join("again.png")),
        png_pixels(&dir.path().join("graphs/out/design-123456.png"))
    );
    let over = drape(
        &[
            "run",
            "graphs/out/design-42.png",
            "--out",
            "graphs/out/design-42.png",
        ],
        dir.path(),
    );
    assert_eq!(over.status.code(), Some(1));
    assert!(text(&over.stderr).contains("never overwrites"));
    assert_eq!(std::fs::read(&source).unwrap(), before);

    // An existing output is kept unless --force says otherwise.
    let rerun_bytes = std::fs::read(&rerun).unwrap();
    let again = drape(&["run", "graphs/out/design-42.png"], dir.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("design-42.rerun.png exists; give --force"),
        "{}",
        text(&again.stderr)
    );
    let taken = drape(
        &["run", "graphs/out/design-123456.png", "--out", "again.png"],
        dir.path(),
    );
    assert_eq!(taken.status.code(), Some(1), "--out to an existing file");
    let forced = drape(&["run", "graphs/out/design-42.png", "--force"], dir.path());
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert_eq!(std::fs::read(&rerun).unwrap(), rerun_bytes);
}

#[test]
fn text_from_a_shared_png_cannot_drive_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = format!(
        "drape-recipe 1\ngraph: graphs/g\u{1b}[2J.ron\ngraph-dir: {}\nnode: sa\u{1b}]0;owned\u{7}ve\nindex: 0\n",
        dir.path().display()
    );
    write_png(
        &dir.path().join("shared.png"),
        &[
            ("drape:recipe", &recipe),
            ("drape:graph", "Graph(version: 1, nodes: {})"),
            ("drape:design", "seed 1 \u{1b}[31mred"),
        ],
    );
    let out = drape(&["recipe", "shared.png"], dir.path());
    let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("seed 1 \u{FFFD}[31mred"), "{shown}");
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
        "{shown}"
    );
}

#[test]
fn a_project_moved_as_a_whole_still_re_creates_its_designs() {
    let dir = rendered();
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let moved = elsewhere.path().join("moved");
    std::fs::rename(dir.path(), &moved).expect("move the project");
    let out = drape(&["run", "graphs/out/design-42.png"], &moved);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        png_pixels(&moved.join("graphs/out/design-42.rerun.png")),
        png_pixels(&moved.join("graphs/out/design-42.png"))
    );
    std::fs::rename(&moved, dir.path()).expect("move it back for clean-up");
}

#[test]
fn a_design_copied_on_its_own_is_re_created_with_model() {
    let dir = rendered();
    let elsewhere = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        dir.path().join("graphs/out/design-42.png"),
        elsewhere.path().join("shared.png"),
    )
    .unwrap();
    let lost = drape(&["run", "shared.png"], elsewhere.path());
    assert_eq!(lost.status.code(), Some(1));
    let stderr = text(&lost.stderr);
    assert!(stderr.contains("unknown model folder"), "{stderr}");
    assert!(stderr.contains("--model DIR"), "{stderr}");
    let model = dir.path().join("fixtures/rect-32px");
    let found = drape(
        &["run", "shared.png", "--model", model.to_str().unwrap()],
        elsewhere.path(),
    );
    assert!(found.status.success(), "{}", text(&found.stderr));
    assert_eq!(
        png_pixels(&elsewhere.path().join("shared.rerun.png")),
        png_pixels(&dir.path().join("graphs/out/design-42.png"))
    );
    let missing = drape(
        &["run", "shared.png", "--model", "nowhere", "--force"],
        elsewhere.path(),
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("--model: \"nowhere\" has no generator.safetensors"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn out_dir_collects_the_outputs_and_they_still_re_create() {
    let dir = cache_graph_project();
    let out = drape(
        &["run", "graphs/cache.ron", "--out-dir", "explore/one"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("wrote explore/one/out/design-42.png"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !dir.path().join("graphs/out").exists(),
        "nothing beside the graph"
    );
    let again = drape(&["run", "explore/one/out/design-42.png"], dir.path());
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(
        png_pixels(&dir.path().join("explore/one/out/design-42.rerun.png")),
        png_pixels(&dir.path().join("explore/one/out/design-42.png"))
    );
}

#[test]
fn a_changed_model_is_reported() {
    let dir = rendered();
    let weights = dir.path().join("fixtures/rect-32px/generator.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, bytes).unwrap();
    let out = drape(&["run", "graphs/out/design-42.png"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: the model in") && stderr.contains("changed since"),
        "{stderr}"
    );
}

#[test]
fn a_png_without_a_recipe_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("plain.png"), &[]);
    let out = drape(&["run", "plain.png"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("plain.png carries no drape recipe"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join("plain.rerun.png").exists());
}

#[test]
fn problems_in_the_embedded_graph_point_at_the_png() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = format!(
        "drape-recipe 1\ngraph: graphs/g.ron\ngraph-dir: {}\nnode: save\nindex: 0\n",
        dir.path().display()
    );
    let graph = "Graph(\n    version: 1,\n    nodes: {\n        \"save\": Sav(images: \"x\", path: \"a.png\"),\n    },\n)\n";
    write_png(
        &dir.path().join("broken.png"),
        &[
            ("drape:recipe", &recipe),
            ("drape:graph", graph),
            ("drape:design", "seed 1"),
        ],
    );
    let out = drape(&["run", "broken.png"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--> broken.png (embedded graphs/g.ron):4:17"),
        "{stderr}"
    );
    assert!(stderr.contains("unknown node type `Sav`"), "{stderr}");
}

#[test]
fn recipe_shows_how_a_design_was_made_and_writes_the_graph() {
    let dir = rendered();
    let out = drape(
        &["recipe", "graphs/out/design-42.png", "--graph", "copy.ron"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "design:  seed 42; truncation=0.5",
        "output:  node \"save-each\", item 0",
        "set:     w.truncation=0.5",
        "wrote copy.ron",
    ] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("copy.ron")).unwrap(),
        std::fs::read_to_string(dir.path().join("graphs/cache.ron")).unwrap()
    );
    let again = drape(
        &["recipe", "graphs/out/design-42.png", "--graph", "copy.ron"],
        dir.path(),
    );
    assert_eq!(again.status.code(), Some(1), "refuses to overwrite");
}
