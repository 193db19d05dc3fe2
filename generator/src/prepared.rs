//! Weight forms both backends prepare once at load time: the four phase kernels of the up-sampling
//! conv (`K = Wt ⊛ g` split by output phase, docs/stylegan2.md) and the squared-weight sums of the
//! cheap demodulation.

/// 1D up-sampling FIR with its gain: g = outer(UP_TAPS, UP_TAPS).
pub const UP_TAPS: [f64; 4] = [0.25, 0.75, 0.75, 0.25];

/// The four phase kernels of the up-sampling conv, each `[c_out, c_in, 3, 3]`, phase = ry·2 + rx:
/// `Kp[ty][tx] = K[2(2−ty)+ry][2(2−tx)+rx]` with `K = Wt ⊛ g` (6×6 full convolution).
pub fn phase_kernels(weight: &[f32], c_out: usize, c_in: usize) -> Vec<Vec<f32>> {
    let planes = c_out * c_in;
    let mut phases = vec![vec![0f32; planes * 9]; 4];
    for plane in 0..planes {
        let w = &weight[plane * 9..(plane + 1) * 9];
        let mut k = [[0f64; 6]; 6];
        for a in 0..3 {
            for b in 0..3 {
                for (u, gu) in UP_TAPS.iter().enumerate() {
                    for (v, gv) in UP_TAPS.iter().enumerate() {
                        k[a + u][b + v] += w[a * 3 + b] as f64 * gu * gv;
                    }
                }
            }
        }
        for (phase, kernel) in phases.iter_mut().enumerate() {
            let (ry, rx) = (phase / 2, phase % 2);
            for ty in 0..3 {
                for tx in 0..3 {
                    kernel[plane * 9 + ty * 3 + tx] =
                        k[2 * (2 - ty) + ry][2 * (2 - tx) + rx] as f32;
                }
            }
        }
    }
    phases
}

/// `Wsq[o, i] = Σ_{a,b} Wt[o, i, a, b]²`.
pub fn squared_sums(weight: &[f32]) -> Vec<f32> {
    weight
        .chunks_exact(9)
        .map(|taps| taps.iter().map(|&w| (w as f64).powi(2)).sum::<f64>() as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::layers::up_conv_by_definition;
    use crate::seeds::RandomState;

    /// The phase-split form on the CPU equals the definition (transposed conv + FIR) of docs/stylegan2.md §2.6.
    #[test]
    fn phase_split_matches_the_transposed_conv_definition() {
        let (c_in, c_out, h) = (3, 2, 4);
        let mut rng = RandomState::new(5);
        let weight = rng.randn_f32(c_out * c_in * 9);
        let x = rng.randn_f32(c_in * h * h);
        let expected = up_conv_by_definition(&weight, c_out, c_in, &x, h);
        let phases = phase_kernels(&weight, c_out, c_in);
        let at = |i: usize, r: isize, c: isize| -> f64 {
            if r < 0 || c < 0 || r >= h as isize || c >= h as isize {
                0.0
            } else {
                x[(i * h + r as usize) * h + c as usize] as f64
            }
        };
        for o in 0..c_out {
            for p in 0..2 * h {
                for q in 0..2 * h {
                    let kernel = &phases[(p % 2) * 2 + q % 2];
                    let (m, n) = ((p / 2) as isize, (q / 2) as isize);
                    let mut acc = 0f64;
                    for i in 0..c_in {
                        for ty in 0..3 {
                            for tx in 0..3 {
                                acc += kernel[(o * c_in + i) * 9 + ty * 3 + tx] as f64
                                    * at(i, m + ty as isize - 1, n + tx as isize - 1);
                            }
                        }
                    }
                    let want = expected[(o * 2 * h + p) * 2 * h + q] as f64;
                    assert!(
                        (acc - want).abs() < 1e-5 * (1.0 + want.abs()),
                        "o {o} p {p} q {q}: {acc} vs {want}"
                    );
                }
            }
        }
    }
}
