//! The StyleGAN2 generator: model files, a CPU reference and the WGSL/wgpu implementation.

pub mod backend;
pub mod bench;
pub mod config;
pub mod cpu;
pub mod gpu;
pub mod import;
pub mod input;
pub mod model;
pub mod native;
pub mod network;
pub mod noise;
pub mod prepared;
pub mod seeds;
pub mod truncation;

pub use backend::{Backend, BackendError, BackendKind, Device};
pub use config::ModelConfig;
pub use gpu::{AdapterChoice, Generator, GpuContext, GpuError};
pub use input::InputError;
pub use model::{Model, ModelError};
pub use native::{CpuOptions, NativeCpu};
pub use noise::NoiseMode;
pub use truncation::{Truncation, TruncationTarget, truncate};
