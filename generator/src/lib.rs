//! The StyleGAN2 generator: model files, a CPU reference and the WGSL/wgpu implementation.

pub mod bench;
pub mod config;
pub mod cpu;
pub mod flops;
pub mod gpu;
pub mod input;
pub mod model;
pub mod noise;
pub mod seeds;
pub mod truncation;

pub use config::ModelConfig;
pub use gpu::{AdapterChoice, Generator, GpuContext, GpuError};
pub use input::InputError;
pub use model::{Model, ModelError};
pub use noise::NoiseMode;
pub use truncation::{Truncation, TruncationTarget, truncate};
