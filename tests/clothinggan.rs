//! ClothingGAN parity: the demo's pipeline as a graph (two seeds, structure/style blend, component sliders
//! over a layer range, truncation toward zero after the edits) against the PyTorch reference's golden
//! ws and image (`python -m training.clothinggan`).

mod support;

use support::outputs::{png_pixels, read_latents};
use support::{copy_fixture_model, drape, fixtures, text};

/// The reference's golden file: its f32 tensors and, in its metadata, the controls it was made with.
struct Golden {
    bytes: Vec<u8>,
}

impl Golden {
    fn load() -> Self {
        let bytes = std::fs::read(fixtures().join("clothinggan-rect-32px.safetensors")).unwrap();
        Golden { bytes }
    }

    fn tensor(&self, name: &str) -> Vec<f32> {
        let file = safetensors::SafeTensors::deserialize(&self.bytes).expect("golden file");
        let view = file.tensor(name).expect("tensor");
        assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
        little_endian_f32s(view.data())
    }

    fn control(&self, key: &str) -> String {
        let (_, meta) = safetensors::SafeTensors::read_metadata(&self.bytes).expect("metadata");
        meta.metadata().as_ref().expect("metadata")[key].clone()
    }
}

fn little_endian_f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn the_clothinggan_pipeline_matches_the_reference() {
    let golden = Golden::load();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    copy_fixture_model(&model);
    drape_directions::import_npz(&fixtures().join("ganspace-rect-32px.npz"), 40)
        .expect("import")
        .save(&model.join("components.safetensors"))
        .expect("save components");

    let c = |key: &str| golden.control(key);
    let layers = format!("{}..{}", c("start"), c("end"));
    let edits: Vec<String> = c("amounts")
        .split(',')
        .enumerate()
        .map(|(k, a)| format!("(component: {k}, amount: {a}, unit: \"raw\", layers: \"{layers}\")"))
        .collect();
    let graph = format!(
        r#"Graph(
    version: 1,
    model: "model",
    nodes: {{
        "seed-1": SampleLatent(seeds: [{seed1}]),
        "seed-2": SampleLatent(seeds: [{seed2}]),
        "w1": Map(z: "seed-1", truncation: {psi}, toward: "zero", apply: "after-edits"),
        "w2": Map(z: "seed-2", truncation: {psi}, toward: "zero", apply: "after-edits"),
        "mix": MixLayers(a: "w1", b: "w2", structure: {structure}, style: {style}, split: {split}, pairs: "one-to-one"),
        "edit": ApplyDirection(w: "mix", edits: [{edits}]),
        "save-w": SaveLatents(w: "edit", path: "out/ws.npy"),
        "image": Synthesize(w: "edit", noise: "const"),
        "save": Save(images: "image", path: "out/design.png"),
    }},
)
"#,
        seed1 = c("seed1"),
        seed2 = c("seed2"),
        psi = c("truncation"),
        structure = c("structure"),
        style = c("style"),
        split = c("split"),
        edits = edits.join(", "),
    );
    std::fs::write(dir.path().join("clothinggan.ron"), graph).unwrap();
    let out = drape(&["run", "clothinggan.ron"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));

    // ws: float32 arithmetic in a different order than PyTorch's; 1e-5 relative to magnitude.
    let (_, ws) = read_latents(&dir.path().join("out/ws.npy"));
    let expected = golden.tensor("ws");
    assert_eq!(ws.len(), expected.len());
    for (i, (a, b)) in ws.iter().zip(&expected).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
            "ws[{i}]: drape {a}, reference {b}"
        );
    }

    // The image: drape's 8-bit output against the reference's floats quantised the same way; a value
    // that sits on a rounding edge may land one level away, nothing more.
    let pixels = png_pixels(&dir.path().join("out/design.png"));
    let img = golden.tensor("img");
    let plane = 32 * 32;
    let mut off_by_one = 0;
    for (p, &got) in pixels.iter().enumerate() {
        let (pixel, channel) = (p / 3, p % 3);
        let x = img[channel * plane + pixel];
        let want = (127.5 * x + 128.0).clamp(0.0, 255.0).floor() as i32;
        let diff = (i32::from(got) - want).abs();
        assert!(
            diff <= 1,
            "pixel {pixel} channel {channel}: drape {got}, reference {want}"
        );
        off_by_one += diff;
    }
    assert!(off_by_one <= 10, "{off_by_one} values one level away");
}
