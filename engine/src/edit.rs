//! Editing a graph file's text in place: set one parameter's value — or an entry of a list or a field
//! of a record within it — by replacing only that value's bytes, or insert a parameter the file does
//! not write in the node's own style. Comments, layout and everything else stay byte for byte, so an
//! editor open on the file sees an ordinary, minimal change. The caller validates the result.

use ron2::ast::{Expr, StructBody, StructField};

use crate::load::Step;

/// `source` with `node.param` (and `path` inside it) set to `value` (RON text).
pub fn set_value(
    source: &str,
    node: &str,
    param: &str,
    path: &[Step],
    value: &str,
) -> Result<String, String> {
    let doc = ron2::ast::parse_document(source)
        .map_err(|e| format!("the graph does not parse: {}", e.kind()))?;
    let root = doc.value.as_ref().ok_or("the graph file is empty")?;
    let nodes = fields_of(root)
        .and_then(|fields| fields.iter().find(|f| f.name.name == "nodes"))
        .map(|f| &f.value)
        .ok_or("the graph has no `nodes`")?;
    let Expr::Map(map) = nodes else {
        return Err("`nodes` is not a map".into());
    };
    let entry = map
        .entries
        .iter()
        .find(|e| matches!(&e.key, Expr::String(s) if s.value == node))
        .ok_or_else(|| format!("the graph has no node \"{node}\""))?;
    let fields = fields_of(&entry.value).ok_or_else(|| format!("node \"{node}\" has no fields"))?;
    let Some(field) = fields.iter().find(|f| f.name.name == param) else {
        if !path.is_empty() {
            return Err(format!(
                "node \"{node}\" does not write `{param}`; write it in the file to edit its entries"
            ));
        }
        return Ok(insert_field(source, &entry.value, param, value));
    };
    let mut target = &field.value;
    for (i, step) in path.iter().enumerate() {
        target = match (step, target) {
            (Step::Index(n), Expr::Seq(seq)) => {
                let len = seq.items.len();
                &seq.items
                    .get(*n)
                    .ok_or_else(|| format!("`{param}` has {len} entries, not [{n}]"))?
                    .expr
            }
            (Step::Field(name), container) => {
                let fields = fields_of(container)
                    .ok_or_else(|| format!("an entry of `{param}` is not a record"))?;
                match fields.iter().find(|f| f.name.name == name.as_str()) {
                    Some(found) => &found.value,
                    None if i + 1 == path.len() => {
                        return Ok(insert_field(source, container, name, value));
                    }
                    None => return Err(format!("the record has no `{name}`")),
                }
            }
            (Step::Index(_), _) => return Err(format!("`{param}` is not a list here")),
        };
    }
    let span = target.span();
    Ok(replace(source, span.start_offset, span.end_offset, value))
}

/// The fields of a named or anonymous struct expression.
fn fields_of<'e, 'a>(expr: &'e Expr<'a>) -> Option<&'e [StructField<'a>]> {
    match expr {
        Expr::Struct(s) => match &s.body {
            Some(StructBody::Fields(body)) => Some(&body.fields),
            // `Node()` and `Node`: no fields yet.
            Some(StructBody::Tuple(body)) if body.elements.is_empty() => Some(&[]),
            None => Some(&[]),
            _ => None,
        },
        Expr::AnonStruct(s) => Some(&s.fields),
        _ => None,
    }
}

fn replace(source: &str, start: usize, end: usize, text: &str) -> String {
    format!("{}{text}{}", &source[..start], &source[end..])
}

/// `source` with `name: value` added to the struct `container`: after its last field on the same line
/// when it is written on one line, on a line of its own with the last field's indentation otherwise.
fn insert_field(source: &str, container: &Expr<'_>, name: &str, value: &str) -> String {
    let fields = fields_of(container).unwrap_or_default();
    let whole = container.span();
    let Some(last) = fields.last() else {
        // `Node()`: inside the parentheses; `Node`: with them.
        let text = &source[whole.start_offset..whole.end_offset];
        return match text.rfind(')') {
            Some(close) => {
                let at = whole.start_offset + close;
                replace(source, at, at, &format!("{name}: {value}"))
            }
            None => {
                let at = whole.end_offset;
                replace(source, at, at, &format!("({name}: {value})"))
            }
        };
    };
    let end = last.value.span().end_offset;
    let multi_line = source[whole.start_offset..whole.end_offset].contains('\n');
    if !multi_line {
        return replace(source, end, end, &format!(", {name}: {value}"));
    }
    let line_start = source[..last.name.span.start_offset]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let indent: String = source[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    match last.comma {
        Some(comma) => {
            let at = comma.end_offset;
            replace(source, at, at, &format!("\n{indent}{name}: {value},"))
        }
        None => replace(source, end, end, &format!(",\n{indent}{name}: {value},")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = r#"// A comment that stays.
Graph(
    version: 1,
    nodes: {
        "z": SampleLatent(seeds: "0..16"),   // sixteen
        "w": Map(z: "z", truncation: 0.7),
        "edit": ApplyDirection(
            w: "w",
            edits: [
                (component: 0, amount: 0, unit: "raw"),   // c0
                (component: 1, amount: 0, unit: "raw"),   // c1
            ],
        ),
        "image": Synthesize(),
    },
)
"#;

    /// The single changed region of `after` against `before`: (removed, inserted).
    fn change(before: &str, after: &str) -> (String, String) {
        let start = before
            .bytes()
            .zip(after.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let end = before[start..]
            .bytes()
            .rev()
            .zip(after[start..].bytes().rev())
            .take_while(|(a, b)| a == b)
            .count();
        (
            before[start..before.len() - end].to_string(),
            after[start..after.len() - end].to_string(),
        )
    }

    #[test]
    fn only_the_value_changes() {
        let after = set_value(GRAPH, "w", "truncation", &[], "0.5").unwrap();
        assert_eq!(change(GRAPH, &after), ("7".into(), "5".into()));
        let after = set_value(GRAPH, "z", "seeds", &[], "\"3..5\"").unwrap();
        assert_eq!(change(GRAPH, &after), ("0..16".into(), "3..5".into()));
        assert!(after.contains("// sixteen") && after.starts_with("// A comment"));
    }

    #[test]
    fn entries_of_lists_and_fields_of_records_are_reached() {
        let path = [Step::Index(1), Step::Field("amount".into())];
        let after = set_value(GRAPH, "edit", "edits", &path, "-2.5").unwrap();
        assert_eq!(change(GRAPH, &after), ("0".into(), "-2.5".into()));
        assert!(after.contains("(component: 1, amount: -2.5, unit: \"raw\"),   // c1"));
        let path = [Step::Index(0), Step::Field("layers".into())];
        let after = set_value(GRAPH, "edit", "edits", &path, "\"0..4\"").unwrap();
        assert!(
            after.contains("(component: 0, amount: 0, unit: \"raw\", layers: \"0..4\"),   // c0")
        );
    }

    #[test]
    fn a_missing_parameter_is_written_in_the_nodes_style() {
        let after = set_value(GRAPH, "w", "cutoff", &[], "4").unwrap();
        assert!(
            after.contains(r#""w": Map(z: "z", truncation: 0.7, cutoff: 4),"#),
            "{after}"
        );
        let after = set_value(GRAPH, "edit", "strip", &[], "[-2, 2]").unwrap();
        assert!(
            after.contains("            ],\n            strip: [-2, 2],\n        ),"),
            "{after}"
        );
        let after = set_value(GRAPH, "image", "noise", &[], "\"none\"").unwrap();
        assert!(
            after.contains(r#""image": Synthesize(noise: "none"),"#),
            "{after}"
        );
    }

    #[test]
    fn what_is_not_there_is_a_clear_error() {
        let err = |node: &str, param: &str, path: &[Step]| {
            set_value(GRAPH, node, param, path, "1").unwrap_err()
        };
        assert_eq!(err("nobody", "x", &[]), "the graph has no node \"nobody\"");
        assert_eq!(
            err("edit", "edits", &[Step::Index(5)]),
            "`edits` has 2 entries, not [5]"
        );
        assert_eq!(
            err("w", "truncation", &[Step::Index(0)]),
            "`truncation` is not a list here"
        );
        assert!(err("w", "strip", &[Step::Index(0)]).contains("does not write `strip`"));
        assert!(set_value("Graph(", "w", "x", &[], "1").is_err());
    }
}
