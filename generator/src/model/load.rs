//! Reading and checking `generator.safetensors`: metadata, tensor presence, shapes, dtypes and values.

use super::{Model, ModelError, TensorSpec, tensor_specs};
use crate::config::ModelConfig;
use safetensors::{Dtype, SafeTensors};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

/// The `format` metadata value of a drape generator file.
pub const FORMAT: &str = "drape-stylegan2";
/// The only `format_version` this crate reads.
pub const FORMAT_VERSION: &str = "1";

/// Largest header accepted (the safetensors crate's own limit).
const MAX_HEADER: u64 = 100_000_000;

/// The file's JSON header and length, read without the tensor data.
fn read_header(path: &Path) -> Result<(serde_json::Value, u64, u64), ModelError> {
    let io = |source| ModelError::Io {
        path: path.into(),
        source,
    };
    let corrupt = |reason: String| ModelError::Corrupt {
        path: path.into(),
        reason,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut size = [0u8; 8];
    file.read_exact(&mut size).map_err(|_| {
        corrupt(format!(
            "it holds {len} bytes, too few for a safetensors header"
        ))
    })?;
    let n = u64::from_le_bytes(size);
    if n > MAX_HEADER || n.checked_add(8).is_none_or(|end| end > len) {
        return Err(corrupt(format!(
            "its header claims {n} bytes, but the file holds {len} bytes in all"
        )));
    }
    let mut header = vec![0u8; n as usize];
    file.read_exact(&mut header).map_err(io)?;
    let header: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|e| corrupt(format!("its header is not valid JSON: {e}")))?;
    Ok((header, n, len))
}

/// Checks, from the header alone, that the file holds exactly the tensor data its header describes,
/// so a damaged or padded file is refused before gigabytes are read.
fn check_size_from_header(path: &Path) -> Result<(), ModelError> {
    let (header, n, len) = read_header(path)?;
    let data_end = header
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| *name != "__metadata__")
        .filter_map(|(_, info)| info.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0);
    if 8 + n + data_end != len {
        return Err(ModelError::Corrupt {
            path: path.into(),
            reason: format!(
                "its header describes {data_end} bytes of tensor data after {} header bytes, but the \
                 file holds {len} bytes; it is truncated, padded or damaged",
                8 + n
            ),
        });
    }
    Ok(())
}

/// The generator settings of the weights file at `path`, from its header alone.
pub(super) fn read_config(path: &Path) -> Result<ModelConfig, ModelError> {
    let (header, _, _) = read_header(path)?;
    let metadata: HashMap<String, String> = header
        .get("__metadata__")
        .and_then(|m| serde_json::from_value(m.clone()).ok())
        .ok_or_else(|| ModelError::Metadata {
            path: path.into(),
            key: "__metadata__".into(),
            reason: "missing; this does not look like a drape generator file".into(),
        })?;
    parse_config(path, &metadata)
}

pub(super) fn load(path: &Path) -> Result<Model, ModelError> {
    check_size_from_header(path)?;
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.into(),
        source,
    })?;
    let corrupt = |e: safetensors::SafeTensorError| ModelError::Corrupt {
        path: path.into(),
        reason: e.to_string(),
    };
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(corrupt)?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(corrupt)?;
    let metadata = header
        .metadata()
        .as_ref()
        .ok_or_else(|| ModelError::Metadata {
            path: path.into(),
            key: "__metadata__".into(),
            reason: "missing; this does not look like a drape generator file".into(),
        })?;
    let config = parse_config(path, metadata)?;
    let specs = tensor_specs(&crate::network::Network::new(&config));
    check_no_extra_layers(path, &tensors, &specs)?;
    Model::from_tensors(config, Some(path.into()), |spec| {
        read_tensor(path, &tensors, spec)
    })
}

fn parse_config(path: &Path, meta: &HashMap<String, String>) -> Result<ModelConfig, ModelError> {
    let err = |key: &str, reason: String| ModelError::Metadata {
        path: path.into(),
        key: key.into(),
        reason,
    };
    let get = |key: &str| {
        meta.get(key)
            .map(String::as_str)
            .ok_or_else(|| err(key, "missing".into()))
    };
    let int = |key: &str| -> Result<usize, ModelError> {
        let text = get(key)?;
        text.trim()
            .parse()
            .map_err(|_| err(key, format!("`{text}` is not a non-negative integer")))
    };
    let expect = |key: &str, wanted: &str, what: &str| -> Result<(), ModelError> {
        let found = get(key)?;
        if found == wanted {
            Ok(())
        } else {
            Err(err(key, format!("`{found}` is not supported ({what})")))
        }
    };
    expect("format", FORMAT, "expected drape-stylegan2")?;
    expect(
        "format_version",
        FORMAT_VERSION,
        "this build reads version 1",
    )?;
    expect(
        "architecture",
        "skip",
        "only the skip generator is implemented",
    )?;
    if int("c_dim")? != 0 {
        return Err(err(
            "c_dim",
            "conditional models are not supported (expected 0)".into(),
        ));
    }
    if int("img_channels")? != 3 {
        return Err(err(
            "img_channels",
            "only RGB generators are supported (expected 3)".into(),
        ));
    }
    let lr_text = get("mapping_lr_multiplier")?;
    let mapping_lr_multiplier: f32 = lr_text.trim().parse().map_err(|_| {
        err(
            "mapping_lr_multiplier",
            format!("`{lr_text}` is not a number"),
        )
    })?;
    let clamp_text = get("conv_clamp")?.trim();
    let conv_clamp = match clamp_text {
        "none" | "None" | "null" => None,
        text => Some(text.parse::<f32>().map_err(|_| {
            err(
                "conv_clamp",
                format!("`{text}` is neither `none` nor a number"),
            )
        })?),
    };
    let channel_table = match meta.get("channels") {
        None => None,
        Some(text) => Some(
            text.split(',')
                .map(|c| c.trim().parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    err(
                        "channels",
                        format!("`{text}` is not a comma-separated list of channel counts"),
                    )
                })?,
        ),
    };
    let config = ModelConfig {
        z_dim: int("z_dim")?,
        w_dim: int("w_dim")?,
        num_ws: int("num_ws")?,
        resolution: int("img_resolution")?,
        mapping_layers: int("mapping_layers")?,
        mapping_lr_multiplier,
        channel_base: int("channel_base")?,
        channel_max: int("channel_max")?,
        channel_table,
        conv_clamp,
        name: meta.get("name").cloned(),
        description: meta.get("description").cloned(),
    };
    config
        .validate()
        .map_err(|reason| err("architecture numbers", reason))?;
    Ok(config)
}

/// Layer tensors beyond what the metadata describes (an extra mapping layer, a block above the
/// resolution, a label embedding) mean the metadata contradicts the file.
fn check_no_extra_layers(
    path: &Path,
    tensors: &SafeTensors,
    specs: &[TensorSpec],
) -> Result<(), ModelError> {
    let expected: HashSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let mut names = tensors.names();
    names.sort();
    for name in names {
        let layer_tensor = name.starts_with("mapping.") || name.starts_with("synthesis.");
        if layer_tensor && !expected.contains(name) && !name.ends_with(".resample_filter") {
            return Err(ModelError::Unexpected {
                path: path.into(),
                tensor: name.into(),
                reason: "no such tensor exists for the z_dim, mapping_layers, img_resolution and \
                         c_dim given in the metadata"
                    .into(),
            });
        }
    }
    Ok(())
}

fn read_tensor(
    path: &Path,
    tensors: &SafeTensors,
    spec: &TensorSpec,
) -> Result<Vec<f32>, ModelError> {
    let view = tensors
        .tensor(&spec.name)
        .map_err(|_| ModelError::MissingTensor {
            path: path.into(),
            tensor: spec.name.clone(),
        })?;
    let shape_ok = if spec.is_scalar() {
        view.shape().is_empty() || view.shape() == [1]
    } else {
        view.shape() == spec.shape.as_slice()
    };
    if !shape_ok {
        return Err(ModelError::Shape {
            path: path.into(),
            tensor: spec.name.clone(),
            expected: spec.shape.clone(),
            found: view.shape().to_vec(),
        });
    }
    let bytes = view.data();
    let values: Vec<f32> = match view.dtype() {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        other => {
            return Err(ModelError::Dtype {
                path: path.into(),
                tensor: spec.name.clone(),
                dtype: format!("{other:?}"),
            });
        }
    };
    if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(ModelError::NonFinite {
            path: path.into(),
            tensor: spec.name.clone(),
            index,
            value,
        });
    }
    Ok(values)
}
