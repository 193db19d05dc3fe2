//! `save-latents`: writes a W+ batch to a numpy `.npy` / `.npz` file, float32 [n, num_ws, w_dim].

use drape_engine::{
    Node, NodeContext, NodeError, ParamDefault, ParamProblem, ParamSpec, ParamType, Params,
    PortSpec, Value, ValueType,
};

use crate::latent_file::{self, Format};
use crate::pending_truncation;

/// See the module docs.
pub struct SaveLatents;

impl Node for SaveLatents {
    fn name(&self) -> &'static str {
        "save-latents"
    }

    fn doc(&self) -> &'static str {
        "Writes a W+ batch to one numpy file, to reload with LoadLatents or use in Python.\n\
         The file holds float32 [n, num_ws, w_dim], design order: a `.npy`, or a `.npz` with the array \
         under `w` like stylegan2-ada's `projected_w.npz`. A truncation that Map deferred (`apply: \
         after-edits`) is applied first, so the file holds exactly the ws Synthesize would render. \
         The file is written atomically (a temporary file renamed into place)."
    }

    fn inputs(&self) -> &'static [PortSpec] {
        const IN: &[PortSpec] = &[PortSpec::new(
            "w",
            ValueType::WPlus,
            "The designs to write.",
        )];
        IN
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[ParamSpec {
            name: "path",
            ty: ParamType::Path,
            default: ParamDefault::Required,
            doc: "The file to write, ending in .npy or .npz, relative to the graph file.",
        }];
        PARAMS
    }

    fn is_output(&self) -> bool {
        true
    }

    fn check(&self, params: &Params) -> Vec<ParamProblem> {
        let mut problems = match params.path("path").map(Format::of) {
            Ok(None) => vec![ParamProblem {
                param: Some("path"),
                message: "the path must end in .npy or .npz".into(),
            }],
            _ => Vec::new(),
        };
        if let Ok(path) = params.text("path") {
            problems.extend(crate::output_path::outside_problem(path));
        }
        problems
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let Value::WPlus(w) = ctx.required_input("w")? else {
            return Err(NodeError::new("input `w` is not a W+ batch"));
        };
        let path = crate::output_path::resolve(ctx, "path")?;
        let data = pending_truncation::resolve(w);
        latent_file::write(&path, &data, [w.len(), w.num_ws, w.dim])?;
        ctx.wrote(path);
        Ok(Vec::new())
    }
}
