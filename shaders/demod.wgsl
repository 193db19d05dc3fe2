// Demodulation coefficients of a modulated conv (docs/stylegan2.md §2.4, cheap form):
// d[n, o] = 1 / sqrt(sum_i Wsq[o, i] * s[n, i]^2 + 1e-8), with Wsq[o, i] = sum over the 3x3 taps of
// Wt[o, i]^2 precomputed at load time.

struct DemodParams {
    batch: u32,
    c_in: u32,
    c_out: u32,
    style_offset: u32,
    style_stride: u32,
    out_offset: u32,
    out_stride: u32,
    padding: u32,
}

@group(0) @binding(0) var<uniform> p: DemodParams;
@group(0) @binding(1) var<storage, read> styles: array<f32>;
@group(0) @binding(2) var<storage, read> weight_sq: array<f32>;
@group(0) @binding(3) var<storage, read_write> demod: array<f32>;

// One output channel of one sample per invocation: x = output channel, y = sample.
@compute @workgroup_size(WORKGROUP_SIZE)
fn demodulation(@builtin(global_invocation_id) gid: vec3<u32>) {
    let o = gid.x;
    let n = gid.y;
    if o >= p.c_out || n >= p.batch {
        return;
    }
    let s_base = p.style_offset + n * p.style_stride;
    let w_base = o * p.c_in;
    var acc = 0.0;
    for (var i = 0u; i < p.c_in; i++) {
        let s = styles[s_base + i];
        acc = fma(weight_sq[w_base + i], s * s, acc);
    }
    demod[p.out_offset + n * p.out_stride + o] = 1.0 / sqrt(acc + 1e-8);
}
