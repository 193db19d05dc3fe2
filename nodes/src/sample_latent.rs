//! `sample-latent`: latent vectors z from seeds, identical to numpy's `RandomState(seed).randn`.

use std::sync::Arc;

use drape_engine::{
    Design, Latents, Node, NodeContext, NodeError, ParamDefault, ParamSpec, ParamType, PortSpec,
    Value, ValueType,
};
use drape_generator::seeds::z_from_seed;

use crate::model;

/// See the module docs.
pub struct SampleLatent;

impl Node for SampleLatent {
    fn name(&self) -> &'static str {
        "sample-latent"
    }

    fn doc(&self) -> &'static str {
        "Latent vectors z drawn from seeds, one design per seed.\n\
         z is exactly numpy's `RandomState(seed).randn(1, z_dim)`, so seed 42 is the same design here \
         as in stylegan2-ada's generate.py, GANSpace and ClothingGAN. The length is the model's z_dim."
    }

    fn outputs(&self) -> &'static [PortSpec] {
        const OUT: &[PortSpec] = &[PortSpec::new(
            "z",
            ValueType::Latents,
            "One latent vector per seed, in seed order.",
        )];
        OUT
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[ParamSpec {
            name: "seeds",
            ty: ParamType::Seeds,
            default: ParamDefault::Required,
            doc: "Which designs: `12`, `[1, 5, 9]`, `\"0..8\"` (end excluded) or `\"0..=7\"`.",
        }];
        PARAMS
    }

    fn uses_model(&self) -> bool {
        true
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let dim = model::model(ctx)?.config().z_dim;
        let seeds = ctx.params.seeds("seeds")?;
        let data: Vec<f32> = seeds.iter().flat_map(|&s| z_from_seed(s, dim)).collect();
        let designs: Vec<Design> = seeds.iter().map(|&s| Design::from_seed(s)).collect();
        Ok(vec![Value::Latents(Latents {
            dim,
            data: Arc::from(data),
            designs: Arc::from(designs),
        })])
    }
}
