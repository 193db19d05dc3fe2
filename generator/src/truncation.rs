//! The truncation trick on ws: toward `w_avg` (stylegan2-ada) or toward zero (ClothingGAN; docs/stylegan2.md §7.3).

/// What truncation pulls the ws toward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TruncationTarget {
    /// `w_avg + psi·(w − w_avg)`, applied when `psi != 1` (stylegan2-ada).
    WAvg,
    /// `psi·w`, applied only when `psi < 1` (ClothingGAN-compatible).
    Zero,
}

/// Truncation settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Truncation {
    /// Strength: 1 leaves ws unchanged, 0 collapses them onto the target.
    pub psi: f32,
    /// Only the first `cutoff` ws are truncated; `None` truncates all of them.
    pub cutoff: Option<usize>,
    /// The point ws are pulled toward.
    pub target: TruncationTarget,
}

impl Truncation {
    /// No truncation at all.
    pub const NONE: Truncation = Truncation {
        psi: 1.0,
        cutoff: None,
        target: TruncationTarget::WAvg,
    };

    /// Standard truncation toward `w_avg` of every w.
    pub fn toward_w_avg(psi: f32) -> Self {
        Self {
            psi,
            cutoff: None,
            target: TruncationTarget::WAvg,
        }
    }

    /// ClothingGAN-compatible truncation toward zero of every w.
    pub fn toward_zero(psi: f32) -> Self {
        Self {
            psi,
            cutoff: None,
            target: TruncationTarget::Zero,
        }
    }

    /// True when this truncation changes ws at all (toward zero, only psi < 1 does).
    pub fn applies(&self) -> bool {
        match self.target {
            TruncationTarget::WAvg => self.psi != 1.0,
            TruncationTarget::Zero => self.psi < 1.0,
        }
    }
}

/// Truncates `ws` (`[batch, num_ws, w_dim]`, row-major) in place; `w_avg` has `w_dim` entries.
///
/// # Panics
/// If `ws.len()` is not a multiple of `num_ws·w_avg.len()`.
pub fn truncate(ws: &mut [f32], num_ws: usize, w_avg: &[f32], truncation: &Truncation) {
    let w_dim = w_avg.len();
    assert_eq!(
        ws.len() % (num_ws * w_dim),
        0,
        "ws must be [batch, num_ws, w_dim]"
    );
    if !truncation.applies() {
        return;
    }
    let layers = truncation.cutoff.unwrap_or(num_ws).min(num_ws);
    let psi = truncation.psi;
    for sample in ws.chunks_exact_mut(num_ws * w_dim) {
        for w in sample.chunks_exact_mut(w_dim).take(layers) {
            match truncation.target {
                TruncationTarget::WAvg => {
                    for (v, avg) in w.iter_mut().zip(w_avg) {
                        *v = avg + psi * (*v - avg);
                    }
                }
                TruncationTarget::Zero => w.iter_mut().for_each(|v| *v *= psi),
            }
        }
    }
}

/// Repeats each sample's w (`[batch, w_dim]`) into ws (`[batch, num_ws, w_dim]`).
pub fn broadcast(w: &[f32], w_dim: usize, num_ws: usize) -> Vec<f32> {
    w.chunks_exact(w_dim)
        .flat_map(|row| row.iter().copied().cycle().take(w_dim * num_ws))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toward_w_avg_with_cutoff() {
        let mut ws = broadcast(&[2.0, 4.0], 2, 3);
        let t = Truncation {
            psi: 0.5,
            cutoff: Some(2),
            target: TruncationTarget::WAvg,
        };
        truncate(&mut ws, 3, &[1.0, 0.0], &t);
        assert_eq!(ws, [1.5, 2.0, 1.5, 2.0, 2.0, 4.0]);
    }

    #[test]
    fn toward_zero_only_below_one() {
        let mut ws = vec![2.0, -4.0];
        truncate(&mut ws, 1, &[1.0, 1.0], &Truncation::toward_zero(0.5));
        assert_eq!(ws, [1.0, -2.0]);
        truncate(&mut ws, 1, &[1.0, 1.0], &Truncation::toward_zero(1.5));
        assert_eq!(ws, [1.0, -2.0]);
        truncate(&mut ws, 1, &[1.0, 1.0], &Truncation::toward_w_avg(2.0));
        assert_eq!(ws, [1.0, -5.0]);
    }

    #[test]
    fn psi_one_is_exactly_identity() {
        let mut ws = vec![0.1, 0.7];
        truncate(&mut ws, 1, &[0.3, 0.3], &Truncation::NONE);
        assert_eq!(ws, [0.1, 0.7]);
    }
}
