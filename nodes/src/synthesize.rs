//! `synthesize`: the synthesis network W+ → images on the GPU.

use std::sync::Arc;

use drape_engine::{
    Images, Node, NodeContext, NodeError, ParamDefault, ParamSpec, ParamType, PortSpec, Value,
    ValueType,
};
use drape_generator::NoiseMode;

use crate::{model, pending_truncation};

/// See the module docs.
pub struct Synthesize;

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
        let noise = match noise_name {
            "random" => NoiseMode::Random {
                seed: ctx.params.int("noise_seed")? as u64,
            },
            "none" => NoiseMode::None,
            _ => NoiseMode::Const,
        };
        let pixels = generator
            .synthesize(&pending_truncation::resolve(w), w.len(), &noise)
            .map_err(|e| NodeError::new(e.to_string()))?;
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
