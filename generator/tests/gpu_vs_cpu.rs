//! The GPU kernels against the CPU reference on small random models: every layer's styles,
//! demodulation coefficients, activations and images, the mapping network, all noise modes,
//! truncation, batch splitting and f16 weights.

mod common;

use common::*;
use drape_generator::cpu;
use drape_generator::{Generator, ModelConfig, NoiseMode, Truncation};
use std::sync::Arc;

/// f32 kernels vs the f64-accumulating reference: relative to the tensor's magnitude.
const LAYER_TOLERANCE: f32 = 2e-5;

fn compare_traced(generator: &Generator, ws: &[f32], batch: usize, noise: NoiseMode) {
    let model = generator.model();
    let (want_img, want) = cpu::synthesize_traced(model, ws, batch, &noise).unwrap();
    let (got_img, got) = generator.synthesize_traced(ws, batch, &noise).unwrap();
    assert_eq!(got.len(), want.len(), "same intermediates");
    for expected in &want {
        let actual = got
            .iter()
            .find(|a| a.name == expected.name)
            .unwrap_or_else(|| panic!("{} traced", expected.name));
        assert_eq!(actual.shape, expected.shape, "{}", expected.name);
        let diff = assert_close(
            &format!("{} ({noise:?})", expected.name),
            &actual.data,
            &expected.data,
            LAYER_TOLERANCE,
        );
        eprintln!("{:<22} max |Δ| {diff:.2e}", expected.name);
    }
    let diff = assert_close("image", &got_img, &want_img, LAYER_TOLERANCE);
    eprintln!("image ({noise:?}) max |Δ| {diff:.2e}");
    let plain = generator.synthesize(ws, batch, &noise).unwrap();
    assert_eq!(plain, got_img, "traced and plain runs agree exactly");
}

#[test]
fn every_layer_matches_the_cpu_reference() {
    let Some(gpu) = gpu() else { return };
    let model = random_model(odd_config(), 11);
    let generator = Generator::new(gpu, model.clone()).unwrap();
    let c = model.config().clone();
    let batch = 3;
    let z = randn(batch * c.z_dim, 3);
    let truncation = Truncation {
        psi: 0.7,
        cutoff: Some(5),
        target: drape_generator::TruncationTarget::WAvg,
    };
    let want_ws = cpu::map(&model, &z, batch, &truncation).unwrap();
    let ws = generator.map(&z, batch, &truncation).unwrap();
    let diff = assert_close("ws", &ws, &want_ws, LAYER_TOLERANCE);
    eprintln!("ws max |Δ| {diff:.2e}");
    for noise in [
        NoiseMode::Const,
        NoiseMode::None,
        NoiseMode::Random { seed: 9 },
    ] {
        compare_traced(&generator, &want_ws, batch, noise);
    }
}

#[test]
fn the_smallest_resolution_without_clamp() {
    let Some(gpu) = gpu() else { return };
    let config = ModelConfig::new(8, 8, 8, 1, 64, 8, None).unwrap();
    let model = random_model(config, 2);
    let generator = Generator::new(gpu, model.clone()).unwrap();
    let ws = randn(2 * 4 * 8, 4);
    compare_traced(&generator, &ws, 2, NoiseMode::Const);
}

#[test]
fn batches_are_split_into_runs_that_fit() {
    let Some(gpu) = gpu() else { return };
    let model = random_model(odd_config(), 5);
    let c = model.config().clone();
    let whole = Generator::new(gpu.clone(), model.clone()).unwrap();
    let split = Generator::new(gpu, model.clone())
        .unwrap()
        .with_max_batch(2);
    assert_eq!(split.max_batch(), 2);
    let batch = 5;
    let ws = randn(batch * c.num_ws * c.w_dim, 8);
    for noise in [NoiseMode::Const, NoiseMode::Random { seed: 1 }] {
        let once = whole.synthesize(&ws, batch, &noise).unwrap();
        let in_runs = split.synthesize(&ws, batch, &noise).unwrap();
        assert_eq!(
            once, in_runs,
            "runs of 2 + 2 + 1 give the same images ({noise:?})"
        );
        assert_close(
            "split vs CPU",
            &in_runs,
            &cpu::synthesize(&model, &ws, batch, &noise).unwrap(),
            LAYER_TOLERANCE,
        );
    }
    let z = randn(batch * c.z_dim, 1);
    let t = Truncation::toward_zero(0.5);
    assert_close(
        "map in runs",
        &split.map(&z, batch, &t).unwrap(),
        &cpu::map(&model, &z, batch, &t).unwrap(),
        LAYER_TOLERANCE,
    );
}

#[test]
fn bad_latents_are_errors() {
    let Some(gpu) = gpu() else { return };
    let model = random_model(odd_config(), 5);
    let generator = Generator::new(gpu, model.clone()).unwrap();
    let err = generator
        .synthesize(&[0.0; 7], 1, &NoiseMode::Const)
        .unwrap_err();
    assert!(err.to_string().contains("ws has 7 values"), "{err}");
    let mut z = randn(12, 1);
    z[3] = f32::NAN;
    let err = generator.map(&z, 1, &Truncation::NONE).unwrap_err();
    assert!(err.to_string().contains("non-finite"), "{err}");
    assert!(generator.map(&[], 0, &Truncation::NONE).is_err());
}

#[test]
fn generator_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Generator>();
    assert_send_sync::<Arc<drape_generator::GpuContext>>();
}

#[test]
fn an_unknown_adapter_is_a_clear_error() {
    use drape_generator::{AdapterChoice, GpuContext, GpuError};
    let err = GpuContext::new(&AdapterChoice::Name("no such adapter 1234".into())).unwrap_err();
    assert!(matches!(err, GpuError::AdapterNotFound { .. }), "{err}");
    assert!(err.to_string().contains("DRAPE_ADAPTER"), "{err}");
    let err = GpuContext::new(&AdapterChoice::Index(10_000)).unwrap_err();
    assert!(matches!(err, GpuError::AdapterNotFound { .. }), "{err}");
    assert!(
        GpuError::NoAdapter
            .to_string()
            .contains("mesa-vulkan-drivers")
    );
}
