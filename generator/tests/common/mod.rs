//! Helpers shared by the integration tests: the GPU context, tiny random models and comparisons.
#![allow(dead_code)]

use drape_generator::model::RandomWeights;
use drape_generator::{AdapterChoice, GpuContext, Model, ModelConfig};
use std::sync::Arc;

/// Environment variable that lets a machine without any Vulkan driver skip the GPU tests explicitly.
pub const SKIP_GPU_ENV: &str = "DRAPE_SKIP_GPU_TESTS";

/// The GPU context for tests; without an adapter the test fails unless `DRAPE_SKIP_GPU_TESTS=1`.
pub fn gpu() -> Option<Arc<GpuContext>> {
    match GpuContext::new(&AdapterChoice::from_env()) {
        Ok(context) => Some(Arc::new(context)),
        Err(err) if std::env::var(SKIP_GPU_ENV).as_deref() == Ok("1") => {
            eprintln!("skipping GPU test ({SKIP_GPU_ENV}=1): {err}");
            None
        }
        Err(err) => {
            panic!("no GPU adapter for the GPU tests ({err}); set {SKIP_GPU_ENV}=1 to skip them")
        }
    }
}

/// A small network whose channel counts are not multiples of 8 and whose z is not a multiple of 4.
pub fn odd_config() -> ModelConfig {
    ModelConfig::new(32, 12, 16, 2, 192, 20, Some(0.8)).unwrap()
}

/// A random model with every bias, noise strength and w_avg non-zero.
pub fn random_model(config: ModelConfig, seed: u32) -> Arc<Model> {
    Arc::new(Model::random(config, RandomWeights { seed, spread: 0.3 }))
}

/// Random normal latents.
pub fn randn(count: usize, seed: u32) -> Vec<f32> {
    drape_generator::seeds::RandomState::new(seed).randn_f32(count)
}

/// Largest absolute difference.
pub fn max_abs_diff(got: &[f32], want: &[f32]) -> f32 {
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// Asserts `|got − want| ≤ tol·max(1, max|want|)` element-wise and returns the largest difference.
pub fn assert_close(name: &str, got: &[f32], want: &[f32], tol: f32) -> f32 {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let scale = want.iter().map(|v| v.abs()).fold(1.0, f32::max);
    let allowed = tol * scale;
    let (index, diff) = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold((0, 0.0f32), |best, (i, d)| {
            if d > best.1 || d.is_nan() {
                (i, d)
            } else {
                best
            }
        });
    assert!(
        diff <= allowed,
        "{name}: max |Δ| {diff:e} at {index} (got {}, want {}) exceeds {allowed:e} (tol {tol:e} × scale {scale})",
        got[index],
        want[index]
    );
    diff
}

/// Array `name` of the `.npz` at `path`, as float32, with its shape.
pub fn npz_array(path: &std::path::Path, name: &str) -> (Vec<u64>, Vec<f32>) {
    let mut archive = npyz::npz::NpzArchive::open(path).unwrap();
    let array = archive.by_name(name).unwrap().unwrap();
    let shape = array.shape().to_vec();
    (shape, array.into_vec::<f32>().unwrap())
}

/// Largest difference in 8-bit levels after drape's pixel conversion.
pub fn max_level_diff(got: &[f32], want: &[f32]) -> f32 {
    let level = |x: f32| (127.5 * x + 128.0).clamp(0.0, 255.0).floor();
    got.iter()
        .zip(want)
        .map(|(a, b)| (level(*a) - level(*b)).abs())
        .fold(0.0, f32::max)
}

/// Largest absolute difference relative to the largest magnitude of `want`.
pub fn max_rel_diff(got: &[f32], want: &[f32]) -> f32 {
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    max_abs_diff(got, want) / scale
}
