//! Loading a graph file: RON parsing with source spans, then validation of everything that can be
//! checked before running (version, model folder, node types, parameters, connections, edge types,
//! cycles), collecting every problem at once as located [`Diagnostic`]s.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;
use ron2::ast::{Expr, StructBody};

use crate::budget::{Extent, human_bytes};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::{Connection, FORMAT_VERSION, Graph, GraphNode};
use crate::node::Node;
use crate::param::{self, ParamDefault, ParamSpec, ParamValue, Params, expr_kind};
use crate::registry::{Registry, did_you_mean, graph_name};

/// The file a model folder must contain to count as one.
pub const MODEL_WEIGHTS_FILE: &str = "generator.safetensors";

/// A parameter override from the command line: `node.param=value`, the value in RON syntax; an
/// element of a list or record parameter is reached with a path (`edit.edits[2].amount=5`).
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// Node id.
    pub node: String,
    /// Parameter name.
    pub param: String,
    /// Steps into the parameter's value; empty for the whole value.
    pub path: Vec<Step>,
    /// The value, as RON text.
    pub value: String,
}

/// One step into a list or record value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Entry `n` of a list, from 0.
    Index(usize),
    /// Field `name` of a record.
    Field(String),
}

impl Override {
    /// `node.param[2].field`, the target as written.
    pub fn target(&self) -> String {
        let mut text = format!("{}.{}", self.node, self.param);
        for step in &self.path {
            match step {
                Step::Index(n) => text += &format!("[{n}]"),
                Step::Field(name) => text += &format!(".{name}"),
            }
        }
        text
    }
}

impl std::fmt::Display for Override {
    /// `node.param=value`, the form `--set` takes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.target(), self.value)
    }
}

/// True for a bare seed range as a shell passes it (`0..16`, `5..=9`), which RON would not read.
fn bare_range(value: &str) -> bool {
    value.split_once("..").is_some_and(|(a, b)| {
        let b = b.strip_prefix('=').unwrap_or(b);
        !a.is_empty() && !b.is_empty() && (a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit())
    })
}

impl std::str::FromStr for Override {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || format!("`{text}` is not NODE.PARAM=VALUE (e.g. mixed.style=0.8)");
        let (target, value) = text.split_once('=').ok_or_else(usage)?;
        let (node, rest) = target.trim().split_once('.').ok_or_else(usage)?;
        let value = value.trim();
        // `param`, then `[n]` and `.field` steps.
        let param_end = rest.find(['[', '.']).unwrap_or(rest.len());
        let (param, mut steps) = rest.split_at(param_end);
        let mut path = Vec::new();
        while !steps.is_empty() {
            if let Some(after) = steps.strip_prefix('[') {
                let (index, tail) = after.split_once(']').ok_or_else(usage)?;
                let index = index.trim().parse().map_err(|_| {
                    format!("`{text}`: `[{index}]` is not an entry number (from 0)")
                })?;
                path.push(Step::Index(index));
                steps = tail;
            } else if let Some(after) = steps.strip_prefix('.') {
                let end = after.find(['[', '.']).unwrap_or(after.len());
                let (field, tail) = after.split_at(end);
                if field.is_empty() {
                    return Err(usage());
                }
                path.push(Step::Field(field.to_string()));
                steps = tail;
            } else {
                return Err(usage());
            }
        }
        if node.is_empty() || param.is_empty() || value.is_empty() {
            return Err(usage());
        }
        let value = if bare_range(value) {
            format!("\"{value}\"")
        } else {
            value.to_string()
        };
        Ok(Override {
            node: node.to_string(),
            param: param.to_string(),
            path,
            value,
        })
    }
}

/// Reads and validates the graph file at `path`.
pub fn load_graph(
    path: &Path,
    registry: &Registry,
    overrides: &[Override],
) -> Result<Graph, Diagnostics> {
    load_graph_with_model(path, registry, overrides, None)
}

/// Like [`load_graph`], with the model folder given on the command line (`--model DIR`, relative
/// to the working directory) in place of the graph's own.
pub fn load_graph_with_model(
    path: &Path,
    registry: &Registry,
    overrides: &[Override],
    model: Option<&Path>,
) -> Result<Graph, Diagnostics> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            width: 1,
            node: None,
            message: format!("cannot read the graph file: {e}"),
            help: Some("check the path; graph files are usually in graphs/".into()),
            source_line: String::new(),
        }])
    })?;
    parse_graph_with_model(path, &source, registry, overrides, model)
}

/// Validates graph text as if read from `path` (which locates relative paths and names the file in
/// diagnostics).
pub fn parse_graph(
    path: &Path,
    source: &str,
    registry: &Registry,
    overrides: &[Override],
) -> Result<Graph, Diagnostics> {
    parse_graph_with_model(path, source, registry, overrides, None)
}

/// Like [`parse_graph`], with a model folder that replaces the graph's own (see
/// [`load_graph_with_model`]).
pub fn parse_graph_with_model(
    path: &Path,
    source: &str,
    registry: &Registry,
    overrides: &[Override],
    model: Option<&Path>,
) -> Result<Graph, Diagnostics> {
    let mut loader = Loader {
        path,
        source,
        base_dir: path.parent().unwrap_or(Path::new("")).to_path_buf(),
        registry,
        overrides,
        model_override: model,
        used_overrides: HashSet::new(),
        problems: Vec::new(),
    };
    let graph = loader.load();
    loader.check_unused_overrides();
    match graph {
        Some(graph) if loader.problems.is_empty() => Ok(graph),
        _ => {
            let mut problems = loader.problems;
            problems.sort_by_key(|d| (d.file != path, d.line, d.column));
            Err(Diagnostics(problems))
        }
    }
}

struct Loader<'a> {
    path: &'a Path,
    source: &'a str,
    base_dir: PathBuf,
    registry: &'a Registry,
    overrides: &'a [Override],
    model_override: Option<&'a Path>,
    used_overrides: HashSet<usize>,
    problems: Vec<Diagnostic>,
}

/// A node whose references are not resolved yet.
struct PendingNode {
    /// Whether its type and parameters passed; its references are checked either way.
    valid: bool,
    /// Where each written parameter's value is.
    param_spans: Vec<(&'static str, (usize, usize))>,
    id: String,
    id_span: (usize, usize),
    op: &'static dyn Node,
    op_span: (usize, usize),
    params: Params,
    references: Vec<(&'static str, String, (usize, usize))>,
}

fn span(expr: &Expr<'_>) -> (usize, usize) {
    (expr.span().start_offset, expr.span().end_offset)
}

fn ident_span(ident: &ron2::ast::Ident<'_>) -> (usize, usize) {
    (ident.span.start_offset, ident.span.end_offset)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl<'a> Loader<'a> {
    fn error(&mut self, span: (usize, usize), message: impl Into<String>) -> &mut Diagnostic {
        self.problems
            .push(Diagnostic::at(self.path, self.source, span, message));
        self.problems.last_mut().expect("just pushed")
    }

    fn load(&mut self) -> Option<Graph> {
        let doc = match ron2::ast::parse_document(self.source) {
            Ok(doc) => doc,
            Err(e) => {
                let s = e.span();
                let kind = e.kind().to_string();
                let mut span = (s.start_offset, s.end_offset);
                let mut help = "graph files are RON; see docs/graph-format.md".to_string();
                if kind.contains("Expected comma") {
                    // Point where the comma belongs: right after the previous item, not at the
                    // start of the next line.
                    let before = self.source[..span.0.min(self.source.len())].trim_end();
                    span = (before.len(), before.len());
                    help = "add a `,` after this item".into();
                } else if self.source[span.0.min(self.source.len())..].starts_with("..")
                    || self.source[..span.0.min(self.source.len())].ends_with("..")
                {
                    help =
                        "a range of seeds is written as a string: seeds: \"0..16\" (or \"0..=15\")"
                            .into();
                }
                self.error(span, format!("syntax error: {kind}")).help = Some(help);
                return None;
            }
        };
        let Some(root) = doc.value.as_ref() else {
            self.error((0, 0), "the file is empty").help =
                Some("a graph file holds `Graph(version: 1, nodes: { … })`".into());
            return None;
        };
        let fields = match root {
            Expr::Struct(s) if s.name.name == "Graph" => match &s.body {
                Some(StructBody::Fields(body)) => &body.fields,
                _ => {
                    self.error(
                        span(root),
                        "a graph is written `Graph(version: 1, nodes: { … })`",
                    );
                    return None;
                }
            },
            _ => {
                self.error(
                    span(root),
                    format!("expected `Graph( … )`, found {}", expr_kind(root)),
                )
                .help = Some("a graph file holds `Graph(version: 1, nodes: { … })`".into());
                return None;
            }
        };

        let mut version = None;
        let mut model = None;
        let mut nodes_expr = None;
        let mut controls_expr = None;
        for field in fields {
            match field.name.name.as_ref() {
                "version" => version = Some(&field.value),
                "model" => model = Some(&field.value),
                "nodes" => nodes_expr = Some(&field.value),
                "controls" => controls_expr = Some(&field.value),
                other => {
                    let hint = did_you_mean(other, ["version", "model", "nodes", "controls"])
                        .map(|s| format!("did you mean `{s}`? "))
                        .unwrap_or_default();
                    self.error(
                        ident_span(&field.name),
                        format!("unknown graph field `{other}`"),
                    )
                    .help = Some(format!(
                        "{hint}a graph has the fields version, model, nodes and controls"
                    ));
                }
            }
        }
        let root_span = (
            root.span().start_offset,
            root.span().start_offset + "Graph".len(),
        );
        match version {
            None => {
                self.error(root_span, "the graph has no format version")
                    .help = Some(format!(
                    "add `version: {FORMAT_VERSION},` as the first field"
                ));
            }
            Some(v) => match v {
                Expr::Number(n) if n.raw.as_ref() == FORMAT_VERSION.to_string() => {}
                other => {
                    self.error(
                        span(other),
                        format!(
                            "unsupported graph format version {}",
                            source_text(self.source, span(other))
                        ),
                    )
                    .help = Some(format!(
                        "this drape reads version {FORMAT_VERSION}; write `version: {FORMAT_VERSION}`"
                    ));
                    return None;
                }
            },
        }
        let model_named = model.is_some() || self.model_override.is_some();
        let model = match self.model_override {
            Some(dir) => self.model_from_command_line(dir),
            None => model.and_then(|m| self.model_folder(m)),
        };

        let Some(nodes_expr) = nodes_expr else {
            self.error(root_span, "the graph has no nodes").help =
                Some("add `nodes: { \"id\": NodeType(…), … }`".into());
            return None;
        };
        let Expr::Map(map) = nodes_expr else {
            self.error(
                span(nodes_expr),
                format!(
                    "`nodes` must be a map {{ \"id\": NodeType(…), … }}, found {}",
                    expr_kind(nodes_expr)
                ),
            );
            return None;
        };

        let mut pending = Vec::new();
        let mut ids: HashMap<String, (usize, usize)> = HashMap::new();
        let mut complete = true;
        for entry in &map.entries {
            let Expr::String(key) = &entry.key else {
                self.error(span(&entry.key), "node ids are strings, e.g. \"shirt\"");
                complete = false;
                continue;
            };
            let id = key.value.clone();
            let id_span = span(&entry.key);
            if !valid_id(&id) {
                self.error(id_span, format!("`{id}` is not a valid node id"))
                    .help = Some(
                    "use letters, digits, `-` and `_` only (a `.` separates a node from its port)"
                        .into(),
                );
                complete = false;
                continue;
            }
            if let Some(first) = ids.get(&id) {
                let line = Diagnostic::at(self.path, self.source, *first, "").line;
                self.error(id_span, format!("node id \"{id}\" is used twice"))
                    .in_node(&id)
                    .help = Some(format!(
                    "the first \"{id}\" is on line {line}; rename one of them"
                ));
                complete = false;
                continue;
            }
            ids.insert(id.clone(), id_span);
            match self.node(&id, id_span, &entry.value, model.as_deref(), model_named) {
                Some(node) => {
                    complete &= node.valid;
                    pending.push(node);
                }
                None => complete = false,
            }
        }
        for (i, o) in self.overrides.iter().enumerate() {
            if !self.used_overrides.contains(&i) && !ids.contains_key(&o.node) {
                let hint = did_you_mean(&o.node, ids.keys().map(String::as_str))
                    .map(|s| format!("did you mean \"{s}\"? "))
                    .unwrap_or_default();
                self.override_error(
                    i,
                    format!(
                        "--set names node \"{}\", which the graph does not have",
                        o.node
                    ),
                )
                .help = Some(format!("{hint}the nodes are: {}", sorted(ids.keys())));
                self.used_overrides.insert(i);
            }
        }

        let nodes = self.connect(&pending, &ids)?;
        if !complete {
            return None;
        }
        if nodes.iter().all(|n| !n.op.is_output()) {
            let outputs: Vec<_> = self
                .registry
                .nodes()
                .iter()
                .filter(|n| n.is_output())
                .map(|n| graph_name(n.name()))
                .collect();
            self.error(
                root_span,
                "the graph has no output node, so running it would do nothing",
            )
            .help = Some(format!(
                "add an output node such as {}",
                outputs.join(" or ")
            ));
        }
        self.check_cycles(&nodes, &pending);
        let estimates = if self.problems.is_empty() {
            self.check_estimates(&nodes, &pending, model.as_deref())
        } else {
            vec![None; nodes.len()]
        };
        let controls = match controls_expr.map(|e| crate::controls::read(e, &nodes)) {
            Some(Ok(controls)) => controls,
            Some(Err(problems)) => {
                for (at, message) in problems {
                    self.error(at, message).help = Some(
                        "controls name \"node.param\" (or \"node.param.field\" of a list of records) \
                         with () or (min: …, max: …, step: …); see docs/watch.md"
                            .into(),
                    );
                }
                Vec::new()
            }
            None => Vec::new(),
        };
        Some(Graph {
            path: self.path.to_path_buf(),
            source: Arc::from(self.source),
            overrides: self.overrides.to_vec(),
            model,
            nodes,
            controls,
            estimates,
        })
    }

    fn model_folder(&mut self, expr: &Expr<'_>) -> Option<PathBuf> {
        let Expr::String(s) = expr else {
            self.error(
                span(expr),
                format!(
                    "`model` is the path of a model folder, found {}",
                    expr_kind(expr)
                ),
            );
            return None;
        };
        let folder = self.base_dir.join(&s.value);
        if !folder.join(MODEL_WEIGHTS_FILE).is_file() {
            let what = if folder.is_dir() {
                format!(
                    "the model folder \"{}\" has no {MODEL_WEIGHTS_FILE}",
                    s.value
                )
            } else {
                format!("unknown model folder \"{}\"", s.value)
            };
            self.error(span(expr), what).help = Some(format!(
                "model paths are relative to the graph file's folder ({}); the default model is models/clothing; \
                 or give the folder with --model DIR",
                display_dir(&self.base_dir)
            ));
            return None;
        }
        Some(folder)
    }

    /// The folder of `--model DIR`, which must hold the weights.
    fn model_from_command_line(&mut self, dir: &Path) -> Option<PathBuf> {
        if dir.join(MODEL_WEIGHTS_FILE).is_file() {
            return Some(dir.to_path_buf());
        }
        let text = dir.display().to_string();
        let mut d = Diagnostic::at(
            Path::new("--model"),
            &text,
            (0, text.len()),
            format!("--model: \"{text}\" has no {MODEL_WEIGHTS_FILE}"),
        );
        d.file = PathBuf::from("--model");
        d.help = Some("give a model folder, e.g. --model models/clothing".into());
        self.problems.push(d);
        None
    }

    fn node(
        &mut self,
        id: &str,
        id_span: (usize, usize),
        expr: &Expr<'_>,
        model: Option<&Path>,
        model_named: bool,
    ) -> Option<PendingNode> {
        let Expr::Struct(s) = expr else {
            self.error(
                span(expr),
                format!(
                    "expected a node such as `SampleLatent(seeds: [1])`, found {}",
                    expr_kind(expr)
                ),
            )
            .in_node(id);
            return None;
        };
        let op_name = s.name.name.as_ref();
        let op_span = ident_span(&s.name);
        let Some(op) = self.registry.get(op_name) else {
            let hint = self
                .registry
                .suggest(op_name)
                .map(|n| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            self.error(op_span, format!("unknown node type `{op_name}`"))
                .in_node(id)
                .help = Some(format!("{hint}`drape nodes` lists every node type"));
            return None;
        };
        let fields: Vec<_> = match &s.body {
            None => Vec::new(),
            Some(StructBody::Fields(body)) => body.fields.iter().collect(),
            Some(StructBody::Tuple(t)) if t.elements.is_empty() => Vec::new(),
            Some(StructBody::Tuple(_)) => {
                self.error(
                    op_span,
                    format!("`{op_name}` takes named fields, e.g. `{op_name}(name: value)`"),
                )
                .in_node(id);
                return None;
            }
        };

        let mut params = Params::default();
        let mut param_spans: HashMap<&'static str, (usize, usize)> = HashMap::new();
        let mut references = Vec::new();
        let mut ok = true;
        let mut seen = HashSet::new();
        for field in fields {
            let name = field.name.name.as_ref();
            let name_span = ident_span(&field.name);
            if !seen.insert(name.to_string()) {
                self.error(name_span, format!("`{name}` is given twice"))
                    .in_node(id);
                ok = false;
                continue;
            }
            if let Some(port) = op.inputs().iter().find(|p| p.name == name) {
                match &field.value {
                    Expr::String(r) => {
                        references.push((port.name, r.value.clone(), span(&field.value)))
                    }
                    other => {
                        self.error(span(other), format!("input `{name}` takes a node reference like \"node\" or \"node.port\", found {}", expr_kind(other)))
                            .in_node(id);
                        ok = false;
                    }
                }
                continue;
            }
            let Some(spec) = op.params().iter().find(|p| p.name == name) else {
                let known: Vec<&str> = op
                    .inputs()
                    .iter()
                    .map(|p| p.name)
                    .chain(op.params().iter().map(|p| p.name))
                    .collect();
                let hint = parameter_hint(op, name, &known);
                self.error(
                    name_span,
                    format!("unknown parameter `{name}` for {}", graph_name(op.name())),
                )
                .in_node(id)
                .help = Some(format!(
                    "{hint}{} takes: {}",
                    graph_name(op.name()),
                    if known.is_empty() {
                        "nothing".into()
                    } else {
                        known.join(", ")
                    }
                ));
                ok = false;
                continue;
            };
            param_spans.insert(spec.name, span(&field.value));
            if self.override_for(id, spec.name).is_some() {
                continue;
            }
            match param::check_optional(spec, &field.value, &self.base_dir) {
                Ok(Some(v)) => params.insert(spec.name, v),
                Ok(None) => {}
                Err(e) => {
                    self.error(e.span, format!("parameter `{name}`: {}", e.message))
                        .in_node(id);
                    ok = false;
                }
            }
        }
        ok &= self.apply_overrides(id, op, &mut params);
        for spec in op.params() {
            if params.get(spec.name).is_some() || param_spans.contains_key(spec.name) {
                continue;
            }
            match spec.default.value() {
                Some(v) => params.insert(spec.name, v),
                None if matches!(spec.default, ParamDefault::Required) => {
                    self.error(
                        op_span,
                        format!("missing parameter `{}` ({})", spec.name, spec.ty.describe()),
                    )
                    .in_node(id)
                    .help = Some(format!("{}: {}", spec.name, spec.doc));
                    ok = false;
                }
                None => {}
            }
        }
        // Path defaults are relative to the graph file too.
        for spec in op.params() {
            if let (param::ParamType::Path, Some(ParamValue::Text(t))) =
                (spec.ty, params.get(spec.name))
            {
                let resolved = self.base_dir.join(t);
                params.insert(
                    spec.name,
                    ParamValue::Path {
                        written: t.clone(),
                        resolved,
                    },
                );
            }
        }
        for port in op.inputs() {
            if !port.optional && !references.iter().any(|(p, _, _)| *p == port.name) {
                self.error(
                    op_span,
                    format!("input `{}` is not connected ({})", port.name, port.ty),
                )
                .in_node(id)
                .help = Some(format!(
                    "add `{}: \"other-node\"`, the id of a node that outputs {}",
                    port.name, port.ty
                ));
                ok = false;
            }
        }
        if op.uses_model() && model.is_none() {
            // An invalid model folder is reported once, at the `model` field.
            if !model_named {
                self.error(
                    op_span,
                    format!(
                        "{} needs a model, but the graph names none",
                        graph_name(op.name())
                    ),
                )
                .in_node(id)
                .help = Some(
                    "add `model: \"../models/clothing\"` (relative to the graph file) to the graph"
                        .into(),
                );
            }
            ok = false;
        }
        if ok {
            let mut problems = op.check(&params);
            if problems.is_empty()
                && let Some(dir) = model
            {
                problems = op.check_with_model(&params, dir);
            }
            for problem in problems {
                let at = problem
                    .param
                    .and_then(|p| param_spans.get(p).copied())
                    .unwrap_or(op_span);
                self.error(at, problem.message).in_node(id);
                ok = false;
            }
        }
        // A node with bad parameters still has its references checked, so one problem never hides
        // another.
        Some(PendingNode {
            id: id.to_string(),
            id_span,
            op,
            op_span,
            params,
            references,
            param_spans: {
                let mut spans: Vec<_> = param_spans.into_iter().collect();
                spans.sort();
                spans
            },
            valid: ok,
        })
    }

    /// The override that replaces the whole of `node.param`, if any (element overrides change the
    /// file's value instead).
    fn override_for(&self, node: &str, param: &str) -> Option<usize> {
        self.overrides
            .iter()
            .position(|o| o.node == node && o.param == param && o.path.is_empty())
    }

    fn override_error(&mut self, index: usize, message: String) -> &mut Diagnostic {
        let o = &self.overrides[index];
        let text = o.to_string();
        let mut d = Diagnostic::at(Path::new("--set"), &text, (0, text.len()), message);
        d.file = PathBuf::from("--set");
        self.problems.push(d);
        self.problems.last_mut().expect("just pushed")
    }

    /// Applies `--set` overrides to one node; false when one of them is invalid.
    fn apply_overrides(&mut self, id: &str, op: &'static dyn Node, params: &mut Params) -> bool {
        let mut ok = true;
        for (i, o) in self
            .overrides
            .iter()
            .enumerate()
            .filter(|(_, o)| o.node == id)
        {
            self.used_overrides.insert(i);
            if let Some(first) = self.overrides[..i]
                .iter()
                .find(|earlier| earlier.target() == o.target())
            {
                let first = first.value.clone();
                self.override_error(
                    i,
                    format!(
                        "--set gives {} twice (first {first}, then {})",
                        o.target(),
                        o.value
                    ),
                )
                .help = Some("give each parameter once".into());
                ok = false;
                continue;
            }
            let Some(spec) = op.params().iter().find(|p| p.name == o.param) else {
                let names: Vec<&str> = op.params().iter().map(|p| p.name).collect();
                let hint = parameter_hint(op, &o.param, &names);
                self.override_error(
                    i,
                    format!(
                        "--set: {} \"{id}\" has no parameter `{}`",
                        graph_name(op.name()),
                        o.param
                    ),
                )
                .help = Some(format!("{hint}its parameters are: {}", names.join(", ")));
                ok = false;
                continue;
            };
            let check = |spec: &ParamSpec| match ron2::ast::parse_document(&o.value) {
                Ok(doc) => match doc.value.as_ref() {
                    Some(expr) => {
                        param::check_optional(spec, expr, &self.base_dir).map_err(|e| e.message)
                    }
                    None => Err("no value given".to_string()),
                },
                Err(e) => Err(format!("not a RON value: {}", e.kind())),
            };
            let result = match o.path.as_slice() {
                [] => check(spec).map(|value| match value {
                    Some(v) => params.insert(spec.name, v),
                    None => params.remove(spec.name),
                }),
                path => {
                    let mut value = params
                        .get(spec.name)
                        .cloned()
                        .or_else(|| spec.default.value());
                    set_element(spec, value.as_mut(), path, &check).map(|()| {
                        if let Some(value) = value {
                            params.insert(spec.name, value);
                        }
                    })
                }
            };
            if let Err(message) = result {
                self.override_error(i, format!("--set {}: {message}", o.target()))
                    .in_node(id);
                ok = false;
            }
        }
        ok
    }

    fn check_unused_overrides(&mut self) {
        // Overrides for nodes that failed to parse are reported with those nodes' own errors.
        let unused: Vec<usize> = (0..self.overrides.len())
            .filter(|i| !self.used_overrides.contains(i))
            .collect();
        if !self.problems.is_empty() {
            return;
        }
        for i in unused {
            let node = self.overrides[i].node.clone();
            self.override_error(
                i,
                format!("--set names node \"{node}\", which the graph does not have"),
            );
        }
    }

    /// Resolves references into connections, checking ports and edge types.
    /// `declared` holds every id in the file, including nodes that failed validation themselves:
    /// references to those are not reported again.
    fn connect(
        &mut self,
        pending: &[PendingNode],
        declared: &HashMap<String, (usize, usize)>,
    ) -> Option<Vec<GraphNode>> {
        let index: HashMap<&str, usize> = pending
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        let mut nodes = Vec::with_capacity(pending.len());
        for node in pending {
            let mut inputs = Vec::new();
            for (port_name, reference, ref_span) in &node.references {
                let port = node
                    .op
                    .inputs()
                    .iter()
                    .find(|p| p.name == *port_name)
                    .expect("port exists");
                let (target, out_port) = match reference.split_once('.') {
                    Some((n, p)) => (n, Some(p)),
                    None => (reference.as_str(), None),
                };
                let Some(&from) = index.get(target) else {
                    if !declared.contains_key(target) {
                        let hint = did_you_mean(target, index.keys().copied())
                            .map(|s| format!("did you mean \"{s}\"? "))
                            .unwrap_or_default();
                        self.error(*ref_span, format!("input `{port_name}` refers to node \"{target}\", which does not exist"))
                            .in_node(&node.id)
                            .help = Some(format!("{hint}the nodes are: {}", sorted(declared.keys())));
                    }
                    continue;
                };
                let upstream = &pending[from];
                let outputs = upstream.op.outputs();
                let from_port = match out_port {
                    None if outputs.is_empty() => {
                        self.error(
                            *ref_span,
                            format!(
                                "node \"{target}\" ({}) has no outputs to connect",
                                graph_name(upstream.op.name())
                            ),
                        )
                        .in_node(&node.id);
                        continue;
                    }
                    None => 0,
                    Some(p) => match outputs.iter().position(|o| o.name == p) {
                        Some(i) => i,
                        None => {
                            let names: Vec<&str> = outputs.iter().map(|o| o.name).collect();
                            self.error(
                                *ref_span,
                                format!(
                                    "node \"{target}\" ({}) has no output `{p}`",
                                    graph_name(upstream.op.name())
                                ),
                            )
                            .in_node(&node.id)
                            .help = Some(if names.is_empty() {
                                "it has no outputs".into()
                            } else {
                                format!("its outputs are: {}", names.join(", "))
                            });
                            continue;
                        }
                    },
                };
                let given = outputs[from_port].ty;
                if given != port.ty {
                    self.error(*ref_span, format!("type mismatch: input `{port_name}` takes {}, but \"{reference}\" ({}) gives {given}", port.ty, graph_name(upstream.op.name())))
                        .in_node(&node.id)
                        .help = Some(format!("connect a node whose output is {}", port.ty));
                    continue;
                }
                inputs.push(Connection {
                    port: port.name,
                    from,
                    from_port,
                });
            }
            nodes.push(GraphNode {
                id: node.id.clone(),
                op: node.op,
                params: node.params.clone(),
                inputs,
                span: (node.id_span.0, node.op_span.1),
                param_spans: node.param_spans.clone(),
            });
        }
        Some(nodes)
    }

    /// Estimates every node's outputs in running order, runs the checks that need them and refuses the
    /// graph at the first node where the estimated outputs so far exceed the memory budget.
    /// Returns the estimates, by node, for the run (which streams by them).
    fn check_estimates(
        &mut self,
        nodes: &[GraphNode],
        pending: &[PendingNode],
        model: Option<&Path>,
    ) -> Vec<Option<Vec<Extent>>> {
        let mut g = DiGraph::<usize, ()>::new();
        let ix: Vec<_> = (0..nodes.len()).map(|i| g.add_node(i)).collect();
        for (i, node) in nodes.iter().enumerate() {
            for c in &node.inputs {
                g.add_edge(ix[c.from], ix[i], ());
            }
        }
        let Ok(order) = petgraph::algo::toposort(&g, None) else {
            return vec![None; nodes.len()];
        };
        let order: Vec<usize> = order.into_iter().map(|n| g[n]).collect();
        let estimates = crate::stream::estimate_all(nodes, &order, model);
        // What streams holds a chunk of designs at a time, unless a node outside reads it whole.
        let streamed = crate::stream::region(nodes, &order, &estimates)
            .filter(|r| r.designs > crate::stream::STREAM_ABOVE);
        let held = |i: usize, e: &Extent| match &streamed {
            Some(region) if region.members[i] && !region.read_outside(nodes, &order, i) => Extent {
                items: e.items.min(crate::stream::CHUNK as u64),
                ..*e
            },
            _ => *e,
        };
        let budget = crate::budget::budget();
        let mut total: u64 = 0;
        for &i in &order {
            let node = &nodes[i];
            let inputs = crate::stream::input_estimates(node, &estimates);
            for problem in node.op.check_inputs(&node.params, &inputs) {
                let at = problem
                    .param
                    .and_then(|p| node.param_spans.iter().find(|(name, _)| *name == p))
                    .map_or(pending[i].op_span, |(_, span)| *span);
                self.error(at, problem.message).in_node(&node.id);
            }
            let Some(outputs) = &estimates[i] else {
                continue;
            };
            let outputs: Vec<Extent> = outputs.iter().map(|e| held(i, e)).collect();
            let own = outputs
                .iter()
                .fold(0u64, |sum, e| sum.saturating_add(e.bytes()));
            total = total.saturating_add(own);
            if total > budget {
                let what: Vec<String> = outputs.iter().map(Extent::describe).collect();
                let all = if human_bytes(total) != human_bytes(own) {
                    format!(
                        ", {} with what the graph holds before it",
                        human_bytes(total)
                    )
                } else {
                    String::new()
                };
                let first = &pending[i];
                self.error(
                    first.op_span,
                    format!(
                        "this node's output would take {} ({}){all}, over the memory budget of {}",
                        human_bytes(own),
                        what.join(", "),
                        human_bytes(budget)
                    ),
                )
                .in_node(&first.id)
                .help = Some(format!(
                    "make the batch smaller (fewer seeds, rows or pairs; a smaller scale or padding), or \
                     raise the budget with --memory-budget or {} (e.g. 16GiB)",
                    crate::budget::BUDGET_ENV
                ));
                break;
            }
        }
        estimates
    }

    fn check_cycles(&mut self, nodes: &[GraphNode], pending: &[PendingNode]) {
        let mut g = DiGraph::<usize, ()>::new();
        let ix: Vec<_> = (0..nodes.len()).map(|i| g.add_node(i)).collect();
        for (i, node) in nodes.iter().enumerate() {
            for c in &node.inputs {
                g.add_edge(ix[c.from], ix[i], ());
            }
        }
        for scc in tarjan_scc(&g) {
            let self_loop = scc.len() == 1 && g.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            let mut members: Vec<usize> = scc.iter().map(|n| g[*n]).collect();
            members.sort_unstable();
            let path = cycle_path(nodes, &members);
            let first = &pending[members[0]];
            self.error(first.id_span, format!("cycle: {path}"))
                .in_node(&first.id)
                .help = Some("a node cannot depend on its own output; break the loop by connecting one of these inputs elsewhere".into());
        }
    }
}

/// Sets the element `path` leads to inside `value` (a parameter of type `spec`) to what `check` reads
/// for that element's type.
fn set_element(
    spec: &ParamSpec,
    value: Option<&mut ParamValue>,
    path: &[Step],
    check: &dyn Fn(&ParamSpec) -> Result<Option<ParamValue>, String>,
) -> Result<(), String> {
    let Some((step, rest)) = path.split_first() else {
        return match check(spec)? {
            Some(new) => {
                if let Some(value) = value {
                    *value = new;
                }
                Ok(())
            }
            None => Err("an entry cannot be left out; give a value".into()),
        };
    };
    match (step, &spec.ty, value) {
        (Step::Index(n), param::ParamType::List(inner), Some(ParamValue::List(items))) => {
            let len = items.len();
            let item = items
                .get_mut(*n)
                .ok_or_else(|| format!("there is no entry [{n}]: the list has {len} (from [0])"))?;
            let entry = ParamSpec {
                ty: **inner,
                default: ParamDefault::Required,
                ..*spec
            };
            set_element(&entry, Some(item), rest, check)
        }
        (Step::Field(name), param::ParamType::Record(fields), Some(ParamValue::Record(record))) => {
            let field = fields.iter().find(|f| f.name == name).ok_or_else(|| {
                let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
                let hint = did_you_mean(name, names.iter().copied())
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                format!(
                    "the record has no field `{name}`; {hint}its fields are {}",
                    names.join(", ")
                )
            })?;
            match rest {
                [] => {
                    match check(field)? {
                        Some(new) => record.insert(field.name, new),
                        None => record.remove(field.name),
                    }
                    Ok(())
                }
                _ => set_element(field, record.get_mut(field.name), rest, check),
            }
        }
        (Step::Index(_), _, _) => Err(format!("`{}` is not a list", spec.name)),
        (Step::Field(_), _, _) => Err(format!("`{}` is not a record", spec.name)),
    }
}

/// "did you mean `truncation`? " for a parameter name that is a synonym of one `op` takes (`psi`) or a
/// likely typo or abbreviation of one in `known`; empty otherwise.
fn parameter_hint(op: &dyn Node, name: &str, known: &[&str]) -> String {
    op.synonyms()
        .iter()
        .find(|(other, _)| other.eq_ignore_ascii_case(name))
        .map(|(_, ours)| *ours)
        .or_else(|| did_you_mean(name, known.iter().copied()))
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default()
}

/// `a → b → c → a` for the nodes of one strongly connected component, following real edges.
fn cycle_path(nodes: &[GraphNode], members: &[usize]) -> String {
    let start = members[0];
    let mut path = vec![start];
    let mut current = start;
    // Walk downstream inside the component until we return to the start.
    for _ in 0..members.len() {
        let next = members.iter().copied().find(|&m| {
            nodes[m].inputs.iter().any(|c| c.from == current) && (m == start || !path.contains(&m))
        });
        match next {
            Some(m) => {
                path.push(m);
                if m == start {
                    break;
                }
                current = m;
            }
            None => break,
        }
    }
    path.iter()
        .map(|&i| format!("\"{}\"", nodes[i].id))
        .collect::<Vec<_>>()
        .join(" → ")
}

fn source_text(source: &str, span: (usize, usize)) -> &str {
    source.get(span.0..span.1).unwrap_or("?")
}

fn sorted<'k>(keys: impl Iterator<Item = &'k (impl AsRef<str> + 'k + ?Sized)>) -> String {
    let mut v: Vec<&str> = keys.map(AsRef::as_ref).collect();
    v.sort_unstable();
    v.iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn display_dir(dir: &Path) -> String {
    if dir.as_os_str().is_empty() {
        ".".into()
    } else {
        dir.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse() {
        let o: Override = "mixed.style=0.8".parse().unwrap();
        assert_eq!(
            (o.node.as_str(), o.param.as_str(), o.value.as_str()),
            ("mixed", "style", "0.8")
        );
        assert!("mixed=0.8".parse::<Override>().is_err());
        assert!("mixed.style".parse::<Override>().is_err());

        let o: Override = "edit.edits[2].amount=5".parse().unwrap();
        assert_eq!((o.param.as_str(), o.value.as_str()), ("edits", "5"));
        assert_eq!(o.path, [Step::Index(2), Step::Field("amount".into())]);
        assert_eq!(o.to_string(), "edit.edits[2].amount=5");
        for bad in [
            "edit.edits[x].amount=5",
            "edit.edits[2.amount=5",
            "edit.edits..a=1",
        ] {
            assert!(bad.parse::<Override>().is_err(), "{bad}");
        }
        // A bare range, as a shell passes it, is read as the quoted one.
        let o: Override = "designs.seeds=0..16".parse().unwrap();
        assert_eq!(o.value, "\"0..16\"");
        let o: Override = "designs.seeds=5..=9".parse().unwrap();
        assert_eq!(o.value, "\"5..=9\"");
    }
}
