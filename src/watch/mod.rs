//! `drape watch`: runs a graph, then again on every save of it (or of its model's files), keeping the
//! last good graph when an edit breaks it, and serves a live preview page of the latest outputs.

mod earlier;
mod preview;
mod reload;
mod server;
mod studio;
mod watcher;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend_args::BackendArgs;
use drape_engine::{Engine, Event, Override, RunReport, Status};

use crate::run::{failure, status_word};
use preview::{FileIdentity, Image, Preview, Running, Timing};
use reload::{Reload, WatchedGraph};
use watcher::{Change, FileWatcher, Targets};

/// How `drape watch` runs.
pub struct Options {
    /// The preview's port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Where the generator runs.
    pub backend: BackendArgs,
    /// A model folder in place of the graph's own.
    pub model: Option<std::path::PathBuf>,
    /// Where relative output paths land instead of the graph's folder.
    pub out_dir: Option<std::path::PathBuf>,
}

/// `drape watch`: never returns unless watching fails.
pub fn watch(path: &Path, overrides: &[Override], options: &Options) -> anyhow::Result<ExitCode> {
    if !path.is_file() {
        anyhow::bail!(
            "{} is not a file; give the graph file to watch, e.g. graphs/generate.ron",
            path.display()
        );
    }
    let preview = Arc::new(Preview::default());
    let studio =
        Arc::new(studio::Studio::new(path, options.model.clone()).with_overrides(overrides));
    let address = server::start(options.port, Arc::clone(&preview), studio)?;
    println!("preview at http://{address}");

    let choice = options.backend.choice()?;
    let out_dir = options.out_dir.clone();
    let new_engine = move || {
        let engine = Engine::new();
        drape_nodes::set_backend(engine.resources(), choice.clone());
        if let Some(dir) = &out_dir {
            drape_nodes::set_out_dir(engine.resources(), dir.clone());
        }
        engine
    };
    let mut watched =
        WatchedGraph::new(Box::new(new_engine), path, overrides).with_model(options.model.clone());
    let mut watcher = FileWatcher::new(Targets::graph_only(path), watched.canceller())?;
    let mut run = 0;
    let mut change: Option<Change> = None;
    loop {
        let saved_at = change.as_ref().map(|c| c.first);
        let outcome = watched.reload(change.as_ref(), &mut progress_to(&preview));
        // Watch a new model folder before saying the run is done, so no change after it is missed.
        if let Some(graph) = watched.current() {
            watcher.retarget(Targets::of(path, graph))?;
        }
        match outcome {
            Reload::Ran(report) => {
                run += 1;
                let save_to_images = saved_at.map(|t| t.elapsed().as_secs_f64());
                let error = failures(&watched, &report);
                if let Some(error) = &error {
                    eprintln!("{error}");
                }
                publish(&preview, &watched, run, &report, error, save_to_images);
                println!("{}", summary(run, &report, save_to_images));
            }
            Reload::Cancelled(report) => {
                let at: Vec<&str> = report
                    .records
                    .iter()
                    .filter(|r| r.status == Status::Cancelled)
                    .map(|r| r.id.as_str())
                    .collect();
                println!("cancelled {}: the graph changed again", at.join(", "));
                preview.update(|s| s.running = None);
            }
            Reload::Broken(problems) => {
                // The page first, so that whoever reads the line below finds it up to date.
                let earlier = if run == 0 {
                    let mut folders: Vec<_> =
                        path.parent().map(Path::to_path_buf).into_iter().collect();
                    folders.extend(options.out_dir.clone());
                    earlier::earlier_outputs(path, &folders)
                } else {
                    Vec::new()
                };
                preview.update(|s| {
                    s.error = Some(problems.to_string());
                    s.running = None;
                    if !earlier.is_empty() {
                        s.images = earlier;
                        s.earlier = true;
                    }
                });
                eprintln!("{}", problems.for_stderr());
                let keeping = if run > 0 {
                    format!("keeping run {run}'s outputs")
                } else {
                    "nothing ran yet".into()
                };
                println!(
                    "broken: {} error{} in {}; {keeping}; fix the file and save",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" },
                    path.display()
                );
            }
            Reload::Waiting | Reload::Unchanged => {}
        }
        change = Some(watcher.next_change(&watched.output_files())?);
    }
}

/// `run N: ran a 1.0 ms, b 2.0 ms | 3 cached | 0.12 s run, 0.15 s from save to new images`
fn summary(run: u64, report: &RunReport, save_to_images: Option<f64>) -> String {
    let ran: Vec<String> = report
        .records
        .iter()
        .filter(|r| r.status == Status::Ran)
        .map(|r| format!("{} {:.1} ms", r.id, r.duration.as_secs_f64() * 1e3))
        .collect();
    let ran = if ran.is_empty() {
        "nothing".into()
    } else {
        ran.join(", ")
    };
    let mut line = format!(
        "run {run}: ran {ran} | {} cached | {:.2} s run",
        report.cached().len(),
        report.duration.as_secs_f64()
    );
    let failed = report.records.len() - report.ran().len() - report.cached().len();
    if failed > 0 {
        line += &format!(" | {failed} failed or skipped");
    }
    if let Some(seconds) = save_to_images {
        line += &format!(", {seconds:.2} s from save to new images");
    }
    line
}

/// The located failures of a run, if any node failed.
fn failures(watched: &WatchedGraph, report: &RunReport) -> Option<String> {
    let graph = watched.current()?;
    let failures: Vec<String> = report
        .failures()
        .filter_map(|r| match &r.status {
            Status::Failed(error) => Some(failure(graph, &graph.path, &r.id, error)),
            _ => None,
        })
        .collect();
    (!failures.is_empty()).then(|| failures.join("\n\n"))
}

fn publish(
    preview: &Preview,
    watched: &WatchedGraph,
    run: u64,
    report: &RunReport,
    error: Option<String>,
    save_to_images: Option<f64>,
) {
    let images = watched
        .outputs()
        .map(|(node, path)| Image {
            node: node.to_string(),
            path: path.to_path_buf(),
            identity: FileIdentity::of_path(path),
        })
        .collect();
    let timings = report
        .records
        .iter()
        .map(|r| Timing {
            node: r.id.clone(),
            status: status_word(&r.status),
            ms: r.duration.as_secs_f64() * 1e3,
        })
        .collect();
    preview.update(|s| {
        s.run = run;
        s.images = images;
        s.error = error;
        s.timings = timings;
        s.run_s = report.duration.as_secs_f64();
        s.save_to_images_s = save_to_images;
        s.running = None;
        s.earlier = false;
    });
}

/// How often the page hears of a node's progress at most.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Shows a run's progress on the page: each node as it starts, and how far it got, a few times a second.
fn progress_to(preview: &Preview) -> impl FnMut(Event<'_>) + '_ {
    let mut last = Instant::now();
    let mut streaming = false;
    move |event| match event {
        Event::Started { id, index, total } => {
            last = Instant::now();
            preview.update(|s| {
                s.running = Some(Running {
                    node: id.to_string(),
                    step: index + 1,
                    steps: total,
                    done: None,
                    streamed: false,
                })
            });
        }
        // Once a batch streams, its designs are the progress (a node's own counts are per chunk).
        Event::Designs { done, total } => {
            streaming = true;
            if last.elapsed() < PROGRESS_INTERVAL && done < total {
                return;
            }
            last = Instant::now();
            preview.update(|s| {
                if let Some(running) = &mut s.running {
                    running.done = Some((done, total));
                    running.streamed = true;
                }
            });
        }
        Event::Progress { done, total, .. }
            if !streaming && (last.elapsed() >= PROGRESS_INTERVAL || done == total) =>
        {
            last = Instant::now();
            preview.update(|s| {
                if let Some(running) = &mut s.running {
                    running.done = Some((done, total));
                }
            });
        }
        _ => {}
    }
}
