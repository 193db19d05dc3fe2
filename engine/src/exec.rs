//! Execution: runs a plan node by node, serving unchanged nodes from a cache keyed by content
//! (node type, parameters, external fingerprints and upstream keys), isolating failures so that
//! independent outputs still complete, and reporting what ran, what was cached and how long it took.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::graph::Graph;
use crate::node::{NodeContext, NodeError, Resources};
use crate::plan::plan;
use crate::value::Value;

/// A content key: equal keys mean equal outputs.
pub type CacheKey = [u8; 32];

/// What happened to one planned node.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// It ran.
    Ran,
    /// Its outputs came from the cache.
    Cached,
    /// It failed.
    Failed(NodeError),
    /// It did not run because an input failed.
    Skipped {
        /// The upstream node that failed or was skipped.
        because: String,
    },
}

/// The record of one planned node.
#[derive(Clone, Debug)]
pub struct NodeRecord {
    /// Node id.
    pub id: String,
    /// Node type name.
    pub op: &'static str,
    /// What happened.
    pub status: Status,
    /// Time spent (zero when cached or skipped).
    pub duration: Duration,
    /// Files the node wrote.
    pub files: Vec<PathBuf>,
}

/// The result of running a graph.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// One record per planned node, in execution order.
    pub records: Vec<NodeRecord>,
    /// Wall time of the whole run.
    pub duration: Duration,
}

impl RunReport {
    /// Ids of the nodes with the given status kind.
    fn ids(&self, keep: impl Fn(&Status) -> bool) -> Vec<&str> {
        self.records
            .iter()
            .filter(|r| keep(&r.status))
            .map(|r| r.id.as_str())
            .collect()
    }

    /// Ids of nodes that ran.
    pub fn ran(&self) -> Vec<&str> {
        self.ids(|s| *s == Status::Ran)
    }

    /// Ids of nodes served from the cache.
    pub fn cached(&self) -> Vec<&str> {
        self.ids(|s| *s == Status::Cached)
    }

    /// Records of nodes that failed.
    pub fn failures(&self) -> impl Iterator<Item = &NodeRecord> {
        self.records
            .iter()
            .filter(|r| matches!(r.status, Status::Failed(_)))
    }

    /// True when every planned node ran or was cached.
    pub fn succeeded(&self) -> bool {
        self.records
            .iter()
            .all(|r| matches!(r.status, Status::Ran | Status::Cached))
    }

    /// Every file written, in order.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.records
            .iter()
            .flat_map(|r| r.files.iter().map(PathBuf::as_path))
    }
}

/// Progress events, for a progress bar or a log.
#[derive(Debug)]
pub enum Event<'a> {
    /// A node is about to run.
    Started {
        /// Node id.
        id: &'a str,
        /// Position in the plan, from 0.
        index: usize,
        /// Plan length.
        total: usize,
    },
    /// A node finished (in any way).
    Finished(&'a NodeRecord),
}

/// Runs graphs, keeping the output cache and shared resources between runs (watch mode, tests).
#[derive(Default)]
pub struct Engine {
    cache: HashMap<CacheKey, Arc<[Value]>>,
    resources: Resources,
}

/// The identity of the model's weights: folder, size and modification time of its weights file. Other files
/// of the folder (the card, directions) do not touch synthesis; nodes that read them add their content
/// through [`crate::Node::model_fingerprint`].
fn model_fingerprint(model: Option<&Path>) -> String {
    let Some(dir) = model else {
        return String::new();
    };
    let weights = dir.join(crate::MODEL_WEIGHTS_FILE);
    let stamp = std::fs::metadata(&weights).ok().map(|meta| {
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("{}:{modified}", meta.len())
    });
    format!("{}|{}", dir.display(), stamp.unwrap_or_default())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Engine {
    /// A fresh engine with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Shared resources (models loaded on the GPU and such).
    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    /// Runs the graph's outputs (or the nodes named in `only` and what they need). Errors only when
    /// the plan itself is impossible; node failures are in the report.
    pub fn run(
        &mut self,
        graph: &Graph,
        only: &[String],
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<RunReport, String> {
        let started = Instant::now();
        let order = plan(graph, only)?;
        let model_print = model_fingerprint(graph.model.as_deref());
        let mut keys: HashMap<usize, CacheKey> = HashMap::new();
        let mut outputs: HashMap<usize, Arc<[Value]>> = HashMap::new();
        let mut broken: HashMap<usize, String> = HashMap::new();
        let mut used = HashSet::new();
        let mut report = RunReport::default();

        for (index, &i) in order.iter().enumerate() {
            let node = &graph.nodes[i];
            let key = self.key(graph, i, &keys, &model_print);
            keys.insert(i, key);
            used.insert(key);

            if let Some(upstream) = node.inputs.iter().find_map(|c| broken.get(&c.from)) {
                let because = upstream.clone();
                broken.insert(i, because.clone());
                let record = NodeRecord {
                    id: node.id.clone(),
                    op: node.op.name(),
                    status: Status::Skipped { because },
                    duration: Duration::ZERO,
                    files: Vec::new(),
                };
                on_event(Event::Finished(&record));
                report.records.push(record);
                continue;
            }
            if let Some(hit) = self.cache.get(&key) {
                outputs.insert(i, hit.clone());
                let record = NodeRecord {
                    id: node.id.clone(),
                    op: node.op.name(),
                    status: Status::Cached,
                    duration: Duration::ZERO,
                    files: Vec::new(),
                };
                on_event(Event::Finished(&record));
                report.records.push(record);
                continue;
            }

            on_event(Event::Started {
                id: &node.id,
                index,
                total: order.len(),
            });
            let inputs = node
                .inputs
                .iter()
                .map(|c| (c.port, outputs[&c.from][c.from_port].clone()))
                .collect();
            let mut ctx = NodeContext {
                node_id: &node.id,
                params: &node.params,
                graph_path: &graph.path,
                graph_source: &graph.source,
                overrides: &graph.overrides,
                model_dir: graph.model.as_deref(),
                resources: &self.resources,
                inputs,
                written: Vec::new(),
            };
            let t0 = Instant::now();
            let result = catch_unwind(AssertUnwindSafe(|| node.op.run(&mut ctx)))
                .unwrap_or_else(|payload| {
                    Err(NodeError::new(format!(
                        "the node crashed: {}",
                        panic_message(payload.as_ref())
                    ))
                    .with_help("this is a bug in drape; please report it with the graph file"))
                })
                .and_then(|values| check_outputs(node.op, values));
            let duration = t0.elapsed();
            let files = std::mem::take(&mut ctx.written);
            let status = match result {
                Ok(values) => {
                    let values: Arc<[Value]> = values.into();
                    self.cache.insert(key, values.clone());
                    outputs.insert(i, values);
                    Status::Ran
                }
                Err(e) => {
                    broken.insert(i, node.id.clone());
                    Status::Failed(e)
                }
            };
            let record = NodeRecord {
                id: node.id.clone(),
                op: node.op.name(),
                status,
                duration,
                files,
            };
            on_event(Event::Finished(&record));
            report.records.push(record);
        }
        // Keep only what this run used, so long watch sessions don't grow without bound.
        self.cache.retain(|k, _| used.contains(k));
        report.duration = started.elapsed();
        Ok(report)
    }

    fn key(
        &self,
        graph: &Graph,
        i: usize,
        keys: &HashMap<usize, CacheKey>,
        model_print: &str,
    ) -> CacheKey {
        let node = &graph.nodes[i];
        let mut h = blake3::Hasher::new();
        h.update(b"drape-node-v1\0");
        h.update(node.op.name().as_bytes());
        h.update(b"\0");
        h.update(format!("{:?}", node.params).as_bytes());
        h.update(b"\0");
        h.update(node.op.fingerprint(&node.params).as_bytes());
        h.update(b"\0");
        if node.op.uses_model() {
            h.update(model_print.as_bytes());
            if let Some(dir) = graph.model.as_deref() {
                h.update(node.op.model_fingerprint(&node.params, dir).as_bytes());
            }
        }
        if node.op.is_output() {
            // Outputs embed the recipe (the graph text) in what they write. Overrides are left out: one
            // that changes what an output writes changes an upstream key, and any other is harmless in
            // the recipe it records.
            h.update(graph.source.as_bytes());
        }
        let mut inputs: Vec<_> = node.inputs.iter().collect();
        inputs.sort_by_key(|c| c.port);
        for c in inputs {
            h.update(c.port.as_bytes());
            h.update(&keys[&c.from]);
            h.update(&(c.from_port as u64).to_le_bytes());
        }
        *h.finalize().as_bytes()
    }
}

fn check_outputs(op: &dyn crate::node::Node, values: Vec<Value>) -> Result<Vec<Value>, NodeError> {
    let declared = op.outputs();
    let types_match = values.len() == declared.len()
        && values
            .iter()
            .zip(declared)
            .all(|(v, p)| v.value_type() == p.ty);
    if types_match {
        Ok(values)
    } else {
        Err(NodeError::new(format!(
            "{} returned {} value(s) of the wrong kind for its declared outputs",
            op.name(),
            values.len()
        ))
        .with_help("this is a bug in drape; please report it"))
    }
}
