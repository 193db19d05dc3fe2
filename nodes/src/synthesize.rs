//! `synthesize`: the synthesis network W+ → images on the GPU.

use drape_engine::{Extent, Items, Params};
use std::collections::HashMap;
use std::path::Path;

use std::sync::Arc;

use drape_engine::{
    Images, Node, NodeContext, NodeError, ParamDefault, ParamSpec, ParamType, PortSpec, Value,
    ValueType,
};
use drape_generator::NoiseMode;

use crate::{model, pending_truncation};

/// See the module docs.
pub struct Synthesize;

/// Designs synthesized between two chunk boundaries, where progress is reported and a cancelled run
/// stops: a fraction of a second at 64 px on a CPU, a few seconds at 256 px. A design's pixels do not
/// depend on the chunk it falls in.
const CHUNK: usize = 16;

impl Node for Synthesize {
    fn name(&self) -> &'static str {
        "synthesize"
    }

    fn doc(&self) -> &'static str {
        "The synthesis network: per-layer latents W+ to RGB images at the model's resolution.\n\
         Noise adds fine detail: `const` uses the model's stored noise (repeatable, stylegan2-ada's \
         default), `random` draws fresh noise from `noise_seed`, `none` leaves it out.\n\
         A truncation that Map deferred (`apply: after-edits`) is applied to the W+ just before synthesis."
    }

    fn inputs(&self) -> &'static [PortSpec] {
        const IN: &[PortSpec] = &[PortSpec::new(
            "w",
            ValueType::WPlus,
            "Per-layer latents, e.g. from Map.",
        )];
        IN
    }

    fn outputs(&self) -> &'static [PortSpec] {
        const OUT: &[PortSpec] = &[PortSpec::new(
            "images",
            ValueType::Images,
            "One image per design.",
        )];
        OUT
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[
            ParamSpec {
                name: "noise",
                ty: ParamType::Choice(&["const", "random", "none"]),
                default: ParamDefault::Text("const"),
                doc: "Per-layer noise: the model's stored maps, seeded random maps, or none.",
            },
            ParamSpec {
                name: "noise_seed",
                ty: ParamType::Int {
                    min: 0,
                    max: u32::MAX as i64,
                },
                default: ParamDefault::Int(0),
                doc: "Seed of `random` noise; design n of the batch uses noise_seed + n.",
            },
        ];
        PARAMS
    }

    fn uses_model(&self) -> bool {
        true
    }

    fn items(&self, _params: &Params) -> Items {
        Items::PerDesign
    }

    fn synonyms(&self) -> &'static [(&'static str, &'static str)] {
        &[("noise_mode", "noise")]
    }

    fn estimate(
        &self,
        _params: &Params,
        inputs: &HashMap<&'static str, Extent>,
        model_dir: Option<&Path>,
    ) -> Option<Vec<Extent>> {
        let side = model::config_at(model_dir)?.resolution as u64;
        Some(vec![Extent::images(inputs.get("w")?.items, side, side)])
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let Value::WPlus(w) = ctx.required_input("w")? else {
            return Err(NodeError::new("input `w` is not a W+ batch"));
        };
        let generator = model::generator(ctx)?;
        let config = generator.model().config().clone();
        if (w.num_ws, w.dim) != (config.num_ws, config.w_dim) {
            return Err(NodeError::new(format!(
                "the latents are [{}, {}] per design, but the model takes [{}, {}]",
                w.num_ws, w.dim, config.num_ws, config.w_dim
            )));
        }
        let noise_name = ctx.params.text("noise")?;
        let noise_seed = ctx.params.int("noise_seed")? as u64;
        let ws = pending_truncation::resolve(w);
        let per_design = w.num_ws * w.dim;
        let chunk = CHUNK.min(generator.max_batch()).max(1);
        let mut pixels = Vec::with_capacity(w.len() * 3 * config.resolution * config.resolution);
        ctx.progress(0, w.len())?;
        for start in (0..w.len()).step_by(chunk) {
            let count = chunk.min(w.len() - start);
            let noise = match noise_name {
                // Design n of the whole batch uses noise_seed + n, however the batch is split.
                "random" => NoiseMode::Random {
                    seed: noise_seed.wrapping_add((ctx.first_design() + start) as u64),
                },
                "none" => NoiseMode::None,
                _ => NoiseMode::Const,
            };
            let part = generator
                .synthesize(
                    &ws[start * per_design..(start + count) * per_design],
                    count,
                    &noise,
                )
                .map_err(|e| NodeError::new(e.to_string()))?;
            pixels.extend_from_slice(&part);
            ctx.progress(start + count, w.len())?;
        }
        let designs: Vec<_> = w
            .designs
            .iter()
            .map(|d| {
                if noise_name == "const" {
                    d.clone()
                } else {
                    d.clone().with_param("noise", noise_name)
                }
            })
            .collect();
        Ok(vec![Value::Images(Images {
            width: config.resolution,
            height: config.resolution,
            data: Arc::from(pixels),
            designs: Arc::from(designs),
        })])
    }
}
