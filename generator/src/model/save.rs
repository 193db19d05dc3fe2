//! Writing a model folder in the drape format (used for random benchmark models and tests).

use super::load::{FORMAT, FORMAT_VERSION};
use super::{Model, ModelError, WEIGHTS_FILE};
use safetensors::{Dtype, tensor::TensorView};
use std::collections::HashMap;
use std::path::Path;

/// The element type tensors are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageType {
    /// 32-bit floats.
    F32,
    /// 16-bit floats (rounded to nearest).
    F16,
}

impl Model {
    /// Writes `generator.safetensors` into `dir` (created if needed) with the format's metadata.
    pub fn save(&self, dir: &Path, storage: StorageType) -> Result<(), ModelError> {
        let path = dir.join(WEIGHTS_FILE);
        let write_err = |source| ModelError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(write_err)?;
        let tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = self
            .named_tensors()
            .into_iter()
            .map(|(spec, data)| {
                let (dtype, bytes) = match storage {
                    StorageType::F32 => (
                        Dtype::F32,
                        data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    ),
                    StorageType::F16 => (
                        Dtype::F16,
                        data.iter()
                            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                            .collect(),
                    ),
                };
                (spec.name, dtype, spec.shape, bytes)
            })
            .collect();
        let views = tensors.iter().map(|(name, dtype, shape, bytes)| {
            let view =
                TensorView::new(*dtype, shape.clone(), bytes).expect("sizes follow the spec");
            (name.clone(), view)
        });
        let bytes = safetensors::serialize(views, Some(self.metadata())).map_err(|e| {
            ModelError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            }
        })?;
        std::fs::write(&path, bytes).map_err(write_err)
    }

    /// The `__metadata__` entries describing this model.
    pub fn metadata(&self) -> HashMap<String, String> {
        let c = self.config();
        let mut meta: HashMap<String, String> = [
            ("format", FORMAT.to_string()),
            ("format_version", FORMAT_VERSION.to_string()),
            ("z_dim", c.z_dim.to_string()),
            ("w_dim", c.w_dim.to_string()),
            ("c_dim", "0".to_string()),
            ("img_resolution", c.resolution.to_string()),
            ("img_channels", "3".to_string()),
            ("num_ws", c.num_ws.to_string()),
            ("mapping_layers", c.mapping_layers.to_string()),
            ("mapping_lr_multiplier", c.mapping_lr_multiplier.to_string()),
            ("channel_base", c.channel_base.to_string()),
            ("channel_max", c.channel_max.to_string()),
            (
                "conv_clamp",
                c.conv_clamp.map_or("none".to_string(), |v| v.to_string()),
            ),
            ("architecture", "skip".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some(table) = &c.channel_table {
            let text: Vec<String> = table.iter().map(|c| c.to_string()).collect();
            meta.insert("channels".to_string(), text.join(","));
        }
        for (key, value) in [("name", &c.name), ("description", &c.description)] {
            if let Some(value) = value {
                meta.insert(key.to_string(), value.clone());
            }
        }
        meta
    }
}
