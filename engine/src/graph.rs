//! A loaded, validated graph: its nodes with checked parameters and typed connections, ready to plan.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::load::Override;
use crate::node::Node;
use crate::param::Params;

/// The graph file format version this engine reads.
pub const FORMAT_VERSION: i64 = 1;

/// A graph that passed validation.
#[derive(Debug)]
pub struct Graph {
    /// The file it was loaded from, as given.
    pub path: PathBuf,
    /// The file's text.
    pub source: Arc<str>,
    /// The `--set` overrides applied on top of the file, in order.
    pub overrides: Vec<Override>,
    /// The model folder, resolved against the graph file's folder.
    pub model: Option<PathBuf>,
    /// Nodes in file order.
    pub nodes: Vec<GraphNode>,
    /// What the studio page shows, from the file's `controls` (empty: every tunable parameter).
    pub controls: Vec<crate::controls::ControlHint>,
    /// Each node's estimated outputs, made at validation (`None`: unknown); the run streams by them.
    pub estimates: Vec<Option<Vec<crate::budget::Extent>>>,
}

/// One node of a validated graph.
#[derive(Debug)]
pub struct GraphNode {
    /// Its id in the file.
    pub id: String,
    /// Its type.
    pub op: &'static dyn Node,
    /// Checked parameters, defaults filled in.
    pub params: Params,
    /// Connected inputs.
    pub inputs: Vec<Connection>,
    /// Byte range of the node's entry in the file, for runtime error locations.
    pub span: (usize, usize),
    /// Byte range of each parameter value written in the file, so a runtime error can point at
    /// the value it is about.
    pub param_spans: Vec<(&'static str, (usize, usize))>,
}

/// An edge: input `port` of this node reads output `from_port` of node `from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Input port name on this node.
    pub port: &'static str,
    /// Index of the upstream node in [`Graph::nodes`].
    pub from: usize,
    /// Index of the upstream output port.
    pub from_port: usize,
}

impl Graph {
    /// The index of the node with this id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// The folder the graph file is in; relative paths in the graph start here.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }
}
