//! `drape run design.png` and `drape recipe design.png`: read the recipe a saved design carries,
//! re-create that one design from its embedded graph into a new file, or show the recipe and write
//! the graph back out.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use drape_engine::{Override, parse_graph_with_model};
use drape_nodes::Recreate;
use drape_nodes::recipe::{self, Embedded};

use crate::run::{Options, Work, execute};
use drape_engine::printable;

/// True when `path` names a PNG (a saved design) rather than a graph file.
pub fn is_png(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
}

/// Where the re-created design goes by default: `<stem>.rerun.png` beside the source.
fn default_out(png: &Path) -> PathBuf {
    let stem = png.file_stem().unwrap_or_default().to_string_lossy();
    png.with_file_name(format!("{stem}.rerun.png"))
}

/// The name diagnostics give the graph embedded in `png`.
fn embedded_name(png: &Path, embedded: &Embedded) -> PathBuf {
    PathBuf::from(format!(
        "{} (embedded {})",
        png.display(),
        embedded.recipe.graph_file.display()
    ))
}

/// `drape run design.png`: re-creates the design into `out` (default `<stem>.rerun.png`), which must
/// not exist unless `force`.
pub fn rerun(
    png: &Path,
    out: Option<&Path>,
    force: bool,
    overrides: &[Override],
    options: &Options,
) -> anyhow::Result<ExitCode> {
    let embedded = recipe::read(png)?;
    let recipe = &embedded.recipe;
    let out = out.map_or_else(|| default_out(png), Path::to_path_buf);
    if !is_png(&out) {
        bail!("--out {} must end in .png", out.display());
    }
    let same = |a: &Path, b: &Path| {
        a.canonicalize()
            .ok()
            .zip(b.canonicalize().ok())
            .is_some_and(|(a, b)| a == b)
    };
    if out == png || same(&out, png) {
        bail!(
            "--out {} is the design itself; drape never overwrites the source of a re-run",
            out.display()
        );
    }
    if out.exists() && !force {
        bail!(
            "{} exists; give --force to replace it, or --out NEW.png",
            out.display()
        );
    }
    let file_name = recipe
        .graph_file
        .file_name()
        .context("the recipe names no graph file")?;
    let graph_path = recipe.graph_folder(png).join(file_name);
    let shown_as = embedded_name(png, &embedded);
    let all: Vec<Override> = recipe.overrides.iter().chain(overrides).cloned().collect();
    let registry = drape_nodes::registry();
    let mut graph = match parse_graph_with_model(
        &graph_path,
        &embedded.graph,
        &registry,
        &all,
        options.model.as_deref(),
    ) {
        Ok(graph) => graph,
        Err(mut diagnostics) => {
            for d in &mut diagnostics.0 {
                if d.file == graph_path {
                    d.file.clone_from(&shown_as);
                }
            }
            eprintln!("{}", diagnostics.for_stderr());
            return Ok(ExitCode::FAILURE);
        }
    };
    if let (Some(recorded), Some(model)) = (&recipe.model_digest, &graph.model) {
        let now = recipe::model_digest(model)
            .with_context(|| format!("cannot read the model in {}", model.display()))?;
        if &now != recorded {
            eprintln!(
                "warning: the model in {} changed since {} was made (weights blake3 {}… then, {}… now); the design will differ",
                model.display(),
                png.display(),
                recorded.chars().take(12).collect::<String>(),
                now.chars().take(12).collect::<String>()
            );
        }
    }
    let Some(i) = graph.index_of(&recipe.node) else {
        bail!(
            "the recipe names output node \"{}\", which the embedded graph does not have",
            printable(&recipe.node)
        );
    };
    if graph.nodes[i].op.name() != "save" {
        bail!(
            "node \"{}\" of the embedded graph is a {}, not a Save",
            recipe.node,
            graph.nodes[i].op.name()
        );
    }
    // One design is re-created per process, so the node may live as long as the program.
    graph.nodes[i].op = Box::leak(Box::new(Recreate {
        index: recipe.index,
        out,
    }));
    let design = recipe.index..recipe.index + 1;
    println!(
        "re-creating {} ({})",
        png.display(),
        printable(&embedded.design)
    );
    execute(
        &graph,
        std::slice::from_ref(&recipe.node),
        Work::Designs(design),
        options,
        &shown_as,
    )
}

/// `drape recipe design.png`: shows how the design was made; `graph_out` also writes its graph.
pub fn show(png: &Path, graph_out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let embedded = recipe::read(png)?;
    let recipe = &embedded.recipe;
    // Everything below came from a file someone may have shared: no control characters reach
    // the terminal.
    println!("design:  {}", printable(&embedded.design));
    println!(
        "graph:   {} (in {})",
        printable(&recipe.graph_file.display().to_string()),
        printable(&recipe.graph_folder(png).display().to_string())
    );
    println!(
        "output:  node \"{}\", item {}",
        printable(&recipe.node),
        recipe.index
    );
    if let Some(digest) = &recipe.model_digest {
        println!("model:   weights blake3 {}", printable(digest));
    }
    for o in &recipe.overrides {
        println!("set:     {}", printable(&o.to_string()));
    }
    println!("re-create it with: drape run {}", png.display());
    if let Some(target) = graph_out {
        if target.exists() {
            bail!(
                "{} exists; drape recipe writes the graph only to a new file",
                target.display()
            );
        }
        drape_engine::write_atomically(target, |file| file.write_all(embedded.graph.as_bytes()))
            .with_context(|| format!("cannot write {}", target.display()))?;
        println!(
            "wrote {} (its relative paths, like the model's, were relative to {})",
            target.display(),
            printable(&recipe.graph_folder(png).display().to_string())
        );
    }
    Ok(ExitCode::SUCCESS)
}
