//! The conv weights in the forms the native kernels multiply by, prepared once per model: the raw
//! 3×3 weights as a `[c_out, c_in·9]` matrix, Winograd's 16 transformed `[c_out, c_in]` matrices
//! for the larger same-resolution convs, the up-sampling conv's weights as the `[c_out·9, c_in]`
//! matrix of its transposed conv (one row per output channel and tap), and the squared-weight sums
//! of the demodulation.

use super::kernels::{WINOGRAD_POINTS, winograd_kernel};
use super::uses_winograd;
use crate::model::Model;
use crate::prepared::squared_sums;
use rayon::prelude::*;

/// One conv layer's prepared weights.
pub struct ConvWeights {
    /// Row-major product matrix.
    pub matrix: Vec<f32>,
    /// `Wsq[o, i] = Σ_{a,b} W[o, i, a, b]²`.
    pub weight_sq: Vec<f32>,
}

/// Every conv layer's prepared weights, by conv index.
pub struct Prepared {
    pub convs: Vec<ConvWeights>,
}

impl Prepared {
    pub fn new(model: &Model) -> Prepared {
        let convs = model
            .convs()
            .par_iter()
            .map(|conv| {
                let spec = &conv.spec;
                let matrix = if spec.up {
                    transposed(&conv.weight, spec.c_out, spec.c_in)
                } else if uses_winograd(spec) {
                    winograd(&conv.weight, spec.c_out, spec.c_in)
                } else {
                    conv.weight.clone()
                };
                ConvWeights {
                    matrix,
                    weight_sq: squared_sums(&conv.weight),
                }
            })
            .collect();
        Prepared { convs }
    }
}

/// `[c_out, c_in, 3, 3]` → `[c_out·9, c_in]`: row `o·9 + tap` holds `W[o, ·, tap]`.
fn transposed(weight: &[f32], c_out: usize, c_in: usize) -> Vec<f32> {
    let mut out = vec![0f32; weight.len()];
    for o in 0..c_out {
        for i in 0..c_in {
            for tap in 0..9 {
                out[(o * 9 + tap) * c_in + i] = weight[(o * c_in + i) * 9 + tap];
            }
        }
    }
    out
}

/// `[c_out, c_in, 3, 3]` → `[16, c_out, c_in]`: matrix ξ holds point ξ of every kernel's `G·g·Gᵀ`.
fn winograd(weight: &[f32], c_out: usize, c_in: usize) -> Vec<f32> {
    let mut out = vec![0f32; WINOGRAD_POINTS * c_out * c_in];
    for (kernel, g) in weight.chunks_exact(9).enumerate() {
        for (xi, u) in winograd_kernel(g).into_iter().enumerate() {
            out[xi * c_out * c_in + kernel] = u;
        }
    }
    out
}
