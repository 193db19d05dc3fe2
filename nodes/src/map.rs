//! `map`: the mapping network z → W+ on the GPU, with the truncation trick.

use drape_engine::{Extent, Items};
use std::collections::HashMap;
use std::path::Path;

use std::sync::Arc;

use drape_engine::{
    Node, NodeContext, NodeError, ParamDefault, ParamProblem, ParamSpec, ParamType, Params,
    PortSpec, Value, ValueType, WPlus,
};
use drape_generator::{Truncation, TruncationTarget};

use crate::{model, pending_truncation};

/// See the module docs.
pub struct Map;

impl Node for Map {
    fn name(&self) -> &'static str {
        "map"
    }

    fn doc(&self) -> &'static str {
        "The mapping network: latents z to per-layer latents W+, with truncation.\n\
         Truncation pulls each w toward the model's average w (`toward: w-avg`, stylegan2-ada) or toward \
         zero (`toward: zero`, as ClothingGAN does); psi 1 leaves designs untouched, lower values trade \
         variety for typicality. `cutoff` truncates only the first N layers.\n\
         `apply: after-edits` defers the truncation: the W+ carries it, nodes that edit or mix W+ keep it, \
         and Synthesize (or SaveLatents) applies it last, so edit offsets and mixes are truncated too. \
         ClothingGAN's behaviour is `toward: zero` with `apply: after-edits`: ws ← psi·ws after the \
         edits and the mixing."
    }

    fn inputs(&self) -> &'static [PortSpec] {
        const IN: &[PortSpec] = &[PortSpec::new(
            "z",
            ValueType::Latents,
            "Latent vectors, e.g. from SampleLatent.",
        )];
        IN
    }

    fn outputs(&self) -> &'static [PortSpec] {
        const OUT: &[PortSpec] = &[PortSpec::new(
            "w",
            ValueType::WPlus,
            "Per-layer latents [num_ws, w_dim] per design.",
        )];
        OUT
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[
            ParamSpec {
                name: "truncation",
                ty: ParamType::Float {
                    min: -2.0,
                    max: 2.0,
                },
                default: ParamDefault::Float(1.0),
                doc: "psi: 1 = no truncation, 0.5–0.8 = typical designs, 0 = the average design.",
            },
            ParamSpec {
                name: "cutoff",
                ty: ParamType::Int { min: 1, max: 64 },
                default: ParamDefault::Optional,
                doc: "Truncate only the first N layers (coarse structure); all layers when left out.",
            },
            ParamSpec {
                name: "toward",
                ty: ParamType::Choice(&["w-avg", "zero"]),
                default: ParamDefault::Text("w-avg"),
                doc: "Truncation target: the model's average w, or zero (ClothingGAN-compatible).",
            },
            ParamSpec {
                name: "apply",
                ty: ParamType::Choice(&["now", "after-edits"]),
                default: ParamDefault::Text("now"),
                doc: "Truncate here, or defer it until synthesis so it also scales later edits and mixes (ClothingGAN).",
            },
        ];
        PARAMS
    }

    fn uses_model(&self) -> bool {
        true
    }

    fn check(&self, params: &Params) -> Vec<ParamProblem> {
        let zero = params.text("toward").is_ok_and(|t| t == "zero");
        if zero && params.get("cutoff").is_some() {
            return vec![ParamProblem {
                param: Some("cutoff"),
                message: "`cutoff` applies to truncation toward w-avg only; ClothingGAN truncates every layer".into(),
            }];
        }
        Vec::new()
    }

    fn items(&self, _params: &Params) -> Items {
        Items::PerDesign
    }

    fn synonyms(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("psi", "truncation"),
            ("truncation_psi", "truncation"),
            ("truncation_cutoff", "cutoff"),
        ]
    }

    fn estimate(
        &self,
        _params: &Params,
        inputs: &HashMap<&'static str, Extent>,
        model_dir: Option<&Path>,
    ) -> Option<Vec<Extent>> {
        let config = model::config_at(model_dir)?;
        Some(vec![Extent::values(
            inputs.get("z")?.items,
            (config.num_ws * config.w_dim) as u64,
        )])
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let Value::Latents(z) = ctx.required_input("z")? else {
            return Err(NodeError::new("input `z` is not a latent batch"));
        };
        let generator = model::generator(ctx)?;
        let config = generator.model().config().clone();
        if z.dim != config.z_dim {
            return Err(NodeError::new(format!(
                "the latents have {} values each, but the model takes z of {}",
                z.dim, config.z_dim
            ))
            .with_help("make the latents with this model (SampleLatent reads z_dim from it)"));
        }
        let psi = ctx.params.float("truncation")? as f32;
        let cutoff = ctx.params.opt_int("cutoff")?.map(|c| c as usize);
        let target = match ctx.params.text("toward")? {
            "zero" => TruncationTarget::Zero,
            _ => TruncationTarget::WAvg,
        };
        if let Some(c) = cutoff.filter(|&c| c > config.num_ws) {
            return Err(NodeError::new(format!(
                "cutoff {c} is larger than the model's {} layers",
                config.num_ws
            ))
            .at_param("cutoff"));
        }
        let truncation = Truncation {
            psi,
            cutoff,
            target,
        };
        let after_edits = ctx.params.text("apply")? == "after-edits";
        let (now, pending) = if after_edits {
            let pending = pending_truncation::defer(&truncation, generator.model().w_avg());
            (Truncation::NONE, pending)
        } else {
            (truncation, None)
        };
        let ws = generator
            .map(&z.data, z.len(), &now)
            .map_err(|e| NodeError::new(e.to_string()))?;
        let designs: Vec<_> = z
            .designs
            .iter()
            .map(|d| match (psi == 1.0, after_edits) {
                (true, _) => d.clone(),
                (false, false) => d.clone().with_param("truncation", psi),
                (false, true) => d
                    .clone()
                    .with_param("truncation", psi)
                    .with_param("truncate", "after-edits"),
            })
            .collect();
        Ok(vec![Value::WPlus(WPlus {
            num_ws: config.num_ws,
            dim: config.w_dim,
            data: Arc::from(ws),
            designs: Arc::from(designs),
            pending_truncation: pending,
        })])
    }
}
