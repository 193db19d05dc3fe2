//! What the preview shows when `drape watch` starts on a broken graph: the designs earlier runs of the
//! same graph file wrote, found by the recipe each saved PNG carries, newest first.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::preview::{FileIdentity, Image};

/// How deep below the searched folders the search goes.
const MAX_DEPTH: usize = 4;
/// Directory entries looked at in all, so a huge tree costs a bounded time.
const MAX_ENTRIES: usize = 5_000;
/// Images shown at most.
const MAX_IMAGES: usize = 64;

/// The PNGs under `folders` whose recipe names `graph` (the same file), newest first, at most
/// [`MAX_IMAGES`]; hidden folders are skipped.
pub fn earlier_outputs(graph: &Path, folders: &[PathBuf]) -> Vec<Image> {
    let Ok(graph) = graph.canonicalize() else {
        return Vec::new();
    };
    let mut pngs = Vec::new();
    let mut budget = MAX_ENTRIES;
    for folder in folders {
        collect_pngs(folder, MAX_DEPTH, &mut budget, &mut pngs);
    }
    pngs.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    pngs.dedup_by(|a, b| a.1 == b.1);
    pngs.into_iter()
        .filter_map(|(_, path)| {
            let embedded = drape_nodes::recipe::read(&path).ok()?;
            let recipe = &embedded.recipe;
            let made_by = recipe
                .graph_folder(&path)
                .join(recipe.graph_file.file_name()?)
                .canonicalize()
                .ok()?;
            (made_by == graph).then(|| Image {
                node: drape_engine::printable(&recipe.node).into_owned(),
                identity: FileIdentity::of_path(&path),
                path,
            })
        })
        .take(MAX_IMAGES)
        .collect()
}

/// Adds the `.png` files under `folder` with their modification times.
fn collect_pngs(
    folder: &Path,
    depth: usize,
    budget: &mut usize,
    found: &mut Vec<(SystemTime, PathBuf)>,
) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() && depth > 0 {
            collect_pngs(&path, depth - 1, budget, found);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "png") {
            let modified = entry.metadata().and_then(|m| m.modified());
            found.push((modified.unwrap_or(SystemTime::UNIX_EPOCH), path));
        }
    }
}
