//! The native CPU backend: the same arithmetic as the WGSL path in f32 on the CPU — the input scaled
//! by the styles, one shared-weight convolution as matrix products on faer (im2col at 4 px,
//! Winograd F(2×2, 3×3) from 8 px up), the up-sampling conv as a transposed conv with the 4×4 FIR,
//! then demodulation, noise, bias, lrelu·gain and clamp; toRGB with the skip up-sampling. Designs
//! are independent (a batch of 8 equals 8 batches of 1 bit for bit); rayon spreads them, their
//! channels and the column tiles of each product over the worker threads. Buffers are sized once
//! per batch capacity and reused; batches above a memory budget run in chunks.

mod kernels;
mod weights;

use crate::backend::{Backend, BackendError};
use crate::cpu::Activation;
use crate::input;
use crate::model::Model;
use crate::network::{ConvSpec, Layer, Network, ToRgbSpec};
use crate::noise::{NoiseMode, random_noise};
use crate::truncation::{Truncation, broadcast, truncate};
use faer::{MatMut, MatRef};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weights::Prepared;

/// Input pixels per parallel task when the patches are gathered channel by channel.
const PIXELS_PER_TASK: usize = 4096;

/// Bytes of intermediate buffers one run may hold unless told otherwise (1 GiB).
pub const DEFAULT_MEMORY_BUDGET: usize = 1 << 30;

/// How the native backend runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuOptions {
    /// Worker threads; `None` uses one per core.
    pub threads: Option<usize>,
    /// Bytes of intermediate buffers one run may hold; larger batches run in chunks.
    pub memory_budget: usize,
}

impl Default for CpuOptions {
    fn default() -> Self {
        Self {
            threads: None,
            memory_budget: DEFAULT_MEMORY_BUDGET,
        }
    }
}

/// A model prepared for the CPU.
pub struct NativeCpu {
    model: Arc<Model>,
    weights: Prepared,
    layout: Layout,
    pool: rayon::ThreadPool,
    max_batch: usize,
    workspace: Mutex<Option<Workspace>>,
    /// One output row of zeros: the noise of layers without noise.
    zeros: Vec<f32>,
}

impl std::fmt::Debug for NativeCpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeCpu")
            .field("threads", &self.pool.current_num_threads())
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

/// Per-design sizes (floats) and offsets of the intermediate buffers.
#[derive(Clone, Debug)]
struct Layout {
    /// Offset of each synthesis layer's style vector (conv and toRGB, network order).
    style_offsets: Vec<usize>,
    /// Offset of each conv layer's style vector, by conv index.
    conv_style_offsets: Vec<usize>,
    style_len: usize,
    /// Offset of each conv layer's demodulation coefficients.
    demod_offsets: Vec<usize>,
    demod_len: usize,
    activation_len: usize,
    col_len: usize,
    /// The largest product output that an epilogue finishes (transposed-conv taps or Winograd
    /// planes).
    taps_len: usize,
    image_len: usize,
}

impl Layout {
    fn new(network: &Network) -> Layout {
        let mut style_offsets = Vec::new();
        let mut conv_style_offsets = Vec::new();
        let mut style_len = 0;
        for layer in &network.layers {
            let affine = match layer {
                Layer::Conv(c) => {
                    conv_style_offsets.push(style_len);
                    &c.affine
                }
                Layer::ToRgb(t) => &t.affine,
            };
            style_offsets.push(style_len);
            style_len += affine.out_features;
        }
        let mut demod_offsets = Vec::new();
        let mut demod_len = 0;
        for conv in network.convs() {
            demod_offsets.push(demod_len);
            demod_len += conv.c_out;
        }
        let col_len = network.convs().map(col_len).max().unwrap_or(0);
        let taps_len = network.convs().map(product_len).max().unwrap_or(0);
        Layout {
            style_offsets,
            conv_style_offsets,
            style_len,
            demod_offsets,
            demod_len,
            activation_len: network.largest_activation(),
            col_len,
            taps_len,
            image_len: 3 * network.resolution * network.resolution,
        }
    }

    /// Floats per design: styles, coefficients, two activations, the patches, the transposed-conv
    /// taps and two images.
    fn floats_per_design(&self) -> usize {
        self.style_len
            + self.demod_len
            + 2 * self.activation_len
            + self.col_len
            + self.taps_len
            + 2 * self.image_len
    }
}

/// Same-resolution convs from this resolution up run as Winograd F(2×2, 3×3); the 4×4 layer's
/// four tiles are too few for the transforms to pay. From 8 px rather than 16 px: 1–2 % more
/// images/s on the bundled model at batch 1, 8 and 32 (BENCHMARKS.md).
const WINOGRAD_FROM: usize = 8;

/// Whether `conv` runs as Winograd F(2×2, 3×3) rather than as one im2col product.
pub(crate) fn uses_winograd(conv: &ConvSpec) -> bool {
    !conv.up && conv.resolution >= WINOGRAD_FROM
}

/// Floats of a conv's product input per design: the 3×3 patches of a same-resolution conv (or its
/// 16 Winograd planes of (h/2)² tiles), the style-scaled input of an up-sampling conv.
fn col_len(conv: &ConvSpec) -> usize {
    let plane = conv.input_size() * conv.input_size();
    if conv.up {
        conv.c_in * plane
    } else if uses_winograd(conv) {
        kernels::WINOGRAD_POINTS * conv.c_in * plane / 4
    } else {
        9 * conv.c_in * plane
    }
}

/// Floats of a conv's product output before its epilogue, per design: the transposed conv's nine
/// taps per output channel, or the 16 Winograd planes per output channel; none when the product
/// writes the output itself.
fn product_len(conv: &ConvSpec) -> usize {
    let plane = conv.input_size() * conv.input_size();
    if conv.up {
        9 * conv.c_out * plane
    } else if uses_winograd(conv) {
        kernels::WINOGRAD_POINTS * conv.c_out * plane / 4
    } else {
        0
    }
}

/// The buffers of runs of up to `capacity` designs, design-major.
struct Workspace {
    capacity: usize,
    styles: Vec<f32>,
    demod: Vec<f32>,
    acts: [Vec<f32>; 2],
    col: Vec<f32>,
    taps: Vec<f32>,
    images: [Vec<f32>; 2],
    /// Wall time of each stage of the last run, when profiling.
    timings: Option<Vec<(String, Duration)>>,
}

/// Records the time since `clock` under `name` when profiling, and restarts the clock.
fn lap(
    timings: &mut Option<Vec<(String, Duration)>>,
    clock: &mut Instant,
    name: impl FnOnce() -> String,
) {
    if let Some(timings) = timings {
        timings.push((name(), clock.elapsed()));
        *clock = Instant::now();
    }
}

impl Workspace {
    fn new(layout: &Layout, capacity: usize) -> Workspace {
        let buffer = |len: usize| vec![0f32; capacity * len];
        Workspace {
            capacity,
            styles: buffer(layout.style_len),
            demod: buffer(layout.demod_len),
            acts: [buffer(layout.activation_len), buffer(layout.activation_len)],
            col: buffer(layout.col_len),
            taps: buffer(layout.taps_len),
            images: [buffer(layout.image_len), buffer(layout.image_len)],
            timings: None,
        }
    }
}

impl NativeCpu {
    /// Prepares the weights and the worker threads.
    pub fn new(model: Arc<Model>, options: &CpuOptions) -> Result<NativeCpu, BackendError> {
        let pool = thread_pool(options)?;
        let layout = Layout::new(model.network());
        let zeros = vec![0.0; model.config().resolution];
        let per_design = 4 * layout.floats_per_design();
        let max_batch = (options.memory_budget / per_design.max(1)).max(1);
        Ok(NativeCpu {
            weights: pool.install(|| Prepared::new(&model)),
            model,
            layout,
            pool,
            max_batch,
            workspace: Mutex::new(None),
            zeros,
        })
    }

    /// Lowers the number of designs per run; 0 leaves it as the memory budget allows.
    pub fn with_max_batch(mut self, max_batch: usize) -> NativeCpu {
        if max_batch > 0 {
            self.max_batch = self.max_batch.min(max_batch);
        }
        self
    }

    /// The GFLOP/s of this backend's matrix product (same crate, tiling and threads as the convs)
    /// on a large square-ish problem, `[512, 4608] × [4608, 1024]` (a 512-channel 3×3 conv on
    /// 32×32 pixels), repeated for about `seconds`: the ceiling the convs can approach.
    pub fn matmul_ceiling(options: &CpuOptions, seconds: f64) -> Result<f64, BackendError> {
        let (m, k, n) = (512, 4608, 1024);
        let pool = thread_pool(options)?;
        let lhs: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let rhs: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut out = vec![0f32; m * n];
        let run = |out: &mut [f32]| pool.install(|| kernels::matmul(&lhs, m, k, &rhs, n, out));
        run(&mut out);
        let start = Instant::now();
        let mut runs = 0;
        while runs == 0 || start.elapsed().as_secs_f64() < seconds {
            run(&mut out);
            runs += 1;
        }
        let per_run = start.elapsed().as_secs_f64() / runs as f64;
        Ok(2.0 * (m * k * n) as f64 / per_run / 1e9)
    }

    /// Worker threads in use.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The description of a backend opened with `options`, e.g. `cpu (native, 2 threads)`.
    pub fn describe_options(options: &CpuOptions) -> String {
        let threads = options.threads.unwrap_or_else(rayon::current_num_threads);
        format!(
            "cpu (native, {threads} thread{})",
            if threads == 1 { "" } else { "s" }
        )
    }

    /// (first design, count) of each run.
    fn chunks(&self, batch: usize) -> impl Iterator<Item = (usize, usize)> + use<> {
        let size = self.max_batch;
        (0..batch)
            .step_by(size)
            .map(move |start| (start, size.min(batch - start)))
    }

    fn map_one(&self, z: &[f32], w: &mut [f32]) {
        let network = self.model.network();
        let width = network.z_dim.max(network.w_dim);
        let (mut x, mut y) = (vec![0f32; width], vec![0f32; width]);
        kernels::pixel_norm(z, &mut x[..z.len()]);
        let mut len = z.len();
        for (spec, layer) in network.mapping.iter().zip(self.model.mapping()) {
            kernels::dense(
                &x[..len],
                &layer.weight,
                &layer.bias,
                spec.weight_gain,
                spec.bias_gain,
                true,
                1.0,
                &mut y[..spec.out_features],
            );
            std::mem::swap(&mut x, &mut y);
            len = spec.out_features;
        }
        w.copy_from_slice(&x[..len]);
    }

    /// Runs the synthesis of one chunk into `images`, recording intermediates into `trace` when
    /// given.
    fn run(
        &self,
        space: &mut Workspace,
        chunk: Chunk<'_>,
        noise: &NoiseMode,
        images: &mut [f32],
        mut trace: Option<&mut Vec<Activation>>,
    ) {
        let Chunk { ws, count, first } = chunk;
        let mut clock = Instant::now();
        let network = self.model.network();
        let layout = &self.layout;
        let per_ws = network.num_ws * network.w_dim;
        let random: Option<Vec<Vec<Vec<f32>>>> = match noise {
            NoiseMode::Random { seed } => Some(
                (first..first + count)
                    .into_par_iter()
                    .map(|n| random_noise(network, *seed, n))
                    .collect(),
            ),
            _ => None,
        };

        // Styles of every layer, then every conv's coefficients.
        let styles = &mut space.styles[..count * layout.style_len];
        styles
            .par_chunks_mut(layout.style_len)
            .zip(ws.par_chunks(per_ws))
            .for_each(|(s, w)| {
                for (layer, offset) in network.layers.iter().zip(&layout.style_offsets) {
                    let (spec, affine) = match layer {
                        Layer::Conv(c) => (&c.affine, &self.model.convs()[c.index].affine),
                        Layer::ToRgb(t) => (&t.affine, &self.model.torgbs()[t.block].affine),
                    };
                    let w = &w[spec.ws_index * network.w_dim..(spec.ws_index + 1) * network.w_dim];
                    kernels::dense(
                        w,
                        &affine.weight,
                        &affine.bias,
                        spec.weight_gain,
                        1.0,
                        false,
                        spec.out_scale,
                        &mut s[*offset..*offset + spec.out_features],
                    );
                }
            });
        let styles = &space.styles[..count * layout.style_len];
        let demod = &mut space.demod[..count * layout.demod_len];
        demod
            .par_chunks_mut(layout.demod_len)
            .zip(styles.par_chunks(layout.style_len))
            .for_each(|(d, s)| {
                for (conv, offset) in network.convs().zip(&layout.demod_offsets) {
                    let style = &s[layout.conv_style_offsets[conv.index]..][..conv.c_in];
                    kernels::demodulation(
                        &self.weights.convs[conv.index].weight_sq,
                        style,
                        &mut d[*offset..*offset + conv.c_out],
                    );
                }
            });
        let demod = &space.demod[..count * layout.demod_len];
        lap(&mut space.timings, &mut clock, || {
            "styles and demodulation".into()
        });
        if let Some(trace) = trace.as_deref_mut() {
            for (slot, (name, len)) in network
                .layers
                .iter()
                .map(|l| match l {
                    Layer::Conv(c) => (c.style_name(), c.c_in),
                    Layer::ToRgb(t) => (t.style_name(), t.c_in),
                })
                .enumerate()
            {
                let offset = layout.style_offsets[slot];
                trace.push(gather(
                    name,
                    &[len],
                    styles,
                    layout.style_len,
                    offset,
                    count,
                ));
            }
            for (conv, &offset) in network.convs().zip(&layout.demod_offsets) {
                let name = conv.demod_name();
                trace.push(gather(
                    name,
                    &[conv.c_out],
                    demod,
                    layout.demod_len,
                    offset,
                    count,
                ));
            }
        }

        for (slot, layer) in network.layers.iter().enumerate() {
            match layer {
                Layer::Conv(conv) => {
                    self.conv(space, conv, count, noise, random.as_deref(), &mut clock);
                    if let Some(trace) = trace.as_deref_mut() {
                        let r = conv.resolution;
                        let output = &space.acts[conv.index % 2];
                        let stride = layout.activation_len;
                        let name = conv.output_name();
                        trace.push(gather(name, &[conv.c_out, r, r], output, stride, 0, count));
                    }
                }
                Layer::ToRgb(torgb) => {
                    self.torgb(space, torgb, slot, count);
                    lap(&mut space.timings, &mut clock, || torgb.prefix());
                    if let Some(trace) = trace.as_deref_mut() {
                        let r = torgb.resolution;
                        let image = &space.images[torgb.block % 2];
                        let name = torgb.output_name();
                        trace.push(gather(name, &[3, r, r], image, layout.image_len, 0, count));
                    }
                }
            }
        }
        let last = network.torgbs().last().map_or(0, |t| t.block);
        images.copy_from_slice(&space.images[last % 2][..count * layout.image_len]);
        if let Some(trace) = trace {
            // Reorder to the reference's order: per layer its style, coefficients and output.
            order_like_reference(trace, network);
        }
    }

    fn conv(
        &self,
        space: &mut Workspace,
        conv: &ConvSpec,
        count: usize,
        noise: &NoiseMode,
        random: Option<&[Vec<Vec<f32>>]>,
        clock: &mut Instant,
    ) {
        let layout = &self.layout;
        let weights = &self.weights.convs[conv.index];
        let layer = &self.model.convs()[conv.index];
        let h = conv.input_size();
        let (plane_in, r2) = (h * h, conv.resolution * conv.resolution);
        let col_len = col_len(conv);
        let winograd = uses_winograd(conv);
        let [act_a, act_b] = &mut space.acts;
        let (input, output) = if conv.index.is_multiple_of(2) {
            (&*act_b, act_a)
        } else {
            (&*act_a, act_b)
        };
        let const_input = self.model.const_input();
        let styles = &space.styles;
        let style_offset = layout.conv_style_offsets[conv.index];
        // The product's input of every design, scaled by its style: 3×3 patches, or for an
        // up-sampling conv the input itself.
        space.col[..count * layout.col_len]
            .par_chunks_mut(layout.col_len)
            .enumerate()
            .for_each(|(n, col)| {
                let x = if conv.index == 0 {
                    const_input
                } else {
                    &input[n * layout.activation_len..][..conv.c_in * plane_in]
                };
                let s = &styles[n * layout.style_len + style_offset..][..conv.c_in];
                // Channels in parallel too, so that a single design uses every worker.
                let rows = col_len / conv.c_in;
                col[..col_len]
                    .par_chunks_mut(rows)
                    .zip(x.par_chunks(plane_in))
                    .zip(s.par_iter())
                    .with_min_len(PIXELS_PER_TASK.div_ceil(plane_in))
                    .for_each(|((rows, x), &scale)| {
                        if conv.up {
                            kernels::scale_channel(x, scale, rows);
                        } else if winograd {
                            with_scratch(|scratch| {
                                kernels::winograd_input(x, scale, h, scratch, rows)
                            });
                        } else {
                            kernels::im2col_channel(x, scale, h, rows);
                        }
                    });
            });
        lap(&mut space.timings, clock, || {
            format!("{} input", conv.prefix())
        });
        // Shared-weight products per design: the output of a same-resolution conv, its 16 Winograd
        // planes per output channel, or the nine taps of each output channel of the transposed conv.
        if winograd {
            let tiles = plane_in / 4;
            let points = kernels::WINOGRAD_POINTS;
            let pairs = space.taps[..count * layout.taps_len]
                .par_chunks_mut(layout.taps_len)
                .zip(space.col.par_chunks(layout.col_len));
            pairs.for_each(|(out, col)| {
                let v = MatRef::from_row_major_slice(&col[..col_len], conv.c_in, points * tiles);
                let mut rest = Some(MatMut::from_row_major_slice_mut(
                    &mut out[..conv.c_out * points * tiles],
                    conv.c_out,
                    points * tiles,
                ));
                let blocks: [MatMut<'_, f32>; kernels::WINOGRAD_POINTS] =
                    std::array::from_fn(|_| {
                        let (block, after) = rest.take().expect("split").split_at_col_mut(tiles);
                        rest = Some(after);
                        block
                    });
                blocks.into_par_iter().enumerate().for_each(|(xi, block)| {
                    let size = conv.c_out * conv.c_in;
                    let u = &weights.matrix[xi * size..(xi + 1) * size];
                    let u = MatRef::from_row_major_slice(u, conv.c_out, conv.c_in);
                    kernels::matmul_into(u, v.subcols(xi * tiles, tiles), block);
                });
            });
        } else {
            let (rows, depth, product, stride) = if conv.up {
                let taps = &mut space.taps[..count * layout.taps_len];
                (9 * conv.c_out, conv.c_in, taps, layout.taps_len)
            } else {
                let acts = &mut output[..count * layout.activation_len];
                (conv.c_out, 9 * conv.c_in, acts, layout.activation_len)
            };
            product
                .par_chunks_mut(stride)
                .zip(space.col.par_chunks(layout.col_len))
                .for_each(|(out, col)| {
                    kernels::matmul(
                        &weights.matrix,
                        rows,
                        depth,
                        &col[..col_len],
                        plane_in,
                        &mut out[..rows * plane_in],
                    );
                });
        }
        lap(&mut space.timings, clock, || {
            format!("{} product", conv.prefix())
        });
        let demod = &space.demod;
        let taps = &space.taps;
        // Floats of this conv's product output per output channel (none when it wrote the output).
        let per_channel = product_len(conv) / conv.c_out;
        output[..count * layout.activation_len]
            .par_chunks_mut(layout.activation_len)
            .enumerate()
            .for_each(|(n, y)| {
                let map = match (noise, random) {
                    (NoiseMode::Random { .. }, Some(maps)) => Some(&maps[n][conv.index][..]),
                    (NoiseMode::Const, _) => Some(&layer.noise_const[..]),
                    _ => None,
                };
                let epilogue = kernels::Epilogue {
                    demod: &demod[n * layout.demod_len + layout.demod_offsets[conv.index]..]
                        [..conv.c_out],
                    bias: &layer.bias,
                    noise: map.map(|m| (m, layer.noise_strength)),
                    clamp: conv.clamp,
                };
                let zeros = &self.zeros[..];
                let side = conv.resolution;
                y[..conv.c_out * r2]
                    .par_chunks_mut(r2)
                    .enumerate()
                    .for_each(|(o, plane)| {
                        let product = &taps[n * layout.taps_len + o * per_channel..][..per_channel];
                        if conv.up || winograd {
                            with_scratch(|scratch| match conv.up {
                                true => kernels::transposed_up(product, h, scratch, plane),
                                false => kernels::winograd_output(product, h, scratch, plane),
                            });
                        }
                        epilogue.channel(o, plane, side, zeros);
                    });
            });
        lap(&mut space.timings, clock, || {
            format!("{} epilogue", conv.prefix())
        });
    }

    fn torgb(&self, space: &mut Workspace, torgb: &ToRgbSpec, slot: usize, count: usize) {
        let layout = &self.layout;
        let layer = &self.model.torgbs()[torgb.block];
        let r2 = torgb.resolution * torgb.resolution;
        // The block's conv1 is an even conv index: its output is in acts[0].
        let input = &space.acts[0];
        let styles = &space.styles;
        let [image_a, image_b] = &mut space.images;
        let (previous, image) = if torgb.block.is_multiple_of(2) {
            (&*image_b, image_a)
        } else {
            (&*image_a, image_b)
        };
        image[..count * layout.image_len]
            .par_chunks_mut(layout.image_len)
            .enumerate()
            .for_each(|(n, out)| {
                let x = &input[n * layout.activation_len..][..torgb.c_in * r2];
                let s = &styles[n * layout.style_len + layout.style_offsets[slot]..][..torgb.c_in];
                let previous = torgb
                    .has_previous()
                    .then(|| &previous[n * layout.image_len..][..3 * r2 / 4]);
                kernels::torgb(
                    x,
                    &layer.weight,
                    s,
                    &layer.bias,
                    torgb.clamp,
                    previous,
                    &mut out[..3 * r2],
                );
            });
    }

    /// Runs the synthesis of `batch` designs (at most [`Backend::max_batch`]) once with every stage
    /// timed: per conv its im2col, product and epilogue; per toRGB the layer; the styles and
    /// coefficients together.
    fn profile(&self, ws: &[f32], batch: usize) -> Result<Vec<(String, Duration)>, BackendError> {
        let batch = batch.clamp(1, self.max_batch);
        let network = self.model.network();
        input::check_ws(self.model.config(), ws, batch)?;
        let mut guard = self
            .workspace
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.as_ref().is_none_or(|w| w.capacity < batch) {
            *guard = None;
            *guard = Some(Workspace::new(&self.layout, batch));
        }
        let space = guard.as_mut().expect("workspace was just ensured");
        let mut images = vec![0f32; batch * self.layout.image_len];
        let chunk = Chunk {
            ws: &ws[..batch * network.num_ws * network.w_dim],
            count: batch,
            first: 0,
        };
        space.timings = Some(Vec::new());
        self.pool
            .install(|| self.run(space, chunk, &NoiseMode::Const, &mut images, None));
        Ok(space.timings.take().unwrap_or_default())
    }

    fn synthesize_with(
        &self,
        ws: &[f32],
        batch: usize,
        noise: &NoiseMode,
        traced: bool,
    ) -> Result<(Vec<f32>, Vec<Activation>), BackendError> {
        let network = self.model.network();
        input::check_ws(self.model.config(), ws, batch)?;
        let per_ws = network.num_ws * network.w_dim;
        let image_len = self.layout.image_len;
        let mut images = vec![0f32; batch * image_len];
        let mut trace: Vec<Activation> = Vec::new();
        let mut guard = self
            .workspace
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (start, count) in self.chunks(batch) {
            if guard.as_ref().is_none_or(|w| w.capacity < count) {
                *guard = None;
                *guard = Some(Workspace::new(&self.layout, count));
            }
            let space = guard.as_mut().expect("workspace was just ensured");
            let mut part = Vec::new();
            self.pool.install(|| {
                let chunk = Chunk {
                    ws: &ws[start * per_ws..(start + count) * per_ws],
                    count,
                    first: start,
                };
                self.run(
                    space,
                    chunk,
                    noise,
                    &mut images[start * image_len..(start + count) * image_len],
                    traced.then_some(&mut part),
                )
            });
            if trace.is_empty() {
                trace = part;
            } else {
                for (all, piece) in trace.iter_mut().zip(part) {
                    all.shape[0] += piece.shape[0];
                    all.data.extend(piece.data);
                }
            }
        }
        Ok((images, trace))
    }
}

thread_local! {
    /// Each worker's scratch for the per-channel kernels, kept between calls: freshly allocated
    /// buffers would cost their page faults on every channel.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<f32>) -> R) -> R {
    SCRATCH.with(|scratch| f(&mut scratch.borrow_mut()))
}

/// The worker threads `options` ask for (one per core by default).
fn thread_pool(options: &CpuOptions) -> Result<rayon::ThreadPool, BackendError> {
    let mut builder = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("drape-cpu-{i}"));
    if let Some(threads) = options.threads {
        builder = builder.num_threads(threads);
    }
    builder.build().map_err(|e| BackendError::ThreadPool {
        threads: options.threads.unwrap_or(0),
        reason: e.to_string(),
    })
}

/// Consecutive designs run together: their ws, how many, and the first one's index in the batch.
struct Chunk<'a> {
    ws: &'a [f32],
    count: usize,
    first: usize,
}

/// The values of `name` for `count` designs: `shape` floats at `offset` of each `stride`.
fn gather(
    name: String,
    shape: &[usize],
    buffer: &[f32],
    stride: usize,
    offset: usize,
    count: usize,
) -> Activation {
    let len: usize = shape.iter().product();
    let data = (0..count)
        .flat_map(|n| buffer[n * stride + offset..][..len].iter().copied())
        .collect();
    Activation {
        name,
        shape: [&[count][..], shape].concat(),
        data,
    }
}

/// Sorts a trace into [`crate::cpu::synthesize_traced`]'s order: per layer, a conv's style,
/// coefficients and output, a toRGB's style and image.
fn order_like_reference(trace: &mut [Activation], network: &Network) {
    let order: Vec<String> = network
        .layers
        .iter()
        .flat_map(|l| match l {
            Layer::Conv(c) => vec![c.style_name(), c.demod_name(), c.output_name()],
            Layer::ToRgb(t) => vec![t.style_name(), t.output_name()],
        })
        .collect();
    trace.sort_by_key(|a| order.iter().position(|n| *n == a.name));
}

impl Backend for NativeCpu {
    fn describe(&self) -> String {
        Self::describe_options(&CpuOptions {
            threads: Some(self.threads()),
            memory_budget: 0,
        })
    }

    fn model(&self) -> &Arc<Model> {
        &self.model
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn map(
        &self,
        z: &[f32],
        batch: usize,
        truncation: &Truncation,
    ) -> Result<Vec<f32>, BackendError> {
        let network = self.model.network();
        input::check_z(self.model.config(), z, batch)?;
        let mut w = vec![0f32; batch * network.w_dim];
        self.pool.install(|| {
            w.par_chunks_mut(network.w_dim)
                .zip(z.par_chunks(network.z_dim))
                .for_each(|(w, z)| self.map_one(z, w));
        });
        let mut ws = broadcast(&w, network.w_dim, network.num_ws);
        truncate(&mut ws, network.num_ws, self.model.w_avg(), truncation);
        Ok(ws)
    }

    fn synthesize(
        &self,
        ws: &[f32],
        batch: usize,
        noise: &NoiseMode,
    ) -> Result<Vec<f32>, BackendError> {
        Ok(self.synthesize_with(ws, batch, noise, false)?.0)
    }

    fn synthesize_traced(
        &self,
        ws: &[f32],
        batch: usize,
        noise: &NoiseMode,
    ) -> Result<(Vec<f32>, Vec<Activation>), BackendError> {
        self.synthesize_with(ws, batch, noise, true)
    }

    fn profile_synthesis(
        &self,
        ws: &[f32],
        batch: usize,
    ) -> Result<Vec<(String, Duration)>, BackendError> {
        self.profile(ws, batch)
    }
}
