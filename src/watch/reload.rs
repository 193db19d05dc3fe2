//! The reload state machine: reads and validates the graph into a staging copy, and only when that
//! succeeds makes it the current graph and runs it on the [`Engine`] kept across reloads (so its cache
//! re-runs only what changed); a broken edit leaves the last good graph and its outputs in place.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use drape_engine::{
    Canceller, Diagnostics, Engine, Event, Graph, Override, Registry, RunReport, Status,
    parse_graph_with_model,
};

use super::watcher::Change;

/// What a reload did.
pub enum Reload {
    /// The graph was valid and ran (some nodes may have failed; see the report).
    Ran(RunReport),
    /// A newer change cancelled the run; the last good graph and its outputs stay.
    Cancelled(RunReport),
    /// The graph file is invalid; the last good graph stays.
    Broken(Diagnostics),
    /// The file is missing or empty, as in the middle of an editor's save; nothing changed.
    Waiting,
    /// The graph text is the same as last time and nothing else changed (a save's second event).
    Unchanged,
}

/// The watched graph: the engine, the last good graph and the files its outputs wrote.
pub struct WatchedGraph {
    engine: Engine,
    new_engine: Box<dyn Fn() -> Engine>,
    canceller: Canceller,
    registry: Registry,
    path: PathBuf,
    overrides: Vec<Override>,
    /// `--model DIR`, in place of the graph's own model folder.
    model: Option<PathBuf>,
    current: Option<Graph>,
    last_text: Option<String>,
    outputs: BTreeMap<String, Vec<PathBuf>>,
}

impl WatchedGraph {
    /// Watches the graph file at `path`, on engines made by `new_engine`.
    pub fn new(new_engine: Box<dyn Fn() -> Engine>, path: &Path, overrides: &[Override]) -> Self {
        let canceller = Canceller::default();
        WatchedGraph {
            engine: new_engine().with_canceller(canceller.clone()),
            new_engine,
            canceller,
            registry: drape_nodes::registry(),
            path: path.to_path_buf(),
            overrides: overrides.to_vec(),
            model: None,
            current: None,
            last_text: None,
            outputs: BTreeMap::new(),
        }
    }

    /// Runs on the model folder `model` instead of the one each version of the graph names.
    pub fn with_model(mut self, model: Option<PathBuf>) -> Self {
        self.model = model;
        self
    }

    /// Cancels the running run from another thread (at its next chunk boundary).
    pub fn canceller(&self) -> Canceller {
        self.canceller.clone()
    }

    /// The last good graph.
    pub fn current(&self) -> Option<&Graph> {
        self.current.as_ref()
    }

    /// The files the outputs of the last good graph wrote, by output node, in graph order.
    pub fn outputs(&self) -> impl Iterator<Item = (&str, &Path)> {
        let order = self.current.iter().flat_map(|g| g.nodes.iter());
        order.flat_map(|n| {
            self.outputs
                .get(&n.id)
                .into_iter()
                .flatten()
                .map(|p| (n.id.as_str(), p.as_path()))
        })
    }

    /// Every file the outputs wrote, for the watcher to ignore.
    pub fn output_files(&self) -> HashSet<PathBuf> {
        self.outputs
            .values()
            .flatten()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
            .collect()
    }

    /// Reads, validates and (when valid) runs the graph file after `change` (none: the first run),
    /// passing the run's events to `on_event`. The same text as last time needs no run unless another
    /// watched file changed; changed model weights get a fresh engine, so that the model loads anew.
    pub fn reload(
        &mut self,
        change: Option<&Change>,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Reload {
        if change.is_some_and(|c| c.model_changed) {
            self.engine = (self.new_engine)().with_canceller(self.canceller.clone());
        }
        let source = match std::fs::read_to_string(&self.path) {
            Ok(source) if source.trim().is_empty() => return Reload::Waiting,
            Ok(source) => source,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Reload::Waiting,
            Err(_) => {
                let Err(problems) = drape_engine::load_graph(&self.path, &self.registry, &[])
                else {
                    // The file became readable again in between; the next event reloads it.
                    return Reload::Waiting;
                };
                return Reload::Broken(problems);
            }
        };
        let only_graph = change.is_some_and(|c| c.only_graph);
        if only_graph && self.last_text.as_deref() == Some(source.as_str()) {
            return Reload::Unchanged;
        }
        self.last_text = Some(source.clone());
        let staged = match parse_graph_with_model(
            &self.path,
            &source,
            &self.registry,
            &self.overrides,
            self.model.as_deref(),
        ) {
            Ok(graph) => graph,
            Err(problems) => return Reload::Broken(problems),
        };
        let report = match self.engine.run(&staged, &[], on_event) {
            Ok(report) => report,
            Err(message) => {
                return Reload::Broken(Diagnostics(vec![drape_engine::Diagnostic::at(
                    &self.path,
                    &source,
                    (0, 0),
                    message,
                )]));
            }
        };
        if report.cancelled {
            // Not finished: the same text saved again must run.
            self.last_text = None;
            return Reload::Cancelled(report);
        }
        self.keep_outputs(&staged, &report);
        self.current = Some(staged);
        Reload::Ran(report)
    }

    /// Output nodes that ran replace their files; cached ones keep theirs; removed ones drop out.
    fn keep_outputs(&mut self, graph: &Graph, report: &RunReport) {
        let mut outputs = BTreeMap::new();
        for record in &report.records {
            let is_output = graph
                .index_of(&record.id)
                .is_some_and(|i| graph.nodes[i].op.is_output());
            if !is_output {
                continue;
            }
            let files = match record.status {
                Status::Ran => record.files.clone(),
                _ => self.outputs.remove(&record.id).unwrap_or_default(),
            };
            outputs.insert(record.id.clone(), files);
        }
        self.outputs = outputs;
    }
}
