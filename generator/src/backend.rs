//! One seam for every way of running the generator: the [`Backend`] trait (mapping, synthesis, traced
//! synthesis, the model, the largest batch) that nodes, direction discovery and the benchmark use;
//! the user's choice (`--backend auto|gpu|cpu`, `DRAPE_BACKEND`) and opening it.

use crate::cpu::Activation;
use crate::gpu::{AdapterChoice, Generator, GpuContext, GpuError};
use crate::input::InputError;
use crate::model::Model;
use crate::native::{CpuOptions, NativeCpu};
use crate::noise::NoiseMode;
use crate::truncation::Truncation;
use std::sync::Arc;
use std::time::Duration;

/// Environment variable that picks the backend when no `--backend` is given.
pub const BACKEND_ENV: &str = "DRAPE_BACKEND";

/// Why a backend could not be opened or could not run.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Bad latents from the caller.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The GPU backend failed.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// A backend name that is not one of ours.
    #[error("unknown backend `{0}`: choose auto, gpu or cpu")]
    UnknownBackend(String),
    /// `--backend gpu` on a machine whose only adapters are software drivers.
    #[error(
        "no hardware GPU adapter found{}; use `--backend cpu`, or name a software adapter with --adapter",
        if software.is_empty() { String::new() } else { format!(" (software adapters: {})", software.join(", ")) }
    )]
    NoHardwareGpu {
        /// Software adapters that exist (lavapipe, …).
        software: Vec<String>,
    },
    /// The CPU backend's thread pool could not start.
    #[error("cannot start {threads} CPU worker threads: {reason}")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// The system's reason.
        reason: String,
    },
}

/// Which kind of backend the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// A hardware GPU when there is one (or the adapter named with `--adapter`), else the native CPU
    /// backend.
    #[default]
    Auto,
    /// The WGSL path on a GPU adapter (software adapters only when named).
    Gpu,
    /// The native CPU backend.
    Cpu,
}

impl BackendKind {
    /// Every accepted name, for help texts.
    pub const NAMES: [&str; 3] = ["auto", "gpu", "cpu"];

    /// Parses `auto`, `gpu` or `cpu` (case-insensitive; empty is `auto`).
    pub fn parse(text: &str) -> Result<Self, BackendError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Self::Auto),
            "gpu" => Ok(Self::Gpu),
            "cpu" => Ok(Self::Cpu),
            _ => Err(BackendError::UnknownBackend(text.to_string())),
        }
    }

    /// The choice in `DRAPE_BACKEND`, `Auto` when unset.
    pub fn from_env() -> Result<Self, BackendError> {
        std::env::var(BACKEND_ENV).map_or(Ok(Self::Auto), |v| Self::parse(&v))
    }
}

/// A generator ready to run: the model's weights prepared on one backend.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Which backend this is, e.g. `cpu (native, 2 threads)` or `gpu: NVIDIA … (Vulkan, DiscreteGpu)`.
    fn describe(&self) -> String;

    /// The model it runs.
    fn model(&self) -> &Arc<Model>;

    /// The most designs one run holds; larger batches are split into runs of this size.
    fn max_batch(&self) -> usize;

    /// Mapping network, broadcast and truncation: z `[batch, z_dim]` → ws `[batch, num_ws, w_dim]`.
    fn map(
        &self,
        z: &[f32],
        batch: usize,
        truncation: &Truncation,
    ) -> Result<Vec<f32>, BackendError>;

    /// Synthesis network: ws `[batch, num_ws, w_dim]` → images `[batch, 3, R, R]` (f32, NCHW).
    fn synthesize(
        &self,
        ws: &[f32],
        batch: usize,
        noise: &NoiseMode,
    ) -> Result<Vec<f32>, BackendError>;

    /// Like [`Backend::synthesize`], also returning every layer's output, style vector and
    /// demodulation coefficients under the names of [`crate::cpu::synthesize_traced`].
    fn synthesize_traced(
        &self,
        ws: &[f32],
        batch: usize,
        noise: &NoiseMode,
    ) -> Result<(Vec<f32>, Vec<Activation>), BackendError>;

    /// Times the stages of one synthesis run of `batch` designs (at most [`Backend::max_batch`]), in
    /// network order: (stage, wall time). For finding where the time goes, not for throughput.
    fn profile_synthesis(
        &self,
        ws: &[f32],
        batch: usize,
    ) -> Result<Vec<(String, Duration)>, BackendError>;
}

/// Where generators will run, chosen before any model is loaded and shared by all of them.
#[derive(Debug, Clone)]
pub enum Device {
    /// A GPU adapter, for the WGSL path.
    Gpu(Arc<GpuContext>),
    /// This machine's CPU cores, for the native backend.
    Cpu(CpuOptions),
}

impl Device {
    /// Resolves the user's choice: `cpu` is the native backend; `gpu` opens the named adapter, or
    /// the best hardware adapter when none is named; `auto` is `gpu` when an adapter is named or a
    /// hardware GPU exists, and `cpu` otherwise. Software adapters (lavapipe) run only when named.
    pub fn open(
        kind: BackendKind,
        adapter: &AdapterChoice,
        cpu: CpuOptions,
    ) -> Result<Device, BackendError> {
        let named = *adapter != AdapterChoice::Auto;
        match kind {
            BackendKind::Cpu => Ok(Device::Cpu(cpu)),
            BackendKind::Gpu if named => Ok(Device::Gpu(Arc::new(GpuContext::new(adapter)?))),
            BackendKind::Gpu => match GpuContext::hardware()? {
                Some(context) => Ok(Device::Gpu(Arc::new(context))),
                None => Err(BackendError::NoHardwareGpu {
                    software: GpuContext::adapters().into_iter().map(|a| a.name).collect(),
                }),
            },
            BackendKind::Auto if named => Ok(Device::Gpu(Arc::new(GpuContext::new(adapter)?))),
            BackendKind::Auto => Ok(match GpuContext::hardware()? {
                Some(context) => Device::Gpu(Arc::new(context)),
                None => Device::Cpu(cpu),
            }),
        }
    }

    /// Prepares `model` on this device.
    pub fn backend(&self, model: Arc<Model>) -> Result<Arc<dyn Backend>, BackendError> {
        Ok(match self {
            Device::Gpu(context) => Arc::new(Generator::new(context.clone(), model)?),
            Device::Cpu(options) => Arc::new(NativeCpu::new(model, options)?),
        })
    }

    /// One line naming the device, e.g. `cpu (native, 2 threads)`.
    pub fn describe(&self) -> String {
        match self {
            Device::Gpu(context) => format!("gpu: {}", context.describe()),
            Device::Cpu(options) => NativeCpu::describe_options(options),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backend_names() {
        assert_eq!(BackendKind::parse("").unwrap(), BackendKind::Auto);
        assert_eq!(BackendKind::parse("CPU").unwrap(), BackendKind::Cpu);
        assert_eq!(BackendKind::parse(" gpu ").unwrap(), BackendKind::Gpu);
        let err = BackendKind::parse("cuda").unwrap_err().to_string();
        assert!(
            err.contains("`cuda`") && err.contains("auto, gpu or cpu"),
            "{err}"
        );
    }

    #[test]
    fn cpu_needs_no_adapter() {
        let device = Device::open(
            BackendKind::Cpu,
            &AdapterChoice::Auto,
            CpuOptions::default(),
        )
        .unwrap();
        assert!(matches!(device, Device::Cpu(_)));
        assert!(device.describe().starts_with("cpu (native"));
    }
}
