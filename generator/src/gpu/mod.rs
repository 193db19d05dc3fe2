//! The generator on the GPU: StyleGAN2 as hand-written WGSL compute shaders on wgpu.

mod context;
mod generator;
mod layout;
mod params;
mod plan;
pub mod shaders;
mod weights;
mod workspace;

pub use context::{ADAPTER_ENV, AdapterChoice, GpuContext};
pub use generator::Generator;
pub use plan::LOOP_LIMIT;

use crate::input::InputError;

/// Why the GPU generator could not run.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// wgpu found no adapter at all.
    #[error(
        "no GPU adapter found: install a Vulkan, Metal or DX12 GPU driver, or the software Vulkan \
         driver lavapipe (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers`)"
    )]
    NoAdapter,
    /// The requested adapter does not exist.
    #[error("no adapter matches `{choice}` (set {env} to an index or a name substring); available: {available:?}", env = ADAPTER_ENV)]
    AdapterNotFound {
        /// What was asked for.
        choice: String,
        /// Names of the adapters that exist, by index.
        available: Vec<String>,
    },
    /// The adapter refused to open a device.
    #[error("cannot open a device on {adapter}: {reason}")]
    Device {
        /// Adapter name.
        adapter: String,
        /// wgpu's reason.
        reason: String,
    },
    /// Something is larger than the device allows even for a single design.
    #[error("{what} needs {needed}, but this device allows at most {limit}")]
    DoesNotFit {
        /// What does not fit.
        what: String,
        /// Bytes (or invocations) needed.
        needed: usize,
        /// The device limit.
        limit: usize,
    },
    /// A kernel would loop more often per invocation than the driver reliably runs.
    #[error(
        "{layer} needs {trips} loop iterations per invocation, more than the {limit} drivers such as lavapipe execute"
    )]
    LoopLimit {
        /// The layer.
        layer: String,
        /// Iterations needed.
        trips: usize,
        /// The limit.
        limit: usize,
    },
    /// Bad latents from the caller.
    #[error(transparent)]
    Input(#[from] InputError),
    /// wgpu reported an error while running.
    #[error("GPU error during {during}: {message}")]
    Wgpu {
        /// What was being done.
        during: String,
        /// wgpu's message.
        message: String,
    },
}
