//! The edit maths on W+: moving chosen layers of each design along a direction, with the additive
//! convention of ClothingGAN and GANSpace's viewer, or GANSpace's "centered" strips (docs/stylegan2.md §6.5).

use crate::layers::LayerRange;

/// How an edit combines with the design's own position along the direction.
#[derive(Clone, Debug, PartialEq)]
pub enum Convention {
    /// `ws[l] += offset · c`: the design moves by the amount (ClothingGAN, GANSpace's viewer).
    Additive,
    /// `ws[l] = ws[l] − ((ws[l] − mean)·ĉ) ĉ + offset · c`: the design's own coordinate along the
    /// direction (relative to `mean`, W's mean) is replaced by the amount (GANSpace's
    /// `create_strip_centered`), so every design of a strip ends at the same coordinate.
    Centered {
        /// The centre the coordinate is measured from (the components' mean).
        mean: Vec<f32>,
    },
}

/// One resolved edit.
#[derive(Clone, Debug, PartialEq)]
pub struct Edit {
    /// The direction c in W (unit length for principal components).
    pub vector: Vec<f32>,
    /// How far to move along `vector`, in raw W units (σ amounts are already multiplied by stdev).
    pub offset: f32,
    /// The ws changed.
    pub layers: LayerRange,
}

/// Applies `edits` in order to every design of `ws` ([n, num_ws, w_dim], row-major).
///
/// # Panics
/// If a vector's length is not `w_dim`, a range reaches past `num_ws`, or `ws` is not a whole
/// number of designs; callers check these first.
pub fn apply_edits(
    ws: &mut [f32],
    num_ws: usize,
    w_dim: usize,
    edits: &[Edit],
    convention: &Convention,
) {
    assert_eq!(
        ws.len() % (num_ws * w_dim),
        0,
        "ws must be [n, num_ws, w_dim]"
    );
    for edit in edits {
        assert_eq!(edit.vector.len(), w_dim, "direction length");
        assert!(edit.layers.end <= num_ws, "layer range");
        let c = &edit.vector;
        let norm = c.iter().map(|v| v * v).sum::<f32>().sqrt() + 1e-8;
        for design in ws.chunks_exact_mut(num_ws * w_dim) {
            for w in design
                .chunks_exact_mut(w_dim)
                .take(edit.layers.end)
                .skip(edit.layers.start)
            {
                if let Convention::Centered { mean } = convention {
                    let along: f32 = w
                        .iter()
                        .zip(mean)
                        .zip(c)
                        .map(|((x, m), ci)| (x - m) * ci / norm)
                        .sum();
                    w.iter_mut()
                        .zip(c)
                        .for_each(|(x, ci)| *x -= along * ci / norm);
                }
                w.iter_mut()
                    .zip(c)
                    .for_each(|(x, ci)| *x += edit.offset * ci);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two designs, three layers, w_dim 2: design d, layer l is (10d + l, −l).
    fn ws() -> Vec<f32> {
        (0..2)
            .flat_map(|d| (0..3).flat_map(move |l| [(10 * d + l) as f32, -(l as f32)]))
            .collect()
    }

    #[test]
    fn additive_moves_only_the_chosen_layers() {
        let mut w = ws();
        let edit = Edit {
            vector: vec![0.6, 0.8],
            offset: 5.0,
            layers: LayerRange { start: 1, end: 3 },
        };
        apply_edits(&mut w, 3, 2, &[edit], &Convention::Additive);
        // Layer 0 unchanged; layers 1 and 2 gain 5·(0.6, 0.8) = (3, 4).
        assert_eq!(
            w,
            vec![
                0.0, 0.0, 4.0, 3.0, 5.0, 2.0, //
                10.0, 0.0, 14.0, 3.0, 15.0, 2.0
            ]
        );
    }

    #[test]
    fn centered_replaces_the_coordinate_along_the_direction() {
        let mut w = ws();
        let edit = Edit {
            vector: vec![1.0, 0.0],
            offset: 2.0,
            layers: LayerRange { start: 0, end: 2 },
        };
        let centered = Convention::Centered {
            mean: vec![1.0, 7.0],
        };
        apply_edits(&mut w, 3, 2, &[edit], &centered);
        // x of layers 0–1 becomes mean_x + 2 = 3 for both designs (the own coordinate is removed,
        // then set to 2 relative to the mean: x − (x − 1) + 2 = 3); y is untouched.
        assert_eq!(
            w,
            vec![
                3.0, 0.0, 3.0, -1.0, 2.0, -2.0, //
                3.0, 0.0, 3.0, -1.0, 12.0, -2.0
            ]
        );
    }

    #[test]
    fn edits_compose_in_order() {
        let mut w = vec![0.0f32; 2];
        let along = |x: f32, y: f32, offset| Edit {
            vector: vec![x, y],
            offset,
            layers: LayerRange::all(1),
        };
        apply_edits(
            &mut w,
            1,
            2,
            &[along(1.0, 0.0, 2.0), along(0.0, 1.0, -3.0)],
            &Convention::Additive,
        );
        assert_eq!(w, vec![2.0, -3.0]);
    }
}
