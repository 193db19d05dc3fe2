//! stylegan2-ada-pytorch network pickles: walk the persistence objects of `G_ema` (or `G`) to its
//! state dict, whose names are already drape's canonical ones, and read its settings.

use super::torchfile::Container;
use super::value::{Tensor, Value};
use super::{
    Flavour, Found, ImportError, Imported, build_model, clamp_value, config_with_channels,
};
use crate::config::{ModelConfig, num_ws_for};
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

/// How deep a module tree is walked.
const MAX_MODULE_DEPTH: usize = 16;

/// Every parameter and buffer of a module tree, by dotted name.
fn state_dict(module: &Value, prefix: &str, out: &mut HashMap<String, Rc<Tensor>>) {
    // Module trees are a few levels deep; a deeper (or cyclic) one is not a generator.
    if prefix.matches('.').count() > MAX_MODULE_DEPTH {
        return;
    }
    for field in ["_parameters", "_buffers"] {
        for (name, value) in module.get(field).map(|d| d.entries()).unwrap_or_default() {
            if let Value::Tensor(t) = &value {
                out.insert(format!("{prefix}{name}"), t.clone());
            }
        }
    }
    for (name, child) in module
        .get("_modules")
        .map(|d| d.entries())
        .unwrap_or_default()
    {
        state_dict(&child, &format!("{prefix}{name}."), out);
    }
}

/// The submodule at a dotted path.
fn module(root: &Value, path: &str) -> Option<Value> {
    path.split('.')
        .try_fold(root.clone(), |m, name| m.get("_modules")?.get(name))
}

pub(super) fn convert(
    path: &Path,
    container: Container,
    root: &Value,
    network: &str,
) -> Result<Imported, ImportError> {
    let unsupported = |reason: String| ImportError::Unsupported {
        path: path.into(),
        reason,
    };
    if network != "G" && network != "G_ema" {
        return Err(unsupported(format!(
            "--network must be `G` or `G_ema` for a stylegan2-ada pickle, not `{network}`"
        )));
    }
    let g = match root.get(network) {
        Some(Value::Object(ref obj)) if &*obj.class != "Generator" => {
            return Err(unsupported(format!(
                "`{network}` is a `{}`, not a stylegan2-ada `Generator`",
                obj.class
            )));
        }
        Some(g @ Value::Object(_)) => g,
        Some(other) => {
            return Err(unsupported(format!(
                "`{network}` is {}, not a stylegan2-ada network",
                other.kind()
            )));
        }
        None => return Err(unsupported(format!("the pickle holds no `{network}`"))),
    };
    let int = |key: &str| {
        g.get(key).and_then(|v| v.as_usize()).ok_or_else(|| {
            unsupported(format!(
                "`{network}.{key}` is missing; is this a StyleGAN2 generator?"
            ))
        })
    };
    let (z_dim, w_dim, c_dim) = (int("z_dim")?, int("w_dim")?, int("c_dim")?);
    let (resolution, img_channels) = (int("img_resolution")?, int("img_channels")?);
    if c_dim > 0 {
        return Err(unsupported(format!(
            "the generator is conditional (c_dim {c_dim}); drape imports unconditional models only"
        )));
    }
    if img_channels != 3 {
        return Err(unsupported(format!(
            "the generator makes {img_channels}-channel images; drape needs RGB (3)"
        )));
    }
    let mut tensors = HashMap::new();
    state_dict(&g, "", &mut tensors);
    let mapping_layers = (0..)
        .take_while(|i| tensors.contains_key(&format!("mapping.fc{i}.weight")))
        .count();
    let lr = module(&g, "mapping.fc0")
        .and_then(|fc| fc.get("bias_gain"))
        .and_then(|v| v.as_f64())
        .unwrap_or(0.01);
    let config = ModelConfig {
        z_dim,
        w_dim,
        num_ws: num_ws_for(resolution),
        resolution,
        mapping_layers,
        mapping_lr_multiplier: lr as f32,
        channel_base: resolution,
        channel_max: 1,
        channel_table: None,
        conv_clamp: module(&g, "synthesis.b4.conv1").and_then(|m| clamp_value(m.get("conv_clamp"))),
        name: None,
        description: None,
    };
    config.validate().map_err(&unsupported)?;
    let mut table = Vec::new();
    let mut notes = Vec::new();
    for r in config.block_resolutions() {
        let block = module(&g, &format!("synthesis.b{r}"));
        let arch = block.as_ref().and_then(|b| b.get("architecture"));
        match arch.as_ref().and_then(Value::as_str) {
            Some("skip") | None => {}
            Some(other) => {
                return Err(unsupported(format!(
                    "block b{r} has the `{other}` architecture; drape computes only `skip`"
                )));
            }
        }
        if matches!(
            block.and_then(|b| b.get("use_fp16")),
            Some(Value::Bool(true))
        ) {
            notes.push(format!(
                "block b{r} ran in float16 upstream (num_fp16_res > 0); drape computes it in float32, \
                 so images differ slightly from upstream's fp16 output"
            ));
        }
        let weight = tensors.get(&format!("synthesis.b{r}.conv1.weight"));
        match weight.and_then(|t| t.shape.first()) {
            Some(&c) => table.push(c),
            None => {
                return Err(ImportError::MissingTensor {
                    path: path.into(),
                    tensor: format!("{network}.synthesis.b{r}.conv1.weight"),
                    canonical: format!("synthesis.b{r}.conv1.weight"),
                });
            }
        }
    }
    let config = config_with_channels(config, &table);
    let model = build_model(path, config, |name| match tensors.get(name) {
        Some(t) => Found::Tensor(format!("{network}.{name}"), t.clone()),
        None => Found::Missing(format!("{network}.{name}")),
    })?;
    Ok(Imported {
        model,
        container,
        flavour: Flavour::Ada,
        network: network.to_string(),
        w_avg_source: format!("`{network}.mapping.w_avg` of the pickle"),
        notes,
    })
}
