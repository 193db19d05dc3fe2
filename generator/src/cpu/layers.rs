//! One plain-Rust function per network layer, written straight from the spec with f64 accumulation.
//! All functions work on one sample in CHW layout.

use crate::model::{ConvLayer, DenseLayer, ToRgbLayer};
use crate::network::{AffineSpec, LRELU_SLOPE, NORM_EPSILON};
use crate::prepared::UP_TAPS;
use rayon::prelude::*;

/// 2nd-moment normalisation of one latent (docs/stylegan2.md §1.1).
pub fn pixel_norm(x: &[f32]) -> Vec<f32> {
    let mean_sq = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64;
    let scale = 1.0 / (mean_sq + NORM_EPSILON).sqrt();
    x.iter().map(|&v| (v as f64 * scale) as f32).collect()
}

/// An equalised dense layer: `x·(W·weight_gain)ᵀ + b·bias_gain`, then optionally lrelu·√2 (docs/stylegan2.md §1.2).
pub fn dense(
    x: &[f32],
    layer: &DenseLayer,
    weight_gain: f64,
    bias_gain: f64,
    lrelu: bool,
) -> Vec<f32> {
    (0..layer.out_features)
        .map(|o| {
            let row = &layer.weight[o * layer.in_features..(o + 1) * layer.in_features];
            let dot: f64 = row.iter().zip(x).map(|(&w, &v)| w as f64 * v as f64).sum();
            let y = dot * weight_gain + layer.bias[o] as f64 * bias_gain;
            (if lrelu { leaky(y) } else { y }) as f32
        })
        .collect()
}

/// The style vector of a modulated layer: `(w·(A·weight_gain)ᵀ + a_b)·out_scale` (docs/stylegan2.md §2.3, §2.9).
pub fn affine(w: &[f32], layer: &DenseLayer, spec: &AffineSpec) -> Vec<f32> {
    dense(w, layer, spec.weight_gain as f64, 1.0, false)
        .iter()
        .map(|&v| (v as f64 * spec.out_scale as f64) as f32)
        .collect()
}

/// Demodulation coefficients `d[o] = 1/√(Σ_{i,a,b} (W[o,i,a,b]·s[i])² + 1e-8)` (docs/stylegan2.md §2.4).
pub fn demodulation(layer: &ConvLayer, s: &[f32]) -> Vec<f32> {
    let c_in = layer.spec.c_in;
    (0..layer.spec.c_out)
        .map(|o| {
            let sum: f64 = (0..c_in * 9)
                .map(|k| (layer.weight[o * c_in * 9 + k] as f64 * s[k / 9] as f64).powi(2))
                .sum();
            (1.0 / (sum + NORM_EPSILON).sqrt()) as f32
        })
        .collect()
}

/// The fused per-sample weights `W''[o,i,a,b] = W·s[i]·d[o]`.
fn modulated_weights(layer: &ConvLayer, s: &[f32], d: &[f32]) -> Vec<f64> {
    let c_in = layer.spec.c_in;
    layer
        .weight
        .iter()
        .enumerate()
        .map(|(k, &w)| w as f64 * s[(k / 9) % c_in] as f64 * d[k / (9 * c_in)] as f64)
        .collect()
}

/// Same-resolution modulated 3×3 conv with zero padding 1 (docs/stylegan2.md §2.5), before noise and bias.
pub fn modulated_conv(layer: &ConvLayer, x: &[f32], s: &[f32], d: &[f32], size: usize) -> Vec<f32> {
    let (c_in, c_out) = (layer.spec.c_in, layer.spec.c_out);
    let w = modulated_weights(layer, s, d);
    let plane = size * size;
    (0..c_out)
        .into_par_iter()
        .flat_map_iter(|o| {
            let mut out = vec![0f64; plane];
            for i in 0..c_in {
                let xi = &x[i * plane..(i + 1) * plane];
                for a in 0..3 {
                    for b in 0..3 {
                        let k = w[((o * c_in + i) * 3 + a) * 3 + b];
                        for p in 0..size {
                            let Some(row) = (p + a).checked_sub(1).filter(|&r| r < size) else {
                                continue;
                            };
                            for q in 0..size {
                                let Some(col) = (q + b).checked_sub(1).filter(|&c| c < size) else {
                                    continue;
                                };
                                out[p * size + q] += k * xi[row * size + col] as f64;
                            }
                        }
                    }
                }
            }
            out.into_iter().map(|v| v as f32)
        })
        .collect()
}

/// Up-sampling modulated 3×3 conv (docs/stylegan2.md §2.6), from its definition: a stride-2 unflipped transposed
/// conv to `2H+1`, zero padding 1, then the 4×4 FIR `g = outer(k,k)/16`. Input `[c_in, H, H]`,
/// output `[c_out, 2H, 2H]`, before noise and bias.
pub fn modulated_conv_up(
    layer: &ConvLayer,
    x: &[f32],
    s: &[f32],
    d: &[f32],
    size_in: usize,
) -> Vec<f32> {
    let (c_in, c_out) = (layer.spec.c_in, layer.spec.c_out);
    let w = modulated_weights(layer, s, d);
    let h = size_in;
    let t = 2 * h + 1;
    let out_size = 2 * h;
    (0..c_out)
        .into_par_iter()
        .flat_map_iter(|o| {
            // Transposed conv, padded by one on each side: index (2h+a+1).
            let padded = t + 2;
            let mut y = vec![0f64; padded * padded];
            for i in 0..c_in {
                for r in 0..h {
                    for c in 0..h {
                        let v = x[(i * h + r) * h + c] as f64;
                        for a in 0..3 {
                            for b in 0..3 {
                                y[(2 * r + a + 1) * padded + 2 * c + b + 1] +=
                                    v * w[((o * c_in + i) * 3 + a) * 3 + b];
                            }
                        }
                    }
                }
            }
            let mut z = vec![0f32; out_size * out_size];
            for p in 0..out_size {
                for q in 0..out_size {
                    let mut acc = 0f64;
                    for (u, gu) in UP_TAPS.iter().enumerate() {
                        for (v, gv) in UP_TAPS.iter().enumerate() {
                            acc += gu * gv * y[(p + u) * padded + q + v];
                        }
                    }
                    z[p * out_size + q] = acc as f32;
                }
            }
            z
        })
        .collect()
}

/// Noise, bias, lrelu, gain and clamp, in that order (docs/stylegan2.md §2.7–§2.8), in place on `[c_out, r, r]`.
pub fn noise_bias_activation(y: &mut [f32], layer: &ConvLayer, noise: Option<&[f32]>) {
    let plane = layer.spec.resolution * layer.spec.resolution;
    for (o, channel) in y.chunks_exact_mut(plane).enumerate() {
        for (p, v) in channel.iter_mut().enumerate() {
            let mut t = *v as f64;
            if let Some(noise) = noise {
                t += layer.noise_strength as f64 * noise[p] as f64;
            }
            *v = clamp(leaky(t + layer.bias[o] as f64), layer.spec.clamp) as f32;
        }
    }
}

/// ToRGB: 1×1 modulated conv with the style `s` of [`affine`] (its `1/√c_in` gain included), no
/// demodulation, plus bias, then the clamp (docs/stylegan2.md §2.9).
pub fn torgb(layer: &ToRgbLayer, x: &[f32], s: &[f32]) -> Vec<f32> {
    let c_in = layer.spec.c_in;
    let plane = x.len() / c_in;
    (0..3)
        .flat_map(|c| (0..plane).map(move |p| (c, p)))
        .map(|(c, p)| {
            let mut acc = layer.bias[c] as f64;
            for i in 0..c_in {
                acc += layer.weight[c * c_in + i] as f64 * s[i] as f64 * x[i * plane + p] as f64;
            }
            clamp(acc, layer.spec.clamp) as f32
        })
        .collect()
}

/// 2× up-sampling of the skip image (docs/stylegan2.md §2.10) from its definition: zero-stuff, pad 2 before and 1
/// after, then the 4-tap FIR per axis. `[3, H, H]` → `[3, 2H, 2H]`.
pub fn upsample_image(img: &[f32], size: usize) -> Vec<f32> {
    let out = 2 * size;
    let padded = out + 3;
    let stuffed_at = |i: usize| -> Option<usize> {
        // Position i of the padded signal holds input element (i−2)/2 when i−2 is even.
        i.checked_sub(2)
            .filter(|j| j % 2 == 0 && j / 2 < size)
            .map(|j| j / 2)
    };
    let mut result = Vec::with_capacity(3 * out * out);
    for c in 0..3 {
        let plane = &img[c * size * size..(c + 1) * size * size];
        for p in 0..out {
            for q in 0..out {
                let mut acc = 0f64;
                for (u, gu) in UP_TAPS.iter().enumerate() {
                    let Some(r) = stuffed_at(p + u).filter(|_| p + u < padded) else {
                        continue;
                    };
                    for (v, gv) in UP_TAPS.iter().enumerate() {
                        let Some(col) = stuffed_at(q + v) else {
                            continue;
                        };
                        acc += gu * gv * plane[r * size + col] as f64;
                    }
                }
                result.push(acc as f32);
            }
        }
    }
    result
}

fn leaky(v: f64) -> f64 {
    (if v >= 0.0 { v } else { LRELU_SLOPE as f64 * v }) * std::f64::consts::SQRT_2
}

fn clamp(v: f64, limit: Option<f32>) -> f64 {
    match limit {
        Some(c) => v.clamp(-(c as f64), c as f64),
        None => v,
    }
}

/// The up-sampling conv of raw weights `[c_out, c_in, 3, 3]` on `x` (`[c_in, h, h]`) by its
/// definition, with every style and coefficient 1: the oracle the faster forms are tested against.
#[cfg(test)]
pub(crate) fn up_conv_by_definition(
    weight: &[f32],
    c_out: usize,
    c_in: usize,
    x: &[f32],
    h: usize,
) -> Vec<f32> {
    use crate::network::{AffineSpec, ConvSpec};
    let layer = ConvLayer {
        spec: ConvSpec {
            index: 1,
            resolution: 2 * h,
            c_in,
            c_out,
            up: true,
            affine: AffineSpec {
                ws_index: 1,
                in_features: 0,
                out_features: c_in,
                weight_gain: 1.0,
                out_scale: 1.0,
            },
            clamp: None,
        },
        weight: weight.to_vec(),
        bias: vec![0.0; c_out],
        noise_strength: 0.0,
        noise_const: vec![0.0; 4 * h * h],
        affine: DenseLayer {
            weight: vec![],
            bias: vec![],
            in_features: 0,
            out_features: c_in,
        },
    };
    let ones = vec![1.0; c_in.max(c_out)];
    modulated_conv_up(&layer, x, &ones, &ones, h)
}
