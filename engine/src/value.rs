//! The values that flow along graph edges: batches of latents, per-layer latents and images, plus plain
//! numbers and text. Every batch carries one [`Design`] record per item so outputs can be named and traced.

use std::fmt;
use std::sync::Arc;

/// The type of a port; an edge is valid only between ports of the same type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// A batch of latent vectors z, shape [n, dim].
    Latents,
    /// A batch of per-layer latents (W+), shape [n, num_ws, dim].
    WPlus,
    /// A batch of RGB images, shape [n, 3, height, width], nominally in [-1, 1].
    Images,
    /// A single number.
    Number,
    /// A piece of text.
    Text,
}

impl ValueType {
    /// The name used in graph files, docs and error messages.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Latents => "latents",
            ValueType::WPlus => "w-plus",
            ValueType::Images => "images",
            ValueType::Number => "number",
            ValueType::Text => "text",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is known about one item of a batch: where it came from and how it was made.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Design {
    /// The seed the item's latent was drawn from, when it came from one.
    pub seed: Option<u32>,
    /// A short human-readable label, e.g. `seed 12` or `seed 12 × seed 40`.
    pub label: String,
    /// Parameters applied on the way (name, value), recorded for file names and embedded metadata.
    pub params: Vec<(String, String)>,
}

impl Design {
    /// A design drawn from `seed`.
    pub fn from_seed(seed: u32) -> Self {
        Design {
            seed: Some(seed),
            label: format!("seed {seed}"),
            params: Vec::new(),
        }
    }

    /// A design with only a label.
    pub fn labelled(label: impl Into<String>) -> Self {
        Design {
            seed: None,
            label: label.into(),
            params: Vec::new(),
        }
    }

    /// This design with one more recorded parameter.
    pub fn with_param(mut self, name: &str, value: impl fmt::Display) -> Self {
        self.params.push((name.to_string(), value.to_string()));
        self
    }
}

/// A batch of latent vectors z.
#[derive(Clone, Debug, PartialEq)]
pub struct Latents {
    /// Length of each vector.
    pub dim: usize,
    /// Row-major [n, dim].
    pub data: Arc<Vec<f32>>,
    /// One record per item.
    pub designs: Arc<[Design]>,
}

/// A batch of per-layer latents (W+).
#[derive(Clone, Debug, PartialEq)]
pub struct WPlus {
    /// Number of per-layer vectors per item (the model's num_ws).
    pub num_ws: usize,
    /// Length of each vector (the model's w_dim).
    pub dim: usize,
    /// Row-major [n, num_ws, dim].
    pub data: Arc<Vec<f32>>,
    /// One record per item.
    pub designs: Arc<[Design]>,
    /// Truncation still to apply to `data` before synthesis (ClothingGAN's order: after the edits and
    /// the mixing); `None` when there is none. Nodes that transform W+ carry it along unchanged.
    pub pending_truncation: Option<PendingTruncation>,
}

/// A truncation that `map` deferred: `synthesize` (and `save-latents`) apply it to the W+ they get.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingTruncation {
    /// Strength: 1 leaves ws unchanged, 0 collapses them onto the target.
    pub psi: f32,
    /// Only the first `cutoff` ws are truncated; `None` truncates all of them.
    pub cutoff: Option<usize>,
    /// The point the ws are pulled toward.
    pub target: TruncationPoint,
}

/// Where a [`PendingTruncation`] pulls the ws.
#[derive(Clone, Debug, PartialEq)]
pub enum TruncationPoint {
    /// The model's average w (`w_dim` values).
    WAvg(Arc<[f32]>),
    /// Zero, as ClothingGAN does.
    Zero,
}

impl fmt::Display for PendingTruncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let toward = match self.target {
            TruncationPoint::WAvg(_) => "w-avg",
            TruncationPoint::Zero => "zero",
        };
        write!(f, "psi {} toward {toward}", self.psi)?;
        if let Some(cutoff) = self.cutoff {
            write!(f, " on the first {cutoff} ws")?;
        }
        Ok(())
    }
}

/// A batch of RGB images in the network's range (nominally [-1, 1]).
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Planar NCHW [n, 3, height, width].
    pub data: Arc<Vec<f32>>,
    /// One record per item.
    pub designs: Arc<[Design]>,
}

impl Latents {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.designs.len()
    }

    /// True for an empty batch.
    pub fn is_empty(&self) -> bool {
        self.designs.is_empty()
    }

    /// The vector of item `i`.
    pub fn item(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

impl WPlus {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.designs.len()
    }

    /// True for an empty batch.
    pub fn is_empty(&self) -> bool {
        self.designs.is_empty()
    }

    /// The [num_ws, dim] block of item `i`.
    pub fn item(&self, i: usize) -> &[f32] {
        let size = self.num_ws * self.dim;
        &self.data[i * size..(i + 1) * size]
    }
}

impl Images {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.designs.len()
    }

    /// True for an empty batch.
    pub fn is_empty(&self) -> bool {
        self.designs.is_empty()
    }

    /// The planar [3, height, width] block of item `i`.
    pub fn item(&self, i: usize) -> &[f32] {
        let size = 3 * self.width * self.height;
        &self.data[i * size..(i + 1) * size]
    }
}

/// A value on an edge.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// See [`Latents`].
    Latents(Latents),
    /// See [`WPlus`].
    WPlus(WPlus),
    /// See [`Images`].
    Images(Images),
    /// A number.
    Number(f64),
    /// Text.
    Text(Arc<str>),
}

impl Value {
    /// The type of this value.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Latents(_) => ValueType::Latents,
            Value::WPlus(_) => ValueType::WPlus,
            Value::Images(_) => ValueType::Images,
            Value::Number(_) => ValueType::Number,
            Value::Text(_) => ValueType::Text,
        }
    }
}

impl Value {
    /// Designs `range` of a batch (numbers and text are the same for every design).
    pub fn designs(&self, range: std::ops::Range<usize>) -> Value {
        fn part<T: Clone>(
            items: &[T],
            per_design: usize,
            range: &std::ops::Range<usize>,
        ) -> Vec<T> {
            items[range.start * per_design..range.end * per_design].to_vec()
        }
        match self {
            Value::Latents(v) => Value::Latents(Latents {
                dim: v.dim,
                data: Arc::new(part(&v.data, v.dim, &range)),
                designs: part(&v.designs, 1, &range).into(),
            }),
            Value::WPlus(v) => Value::WPlus(WPlus {
                data: Arc::new(part(&v.data, v.num_ws * v.dim, &range)),
                designs: part(&v.designs, 1, &range).into(),
                ..v.clone()
            }),
            Value::Images(v) => Value::Images(Images {
                data: Arc::new(part(&v.data, 3 * v.width * v.height, &range)),
                designs: part(&v.designs, 1, &range).into(),
                ..v.clone()
            }),
            other => other.clone(),
        }
    }

    /// The per-design records of a batch; `None` for numbers and text.
    pub fn design_records(&self) -> Option<Arc<[Design]>> {
        match self {
            Value::Latents(v) => Some(v.designs.clone()),
            Value::WPlus(v) => Some(v.designs.clone()),
            Value::Images(v) => Some(v.designs.clone()),
            _ => None,
        }
    }

    /// The batches `parts` (consecutive ranges of designs of one batch) as one.
    pub fn gather(parts: Vec<Value>) -> Option<Value> {
        let mut parts = parts.into_iter();
        let first = parts.next()?;
        let mut data: Vec<f32> = Vec::new();
        let mut designs: Vec<Design> = Vec::new();
        let mut add = |part: &Value| match part {
            Value::Latents(Latents {
                data: d,
                designs: s,
                ..
            })
            | Value::WPlus(WPlus {
                data: d,
                designs: s,
                ..
            })
            | Value::Images(Images {
                data: d,
                designs: s,
                ..
            }) => {
                data.extend_from_slice(d);
                designs.extend_from_slice(s);
            }
            _ => {}
        };
        add(&first);
        for part in parts {
            add(&part);
        }
        let (data, designs) = (Arc::new(data), Arc::from(designs));
        Some(match first {
            Value::Latents(v) => Value::Latents(Latents { data, designs, ..v }),
            Value::WPlus(v) => Value::WPlus(WPlus { data, designs, ..v }),
            Value::Images(v) => Value::Images(Images { data, designs, ..v }),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node's output buffer is shared as it is, not copied once more when stored.
    #[test]
    fn storing_a_batch_does_not_copy_its_numbers() {
        let pixels = vec![0.5f32; 3 * 64 * 64];
        let at = pixels.as_ptr();
        let images = Images {
            width: 64,
            height: 64,
            data: Arc::from(pixels),
            designs: Arc::from(vec![Design::from_seed(1)]),
        };
        assert_eq!(images.data.as_ptr(), at);
        let shared = Value::Images(images.clone());
        let Value::Images(again) = shared else {
            unreachable!()
        };
        assert!(Arc::ptr_eq(&again.data, &images.data));
    }

    #[test]
    fn ranges_of_designs_gather_back_into_the_batch() {
        let batch = Value::WPlus(WPlus {
            num_ws: 2,
            dim: 3,
            data: Arc::new((0..5 * 6).map(|v| v as f32).collect()),
            designs: (0..5).map(Design::from_seed).collect(),
            pending_truncation: None,
        });
        let parts = vec![
            batch.designs(0..2),
            batch.designs(2..4),
            batch.designs(4..5),
        ];
        let Value::WPlus(middle) = &parts[1] else {
            unreachable!()
        };
        assert_eq!(
            middle.data[..],
            (12..24).map(|v| v as f32).collect::<Vec<_>>()
        );
        assert_eq!(middle.designs[0], Design::from_seed(2));
        assert_eq!(Value::gather(parts), Some(batch));
    }
}
