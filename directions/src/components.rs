//! `components.safetensors`: principal directions of W with their mean, spread and share of the
//! variance, read and written (atomically) in the safetensors format.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::error::DirectionsError;

/// The file name of the components inside a model folder.
pub const COMPONENTS_FILE: &str = "components.safetensors";

/// How a set of components was made (the file's metadata).
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentsInfo {
    /// Number of w samples the decomposition used, when known.
    pub samples: Option<u64>,
    /// Seed of the sample stream, when known.
    pub seed: Option<u32>,
    /// How they were computed, e.g. `exact covariance PCA` or `imported from x.npz`.
    pub method: String,
}

/// k principal directions of W, sorted by variance.
#[derive(Clone, Debug, PartialEq)]
pub struct Components {
    /// Length of w.
    pub w_dim: usize,
    /// Unit rows, row-major [k, w_dim]; the largest-magnitude entry of each row is positive.
    pub vectors: Vec<f32>,
    /// Mean of the sampled w [w_dim].
    pub mean: Vec<f32>,
    /// Standard deviation of w along each direction [k] (the unit of "σ" edits).
    pub stdev: Vec<f32>,
    /// Share of W's total variance along each direction [k].
    pub explained_variance_ratio: Vec<f32>,
    /// How they were made.
    pub info: ComponentsInfo,
}

impl Components {
    /// Number of components.
    pub fn len(&self) -> usize {
        self.stdev.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.stdev.is_empty()
    }

    /// The unit vector of component `k`.
    pub fn vector(&self, k: usize) -> &[f32] {
        &self.vectors[k * self.w_dim..(k + 1) * self.w_dim]
    }

    /// Checks sizes and values: unit rows, positive spreads, finite numbers.
    pub fn check(&self, path: &Path) -> Result<(), DirectionsError> {
        let k = self.len();
        if k == 0 || self.w_dim == 0 {
            return Err(DirectionsError::invalid(path, "there are no components"));
        }
        let sizes = [
            ("components", self.vectors.len(), k * self.w_dim),
            ("mean", self.mean.len(), self.w_dim),
            (
                "explained_variance_ratio",
                self.explained_variance_ratio.len(),
                k,
            ),
        ];
        for (name, found, expected) in sizes {
            if found != expected {
                return Err(DirectionsError::invalid(
                    path,
                    format!("`{name}` has {found} values, expected {expected}"),
                ));
            }
        }
        let all = self
            .vectors
            .iter()
            .chain(&self.mean)
            .chain(&self.stdev)
            .chain(&self.explained_variance_ratio);
        if all.clone().any(|v| !v.is_finite()) {
            return Err(DirectionsError::invalid(
                path,
                "holds NaN or infinite values",
            ));
        }
        for i in 0..k {
            let norm = self.vector(i).iter().map(|v| v * v).sum::<f32>().sqrt();
            if (norm - 1.0).abs() > 1e-3 {
                return Err(DirectionsError::invalid(
                    path,
                    format!("component {i} has length {norm}, not 1"),
                ));
            }
        }
        if let Some(i) = self.stdev.iter().position(|&s| s <= 0.0) {
            return Err(DirectionsError::invalid(
                path,
                format!(
                    "component {i} has a stdev of {}, not positive",
                    self.stdev[i]
                ),
            ));
        }
        Ok(())
    }

    /// Reads a components file.
    pub fn load(path: &Path) -> Result<Components, DirectionsError> {
        let bytes = std::fs::read(path).map_err(|source| DirectionsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let corrupt = |e: safetensors::SafeTensorError| {
            DirectionsError::invalid(path, format!("not a valid safetensors file: {e}"))
        };
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(corrupt)?;
        let tensors = SafeTensors::deserialize(&bytes).map_err(corrupt)?;
        let read = |name: &str, rank: usize| -> Result<(Vec<usize>, Vec<f32>), DirectionsError> {
            let view = tensors.tensor(name).map_err(|_| {
                DirectionsError::invalid(path, format!("tensor `{name}` is missing"))
            })?;
            if view.dtype() != Dtype::F32 || view.shape().len() != rank {
                return Err(DirectionsError::invalid(
                    path,
                    format!(
                        "tensor `{name}` is {:?} {:?}, expected F32 of rank {rank}",
                        view.dtype(),
                        view.shape()
                    ),
                ));
            }
            let data = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Ok((view.shape().to_vec(), data))
        };
        let (shape, vectors) = read("components", 2)?;
        let (_, mean) = read("mean", 1)?;
        let (_, stdev) = read("stdev", 1)?;
        let (_, explained_variance_ratio) = read("explained_variance_ratio", 1)?;
        let meta = header.metadata().clone().unwrap_or_default();
        let components = Components {
            w_dim: shape[1],
            vectors,
            mean,
            stdev,
            explained_variance_ratio,
            info: ComponentsInfo {
                samples: meta.get("samples").and_then(|s| s.parse().ok()),
                seed: meta.get("seed").and_then(|s| s.parse().ok()),
                method: meta.get("method").cloned().unwrap_or_default(),
            },
        };
        components.check(path)?;
        Ok(components)
    }

    /// Writes the components to `path` atomically (a temporary file in the same folder, renamed).
    pub fn save(&self, path: &Path) -> Result<(), DirectionsError> {
        self.check(path)?;
        let k = self.len();
        let bytes = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let tensors = [
            ("components", vec![k, self.w_dim], bytes(&self.vectors)),
            ("mean", vec![self.w_dim], bytes(&self.mean)),
            ("stdev", vec![k], bytes(&self.stdev)),
            (
                "explained_variance_ratio",
                vec![k],
                bytes(&self.explained_variance_ratio),
            ),
        ];
        let views = tensors.iter().map(|(name, shape, data)| {
            let view =
                TensorView::new(Dtype::F32, shape.clone(), data).expect("sizes were checked");
            (name.to_string(), view)
        });
        let unknown = || "unknown".to_string();
        let metadata = HashMap::from([
            (
                "samples".to_string(),
                self.info.samples.map_or_else(unknown, |n| n.to_string()),
            ),
            (
                "seed".to_string(),
                self.info.seed.map_or_else(unknown, |s| s.to_string()),
            ),
            ("method".to_string(), self.info.method.clone()),
        ]);
        let data = safetensors::serialize(views, Some(metadata))
            .map_err(|e| DirectionsError::invalid(path, e.to_string()))?;
        write_atomically(path, &data)
    }
}

/// Writes `data` to `path` atomically (the engine's temp-file-and-rename writer).
pub(crate) fn write_atomically(path: &Path, data: &[u8]) -> Result<(), DirectionsError> {
    drape_engine::write_atomically(path, |file| file.write_all(data)).map_err(|source| {
        DirectionsError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Components {
        let s = std::f32::consts::FRAC_1_SQRT_2;
        Components {
            w_dim: 2,
            vectors: vec![s, s, -s, s],
            mean: vec![0.5, -1.0],
            stdev: vec![2.0, 0.5],
            explained_variance_ratio: vec![0.9, 0.1],
            info: ComponentsInfo {
                samples: Some(1000),
                seed: Some(7),
                method: "test".into(),
            },
        }
    }

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(COMPONENTS_FILE);
        sample().save(&path).unwrap();
        assert_eq!(Components::load(&path).unwrap(), sample());
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn refuses_rows_that_are_not_unit_length() {
        let mut c = sample();
        c.vectors[0] = 2.0;
        let err = c.save(Path::new("x.safetensors")).unwrap_err();
        assert!(err.to_string().contains("component 0 has length"), "{err}");
    }
}
