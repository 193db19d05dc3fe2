//! The drape graph engine: graph files, the node plugin interface, validation, planning and cached
//! execution. It knows nodes only through the [`Registry`] it is given.
//!
//! - [`load`] reads a RON graph file and validates it into a [`Graph`], or returns every problem as
//!   located [`Diagnostic`]s;
//! - [`plan`] picks what the outputs need, in topological order;
//! - [`Engine`] runs a plan, caching each node's outputs by content.

pub mod atomic;
pub mod budget;
pub mod controls;
pub mod diagnostic;
pub mod edit;
pub mod exec;
pub mod graph;
pub mod load;
pub mod manifest;
pub mod node;
pub mod param;
pub mod plan;
pub mod registry;
pub mod stream;
pub mod value;

pub use atomic::write_atomically;
pub use budget::Extent;
pub use diagnostic::{Diagnostic, Diagnostics, printable};
pub use exec::{BatchOptions, Canceller, Engine, Event, NodeRecord, RunReport, Status};
pub use graph::{Connection, FORMAT_VERSION, Graph, GraphNode};
pub use load::{
    MODEL_WEIGHTS_FILE, Override, Step, load_graph, load_graph_with_model, parse_graph,
    parse_graph_with_model,
};
pub use node::{Node, NodeContext, NodeError, ParamProblem, PortSpec, Resources};
pub use param::{ParamDefault, ParamSpec, ParamType, ParamValue, Params};
pub use plan::plan;
pub use registry::{Registry, graph_name};
pub use stream::Items;
pub use value::{
    Design, Images, Latents, PendingTruncation, TruncationPoint, Value, ValueType, WPlus,
};
