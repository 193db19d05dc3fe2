// Modulated 3x3 convolutions (docs/stylegan2.md §2.4-§2.8), non-fused and batched: the input is scaled by the
// sample's style s[i] as it is loaded, the shared raw weights are applied, and the epilogue scales
// by the demodulation coefficient d[o], adds noise and bias, applies leaky ReLU, gain and clamp.
//
// Each invocation computes 8 output channels x 8 consecutive pixels of one row of one sample (the
// upper four masked off in rows only four wide), with
// the only loop running over the input channels (so the trip count per invocation is C_in). The
// channel group comes from the workgroup id, so every weight load is uniform across a workgroup.
//
// Weights are laid out at load time as [phase][channel group][C_in][tap row 3][tap col 3][8 channels]
// (two vec4 per tap), zero-padded to a multiple of 8 output channels.
// - conv3x3: one phase, the raw 3x3 kernel (cross-correlation, zero padding 1).
// - conv3x3_up2: the up-sampling conv in its phase-split form (docs/stylegan2.md §2.6): four 3x3 phase kernels of
//   Kbase = Wt (*) g on the low-resolution input; phase (ry, rx) writes output pixel
//   (2m + ry, 2n + rx). The phase is workgroup_id.z.

struct ConvParams {
    batch: u32,
    c_in: u32,
    c_out: u32,
    // Side of the input plane (the output side for conv3x3, half of it for conv3x3_up2).
    size: u32,
    // Elements between samples of the input (0 for the constant input shared by the batch).
    in_batch_stride: u32,
    style_offset: u32,
    style_stride: u32,
    demod_offset: u32,
    demod_stride: u32,
    // Elements between samples of the noise window (0 for constant noise).
    noise_batch_stride: u32,
    noise_strength: f32,
    clamp_enabled: u32,
    clamp_limit: f32,
    padding0: u32,
    padding1: u32,
    padding2: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// The same buffer as x, read four columns at a time.
@group(0) @binding(8) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> styles: array<f32>;
@group(0) @binding(4) var<storage, read> demod: array<f32>;
@group(0) @binding(5) var<storage, read> noise: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

// Output channels and pixels per invocation, and vec4 weights per input channel (3x3 taps x 2).
const CHANNELS_PER_INVOCATION: u32 = 8u;
const PIXELS_PER_INVOCATION: u32 = 8u;
const WEIGHTS_PER_INPUT: u32 = 18u;

// Accumulators: lo_k holds output channels 0..3 and hi_k channels 4..7 of pixel k.
struct Accumulators {
    lo0: vec4<f32>, hi0: vec4<f32>,
    lo1: vec4<f32>, hi1: vec4<f32>,
    lo2: vec4<f32>, hi2: vec4<f32>,
    lo3: vec4<f32>, hi3: vec4<f32>,
    lo4: vec4<f32>, hi4: vec4<f32>,
    lo5: vec4<f32>, hi5: vec4<f32>,
    lo6: vec4<f32>, hi6: vec4<f32>,
    lo7: vec4<f32>, hi7: vec4<f32>,
}

// Ten input values of one row: columns c0-1 .. c0+8, already scaled by style and padding masks.
struct Row {
    left: f32,
    a: vec4<f32>,
    b: vec4<f32>,
    right: f32,
}

// Loads one row segment; `second` masks the upper four pixels when the row is only four wide.
fn load_row(row_base: u32, cols: Columns, scale: f32) -> Row {
    return Row(
        x[row_base + cols.left] * (scale * cols.left_mask),
        x4[(row_base + cols.c0) / 4u] * scale,
        x4[(row_base + cols.c0_second) / 4u] * (scale * cols.second_mask),
        x[row_base + cols.right] * (scale * cols.right_mask),
    );
}

// Column indices (clamped inside the row) and zero-padding masks of an invocation's segment.
struct Columns {
    c0: u32,
    c0_second: u32,
    left: u32,
    right: u32,
    left_mask: f32,
    second_mask: f32,
    right_mask: f32,
}

// Applies one row of 3 taps (weights w .. w+5) to the 8 pixels.
fn row_taps(acc: ptr<function, Accumulators>, w: u32, r: Row) {
    let lo_a = weights[w];
    let hi_a = weights[w + 1u];
    let lo_b = weights[w + 2u];
    let hi_b = weights[w + 3u];
    let lo_c = weights[w + 4u];
    let hi_c = weights[w + 5u];
    (*acc).lo0 += lo_a * r.left + lo_b * r.a.x + lo_c * r.a.y;
    (*acc).hi0 += hi_a * r.left + hi_b * r.a.x + hi_c * r.a.y;
    (*acc).lo1 += lo_a * r.a.x + lo_b * r.a.y + lo_c * r.a.z;
    (*acc).hi1 += hi_a * r.a.x + hi_b * r.a.y + hi_c * r.a.z;
    (*acc).lo2 += lo_a * r.a.y + lo_b * r.a.z + lo_c * r.a.w;
    (*acc).hi2 += hi_a * r.a.y + hi_b * r.a.z + hi_c * r.a.w;
    (*acc).lo3 += lo_a * r.a.z + lo_b * r.a.w + lo_c * r.b.x;
    (*acc).hi3 += hi_a * r.a.z + hi_b * r.a.w + hi_c * r.b.x;
    (*acc).lo4 += lo_a * r.a.w + lo_b * r.b.x + lo_c * r.b.y;
    (*acc).hi4 += hi_a * r.a.w + hi_b * r.b.x + hi_c * r.b.y;
    (*acc).lo5 += lo_a * r.b.x + lo_b * r.b.y + lo_c * r.b.z;
    (*acc).hi5 += hi_a * r.b.x + hi_b * r.b.y + hi_c * r.b.z;
    (*acc).lo6 += lo_a * r.b.y + lo_b * r.b.z + lo_c * r.b.w;
    (*acc).hi6 += hi_a * r.b.y + hi_b * r.b.z + hi_c * r.b.w;
    (*acc).lo7 += lo_a * r.b.z + lo_b * r.b.w + lo_c * r.right;
    (*acc).hi7 += hi_a * r.b.z + hi_b * r.b.w + hi_c * r.right;
}

// Where one invocation writes: sample, output row, first output column and column step.
struct Target {
    n: u32,
    out_size: u32,
    row: u32,
    col: u32,
    step: u32,
}

// Demodulation, noise, bias, activation and clamp for one output channel's 4 pixels, then the store.
fn emit(t: Target, o: u32, v: vec4<f32>, noise4: vec4<f32>) {
    if o >= p.c_out {
        return;
    }
    let d = demod[p.demod_offset + t.n * p.demod_stride + o];
    let a = clamp_if4(lrelu_gain4(v * d + p.noise_strength * noise4 + bias[o]), p.clamp_enabled, p.clamp_limit);
    let base = ((t.n * p.c_out + o) * t.out_size + t.row) * t.out_size + t.col;
    y[base] = a.x;
    y[base + t.step] = a.y;
    y[base + 2u * t.step] = a.z;
    y[base + 3u * t.step] = a.w;
}

// The shared body: phase selects the weight set, up is 1 or 2, (ry, rx) the output phase offset.
fn convolve(workgroup: vec3<u32>, local: vec3<u32>, phase: u32, up: u32, ry: u32, rx: u32) {
    let size = p.size;
    let segments = max(size / PIXELS_PER_INVOCATION, 1u);
    let per_sample = size * segments;
    let t = flat_index(workgroup, local);
    if t >= p.batch * per_sample {
        return;
    }
    let n = t / per_sample;
    let rem = t % per_sample;
    let row = rem / segments;
    let c0 = (rem % segments) * PIXELS_PER_INVOCATION;
    let group = workgroup.y;
    let groups = (p.c_out + CHANNELS_PER_INVOCATION - 1u) / CHANNELS_PER_INVOCATION;

    // Zero padding: masks for the rows above/below and the columns left/right of the segment.
    let top = select(0.0, 1.0, row > 0u);
    let bottom = select(0.0, 1.0, row + 1u < size);
    let row_top = select(row, row - 1u, row > 0u);
    let row_bottom = min(row + 1u, size - 1u);
    let has_second = c0 + 4u < size;
    let end = select(c0 + 4u, c0 + PIXELS_PER_INVOCATION, has_second);
    let cols = Columns(
        c0,
        select(c0, c0 + 4u, has_second),
        select(c0, c0 - 1u, c0 > 0u),
        min(end, size - 1u),
        select(0.0, 1.0, c0 > 0u),
        select(0.0, 1.0, has_second),
        select(0.0, 1.0, end < size),
    );

    var acc = Accumulators();
    let plane = size * size;
    let x_base = n * p.in_batch_stride;
    let s_base = p.style_offset + n * p.style_stride;
    var w = (phase * groups + group) * p.c_in * WEIGHTS_PER_INPUT;
    for (var i = 0u; i < p.c_in; i++) {
        let s = styles[s_base + i];
        let channel = x_base + i * plane;
        row_taps(&acc, w, load_row(channel + row_top * size, cols, s * top));
        row_taps(&acc, w + 6u, load_row(channel + row * size, cols, s));
        row_taps(&acc, w + 12u, load_row(channel + row_bottom * size, cols, s * bottom));
        w += WEIGHTS_PER_INPUT;
    }

    let out_size = size * up;
    let o = group * CHANNELS_PER_INVOCATION;
    var dest = Target(n, out_size, row * up + ry, c0 * up + rx, up);
    emit_channels(dest, o, acc.lo0, acc.hi0, acc.lo1, acc.hi1, acc.lo2, acc.hi2, acc.lo3, acc.hi3);
    if has_second {
        dest.col += 4u * up;
        emit_channels(dest, o, acc.lo4, acc.hi4, acc.lo5, acc.hi5, acc.lo6, acc.hi6, acc.lo7, acc.hi7);
    }
}

// The epilogue of four pixels (accumulators of pixels k..k+3) for all 8 channels.
fn emit_channels(
    dest: Target, o: u32,
    lo0: vec4<f32>, hi0: vec4<f32>, lo1: vec4<f32>, hi1: vec4<f32>,
    lo2: vec4<f32>, hi2: vec4<f32>, lo3: vec4<f32>, hi3: vec4<f32>,
) {
    let step = dest.step;
    let nb = dest.n * p.noise_batch_stride + dest.row * dest.out_size + dest.col;
    let noise4 = vec4<f32>(noise[nb], noise[nb + step], noise[nb + 2u * step], noise[nb + 3u * step]);
    emit(dest, o, vec4<f32>(lo0.x, lo1.x, lo2.x, lo3.x), noise4);
    emit(dest, o + 1u, vec4<f32>(lo0.y, lo1.y, lo2.y, lo3.y), noise4);
    emit(dest, o + 2u, vec4<f32>(lo0.z, lo1.z, lo2.z, lo3.z), noise4);
    emit(dest, o + 3u, vec4<f32>(lo0.w, lo1.w, lo2.w, lo3.w), noise4);
    emit(dest, o + 4u, vec4<f32>(hi0.x, hi1.x, hi2.x, hi3.x), noise4);
    emit(dest, o + 5u, vec4<f32>(hi0.y, hi1.y, hi2.y, hi3.y), noise4);
    emit(dest, o + 6u, vec4<f32>(hi0.z, hi1.z, hi2.z, hi3.z), noise4);
    emit(dest, o + 7u, vec4<f32>(hi0.w, hi1.w, hi2.w, hi3.w), noise4);
}

// Same-resolution conv (conv1 and b4): workgroups x = batch * rows * quads / 64, y = channel groups.
@compute @workgroup_size(WORKGROUP_SIZE)
fn conv3x3(@builtin(workgroup_id) workgroup: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
    convolve(workgroup, local, 0u, 1u, 0u, 0u);
}

// Up-sampling conv0: as conv3x3 on the low-resolution grid, with z = output phase ry * 2 + rx.
@compute @workgroup_size(WORKGROUP_SIZE)
fn conv3x3_up2(@builtin(workgroup_id) workgroup: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
    let phase = workgroup.z;
    convolve(workgroup, local, phase, 2u, phase / 2u, phase % 2u);
}
