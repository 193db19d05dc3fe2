//! Importing StyleGAN2 generators from stylegan2-ada-pytorch network pickles and rosinality
//! stylegan2-pytorch checkpoints (both torch formats) into drape models, without running Python.
//!
//! The file is read with a restricted unpickler (`pickle.rs`) that knows only the globals these
//! files use and never runs code from the file; tensors are then renamed to the canonical
//! stylegan2-ada names of docs/model-format.md (`ada.rs`, `rosinality.rs`) and written as a model
//! folder with a card naming where it came from (`folder.rs`).

mod ada;
mod error;
mod folder;
mod pickle;
mod rosinality;
mod torchfile;
mod value;

pub use error::ImportError;
pub use folder::{SourceInfo, write_model_folder};
pub use torchfile::Container;

use crate::config::ModelConfig;
use crate::model::{Model, ModelError, TensorSpec};
use pickle::PickleError;
use std::path::Path;
use std::rc::Rc;
use value::{Tensor, Value};

/// Which upstream code wrote the checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// NVlabs stylegan2-ada-pytorch (network pickle with `G`, `G_ema`, …).
    Ada,
    /// rosinality/stylegan2-pytorch and its forks (`{'g_ema': state_dict, 'latent_avg': …}`).
    Rosinality,
}

/// A converted generator and what the conversion found out about it.
#[derive(Debug)]
pub struct Imported {
    /// The generator in drape's canonical layout.
    pub model: Model,
    /// The file container.
    pub container: Container,
    /// The upstream code that wrote it.
    pub flavour: Flavour,
    /// The network taken from the file (`G_ema`, `G` or `g_ema`).
    pub network: String,
    /// Where `mapping.w_avg` came from.
    pub w_avg_source: String,
    /// Things the user should know (assumptions, computation differences).
    pub notes: Vec<String>,
}

/// Reads the checkpoint at `path` and converts its generator. `network` picks `G` or `G_ema` of a
/// stylegan2-ada snapshot (default `G_ema`); rosinality checkpoints have only `g_ema`.
pub fn import_file(path: &Path, network: Option<&str>) -> Result<Imported, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.into(),
        source,
    })?;
    import_bytes(path, &bytes, network)
}

/// As [`import_file`], from the file's bytes (`path` is used in messages only).
pub fn import_bytes(
    path: &Path,
    bytes: &[u8],
    network: Option<&str>,
) -> Result<Imported, ImportError> {
    let (container, root) = torchfile::read(bytes).map_err(|e| pickle_error(path, e))?;
    if root.get("G_ema").is_some() || root.get("G").is_some() {
        return ada::convert(path, container, &root, network.unwrap_or("G_ema"));
    }
    if root.get("g_ema").is_some() {
        if let Some(other) = network.filter(|n| *n != "g_ema") {
            return Err(ImportError::Unsupported {
                path: path.into(),
                reason: format!(
                    "a rosinality checkpoint holds only the network `g_ema`, not `{other}`"
                ),
            });
        }
        return rosinality::convert(path, container, &root);
    }
    let found = match &root {
        Value::Dict(_) => {
            let keys: Vec<String> = root.entries().into_iter().map(|(k, _)| k).take(8).collect();
            format!("a dict with keys {keys:?}")
        }
        other => other.kind().to_string(),
    };
    Err(ImportError::Unsupported {
        path: path.into(),
        reason: format!(
            "expected a StyleGAN2 generator: a stylegan2-ada network pickle (a dict with `G_ema`) or \
             a rosinality checkpoint (a dict with `g_ema`); found {found}"
        ),
    })
}

fn pickle_error(path: &Path, e: PickleError) -> ImportError {
    match e {
        PickleError::UnknownGlobal(global) => ImportError::UnknownGlobal {
            path: path.into(),
            global,
        },
        PickleError::Bad(reason) => ImportError::Format {
            path: path.into(),
            reason,
        },
    }
}

/// What a converter found for one canonical tensor.
enum Found {
    /// The tensor, with its name in the file.
    Tensor(String, Rc<Tensor>),
    /// Absent but allowed: zeros (a missing rosinality `latent_avg`).
    Zeros,
    /// Absent: its name in the file.
    Missing(String),
}

/// The shape without its size-1 dimensions (upstream layouts add leading ones; the order of
/// elements is the same).
fn squeezed(shape: &[usize]) -> Vec<usize> {
    shape.iter().copied().filter(|&d| d != 1).collect()
}

/// Builds the model, asking `lookup` for each canonical tensor.
fn build_model(
    path: &Path,
    config: ModelConfig,
    mut lookup: impl FnMut(&str) -> Found,
) -> Result<Model, ImportError> {
    let mut failure = None;
    let mut convert = |spec: &TensorSpec| -> Result<Vec<f32>, ImportError> {
        let len = spec.len();
        let (name, tensor) = match lookup(&spec.name) {
            Found::Tensor(name, tensor) => (name, tensor),
            Found::Zeros => return Ok(vec![0.0; len]),
            Found::Missing(name) => {
                return Err(ImportError::MissingTensor {
                    path: path.into(),
                    tensor: name,
                    canonical: spec.name.clone(),
                });
            }
        };
        if squeezed(&tensor.shape) != squeezed(&spec.shape) {
            return Err(ImportError::Shape {
                path: path.into(),
                tensor: name,
                expected: spec.shape.clone(),
                found: tensor.shape.clone(),
            });
        }
        let data = tensor.to_f32().map_err(|e| pickle_error(path, e))?;
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(ImportError::Unsupported {
                path: path.into(),
                reason: format!("tensor `{name}` holds a non-finite value at element {i}"),
            });
        }
        Ok(data)
    };
    let model = Model::from_tensors(config, Some(path.into()), |spec| {
        convert(spec).map_err(|e| {
            failure = Some(e);
            ModelError::Config("import failed".into())
        })
    });
    match (failure, model) {
        (Some(e), _) => Err(e),
        (None, model) => Ok(model?),
    }
}

/// A config from the per-block channel table: `channel_base`/`channel_max` when the table follows
/// that rule, else the explicit table.
fn config_with_channels(mut config: ModelConfig, table: &[usize]) -> ModelConfig {
    let max = table.iter().copied().max().unwrap_or(1);
    let resolutions = config.block_resolutions();
    let fits = |base: usize| {
        resolutions
            .iter()
            .zip(table)
            .all(|(&r, &c)| (base / r).min(max) == c)
    };
    let candidates = resolutions.iter().zip(table).map(|(&r, &c)| c * r);
    match candidates
        .clone()
        .find(|&base| base >= config.resolution && fits(base))
    {
        Some(base) => {
            config.channel_base = base;
            config.channel_max = max;
            config.channel_table = None;
        }
        None => {
            config.channel_base = max * config.resolution;
            config.channel_max = max;
            config.channel_table = Some(table.to_vec());
        }
    }
    config
}

/// A value as an optional clamp (`None`, an int or a float).
fn clamp_value(value: Option<Value>) -> Option<f32> {
    value.and_then(|v| v.as_f64()).map(|v| v as f32)
}

#[cfg(test)]
mod tests;
