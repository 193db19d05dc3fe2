//! Deferred truncation: the record `map` puts on a W+ batch when truncation must wait until after the
//! edits and the mixing (ClothingGAN's order), and how `synthesize` and `save-latents` apply it.

use std::borrow::Cow;
use std::sync::Arc;

use drape_engine::{PendingTruncation, TruncationPoint, WPlus};
use drape_generator::{Truncation, TruncationTarget, truncate};

/// The record for `truncation` of a model with mean `w_avg`, or `None` when it would change nothing.
pub fn defer(truncation: &Truncation, w_avg: &[f32]) -> Option<PendingTruncation> {
    truncation.applies().then(|| PendingTruncation {
        psi: truncation.psi,
        cutoff: truncation.cutoff,
        target: match truncation.target {
            TruncationTarget::WAvg => TruncationPoint::WAvg(Arc::from(w_avg)),
            TruncationTarget::Zero => TruncationPoint::Zero,
        },
    })
}

/// The batch's ws with its pending truncation applied (borrowed unchanged when there is none).
pub fn resolve(w: &WPlus) -> Cow<'_, [f32]> {
    let Some(pending) = &w.pending_truncation else {
        return Cow::Borrowed(&w.data);
    };
    let zeros;
    let (center, target) = match &pending.target {
        TruncationPoint::WAvg(w_avg) => (&w_avg[..], TruncationTarget::WAvg),
        TruncationPoint::Zero => {
            zeros = vec![0.0; w.dim];
            (&zeros[..], TruncationTarget::Zero)
        }
    };
    let mut data = w.data.to_vec();
    let truncation = Truncation {
        psi: pending.psi,
        cutoff: pending.cutoff,
        target,
    };
    truncate(&mut data, w.num_ws, center, &truncation);
    Cow::Owned(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use drape_engine::Design;

    /// One design, 2 ws of 2 values: ws [[2, -4], [6, 8]].
    fn batch(pending: Option<PendingTruncation>) -> WPlus {
        WPlus {
            num_ws: 2,
            dim: 2,
            data: Arc::new(vec![2.0, -4.0, 6.0, 8.0]),
            designs: Arc::from([Design::from_seed(1)]),
            pending_truncation: pending,
        }
    }

    #[test]
    fn toward_zero_scales_every_w() {
        let pending = defer(&Truncation::toward_zero(0.5), &[9.0, 9.0]);
        assert_eq!(
            pending.as_ref().map(|p| &p.target),
            Some(&TruncationPoint::Zero)
        );
        assert_eq!(&*resolve(&batch(pending)), [1.0, -2.0, 3.0, 4.0]);
    }

    #[test]
    fn toward_w_avg_honours_the_cutoff() {
        let truncation = Truncation {
            psi: 0.5,
            cutoff: Some(1),
            target: TruncationTarget::WAvg,
        };
        let pending = defer(&truncation, &[0.0, 2.0]);
        // First w: avg + 0.5·(w − avg) = [0 + 0.5·2, 2 + 0.5·(−6)] = [1, −1]; the second is untouched.
        assert_eq!(&*resolve(&batch(pending)), [1.0, -1.0, 6.0, 8.0]);
    }

    #[test]
    fn no_op_truncations_are_not_deferred() {
        assert_eq!(defer(&Truncation::NONE, &[0.0, 0.0]), None);
        assert_eq!(defer(&Truncation::toward_zero(1.5), &[0.0, 0.0]), None);
        assert!(matches!(resolve(&batch(None)), Cow::Borrowed(_)));
    }

    #[test]
    fn an_offset_added_before_the_deferred_truncation_is_scaled_too() {
        let offset = [2.0, 2.0, 2.0, 2.0];
        let add = |w: &WPlus| -> WPlus {
            let data: Vec<f32> = w.data.iter().zip(offset).map(|(v, d)| v + d).collect();
            WPlus {
                data: Arc::from(data),
                ..w.clone()
            }
        };
        // ClothingGAN order: edit, then truncate: 0.5·(w + 2).
        let deferred = add(&batch(defer(&Truncation::toward_zero(0.5), &[0.0, 0.0])));
        assert_eq!(&*resolve(&deferred), [2.0, -1.0, 4.0, 5.0]);
        // Truncate first (`apply: now`), then edit: 0.5·w + 2.
        let now = batch(None);
        let truncated = WPlus {
            data: Arc::from(
                resolve(&batch(defer(&Truncation::toward_zero(0.5), &[0.0, 0.0]))).to_vec(),
            ),
            ..now
        };
        assert_eq!(&*resolve(&add(&truncated)), [3.0, 0.0, 5.0, 6.0]);
    }
}
