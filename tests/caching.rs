//! Cached execution: running a graph again re-runs only the nodes an edit touched, on the fixture
//! model (on the GPU; the software Vulkan driver in CI).

mod support;

use std::path::PathBuf;

use drape_engine::{Engine, Graph, Override, parse_graph};
use support::{copy_fixture_model, root};

/// The cache test graph, loaded as if it lived in a temp folder beside a copy of the fixture model,
/// so its outputs land in that folder.
struct Scene {
    dir: tempfile::TempDir,
    source: String,
}

impl Scene {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_fixture_model(&dir.path().join("fixtures/rect-32px"));
        let source =
            std::fs::read_to_string(root().join("tests/graphs/cache.ron")).expect("test graph");
        let graphs = dir.path().join("graphs");
        std::fs::create_dir_all(&graphs).expect("graphs dir");
        Scene { dir, source }
    }

    fn graph(&self, source: &str, overrides: &[&str]) -> Graph {
        let overrides: Vec<Override> = overrides
            .iter()
            .map(|o| o.parse().expect("override"))
            .collect();
        let path = self.dir.path().join("graphs/cache.ron");
        parse_graph(&path, source, &drape_nodes::registry(), &overrides).expect("valid graph")
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("graphs/out").join(name)
    }
}

fn sorted(mut ids: Vec<&str>) -> Vec<&str> {
    ids.sort_unstable();
    ids
}

#[test]
fn an_edit_reruns_only_the_changed_node_and_what_depends_on_it() {
    let scene = Scene::new();
    let mut engine = Engine::new();
    let first = engine
        .run(&scene.graph(&scene.source, &[]), &[], &mut |_| {})
        .expect("plan");
    assert!(first.succeeded(), "{:?}", first.records);
    assert_eq!(
        sorted(first.ran()),
        ["image", "save-each", "save-sheet", "sheet", "w", "z"]
    );
    assert!(scene.out("design-42.png").is_file() && scene.out("design-123456.png").is_file());
    let sheet_before = std::fs::read(scene.out("sheet.png")).expect("sheet");

    // Nothing changed: everything but the outputs comes from the cache, and so do they.
    let again = engine
        .run(&scene.graph(&scene.source, &[]), &[], &mut |_| {})
        .expect("plan");
    assert!(again.ran().is_empty(), "ran {:?}", again.ran());

    // The grid's padding changed: only the grid and its save re-run.
    let padded = engine
        .run(
            &scene.graph(&scene.source, &["sheet.padding=6"]),
            &[],
            &mut |_| {},
        )
        .expect("plan");
    assert_eq!(sorted(padded.ran()), ["save-sheet", "sheet"]);
    assert_eq!(sorted(padded.cached()), ["image", "save-each", "w", "z"]);
    assert_ne!(
        std::fs::read(scene.out("sheet.png")).expect("sheet"),
        sheet_before
    );

    // Truncation changed in the file text: the mapping and everything below it re-run, the seeds don't.
    let edited = scene.source.replace("truncation: 0.7", "truncation: 0.5");
    let truncated = engine
        .run(
            &scene.graph(&edited, &["sheet.padding=6"]),
            &[],
            &mut |_| {},
        )
        .expect("plan");
    assert_eq!(sorted(truncated.cached()), ["z"]);
    assert_eq!(
        sorted(truncated.ran()),
        ["image", "save-each", "save-sheet", "sheet", "w"]
    );
}

#[test]
fn only_runs_the_named_node_and_its_inputs() {
    let scene = Scene::new();
    let mut engine = Engine::new();
    let report = engine
        .run(
            &scene.graph(&scene.source, &[]),
            &["save-sheet".to_string()],
            &mut |_| {},
        )
        .expect("plan");
    assert_eq!(
        sorted(report.ran()),
        ["image", "save-sheet", "sheet", "w", "z"]
    );
    assert!(!scene.out("design-42.png").exists());
    let unknown = engine.run(
        &scene.graph(&scene.source, &[]),
        &["sheeet".to_string()],
        &mut |_| {},
    );
    assert!(unknown.unwrap_err().contains("did you mean \"sheet\""));
}

#[test]
fn a_failing_node_skips_its_dependents_and_the_other_outputs_still_complete() {
    let scene = Scene::new();
    // A file where the sheet should go makes that save fail; the per-design saves must still happen.
    std::fs::create_dir_all(scene.out("sheet.png")).expect("blocking folder");
    let mut engine = Engine::new();
    let report = engine
        .run(&scene.graph(&scene.source, &[]), &[], &mut |_| {})
        .expect("plan");
    assert!(!report.succeeded());
    let failed: Vec<&str> = report.failures().map(|r| r.id.as_str()).collect();
    assert_eq!(failed, ["save-sheet"]);
    assert!(scene.out("design-42.png").is_file());
}
