//! `drape run` and `drape check`: load and validate graphs, run them with progress, and report what
//! was written, what failed (with the node's location) and, on request, per-node timings.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::backend_args::BackendArgs;
use drape_engine::{
    Diagnostic, Engine, Event, Graph, Override, Status, load_graph, load_graph_with_model,
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
    execute(&graph, only, None, options, &graph.path)
}

/// Runs a loaded graph's outputs (or `only`), reporting progress, files, failures (located in
/// `shown_as`, the file the user knows the graph by) and timings. `designs` runs only those designs of
/// the batch when every target works design by design (the whole batch otherwise, with a note).
pub fn execute(
    graph: &Graph,
    only: &[String],
    designs: Option<Range<usize>>,
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
    let report = match designs.map(|d| engine.run_designs(graph, only, d, &mut on_event)) {
        Some(Ok(report)) => Ok(report),
        Some(Err(why)) => {
            eprintln!("note: running the whole batch, as {why}");
            engine.run(graph, only, &mut on_event)
        }
        None => engine.run(graph, only, &mut on_event),
    }
    .map_err(anyhow::Error::msg)?;
    progress.finish();

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
