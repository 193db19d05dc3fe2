//! The studio: the preview page's controls. It describes every parameter of the watched graph a
//! person would tune, from the registry's parameter types and the file's values, and applies the
//! page's edits to the graph file through `drape_engine::edit` (only the value's text changes), with an
//! undo history. The watch loop then sees an ordinary save.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use drape_engine::controls::ControlHint;
use drape_engine::{ParamSpec, ParamType, ParamValue, Params, Registry};
use serde_json::{Value, json};

/// Edits the page can undo.
const UNDO_DEPTH: usize = 50;

/// Slider bounds for numbers whose allowed range is far wider than anyone slides (amounts in σ).
const SLIDER_LIMIT: f64 = 10.0;

/// The graph file the page edits, its per-process secret and the edit history.
pub struct Studio {
    graph: PathBuf,
    model: Option<PathBuf>,
    token: String,
    registry: Registry,
    history: Mutex<History>,
    /// `--set` overrides of the watch: the controls they cover are shown but locked.
    overrides: Vec<drape_engine::Override>,
}

#[derive(Default)]
struct History {
    undo: Vec<String>,
    redo: Vec<String>,
}

impl Studio {
    /// The studio of the graph file at `graph` (with `--model` in place of its own, if given).
    pub fn new(graph: &Path, model: Option<PathBuf>) -> Self {
        Studio {
            graph: graph.to_path_buf(),
            model,
            token: secret(),
            registry: drape_nodes::registry(),
            history: Mutex::default(),
            overrides: Vec::new(),
        }
    }

    /// This studio for a watch with `--set` overrides, which win over the file.
    pub fn with_overrides(mut self, overrides: &[drape_engine::Override]) -> Self {
        self.overrides = overrides.to_vec();
        self
    }

    /// The secret every edit request must carry (embedded in the page).
    pub fn token(&self) -> &str {
        &self.token
    }

    fn text(&self) -> Result<String, String> {
        std::fs::read_to_string(&self.graph)
            .map_err(|e| format!("cannot read {}: {e}", self.graph.display()))
    }

    /// Every node's tunable parameters with their current values, as the page draws them; an error
    /// while the file is broken.
    pub fn controls(&self) -> Value {
        let text = match self.text() {
            Ok(text) => text,
            Err(e) => return json!({ "error": e }),
        };
        let graph = match drape_engine::parse_graph_with_model(
            &self.graph,
            &text,
            &self.registry,
            &[],
            self.model.as_deref(),
        ) {
            Ok(graph) => graph,
            Err(problems) => return json!({ "error": problems.to_string() }),
        };
        let directions = graph
            .model
            .as_deref()
            .and_then(|dir| drape_directions::direction_names(dir).ok())
            .unwrap_or_default();
        // Every tunable parameter, or what the graph's `controls` annotation lists, in its order.
        let shown: Vec<(&drape_engine::GraphNode, &ParamSpec, Option<&ControlHint>)> =
            if graph.controls.is_empty() {
                graph
                    .nodes
                    .iter()
                    .flat_map(|node| node.op.params().iter().map(move |spec| (node, spec, None)))
                    .collect()
            } else {
                graph
                    .controls
                    .iter()
                    .filter_map(|hint| {
                        let node = &graph.nodes[graph.index_of(&hint.node)?];
                        let spec = node.op.params().iter().find(|p| p.name == hint.param)?;
                        Some((node, spec, Some(hint)))
                    })
                    .collect()
            };
        let mut nodes: Vec<Value> = Vec::new();
        for (node, spec, hint) in shown {
            let mut target = format!("{}.{}", node.id, spec.name);
            for linked in hint.iter().flat_map(|h| &h.linked) {
                target = format!("{target},{linked}");
            }
            let written = node
                .param_spans
                .iter()
                .find(|(name, _)| *name == spec.name)
                .map(|(_, (start, end))| text[*start..*end].to_string());
            let value = node.params.get(spec.name);
            let Some(mut control) = control(spec, value, written, &target, &directions, hint)
            else {
                continue;
            };
            let set = self
                .overrides
                .iter()
                .find(|o| o.node == node.id && o.param == spec.name);
            if let Some(o) = set {
                // The run takes the override, not the file: moving this control would change nothing.
                control["overridden"] = json!(format!("--set {o}"));
            }
            if let Some(hint) = hint.filter(|h| !h.linked.is_empty()) {
                let others: Vec<&str> = hint
                    .linked
                    .iter()
                    .map(|t| t.split('.').next().unwrap_or(t))
                    .collect();
                control["name"] = json!(format!("{} (also {})", spec.name, others.join(", ")));
            }
            let same_node = nodes.last().is_some_and(|n| n["id"] == node.id.as_str());
            if !same_node {
                let kind = drape_engine::graph_name(node.op.name());
                nodes.push(json!({ "id": node.id, "type": kind, "params": [] }));
            }
            if let Some(Value::Array(params)) = nodes.last_mut().map(|n| &mut n["params"]) {
                params.push(control);
            }
        }
        let history = self.history();
        json!({
            "nodes": nodes,
            "undo": history.undo.len(),
            "redo": history.redo.len(),
        })
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets `target` (`node.param`, `node.param[2].field`, or several joined by commas: a linked
    /// control) to `value` (RON text) in the graph file, as one step of the history; refuses an edit
    /// that would break the graph, and writes nothing then.
    pub fn edit(&self, target: &str, value: &str) -> Result<(), String> {
        let before = self.text()?;
        let mut after = before.clone();
        for one in target.split(',') {
            let o: drape_engine::Override = format!("{}={value}", one.trim()).parse()?;
            after = drape_engine::edit::set_value(&after, &o.node, &o.param, &o.path, &o.value)?;
        }
        if after == before {
            return Ok(());
        }
        self.check(&after)?;
        self.write(&after)?;
        let mut history = self.history();
        history.undo.push(before);
        if history.undo.len() > UNDO_DEPTH {
            history.undo.remove(0);
        }
        history.redo.clear();
        Ok(())
    }

    /// Puts back the file's text before the last edit (`back`), or the one undone last.
    pub fn step(&self, back: bool) -> Result<(), String> {
        let now = self.text()?;
        let mut history = self.history();
        let History { undo, redo } = &mut *history;
        let (from, to) = if back { (undo, redo) } else { (redo, undo) };
        let Some(text) = from.pop() else {
            return Err(format!("nothing to {}", if back { "undo" } else { "redo" }));
        };
        self.write(&text)?;
        to.push(now);
        Ok(())
    }

    /// The folder kept designs go to: `kept/` beside the graph.
    fn kept_folder(&self) -> PathBuf {
        self.graph.parent().unwrap_or(Path::new("")).join("kept")
    }

    /// Copies the design `png` into `kept/` and redraws its contact sheet; says where it went.
    pub fn keep(&self, png: &Path) -> Result<String, String> {
        let kept = drape_nodes::kept::keep(png, &self.kept_folder())?;
        Ok(format!("kept as {}", kept.display()))
    }

    /// Writes the recipe of the design `png` (its graph, with the overrides it was made with written
    /// into it) as a new graph file beside the watched one; says which.
    pub fn open_as_graph(&self, png: &Path) -> Result<String, String> {
        let embedded = drape_nodes::recipe::read(png).map_err(|e| e.to_string())?;
        let mut text = embedded.graph;
        for o in &embedded.recipe.overrides {
            text = drape_engine::edit::set_value(&text, &o.node, &o.param, &o.path, &o.value)?;
        }
        let header = format!(
            "// From the recipe of {} ({}).\n",
            png.file_name().unwrap_or_default().to_string_lossy(),
            drape_engine::printable(&embedded.design)
        );
        let text = header + &text;
        let folder = self.graph.parent().unwrap_or(Path::new(""));
        let stem = png.file_stem().unwrap_or_default().to_string_lossy();
        let target = (1..)
            .map(|n| match n {
                1 => folder.join(format!("{stem}.ron")),
                n => folder.join(format!("{stem}-{n}.ron")),
            })
            .find(|p| !p.exists())
            .expect("some name is free");
        drape_engine::parse_graph_with_model(
            &target,
            &text,
            &self.registry,
            &[],
            self.model.as_deref(),
        )
        .map_err(|problems| {
            format!("the recipe's graph does not load beside this one:\n{problems}")
        })?;
        drape_engine::write_atomically(&target, |out| {
            std::io::Write::write_all(out, text.as_bytes())
        })
        .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        Ok(format!("wrote {}", target.display()))
    }

    fn check(&self, text: &str) -> Result<(), String> {
        drape_engine::parse_graph_with_model(
            &self.graph,
            text,
            &self.registry,
            &[],
            self.model.as_deref(),
        )
        .map(drop)
        .map_err(|problems| problems.to_string())
    }

    fn write(&self, text: &str) -> Result<(), String> {
        drape_engine::write_atomically(&self.graph, |out| {
            std::io::Write::write_all(out, text.as_bytes())
        })
        .map_err(|e| format!("cannot write {}: {e}", self.graph.display()))
    }
}

/// The page's control for parameter `spec` of value `value`, as written in the file (`written`), or
/// `None` for what the page does not edit (paths, inputs).
fn control(
    spec: &ParamSpec,
    value: Option<&ParamValue>,
    written: Option<String>,
    target: &str,
    directions: &[String],
    hint: Option<&ControlHint>,
) -> Option<Value> {
    let base = json!({ "name": spec.name, "target": target, "doc": spec.doc, "written": written.is_some() });
    // The annotation's range, for the parameter itself (a field's range applies inside its records).
    let range = hint.filter(|h| h.field.is_none()).and_then(|h| h.range);
    let kind = match (&spec.ty, value) {
        (ParamType::Float { min, max }, value) => {
            let (lo, hi) = (min.max(-SLIDER_LIMIT), max.min(SLIDER_LIMIT));
            let step = if hi - lo <= 4.0 { 0.01 } else { 0.1 };
            let (lo, hi, step) = range.unwrap_or((lo, hi, step));
            json!({ "kind": "number", "min": lo, "max": hi, "step": step,
                    "value": value.map(ParamValue::to_string) })
        }
        (ParamType::Int { min, max }, value) => {
            let (lo, hi) = range.map_or((*min as f64, *max as f64), |(lo, hi, _)| (lo, hi));
            json!({ "kind": "integer", "min": lo, "max": hi,
                    "value": value.map(ParamValue::to_string) })
        }
        (ParamType::Bool, value) => {
            json!({ "kind": "bool", "value": matches!(value, Some(ParamValue::Bool(true))) })
        }
        (ParamType::Choice(options), value) => json!({ "kind": "choice", "options": options,
            "value": value.map(ParamValue::to_string) }),
        (ParamType::Seeds, _) => json!({ "kind": "seeds", "value": written }),
        (ParamType::Text, value) if spec.name == "direction" && !directions.is_empty() => {
            json!({ "kind": "choice", "options": directions, "quoted": true,
                    "value": value.map(ParamValue::to_string) })
        }
        (ParamType::Text, value) => json!({ "kind": "text",
            "value": value.map(ParamValue::to_string) }),
        (ParamType::List(ParamType::Record(fields)), Some(ParamValue::List(entries))) => {
            let rows: Vec<Value> = entries
                .iter()
                .enumerate()
                .map(|(i, entry)| {
                    let record = match entry {
                        ParamValue::Record(r) => r.clone(),
                        _ => Params::default(),
                    };
                    let only = hint.and_then(|h| h.field.as_deref());
                    // Each row says which edit it is: its direction, component or place.
                    let label = match (record.get("direction"), record.get("component")) {
                        (Some(direction), _) => direction.to_string(),
                        (None, Some(component)) => format!("c{component}"),
                        (None, None) => format!("[{i}]"),
                    };
                    let cells: Vec<Value> = fields
                        .iter()
                        .filter(|field| only.is_none_or(|name| name == field.name))
                        .filter_map(|field| {
                            let target = format!("{target}[{i}].{}", field.name);
                            let value = record.get(field.name);
                            let written = value.map(|v| ron_text(&field.ty, v));
                            let hint = hint.map(|h| ControlHint {
                                field: None,
                                ..h.clone()
                            });
                            let mut cell =
                                control(field, value, written, &target, directions, hint.as_ref())?;
                            cell["name"] = json!(format!("{label} {}", field.name));
                            Some(cell)
                        })
                        .collect();
                    Value::Array(cells)
                })
                .collect();
            json!({ "kind": "records", "rows": rows })
        }
        (ParamType::Path, _) => return None,
        (_, _) => json!({ "kind": "ron", "value": written }),
    };
    let mut merged = base;
    if let (Some(merged), Value::Object(kind)) = (merged.as_object_mut(), kind) {
        merged.extend(kind);
    }
    Some(merged)
}

/// A value as RON text (strings quoted).
fn ron_text(ty: &ParamType, value: &ParamValue) -> String {
    match (ty, value) {
        (_, ParamValue::Text(t)) => format!("{t:?}"),
        _ => value.to_string(),
    }
}

/// 128 random bits as hex, from the system's random source.
fn secret() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if filled.is_err() {
        // No /dev/urandom: the standard library's randomly keyed hasher, twice.
        use std::hash::{BuildHasher, RandomState};
        let a = RandomState::new().hash_one(std::process::id());
        let b = RandomState::new().hash_one(std::time::SystemTime::now());
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&b.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The image of a keep or open request: `{"index": 2}`.
pub fn parse_index(body: &[u8]) -> Result<usize, String> {
    let request: Value = serde_json::from_slice(body).map_err(|e| format!("not a request: {e}"))?;
    request
        .get("index")
        .and_then(Value::as_u64)
        .and_then(|i| usize::try_from(i).ok())
        .ok_or_else(|| "the request has no image `index`".into())
}

/// The JSON of an edit request: `{"target": "w.truncation", "value": "0.5"}`.
pub fn parse_edit(body: &[u8]) -> Result<(String, String), String> {
    let request: Value =
        serde_json::from_slice(body).map_err(|e| format!("not an edit request: {e}"))?;
    let field = |name: &str| {
        request
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("the edit request has no text `{name}`"))
    };
    Ok((field("target")?, field("value")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_change_only_the_value_and_undo_restores_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model");
        std::fs::create_dir_all(&model).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/rect-32px/generator.safetensors"),
            model.join("generator.safetensors"),
        )
        .unwrap();
        let graph = dir.path().join("g.ron");
        let text = "// mine\nGraph(\n    version: 1,\n    model: \"model\",\n    nodes: {\n        \"z\": SampleLatent(seeds: [1, 2]),\n        \"w\": Map(z: \"z\", truncation: 0.7),   // keep\n        \"i\": Synthesize(w: \"w\"),\n        \"s\": Save(images: \"i\", path: \"out/{seed}.png\"),\n    },\n)\n";
        std::fs::write(&graph, text).unwrap();
        let studio = Studio::new(&graph, None);
        assert_eq!(studio.token().len(), 32);

        studio.edit("w.truncation", "0.5").unwrap();
        let edited = std::fs::read_to_string(&graph).unwrap();
        assert_eq!(edited, text.replace("truncation: 0.7", "truncation: 0.5"));
        studio.edit("i.noise", "\"none\"").unwrap();
        assert!(
            std::fs::read_to_string(&graph)
                .unwrap()
                .contains("Synthesize(w: \"w\", noise: \"none\")")
        );

        let refused = studio.edit("w.truncation", "7").unwrap_err();
        assert!(refused.contains("out of range"), "{refused}");
        assert!(studio.edit("w.psi", "1").is_err());

        let controls = studio.controls();
        assert_eq!(controls["undo"], 2);
        let w = &controls["nodes"][1];
        assert_eq!(w["params"][0]["name"], "truncation");
        assert_eq!(w["params"][0]["value"], "0.5");

        studio.step(true).unwrap();
        studio.step(true).unwrap();
        assert_eq!(
            std::fs::read_to_string(&graph).unwrap(),
            text,
            "undo restores the bytes"
        );
        assert!(studio.step(true).is_err());
        studio.step(false).unwrap();
        assert_eq!(std::fs::read_to_string(&graph).unwrap(), edited);

        // A control the watch's --set covers is shown locked, naming the override.
        let set: drape_engine::Override = "w.truncation=0.9".parse().unwrap();
        let locked = Studio::new(&graph, None).with_overrides(&[set]).controls();
        let truncation = &locked["nodes"][1]["params"][0];
        assert_eq!(truncation["overridden"], "--set w.truncation=0.9");
        assert!(locked["nodes"][0]["params"][0].get("overridden").is_none());
    }
}
