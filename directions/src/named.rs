//! `directions.ron`: the named directions of a model, written by a person after looking at the
//! gallery. Parsed with source spans, so every problem is reported at its file:line:col.
//!
//! ```ron
//! Directions(
//!     version: 1,
//!     directions: [
//!         (name: "dark", component: 3, layers: "0..8", amount: 2.0, unit: sigma,
//!          description: "darker garments, lighter background"),
//!     ],
//! )
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use drape_engine::param::{check_value, expr_kind, record_fields};
use drape_engine::{Diagnostic, Diagnostics, ParamDefault, ParamSpec, ParamType, ParamValue};
use ron2::ast::{Expr, StructBody};

use crate::error::DirectionsError;
use crate::layers::{LayerRange, parse_layers};

/// The file name of the named directions inside a model folder.
pub const NAMED_FILE: &str = "directions.ron";

/// The only format version of `directions.ron` this build reads.
pub const VERSION: u32 = 1;

/// How an amount is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Standard deviations of w along the direction (GANSpace's σ).
    Sigma,
    /// Raw W units (ClothingGAN's sliders).
    Raw,
}

impl Unit {
    /// `sigma` or `raw`, as written in files.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Sigma => "sigma",
            Unit::Raw => "raw",
        }
    }

    /// `σ` or nothing, for labels such as `+2σ`.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Sigma => "σ",
            Unit::Raw => "",
        }
    }

    /// The unit named `text` (`sigma` or `raw`).
    pub fn parse(text: &str) -> Option<Unit> {
        match text {
            "sigma" => Some(Unit::Sigma),
            "raw" => Some(Unit::Raw),
            _ => None,
        }
    }
}

/// What a named direction points along.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A component of the model's `components.safetensors`, by index.
    Component(usize),
    /// An explicit vector in W (any length; edits use it as given).
    Vector(Vec<f32>),
}

/// One named direction.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedDirection {
    /// Its name, used by graphs.
    pub name: String,
    /// What it points along.
    pub source: Source,
    /// The ws it changes by default; all of them when `None`.
    pub layers: Option<LayerRange>,
    /// The amount an edit uses when it gives none.
    pub amount: f64,
    /// The unit of amounts.
    pub unit: Unit,
    /// What it does to a design.
    pub description: Option<String>,
    spans: Spans,
}

/// Byte ranges of the parts of one entry, for errors found later against the model.
#[derive(Clone, Debug, Default, PartialEq)]
struct Spans {
    entry: (usize, usize),
    source: (usize, usize),
    layers: (usize, usize),
}

/// The named directions of one model.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedDirections {
    path: PathBuf,
    text: String,
    /// The directions, in file order.
    pub directions: Vec<NamedDirection>,
}

const FIELDS: &[ParamSpec] = &[
    ParamSpec {
        name: "name",
        ty: ParamType::Text,
        default: ParamDefault::Required,
        doc: "the name graphs use",
    },
    ParamSpec {
        name: "component",
        ty: ParamType::Int {
            min: 0,
            max: 65_535,
        },
        default: ParamDefault::Optional,
        doc: "a component index",
    },
    ParamSpec {
        name: "vector",
        ty: ParamType::List(&ParamType::Float {
            min: -1e6,
            max: 1e6,
        }),
        default: ParamDefault::Optional,
        doc: "an explicit vector in W",
    },
    ParamSpec {
        name: "layers",
        ty: ParamType::Text,
        default: ParamDefault::Optional,
        doc: "the ws changed",
    },
    ParamSpec {
        name: "amount",
        ty: ParamType::Float {
            min: -1000.0,
            max: 1000.0,
        },
        default: ParamDefault::Float(1.0),
        doc: "the default amount",
    },
    ParamSpec {
        name: "unit",
        ty: ParamType::Choice(&["sigma", "raw"]),
        default: ParamDefault::Text("sigma"),
        doc: "the unit of amounts",
    },
    ParamSpec {
        name: "description",
        ty: ParamType::Text,
        default: ParamDefault::Optional,
        doc: "what it does",
    },
];

fn span_of(expr: &Expr<'_>) -> (usize, usize) {
    (expr.span().start_offset, expr.span().end_offset)
}

struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
    problems: Vec<Diagnostic>,
}

impl Parser<'_> {
    fn error(&mut self, span: (usize, usize), message: impl Into<String>, help: Option<String>) {
        let mut d = Diagnostic::at(self.path, self.text, span, message);
        d.help = help;
        self.problems.push(d);
    }

    fn root<'e>(&mut self, root: &'e Expr<'_>) -> Option<&'e Expr<'e>> {
        let shape = "a directions file holds `Directions(version: 1, directions: [ … ])`";
        let fields = match root {
            Expr::Struct(s) if s.name.name == "Directions" => match &s.body {
                Some(StructBody::Fields(body)) => &body.fields,
                _ => {
                    self.error(span_of(root), shape, None);
                    return None;
                }
            },
            other => {
                self.error(
                    span_of(other),
                    format!("expected `Directions( … )`, found {}", expr_kind(other)),
                    Some(shape.into()),
                );
                return None;
            }
        };
        let (mut version, mut list) = (None, None);
        for field in fields {
            match field.name.name.as_ref() {
                "version" => version = Some(&field.value),
                "directions" => list = Some(&field.value),
                other => {
                    let s = &field.name.span;
                    self.error(
                        (s.start_offset, s.end_offset),
                        format!("unknown field `{other}`"),
                        Some("a directions file has the fields version and directions".into()),
                    );
                }
            }
        }
        let head = (span_of(root).0, span_of(root).0 + "Directions".len());
        match version {
            Some(Expr::Number(n)) if n.raw.as_ref() == VERSION.to_string() => {}
            Some(other) => {
                self.error(
                    span_of(other),
                    "unsupported directions format version",
                    Some(format!("this drape reads version {VERSION}")),
                );
                return None;
            }
            None => self.error(
                head,
                "the file has no format version",
                Some(format!("add `version: {VERSION},` as the first field")),
            ),
        }
        match list {
            Some(list @ Expr::Seq(_)) => Some(list),
            Some(other) => {
                self.error(
                    span_of(other),
                    format!(
                        "`directions` is a list [ (name: …, component: …), … ], found {}",
                        expr_kind(other)
                    ),
                    None,
                );
                None
            }
            None => {
                self.error(
                    head,
                    "the file has no `directions` list",
                    Some("add `directions: [ (name: \"dark\", component: 0), … ]`".into()),
                );
                None
            }
        }
    }

    fn entry(&mut self, expr: &Expr<'_>) -> Option<NamedDirection> {
        let params = match check_value(&ParamType::Record(FIELDS), expr, Path::new("")) {
            Ok(ParamValue::Record(p)) => p,
            Ok(_) => unreachable!("records check into records"),
            Err(e) => {
                self.error(e.span, e.message, None);
                return None;
            }
        };
        let spans: HashMap<&str, (usize, usize)> = record_fields(expr)
            .unwrap_or_default()
            .into_iter()
            .map(|((name, _), value)| (name, span_of(value)))
            .collect();
        let entry_span = span_of(expr);
        let at = |field: &str| spans.get(field).copied().unwrap_or(entry_span);
        let name = params.text("name").ok()?.to_string();
        let mut ok = true;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        {
            self.error(
                at("name"),
                format!("`{name}` is not a usable direction name"),
                Some("use letters, digits, `-` and `_`, e.g. \"long-sleeves\"".into()),
            );
            ok = false;
        }
        let source = match (params.get("component"), params.get("vector")) {
            (Some(ParamValue::Int(k)), None) => Some(Source::Component(*k as usize)),
            (None, Some(ParamValue::List(values))) => {
                let v: Vec<f32> = values
                    .iter()
                    .filter_map(|x| match x {
                        ParamValue::Float(f) => Some(*f as f32),
                        ParamValue::Int(i) => Some(*i as f32),
                        _ => None,
                    })
                    .collect();
                if v.iter().all(|x| *x == 0.0) {
                    self.error(at("vector"), "the vector is zero", None);
                    None
                } else {
                    Some(Source::Vector(v))
                }
            }
            (Some(_), Some(_)) => {
                self.error(
                    at("vector"),
                    format!("direction \"{name}\" gives both a component and a vector"),
                    Some("keep one of them".into()),
                );
                None
            }
            _ => {
                self.error(
                    entry_span,
                    format!("direction \"{name}\" gives neither a component nor a vector"),
                    Some(
                        "add `component: 0` (see `drape directions gallery`) or `vector: [ … ]`"
                            .into(),
                    ),
                );
                None
            }
        };
        let layers = match params.text("layers") {
            Ok(text) => match parse_layers(text) {
                Ok(range) => Some(range),
                Err(message) => {
                    self.error(at("layers"), message, None);
                    ok = false;
                    None
                }
            },
            Err(_) => None,
        };
        let unit = Unit::parse(params.text("unit").ok()?)?;
        if unit == Unit::Sigma && matches!(source, Some(Source::Vector(_))) {
            self.error(
                at("unit"),
                format!("direction \"{name}\" is an explicit vector, which has no measured σ"),
                Some("write `unit: raw` for vectors".into()),
            );
            ok = false;
        }
        let source = source?;
        ok.then(|| NamedDirection {
            name,
            spans: Spans {
                entry: entry_span,
                source: at(match source {
                    Source::Component(_) => "component",
                    Source::Vector(_) => "vector",
                }),
                layers: at("layers"),
            },
            source,
            layers,
            amount: params.float("amount").unwrap_or(1.0),
            unit,
            description: params.text("description").ok().map(str::to_string),
        })
    }
}

impl NamedDirections {
    /// Parses the text of a directions file read from `path` (which only names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<NamedDirections, Diagnostics> {
        let mut parser = Parser {
            path,
            text,
            problems: Vec::new(),
        };
        let mut directions: Vec<NamedDirection> = Vec::new();
        match ron2::ast::parse_document(text) {
            Err(e) => {
                let s = e.span();
                parser.error(
                    (s.start_offset, s.end_offset),
                    format!("syntax error: {}", e.kind()),
                    Some("directions files are RON; see docs/directions.md".into()),
                );
            }
            Ok(doc) => match doc.value.as_ref() {
                None => parser.error(
                    (0, 0),
                    "the file is empty",
                    Some(
                        "a directions file holds `Directions(version: 1, directions: [ … ])`"
                            .into(),
                    ),
                ),
                Some(root) => {
                    if let Some(Expr::Seq(seq)) = parser.root(root) {
                        for item in &seq.items {
                            let Some(direction) = parser.entry(&item.expr) else {
                                continue;
                            };
                            if let Some(first) =
                                directions.iter().find(|d| d.name == direction.name)
                            {
                                let line = Diagnostic::at(path, text, first.spans.entry, "").line;
                                parser.error(
                                    direction.spans.entry,
                                    format!("direction \"{}\" is named twice", direction.name),
                                    Some(format!(
                                        "the first is on line {line}; rename one of them"
                                    )),
                                );
                                continue;
                            }
                            directions.push(direction);
                        }
                    }
                }
            },
        }
        if parser.problems.is_empty() {
            Ok(NamedDirections {
                path: path.to_path_buf(),
                text: text.to_string(),
                directions,
            })
        } else {
            Err(Diagnostics(parser.problems))
        }
    }

    /// Reads and parses a directions file.
    pub fn load(path: &Path) -> Result<NamedDirections, DirectionsError> {
        let text = std::fs::read_to_string(path).map_err(|source| DirectionsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        NamedDirections::parse(path, &text).map_err(DirectionsError::Named)
    }

    /// The direction called `name`.
    pub fn get(&self, name: &str) -> Option<&NamedDirection> {
        self.directions.iter().find(|d| d.name == name)
    }

    /// Checks every direction against a model with `num_ws` layers and w of `w_dim` entries, and
    /// `components` components (`None` when the model has no components file).
    pub fn check_model(
        &self,
        w_dim: usize,
        num_ws: usize,
        components: Option<usize>,
    ) -> Result<(), Diagnostics> {
        let mut problems = Vec::new();
        let mut error = |span, message: String, help: Option<String>| {
            let mut d = Diagnostic::at(&self.path, &self.text, span, message);
            d.help = help;
            problems.push(d);
        };
        for d in &self.directions {
            match (&d.source, components) {
                (Source::Component(_), None) => error(
                    d.spans.source,
                    format!(
                        "direction \"{}\" names a component, but the model has no components file",
                        d.name
                    ),
                    Some(
                        "run `drape directions discover` (or `import`) for this model first".into(),
                    ),
                ),
                (Source::Component(k), Some(n)) if *k >= n => error(
                    d.spans.source,
                    format!("component {k} does not exist: the model has components 0..{n}"),
                    None,
                ),
                (Source::Vector(v), _) if v.len() != w_dim => error(
                    d.spans.source,
                    format!(
                        "the vector has {} entries, but the model's w has {w_dim}",
                        v.len()
                    ),
                    None,
                ),
                _ => {}
            }
            if let Some(message) = d.layers.and_then(|l| l.problem(num_ws)) {
                error(d.spans.layers, message, None);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Diagnostics(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NamedDirections, String> {
        NamedDirections::parse(Path::new("m/directions.ron"), text).map_err(|d| d.to_string())
    }

    #[test]
    fn reads_components_vectors_layers_and_defaults() {
        let named = parse(
            "Directions(version: 1, directions: [\n\
             (name: \"dark\", component: 3, layers: \"0..=3\", amount: -2, description: \"darker\"),\n\
             (name: \"tilt\", vector: [1, 0.5], unit: raw),\n])",
        )
        .unwrap();
        let dark = named.get("dark").unwrap();
        assert_eq!(dark.source, Source::Component(3));
        assert_eq!(dark.layers, Some(LayerRange { start: 0, end: 4 }));
        assert_eq!((dark.amount, dark.unit), (-2.0, Unit::Sigma));
        let tilt = named.get("tilt").unwrap();
        assert_eq!(tilt.source, Source::Vector(vec![1.0, 0.5]));
        assert_eq!(
            (tilt.amount, tilt.unit, tilt.layers),
            (1.0, Unit::Raw, None)
        );
    }

    #[test]
    fn errors_name_the_file_line_and_column() {
        let err = parse("Directions(\n  version: 1,\n  directions: [\n    (name: \"a\", component: 1, amout: 2),\n  ],\n)").unwrap_err();
        assert!(err.contains("unknown field `amout`"), "{err}");
        assert!(err.contains("--> m/directions.ron:4:31"), "{err}");

        let err = parse("Directions(version: 1, directions: [\n (name: \"a\", component: 1),\n (name: \"a\", component: 2),\n (name: \"b\"),\n (name: \"c\", component: 0, layers: \"3..1\"),\n])").unwrap_err();
        assert!(
            err.contains("direction \"a\" is named twice\n --> m/directions.ron:3:2"),
            "{err}"
        );
        assert!(err.contains("the first is on line 2"), "{err}");
        assert!(
            err.contains("gives neither a component nor a vector\n --> m/directions.ron:4:2"),
            "{err}"
        );
        assert!(
            err.contains("the layer range \"3..1\" is empty\n --> m/directions.ron:5:36"),
            "{err}"
        );

        let err =
            parse("Directions(version: 1, directions: [(name: \"a\", component: 1)").unwrap_err();
        assert!(
            err.contains("syntax error") && err.contains("m/directions.ron:1:"),
            "{err}"
        );
        let err = parse("Directions(version: 2, directions: [])").unwrap_err();
        assert!(
            err.contains("unsupported directions format version\n --> m/directions.ron:1:21"),
            "{err}"
        );
    }

    #[test]
    fn model_checks_point_at_the_offending_field() {
        let named = parse(
            "Directions(version: 1, directions: [\n (name: \"a\", component: 9),\n (name: \"b\", component: 0, layers: \"4..12\"),\n (name: \"v\", vector: [1, 2, 3], unit: raw),\n])",
        )
        .unwrap();
        let err = named.check_model(2, 8, Some(5)).unwrap_err().to_string();
        assert!(err.contains("component 9 does not exist: the model has components 0..5\n --> m/directions.ron:2:25"), "{err}");
        assert!(
            err.contains("layers 4..12 reach past the model's 8 ws"),
            "{err}"
        );
        assert!(
            err.contains("the vector has 3 entries, but the model's w has 2"),
            "{err}"
        );
        assert!(named.check_model(3, 12, Some(10)).is_ok());
        let none = named.check_model(3, 12, None).unwrap_err().to_string();
        assert!(none.contains("has no components file"), "{none}");
    }
}
