//! rosinality/stylegan2-pytorch checkpoints (`g_ema`, optional `latent_avg`): its names mapped to
//! the canonical ones. Its EqualLinear/EqualConv2d/ModulatedConv2d store raw weights with the same
//! equalised-lr gains as stylegan2-ada, and its noise buffers become the const noise.

use super::torchfile::Container;
use super::value::{Tensor, Value};
use super::{Flavour, Found, ImportError, Imported, build_model, config_with_channels};
use crate::config::{ModelConfig, num_ws_for};
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

/// rosinality's mapping learning-rate multiplier (`lr_mlp`); it is not stored in the checkpoint.
const LR_MLP: f32 = 0.01;

/// The rosinality name of a canonical tensor (`mapping.w_avg` is the top-level `latent_avg`).
pub(super) fn source_name(canonical: &str) -> Option<String> {
    let parts: Vec<&str> = canonical.split('.').collect();
    match parts.as_slice() {
        ["mapping", "w_avg"] => Some("latent_avg".into()),
        ["mapping", fc, field] => {
            let i: usize = fc.strip_prefix("fc")?.parse().ok()?;
            Some(format!("style.{}.{field}", i + 1))
        }
        ["synthesis", "b4", "const"] => Some("input.input".into()),
        ["synthesis", block, layer, rest @ ..] => {
            let r: usize = block.strip_prefix('b')?.parse().ok()?;
            let level = (r.trailing_zeros() as usize).checked_sub(3);
            let rest = rest.join(".");
            if *layer == "torgb" {
                let prefix = match level {
                    None => "to_rgb1".to_string(),
                    Some(k) => format!("to_rgbs.{k}"),
                };
                let field = match rest.as_str() {
                    "weight" => "conv.weight",
                    "bias" => "bias",
                    "affine.weight" => "conv.modulation.weight",
                    "affine.bias" => "conv.modulation.bias",
                    _ => return None,
                };
                return Some(format!("{prefix}.{field}"));
            }
            let c: usize = layer.strip_prefix("conv")?.parse().ok()?;
            let (prefix, noise) = match level {
                None => ("conv1".to_string(), 0),
                Some(k) => (format!("convs.{}", 2 * k + c), 2 * k + c + 1),
            };
            let field = match rest.as_str() {
                "weight" => "conv.weight",
                "bias" => "activate.bias",
                "noise_strength" => "noise.weight",
                "noise_const" => return Some(format!("noises.noise_{noise}")),
                "affine.weight" => "conv.modulation.weight",
                "affine.bias" => "conv.modulation.bias",
                _ => return None,
            };
            Some(format!("{prefix}.{field}"))
        }
        _ => None,
    }
}

/// The FIR kernel rosinality stores for up-sampling: `outer([1,3,3,1])/64 · 4`.
fn check_kernel(path: &Path, name: &str, tensor: Option<&Rc<Tensor>>) -> Result<(), ImportError> {
    let Some(tensor) = tensor else {
        return Ok(());
    };
    let k = [1.0f32, 3.0, 3.0, 1.0];
    let want: Vec<f32> = k
        .iter()
        .flat_map(|a| k.iter().map(move |b| a * b / 16.0))
        .collect();
    let got = tensor.to_f32().map_err(|e| super::pickle_error(path, e))?;
    let same = got.len() == want.len() && got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-6);
    if !same {
        return Err(ImportError::Unsupported {
            path: path.into(),
            reason: format!(
                "`g_ema.{name}` is not the standard [1,3,3,1] up-sampling filter; drape computes only that one"
            ),
        });
    }
    Ok(())
}

pub(super) fn convert(
    path: &Path,
    container: Container,
    root: &Value,
) -> Result<Imported, ImportError> {
    let unsupported = |reason: String| ImportError::Unsupported {
        path: path.into(),
        reason,
    };
    let g = root.get("g_ema").unwrap_or(Value::None);
    if !matches!(g, Value::Dict(_)) {
        return Err(unsupported(format!(
            "`g_ema` is {}, not a state dict",
            g.kind()
        )));
    }
    let mut tensors: HashMap<String, Rc<Tensor>> = HashMap::new();
    for (name, value) in g.entries() {
        if let Value::Tensor(t) = &value {
            tensors.insert(name, t.clone());
        }
    }
    let latent_avg = match &root.get("latent_avg") {
        Some(Value::Tensor(t)) => Some(t.clone()),
        _ => None,
    };
    let missing = |name: &str, canonical: &str| ImportError::MissingTensor {
        path: path.into(),
        tensor: format!("g_ema.{name}"),
        canonical: canonical.into(),
    };
    let fc0 = tensors
        .get("style.1.weight")
        .ok_or_else(|| missing("style.1.weight", "mapping.fc0.weight"))?;
    let [w_dim, z_dim] = fc0.shape[..] else {
        return Err(unsupported(format!(
            "`g_ema.style.1.weight` has shape {:?}, not [w_dim, z_dim]",
            fc0.shape
        )));
    };
    let mapping_layers = (1..)
        .take_while(|i| tensors.contains_key(&format!("style.{i}.weight")))
        .count();
    let levels = (0..)
        .take_while(|k| tensors.contains_key(&format!("to_rgbs.{k}.conv.weight")))
        .count();
    let resolution = 4usize.checked_shl(levels as u32).unwrap_or(0);
    let config = ModelConfig {
        z_dim,
        w_dim,
        num_ws: num_ws_for(resolution),
        resolution,
        mapping_layers,
        mapping_lr_multiplier: LR_MLP,
        channel_base: resolution,
        channel_max: 1,
        channel_table: None,
        conv_clamp: None,
        name: None,
        description: None,
    };
    config.validate().map_err(&unsupported)?;
    let mut table = Vec::new();
    for r in config.block_resolutions() {
        let canonical = format!("synthesis.b{r}.conv1.weight");
        let name = source_name(&canonical).unwrap_or_default();
        let t = tensors
            .get(&name)
            .ok_or_else(|| missing(&name, &canonical))?;
        // ModulatedConv2d weights are [1, c_out, c_in, k, k].
        match t.shape.get(1) {
            Some(&c) => table.push(c),
            None => {
                return Err(unsupported(format!(
                    "`g_ema.{name}` has shape {:?}, not [1, c_out, c_in, 3, 3]",
                    t.shape
                )));
            }
        }
    }
    for k in 0..levels {
        let conv = format!("convs.{}.conv.blur.kernel", 2 * k);
        check_kernel(path, &conv, tensors.get(&conv))?;
        let up = format!("to_rgbs.{k}.upsample.kernel");
        check_kernel(path, &up, tensors.get(&up))?;
    }
    let config = config_with_channels(config, &table);
    let model = build_model(path, config, |canonical| {
        let Some(name) = source_name(canonical) else {
            return Found::Missing(canonical.to_string());
        };
        if name == "latent_avg" {
            return match &latent_avg {
                Some(t) => Found::Tensor(name, t.clone()),
                None => Found::Zeros,
            };
        }
        match tensors.get(&name) {
            Some(t) => Found::Tensor(format!("g_ema.{name}"), t.clone()),
            None => Found::Missing(format!("g_ema.{name}")),
        }
    })?;
    let mut notes = vec![format!(
        "the mapping learning-rate multiplier is not stored in rosinality checkpoints; \
         {LR_MLP} (the upstream default `lr_mlp`) is assumed"
    )];
    let w_avg_source = if latent_avg.is_some() {
        "`latent_avg` of the checkpoint".to_string()
    } else {
        notes.push(
            "the checkpoint has no `latent_avg`, so `mapping.w_avg` is zero: truncation toward \
             w_avg is truncation toward 0 (ClothingGAN's convention)"
                .into(),
        );
        "missing from the checkpoint (zeros)".to_string()
    };
    Ok(Imported {
        model,
        container,
        flavour: Flavour::Rosinality,
        network: "g_ema".into(),
        w_avg_source,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::source_name;

    #[test]
    fn names_follow_rosinality_layout() {
        let cases = [
            ("mapping.fc0.weight", "style.1.weight"),
            ("mapping.fc2.bias", "style.3.bias"),
            ("synthesis.b4.const", "input.input"),
            ("synthesis.b4.conv1.weight", "conv1.conv.weight"),
            ("synthesis.b4.conv1.noise_const", "noises.noise_0"),
            ("synthesis.b4.torgb.bias", "to_rgb1.bias"),
            (
                "synthesis.b8.conv0.affine.bias",
                "convs.0.conv.modulation.bias",
            ),
            ("synthesis.b8.conv1.noise_strength", "convs.1.noise.weight"),
            ("synthesis.b8.conv1.noise_const", "noises.noise_2"),
            ("synthesis.b16.conv0.bias", "convs.2.activate.bias"),
            ("synthesis.b16.conv0.noise_const", "noises.noise_3"),
            (
                "synthesis.b16.torgb.affine.weight",
                "to_rgbs.1.conv.modulation.weight",
            ),
        ];
        for (canonical, want) in cases {
            assert_eq!(source_name(canonical).as_deref(), Some(want), "{canonical}");
        }
    }
}
