//! Execution: runs a plan node by node, serving unchanged nodes from a cache keyed by content
//! (node type, parameters, external fingerprints and upstream keys), isolating failures so that
//! independent outputs still complete, reporting progress within long nodes and what ran, what was
//! cached and how long it took, and stopping at the next chunk boundary when cancelled.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// The run was cancelled while this node ran; it left no output.
    Cancelled,
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
    /// The run was cancelled: the records stop at the node that was running.
    pub cancelled: bool,
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
    /// A running node got this far through its designs (or other units of work).
    Progress {
        /// Node id.
        id: &'a str,
        /// Units done.
        done: usize,
        /// Units in all.
        total: usize,
    },
    /// A node finished (in any way).
    Finished(&'a NodeRecord),
}

/// Stops a run from another thread: the running node stops at its next chunk boundary (see
/// [`NodeContext::progress`]) and nothing after it starts. Every run starts uncancelled.
#[derive(Clone, Debug, Default)]
pub struct Canceller(Arc<AtomicBool>);

impl Canceller {
    /// Asks the current run to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once the current run was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Runs graphs, keeping the output cache and shared resources between runs (watch mode, tests).
#[derive(Default)]
pub struct Engine {
    cache: HashMap<CacheKey, Arc<[Value]>>,
    resources: Resources,
    canceller: Canceller,
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

    /// A handle that cancels this engine's current run from another thread.
    pub fn canceller(&self) -> Canceller {
        self.canceller.clone()
    }

    /// This engine, cancelled through `canceller` (one handle can serve the engines that replace
    /// each other in a watch).
    pub fn with_canceller(mut self, canceller: Canceller) -> Self {
        self.canceller = canceller;
        self
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
        self.canceller.0.store(false, Ordering::SeqCst);
        let order = plan(graph, only)?;
        let model_print = model_fingerprint(graph.model.as_deref());
        let mut keys: HashMap<usize, CacheKey> = HashMap::new();
        let mut outputs: HashMap<usize, Arc<[Value]>> = HashMap::new();
        let mut broken: HashMap<usize, String> = HashMap::new();
        let mut used = HashSet::new();
        let mut report = RunReport::default();

        for (index, &i) in order.iter().enumerate() {
            if self.canceller.is_cancelled() {
                report.cancelled = true;
                break;
            }
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
                events: RefCell::new(&mut *on_event),
                canceller: &self.canceller,
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
            drop(ctx);
            let status = match result {
                Ok(values) => {
                    let values: Arc<[Value]> = values.into();
                    self.cache.insert(key, values.clone());
                    outputs.insert(i, values);
                    Status::Ran
                }
                Err(_) if self.canceller.is_cancelled() => {
                    report.cancelled = true;
                    Status::Cancelled
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
            if report.cancelled {
                break;
            }
        }
        // Keep only what this run used, so long watch sessions don't grow without bound (a cancelled
        // run did not get to everything the next one may need).
        if !report.cancelled {
            self.cache.retain(|k, _| used.contains(k));
        }
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

#[cfg(test)]
mod tests {
    //! The executor on a small registry of test nodes: no model, no GPU.

    use super::*;
    use crate::node::{Node, PortSpec};
    use crate::param::{ParamDefault, ParamSpec, ParamType};
    use crate::registry::Registry;
    use crate::value::ValueType;

    const NUMBER_IN: &[PortSpec] = &[PortSpec::new("x", ValueType::Number, "A number.")];
    const NUMBER_OUT: &[PortSpec] = &[PortSpec::new("out", ValueType::Number, "A number.")];

    fn number(ctx: &NodeContext<'_>, port: &str) -> f64 {
        match ctx.required_input(port) {
            Ok(Value::Number(x)) => *x,
            other => panic!("not a number: {other:?}"),
        }
    }

    /// A number from its parameter.
    struct Const;
    impl Node for Const {
        fn name(&self) -> &'static str {
            "const"
        }
        fn doc(&self) -> &'static str {
            "A number."
        }
        fn outputs(&self) -> &'static [PortSpec] {
            NUMBER_OUT
        }
        fn params(&self) -> &'static [ParamSpec] {
            const PARAMS: &[ParamSpec] = &[ParamSpec {
                name: "value",
                ty: ParamType::Float {
                    min: -1e9,
                    max: 1e9,
                },
                default: ParamDefault::Float(0.0),
                doc: "The number.",
            }];
            PARAMS
        }
        fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
            Ok(vec![Value::Number(ctx.params.float("value")?)])
        }
    }

    /// The sum of two numbers.
    struct Add;
    impl Node for Add {
        fn name(&self) -> &'static str {
            "add"
        }
        fn doc(&self) -> &'static str {
            "A sum."
        }
        fn inputs(&self) -> &'static [PortSpec] {
            const IN: &[PortSpec] = &[
                PortSpec::new("a", ValueType::Number, "A number."),
                PortSpec::new("b", ValueType::Number, "A number."),
            ];
            IN
        }
        fn outputs(&self) -> &'static [PortSpec] {
            NUMBER_OUT
        }
        fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
            Ok(vec![Value::Number(number(ctx, "a") + number(ctx, "b"))])
        }
    }

    /// Always fails, or panics.
    struct Fail;
    impl Node for Fail {
        fn name(&self) -> &'static str {
            "fail"
        }
        fn doc(&self) -> &'static str {
            "Fails."
        }
        fn inputs(&self) -> &'static [PortSpec] {
            NUMBER_IN
        }
        fn outputs(&self) -> &'static [PortSpec] {
            NUMBER_OUT
        }
        fn params(&self) -> &'static [ParamSpec] {
            const PARAMS: &[ParamSpec] = &[ParamSpec {
                name: "panic",
                ty: ParamType::Bool,
                default: ParamDefault::Bool(false),
                doc: "Panic instead of failing.",
            }];
            PARAMS
        }
        fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
            if ctx.params.bool("panic")? {
                panic!("test panic");
            }
            Err(NodeError::new("test failure"))
        }
    }

    /// Works through `units` chunks, reporting progress after each.
    struct Chunked;
    impl Node for Chunked {
        fn name(&self) -> &'static str {
            "chunked"
        }
        fn doc(&self) -> &'static str {
            "Chunks."
        }
        fn inputs(&self) -> &'static [PortSpec] {
            NUMBER_IN
        }
        fn outputs(&self) -> &'static [PortSpec] {
            NUMBER_OUT
        }
        fn params(&self) -> &'static [ParamSpec] {
            const PARAMS: &[ParamSpec] = &[ParamSpec {
                name: "units",
                ty: ParamType::Int { min: 1, max: 1000 },
                default: ParamDefault::Int(4),
                doc: "Chunks of work.",
            }];
            PARAMS
        }
        fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
            let units = ctx.params.int("units")? as usize;
            for done in 1..=units {
                ctx.progress(done, units)?;
            }
            Ok(vec![Value::Number(number(ctx, "x"))])
        }
    }

    /// An output.
    struct Sink;
    impl Node for Sink {
        fn name(&self) -> &'static str {
            "sink"
        }
        fn doc(&self) -> &'static str {
            "An output."
        }
        fn inputs(&self) -> &'static [PortSpec] {
            NUMBER_IN
        }
        fn is_output(&self) -> bool {
            true
        }
        fn run(&self, _ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
            Ok(Vec::new())
        }
    }

    fn registry() -> Registry {
        Registry::new(vec![&Const, &Add, &Fail, &Chunked, &Sink])
    }

    fn graph(nodes: &str) -> Graph {
        let source = format!("Graph(version: 1, nodes: {{ {nodes} }})");
        crate::load::parse_graph(Path::new("test.ron"), &source, &registry(), &[])
            .unwrap_or_else(|d| panic!("{d}"))
    }

    fn statuses(report: &RunReport) -> Vec<(String, Status)> {
        report
            .records
            .iter()
            .map(|r| (r.id.clone(), r.status.clone()))
            .collect()
    }

    const SUM: &str = r#""a": Const(value: 1), "b": Const(value: 2), "unused": Const(value: 9),
        "sum": Add(a: "a", b: "b"), "out": Sink(x: "sum")"#;

    #[test]
    fn plans_what_the_outputs_need_in_order_and_caches_by_content() {
        let mut engine = Engine::new();
        let report = engine.run(&graph(SUM), &[], &mut |_| {}).unwrap();
        let mut ran = report.ran();
        let sum = ran.iter().position(|id| *id == "sum").unwrap();
        assert!(ran[..sum].contains(&"a") && ran[..sum].contains(&"b"));
        assert_eq!(ran[sum + 1..], ["out"]);
        ran.sort();
        assert_eq!(ran, ["a", "b", "out", "sum"], "`unused` is not planned");

        let again = engine.run(&graph(SUM), &[], &mut |_| {}).unwrap();
        assert!(again.ran().is_empty(), "{:?}", statuses(&again));
        assert_eq!(again.cached().len(), 4);

        let edited = SUM.replace("value: 2", "value: 3");
        let report = engine.run(&graph(&edited), &[], &mut |_| {}).unwrap();
        let mut ran = report.ran();
        ran.sort();
        assert_eq!(ran, ["b", "out", "sum"], "only what the edit touched");
        assert_eq!(report.cached(), ["a"]);
    }

    #[test]
    fn a_failure_or_panic_skips_only_what_depends_on_it() {
        let nodes = r#""a": Const(value: 1), "bad": Fail(x: "a"), "crash": Fail(x: "a", panic: true),
            "after": Sink(x: "bad"), "after-crash": Sink(x: "crash"), "fine": Sink(x: "a")"#;
        let report = Engine::new().run(&graph(nodes), &[], &mut |_| {}).unwrap();
        let status = |id: &str| {
            report
                .records
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.status.clone())
                .unwrap()
        };
        assert_eq!(
            status("bad"),
            Status::Failed(NodeError::new("test failure"))
        );
        let Status::Failed(crash) = status("crash") else {
            panic!("{:?}", status("crash"))
        };
        assert!(crash.message.contains("crashed: test panic"), "{crash}");
        assert_eq!(
            status("after"),
            Status::Skipped {
                because: "bad".into()
            }
        );
        assert_eq!(status("fine"), Status::Ran);
        assert!(!report.succeeded());
    }

    #[test]
    fn progress_is_reported_and_a_cancel_stops_at_the_next_chunk() {
        let nodes = r#""a": Const(value: 1), "work": Chunked(x: "a", units: 10),
            "out": Sink(x: "work")"#;
        let mut engine = Engine::new();
        let canceller = engine.canceller();
        let mut seen = Vec::new();
        let report = engine
            .run(&graph(nodes), &[], &mut |event| {
                if let Event::Progress { id, done, total } = event {
                    seen.push((id.to_string(), done, total));
                    if done == 3 {
                        canceller.cancel();
                    }
                }
            })
            .unwrap();
        assert_eq!(
            seen,
            (1..=3)
                .map(|d| ("work".to_string(), d, 10))
                .collect::<Vec<_>>()
        );
        assert!(report.cancelled);
        assert_eq!(
            statuses(&report),
            [
                ("a".into(), Status::Ran),
                ("work".into(), Status::Cancelled)
            ],
            "nothing starts after the cancel"
        );

        // The next run starts afresh, reusing what finished.
        let report = engine.run(&graph(nodes), &[], &mut |_| {}).unwrap();
        assert!(!report.cancelled && report.succeeded());
        assert_eq!(report.cached(), ["a"]);
    }
}
