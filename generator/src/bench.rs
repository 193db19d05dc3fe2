//! The generator benchmark behind `drape bench`: images/s and achieved GFLOP/s per batch size, for a
//! model folder and for a 256 px config-F-sized network with random weights.

use crate::backend::{BackendError, BackendKind, Device};
use crate::config::ModelConfig;
use crate::gpu::AdapterChoice;
use crate::model::{Model, ModelError, RandomWeights};
use crate::native::{CpuOptions, NativeCpu};
use crate::noise::NoiseMode;
use crate::seeds::RandomState;
use crate::truncation::Truncation;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// A model folder to time (for example one written by `python -m training.bench --save DIR`).
    pub model_dir: Option<PathBuf>,
    /// Also time the 256 px config-F-sized network with random weights.
    pub config_f: bool,
    /// Batch sizes.
    pub batches: Vec<usize>,
    /// The backend to run on.
    pub backend: BackendKind,
    /// The adapter, for the GPU backend.
    pub adapter: AdapterChoice,
    /// Threads and memory of the CPU backend.
    pub cpu: CpuOptions,
    /// Keep repeating a measurement until this much time has passed (at least one timed run).
    pub min_seconds: f64,
    /// Also time every stage of one synthesis run at the largest batch.
    pub profile: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            model_dir: None,
            config_f: false,
            batches: vec![1, 8, 32],
            backend: BackendKind::Auto,
            adapter: AdapterChoice::from_env(),
            cpu: CpuOptions::default(),
            min_seconds: 2.0,
            profile: false,
        }
    }
}

/// One measurement: a model at a batch size.
#[derive(Clone, Debug)]
pub struct BenchResult {
    /// Model label (its name, folder or "config-F 256 (random)").
    pub model: String,
    /// Designs per call.
    pub batch: usize,
    /// Timed calls of map + synthesize.
    pub runs: usize,
    /// Mean seconds per call.
    pub seconds_per_call: f64,
    /// Designs per second.
    pub images_per_second: f64,
    /// Analytic GFLOP per image ([`crate::network::Network::flops_per_image`]).
    pub gflop_per_image: f64,
    /// Achieved GFLOP/s.
    pub gflops: f64,
}

/// Per-stage timings of one synthesis run (per dispatch on the GPU; per im2col, product and
/// epilogue of each conv on the CPU).
#[derive(Clone, Debug)]
pub struct DispatchProfile {
    /// Model label.
    pub model: String,
    /// Batch size.
    pub batch: usize,
    /// (step, wall time) in network order.
    pub steps: Vec<(String, Duration)>,
}

/// Everything a benchmark measured.
#[derive(Clone, Debug)]
pub struct BenchReport {
    /// The backend that ran, e.g. `cpu (native, 2 threads)`.
    pub backend: String,
    /// On the CPU backend: the GFLOP/s of its matrix product on a large problem (the ceiling).
    pub matmul_ceiling: Option<f64>,
    /// Measurements in order.
    pub results: Vec<BenchResult>,
    /// Dispatch profiles, when asked for.
    pub profiles: Vec<DispatchProfile>,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The model folder could not be loaded.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Nothing to do.
    #[error(
        "nothing to benchmark: give a model folder or enable the config-F network, and at least one batch size"
    )]
    Empty,
}

/// Runs the benchmark, calling `progress` after each measurement.
pub fn run(
    options: &BenchOptions,
    mut progress: impl FnMut(&BenchResult),
) -> Result<BenchReport, BenchError> {
    let mut models: Vec<(String, Arc<Model>)> = Vec::new();
    if let Some(dir) = &options.model_dir {
        let model = Model::load(dir)?;
        let label = model
            .config()
            .name
            .clone()
            .unwrap_or_else(|| dir.display().to_string());
        models.push((label, Arc::new(model)));
    }
    if options.config_f {
        let model = Model::random(
            ModelConfig::config_f_256(),
            RandomWeights {
                seed: 0,
                spread: 0.0,
            },
        );
        models.push(("config-F 256 (random)".into(), Arc::new(model)));
    }
    if models.is_empty() || options.batches.iter().all(|&b| b == 0) {
        return Err(BenchError::Empty);
    }
    let device = Device::open(options.backend, &options.adapter, options.cpu.clone())?;
    let mut report = BenchReport {
        backend: device.describe(),
        matmul_ceiling: match &device {
            Device::Cpu(cpu) => Some(NativeCpu::matmul_ceiling(
                cpu,
                options.min_seconds.min(2.0),
            )?),
            Device::Gpu(_) => None,
        },
        results: Vec::new(),
        profiles: Vec::new(),
    };
    for (label, model) in models {
        let generator = device.backend(model.clone())?;
        let c = model.config();
        for &batch in options.batches.iter().filter(|&&b| b > 0) {
            let z = RandomState::new(batch as u32).randn_f32(batch * c.z_dim);
            let call = || -> Result<(), BackendError> {
                let ws = generator.map(&z, batch, &Truncation::NONE)?;
                generator.synthesize(&ws, batch, &NoiseMode::Const)?;
                Ok(())
            };
            call()?; // warm-up: builds the workspace for this batch
            let start = Instant::now();
            let mut runs = 0;
            while runs == 0 || start.elapsed().as_secs_f64() < options.min_seconds {
                call()?;
                runs += 1;
            }
            let seconds_per_call = start.elapsed().as_secs_f64() / runs as f64;
            let gflop_per_image = model.network().flops_per_image() / 1e9;
            let images_per_second = batch as f64 / seconds_per_call;
            let result = BenchResult {
                model: label.clone(),
                batch,
                runs,
                seconds_per_call,
                images_per_second,
                gflop_per_image,
                gflops: images_per_second * gflop_per_image,
            };
            progress(&result);
            report.results.push(result);
        }
        if options.profile {
            let batch = options
                .batches
                .iter()
                .copied()
                .max()
                .unwrap_or(1)
                .min(generator.max_batch());
            let z = RandomState::new(0).randn_f32(batch * c.z_dim);
            let ws = generator.map(&z, batch, &Truncation::NONE)?;
            let steps = generator.profile_synthesis(&ws, batch)?;
            report.profiles.push(DispatchProfile {
                model: label.clone(),
                batch,
                steps,
            });
        }
    }
    Ok(report)
}

impl std::fmt::Display for BenchResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<28} batch {:>3}: {:>8.3} images/s, {:>7.2} GFLOP/s ({:.2} GFLOP/image, {:.3} s/call, {} runs)",
            self.model,
            self.batch,
            self.images_per_second,
            self.gflops,
            self.gflop_per_image,
            self.seconds_per_call,
            self.runs
        )
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "backend: {}", self.backend)?;
        if let Some(ceiling) = self.matmul_ceiling {
            writeln!(
                f,
                "matmul ceiling: {ceiling:.1} GFLOP/s ([512, 4608] x [4608, 1024], same crate and threads)"
            )?;
        }
        for result in &self.results {
            writeln!(f, "{result}")?;
        }
        for profile in &self.profiles {
            let total: Duration = profile.steps.iter().map(|(_, t)| *t).sum();
            writeln!(
                f,
                "per-stage times, {} at batch {} (total {:.3} s):",
                profile.model,
                profile.batch,
                total.as_secs_f64()
            )?;
            for (step, time) in &profile.steps {
                let share = 100.0 * time.as_secs_f64() / total.as_secs_f64().max(f64::MIN_POSITIVE);
                writeln!(
                    f,
                    "  {step:<36} {:>9.3} ms {share:>5.1}%",
                    time.as_secs_f64() * 1e3
                )?;
            }
        }
        Ok(())
    }
}
