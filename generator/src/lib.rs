//! The StyleGAN2 generator: model files, a CPU reference and the WGSL/wgpu implementation.

pub mod seeds;
