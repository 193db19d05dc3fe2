//! The node plugin interface: one trait every node implements, its port declarations, the context a
//! node runs in and the error it returns.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::budget::Extent;
use crate::param::{ParamSpec, Params};
use crate::value::{Value, ValueType};

/// A declared input or output port.
#[derive(Clone, Copy, Debug)]
pub struct PortSpec {
    /// Name as written in graph files (`"node.port"`).
    pub name: &'static str,
    /// The type of the values on this port.
    pub ty: ValueType,
    /// One sentence for the catalogue.
    pub doc: &'static str,
    /// Inputs only: the graph may leave this input unconnected.
    pub optional: bool,
}

impl PortSpec {
    /// A required port.
    pub const fn new(name: &'static str, ty: ValueType, doc: &'static str) -> Self {
        PortSpec {
            name,
            ty,
            doc,
            optional: false,
        }
    }

    /// An optional input port.
    pub const fn optional(name: &'static str, ty: ValueType, doc: &'static str) -> Self {
        PortSpec {
            name,
            ty,
            doc,
            optional: true,
        }
    }
}

/// A problem found by a node's own parameter checks, reported before anything runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamProblem {
    /// The parameter at fault; `None` points at the whole node.
    pub param: Option<&'static str>,
    /// What is wrong and what to do.
    pub message: String,
}

/// A node type. Implementations are stateless; anything heavy they load goes into [`Resources`].
pub trait Node: Send + Sync {
    /// Stable kebab-case name (`sample-latent`); graph files write it in PascalCase (`SampleLatent`).
    fn name(&self) -> &'static str;
    /// Documentation: the first line is the summary, the rest explains use.
    fn doc(&self) -> &'static str;
    /// Input ports.
    fn inputs(&self) -> &'static [PortSpec] {
        &[]
    }
    /// Output ports; the first is the one a bare `"node"` reference means.
    fn outputs(&self) -> &'static [PortSpec] {
        &[]
    }
    /// Parameters.
    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }
    /// Names other tools give this node's parameters, each with the parameter it means here
    /// (stylegan2-ada's `truncation_psi` is Map's `truncation`), for "did you mean" hints.
    fn synonyms(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// Whether the node works design by design, so a large batch can stream through it in chunks
    /// (see [`crate::stream::Items`]); by default it needs the whole batch.
    fn items(&self, _params: &Params) -> crate::stream::Items {
        crate::stream::Items::Whole
    }
    /// True for nodes that produce results outside the graph (files); the planner starts from these.
    fn is_output(&self) -> bool {
        false
    }
    /// True for nodes that need the graph's model folder.
    fn uses_model(&self) -> bool {
        false
    }
    /// Checks between parameters that types and ranges cannot express.
    fn check(&self, _params: &Params) -> Vec<ParamProblem> {
        Vec::new()
    }
    /// Checks that need the graph's model folder (read from its small files, never the weights),
    /// such as names the model must know; run at validation when the parameters passed.
    fn check_with_model(&self, _params: &Params, _model_dir: &Path) -> Vec<ParamProblem> {
        Vec::new()
    }
    /// Estimates the node's outputs before anything runs, from its parameters, its inputs' estimates
    /// (by port; an input whose size is unknown is missing) and the model folder (read from small
    /// files or headers, never the weights). `None` when it cannot tell; validation refuses graphs
    /// whose values exceed the memory budget ([`crate::budget`]).
    fn estimate(
        &self,
        _params: &Params,
        _inputs: &HashMap<&'static str, Extent>,
        _model_dir: Option<&Path>,
    ) -> Option<Vec<Extent>> {
        None
    }
    /// Checks that need the estimated sizes of the inputs (see [`Node::estimate`]), such as a batch
    /// saved to a single file name; run at validation for the inputs whose size is known.
    fn check_inputs(
        &self,
        _params: &Params,
        _inputs: &HashMap<&'static str, Extent>,
    ) -> Vec<ParamProblem> {
        Vec::new()
    }
    /// State outside the graph that the output depends on (e.g. an input file's size and time), mixed
    /// into the cache key so an edit to that file re-runs the node.
    fn fingerprint(&self, _params: &Params) -> String {
        String::new()
    }
    /// Like [`Node::fingerprint`], for files in the graph's model folder that the node reads besides
    /// the weights (such as a model's named directions); called for nodes that use the model.
    fn model_fingerprint(&self, _params: &Params, _model_dir: &Path) -> String {
        String::new()
    }
    /// Runs the node: reads inputs and parameters from `ctx`, returns one value per output port.
    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError>;
}

impl fmt::Debug for dyn Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Node({})", self.name())
    }
}

/// Why a node failed, and what the user can do about it.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeError {
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
    /// The parameter whose value the error is about, when there is one.
    pub param: Option<&'static str>,
}

impl NodeError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        NodeError {
            message: message.into(),
            help: None,
            param: None,
        }
    }

    /// Adds advice.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Locates the error at the value of parameter `name` (when the graph writes it).
    pub fn at_param(mut self, name: &'static str) -> Self {
        self.param = Some(name);
        self
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

impl std::error::Error for NodeError {}

/// Heavy things nodes load once and share across nodes and runs (a model on the GPU, say), by key.
#[derive(Default)]
pub struct Resources {
    entries: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

impl Resources {
    /// The resource under `key`, created with `make` the first time. A failed `make` stores nothing.
    pub fn get_or_try_init<T: Any + Send + Sync>(
        &self,
        key: &str,
        make: impl FnOnce() -> Result<T, NodeError>,
    ) -> Result<Arc<T>, NodeError> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = entries
            .get(key)
            .and_then(|e| Arc::clone(e).downcast::<T>().ok())
        {
            return Ok(found);
        }
        let made = Arc::new(make()?);
        entries.insert(key.to_string(), made.clone());
        Ok(made)
    }

    /// The resource under `key`, if it was created and has type `T`.
    pub fn get<T: Any + Send + Sync>(&self, key: &str) -> Option<Arc<T>> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries
            .get(key)
            .and_then(|e| Arc::clone(e).downcast::<T>().ok())
    }
}

/// Everything a running node can see.
pub struct NodeContext<'a> {
    /// The node's id in the graph.
    pub node_id: &'a str,
    /// Checked parameters.
    pub params: &'a Params,
    /// The graph file being run.
    pub graph_path: &'a Path,
    /// The graph file's text, for outputs that embed the recipe.
    pub graph_source: &'a str,
    /// The `--set` overrides this run applies on top of the file, for outputs that embed the recipe.
    pub overrides: &'a [crate::load::Override],
    /// The graph's model folder, if it names one.
    pub model_dir: Option<&'a Path>,
    /// Shared heavy resources.
    pub resources: &'a Resources,
    pub(crate) inputs: HashMap<&'static str, Value>,
    /// Files written, with the design (its position in the whole batch) each is for, when known.
    pub(crate) written: Vec<(PathBuf, Option<usize>)>,
    pub(crate) events: RefCell<&'a mut dyn FnMut(crate::exec::Event<'_>)>,
    pub(crate) canceller: &'a crate::exec::Canceller,
    /// The designs this run covers and the whole batch's length, when it streams.
    pub(crate) designs: Option<(std::ops::Range<usize>, usize)>,
}

impl NodeContext<'_> {
    /// The value on input `port`, or `None` for an unconnected optional input.
    pub fn input(&self, port: &str) -> Option<&Value> {
        self.inputs.get(port)
    }

    /// The value on a required input; an error names the port if it is missing.
    pub fn required_input(&self, port: &str) -> Result<&Value, NodeError> {
        self.input(port)
            .ok_or_else(|| NodeError::new(format!("input `{port}` is not connected")))
    }

    /// The model folder, or an error telling the user to name one in the graph.
    pub fn model_dir(&self) -> Result<&Path, NodeError> {
        self.model_dir.ok_or_else(|| {
            NodeError::new("this node needs a model, but the graph names none")
                .with_help("add `model: \"path/to/model-folder\"` to the graph")
        })
    }

    /// Reports that `done` of `total` units (designs, frames) are finished, and is the node's chunk
    /// boundary: an error when the run was cancelled, which the node returns at once (`?`). Long nodes
    /// call it between chunks of work.
    pub fn progress(&self, done: usize, total: usize) -> Result<(), NodeError> {
        (self.events.borrow_mut())(crate::exec::Event::Progress {
            id: self.node_id,
            done,
            total,
        });
        if self.canceller.is_cancelled() {
            return Err(NodeError::new("cancelled"));
        }
        Ok(())
    }

    /// The designs of the whole batch this run covers, when the batch streams through a node that
    /// works design by design (see [`crate::stream::Items`]); `None` for the whole batch. A source
    /// makes just these designs; position-dependent work counts from `start`.
    pub fn designs(&self) -> Option<std::ops::Range<usize>> {
        self.designs.as_ref().map(|(range, _)| range.clone())
    }

    /// The position in the whole batch of the first design this run sees.
    pub fn first_design(&self) -> usize {
        self.designs.as_ref().map_or(0, |(range, _)| range.start)
    }

    /// The number of designs in the whole batch, when it streams (otherwise the inputs hold them all).
    pub fn batch_len(&self) -> Option<usize> {
        self.designs.as_ref().map(|(_, len)| *len)
    }

    /// Records a file this node wrote, for the run report.
    pub fn wrote(&mut self, path: PathBuf) {
        self.written.push((path, None));
    }

    /// Records a file this node wrote for design `design` (its position in the whole batch), for the
    /// run report and a batch's manifest.
    pub fn wrote_design(&mut self, design: usize, path: PathBuf) {
        self.written.push((path, Some(design)));
    }
}
