//! Noise modes of the synthesis network and the seeded random noise maps.

use crate::network::Network;
use crate::seeds::RandomState;

/// Which noise the conv layers add (docs/stylegan2.md §2.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseMode {
    /// Each layer's stored `noise_const` map (stylegan2-ada's default).
    Const,
    /// No noise term.
    None,
    /// Fresh N(0,1) maps drawn from a seed; see [`random_noise`].
    Random {
        /// Seed of the whole batch; sample `n` uses `seed + n`.
        seed: u64,
    },
}

/// The random noise maps of one sample: for every conv layer in network order an `[r, r]` map of
/// numpy-compatible normals, all drawn from one `RandomState` seeded with `seed + sample` (folded to
/// 32 bits as `low ^ high`). A design's noise therefore does not depend on its position in a batch
/// other than through `sample`.
pub fn random_noise(network: &Network, seed: u64, sample: usize) -> Vec<Vec<f32>> {
    let stream = seed.wrapping_add(sample as u64);
    let mut rng = RandomState::new((stream as u32) ^ ((stream >> 32) as u32));
    network
        .convs()
        .map(|c| rng.randn_f32(c.resolution * c.resolution))
        .collect()
}
