//! Imports the project's own upstream-shaped checkpoints (`tests/fixtures/import/`, written by
//! `python -m training.upstream_shapes` from the `rect-32px` fixture): a stylegan2-ada-shaped network
//! pickle and rosinality-shaped checkpoints in both torch formats. Each must give back exactly the
//! `rect-32px` tensors and settings, and drape's CPU reference (f64 accumulation) must reproduce the
//! PyTorch reference's ws (within 1e-4 relative) and const-noise images (within one 8-bit level and
//! 1e-4 absolute in [-1, 1] units) at psi 1 and 0.7. Always runs: the files are committed.

mod common;

use common::{max_abs_diff, max_level_diff, max_rel_diff, npz_array};
use drape_generator::import::{Flavour, SourceInfo, import_file, write_model_folder};
use drape_generator::model::StorageType;
use drape_generator::seeds::z_from_seed;
use drape_generator::{Model, NoiseMode, Truncation, cpu};
use std::path::{Path, PathBuf};

/// Largest allowed difference of an image pixel, in 8-bit levels after drape's pixel conversion.
const LEVEL_TOLERANCE: f32 = 1.0;
/// Largest allowed absolute difference of an image value (images are about [-1, 1]).
const IMAGE_TOLERANCE: f32 = 1e-4;
/// Largest allowed difference of ws, relative to the largest |w|.
const WS_TOLERANCE: f32 = 1e-4;
/// The seeds `training.upstream_shapes` renders.
const SEEDS: [u32; 4] = [0, 1, 2, 42];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn npz(name: &str) -> (Vec<u64>, Vec<f32>) {
    npz_array(&fixtures().join("import/expected-32px.npz"), name)
}

/// Imports `file` (network `network`), writes the model folder and loads it back, so the comparison
/// covers the written file; checks that the folder holds exactly `rect-32px`'s tensors and settings.
fn import_as_rect(file: &str, network: Option<&str>, flavour: Flavour) -> Model {
    let path = fixtures().join("import").join(file);
    let imported = import_file(&path, network).unwrap();
    assert_eq!(imported.flavour, flavour, "{file}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model");
    write_model_folder(
        &imported,
        &SourceInfo::of(&path).unwrap(),
        &out,
        StorageType::F32,
    )
    .unwrap();
    let model = Model::load(&out).unwrap();
    let rect = Model::load(&fixtures().join("rect-32px")).unwrap();
    let (got, want) = (model.config(), rect.config());
    assert_eq!(
        (
            got.resolution,
            got.z_dim,
            got.w_dim,
            got.num_ws,
            got.mapping_layers,
            got.channel_base,
            got.channel_max,
            got.conv_clamp,
        ),
        (
            want.resolution,
            want.z_dim,
            want.w_dim,
            want.num_ws,
            want.mapping_layers,
            want.channel_base,
            want.channel_max,
            want.conv_clamp,
        ),
        "{file}"
    );
    assert_eq!(got.mapping_lr_multiplier, want.mapping_lr_multiplier);
    let tensors = model.named_tensors();
    let expected = rect.named_tensors();
    assert_eq!(tensors.len(), expected.len(), "{file}");
    for ((spec, data), (want_spec, want_data)) in tensors.iter().zip(&expected) {
        assert_eq!(spec.name, want_spec.name, "{file}");
        assert!(data == want_data, "{file}: {} differs", spec.name);
    }
    model
}

/// Maps and renders the expected seeds at psi 1 and 0.7 and compares with the PyTorch reference.
fn renders_like_reference(label: &str, model: &Model) {
    let (zshape, z) = npz("z");
    let batch = zshape[0] as usize;
    assert_eq!(batch, SEEDS.len());
    let z_dim = model.config().z_dim;
    let seeded: Vec<f32> = SEEDS.iter().flat_map(|&s| z_from_seed(s, z_dim)).collect();
    assert!(max_abs_diff(&seeded, &z) <= 1e-6, "{label}: z of the seeds");
    for (psi, name) in [(1.0, "psi10"), (0.7, "psi07")] {
        let ws = cpu::map(model, &z, batch, &Truncation::toward_w_avg(psi)).unwrap();
        let (_, want_ws) = npz(&format!("ws_{name}"));
        let ws_rel = max_rel_diff(&ws, &want_ws);
        let (ishape, want) = npz(&format!("img_{name}"));
        assert_eq!(ishape, [batch as u64, 3, 32, 32]);
        let img = cpu::synthesize(model, &ws, batch, &NoiseMode::Const).unwrap();
        let (levels, abs) = (max_level_diff(&img, &want), max_abs_diff(&img, &want));
        println!(
            "{label} {name}: ws {ws_rel:e} relative; images {levels} 8-bit levels, {abs:e} absolute"
        );
        assert!(ws_rel <= WS_TOLERANCE, "{label} {name}: ws {ws_rel}");
        assert!(levels <= LEVEL_TOLERANCE, "{label} {name}: {levels} levels");
        assert!(abs <= IMAGE_TOLERANCE, "{label} {name}: {abs}");
    }
}

#[test]
fn ada_shaped_pickle_imports_and_renders_like_the_reference() {
    let model = import_as_rect("ada-shaped-32px.pkl", None, Flavour::Ada);
    renders_like_reference("ada G_ema", &model);
}

#[test]
fn ada_shaped_pickle_gives_g_on_request() {
    let path = fixtures().join("import/ada-shaped-32px.pkl");
    let g = import_file(&path, Some("G")).unwrap();
    let g_ema = import_file(&path, Some("G_ema")).unwrap();
    assert_eq!(g.network, "G");
    assert_eq!(g.model.config().resolution, 32);
    let first = |m: &Model| m.mapping()[0].weight.clone();
    assert_ne!(first(&g.model), first(&g_ema.model), "G and G_ema differ");
}

#[test]
fn rosinality_shaped_legacy_checkpoint_imports_and_renders_like_the_reference() {
    let model = import_as_rect(
        "rosinality-shaped-32px.legacy.pt",
        None,
        Flavour::Rosinality,
    );
    renders_like_reference("rosinality legacy", &model);
}

#[test]
fn rosinality_shaped_zip_checkpoint_imports_and_renders_like_the_reference() {
    let model = import_as_rect("rosinality-shaped-32px.zip.pt", None, Flavour::Rosinality);
    renders_like_reference("rosinality zip", &model);
}
