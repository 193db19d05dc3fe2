// ToRGB (docs/stylegan2.md §2.9) fused with the skip connection (docs/stylegan2.md §2.10): a 1x1 modulated conv without
// demodulation (the styles already carry 1/sqrt(C_in)), plus bias, then the clamp, then the sum with
// the previous block's image up-sampled 2x by the separable [.25, .75] filter with zero borders.

struct ToRgbParams {
    batch: u32,
    c_in: u32,
    // Side of this block's image.
    size: u32,
    style_offset: u32,
    style_stride: u32,
    // 1 when a previous (half-size) image is to be up-sampled and added.
    has_previous: u32,
    clamp_enabled: u32,
    clamp_limit: f32,
}

@group(0) @binding(0) var<uniform> p: ToRgbParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> styles: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> previous: array<f32>;
@group(0) @binding(6) var<storage, read_write> image: array<f32>;

// The two source positions and weights of output position pos of the 2x up-sampling along one axis:
// out[2m] = .25 in[m-1] + .75 in[m], out[2m+1] = .75 in[m] + .25 in[m+1], with in[-1] = in[h] = 0.
struct Taps {
    first: u32,
    first_weight: f32,
    second: u32,
    second_weight: f32,
}

fn upsample_taps(pos: u32, h: u32) -> Taps {
    let m = pos / 2u;
    if pos % 2u == 0u {
        return Taps(select(0u, m - 1u, m > 0u), select(0.0, 0.25, m > 0u), m, 0.75);
    }
    return Taps(m, 0.75, min(m + 1u, h - 1u), select(0.0, 0.25, m + 1u < h));
}

fn upsampled(base: u32, h: u32, ty: Taps, tx: Taps) -> f32 {
    let top = tx.first_weight * previous[base + ty.first * h + tx.first]
        + tx.second_weight * previous[base + ty.first * h + tx.second];
    let bottom = tx.first_weight * previous[base + ty.second * h + tx.first]
        + tx.second_weight * previous[base + ty.second * h + tx.second];
    return ty.first_weight * top + ty.second_weight * bottom;
}

// One pixel of one sample per invocation: workgroups x = batch * size^2 / 64.
@compute @workgroup_size(WORKGROUP_SIZE)
fn torgb(@builtin(workgroup_id) workgroup: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
    let plane = p.size * p.size;
    let t = flat_index(workgroup, local);
    if t >= p.batch * plane {
        return;
    }
    let n = t / plane;
    let pixel = t % plane;
    let x_base = n * p.c_in * plane + pixel;
    let s_base = p.style_offset + n * p.style_stride;
    var rgb = vec3<f32>(0.0);
    for (var i = 0u; i < p.c_in; i++) {
        let v = x[x_base + i * plane] * styles[s_base + i];
        rgb += vec3<f32>(weight[i], weight[p.c_in + i], weight[2u * p.c_in + i]) * v;
    }
    rgb = clamp_if3(rgb + vec3<f32>(bias[0], bias[1], bias[2]), p.clamp_enabled, p.clamp_limit);
    if p.has_previous != 0u {
        let h = p.size / 2u;
        let ty = upsample_taps(pixel / p.size, h);
        let tx = upsample_taps(pixel % p.size, h);
        let prev_base = n * 3u * h * h;
        rgb += vec3<f32>(
            upsampled(prev_base, h, ty, tx),
            upsampled(prev_base + h * h, h, ty, tx),
            upsampled(prev_base + 2u * h * h, h, ty, tx),
        );
    }
    let out = n * 3u * plane + pixel;
    image[out] = rgb.x;
    image[out + plane] = rgb.y;
    image[out + 2u * plane] = rgb.z;
}
