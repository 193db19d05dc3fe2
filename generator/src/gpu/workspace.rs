//! The intermediate buffers of one batch capacity and the recorded steps (kernel, bind group,
//! parameters) of the mapping and synthesis networks; built once and reused by every run.

use super::GpuContext;
use super::params::{ConvParams, DemodParams, DenseParams, ToRgbParams};
use super::plan::{Plan, WORKGROUP_SIZE, conv_workgroups};
use super::shaders::Kernel;
use super::weights::GpuWeights;
use crate::model::Model;
use crate::network::AffineSpec;
use crate::network::{Layer, Network};
use crate::noise::NoiseMode;
use std::num::NonZeroU64;

/// What a step computes, with every parameter fixed except the batch and the noise mode.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    PixelNorm(DenseParams),
    Dense(DenseParams),
    Demodulation(DemodParams),
    Conv {
        params: ConvParams,
        up: bool,
        noise_strength: f32,
    },
    ToRgb(ToRgbParams),
}

impl Op {
    fn kernel(&self) -> Kernel {
        match self {
            Op::PixelNorm(_) => Kernel::PixelNorm,
            Op::Dense(_) => Kernel::Dense,
            Op::Demodulation(_) => Kernel::Demodulation,
            Op::Conv { up: false, .. } => Kernel::Conv3x3,
            Op::Conv { up: true, .. } => Kernel::Conv3x3Up2,
            Op::ToRgb(_) => Kernel::ToRgb,
        }
    }

    /// The uniform block for a run of `batch` designs.
    pub fn words(&self, batch: usize, noise: &NoiseMode) -> Vec<u32> {
        let batch = batch as u32;
        match self {
            Op::PixelNorm(p) | Op::Dense(p) => DenseParams { batch, ..*p }.words(),
            Op::Demodulation(p) => DemodParams { batch, ..*p }.words(),
            Op::ToRgb(p) => ToRgbParams { batch, ..*p }.words(),
            Op::Conv {
                params,
                up,
                noise_strength,
            } => {
                let out = params.size * if *up { 2 } else { 1 };
                let (noise_strength, noise_batch_stride) = match noise {
                    NoiseMode::Const => (*noise_strength, 0),
                    NoiseMode::Random { .. } => (*noise_strength, out * out),
                    NoiseMode::None => (0.0, 0),
                };
                ConvParams {
                    batch,
                    noise_strength,
                    noise_batch_stride,
                    ..*params
                }
                .words()
            }
        }
    }

    /// The dispatch grid for a run of `batch` designs.
    pub fn workgroups(&self, batch: usize) -> [u32; 3] {
        let groups = |n: usize| n.div_ceil(WORKGROUP_SIZE) as u32;
        match self {
            Op::PixelNorm(_) => [groups(batch), 1, 1],
            Op::Dense(p) => [groups(p.out_features as usize), batch as u32, 1],
            Op::Demodulation(p) => [groups(p.c_out as usize), batch as u32, 1],
            Op::Conv { params, up, .. } => {
                conv_workgroups(batch, params.size as usize, params.c_out as usize, *up)
            }
            Op::ToRgb(p) => [groups(batch * (p.size * p.size) as usize), 1, 1],
        }
    }
}

/// Where a step's result lies, for reading intermediates back: per design, `len` floats at `offset`
/// in a buffer with `stride` floats per design.
#[derive(Clone, Debug)]
pub(crate) struct Output {
    pub name: String,
    pub shape: Vec<usize>,
    pub buffer: wgpu::Buffer,
    pub offset: usize,
    pub stride: usize,
}

impl Output {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

/// One dispatch of a run.
pub(crate) struct Step {
    pub label: String,
    pub kernel: Kernel,
    pub bind_group: wgpu::BindGroup,
    /// Byte offset of the step's uniform block in the parameter buffer.
    pub slot: u64,
    pub op: Op,
    pub output: Option<Output>,
}

/// Buffers and steps for runs of up to `capacity` designs.
pub(crate) struct Workspace {
    pub capacity: usize,
    pub z: wgpu::Buffer,
    pub ws: wgpu::Buffer,
    pub params: wgpu::Buffer,
    pub noise: wgpu::Buffer,
    /// Byte offset of each conv layer's noise window.
    pub noise_windows: Vec<u64>,
    pub readback: wgpu::Buffer,
    pub mapping: Vec<Step>,
    pub mapping_output: wgpu::Buffer,
    pub synthesis: Vec<Step>,
    pub image_output: wgpu::Buffer,
}

fn align(value: u64, to: u64) -> u64 {
    value.div_ceil(to) * to
}

struct Builder<'a> {
    context: &'a GpuContext,
    params: wgpu::Buffer,
    slot_size: u64,
    steps: usize,
}

impl Builder<'_> {
    fn storage(&self, label: &str, floats: usize) -> wgpu::Buffer {
        self.context.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: align(4 * floats.max(1) as u64, 4),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    }

    /// A step whose bindings are `(binding index, resource)`; binding 0 is always its uniform block.
    fn step(
        &mut self,
        label: String,
        op: Op,
        resources: &[(u32, wgpu::BindingResource<'_>)],
        output: Option<Output>,
    ) -> Step {
        let kernel = op.kernel();
        let slot = self.steps as u64 * self.slot_size;
        self.steps += 1;
        let words = op.words(1, &NoiseMode::Const).len() as u64;
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &self.params,
                offset: slot,
                size: NonZeroU64::new(4 * words),
            }),
        }];
        entries.extend(
            resources
                .iter()
                .map(|(binding, resource)| wgpu::BindGroupEntry {
                    binding: *binding,
                    resource: resource.clone(),
                }),
        );
        let pipeline = self.context.pipelines().get(kernel);
        let bind_group = self
            .context
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&label),
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
        Step {
            label,
            kernel,
            bind_group,
            slot,
            op,
            output,
        }
    }
}

/// Upper bound on the steps of any model: pixel norm, mapping layers, and per synthesis layer an
/// affine, the layer itself and (for convs) its demodulation.
fn max_steps(network: &Network) -> usize {
    1 + network.mapping.len() + 3 * network.layers.len()
}

impl Workspace {
    pub fn new(
        context: &GpuContext,
        model: &Model,
        weights: &GpuWeights,
        plan: &Plan,
        capacity: usize,
    ) -> Workspace {
        let c = model.network();
        let limits = &context.limits;
        let slot_size = align(64, limits.min_uniform_buffer_offset_alignment as u64);
        let params = context.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kernel parameters"),
            size: slot_size * max_steps(c) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut b = Builder {
            context,
            params: params.clone(),
            slot_size,
            steps: 0,
        };
        let n = capacity;
        let z = b.storage("z", n * c.z_dim);
        let hidden = [
            b.storage("mapping hidden A", n * plan.hidden_len),
            b.storage("mapping hidden B", n * plan.hidden_len),
        ];
        let ws = b.storage("ws", n * c.num_ws * c.w_dim);
        let styles = b.storage("styles", n * plan.style_stride);
        let demod = b.storage("demodulation", n * plan.demod_stride);
        let acts = [
            b.storage("activations A", n * plan.activation_len),
            b.storage("activations B", n * plan.activation_len),
        ];
        let r = c.resolution;
        let images = [
            b.storage("images A", n * 3 * r * r),
            b.storage("images B", n * 3 * r * r),
        ];
        let window_align = limits.min_storage_buffer_offset_alignment as u64;
        let mut noise_windows = Vec::new();
        let mut noise_end = 0u64;
        for conv in c.convs() {
            noise_windows.push(noise_end);
            noise_end = align(
                noise_end + 4 * (n * conv.resolution * conv.resolution) as u64,
                window_align,
            );
        }
        let noise = b.storage("noise", (noise_end / 4) as usize);
        let readback = context.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: 4 * (n * (3 * r * r).max(c.w_dim)) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });

        // Mapping: pixel norm z → hidden A, then the dense layers ping-pong between the hidden buffers.
        let mut mapping = vec![b.step(
            "mapping.pixel_norm".into(),
            Op::PixelNorm(DenseParams {
                in_features: c.z_dim as u32,
                ..Default::default()
            }),
            &[
                (1, z.as_entire_binding()),
                (4, hidden[0].as_entire_binding()),
            ],
            None,
        )];
        for (i, (layer, spec)) in weights.mapping.iter().zip(&c.mapping).enumerate() {
            let params = DenseParams {
                in_features: spec.in_features as u32,
                out_features: spec.out_features as u32,
                activation: true,
                // pixel_norm writes rows of z_dim; the dense layers rows of hidden_len.
                in_stride: if i == 0 { c.z_dim } else { plan.hidden_len } as u32,
                out_stride: plan.hidden_len as u32,
                weight_gain: spec.weight_gain,
                bias_gain: spec.bias_gain,
                out_scale: 1.0,
                ..Default::default()
            };
            let (src, dst) = (&hidden[i % 2], &hidden[(i + 1) % 2]);
            mapping.push(b.step(
                spec.name.clone(),
                Op::Dense(params),
                &[
                    (1, src.as_entire_binding()),
                    (2, layer.weight.as_entire_binding()),
                    (3, layer.bias.as_entire_binding()),
                    (4, dst.as_entire_binding()),
                ],
                None,
            ));
        }
        let mapping_output = hidden[c.mapping.len() % 2].clone();

        // Styles of every modulated layer, then the demodulation coefficients of every conv.
        let mut synthesis = Vec::new();
        let affine = |b: &mut Builder,
                      label: String,
                      trace: String,
                      spec: &AffineSpec,
                      offset: usize,
                      affine: &super::weights::DenseBuffers| {
            let params = DenseParams {
                in_features: spec.in_features as u32,
                out_features: spec.out_features as u32,
                activation: false,
                in_offset: (spec.ws_index * c.w_dim) as u32,
                in_stride: (c.num_ws * c.w_dim) as u32,
                out_offset: offset as u32,
                out_stride: plan.style_stride as u32,
                weight_gain: spec.weight_gain,
                bias_gain: 1.0,
                out_scale: spec.out_scale,
                ..Default::default()
            };
            let output = Output {
                name: trace,
                shape: vec![spec.out_features],
                buffer: styles.clone(),
                offset,
                stride: plan.style_stride,
            };
            b.step(
                format!("{label}.affine"),
                Op::Dense(params),
                &[
                    (1, ws.as_entire_binding()),
                    (2, affine.weight.as_entire_binding()),
                    (3, affine.bias.as_entire_binding()),
                    (4, styles.as_entire_binding()),
                ],
                Some(output),
            )
        };
        for conv in c.convs() {
            let l = conv.index;
            let step = affine(
                &mut b,
                conv.prefix(),
                conv.style_name(),
                &conv.affine,
                plan.conv_style_offsets[l],
                &weights.convs[l].affine,
            );
            synthesis.push(step);
        }
        for torgb in c.torgbs() {
            let block = torgb.block;
            let step = affine(
                &mut b,
                torgb.prefix(),
                torgb.style_name(),
                &torgb.affine,
                plan.torgb_style_offsets[block],
                &weights.torgbs[block].affine,
            );
            synthesis.push(step);
        }
        for conv in c.convs() {
            let l = conv.index;
            let params = DemodParams {
                c_in: conv.c_in as u32,
                c_out: conv.c_out as u32,
                style_offset: plan.conv_style_offsets[l] as u32,
                style_stride: plan.style_stride as u32,
                out_offset: plan.demod_offsets[l] as u32,
                out_stride: plan.demod_stride as u32,
                ..Default::default()
            };
            let output = Output {
                name: conv.demod_name(),
                shape: vec![conv.c_out],
                buffer: demod.clone(),
                offset: plan.demod_offsets[l],
                stride: plan.demod_stride,
            };
            synthesis.push(b.step(
                format!("{}.demodulation", conv.prefix()),
                Op::Demodulation(params),
                &[
                    (1, styles.as_entire_binding()),
                    (2, weights.convs[l].weight_sq.as_entire_binding()),
                    (3, demod.as_entire_binding()),
                ],
                Some(output),
            ));
        }

        // The convs and toRGBs in network order.
        let mut last_image = 0;
        for layer in &c.layers {
            match layer {
                Layer::Conv(conv) => {
                    let l = conv.index;
                    let size = conv.input_size();
                    let (input, in_batch_stride) = if l == 0 {
                        (&weights.const_input, 0)
                    } else {
                        (&acts[(l - 1) % 2], conv.c_in * size * size)
                    };
                    let out = &acts[l % 2];
                    let r2 = conv.resolution * conv.resolution;
                    let params = ConvParams {
                        c_in: conv.c_in as u32,
                        c_out: conv.c_out as u32,
                        size: size as u32,
                        in_batch_stride: in_batch_stride as u32,
                        style_offset: plan.conv_style_offsets[l] as u32,
                        style_stride: plan.style_stride as u32,
                        demod_offset: plan.demod_offsets[l] as u32,
                        demod_stride: plan.demod_stride as u32,
                        clamp: conv.clamp,
                        ..Default::default()
                    };
                    let output = Output {
                        name: conv.output_name(),
                        shape: vec![conv.c_out, conv.resolution, conv.resolution],
                        buffer: out.clone(),
                        offset: 0,
                        stride: conv.c_out * r2,
                    };
                    let noise_binding = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &noise,
                        offset: noise_windows[l],
                        size: NonZeroU64::new(4 * (n * r2) as u64),
                    });
                    let layer = &weights.convs[l];
                    synthesis.push(b.step(
                        conv.prefix(),
                        Op::Conv {
                            params,
                            up: conv.up,
                            noise_strength: model.convs()[l].noise_strength,
                        },
                        &[
                            (1, input.as_entire_binding()),
                            (8, input.as_entire_binding()),
                            (2, layer.weight.as_entire_binding()),
                            (3, styles.as_entire_binding()),
                            (4, demod.as_entire_binding()),
                            (5, noise_binding),
                            (6, layer.bias.as_entire_binding()),
                            (7, out.as_entire_binding()),
                        ],
                        Some(output),
                    ));
                }
                Layer::ToRgb(torgb) => {
                    let (block, res) = (torgb.block, torgb.resolution);
                    // The conv before a toRGB is the block's conv1: its output is the input here.
                    let input = &acts[(2 * block) % 2];
                    let params = ToRgbParams {
                        c_in: torgb.c_in as u32,
                        size: res as u32,
                        style_offset: plan.torgb_style_offsets[block] as u32,
                        style_stride: plan.style_stride as u32,
                        has_previous: torgb.has_previous(),
                        clamp: torgb.clamp,
                        ..Default::default()
                    };
                    let image = &images[block % 2];
                    let output = Output {
                        name: torgb.output_name(),
                        shape: vec![3, res, res],
                        buffer: image.clone(),
                        offset: 0,
                        stride: 3 * res * res,
                    };
                    let buffers = &weights.torgbs[block];
                    synthesis.push(b.step(
                        torgb.prefix(),
                        Op::ToRgb(params),
                        &[
                            (1, input.as_entire_binding()),
                            (2, buffers.weight.as_entire_binding()),
                            (3, styles.as_entire_binding()),
                            (4, buffers.bias.as_entire_binding()),
                            (5, images[(block + 1) % 2].as_entire_binding()),
                            (6, image.as_entire_binding()),
                        ],
                        Some(output),
                    ));
                    last_image = block;
                }
            }
        }
        let image_output = images[last_image % 2].clone();
        Workspace {
            capacity,
            z,
            ws,
            params,
            noise,
            noise_windows,
            readback,
            mapping,
            mapping_output,
            synthesis,
            image_output,
        }
    }
}
