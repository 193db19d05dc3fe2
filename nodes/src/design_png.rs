//! One design written as a PNG that carries its provenance: the pixels, the graph text, the design's
//! label and parameters, and the [`Recipe`] that re-creates it (`drape run design.png`).

use std::path::Path;

use drape_engine::{Design, Images, NodeContext, NodeError};

use crate::atomic::write_atomically;
use crate::model;
use crate::pixels::to_rgb8;
use crate::recipe::{DESIGN_KEY, GRAPH_KEY, RECIPE_KEY, Recipe};

/// What every design written by one output node shares: the graph text and the recipe up to the item.
pub struct Provenance<'a> {
    graph: &'a str,
    recipe: Recipe,
    /// The position in the whole batch of the first design the node sees (streamed runs).
    first: usize,
}

impl<'a> Provenance<'a> {
    /// The provenance of designs written by the node running in `ctx`.
    pub fn of(ctx: &NodeContext<'a>) -> Result<Self, NodeError> {
        let folder = ctx
            .graph_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let graph_dir = folder
            .canonicalize()
            .or_else(|_| std::path::absolute(folder))
            .map_err(|e| {
                NodeError::new(format!(
                    "cannot find the graph's folder {}: {e}",
                    folder.display()
                ))
            })?;
        Ok(Provenance {
            graph: ctx.graph_source,
            recipe: Recipe {
                graph_file: ctx.graph_path.to_path_buf(),
                graph_dir,
                node: ctx.node_id.to_string(),
                index: 0,
                model_digest: model::digest(ctx)?.map(|d| d.to_string()),
                overrides: ctx.overrides.to_vec(),
            },
            first: ctx.first_design(),
        })
    }

    /// Writes item `index` of `images` to `path`, atomically; the recipe records its position in the
    /// whole batch.
    pub fn write(&self, path: &Path, images: &Images, index: usize) -> Result<(), NodeError> {
        let recipe = Recipe {
            index: self.first + index,
            graph_dir: relative_to_folder_of(&self.recipe.graph_dir, path)?,
            ..self.recipe.clone()
        };
        let text = [
            ("Software", "drape".to_string()),
            (DESIGN_KEY, describe(&images.designs[index])),
            (GRAPH_KEY, self.graph.to_string()),
            (RECIPE_KEY, recipe.to_text()),
        ];
        let rgb = to_rgb8(images.item(index), images.width, images.height);
        write_atomically(path, |file| {
            let mut encoder = png::Encoder::new(file, images.width as u32, images.height as u32);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            for (key, value) in text {
                encoder
                    .add_itxt_chunk(key.to_string(), value)
                    .map_err(|e| e.to_string())?;
            }
            let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
            writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
            writer.finish().map_err(|e| e.to_string())
        })
    }
}

/// `dir` (absolute) as seen from the folder `file` is written to, which is created if needed.
fn relative_to_folder_of(dir: &Path, file: &Path) -> Result<std::path::PathBuf, NodeError> {
    let folder = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)
        .and_then(|()| folder.canonicalize())
        .map(|folder| pathdiff::diff_paths(dir, &folder).unwrap_or_else(|| dir.to_path_buf()))
        .map_err(|e| {
            NodeError::new(format!(
                "cannot create the folder {}: {e}",
                folder.display()
            ))
        })
}

/// The design's label and recorded parameters, e.g. `seed 42; truncation=0.5`.
fn describe(design: &Design) -> String {
    let mut text = design.label.clone();
    for (name, value) in &design.params {
        text.push_str(&format!("; {name}={value}"));
    }
    text
}
