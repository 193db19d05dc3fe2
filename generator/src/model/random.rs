//! Models with random weights, for benchmarks and tests.

use super::{Model, TensorSpec};
use crate::config::ModelConfig;
use crate::seeds::RandomState;

/// How to draw random weights. With `spread` 0 this is stylegan2-ada's initialisation (weights
/// N(0,1), mapping weights N(0,1)/lr_multiplier, biases 0, affine biases 1, noise strengths 0, w_avg 0);
/// a positive `spread` adds N(0, spread²) to biases, affine biases, noise strengths and `w_avg` so
/// that every term of the network is exercised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomWeights {
    /// Seed of the numpy-compatible generator that draws every tensor in canonical order.
    pub seed: u32,
    /// Standard deviation added to the otherwise constant parameters.
    pub spread: f32,
}

impl Model {
    /// A model of the given architecture with random weights (see [`RandomWeights`]).
    pub fn random(config: ModelConfig, weights: RandomWeights) -> Model {
        let mut rng = RandomState::new(weights.seed);
        let lr = config.mapping_lr_multiplier;
        let mut draw = |spec: &TensorSpec| {
            let name = spec.name.as_str();
            let count = spec.len().max(1);
            let normal = rng.randn_f32(count);
            let values: Vec<f32> = if name.ends_with(".bias")
                || name.ends_with("noise_strength")
                || name == "mapping.w_avg"
            {
                let base = if name.ends_with("affine.bias") {
                    1.0
                } else {
                    0.0
                };
                normal.iter().map(|v| base + weights.spread * v).collect()
            } else if name.starts_with("mapping.fc") {
                normal.iter().map(|v| v / lr).collect()
            } else {
                normal
            };
            Ok(values)
        };
        Model::from_tensors(config, None, &mut draw).expect("random tensors always fit their specs")
    }
}
