//! Both backends — the WGSL kernels on the GPU and the native CPU backend — against the f64 CPU
//! reference on small random models: every layer's styles, demodulation coefficients, activations
//! and images, the mapping network, all noise modes, truncation, batch splitting and bad latents.

mod common;

use common::*;
use drape_generator::cpu;
use drape_generator::{
    Backend, CpuOptions, Generator, Model, ModelConfig, NativeCpu, NoiseMode, Truncation,
};
use std::sync::Arc;

/// f32 kernels vs the f64-accumulating reference: relative to the tensor's magnitude.
const LAYER_TOLERANCE: f32 = 2e-5;

fn compare_traced(generator: &dyn Backend, ws: &[f32], batch: usize, noise: NoiseMode) {
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

/// The GPU backend on the test adapter (None when GPU tests are skipped explicitly).
fn gpu_backend(model: &Arc<Model>) -> Option<Box<dyn Backend>> {
    let gpu = gpu()?;
    Some(Box::new(Generator::new(gpu, model.clone()).unwrap()))
}

/// The native CPU backend with two threads.
fn native(model: &Arc<Model>) -> Box<dyn Backend> {
    let options = CpuOptions {
        threads: Some(2),
        ..CpuOptions::default()
    };
    Box::new(NativeCpu::new(model.clone(), &options).unwrap())
}

/// Every backend this machine can run for `model`.
fn backends(model: &Arc<Model>) -> Vec<Box<dyn Backend>> {
    [Some(native(model)), gpu_backend(model)]
        .into_iter()
        .flatten()
        .collect()
}

#[test]
fn every_layer_matches_the_cpu_reference() {
    let model = random_model(odd_config(), 11);
    for generator in backends(&model) {
        every_layer_matches(&*generator, &model);
    }
}

fn every_layer_matches(generator: &dyn Backend, model: &Arc<Model>) {
    eprintln!("{}", generator.describe());
    let c = model.config().clone();
    let batch = 3;
    let z = randn(batch * c.z_dim, 3);
    let truncation = Truncation {
        psi: 0.7,
        cutoff: Some(5),
        target: drape_generator::TruncationTarget::WAvg,
    };
    let want_ws = cpu::map(model, &z, batch, &truncation).unwrap();
    let ws = generator.map(&z, batch, &truncation).unwrap();
    let diff = assert_close("ws", &ws, &want_ws, LAYER_TOLERANCE);
    eprintln!("ws max |Δ| {diff:.2e}");
    for noise in [
        NoiseMode::Const,
        NoiseMode::None,
        NoiseMode::Random { seed: 9 },
    ] {
        compare_traced(generator, &want_ws, batch, noise);
    }
}

#[test]
fn the_smallest_resolution_without_clamp() {
    let config = ModelConfig::new(8, 8, 8, 1, 64, 8, None).unwrap();
    let model = random_model(config, 2);
    let ws = randn(2 * 4 * 8, 4);
    for generator in backends(&model) {
        compare_traced(&*generator, &ws, 2, NoiseMode::Const);
    }
}

#[test]
fn native_designs_do_not_depend_on_their_batch() {
    // 64 px with wide layers, so products span several column tiles.
    let config = ModelConfig::new(64, 16, 16, 2, 2048, 48, Some(256.0)).unwrap();
    let model = random_model(config, 7);
    let c = model.config().clone();
    let batch = 8;
    let ws = randn(batch * c.num_ws * c.w_dim, 2);
    let one_thread = NativeCpu::new(
        model.clone(),
        &CpuOptions {
            threads: Some(1),
            ..CpuOptions::default()
        },
    )
    .unwrap();
    let two_threads = native(&model);
    for noise in [NoiseMode::Const, NoiseMode::Random { seed: 4 }] {
        let together = two_threads.synthesize(&ws, batch, &noise).unwrap();
        let per_design = c.num_ws * c.w_dim;
        let image = 3 * c.resolution * c.resolution;
        for n in 0..batch {
            let design = &ws[n * per_design..(n + 1) * per_design];
            let alone = one_thread.synthesize(design, 1, &noise).unwrap();
            // Random noise follows the design's index in the batch; alone it is design 0.
            if noise == NoiseMode::Const || n == 0 {
                assert!(
                    alone == together[n * image..(n + 1) * image],
                    "design {n} alone equals design {n} of the batch, bit for bit ({noise:?})"
                );
            }
        }
    }
}

#[test]
fn native_batches_above_the_memory_budget_run_in_chunks() {
    let model = random_model(odd_config(), 5);
    let c = model.config().clone();
    let tight = NativeCpu::new(
        model.clone(),
        &CpuOptions {
            threads: Some(2),
            memory_budget: 1,
        },
    )
    .unwrap();
    assert_eq!(
        tight.max_batch(),
        1,
        "a budget below one design still runs one at a time"
    );
    let batch = 3;
    let ws = randn(batch * c.num_ws * c.w_dim, 8);
    let noise = NoiseMode::Random { seed: 2 };
    assert_eq!(
        tight.synthesize(&ws, batch, &noise).unwrap(),
        native(&model).synthesize(&ws, batch, &noise).unwrap()
    );
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
    let model = random_model(odd_config(), 5);
    for generator in backends(&model) {
        bad_latents_are_errors_on(&*generator);
    }
}

fn bad_latents_are_errors_on(generator: &dyn Backend) {
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
    assert_send_sync::<NativeCpu>();
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

#[test]
fn native_profile_names_every_stage() {
    let model = random_model(odd_config(), 5);
    let c = model.config().clone();
    let ws = randn(2 * c.num_ws * c.w_dim, 3);
    let stages = native(&model).profile_synthesis(&ws, 2).unwrap();
    let network = model.network();
    let convs = network.convs().count();
    let torgbs = network.torgbs().count();
    assert_eq!(stages.len(), 1 + 3 * convs + torgbs, "{stages:?}");
    assert_eq!(stages[0].0, "styles and demodulation");
    for conv in network.convs() {
        for part in ["input", "product", "epilogue"] {
            let name = format!("{} {part}", conv.prefix());
            assert!(stages.iter().any(|(s, _)| *s == name), "{name} timed");
        }
    }
}
