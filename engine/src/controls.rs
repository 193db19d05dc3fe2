//! The graph's optional `controls` annotation: which parameters the studio page shows, in which
//! order, and the slider range of numbers —
//! `controls: { "mix.structure": (min: 0, max: 1, step: 0.05), "seed-1.seeds": () }`. A key names
//! `node.param`, or `node.param.field` for a field of every record of a list parameter; several keys
//! joined by commas (`"w1.truncation, w2.truncation"`) make one control that sets them all.

use ron2::ast::Expr;

use crate::graph::GraphNode;
use crate::param::ParamType;

/// One annotated control.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlHint {
    /// The node id.
    pub node: String,
    /// The parameter.
    pub param: String,
    /// The field of each record of a list-of-records parameter, when the key names one.
    pub field: Option<String>,
    /// The slider's `(min, max, step)` for a number, when given.
    pub range: Option<(f64, f64, f64)>,
    /// Further `node.param` targets the control sets to the same value.
    pub linked: Vec<String>,
}

/// A problem in the annotation: the byte span and the message.
pub type Problem = ((usize, usize), String);

fn span(expr: &Expr<'_>) -> (usize, usize) {
    (expr.span().start_offset, expr.span().end_offset)
}

/// Reads the `controls` map against the graph's nodes.
pub fn read(expr: &Expr<'_>, nodes: &[GraphNode]) -> Result<Vec<ControlHint>, Vec<Problem>> {
    let Expr::Map(map) = expr else {
        return Err(vec![(
            span(expr),
            "`controls` is a map: { \"node.param\": (min: 0, max: 1, step: 0.05), … }".into(),
        )]);
    };
    let mut hints = Vec::new();
    let mut problems = Vec::new();
    for entry in &map.entries {
        match hint(&entry.key, &entry.value, nodes) {
            Ok(hint) => hints.push(hint),
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(hints)
    } else {
        Err(problems)
    }
}

fn hint(key: &Expr<'_>, value: &Expr<'_>, nodes: &[GraphNode]) -> Result<ControlHint, Problem> {
    let Expr::String(target) = key else {
        return Err((
            span(key),
            "a control is named by a string: \"node.param\"".into(),
        ));
    };
    let mut targets = target.value.split(',').map(str::trim);
    let first = targets.next().unwrap_or_default();
    let mut hint = one(first, key, value, nodes)?;
    for other in targets {
        let linked = one(other, key, value, nodes)?;
        if linked.field.is_some() || hint.field.is_some() {
            return Err((span(key), "linked controls name whole parameters".into()));
        }
        hint.linked
            .push(format!("{}.{}", linked.node, linked.param));
    }
    Ok(hint)
}

fn one(
    target: &str,
    key: &Expr<'_>,
    value: &Expr<'_>,
    nodes: &[GraphNode],
) -> Result<ControlHint, Problem> {
    let at = span(key);
    let mut parts = target.splitn(3, '.');
    let (node, param, field) = (parts.next(), parts.next(), parts.next());
    let (Some(node), Some(param)) = (node, param) else {
        return Err((at, format!("\"{target}\" is not \"node.param\"")));
    };
    let found = nodes
        .iter()
        .find(|n| n.id == node)
        .ok_or_else(|| (at, format!("the graph has no node \"{node}\"")))?;
    let spec = found
        .op
        .params()
        .iter()
        .find(|p| p.name == param)
        .ok_or_else(|| (at, format!("node \"{node}\" has no parameter `{param}`")))?;
    let ty = match (field, &spec.ty) {
        (None, ty) => ty,
        (Some(field), ParamType::List(ParamType::Record(fields))) => {
            &fields
                .iter()
                .find(|f| f.name == field)
                .ok_or_else(|| (at, format!("`{param}`'s records have no field `{field}`")))?
                .ty
        }
        (Some(_), _) => {
            return Err((at, format!("`{param}` is not a list of records")));
        }
    };
    let range = range(value, ty)?;
    Ok(ControlHint {
        node: node.to_string(),
        param: param.to_string(),
        field: field.map(str::to_string),
        range,
        linked: Vec::new(),
    })
}

/// `()` or `(min: a, max: b, step: s)` for a number within its allowed range.
fn range(value: &Expr<'_>, ty: &ParamType) -> Result<Option<(f64, f64, f64)>, Problem> {
    let at = span(value);
    let fields = match value {
        Expr::Unit(_) => return Ok(None),
        Expr::AnonStruct(s) => &s.fields,
        _ => {
            return Err((
                at,
                "a control is `()` or `(min: …, max: …, step: …)`".into(),
            ));
        }
    };
    let number = |name: &str| -> Result<Option<f64>, Problem> {
        match fields.iter().find(|f| f.name.name == name) {
            None => Ok(None),
            Some(f) => match &f.value {
                Expr::Number(n) => n
                    .raw
                    .replace('_', "")
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| (span(&f.value), format!("`{name}` is not a number"))),
                other => Err((span(other), format!("`{name}` is not a number"))),
            },
        }
    };
    if let Some(f) = fields
        .iter()
        .find(|f| !["min", "max", "step"].contains(&f.name.name.as_ref()))
    {
        return Err((
            span(&f.value),
            format!("unknown control setting `{}`", f.name.name),
        ));
    }
    let (min, max, step) = (number("min")?, number("max")?, number("step")?);
    if fields.is_empty() {
        return Ok(None);
    }
    let (lo, hi) = match ty {
        ParamType::Float { min, max } => (*min, *max),
        ParamType::Int { min, max } => (*min as f64, *max as f64),
        _ => return Err((at, "only numbers take a range".into())),
    };
    let (min, max) = (min.unwrap_or(lo), max.unwrap_or(hi));
    let step = step.unwrap_or((max - min) / 100.0);
    if !(lo <= min && min < max && max <= hi && step > 0.0) {
        return Err((
            at,
            format!("the range must lie in {lo}…{hi} with min < max and a step above 0"),
        ));
    }
    Ok(Some((min, max, step)))
}
