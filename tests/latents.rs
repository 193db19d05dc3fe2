//! Latent-space nodes in whole graphs on the fixture model (on the GPU; the software Vulkan driver in
//! CI): deferred ClothingGAN truncation, style-mixing matrices, and latents saved and loaded as numpy
//! files.

mod support;

use std::path::PathBuf;

use drape_engine::{Engine, RunReport, Status, parse_graph};
use support::outputs::{png_pixels, read_latents, write_npy};
use support::{copy_fixture_model, fixtures};

/// A temp folder with a copy of the `rect-32px` fixture model (8 ws of 40 values); graphs live in
/// its `graphs/` folder and write to `graphs/out/`.
struct Scene {
    dir: tempfile::TempDir,
    engine: Engine,
}

impl Scene {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_fixture_model(&dir.path().join("fixtures/rect-32px"));
        std::fs::create_dir_all(dir.path().join("graphs/out")).expect("graphs dir");
        Scene {
            dir,
            engine: Engine::new(),
        }
    }

    /// Runs a graph made of `nodes` (RON map entries).
    fn run(&mut self, nodes: &str) -> RunReport {
        let source =
            format!("Graph(version: 1, model: \"../fixtures/rect-32px\", nodes: {{ {nodes} }})");
        let path = self.dir.path().join("graphs/test.ron");
        let graph = parse_graph(&path, &source, &drape_nodes::registry(), &[])
            .unwrap_or_else(|e| panic!("invalid graph: {e:?}"));
        self.engine.run(&graph, &[], &mut |_| {}).expect("plan")
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("graphs/out").join(name)
    }
}

fn assert_ok(report: &RunReport) {
    assert!(report.succeeded(), "{:#?}", report.records);
}

#[test]
fn deferred_truncation_toward_zero_equals_scaling_the_untruncated_ws() {
    let mut scene = Scene::new();
    assert_ok(&scene.run(
        r#"
        "z": SampleLatent(seeds: [42, 123456]),
        "w-free": Map(z: "z"),
        "w-late": Map(z: "z", truncation: 0.5, toward: zero, apply: "after-edits"),
        "late": Synthesize(w: "w-late"),
        "save-free": SaveLatents(w: "w-free", path: "out/free.npy"),
        "save-late-w": SaveLatents(w: "w-late", path: "out/late.npz"),
        "save-late": Save(images: "late", path: "out/late-{index}.png"),
        "#,
    ));
    let (shape, free) = read_latents(&scene.out("free.npy"));
    assert_eq!(shape, [2, 8, 40]);
    let scaled: Vec<f32> = free.iter().map(|v| 0.5 * v).collect();
    assert_ne!(scaled, free);
    // SaveLatents applies the deferred truncation: ψ·ws.
    assert_eq!(
        read_latents(&scene.out("late.npz")),
        (shape.clone(), scaled.clone())
    );

    // ψ·ws written by hand and synthesized render the same pixels as the deferred truncation.
    write_npy(&scene.out("scaled.npy"), &shape, &scaled);
    assert_ok(&scene.run(
        r#"
        "w": LoadLatents(path: "out/scaled.npy"),
        "images": Synthesize(w: "w"),
        "save": Save(images: "images", path: "out/scaled-{index}.png"),
        "untruncated": Synthesize(w: "w-free"),
        "w-free": LoadLatents(path: "out/free.npy"),
        "save-free": Save(images: "untruncated", path: "out/free-{index}.png"),
        "#,
    ));
    for i in 0..2 {
        let late = png_pixels(&scene.out(&format!("late-{i}.png")));
        let scaled = png_pixels(&scene.out(&format!("scaled-{i}.png")));
        let free = png_pixels(&scene.out(&format!("free-{i}.png")));
        assert!(late == scaled, "design {i}: deferred truncation ≠ ψ·ws");
        assert!(late != free, "design {i}: the truncation changed nothing");
    }
}

#[test]
fn a_crossover_matrix_and_a_broadcast_blend_mix_the_right_layers() {
    let mut scene = Scene::new();
    assert_ok(&scene.run(
        r#"
        "a": SampleLatent(seeds: [1, 2]),
        "b": SampleLatent(seeds: "3..=5"),
        "one": SampleLatent(seeds: 9),
        "wa": Map(z: "a"),
        "wb": Map(z: "b"),
        "w-one": Map(z: "one"),
        "matrix": MixLayers(a: "wa", b: "wb", mode: crossover, crossover: 3),
        "blend": MixLayers(a: "wa", b: "w-one", structure: 0.25, style: 0.75, pairs: "one-to-one"),
        "save-a": SaveLatents(w: "wa", path: "out/a.npy"),
        "save-b": SaveLatents(w: "wb", path: "out/b.npy"),
        "save-one": SaveLatents(w: "w-one", path: "out/one.npy"),
        "save-matrix": SaveLatents(w: "matrix", path: "out/matrix.npy"),
        "save-blend": SaveLatents(w: "blend", path: "out/blend.npy"),
        "#,
    ));
    let (_, a) = read_latents(&scene.out("a.npy"));
    let (_, b) = read_latents(&scene.out("b.npy"));
    let (_, one) = read_latents(&scene.out("one.npy"));
    let w =
        |data: &[f32], item: usize, layer: usize| data[(item * 8 + layer) * 40..][..40].to_vec();

    let (shape, matrix) = read_latents(&scene.out("matrix.npy"));
    assert_eq!(shape, [6, 8, 40]);
    for i in 0..2 {
        for j in 0..3 {
            for l in 0..8 {
                let expected = if l < 3 { w(&a, i, l) } else { w(&b, j, l) };
                assert_eq!(
                    w(&matrix, i * 3 + j, l),
                    expected,
                    "row {i} column {j} layer {l}"
                );
            }
        }
    }

    // The default split is 3 of 8 ws; the single `b` design is paired with each `a`.
    let (shape, blend) = read_latents(&scene.out("blend.npy"));
    assert_eq!(shape, [2, 8, 40]);
    for i in 0..2 {
        for l in 0..8 {
            let t = if l < 3 { 0.25f32 } else { 0.75 };
            let expected: Vec<f32> = w(&a, i, l)
                .iter()
                .zip(w(&one, 0, l))
                .map(|(x, y)| (1.0 - t) * x + t * y)
                .collect();
            assert_eq!(w(&blend, i, l), expected, "design {i} layer {l}");
        }
    }
}

#[test]
fn mixing_inputs_with_different_deferred_truncations_fails_clearly() {
    let mut scene = Scene::new();
    let report = scene.run(
        r#"
        "z": SampleLatent(seeds: [1, 2]),
        "late": Map(z: "z", truncation: 0.5, toward: zero, apply: "after-edits"),
        "now": Map(z: "z", truncation: 0.5, toward: zero),
        "mix": MixLayers(a: "late", b: "now"),
        "save": SaveLatents(w: "mix", path: "out/mix.npy"),
        "#,
    );
    let failure = report.failures().next().expect("a failure");
    assert_eq!(failure.id, "mix");
    let Status::Failed(error) = &failure.status else {
        panic!("{failure:?}")
    };
    assert_eq!(
        error.message,
        "the inputs carry different deferred truncations (a: psi 0.5 toward zero, after edits; b: none deferred)"
    );
    assert!(!scene.out("mix.npy").exists());
}

#[test]
fn latents_written_by_numpy_load_broadcast_and_render() {
    let mut scene = Scene::new();
    for name in ["latent-w-2x40-f64.npy", "latent-projected_w-1x8x40.npz"] {
        std::fs::copy(fixtures().join(name), scene.out(name)).expect("copy fixture");
    }
    assert_ok(&scene.run(
        r#"
        "w": LoadLatents(path: "out/latent-w-2x40-f64.npy"),
        "projected": LoadLatents(path: "out/latent-projected_w-1x8x40.npz"),
        "save-w": SaveLatents(w: "w", path: "out/w-plus.npy"),
        "images": Synthesize(w: "projected"),
        "save": Save(images: "images", path: "out/projected.png"),
        "#,
    ));
    // [2, 40] float64 became [2, 8, 40] float32: each w repeated on every layer.
    let (shape, data) = read_latents(&scene.out("w-plus.npy"));
    assert_eq!(shape, [2, 8, 40]);
    for (i, v) in data.iter().enumerate() {
        let (item, element) = (i / 320, i % 40);
        assert_eq!(*v, (item * 40 + element) as f32 / 8.0 - 5.0, "value {i}");
    }
    assert_eq!(png_pixels(&scene.out("projected.png")).len(), 32 * 32 * 3);

    let report = scene.run(
        r#"
        "w": LoadLatents(path: "out/w-plus.npy"),
        "images": Synthesize(w: "w"),
        "save": Save(images: "images", path: "out/{seed}.png"),
        "#,
    );
    let failure = report.failures().next().expect("a failure");
    let Status::Failed(error) = &failure.status else {
        panic!("{failure:?}")
    };
    assert!(error.message.contains("(w-plus #0) has no seed"), "{error}");
}
