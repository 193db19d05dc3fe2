//! Node parameters: their declared types, defaults and docs, the values read from a graph file, and
//! the type checking that turns a RON expression into a value (or says exactly what was expected).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::PathBuf;

use ron2::ast::{Expr, NumberKind, StructBody};

use crate::node::NodeError;

/// Largest number of seeds one parameter may expand to; more is almost certainly a typo.
pub const MAX_SEEDS: usize = 100_000;

/// The declared type of a parameter.
#[derive(Clone, Copy, Debug)]
pub enum ParamType {
    /// A number in `[min, max]`.
    Float {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// An integer in `[min, max]`.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// `true` or `false`.
    Bool,
    /// Free text.
    Text,
    /// A file or folder path, relative to the graph file.
    Path,
    /// One of a fixed set of words, written bare (`none`) or quoted (`"none"`).
    Choice(&'static [&'static str]),
    /// Seeds: an integer, a range string (`"0..100"`, `"5..=9"`), or a list of those.
    Seeds,
    /// A list of values of one type.
    List(&'static ParamType),
    /// A record of named fields, written `(field: value, …)`.
    Record(&'static [ParamSpec]),
}

/// The default of a parameter.
#[derive(Clone, Copy, Debug)]
pub enum ParamDefault {
    /// The graph must give a value.
    Required,
    /// The parameter may be left out (or written `None`), and then has no value.
    Optional,
    /// A number.
    Float(f64),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Text, a path or a choice.
    Text(&'static str),
    /// Seeds.
    Seeds(&'static [u32]),
    /// An empty list.
    EmptyList,
}

/// A declared parameter of a node (or a field of a record parameter).
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    /// Name as written in graph files.
    pub name: &'static str,
    /// Its type.
    pub ty: ParamType,
    /// Its default.
    pub default: ParamDefault,
    /// One or two sentences for the catalogue.
    pub doc: &'static str,
}

/// A checked parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// A number.
    Float(f64),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Text or a choice.
    Text(String),
    /// A path as written, and resolved against the graph's folder.
    Path {
        /// As written in the file.
        written: String,
        /// Joined to the graph file's folder.
        resolved: PathBuf,
    },
    /// Expanded seeds.
    Seeds(Vec<u32>),
    /// A list.
    List(Vec<ParamValue>),
    /// A record.
    Record(Params),
}

/// The checked parameters of one node (or record), by name. Optional parameters left out are absent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params {
    values: BTreeMap<String, ParamValue>,
}

impl ParamType {
    /// What a value of this type looks like, for error messages and the catalogue.
    pub fn describe(&self) -> String {
        match self {
            ParamType::Float { min, max } => format!("a number from {min} to {max}"),
            ParamType::Int { min, max } => format!("an integer from {min} to {max}"),
            ParamType::Bool => "true or false".into(),
            ParamType::Text => "a string".into(),
            ParamType::Path => "a path string, relative to the graph file".into(),
            ParamType::Choice(options) => format!("one of {}", options.join(", ")),
            ParamType::Seeds => {
                "seeds: an integer, a range string like \"0..8\" or \"0..=7\", or a list of them"
                    .into()
            }
            ParamType::List(inner) => format!("a list [ … ] of {}", inner.describe()),
            ParamType::Record(fields) => {
                let names: Vec<_> = fields.iter().map(|f| f.name).collect();
                format!("a record ({}: …)", names.join(": …, "))
            }
        }
    }
}

impl ParamDefault {
    /// The default as a value, or `None` for required and optional parameters.
    pub fn value(&self) -> Option<ParamValue> {
        match *self {
            ParamDefault::Required | ParamDefault::Optional => None,
            ParamDefault::Float(v) => Some(ParamValue::Float(v)),
            ParamDefault::Int(v) => Some(ParamValue::Int(v)),
            ParamDefault::Bool(v) => Some(ParamValue::Bool(v)),
            ParamDefault::Text(v) => Some(ParamValue::Text(v.to_string())),
            ParamDefault::Seeds(v) => Some(ParamValue::Seeds(v.to_vec())),
            ParamDefault::EmptyList => Some(ParamValue::List(Vec::new())),
        }
    }
}

impl fmt::Display for ParamDefault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamDefault::Required => f.write_str("required"),
            ParamDefault::Optional => f.write_str("none"),
            ParamDefault::Float(v) => write!(f, "{v}"),
            ParamDefault::Int(v) => write!(f, "{v}"),
            ParamDefault::Bool(v) => write!(f, "{v}"),
            ParamDefault::Text(v) => write!(f, "{v:?}"),
            ParamDefault::Seeds(v) => write!(f, "{v:?}"),
            ParamDefault::EmptyList => f.write_str("[]"),
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Bool(v) => write!(f, "{v}"),
            ParamValue::Text(v) => f.write_str(v),
            ParamValue::Path { written, .. } => f.write_str(written),
            ParamValue::Seeds(v) => write!(f, "{v:?}"),
            ParamValue::List(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(']')
            }
            ParamValue::Record(params) => {
                f.write_char('(')?;
                for (i, (name, value)) in params.values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}: {value}")?;
                }
                f.write_char(')')
            }
        }
    }
}

fn wrong_type(name: &str, expected: &str) -> NodeError {
    NodeError::new(format!(
        "parameter `{name}` is not {expected} (a node reads it with the wrong type)"
    ))
}

impl Params {
    /// Sets a value.
    pub fn insert(&mut self, name: &str, value: ParamValue) {
        self.values.insert(name.to_string(), value);
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }

    /// The value of `name` to change in place, if present.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut ParamValue> {
        self.values.get_mut(name)
    }

    /// Leaves `name` out (an optional parameter set to `None`).
    pub fn remove(&mut self, name: &str) {
        self.values.remove(name);
    }

    /// All values, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    fn required(&self, name: &str) -> Result<&ParamValue, NodeError> {
        self.get(name)
            .ok_or_else(|| NodeError::new(format!("parameter `{name}` has no value")))
    }

    /// A number parameter (integers are accepted and widened).
    pub fn float(&self, name: &str) -> Result<f64, NodeError> {
        match self.required(name)? {
            ParamValue::Float(v) => Ok(*v),
            ParamValue::Int(v) => Ok(*v as f64),
            _ => Err(wrong_type(name, "a number")),
        }
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Result<i64, NodeError> {
        match self.required(name)? {
            ParamValue::Int(v) => Ok(*v),
            _ => Err(wrong_type(name, "an integer")),
        }
    }

    /// An optional integer parameter.
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, NodeError> {
        self.get(name).map(|_| self.int(name)).transpose()
    }

    /// A boolean parameter.
    pub fn bool(&self, name: &str) -> Result<bool, NodeError> {
        match self.required(name)? {
            ParamValue::Bool(v) => Ok(*v),
            _ => Err(wrong_type(name, "a boolean")),
        }
    }

    /// A text or choice parameter.
    pub fn text(&self, name: &str) -> Result<&str, NodeError> {
        match self.required(name)? {
            ParamValue::Text(v) => Ok(v),
            ParamValue::Path { written, .. } => Ok(written),
            _ => Err(wrong_type(name, "text")),
        }
    }

    /// A path parameter, resolved against the graph file's folder.
    pub fn path(&self, name: &str) -> Result<&std::path::Path, NodeError> {
        match self.required(name)? {
            ParamValue::Path { resolved, .. } => Ok(resolved),
            _ => Err(wrong_type(name, "a path")),
        }
    }

    /// A seeds parameter.
    pub fn seeds(&self, name: &str) -> Result<&[u32], NodeError> {
        match self.required(name)? {
            ParamValue::Seeds(v) => Ok(v),
            _ => Err(wrong_type(name, "seeds")),
        }
    }

    /// A list parameter.
    pub fn list(&self, name: &str) -> Result<&[ParamValue], NodeError> {
        match self.required(name)? {
            ParamValue::List(v) => Ok(v),
            _ => Err(wrong_type(name, "a list")),
        }
    }
}

/// Why an expression does not fit a parameter's type: the message and the byte range it points at.
#[derive(Debug)]
pub struct TypeMismatch {
    /// What is wrong and what was expected.
    pub message: String,
    /// Byte range in the source.
    pub span: (usize, usize),
}

fn span_of(expr: &Expr<'_>) -> (usize, usize) {
    let s = expr.span();
    (s.start_offset, s.end_offset)
}

fn mismatch(expr: &Expr<'_>, message: String) -> TypeMismatch {
    TypeMismatch {
        message,
        span: span_of(expr),
    }
}

/// A short description of what an expression is, for "expected X, found Y" messages.
pub fn expr_kind(expr: &Expr<'_>) -> &'static str {
    match expr {
        Expr::Unit(_) => "()",
        Expr::Bool(_) => "a boolean",
        Expr::Char(_) => "a character",
        Expr::Byte(_) => "a byte",
        Expr::Number(n) if matches!(n.kind, NumberKind::Float | NumberKind::SpecialFloat) => {
            "a decimal number"
        }
        Expr::Number(_) => "an integer",
        Expr::String(_) => "a string",
        Expr::Bytes(_) => "a byte string",
        Expr::Option(_) => "an option",
        Expr::Seq(_) => "a list",
        Expr::Map(_) => "a map",
        Expr::Tuple(_) => "a tuple",
        Expr::AnonStruct(_) => "a record",
        Expr::Struct(s) if s.body.is_none() => "a bare word",
        Expr::Struct(_) => "a named struct",
        Expr::Error(_) => "invalid syntax",
    }
}

fn parse_number(expr: &Expr<'_>) -> Option<f64> {
    match expr {
        Expr::Number(n) => n.raw.replace('_', "").parse::<f64>().ok(),
        _ => None,
    }
}

fn parse_integer(expr: &Expr<'_>) -> Option<i64> {
    match expr {
        Expr::Number(n) if matches!(n.kind, NumberKind::Integer | NumberKind::NegativeInteger) => {
            n.raw.replace('_', "").parse::<i64>().ok()
        }
        _ => None,
    }
}

/// A bare word such as `none` (parsed by RON as a unit struct) or a quoted string.
fn word<'e>(expr: &'e Expr<'_>) -> Option<&'e str> {
    match expr {
        Expr::String(s) => Some(&s.value),
        Expr::Struct(s) if s.body.is_none() => Some(&s.name.name),
        _ => None,
    }
}

/// Parses seed syntax: `12`, `"0..8"`, `"0..=7"`, or a list of those; appends to `out`.
fn parse_seeds(expr: &Expr<'_>, out: &mut Vec<u32>) -> Result<(), TypeMismatch> {
    let expected = ParamType::Seeds.describe();
    match expr {
        Expr::Seq(seq) => {
            for item in &seq.items {
                if matches!(item.expr, Expr::Seq(_)) {
                    return Err(mismatch(
                        &item.expr,
                        format!("nested lists are not seeds; expected {expected}"),
                    ));
                }
                parse_seeds(&item.expr, out)?;
            }
        }
        Expr::Number(_) => {
            let seed = parse_integer(expr)
                .filter(|v| (0..=u32::MAX as i64).contains(v))
                .ok_or_else(|| {
                    mismatch(
                        expr,
                        format!("a seed must be an integer from 0 to {}", u32::MAX),
                    )
                })?;
            out.push(seed as u32);
        }
        Expr::String(s) => {
            let range = parse_seed_range(&s.value).ok_or_else(|| {
                mismatch(
                    expr,
                    format!("`{}` is not a seed range; expected {expected}", s.value),
                )
            })?;
            if range.is_empty() {
                return Err(mismatch(
                    expr,
                    format!("the seed range `{}` is empty", s.value),
                ));
            }
            if out.len() + range.len() > MAX_SEEDS {
                return Err(mismatch(
                    expr,
                    format!("more than {MAX_SEEDS} seeds in one parameter"),
                ));
            }
            out.extend(range.start..range.end);
        }
        other => {
            return Err(mismatch(
                other,
                format!("expected {expected}, found {}", expr_kind(other)),
            ));
        }
    }
    if out.len() > MAX_SEEDS {
        return Err(mismatch(
            expr,
            format!("more than {MAX_SEEDS} seeds in one parameter"),
        ));
    }
    Ok(())
}

fn parse_seed_range(text: &str) -> Option<std::ops::Range<u32>> {
    let text = text.trim();
    if let Ok(single) = text.parse::<u32>() {
        return Some(single..single.checked_add(1)?);
    }
    let (start, end, inclusive) = if let Some((a, b)) = text.split_once("..=") {
        (a, b, true)
    } else {
        let (a, b) = text.split_once("..")?;
        (a, b, false)
    };
    let start: u32 = start.trim().parse().ok()?;
    let end: u32 = end.trim().parse().ok()?;
    let end = if inclusive { end.checked_add(1)? } else { end };
    Some(start..end.max(start))
}

/// Checks `expr` against `ty`. `base_dir` resolves path parameters.
pub fn check_value(
    ty: &ParamType,
    expr: &Expr<'_>,
    base_dir: &std::path::Path,
) -> Result<ParamValue, TypeMismatch> {
    let found = || expr_kind(expr);
    match ty {
        ParamType::Float { min, max } => {
            let v = parse_number(expr).ok_or_else(|| {
                mismatch(
                    expr,
                    format!("expected {}, found {}", ty.describe(), found()),
                )
            })?;
            if !v.is_finite() || v < *min || v > *max {
                return Err(mismatch(
                    expr,
                    format!("{v} is out of range: expected {}", ty.describe()),
                ));
            }
            Ok(ParamValue::Float(v))
        }
        ParamType::Int { min, max } => {
            let v = parse_integer(expr).ok_or_else(|| {
                mismatch(
                    expr,
                    format!("expected {}, found {}", ty.describe(), found()),
                )
            })?;
            if v < *min || v > *max {
                return Err(mismatch(
                    expr,
                    format!("{v} is out of range: expected {}", ty.describe()),
                ));
            }
            Ok(ParamValue::Int(v))
        }
        ParamType::Bool => match expr {
            Expr::Bool(b) => Ok(ParamValue::Bool(b.value)),
            _ => Err(mismatch(
                expr,
                format!("expected true or false, found {}", found()),
            )),
        },
        ParamType::Text => match expr {
            Expr::String(s) => Ok(ParamValue::Text(s.value.clone())),
            _ => Err(mismatch(
                expr,
                format!("expected a string, found {}", found()),
            )),
        },
        ParamType::Path => match expr {
            Expr::String(s) if !s.value.trim().is_empty() => Ok(ParamValue::Path {
                written: s.value.clone(),
                resolved: base_dir.join(&s.value),
            }),
            Expr::String(_) => Err(mismatch(expr, "the path is empty".into())),
            _ => Err(mismatch(
                expr,
                format!("expected {}, found {}", ty.describe(), found()),
            )),
        },
        ParamType::Choice(options) => {
            let w = word(expr).ok_or_else(|| {
                mismatch(
                    expr,
                    format!("expected {}, found {}", ty.describe(), found()),
                )
            })?;
            if options.contains(&w) {
                Ok(ParamValue::Text(w.to_string()))
            } else {
                let hint = crate::registry::did_you_mean(w, options.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                Err(mismatch(
                    expr,
                    format!("`{w}` is not {}{hint}", ty.describe()),
                ))
            }
        }
        ParamType::Seeds => {
            let mut seeds = Vec::new();
            parse_seeds(expr, &mut seeds)?;
            if seeds.is_empty() {
                return Err(mismatch(expr, "no seeds given".into()));
            }
            Ok(ParamValue::Seeds(seeds))
        }
        ParamType::List(inner) => match expr {
            Expr::Seq(seq) => seq
                .items
                .iter()
                .map(|item| check_value(inner, &item.expr, base_dir))
                .collect::<Result<Vec<_>, _>>()
                .map(ParamValue::List),
            _ => Err(mismatch(
                expr,
                format!("expected {}, found {}", ty.describe(), found()),
            )),
        },
        ParamType::Record(fields) => {
            let entries = record_fields(expr).ok_or_else(|| {
                mismatch(
                    expr,
                    format!("expected {}, found {}", ty.describe(), found()),
                )
            })?;
            let mut params = Params::default();
            let mut problems = Vec::new();
            for (name, value) in &entries {
                match fields.iter().find(|f| f.name == name.0) {
                    Some(spec) => match check_optional(spec, value, base_dir) {
                        Ok(Some(v)) => params.insert(spec.name, v),
                        Ok(None) => {}
                        Err(e) => problems.push(e),
                    },
                    None => {
                        let names: Vec<_> = fields.iter().map(|f| f.name).collect();
                        problems.push(TypeMismatch {
                            message: format!(
                                "unknown field `{}`; the fields are {}",
                                name.0,
                                names.join(", ")
                            ),
                            span: name.1,
                        });
                    }
                }
            }
            if let Some(first) = problems.into_iter().next() {
                return Err(first);
            }
            for spec in fields.iter() {
                if params.get(spec.name).is_none() {
                    match spec.default.value() {
                        Some(v) => params.insert(spec.name, v),
                        None if matches!(spec.default, ParamDefault::Required) => {
                            return Err(mismatch(
                                expr,
                                format!("missing field `{}`: {}", spec.name, spec.ty.describe()),
                            ));
                        }
                        None => {}
                    }
                }
            }
            Ok(ParamValue::Record(params))
        }
    }
}

/// Checks a value that may be written `None` or `Some(x)` when the parameter is optional.
pub fn check_optional(
    spec: &ParamSpec,
    expr: &Expr<'_>,
    base_dir: &std::path::Path,
) -> Result<Option<ParamValue>, TypeMismatch> {
    if let Expr::Option(opt) = expr {
        if !matches!(spec.default, ParamDefault::Optional) {
            return Err(mismatch(
                expr,
                format!(
                    "`{}` is not optional; expected {}",
                    spec.name,
                    spec.ty.describe()
                ),
            ));
        }
        return match &opt.value {
            None => Ok(None),
            Some(inner) => check_value(&spec.ty, &inner.expr, base_dir).map(Some),
        };
    }
    check_value(&spec.ty, expr, base_dir).map(Some)
}

/// The `(name, span)` / value pairs of a record written `(a: 1, b: 2)` or `Name(a: 1)`.
type RecordEntries<'a, 'e> = Vec<((&'e str, (usize, usize)), &'e Expr<'a>)>;

/// The fields of a record expression, or `None` when it is not one.
pub fn record_fields<'a, 'e>(expr: &'e Expr<'a>) -> Option<RecordEntries<'a, 'e>> {
    let fields = match expr {
        Expr::AnonStruct(s) => &s.fields,
        Expr::Struct(s) => match &s.body {
            Some(StructBody::Fields(body)) => &body.fields,
            _ => return None,
        },
        Expr::Unit(_) => return Some(Vec::new()),
        _ => return None,
    };
    Some(
        fields
            .iter()
            .map(|f| {
                (
                    (
                        f.name.name.as_ref(),
                        (f.name.span.start_offset, f.name.span.end_offset),
                    ),
                    &f.value,
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ty: ParamType, src: &str) -> Result<ParamValue, String> {
        let doc = ron2::ast::parse_document(src).expect("test source parses");
        let expr = doc.value.expect("a value");
        check_value(&ty, &expr, std::path::Path::new("/g")).map_err(|e| e.message)
    }

    #[test]
    fn seeds_accept_integers_ranges_and_lists() {
        assert_eq!(check(ParamType::Seeds, "7"), Ok(ParamValue::Seeds(vec![7])));
        assert_eq!(
            check(ParamType::Seeds, "\"2..5\""),
            Ok(ParamValue::Seeds(vec![2, 3, 4]))
        );
        assert_eq!(
            check(ParamType::Seeds, "\"2..=4\""),
            Ok(ParamValue::Seeds(vec![2, 3, 4]))
        );
        assert_eq!(
            check(ParamType::Seeds, "[1, \"3..5\", 9]"),
            Ok(ParamValue::Seeds(vec![1, 3, 4, 9]))
        );
        assert!(
            check(ParamType::Seeds, "\"5..2\"")
                .unwrap_err()
                .contains("empty")
        );
        assert!(check(ParamType::Seeds, "-1").is_err());
        assert!(
            check(ParamType::Seeds, "\"0..200000\"")
                .unwrap_err()
                .contains("more than")
        );
    }

    #[test]
    fn numbers_are_range_checked() {
        let ty = ParamType::Float { min: 0.0, max: 1.0 };
        assert_eq!(check(ty, "0.5"), Ok(ParamValue::Float(0.5)));
        assert_eq!(check(ty, "1"), Ok(ParamValue::Float(1.0)));
        assert!(check(ty, "1.5").unwrap_err().contains("out of range"));
        assert!(check(ty, "\"x\"").unwrap_err().contains("found a string"));
        let int = ParamType::Int { min: -2, max: 3 };
        assert_eq!(check(int, "-2"), Ok(ParamValue::Int(-2)));
        assert!(
            check(int, "2.5")
                .unwrap_err()
                .contains("found a decimal number")
        );
    }

    #[test]
    fn choices_take_bare_words_or_strings_and_suggest() {
        let ty = ParamType::Choice(&["const", "random", "none"]);
        assert_eq!(check(ty, "none"), Ok(ParamValue::Text("none".into())));
        assert_eq!(check(ty, "\"const\""), Ok(ParamValue::Text("const".into())));
        assert!(
            check(ty, "nonee")
                .unwrap_err()
                .contains("did you mean `none`")
        );
    }

    #[test]
    fn records_fill_defaults_and_reject_unknown_fields() {
        const FIELDS: &[ParamSpec] = &[
            ParamSpec {
                name: "name",
                ty: ParamType::Text,
                default: ParamDefault::Required,
                doc: "",
            },
            ParamSpec {
                name: "amount",
                ty: ParamType::Float {
                    min: -10.0,
                    max: 10.0,
                },
                default: ParamDefault::Float(1.0),
                doc: "",
            },
        ];
        let ty = ParamType::Record(FIELDS);
        let Ok(ParamValue::Record(p)) = check(ty, "(name: \"dark\")") else {
            panic!("record")
        };
        assert_eq!(p.float("amount").unwrap(), 1.0);
        assert!(
            check(ty, "(name: \"d\", amout: 2)")
                .unwrap_err()
                .contains("unknown field `amout`")
        );
        assert!(
            check(ty, "(amount: 2)")
                .unwrap_err()
                .contains("missing field `name`")
        );
    }
}
