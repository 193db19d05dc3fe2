// Equalised-learning-rate dense layers (docs/stylegan2.md §1.2, §2.3): the mapping network's 2nd-moment
// normalisation and fully connected layers, and the style affines of the synthesis network.

struct DenseParams {
    batch: u32,
    in_features: u32,
    out_features: u32,
    // 1: leaky ReLU and gain after the bias; 0: linear.
    activation: u32,
    // Sample n's input starts at in_offset + n * in_stride (so one w of ws can be selected).
    in_offset: u32,
    in_stride: u32,
    out_offset: u32,
    out_stride: u32,
    weight_gain: f32,
    bias_gain: f32,
    // Multiplies the result (toRGB styles carry 1/sqrt(C_in) here).
    out_scale: f32,
    padding: u32,
}

@group(0) @binding(0) var<uniform> p: DenseParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// One output feature of one sample per invocation: x = output feature, y = sample.
@compute @workgroup_size(WORKGROUP_SIZE)
fn dense(@builtin(global_invocation_id) gid: vec3<u32>) {
    let o = gid.x;
    let n = gid.y;
    if o >= p.out_features || n >= p.batch {
        return;
    }
    let x_base = p.in_offset + n * p.in_stride;
    let w_base = o * p.in_features;
    var acc = 0.0;
    for (var j = 0u; j < p.in_features; j++) {
        acc = fma(x[x_base + j], weight[w_base + j], acc);
    }
    var v = acc * p.weight_gain + bias[o] * p.bias_gain;
    if p.activation != 0u {
        v = lrelu_gain(v);
    }
    y[p.out_offset + n * p.out_stride + o] = v * p.out_scale;
}

// z / sqrt(mean(z^2) + 1e-8) per sample (docs/stylegan2.md §1.1); one sample per invocation.
@compute @workgroup_size(WORKGROUP_SIZE)
fn pixel_norm(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    if n >= p.batch {
        return;
    }
    let base = n * p.in_features;
    var sum = 0.0;
    for (var j = 0u; j < p.in_features; j++) {
        sum = fma(x[base + j], x[base + j], sum);
    }
    let scale = 1.0 / sqrt(sum / f32(p.in_features) + 1e-8);
    for (var j = 0u; j < p.in_features; j++) {
        y[base + j] = x[base + j] * scale;
    }
}
