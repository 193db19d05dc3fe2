//! The CPU reference: the whole mapping and synthesis networks in plain Rust, straight from the spec,
//! with per-layer intermediates on request. Slow; meant for tests and for checking the GPU.

pub mod layers;

use crate::input::{self, InputError};
use crate::model::Model;
use crate::noise::{NoiseMode, random_noise};
use crate::truncation::{Truncation, broadcast, truncate};
use rayon::prelude::*;

/// A named intermediate tensor of a whole batch, e.g. `act.b8.conv0` with shape `[batch, C, 8, 8]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Activation {
    /// `act.b{r}.conv{0,1}`, `act.b{r}.img`, `style.b{r}.{conv0,conv1,torgb}` (toRGB styles with their 1/√C gain) or `demod.b{r}.conv{0,1}`.
    pub name: String,
    /// Shape including the batch dimension.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// Mapping network plus broadcast and truncation: z `[batch, z_dim]` → ws `[batch, num_ws, w_dim]`.
pub fn map(
    model: &Model,
    z: &[f32],
    batch: usize,
    truncation: &Truncation,
) -> Result<Vec<f32>, InputError> {
    let c = model.config();
    input::check_z(c, z, batch)?;
    let lr = c.mapping_lr_multiplier as f64;
    let w: Vec<f32> = z
        .par_chunks_exact(c.z_dim)
        .flat_map_iter(|zi| {
            let mut x = layers::pixel_norm(zi);
            for layer in model.mapping() {
                x = layers::dense(&x, layer, lr / (layer.in_features as f64).sqrt(), lr, true);
            }
            x
        })
        .collect();
    let mut ws = broadcast(&w, c.w_dim, c.num_ws);
    truncate(&mut ws, c.num_ws, model.w_avg(), truncation);
    Ok(ws)
}

/// Synthesis network: ws `[batch, num_ws, w_dim]` → images `[batch, 3, R, R]`.
pub fn synthesize(
    model: &Model,
    ws: &[f32],
    batch: usize,
    noise: &NoiseMode,
) -> Result<Vec<f32>, InputError> {
    Ok(synthesize_traced(model, ws, batch, noise)?.0)
}

/// Like [`synthesize`], also returning every layer's output and the styles and demodulation
/// coefficients (see [`Activation`]), in network order.
pub fn synthesize_traced(
    model: &Model,
    ws: &[f32],
    batch: usize,
    noise: &NoiseMode,
) -> Result<(Vec<f32>, Vec<Activation>), InputError> {
    let c = model.config();
    input::check_ws(c, ws, batch)?;
    let per_sample: Vec<(Vec<f32>, Vec<Activation>)> = ws
        .par_chunks_exact(c.num_ws * c.w_dim)
        .enumerate()
        .map(|(n, sample_ws)| synthesize_one(model, sample_ws, n, noise))
        .collect();
    let mut images = Vec::with_capacity(batch * 3 * c.resolution * c.resolution);
    let mut trace: Vec<Activation> = per_sample[0]
        .1
        .iter()
        .map(|a| Activation {
            name: a.name.clone(),
            shape: [vec![batch], a.shape.clone()].concat(),
            data: Vec::new(),
        })
        .collect();
    for (image, acts) in per_sample {
        images.extend(image);
        for (merged, act) in trace.iter_mut().zip(acts) {
            merged.data.extend(act.data);
        }
    }
    Ok((images, trace))
}

fn synthesize_one(
    model: &Model,
    ws: &[f32],
    sample: usize,
    noise: &NoiseMode,
) -> (Vec<f32>, Vec<Activation>) {
    let c = model.config();
    let w_at = |index: usize| &ws[index * c.w_dim..(index + 1) * c.w_dim];
    let random = match noise {
        NoiseMode::Random { seed } => Some(random_noise(c, *seed, sample)),
        _ => None,
    };
    let mut trace = Vec::new();
    let mut record = |name: String, shape: &[usize], data: &[f32]| {
        trace.push(Activation {
            name,
            shape: shape.to_vec(),
            data: data.to_vec(),
        })
    };
    let mut x = model.const_input().to_vec();
    let mut img: Vec<f32> = Vec::new();
    for (layer_index, layer) in model.convs().iter().enumerate() {
        let shape = layer.shape;
        let r = shape.resolution;
        let conv = if shape.up { 0 } else { 1 };
        let s = layers::affine(w_at(shape.ws_index), &layer.affine);
        let d = layers::demodulation(layer, &s);
        record(format!("style.b{r}.conv{conv}"), &[shape.c_in], &s);
        record(format!("demod.b{r}.conv{conv}"), &[shape.c_out], &d);
        let mut y = if shape.up {
            layers::modulated_conv_up(layer, &x, &s, &d, r / 2)
        } else {
            layers::modulated_conv(layer, &x, &s, &d, r)
        };
        let noise_map = match noise {
            NoiseMode::Const => Some(&layer.noise_const[..]),
            NoiseMode::None => None,
            NoiseMode::Random { .. } => random.as_ref().map(|maps| &maps[layer_index][..]),
        };
        layers::noise_bias_activation(&mut y, layer, noise_map, c.conv_clamp);
        record(format!("act.b{r}.conv{conv}"), &[shape.c_out, r, r], &y);
        x = y;
        if !shape.up {
            let torgb = &model.torgbs()[r.trailing_zeros() as usize - 2];
            let w = w_at(crate::config::ModelConfig::torgb_ws_index(r));
            let s = layers::torgb_style(w, torgb);
            record(format!("style.b{r}.torgb"), &[torgb.c_in], &s);
            let y = layers::torgb(torgb, &x, &s, c.conv_clamp);
            img = if r == 4 {
                y
            } else {
                let up = layers::upsample_image(&img, r / 2);
                up.iter().zip(&y).map(|(a, b)| a + b).collect()
            };
            record(format!("act.b{r}.img"), &[3, r, r], &img);
        }
    }
    (img, trace)
}
