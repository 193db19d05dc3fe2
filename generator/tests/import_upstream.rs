//! Imports the genuine upstream checkpoints in `../shared/fixtures/upstream/` (an ADA network pickle
//! and a rosinality checkpoint in both torch formats) and compares drape's f64 reference with the
//! images and W+ the upstream code computed. Skipped, with a note, when that folder is absent.

mod common;

use common::{max_level_diff, max_rel_diff, npz_array};
use drape_generator::import::{SourceInfo, import_file, write_model_folder};
use drape_generator::model::StorageType;
use drape_generator::{Model, NoiseMode, Truncation, cpu};
use std::path::{Path, PathBuf};

fn upstream() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/upstream");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "note: {} is absent; skipping the upstream checkpoint comparison",
            dir.display()
        );
        None
    }
}

/// Imports, writes and reloads the model folder, so the comparison covers the written file.
fn import_and_reload(file: &Path) -> Model {
    let imported = import_file(file, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model");
    write_model_folder(
        &imported,
        &SourceInfo::of(file).unwrap(),
        &out,
        StorageType::F32,
    )
    .unwrap();
    let card = std::fs::read_to_string(out.join("MODEL.md")).unwrap();
    assert!(
        card.contains(&SourceInfo::of(file).unwrap().sha256),
        "{card}"
    );
    Model::load(&out).unwrap()
}

fn check_images(label: &str, model: &Model, ws: &[f32], batch: usize, want: &[f32]) -> f32 {
    let img = cpu::synthesize(model, ws, batch, &NoiseMode::Const).unwrap();
    assert_eq!(img.len(), want.len(), "{label}");
    let levels = max_level_diff(&img, want);
    let abs = img
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    println!("{label}: max difference {levels} 8-bit levels ({abs:e} in [-1, 1] units)");
    assert!(levels <= 1.0, "{label}: {levels} levels");
    assert!(abs <= 1e-4, "{label}: {abs}");
    levels
}

#[test]
fn ada_pickle_matches_upstream() {
    let Some(dir) = upstream() else { return };
    let model = import_and_reload(&dir.join("ada-32px.pkl"));
    let expected = dir.join("ada-32px.expected.npz");
    let (zshape, z) = npz_array(&expected, "z");
    let batch = zshape[0] as usize;
    for (psi, ws_name, img_name) in [
        (1.0, "ws_psi10", "img_psi10"),
        (0.7, "ws_psi07", "img_psi07"),
    ] {
        let ws = cpu::map(&model, &z, batch, &Truncation::toward_w_avg(psi)).unwrap();
        let (_, want_ws) = npz_array(&expected, ws_name);
        let rel = max_rel_diff(&ws, &want_ws);
        println!("ada {ws_name}: max relative difference {rel:e}");
        assert!(rel <= 1e-4, "{ws_name}: {rel}");
        let (_, want) = npz_array(&expected, img_name);
        check_images(&format!("ada {img_name}"), &model, &ws, batch, &want);
    }
}

fn check_rosinality(file: &str) {
    let Some(dir) = upstream() else { return };
    let model = import_and_reload(&dir.join(file));
    let expected = dir.join("rosinality-64px.expected.npz");
    let (zshape, z) = npz_array(&expected, "z");
    let batch = zshape[0] as usize;
    for (truncation, img_name) in [
        (Truncation::NONE, "img_psi1"),
        (Truncation::toward_zero(0.7), "img_psi07_toward_zero"),
        (Truncation::toward_w_avg(0.7), "img_psi07_toward_mean"),
    ] {
        let ws = cpu::map(&model, &z, batch, &truncation).unwrap();
        let (_, want) = npz_array(&expected, img_name);
        check_images(&format!("{file} {img_name}"), &model, &ws, batch, &want);
    }
}

#[test]
fn rosinality_legacy_checkpoint_matches_upstream() {
    check_rosinality("rosinality-64px.legacy.pt");
}

#[test]
fn rosinality_zip_checkpoint_matches_upstream() {
    check_rosinality("rosinality-64px.zip.pt");
}
