//! The conv weights in the forms the native kernels multiply by, prepared once per model: the raw
//! 3×3 weights as a `[c_out, c_in·9]` matrix, the up-sampling conv's four phase kernels stacked into
//! `[4·c_out, c_in·9]`, and the squared-weight sums of the demodulation.

use crate::model::Model;
use crate::prepared::{phase_kernels, squared_sums};
use rayon::prelude::*;

/// One conv layer's prepared weights.
pub struct ConvWeights {
    /// Row-major product matrix (phase-major rows for up-sampling convs).
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
                    phase_kernels(&conv.weight, spec.c_out, spec.c_in).concat()
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
