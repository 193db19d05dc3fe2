//! The CPU reference: the whole mapping and synthesis networks in plain Rust, straight from the spec,
//! with per-layer intermediates on request. Slow; meant for tests and for checking the GPU.

pub mod layers;

use crate::input::{self, InputError};
use crate::model::Model;
use crate::network::Layer;
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
    let specs = &model.network().mapping;
    let w: Vec<f32> = z
        .par_chunks_exact(c.z_dim)
        .flat_map_iter(|zi| {
            let mut x = layers::pixel_norm(zi);
            for (layer, spec) in model.mapping().iter().zip(specs) {
                x = layers::dense(
                    &x,
                    layer,
                    spec.weight_gain as f64,
                    spec.bias_gain as f64,
                    true,
                );
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
        NoiseMode::Random { seed } => Some(random_noise(model.network(), *seed, sample)),
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
    let (mut convs, mut torgbs) = (model.convs().iter(), model.torgbs().iter());
    for layer in &model.network().layers {
        match layer {
            Layer::Conv(spec) => {
                let conv = convs.next().expect("one conv layer per conv spec");
                let r = spec.resolution;
                let s = layers::affine(w_at(spec.ws_index()), &conv.affine, &spec.affine);
                let d = layers::demodulation(conv, &s);
                record(spec.style_name(), &[spec.c_in], &s);
                record(spec.demod_name(), &[spec.c_out], &d);
                let mut y = if spec.up {
                    layers::modulated_conv_up(conv, &x, &s, &d, spec.input_size())
                } else {
                    layers::modulated_conv(conv, &x, &s, &d, r)
                };
                let noise_map = match noise {
                    NoiseMode::Const => Some(&conv.noise_const[..]),
                    NoiseMode::None => None,
                    NoiseMode::Random { .. } => random.as_ref().map(|maps| &maps[spec.index][..]),
                };
                layers::noise_bias_activation(&mut y, conv, noise_map);
                record(spec.output_name(), &[spec.c_out, r, r], &y);
                x = y;
            }
            Layer::ToRgb(spec) => {
                let torgb = torgbs.next().expect("one toRGB layer per toRGB spec");
                let r = spec.resolution;
                let s = layers::affine(w_at(spec.affine.ws_index), &torgb.affine, &spec.affine);
                record(spec.style_name(), &[spec.c_in], &s);
                let y = layers::torgb(torgb, &x, &s);
                img = if spec.has_previous() {
                    let up = layers::upsample_image(&img, r / 2);
                    up.iter().zip(&y).map(|(a, b)| a + b).collect()
                } else {
                    y
                };
                record(spec.output_name(), &[3, r, r], &img);
            }
        }
    }
    (img, trace)
}
