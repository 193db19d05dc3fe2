//! `interpolate`: a path of latents z from one design to the next, for animations.

use drape_engine::{Extent, Params};
use std::collections::HashMap;
use std::path::Path;

use std::sync::Arc;

use drape_engine::{Latents, Node, NodeContext, NodeError, ParamSpec, PortSpec, Value, ValueType};

use crate::blend;

/// See the module docs.
pub struct Interpolate;

impl Node for Interpolate {
    fn name(&self) -> &'static str {
        "interpolate"
    }

    fn doc(&self) -> &'static str {
        "A path of latents z through designs in order: `frames` steps from each design to the next.\n\
         The designs are every item of `from`, then every item of `to` when it is connected: two seeds \
         give a morph from one to the other, one batch of seeds a tour through all of them, and `loop` \
         returns to the first for a seamless animation. slerp (the default) keeps z at a typical norm, \
         as in the StyleGAN interpolation videos; map the result with Map and render it with \
         Synthesize. Frames are labelled like `seed 1→seed 2 3/24` and record `t`."
    }

    fn inputs(&self) -> &'static [PortSpec] {
        const IN: &[PortSpec] = &[
            PortSpec::new(
                "from",
                ValueType::Latents,
                "The designs to start from (or the whole tour, in order).",
            ),
            PortSpec::optional(
                "to",
                ValueType::Latents,
                "More designs to go to after those of `from`.",
            ),
        ];
        IN
    }

    fn outputs(&self) -> &'static [PortSpec] {
        const OUT: &[PortSpec] = &[PortSpec::new(
            "z",
            ValueType::Latents,
            "One latent vector per frame, in order.",
        )];
        OUT
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[blend::FRAMES, blend::mode_param("slerp"), blend::LOOP];
        PARAMS
    }

    fn estimate(
        &self,
        params: &Params,
        inputs: &HashMap<&'static str, Extent>,
        _model_dir: Option<&Path>,
    ) -> Option<Vec<Extent>> {
        blend::estimate(params, inputs)
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let Value::Latents(from) = ctx.required_input("from")? else {
            return Err(NodeError::new("input `from` is not a latent batch"));
        };
        let to = match ctx.input("to") {
            Some(Value::Latents(to)) if to.dim != from.dim => {
                return Err(NodeError::new(format!(
                    "`from` has latents of {} values and `to` of {}",
                    from.dim, to.dim
                ))
                .with_help("make both with the same model"));
            }
            Some(Value::Latents(to)) => Some(to),
            Some(_) => return Err(NodeError::new("input `to` is not a latent batch")),
            None => None,
        };
        let mut keys = from.designs.to_vec();
        keys.extend(to.iter().flat_map(|t| t.designs.iter().cloned()));
        let item = |i: usize| match to {
            Some(to) if i >= from.len() => to.item(i - from.len()),
            _ => from.item(i),
        };
        let (data, designs) = blend::path(item, &keys, from.dim, ctx.params)?;
        Ok(vec![Value::Latents(Latents {
            data: Arc::from(data),
            designs: Arc::from(designs),
            ..from.clone()
        })])
    }
}
