//! `interpolate-w`: a path of per-layer latents W+ from one design to the next, for animations.

use drape_engine::{Extent, Params};
use std::collections::HashMap;
use std::path::Path;

use std::sync::Arc;

use drape_engine::{Node, NodeContext, NodeError, ParamSpec, PortSpec, Value, ValueType, WPlus};

use crate::blend;

/// See the module docs.
pub struct InterpolateW;

impl Node for InterpolateW {
    fn name(&self) -> &'static str {
        "interpolate-w"
    }

    fn doc(&self) -> &'static str {
        "A path of per-layer latents W+ through designs in order: `frames` steps from each to the next.\n\
         Like Interpolate, but after Map: truncation, mixing and edits made in W+ stay on the path. \
         lerp (the default) is the usual choice in W; slerp blends each layer's vector on its own. \
         The designs are every item of `from`, then every item of `to` when it is connected; `loop` \
         returns to the first."
    }

    fn inputs(&self) -> &'static [PortSpec] {
        const IN: &[PortSpec] = &[
            PortSpec::new(
                "from",
                ValueType::WPlus,
                "The designs to start from (or the whole tour, in order).",
            ),
            PortSpec::optional(
                "to",
                ValueType::WPlus,
                "More designs to go to after those of `from`.",
            ),
        ];
        IN
    }

    fn outputs(&self) -> &'static [PortSpec] {
        const OUT: &[PortSpec] = &[PortSpec::new(
            "w",
            ValueType::WPlus,
            "Per-layer latents per frame, in order.",
        )];
        OUT
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[blend::FRAMES, blend::mode_param("lerp"), blend::LOOP];
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
        let Value::WPlus(from) = ctx.required_input("from")? else {
            return Err(NodeError::new("input `from` is not a W+ batch"));
        };
        let to = match ctx.input("to") {
            Some(Value::WPlus(to)) if (to.num_ws, to.dim) != (from.num_ws, from.dim) => {
                return Err(NodeError::new(format!(
                    "`from` is [{}, {}] per design and `to` is [{}, {}]",
                    from.num_ws, from.dim, to.num_ws, to.dim
                ))
                .with_help("map both with the same model"));
            }
            Some(Value::WPlus(to)) => Some(to),
            Some(_) => return Err(NodeError::new("input `to` is not a W+ batch")),
            None => None,
        };
        let mut keys = from.designs.to_vec();
        keys.extend(to.iter().flat_map(|t| t.designs.iter().cloned()));
        let item = |i: usize| match to {
            Some(to) if i >= from.len() => to.item(i - from.len()),
            _ => from.item(i),
        };
        let (data, designs) = blend::path(item, &keys, from.dim, ctx.params)?;
        Ok(vec![Value::WPlus(WPlus {
            data: Arc::from(data),
            designs: Arc::from(designs),
            ..from.clone()
        })])
    }
}
