//! `save`: writes each image of a batch as a PNG, named from a path template, atomically (a temporary
//! file renamed into place), with the graph, the design and the recipe that re-creates it embedded as
//! PNG text chunks.

use std::collections::HashMap;

use drape_engine::{Extent, Items};

use std::path::PathBuf;

use drape_engine::{
    Design, Node, NodeContext, NodeError, ParamDefault, ParamProblem, ParamSpec, ParamType, Params,
    PortSpec, Value, ValueType,
};
use rayon::prelude::*;

use crate::design_png::Provenance;

/// See the module docs.
pub struct Save;

/// Placeholders every design has; any other `{name}` is a parameter recorded in the design.
const BUILT_IN: &[&str] = &["seed", "index", "node"];

/// Files written between two chunk boundaries (progress, cancellation).
const WRITE_CHUNK: usize = 64;

impl Node for Save {
    fn name(&self) -> &'static str {
        "save"
    }

    fn doc(&self) -> &'static str {
        "Writes each image of a batch to a PNG file that can re-create itself.\n\
         The path is relative to the graph file and may use {seed}, {index} (position in the batch), \
         {node} (this node's id) and any parameter recorded in the design, such as {truncation} or \
         {noise}; a batch of several images needs placeholders that tell the names apart. Files are \
         written atomically, and each PNG carries the graph, the design and its recipe in text chunks \
         (drape:graph, drape:design, drape:recipe): `drape run design.png` re-creates that one design \
         and `drape recipe design.png` shows how it was made."
    }

    fn inputs(&self) -> &'static [PortSpec] {
        const IN: &[PortSpec] = &[PortSpec::new(
            "images",
            ValueType::Images,
            "The images to write.",
        )];
        IN
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[ParamSpec {
            name: "path",
            ty: ParamType::Path,
            default: ParamDefault::Required,
            doc: "File name template, e.g. \"out/shirt-{seed}.png\" or \"out/{seed}-psi{truncation}.png\".",
        }];
        PARAMS
    }

    fn is_output(&self) -> bool {
        true
    }

    fn check(&self, params: &Params) -> Vec<ParamProblem> {
        let Ok(path) = params.text("path") else {
            return Vec::new();
        };
        let mut problems: Vec<ParamProblem> = template_problems(path)
            .into_iter()
            .map(|message| ParamProblem {
                param: Some("path"),
                message,
            })
            .collect();
        if !path.to_ascii_lowercase().ends_with(".png") {
            problems.push(ParamProblem {
                param: Some("path"),
                message: "the path must end in .png".into(),
            });
        }
        problems.extend(crate::output_path::outside_problem(path));
        problems
    }

    fn items(&self, _params: &Params) -> Items {
        Items::PerDesign
    }

    fn check_inputs(
        &self,
        params: &Params,
        inputs: &HashMap<&'static str, Extent>,
    ) -> Vec<ParamProblem> {
        let (Ok(template), Some(images)) = (params.text("path"), inputs.get("images")) else {
            return Vec::new();
        };
        one_file_for_many(template, images.items)
            .map(|problem| ParamProblem {
                param: Some("path"),
                message: format!("{problem}; {ONE_FILE_HELP}"),
            })
            .into_iter()
            .collect()
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let Value::Images(images) = ctx.required_input("images")? else {
            return Err(NodeError::new("input `images` is not an image batch"));
        };
        let written_template = ctx.params.text("path")?.to_string();
        let template = crate::output_path::resolve(ctx, "path")?
            .to_string_lossy()
            .into_owned();
        if let Some(problem) = one_file_for_many(&written_template, images.len() as u64) {
            return Err(NodeError::new(problem)
                .with_help(ONE_FILE_HELP)
                .at_param("path"));
        }
        let first = ctx.first_design();
        let paths = (0..images.len())
            .map(|i| fill(&template, &images.designs[i], first + i, ctx.node_id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.at_param("path"))?;
        let mut unique = paths.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != paths.len() {
            return Err(NodeError::new(
                "two images of the batch map to the same file (repeated seeds?)",
            )
            .with_help("use {index} in the path")
            .at_param("path"));
        }
        let provenance = Provenance::of(ctx)?;
        ctx.progress(0, paths.len())?;
        for start in (0..paths.len()).step_by(WRITE_CHUNK) {
            let end = paths.len().min(start + WRITE_CHUNK);
            paths[start..end]
                .par_iter()
                .enumerate()
                .try_for_each(|(i, path)| provenance.write(path, images, start + i))?;
            ctx.progress(end, paths.len())?;
        }
        for (i, path) in paths.into_iter().enumerate() {
            ctx.wrote_design(first + i, path);
        }
        Ok(Vec::new())
    }
}

/// What to do about a batch saved to one file name.
const ONE_FILE_HELP: &str =
    "put {index} or {seed} in the path, or lay the batch out with a Grid first";

/// The problem when `count` images would all go to the one file `template` names.
fn one_file_for_many(template: &str, count: u64) -> Option<String> {
    let varies = placeholders(template).any(|name| name != "node");
    (count > 1 && !varies).then(|| format!("{count} images would all be written to \"{template}\""))
}

/// The `{name}` placeholders of a template.
fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

/// What is wrong with a template's placeholders, as far as can be told before running.
fn template_problems(template: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if template.matches('{').count() != template.matches('}').count() {
        problems.push("unbalanced { } in the path; placeholders are written {name}".into());
    }
    for name in placeholders(template) {
        let word = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !word {
            problems.push(format!(
                "{{{name}}} is not a placeholder; use {{seed}}, {{index}}, {{node}} or the name of a parameter recorded in the design, such as {{truncation}}"
            ));
        } else if let Some(meant) = typo_of_built_in(name) {
            // Recorded parameters are known only when the designs exist, but a name one letter away
            // from a built-in one is a typo.
            problems.push(format!(
                "unknown placeholder {{{name}}} (did you mean {{{meant}}}?); the placeholders are {{seed}}, {{index}}, {{node}} and the parameters recorded in the design, such as {{truncation}}"
            ));
        }
    }
    problems
}

/// The built-in placeholder `name` is one edit away from, if it is not one itself.
fn typo_of_built_in(name: &str) -> Option<&'static str> {
    BUILT_IN
        .iter()
        .copied()
        .find(|b| *b != name && strsim::damerau_levenshtein(b, name) == 1)
}

fn fill(template: &str, design: &Design, index: usize, node: &str) -> Result<PathBuf, NodeError> {
    let mut path = template.to_string();
    for name in placeholders(template) {
        let value = match name {
            "index" => index.to_string(),
            "node" => node.to_string(),
            "seed" => design.seed.map(|s| s.to_string()).ok_or_else(|| {
                NodeError::new(format!(
                    "design {index} ({}) has no seed to put in the file name",
                    design.label
                ))
                .with_help("use {index} instead of {seed}")
            })?,
            _ => file_name_safe(
                recorded(design, name).ok_or_else(|| unknown_placeholder(design, index, name))?,
            ),
        };
        path = path.replace(&format!("{{{name}}}"), &value);
    }
    Ok(PathBuf::from(path))
}

/// A recorded value as part of a file name: no separators, and never a `.` or `..` component.
fn file_name_safe(value: &str) -> String {
    let value = value.replace(['/', '\\'], "_");
    if value.chars().all(|c| c == '.') {
        value.replace('.', "_")
    } else {
        value
    }
}

/// The last value recorded for parameter `name` in the design.
fn recorded<'d>(design: &'d Design, name: &str) -> Option<&'d str> {
    design
        .params
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn unknown_placeholder(design: &Design, index: usize, name: &str) -> NodeError {
    let mut names: Vec<&str> = BUILT_IN.to_vec();
    names.extend(design.params.iter().map(|(n, _)| n.as_str()));
    names.dedup();
    let names: Vec<String> = names.iter().map(|n| format!("{{{n}}}")).collect();
    NodeError::new(format!(
        "design {index} ({}) has no parameter `{name}` for {{{name}}} in the file name",
        design.label
    ))
    .with_help(format!(
        "its placeholders are {} (a parameter is recorded only when a node sets it, e.g. Map's truncation when it is not 1)",
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_seed_index_node_and_recorded_parameters() {
        let d = Design::from_seed(12).with_param("truncation", 0.7);
        assert_eq!(
            fill(
                "out/{node}-{seed}-{index}-psi{truncation}.png",
                &d,
                3,
                "save"
            )
            .unwrap(),
            PathBuf::from("out/save-12-3-psi0.7.png")
        );
        assert!(fill("{seed}.png", &Design::labelled("grid"), 0, "s").is_err());
        let unknown = fill("{structure}.png", &d, 0, "s").unwrap_err();
        assert!(
            unknown.message.contains("no parameter `structure`"),
            "{unknown}"
        );
        assert!(
            unknown.help.unwrap().contains("{truncation}"),
            "lists what there is"
        );
        let sneaky = Design::labelled("x").with_param("style", "a/b");
        assert_eq!(
            fill("out/{style}.png", &sneaky, 0, "s").unwrap(),
            PathBuf::from("out/a_b.png")
        );
        // A recorded value can be neither a separator nor a `..` component.
        let dots = Design::labelled("x").with_param("style", "..");
        assert_eq!(
            fill("out/{style}/x.png", &dots, 0, "s").unwrap(),
            PathBuf::from("out/__/x.png")
        );
    }

    #[test]
    fn relative_outputs_stay_inside_the_graph_folder() {
        for escaping in [
            "../../escaped-{seed}.png",
            "out/{seed}/../../../../x.png",
            "../x.png",
        ] {
            assert!(crate::output_path::climbs_out(escaping), "{escaping}");
        }
        for inside in [
            "out/x.png",
            "out/../x.png",
            "./a/./b/../c.png",
            "/tmp/explicit.png",
        ] {
            assert!(!crate::output_path::climbs_out(inside), "{inside}");
        }
    }

    #[test]
    fn malformed_placeholders_are_caught_before_running() {
        assert!(template_problems("out/{seed}-{truncation}.png").is_empty());
        assert_eq!(template_problems("out/{seed.png").len(), 1);
        assert_eq!(template_problems("out/{two words}.png").len(), 1);
        assert_eq!(template_problems("out/{}.png").len(), 1);
        assert!(template_problems("out/{sed}.png")[0].contains("did you mean {seed}?"));
        assert!(template_problems("out/{noise}-{structure}.png").is_empty());
    }
}
