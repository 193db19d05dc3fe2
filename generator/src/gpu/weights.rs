//! Uploading a model's weights once, in the layouts the kernels read.

use super::{GpuContext, GpuError, layout};
use crate::model::Model;
use wgpu::util::DeviceExt;

/// One dense layer on the device.
pub(crate) struct DenseBuffers {
    pub weight: wgpu::Buffer,
    pub bias: wgpu::Buffer,
}

/// One modulated conv layer on the device.
pub(crate) struct ConvBuffers {
    pub affine: DenseBuffers,
    /// Shader layout (see `layout.rs`), four phases for up-sampling convs.
    pub weight: wgpu::Buffer,
    pub weight_sq: wgpu::Buffer,
    pub bias: wgpu::Buffer,
}

/// One toRGB layer on the device.
pub(crate) struct ToRgbBuffers {
    pub affine: DenseBuffers,
    pub weight: wgpu::Buffer,
    pub bias: wgpu::Buffer,
}

/// All weights of a model on the device.
pub(crate) struct GpuWeights {
    pub mapping: Vec<DenseBuffers>,
    pub const_input: wgpu::Buffer,
    pub convs: Vec<ConvBuffers>,
    pub torgbs: Vec<ToRgbBuffers>,
    /// Every conv layer's `noise_const`, back to back.
    pub noise_const: wgpu::Buffer,
    /// Byte offset of each layer's map in `noise_const`.
    pub noise_const_offsets: Vec<u64>,
}

struct Uploader<'a> {
    context: &'a GpuContext,
}

impl Uploader<'_> {
    fn buffer(&self, name: &str, data: &[f32]) -> Result<wgpu::Buffer, GpuError> {
        let bytes = std::mem::size_of_val(data);
        let limit = self
            .context
            .limits
            .max_storage_buffer_binding_size
            .min(self.context.limits.max_buffer_size);
        if bytes as u64 > limit {
            return Err(GpuError::DoesNotFit {
                what: format!("the weights of {name}"),
                needed: bytes,
                limit: limit as usize,
            });
        }
        Ok(self
            .context
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(name),
                contents: bytemuck::cast_slice(data),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            }))
    }

    fn dense(&self, name: &str, weight: &[f32], bias: &[f32]) -> Result<DenseBuffers, GpuError> {
        Ok(DenseBuffers {
            weight: self.buffer(&format!("{name}.weight"), weight)?,
            bias: self.buffer(&format!("{name}.bias"), bias)?,
        })
    }
}

impl GpuWeights {
    pub fn upload(context: &GpuContext, model: &Model) -> Result<GpuWeights, GpuError> {
        let up = Uploader { context };
        let mapping = model
            .mapping()
            .iter()
            .enumerate()
            .map(|(i, l)| up.dense(&format!("mapping.fc{i}"), &l.weight, &l.bias))
            .collect::<Result<_, _>>()?;
        let const_input = up.buffer("synthesis.b4.const", model.const_input())?;
        let mut convs = Vec::new();
        let mut noise = Vec::new();
        let mut noise_const_offsets = Vec::new();
        for conv in model.convs() {
            let s = &conv.spec;
            let name = s.prefix();
            let laid_out = if s.up {
                layout::up_conv_weights(&conv.weight, s.c_out, s.c_in)
            } else {
                layout::conv_weights(&conv.weight, s.c_out, s.c_in)
            };
            convs.push(ConvBuffers {
                affine: up.dense(
                    &format!("{name}.affine"),
                    &conv.affine.weight,
                    &conv.affine.bias,
                )?,
                weight: up.buffer(&format!("{name}.weight"), &laid_out)?,
                weight_sq: up.buffer(
                    &format!("{name}.weight (squared sums)"),
                    &crate::prepared::squared_sums(&conv.weight),
                )?,
                bias: up.buffer(&format!("{name}.bias"), &conv.bias)?,
            });
            noise_const_offsets.push(4 * noise.len() as u64);
            noise.extend_from_slice(&conv.noise_const);
        }
        let torgbs = model
            .torgbs()
            .iter()
            .map(|t| {
                let name = t.spec.prefix();
                Ok(ToRgbBuffers {
                    affine: up.dense(
                        &format!("{name}.affine"),
                        &t.affine.weight,
                        &t.affine.bias,
                    )?,
                    weight: up.buffer(&format!("{name}.weight"), &t.weight)?,
                    bias: up.buffer(&format!("{name}.bias"), &t.bias)?,
                })
            })
            .collect::<Result<_, GpuError>>()?;
        let noise_const = up.buffer("noise_const (all layers)", &noise)?;
        Ok(GpuWeights {
            mapping,
            const_input,
            convs,
            torgbs,
            noise_const,
            noise_const_offsets,
        })
    }
}
