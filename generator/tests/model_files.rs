//! Loading model folders: a round trip in f32 and f16, and one clear error (naming the file and the
//! tensor) for each kind of broken file.

mod common;

use common::*;
use drape_generator::model::{ModelError, StorageType, WEIGHTS_FILE};
use drape_generator::{Model, ModelConfig};
use safetensors::{Dtype, tensor::TensorView};
use std::collections::HashMap;
use std::path::Path;

fn saved(storage: StorageType) -> (tempfile::TempDir, Model) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = odd_config();
    config.name = Some("tiny".into());
    let model = Model::random(
        config,
        drape_generator::model::RandomWeights {
            seed: 4,
            spread: 0.3,
        },
    );
    model.save(dir.path(), storage).unwrap();
    (dir, model)
}

/// Rewrites the weights file through `edit`, which gets the tensors (name → dtype, shape, bytes)
/// and the metadata.
fn rewrite(
    dir: &Path,
    edit: impl FnOnce(&mut HashMap<String, (Dtype, Vec<usize>, Vec<u8>)>, &mut HashMap<String, String>),
) {
    let path = dir.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    let mut tensors: HashMap<_, _> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                (view.dtype(), view.shape().to_vec(), view.data().to_vec()),
            )
        })
        .collect();
    edit(&mut tensors, &mut meta);
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(name, (dtype, shape, data))| {
            (
                name.clone(),
                TensorView::new(*dtype, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    std::fs::write(&path, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
}

fn load_err(dir: &Path) -> (ModelError, String) {
    let err = Model::load(dir).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(WEIGHTS_FILE),
        "the error names the file: {text}"
    );
    (err, text)
}

#[test]
fn round_trip_in_f32_is_exact() {
    let (dir, model) = saved(StorageType::F32);
    let loaded = Model::load(dir.path()).unwrap();
    assert_eq!(loaded.config(), model.config());
    assert_eq!(loaded.config().name.as_deref(), Some("tiny"));
    for ((spec_a, a), (spec_b, b)) in loaded.named_tensors().iter().zip(model.named_tensors()) {
        assert_eq!(spec_a, &spec_b);
        assert_eq!(*a, b, "{}", spec_a.name);
    }
    assert_eq!(loaded.w_avg(), model.w_avg());
}

#[test]
fn round_trip_in_f16_rounds_each_value() {
    let (dir, model) = saved(StorageType::F16);
    let loaded = Model::load(dir.path()).unwrap();
    for ((spec, a), (_, b)) in loaded.named_tensors().iter().zip(model.named_tensors()) {
        for (x, y) in a.iter().zip(b) {
            // f16 has an 11-bit significand: relative rounding error ≤ 2^-11.
            assert!(
                (x - y).abs() <= y.abs() * 4.9e-4 + 6e-8,
                "{}: {x} vs {y}",
                spec.name
            );
        }
    }
}

#[test]
fn noise_strength_may_have_shape_one() {
    let (dir, _) = saved(StorageType::F32);
    rewrite(dir.path(), |t, _| {
        t.get_mut("synthesis.b8.conv0.noise_strength").unwrap().1 = vec![1]
    });
    Model::load(dir.path()).unwrap();
}

#[test]
fn a_missing_folder_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let (err, _) = load_err(dir.path());
    assert!(matches!(err, ModelError::Io { .. }), "{err}");
}

#[test]
fn a_truncated_file() {
    let (dir, _) = saved(StorageType::F32);
    let path = dir.path().join(WEIGHTS_FILE);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let (err, _) = load_err(dir.path());
    assert!(matches!(err, ModelError::Corrupt { .. }), "{err}");
}

#[test]
fn a_file_padded_to_gigabytes_is_refused_from_its_header() {
    let (dir, _) = saved(StorageType::F32);
    let path = dir.path().join(WEIGHTS_FILE);
    // 3 GiB: sparse on disk, so the test writes almost nothing; reading it would take gigabytes.
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(3 << 30).unwrap();
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, ModelError::Corrupt { .. }), "{err}");
    assert!(text.contains("holds 3221225472 bytes"), "{text}");
    // A header length beyond the file is caught before reading it too.
    let mut bytes = vec![0u8; 64];
    bytes[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let (_, text) = load_err(dir.path());
    assert!(text.contains("header claims 1099511627776 bytes"), "{text}");
}

#[test]
fn a_corrupt_header() {
    let (dir, _) = saved(StorageType::F32);
    let path = dir.path().join(WEIGHTS_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8..20].copy_from_slice(b"not json at ");
    std::fs::write(&path, &bytes).unwrap();
    let (err, _) = load_err(dir.path());
    assert!(matches!(err, ModelError::Corrupt { .. }), "{err}");
}

#[test]
fn a_missing_tensor() {
    let (dir, _) = saved(StorageType::F32);
    rewrite(dir.path(), |t, _| {
        t.remove("synthesis.b16.conv1.affine.bias");
    });
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, ModelError::MissingTensor { .. }), "{err}");
    assert!(text.contains("synthesis.b16.conv1.affine.bias"), "{text}");
}

#[test]
fn a_mis_shaped_tensor() {
    let (dir, _) = saved(StorageType::F32);
    rewrite(dir.path(), |t, _| {
        t.get_mut("synthesis.b8.conv1.weight").unwrap().1 = vec![20, 20, 9, 1]
    });
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, ModelError::Shape { .. }), "{err}");
    assert!(text.contains("synthesis.b8.conv1.weight"), "{text}");
}

#[test]
fn metadata_that_contradicts_the_tensors() {
    // z_dim in the metadata disagrees with mapping.fc0.weight.
    let (dir, _) = saved(StorageType::F32);
    rewrite(dir.path(), |_, m| {
        m.insert("z_dim".into(), "16".into());
    });
    let (err, text) = load_err(dir.path());
    assert!(
        matches!(err, ModelError::Shape { .. }) && text.contains("mapping.fc0.weight"),
        "{text}"
    );
    // One mapping layer fewer than the file holds.
    let (dir, _) = saved(StorageType::F32);
    rewrite(dir.path(), |_, m| {
        m.insert("mapping_layers".into(), "1".into());
    });
    let (err, text) = load_err(dir.path());
    assert!(
        matches!(err, ModelError::Unexpected { .. }) && text.contains("mapping.fc1"),
        "{text}"
    );
    // num_ws that does not match the resolution.
    let (dir, _) = saved(StorageType::F32);
    rewrite(dir.path(), |_, m| {
        m.insert("num_ws".into(), "9".into());
    });
    let (err, text) = load_err(dir.path());
    assert!(
        matches!(err, ModelError::Metadata { .. }) && text.contains("num_ws"),
        "{text}"
    );
}

#[test]
fn unknown_format_or_version_or_bad_numbers() {
    for (key, value, expect) in [
        ("format", "something-else", "format"),
        ("format_version", "2", "format_version"),
        ("conv_clamp", "lots", "conv_clamp"),
        ("channel_base", "-3", "channel_base"),
        ("c_dim", "10", "c_dim"),
    ] {
        let (dir, _) = saved(StorageType::F32);
        rewrite(dir.path(), |_, m| {
            m.insert(key.into(), value.into());
        });
        let (err, text) = load_err(dir.path());
        assert!(
            matches!(err, ModelError::Metadata { .. }) && text.contains(expect),
            "{key}: {text}"
        );
    }
    let (dir, _) = saved(StorageType::F32);
    rewrite(dir.path(), |_, m| {
        m.remove("w_dim");
    });
    let (_, text) = load_err(dir.path());
    assert!(text.contains("`w_dim`: missing"), "{text}");
}

#[test]
fn non_finite_values() {
    for bad in [f32::NAN, f32::INFINITY] {
        let (dir, _) = saved(StorageType::F32);
        rewrite(dir.path(), |t, _| {
            let data = &mut t.get_mut("synthesis.b32.torgb.weight").unwrap().2;
            data[8..12].copy_from_slice(&bad.to_le_bytes());
        });
        let (err, text) = load_err(dir.path());
        assert!(
            matches!(err, ModelError::NonFinite { index: 2, .. }),
            "{err}"
        );
        assert!(text.contains("synthesis.b32.torgb.weight"), "{text}");
    }
}

#[test]
fn an_unsupported_dtype() {
    let (dir, _) = saved(StorageType::F32);
    rewrite(dir.path(), |t, _| {
        let entry = t.get_mut("mapping.w_avg").unwrap();
        entry.0 = Dtype::I32;
    });
    let (err, text) = load_err(dir.path());
    assert!(
        matches!(err, ModelError::Dtype { .. }) && text.contains("mapping.w_avg"),
        "{text}"
    );
}

#[test]
fn configs_outside_the_supported_range() {
    assert!(ModelConfig::new(4, 8, 8, 1, 64, 8, None).is_err());
    assert!(ModelConfig::new(1024, 8, 8, 1, 16384, 8, None).is_ok());
}
