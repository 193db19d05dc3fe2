//! Execution: runs a plan node by node, serving unchanged nodes from a cache keyed by content
//! (node type, parameters, external fingerprints and upstream keys), isolating failures so that
//! independent outputs still complete, reporting progress within long nodes and what ran, what was
//! cached and how long it took, and stopping at the next chunk boundary when cancelled.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::graph::{Graph, GraphNode};
use crate::manifest::{Entry, Manifest};
use crate::node::{NodeContext, NodeError, Resources};
use crate::plan::plan;
use crate::stream::{self, Region};
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
    /// Designs an earlier run of this batch had finished (found in its manifest), of how many.
    pub resumed_from: Option<(usize, usize)>,
    /// When the batch streamed: its designs, and the nodes that needed it whole (which held every
    /// design in memory).
    pub streamed: Option<(usize, Vec<String>)>,
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
    /// Designs done of the streamed part of the graph (see [`crate::stream`]), after each chunk.
    Designs {
        /// Designs through every streamed node.
        done: usize,
        /// Designs in all.
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

/// A node's outputs (or failure), its time and the files it wrote, with the design each is for.
type Executed = (
    Result<Vec<Value>, NodeError>,
    Duration,
    Vec<(PathBuf, Option<usize>)>,
);

/// What a run is asked to do.
enum Mode<'a> {
    /// Every design (streamed when the batch is large).
    Whole,
    /// Only these designs, streamed.
    Designs(Range<usize>),
    /// A share of a batch with a manifest.
    Batch(&'a BatchOptions),
}

/// How a batch is split over processes and recorded (`drape run --shard`, cluster array jobs).
#[derive(Clone, Debug, Default)]
pub struct BatchOptions {
    /// `(index, count)`: only share `index` of `count` equal shares of the designs (in order).
    pub shard: Option<(usize, usize)>,
    /// The manifest file to record finished designs in and continue from; `None`: none.
    pub manifest: Option<PathBuf>,
    /// Start over, ignoring what an existing manifest says is finished.
    pub force: bool,
}

/// The streamed part of a run.
struct Streamed {
    region: Region,
    /// The designs of this run's share.
    range: Range<usize>,
    /// The part of `range` still to do (all of it unless a manifest says otherwise).
    todo: Range<usize>,
    manifest: Option<Manifest>,
}

/// What a run has so far: outputs, failures and the report.
struct RunState {
    outputs: HashMap<usize, Arc<[Value]>>,
    /// Failed or skipped nodes, with the failed node that is the cause.
    broken: HashMap<usize, String>,
    report: RunReport,
    total: usize,
}

impl RunState {
    /// The failed node upstream of `node`, if any.
    fn upstream_failure(&self, node: &GraphNode) -> Option<String> {
        node.inputs
            .iter()
            .find_map(|c| self.broken.get(&c.from).cloned())
    }

    /// The status of node `i` that returned `error`: cancelled when the run was, otherwise failed,
    /// which skips what depends on it.
    fn failed(
        &mut self,
        i: usize,
        node: &GraphNode,
        error: NodeError,
        canceller: &Canceller,
    ) -> Status {
        if canceller.is_cancelled() {
            self.report.cancelled = true;
            Status::Cancelled
        } else {
            self.broken.insert(i, node.id.clone());
            Status::Failed(error)
        }
    }

    /// Records what happened to node `i` and tells `on_event`.
    fn finish(
        &mut self,
        i: usize,
        node: &GraphNode,
        status: Status,
        duration: Duration,
        files: Vec<PathBuf>,
        on_event: &mut dyn FnMut(Event<'_>),
    ) {
        if let Status::Skipped { because } = &status {
            self.broken.insert(i, because.clone());
        }
        let record = NodeRecord {
            id: node.id.clone(),
            op: node.op.name(),
            status,
            duration,
            files,
        };
        on_event(Event::Finished(&record));
        self.report.records.push(record);
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
    /// the plan itself is impossible; node failures are in the report. A batch of more than
    /// [`stream::STREAM_ABOVE`] designs streams through the nodes that work design by design.
    pub fn run(
        &mut self,
        graph: &Graph,
        only: &[String],
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<RunReport, String> {
        self.run_with(graph, only, Mode::Whole, on_event)
    }

    /// Like [`Engine::run`], streaming only designs `designs` of the batch through the nodes that work
    /// design by design; an error when an output of the plan needs the whole batch.
    pub fn run_designs(
        &mut self,
        graph: &Graph,
        only: &[String],
        designs: Range<usize>,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<RunReport, String> {
        self.run_with(graph, only, Mode::Designs(designs), on_event)
    }

    /// Like [`Engine::run`], as one share of a batch recorded in a manifest: the run continues after
    /// the designs an earlier run of the same graph finished (see [`crate::manifest`]).
    pub fn run_batch(
        &mut self,
        graph: &Graph,
        only: &[String],
        batch: &BatchOptions,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<RunReport, String> {
        self.run_with(graph, only, Mode::Batch(batch), on_event)
    }

    /// Where the planned nodes stream, over which designs, and the manifest that records them.
    fn streaming(
        graph: &Graph,
        order: &[usize],
        mode: &Mode<'_>,
    ) -> Result<Option<Streamed>, String> {
        let region = stream::region(&graph.nodes, order, &graph.estimates);
        let whole_output = |region: &Region| {
            order
                .iter()
                .find(|&&i| graph.nodes[i].op.is_output() && !region.members[i])
                .map(|&i| format!("node \"{}\" needs the whole batch", graph.nodes[i].id))
        };
        let streamed = |region: Region, range: Range<usize>| Streamed {
            region,
            range: range.clone(),
            todo: range,
            manifest: None,
        };
        match (region, mode) {
            (None, Mode::Whole) => Ok(None),
            (None, Mode::Batch(batch)) if batch.shard.is_none() => Ok(None),
            (None, _) => Err("no node of the graph works design by design".into()),
            (Some(region), Mode::Whole) => Ok((region.designs > stream::STREAM_ABOVE).then(|| {
                let all = 0..region.designs;
                streamed(region, all)
            })),
            (Some(region), Mode::Designs(range)) => {
                if let Some(why) = whole_output(&region) {
                    return Err(why);
                }
                if range.end > region.designs || range.is_empty() {
                    return Err(format!(
                        "the batch has {} designs, not designs {}..{}",
                        region.designs, range.start, range.end
                    ));
                }
                Ok(Some(streamed(region, range.clone())))
            }
            (Some(region), Mode::Batch(batch)) => {
                let blocker = whole_output(&region);
                if let (Some(why), Some(_)) = (&blocker, batch.shard) {
                    return Err(format!(
                        "a batch splits into shards only when every output works design by design, but {why}"
                    ));
                }
                if blocker.is_some()
                    || (batch.shard.is_none() && region.designs <= stream::STREAM_ABOVE)
                {
                    // Runs as a plain run would: whole, or streamed without a manifest.
                    return Self::streaming(graph, order, &Mode::Whole);
                }
                let (index, count) = batch.shard.unwrap_or((0, 1));
                let range = region.designs * index / count..region.designs * (index + 1) / count;
                let mut streamed = streamed(region, range.clone());
                if let Some(path) = &batch.manifest {
                    let header = crate::manifest::Header {
                        format: crate::manifest::FORMAT,
                        graph: graph.path.display().to_string(),
                        graph_blake3: crate::manifest::graph_digest(
                            &graph.source,
                            &graph.overrides,
                        ),
                        designs: streamed.region.designs,
                        range: (range.start, range.end),
                        shard: batch.shard,
                    };
                    let (manifest, next) = Manifest::open(path, &header, batch.force)?;
                    streamed.todo = next..range.end;
                    streamed.manifest = Some(manifest);
                }
                Ok(Some(streamed))
            }
        }
    }

    fn run_with(
        &mut self,
        graph: &Graph,
        only: &[String],
        mode: Mode<'_>,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<RunReport, String> {
        let started = Instant::now();
        self.canceller.0.store(false, Ordering::SeqCst);
        let order = plan(graph, only)?;
        let streaming = Self::streaming(graph, &order, &mode)?;
        let model_print = model_fingerprint(graph.model.as_deref());
        let mut keys: HashMap<usize, CacheKey> = HashMap::new();
        for &i in &order {
            let key = self.key(graph, i, &keys, &model_print);
            keys.insert(i, key);
        }
        let mut state = RunState {
            outputs: HashMap::new(),
            broken: HashMap::new(),
            report: RunReport::default(),
            total: order.len(),
        };
        // Nodes before the streamed region, the region chunk by chunk, then the rest; without a region
        // every node is in the first group.
        let before: Vec<usize> = match &streaming {
            Some(streamed) => order
                .iter()
                .copied()
                .filter(|&i| !streamed.region.after[i])
                .collect(),
            None => order.clone(),
        };
        for &i in &before {
            self.run_whole(graph, i, keys[&i], &mut state, on_event);
            if state.report.cancelled {
                break;
            }
        }
        if let Some(streamed) = &streaming
            && !state.report.cancelled
        {
            self.run_region(graph, &order, streamed, &keys, &mut state, on_event);
            let region = &streamed.region;
            let rest = order
                .iter()
                .copied()
                .filter(|&i| region.after[i] && !region.members[i]);
            for i in rest {
                if state.report.cancelled {
                    break;
                }
                self.run_whole(graph, i, keys[&i], &mut state, on_event);
            }
        }
        let mut report = state.report;
        report.streamed = streaming.as_ref().map(|s| {
            let whole = order
                .iter()
                .filter(|&&i| {
                    let node = &graph.nodes[i];
                    !s.region.members[i] && node.inputs.iter().any(|c| s.region.members[c.from])
                })
                .map(|&i| graph.nodes[i].id.clone())
                .collect();
            (s.range.len(), whole)
        });
        report.resumed_from = streaming
            .as_ref()
            .filter(|s| s.todo.start > s.range.start)
            .map(|s| (s.todo.start - s.range.start, s.range.len()));
        // Keep only what this run used, so long watch sessions don't grow without bound (a cancelled
        // run did not get to everything the next one may need).
        if !report.cancelled {
            let used: HashSet<CacheKey> = keys.values().copied().collect();
            self.cache.retain(|k, _| used.contains(k));
        }
        report.duration = started.elapsed();
        Ok(report)
    }

    /// Runs node `i` on its inputs' whole batches (or serves it from the cache).
    fn run_whole(
        &mut self,
        graph: &Graph,
        i: usize,
        key: CacheKey,
        state: &mut RunState,
        on_event: &mut dyn FnMut(Event<'_>),
    ) {
        if self.canceller.is_cancelled() {
            state.report.cancelled = true;
            return;
        }
        let node = &graph.nodes[i];
        if let Some(because) = state.upstream_failure(node) {
            let skipped = Status::Skipped { because };
            state.finish(i, node, skipped, Duration::ZERO, Vec::new(), on_event);
            return;
        }
        if let Some(hit) = self.cache.get(&key) {
            state.outputs.insert(i, hit.clone());
            state.finish(
                i,
                node,
                Status::Cached,
                Duration::ZERO,
                Vec::new(),
                on_event,
            );
            return;
        }
        on_event(Event::Started {
            id: &node.id,
            index: state.report.records.len(),
            total: state.total,
        });
        let inputs = node
            .inputs
            .iter()
            .map(|c| (c.port, state.outputs[&c.from][c.from_port].clone()))
            .collect();
        let (result, duration, files) = self.execute(graph, i, inputs, None, on_event);
        let files = files.into_iter().map(|(path, _)| path).collect();
        let status = match result {
            Ok(values) => {
                let values: Arc<[Value]> = values.into();
                self.cache.insert(key, values.clone());
                state.outputs.insert(i, values);
                Status::Ran
            }
            Err(e) => state.failed(i, node, e, &self.canceller),
        };
        state.finish(i, node, status, duration, files, on_event);
    }

    /// Runs the region's members chunk by chunk over the designs still to do, gathering the outputs
    /// that nodes outside the region read and recording each finished chunk in the manifest. A member
    /// that fails stops, with what depends on it, and the others go on.
    fn run_region(
        &mut self,
        graph: &Graph,
        order: &[usize],
        streamed: &Streamed,
        keys: &HashMap<usize, CacheKey>,
        state: &mut RunState,
        on_event: &mut dyn FnMut(Event<'_>),
    ) {
        let Streamed {
            region,
            range,
            todo,
            manifest,
        } = streamed;
        let members: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| region.members[i])
            .collect();
        let gathered: HashSet<usize> = members
            .iter()
            .copied()
            .filter(|&i| region.read_outside(&graph.nodes, order, i))
            .collect();
        let mut parts: HashMap<usize, Vec<Vec<Value>>> = HashMap::new();
        let mut spent: HashMap<usize, (Duration, Vec<PathBuf>)> = HashMap::new();
        let mut ended: HashMap<usize, Status> = HashMap::new();
        let mut recording = manifest.as_ref();
        'chunks: for chunk in Region::chunks(todo.clone()) {
            let mut values: HashMap<usize, Vec<Value>> = HashMap::new();
            // For the manifest: each design's record and the files written for it.
            let mut designs: Option<Arc<[crate::value::Design]>> = None;
            let mut files_of: Vec<Vec<(String, PathBuf)>> = vec![Vec::new(); chunk.len()];
            for &i in &members {
                let node = &graph.nodes[i];
                if ended.contains_key(&i) {
                    continue;
                }
                if let Some(because) = state.upstream_failure(node) {
                    state.broken.insert(i, because.clone());
                    ended.insert(i, Status::Skipped { because });
                    continue;
                }
                if self.canceller.is_cancelled() {
                    state.report.cancelled = true;
                    break 'chunks;
                }
                if chunk.start == todo.start {
                    on_event(Event::Started {
                        id: &node.id,
                        index: state.report.records.len(),
                        total: state.total,
                    });
                }
                let inputs: HashMap<&'static str, Value> = node
                    .inputs
                    .iter()
                    .map(|c| {
                        let value = match values.get(&c.from) {
                            Some(part) => part[c.from_port].clone(),
                            None => state.outputs[&c.from][c.from_port].designs(chunk.clone()),
                        };
                        (c.port, value)
                    })
                    .collect();
                if node.op.is_output() && designs.is_none() {
                    designs = inputs.values().find_map(Value::design_records);
                }
                let designs_in = Some((chunk.clone(), region.designs));
                let (result, duration, files) =
                    self.execute(graph, i, inputs, designs_in, on_event);
                let (time, written) = spent.entry(i).or_default();
                *time += duration;
                for (path, design) in files {
                    let slot = design
                        .and_then(|k| k.checked_sub(chunk.start))
                        .and_then(|k| files_of.get_mut(k));
                    if let Some(slot) = slot {
                        slot.push((node.id.clone(), path.clone()));
                    }
                    written.push(path);
                }
                match result {
                    Ok(outputs) => {
                        if gathered.contains(&i) {
                            parts.entry(i).or_default().push(outputs.clone());
                        }
                        values.insert(i, outputs);
                    }
                    Err(e) => {
                        ended.insert(i, state.failed(i, node, e, &self.canceller));
                        if state.report.cancelled {
                            break 'chunks;
                        }
                    }
                }
            }
            // A chunk every member finished goes into the manifest; after a failure nothing more
            // does, so that the manifest stays a run of finished designs.
            if !ended.is_empty() {
                recording = None;
            }
            if let (Some(manifest), Some(designs)) = (recording, &designs) {
                let entries: std::io::Result<Vec<Entry>> = files_of
                    .iter()
                    .enumerate()
                    .map(|(k, files)| {
                        Entry::new(chunk.start + k, &designs[k], files, &manifest.folder)
                    })
                    .collect();
                if let Err(e) = entries.and_then(|entries| manifest.append(&entries)) {
                    eprintln!(
                        "warning: the batch manifest cannot be written ({e}); a re-run will redo these designs"
                    );
                    recording = None;
                }
            }
            on_event(Event::Designs {
                done: chunk.end - range.start,
                total: range.len(),
            });
            if members.iter().all(|i| ended.contains_key(i)) {
                break;
            }
        }
        for &i in &members {
            let node = &graph.nodes[i];
            let (duration, files) = spent.remove(&i).unwrap_or_default();
            let status = match ended.remove(&i) {
                Some(status) => status,
                None if state.report.cancelled => {
                    if files.is_empty() && duration.is_zero() {
                        continue; // Never started.
                    }
                    Status::Cancelled
                }
                // An earlier run of the batch finished every design.
                None if todo.is_empty() => Status::Cached,
                None => {
                    if let Some(chunks) = parts.remove(&i) {
                        let whole = gather(chunks);
                        if *range == (0..region.designs) && todo == range {
                            self.cache.insert(keys[&i], whole.clone());
                        }
                        state.outputs.insert(i, whole);
                    }
                    Status::Ran
                }
            };
            state.finish(i, node, status, duration, files, on_event);
        }
    }

    /// Runs node `i` once on `inputs` (designs `designs` of the batch, or all), turning a panic into a
    /// failure; returns its outputs, time and the files it wrote.
    fn execute(
        &self,
        graph: &Graph,
        i: usize,
        inputs: HashMap<&'static str, Value>,
        designs: Option<(Range<usize>, usize)>,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Executed {
        let node = &graph.nodes[i];
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
            events: RefCell::new(on_event),
            canceller: &self.canceller,
            designs,
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
        (result, t0.elapsed(), ctx.written)
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

/// One node's outputs per chunk, gathered into its outputs for the whole range.
fn gather(chunks: Vec<Vec<Value>>) -> Arc<[Value]> {
    let ports = chunks.first().map_or(0, Vec::len);
    let mut by_port: Vec<Vec<Value>> = vec![Vec::new(); ports];
    for chunk in chunks {
        for (port, value) in chunk.into_iter().enumerate() {
            by_port[port].push(value);
        }
    }
    by_port
        .into_iter()
        .filter_map(Value::gather)
        .collect::<Vec<_>>()
        .into()
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
    use crate::budget::Extent;
    use crate::node::{Node, PortSpec};
    use crate::param::{ParamDefault, ParamSpec, ParamType, Params};
    use crate::registry::Registry;
    use crate::stream::Items;
    use crate::value::{Design, Latents, ValueType};

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

    const LATENTS_IN: &[PortSpec] = &[PortSpec::new("x", ValueType::Latents, "A batch.")];
    const LATENTS_OUT: &[PortSpec] = &[PortSpec::new("out", ValueType::Latents, "A batch.")];

    /// What the streaming test nodes saw, by test (each test uses its own `tag`).
    static SEEN: std::sync::Mutex<Vec<(String, Range<usize>, usize)>> =
        std::sync::Mutex::new(Vec::new());

    fn seen(tag: &str) -> Vec<(Range<usize>, usize)> {
        let seen = SEEN.lock().unwrap();
        seen.iter()
            .filter(|(t, _, _)| t == tag)
            .map(|(_, range, len)| (range.clone(), *len))
            .collect()
    }

    fn batch(ctx: &NodeContext<'_>) -> Latents {
        match ctx.required_input("x") {
            Ok(Value::Latents(x)) => x.clone(),
            other => panic!("not a batch: {other:?}"),
        }
    }

    const TAG: ParamSpec = ParamSpec {
        name: "tag",
        ty: ParamType::Text,
        default: ParamDefault::Text(""),
        doc: "Which test's records.",
    };

    /// Designs 0..n whose one value is their position; works design by design.
    struct Count;
    impl Node for Count {
        fn name(&self) -> &'static str {
            "count"
        }
        fn doc(&self) -> &'static str {
            "A batch of positions."
        }
        fn outputs(&self) -> &'static [PortSpec] {
            LATENTS_OUT
        }
        fn params(&self) -> &'static [ParamSpec] {
            const PARAMS: &[ParamSpec] = &[ParamSpec {
                name: "n",
                ty: ParamType::Int {
                    min: 1,
                    max: 100_000,
                },
                default: ParamDefault::Int(1),
                doc: "Designs.",
            }];
            PARAMS
        }
        fn items(&self, _params: &Params) -> Items {
            Items::PerDesign
        }
        fn estimate(
            &self,
            params: &Params,
            _inputs: &HashMap<&'static str, Extent>,
            _model: Option<&Path>,
        ) -> Option<Vec<Extent>> {
            Some(vec![Extent::values(params.int("n").ok()? as u64, 1)])
        }
        fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
            let n = ctx.params.int("n")? as usize;
            let range = ctx.designs().unwrap_or(0..n);
            Ok(vec![Value::Latents(Latents {
                dim: 1,
                data: Arc::new(range.clone().map(|k| k as f32).collect()),
                designs: range.map(|k| Design::labelled(k.to_string())).collect(),
            })])
        }
    }

    /// Twice its input, design by design; records the ranges it saw, and fails on design `fail_at`.
    struct Twice;
    impl Node for Twice {
        fn name(&self) -> &'static str {
            "twice"
        }
        fn doc(&self) -> &'static str {
            "Doubles a batch."
        }
        fn inputs(&self) -> &'static [PortSpec] {
            LATENTS_IN
        }
        fn outputs(&self) -> &'static [PortSpec] {
            LATENTS_OUT
        }
        fn params(&self) -> &'static [ParamSpec] {
            const PARAMS: &[ParamSpec] = &[
                TAG,
                ParamSpec {
                    name: "fail_at",
                    ty: ParamType::Int {
                        min: -1,
                        max: 100_000,
                    },
                    default: ParamDefault::Int(-1),
                    doc: "A design to fail on.",
                },
            ];
            PARAMS
        }
        fn items(&self, _params: &Params) -> Items {
            Items::PerDesign
        }
        fn estimate(
            &self,
            _params: &Params,
            inputs: &HashMap<&'static str, Extent>,
            _model: Option<&Path>,
        ) -> Option<Vec<Extent>> {
            Some(vec![*inputs.get("x")?])
        }
        fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
            let x = batch(ctx);
            let range = ctx.first_design()..ctx.first_design() + x.len();
            let tag = ctx.params.text("tag")?.to_string();
            SEEN.lock()
                .unwrap()
                .push((tag, range.clone(), ctx.batch_len().unwrap_or(x.len())));
            let fail_at = ctx.params.int("fail_at")?;
            if fail_at >= 0 && range.contains(&(fail_at as usize)) {
                return Err(NodeError::new("test failure"));
            }
            Ok(vec![Value::Latents(Latents {
                data: Arc::new(x.data.iter().map(|v| 2.0 * v).collect()),
                ..x
            })])
        }
    }

    /// The sum of a whole batch, and its length, recorded under its tag.
    struct Total;
    impl Node for Total {
        fn name(&self) -> &'static str {
            "total"
        }
        fn doc(&self) -> &'static str {
            "Sums a batch."
        }
        fn inputs(&self) -> &'static [PortSpec] {
            LATENTS_IN
        }
        fn params(&self) -> &'static [ParamSpec] {
            const PARAMS: &[ParamSpec] = &[TAG];
            PARAMS
        }
        fn is_output(&self) -> bool {
            true
        }
        fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
            let x = batch(ctx);
            let sum = x.data.iter().sum::<f32>() as usize;
            let tag = format!("{}-total", ctx.params.text("tag")?);
            SEEN.lock().unwrap().push((tag, 0..x.len(), sum));
            Ok(Vec::new())
        }
    }

    /// An output that takes its batch design by design.
    struct Each;
    impl Node for Each {
        fn name(&self) -> &'static str {
            "each"
        }
        fn doc(&self) -> &'static str {
            "Takes designs one by one."
        }
        fn inputs(&self) -> &'static [PortSpec] {
            LATENTS_IN
        }
        fn is_output(&self) -> bool {
            true
        }
        fn items(&self, _params: &Params) -> Items {
            Items::PerDesign
        }
        fn run(&self, _ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
            Ok(Vec::new())
        }
    }

    fn registry() -> Registry {
        Registry::new(vec![
            &Const, &Add, &Fail, &Chunked, &Sink, &Count, &Twice, &Total, &Each,
        ])
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

    #[test]
    fn a_large_batch_streams_in_chunks_and_whole_batch_nodes_get_it_gathered() {
        let nodes = r#""n": Count(n: 300), "twice": Twice(x: "n", tag: "large"),
            "total": Total(x: "twice", tag: "large")"#;
        let mut designs = Vec::new();
        let report = Engine::new()
            .run(&graph(nodes), &[], &mut |event| {
                if let Event::Designs { done, total } = event {
                    designs.push((done, total));
                }
            })
            .unwrap();
        assert!(report.succeeded(), "{:?}", statuses(&report));
        let chunks: Vec<(Range<usize>, usize)> = [0..64, 64..128, 128..192, 192..256, 256..300]
            .into_iter()
            .map(|r| (r, 300))
            .collect();
        assert_eq!(seen("large"), chunks);
        assert_eq!(
            designs,
            [(64, 300), (128, 300), (192, 300), (256, 300), (300, 300)]
        );
        assert_eq!(seen("large-total"), [(0..300, 2 * (0..300).sum::<usize>())]);
    }

    #[test]
    fn a_small_batch_runs_whole_and_stays_cached() {
        let nodes = r#""n": Count(n: 10), "twice": Twice(x: "n", tag: "small"),
            "total": Total(x: "twice", tag: "small")"#;
        let mut engine = Engine::new();
        engine.run(&graph(nodes), &[], &mut |_| {}).unwrap();
        assert_eq!(seen("small"), [(0..10, 10)]);
        let again = engine.run(&graph(nodes), &[], &mut |_| {}).unwrap();
        assert_eq!(again.cached(), ["n", "twice", "total"]);
    }

    #[test]
    fn chosen_designs_stream_alone() {
        let nodes = r#""n": Count(n: 100), "twice": Twice(x: "n", tag: "one"),
            "total": Total(x: "twice", tag: "one")"#;
        let only = ["twice".to_string()];
        let report = Engine::new()
            .run_designs(&graph(nodes), &only, 40..41, &mut |_| {})
            .unwrap();
        assert!(report.succeeded());
        assert_eq!(seen("one"), [(40..41, 100)]);
        assert!(seen("one-total").is_empty());
        let whole_only = r#""n": Count(n: 100), "total": Total(x: "n")"#;
        let refused = Engine::new().run_designs(&graph(whole_only), &[], 0..1, &mut |_| {});
        assert_eq!(refused.unwrap_err(), "node \"total\" needs the whole batch");
    }

    #[test]
    fn a_failure_in_a_chunk_stops_its_branch_and_the_others_finish() {
        let nodes = r#""n": Count(n: 300), "bad": Twice(x: "n", tag: "bad", fail_at: 100),
            "after-bad": Twice(x: "bad", tag: "after-bad"), "t2": Total(x: "after-bad"),
            "good": Twice(x: "n", tag: "good"), "total": Total(x: "good", tag: "good")"#;
        let report = Engine::new().run(&graph(nodes), &[], &mut |_| {}).unwrap();
        let status = |id: &str| {
            statuses(&report)
                .into_iter()
                .find(|(i, _)| i == id)
                .unwrap()
                .1
        };
        assert_eq!(
            status("bad"),
            Status::Failed(NodeError::new("test failure"))
        );
        assert_eq!(
            status("after-bad"),
            Status::Skipped {
                because: "bad".into()
            }
        );
        assert_eq!(status("total"), Status::Ran);
        assert_eq!(
            seen("bad").len(),
            2,
            "stopped at the chunk holding design 100"
        );
        assert_eq!(seen("after-bad"), [(0..64, 300)]);
        assert_eq!(seen("good").len(), 5);
    }

    #[test]
    fn a_batch_stopped_halfway_continues_from_its_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = r#""n": Count(n: 300), "twice": Twice(x: "n", tag: "resume"),
            "each": Each(x: "twice")"#;
        let batch = BatchOptions {
            manifest: Some(dir.path().join("m.jsonl")),
            ..BatchOptions::default()
        };
        let mut engine = Engine::new();
        let canceller = engine.canceller();
        let report = engine
            .run_batch(&graph(nodes), &[], &batch, &mut |event| {
                if let Event::Designs { done: 128, .. } = event {
                    canceller.cancel();
                }
            })
            .unwrap();
        assert!(report.cancelled);
        let (_, entries) = crate::manifest::read(&dir.path().join("m.jsonl")).unwrap();
        assert_eq!(entries.len(), 128);
        assert_eq!(entries[5].label, "5");

        let report = Engine::new()
            .run_batch(&graph(nodes), &[], &batch, &mut |_| {})
            .unwrap();
        assert!(report.succeeded());
        assert_eq!(report.resumed_from, Some((128, 300)));
        let starts: Vec<usize> = seen("resume").iter().map(|(r, _)| r.start).collect();
        assert_eq!(
            starts,
            [0, 64, 128, 192, 256],
            "the second run began at design 128"
        );
        let (_, entries) = crate::manifest::read(&dir.path().join("m.jsonl")).unwrap();
        let designs: Vec<usize> = entries.iter().map(|e| e.design).collect();
        assert_eq!(designs, (0..300).collect::<Vec<_>>());

        // Finished: a third run renders nothing.
        let report = Engine::new()
            .run_batch(&graph(nodes), &[], &batch, &mut |_| {})
            .unwrap();
        assert_eq!(report.cached(), ["n", "twice", "each"]);
    }
}
