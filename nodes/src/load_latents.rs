//! `load-latents`: W+ latents from a numpy `.npy` / `.npz` file, e.g. stylegan2-ada's `projected_w.npz`.

use drape_engine::Extent;
use std::collections::HashMap;
use std::path::Path;

use std::sync::Arc;

use drape_engine::{
    Design, Node, NodeContext, NodeError, ParamDefault, ParamProblem, ParamSpec, ParamType, Params,
    PortSpec, Value, ValueType, WPlus,
};

use crate::latent_file::{self, Format};
use crate::model;

/// See the module docs.
pub struct LoadLatents;

impl Node for LoadLatents {
    fn name(&self) -> &'static str {
        "load-latents"
    }

    fn doc(&self) -> &'static str {
        "W+ latents read from a numpy file: projected photos, saved designs, latents from other tools.\n\
         Reads `.npy` and `.npz` (the array `w` — what stylegan2-ada's projector writes to \
         `projected_w.npz` — or the file's only array, or the one named by `key`), float32 or float64, \
         shaped [n, num_ws, w_dim] or [n, w_dim] (one w per design, repeated to every layer). The \
         shape must fit the graph's model. Designs are labelled by the file name, `projected_w #0`, \
         and carry no truncation: the file holds final ws, as SaveLatents writes them."
    }

    fn outputs(&self) -> &'static [PortSpec] {
        const OUT: &[PortSpec] = &[PortSpec::new(
            "w",
            ValueType::WPlus,
            "The file's designs, in file order.",
        )];
        OUT
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[
            ParamSpec {
                name: "path",
                ty: ParamType::Path,
                default: ParamDefault::Required,
                doc: "The .npy or .npz file, relative to the graph file.",
            },
            ParamSpec {
                name: "key",
                ty: ParamType::Text,
                default: ParamDefault::Optional,
                doc: "The array of a .npz to read; `w`, or the only array, when left out.",
            },
        ];
        PARAMS
    }

    fn uses_model(&self) -> bool {
        true
    }

    fn check(&self, params: &Params) -> Vec<ParamProblem> {
        let mut problems = Vec::new();
        let format = params.path("path").ok().map(Format::of);
        if format == Some(None) {
            problems.push(ParamProblem {
                param: Some("path"),
                message: "the path must end in .npy or .npz".into(),
            });
        }
        if format == Some(Some(Format::Npy)) && params.get("key").is_some() {
            problems.push(ParamProblem {
                param: Some("key"),
                message: "a .npy file holds one array; `key` names an array of a .npz".into(),
            });
        }
        problems
    }

    fn fingerprint(&self, params: &Params) -> String {
        let Ok(path) = params.path("path") else {
            return String::new();
        };
        match std::fs::metadata(path) {
            Ok(meta) => format!("{}:{:?}", meta.len(), meta.modified().ok()),
            Err(_) => "missing".into(),
        }
    }

    fn estimate(
        &self,
        params: &Params,
        _inputs: &HashMap<&'static str, Extent>,
        model_dir: Option<&Path>,
    ) -> Option<Vec<Extent>> {
        let config = model::config_at(model_dir)?;
        let key = params.get("key").and_then(|_| params.text("key").ok());
        let rows = *latent_file::shape(params.path("path").ok()?, key)
            .ok()?
            .first()?;
        Some(vec![Extent::values(
            rows,
            (config.num_ws * config.w_dim) as u64,
        )])
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let config = model::model(ctx)?.config().clone();
        let path = ctx.params.path("path")?;
        let written = ctx.params.text("path")?;
        let key = ctx
            .params
            .get("key")
            .map(|_| ctx.params.text("key"))
            .transpose()?;
        let array = latent_file::read(path, key).map_err(|e| e.at_param("path"))?;
        let (n, data) = latent_file::to_w_plus(path, array, config.num_ws, config.w_dim)
            .map_err(|e| e.at_param("path"))?;
        if n == 0 {
            return Err(NodeError::new(format!(
                "{}: holds no designs",
                path.display()
            )));
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let designs: Vec<Design> = (0..n)
            .map(|i| Design::labelled(format!("{stem} #{i}")).with_param("latents", written))
            .collect();
        Ok(vec![Value::WPlus(WPlus {
            num_ws: config.num_ws,
            dim: config.w_dim,
            data: Arc::from(data),
            designs: Arc::from(designs),
            pending_truncation: None,
        })])
    }
}
