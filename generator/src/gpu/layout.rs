//! Weight layouts prepared once at load time for the WGSL conv kernels: channel-group-major 3×3
//! weights and phase-split up-sampling kernels (see `crate::prepared`).

use crate::prepared::phase_kernels;

/// Output channels computed together by one invocation of the conv kernels.
pub const CHANNEL_GROUP: usize = 8;

/// Rearranges per-phase 3×3 kernels `kernels[phase][o][i][ty][tx]` into the shader layout
/// `[phase][group][i][ty][tx][8 channels]`, zero-padding the channels to a multiple of 8.
fn grouped(kernels: &[Vec<f32>], c_out: usize, c_in: usize) -> Vec<f32> {
    let groups = c_out.div_ceil(CHANNEL_GROUP);
    let mut out = vec![0f32; kernels.len() * groups * c_in * 9 * CHANNEL_GROUP];
    for (phase, kernel) in kernels.iter().enumerate() {
        for o in 0..c_out {
            let (group, lane) = (o / CHANNEL_GROUP, o % CHANNEL_GROUP);
            for i in 0..c_in {
                for tap in 0..9 {
                    let dst =
                        (((phase * groups + group) * c_in + i) * 9 + tap) * CHANNEL_GROUP + lane;
                    out[dst] = kernel[(o * c_in + i) * 9 + tap];
                }
            }
        }
    }
    out
}

/// The same-resolution conv weights `[c_out, c_in, 3, 3]` in shader layout.
pub fn conv_weights(weight: &[f32], c_out: usize, c_in: usize) -> Vec<f32> {
    grouped(&[weight.to_vec()], c_out, c_in)
}

/// The up-sampling conv weights in shader layout (four phases).
pub fn up_conv_weights(weight: &[f32], c_out: usize, c_in: usize) -> Vec<f32> {
    grouped(&phase_kernels(weight, c_out, c_in), c_out, c_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_pads_channels_with_zeros() {
        let weight: Vec<f32> = (0..9 * 2 * 3).map(|v| v as f32 + 1.0).collect();
        let out = conv_weights(&weight, 3, 2);
        assert_eq!(out.len(), 2 * 9 * CHANNEL_GROUP);
        // input 1, tap 4, output channel 2 → weight[(2·2 + 1)·9 + 4].
        assert_eq!(
            out[(9 + 4) * CHANNEL_GROUP + 2],
            weight[(2 * 2 + 1) * 9 + 4]
        );
        assert_eq!(out[(9 + 4) * CHANNEL_GROUP + 5], 0.0);
    }
}
