//! `save`: writes each image of a batch as a PNG, named from a path template, atomically (a temporary
//! file renamed into place), with the graph and the design's recipe embedded as PNG text chunks.

use std::io::Write;
use std::path::{Path, PathBuf};

use drape_engine::{
    Design, Images, Node, NodeContext, NodeError, ParamDefault, ParamProblem, ParamSpec, ParamType,
    Params, PortSpec, Value, ValueType,
};
use rayon::prelude::*;

use crate::pixels::to_rgb8;

/// See the module docs.
pub struct Save;

const PLACEHOLDERS: &[&str] = &["seed", "index", "node"];

impl Node for Save {
    fn name(&self) -> &'static str {
        "save"
    }

    fn doc(&self) -> &'static str {
        "Writes each image of a batch to a PNG file.\n\
         The path is relative to the graph file and may use {seed}, {index} (position in the batch) and \
         {node} (this node's id); a batch of several images needs {seed} or {index} so the names differ. \
         Files are written atomically, and each PNG carries the graph and the design's recipe in its text \
         chunks (drape:graph, drape:design)."
    }

    fn inputs(&self) -> &'static [PortSpec] {
        const IN: &[PortSpec] = &[PortSpec::new(
            "images",
            ValueType::Images,
            "The images to write.",
        )];
        IN
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[ParamSpec {
            name: "path",
            ty: ParamType::Path,
            default: ParamDefault::Required,
            doc: "File name template, e.g. \"out/shirt-{seed}.png\".",
        }];
        PARAMS
    }

    fn is_output(&self) -> bool {
        true
    }

    fn check(&self, params: &Params) -> Vec<ParamProblem> {
        let Ok(path) = params.text("path") else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        for name in placeholders(path) {
            if !PLACEHOLDERS.contains(&name) {
                problems.push(ParamProblem {
                    param: Some("path"),
                    message: format!("unknown placeholder {{{name}}}; the placeholders are {{seed}}, {{index}} and {{node}}"),
                });
            }
        }
        if !path.to_ascii_lowercase().ends_with(".png") {
            problems.push(ParamProblem {
                param: Some("path"),
                message: "the path must end in .png".into(),
            });
        }
        problems
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let Value::Images(images) = ctx.required_input("images")? else {
            return Err(NodeError::new("input `images` is not an image batch"));
        };
        let written_template = ctx.params.text("path")?.to_string();
        let template = ctx.params.path("path")?.to_string_lossy().into_owned();
        let varies = written_template.contains("{seed}") || written_template.contains("{index}");
        if images.len() > 1 && !varies {
            return Err(NodeError::new(format!(
                "{} images would all be written to \"{written_template}\"",
                images.len()
            ))
            .with_help(
                "put {index} or {seed} in the path, or lay the batch out with a Grid first",
            ));
        }
        let paths = (0..images.len())
            .map(|i| fill(&template, &images.designs[i], i, ctx.node_id))
            .collect::<Result<Vec<_>, _>>()?;
        let mut unique = paths.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != paths.len() {
            return Err(NodeError::new(
                "two images of the batch map to the same file (repeated seeds?)",
            )
            .with_help("use {index} in the path"));
        }
        let graph = ctx.graph_source;
        paths
            .par_iter()
            .enumerate()
            .try_for_each(|(i, path)| write_png(path, images, i, graph))?;
        for path in paths {
            ctx.wrote(path);
        }
        Ok(Vec::new())
    }
}

/// The `{name}` placeholders of a template.
fn placeholders(template: &str) -> Vec<&str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

fn fill(template: &str, design: &Design, index: usize, node: &str) -> Result<PathBuf, NodeError> {
    let mut path = template
        .replace("{index}", &index.to_string())
        .replace("{node}", node);
    if path.contains("{seed}") {
        let seed = design.seed.ok_or_else(|| {
            NodeError::new(format!(
                "design {index} ({}) has no seed to put in the file name",
                design.label
            ))
            .with_help("use {index} instead of {seed}")
        })?;
        path = path.replace("{seed}", &seed.to_string());
    }
    Ok(PathBuf::from(path))
}

fn describe(design: &Design) -> String {
    let mut text = design.label.clone();
    for (name, value) in &design.params {
        text.push_str(&format!("; {name}={value}"));
    }
    text
}

fn write_png(path: &Path, images: &Images, index: usize, graph: &str) -> Result<(), NodeError> {
    let io_error = |what: &str, e: &dyn std::fmt::Display| {
        NodeError::new(format!("cannot {what} {}: {e}", path.display()))
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_error("create the folder of", &e))?;
    let mut file = tempfile::Builder::new()
        .prefix(".drape-")
        .suffix(".png.tmp")
        .tempfile_in(dir)
        .map_err(|e| io_error("create a temporary file for", &e))?;
    {
        let mut encoder = png::Encoder::new(
            std::io::BufWriter::new(file.as_file_mut()),
            images.width as u32,
            images.height as u32,
        );
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let text = [
            ("Software", "drape".to_string()),
            ("drape:design", describe(&images.designs[index])),
            ("drape:graph", graph.to_string()),
        ];
        for (key, value) in text {
            encoder
                .add_itxt_chunk(key.to_string(), value)
                .map_err(|e| io_error("encode", &e))?;
        }
        let mut writer = encoder.write_header().map_err(|e| io_error("encode", &e))?;
        writer
            .write_image_data(&to_rgb8(images.item(index), images.width, images.height))
            .map_err(|e| io_error("encode", &e))?;
        writer.finish().map_err(|e| io_error("write", &e))?;
    }
    file.as_file_mut()
        .flush()
        .map_err(|e| io_error("write", &e))?;
    file.persist(path)
        .map_err(|e| io_error("write", &e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_seed_index_and_node() {
        let d = Design::from_seed(12);
        assert_eq!(
            fill("out/{node}-{seed}-{index}.png", &d, 3, "save").unwrap(),
            PathBuf::from("out/save-12-3.png")
        );
        assert!(fill("{seed}.png", &Design::labelled("grid"), 0, "s").is_err());
        assert_eq!(placeholders("a{seed}b{x}"), vec!["seed", "x"]);
    }
}
