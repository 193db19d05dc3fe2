//! `drape run` and `drape check`: load and validate graphs, run them with progress, and report what
//! was written, what failed (with the node's location) and, on request, per-node timings.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::backend_args::BackendArgs;
use drape_engine::{
    BatchOptions, Diagnostic, Engine, Event, Graph, Override, Status, load_graph,
    load_graph_with_model,
};

use crate::progress::Progress;

/// Files of a run listed one by one; more are counted.
const FILES_LISTED: usize = 20;

/// How `drape run` reports.
pub struct Options {
    /// Print per-node times.
    pub timings: bool,
    /// Where the generator runs.
    pub backend: BackendArgs,
    /// A model folder in place of the one the graph (or a design's recipe) names.
    pub model: Option<PathBuf>,
    /// Where relative output paths land instead of the graph's folder.
    pub out_dir: Option<PathBuf>,
    /// Print the backend and every node's status.
    pub verbose: bool,
    /// Start a batch over, ignoring its manifest (for a design PNG: replace the output).
    pub force: bool,
}

/// How `drape run` splits and records a batch.
pub struct Batch {
    /// The share to render and where that was decided (`--shard`, the Slurm array task, …).
    pub shard: Option<((usize, usize), String)>,
    /// `--manifest FILE` in place of the default beside the outputs.
    pub manifest: Option<PathBuf>,
}

/// `drape check`: validates every graph, printing all problems.
pub fn check(graphs: &[PathBuf], overrides: &[Override]) -> anyhow::Result<ExitCode> {
    let registry = drape_nodes::registry();
    let mut failed = false;
    for path in graphs {
        match load_graph(path, &registry, overrides) {
            Ok(graph) => println!("ok: {} ({} nodes)", path.display(), graph.nodes.len()),
            Err(diagnostics) => {
                eprintln!("{}\n", diagnostics.for_stderr());
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `drape run`.
pub fn run(
    path: &Path,
    overrides: &[Override],
    only: &[String],
    batch: &Batch,
    options: &Options,
) -> anyhow::Result<ExitCode> {
    let registry = drape_nodes::registry();
    let graph = match load_graph_with_model(path, &registry, overrides, options.model.as_deref()) {
        Ok(graph) => graph,
        Err(diagnostics) => {
            eprintln!("{}", diagnostics.for_stderr());
            return Ok(ExitCode::FAILURE);
        }
    };
    let shard = batch.shard.as_ref().map(|(shard, _)| *shard);
    if let Some(((index, count), from)) = &batch.shard {
        println!("shard {index}/{count} (from {from})");
    }
    let manifest = batch
        .manifest
        .clone()
        .unwrap_or_else(|| crate::batch::manifest_path(path, options.out_dir.as_deref(), shard));
    let batch = BatchOptions {
        shard,
        manifest: Some(manifest),
        force: options.force,
    };
    execute(&graph, only, Work::Batch(batch), options, &graph.path)
}

/// What `execute` runs.
pub enum Work {
    /// A graph's batch, recorded in a manifest when it streams.
    Batch(BatchOptions),
    /// Only these designs of the batch (re-creating one), or the whole batch when they cannot stream
    /// alone.
    Designs(Range<usize>),
}

/// Runs a loaded graph's outputs (or `only`), reporting progress, files, failures (located in
/// `shown_as`, the file the user knows the graph by) and timings.
pub fn execute(
    graph: &Graph,
    only: &[String],
    work: Work,
    options: &Options,
    shown_as: &Path,
) -> anyhow::Result<ExitCode> {
    let mut engine = Engine::new();
    drape_nodes::set_backend(engine.resources(), options.backend.choice()?);
    if let Some(dir) = &options.out_dir {
        drape_nodes::set_out_dir(engine.resources(), dir.clone());
    }

    let mut progress = Progress::new(options.verbose);
    let mut on_event = |event: Event<'_>| progress.event(event);
    let report = match work {
        Work::Batch(batch) => engine.run_batch(graph, only, &batch, &mut on_event),
        Work::Designs(designs) => match engine.run_designs(graph, only, designs, &mut on_event) {
            Ok(report) => Ok(report),
            Err(why) => {
                eprintln!("note: running the whole batch, as {why}");
                engine.run(graph, only, &mut on_event)
            }
        },
    }
    .map_err(anyhow::Error::msg)?;
    progress.finish();
    if let Some((designs, whole)) = report.streamed.as_ref().filter(|(_, w)| !w.is_empty()) {
        let names: Vec<String> = whole.iter().map(|id| format!("\"{id}\"")).collect();
        println!(
            "note: {designs} designs streamed, but {} needed the whole batch and held it in memory \
             (docs/batches.md)",
            names.join(", ")
        );
    }
    if let Some((done, total)) = report.resumed_from {
        println!("continued the batch: {done} of its {total} designs were finished before");
    }

    let backend = drape_nodes::backend_description(engine.resources());
    if let Some(backend) = backend.filter(|_| options.verbose) {
        println!("backend: {backend}");
    }
    // A batch of thousands is summed up rather than listed.
    let files: Vec<&Path> = report.files().collect();
    for file in files.iter().take(FILES_LISTED) {
        println!("wrote {}", file.display());
    }
    if files.len() > FILES_LISTED {
        println!(
            "wrote {} more files ({} in all)",
            files.len() - FILES_LISTED,
            files.len()
        );
    }
    for record in &report.records {
        match &record.status {
            Status::Failed(error) => eprintln!("{}\n", failure(graph, shown_as, &record.id, error)),
            Status::Skipped { because } if options.verbose => {
                eprintln!(
                    "skipped node \"{}\": node \"{because}\" upstream of it failed",
                    record.id
                )
            }
            _ => {}
        }
    }
    if options.timings {
        println!(
            "{:<24} {:<16} {:>10} {:>10}",
            "node", "type", "status", "time"
        );
        for r in &report.records {
            println!(
                "{:<24} {:<16} {:>10} {:>8.1}ms",
                r.id,
                r.op,
                status_word(&r.status),
                r.duration.as_secs_f64() * 1e3
            );
        }
    }
    let (ran, cached) = (report.ran().len(), report.cached().len());
    let failed = report.failures().count();
    let skipped = report.records.len() - ran - cached - failed;
    let mut summary = format!("{ran} ran, {cached} cached");
    if failed > 0 {
        summary += &format!(", {failed} failed, {skipped} skipped");
    }
    let plural = if report.records.len() == 1 { "" } else { "s" };
    println!(
        "{} node{plural}: {summary} in {:.2} s",
        report.records.len(),
        report.duration.as_secs_f64()
    );
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A node's status in one word.
pub fn status_word(status: &Status) -> &'static str {
    match status {
        Status::Ran => "ran",
        Status::Cached => "cached",
        Status::Failed(_) => "FAILED",
        Status::Skipped { .. } => "skipped",
        Status::Cancelled => "cancelled",
    }
}

/// A node failure, located at the node in the graph file.
pub fn failure(
    graph: &Graph,
    shown_as: &Path,
    id: &str,
    error: &drape_engine::NodeError,
) -> String {
    let node = graph.index_of(id).map(|i| &graph.nodes[i]);
    // At the offending value when the error names its parameter and the graph writes it.
    let at_param = node.zip(error.param).and_then(|(n, param)| {
        n.param_spans
            .iter()
            .find(|(name, _)| *name == param)
            .map(|(_, span)| *span)
    });
    let span = at_param.or(node.map(|n| n.span)).unwrap_or((0, 0));
    let op = node.map_or("?", |n| n.op.name());
    let mut d = Diagnostic::at(
        shown_as,
        &graph.source,
        span,
        format!("{op} failed: {}", error.message),
    );
    d.in_node(id);
    d.help.clone_from(&error.help);
    d.to_string()
}
