//! `apply-direction`: moves designs along attribute directions in W+ (named directions of the model,
//! or principal components by index), one or many edits at once, or as strips of amounts.

use drape_engine::{Extent, Items};
use std::collections::HashMap;

use std::path::Path;
use std::sync::Arc;

use drape_directions::{
    Convention, DirectionSet, Edit, LayerRange, Resolved, Target, Unit, apply_edits, parse_layers,
};
use drape_engine::{
    Design, Node, NodeContext, NodeError, ParamDefault, ParamProblem, ParamSpec, ParamType,
    ParamValue, Params, PortSpec, Value, ValueType, WPlus,
};

use crate::model;

/// See the module docs.
pub struct ApplyDirection;

const EDIT_FIELDS: &[ParamSpec] = &[
    ParamSpec {
        name: "direction",
        ty: ParamType::Text,
        default: ParamDefault::Optional,
        doc: "A name from the model's directions.ron.",
    },
    ParamSpec {
        name: "component",
        ty: ParamType::Int {
            min: 0,
            max: 65_535,
        },
        default: ParamDefault::Optional,
        doc: "A principal component of the model's components.safetensors, by index.",
    },
    ParamSpec {
        name: "amount",
        ty: ParamType::Float {
            min: -1000.0,
            max: 1000.0,
        },
        default: ParamDefault::Optional,
        doc: "How far to move: the named direction's default amount, else 1.",
    },
    ParamSpec {
        name: "unit",
        ty: ParamType::Choice(&["sigma", "raw"]),
        default: ParamDefault::Optional,
        doc: "sigma (× the component's stdev) or raw W units; the named direction's, else sigma.",
    },
    ParamSpec {
        name: "layers",
        ty: ParamType::Text,
        default: ParamDefault::Optional,
        doc: "The ws changed, \"start..end\" with end excluded; the named direction's, else all.",
    },
];

/// One edit as written in the graph, before the model's files resolve it.
struct EditSpec {
    target: Target,
    amount: Option<f64>,
    unit: Option<Unit>,
    layers: Option<LayerRange>,
}

/// Reads the `edits` records; the error is a message for the user.
fn edit_specs(params: &Params) -> Result<Vec<EditSpec>, String> {
    let records = params.list("edits").map_err(|e| e.message)?;
    if records.is_empty() {
        return Err("no edits given; add e.g. `edits: [(direction: \"blue\", amount: 2)]`".into());
    }
    records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let ParamValue::Record(r) = record else {
                return Err(format!("edit {i} is not a record"));
            };
            let target = match (r.text("direction"), r.opt_int("component")) {
                (Ok(name), Ok(None)) => Target::Named(name.to_string()),
                (Err(_), Ok(Some(k))) => Target::Component(k as usize),
                (Ok(_), Ok(Some(_))) => {
                    return Err(format!(
                        "edit {i} gives both a direction and a component; keep one"
                    ));
                }
                _ => {
                    return Err(format!(
                        "edit {i} needs `direction: \"name\"` or `component: index`"
                    ));
                }
            };
            let layers = match r.text("layers") {
                Ok(text) => Some(parse_layers(text).map_err(|e| format!("edit {i}: {e}"))?),
                Err(_) => None,
            };
            Ok(EditSpec {
                target,
                amount: r
                    .get("amount")
                    .map(|_| r.float("amount"))
                    .transpose()
                    .map_err(|e| e.message)?,
                unit: r.text("unit").ok().and_then(Unit::parse),
                layers,
            })
        })
        .collect()
}

fn strip_amounts(params: &Params) -> Vec<f64> {
    params
        .list("strip")
        .map(|items| {
            items
                .iter()
                .filter_map(|v| match v {
                    ParamValue::Float(f) => Some(*f),
                    ParamValue::Int(i) => Some(*i as f64),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn node_error(e: drape_directions::DirectionsError) -> NodeError {
    let help = e.help().map(str::to_string);
    let error = NodeError::new(e.to_string()).at_param("edits");
    match help {
        Some(help) => error.with_help(help),
        None => error,
    }
}

/// `design` with one more recorded edit, in its params and its label.
fn record(design: &Design, resolved: &[&Resolved]) -> Design {
    let mut out = design.clone();
    for r in resolved {
        let (name, amount) = &r.record;
        out.label = format!("{}, {name} {amount}", out.label);
        out = out.with_param(name, amount);
    }
    out
}

impl Node for ApplyDirection {
    fn name(&self) -> &'static str {
        "apply-direction"
    }

    fn doc(&self) -> &'static str {
        "Moves designs along attribute directions in W+: named directions of the model, or principal components.\n\
         Each edit names a direction of the model's directions.ron (`direction: \"blue\"`) or a component \
         of its components.safetensors (`component: 3`), an amount in σ (× the component's stdev) or raw \
         W units, and the ws it changes (`layers: \"0..8\"`, end excluded). Edits apply in order; each is \
         recorded in the design (`blue=+2σ`). The default convention adds amount × direction \
         (ClothingGAN, GANSpace's viewer); `centered` first removes the design's own coordinate along \
         the direction, as GANSpace's strips do. With `strip`, each edit is swept on its own: the output \
         holds, for each edit, each input design at each amount of the strip (a grid with `columns` = \
         the number of amounts shows one strip per row). Make directions with `drape directions`. A large \
         batch streams through edits design by design; a `strip` needs the whole batch."
    }

    fn inputs(&self) -> &'static [PortSpec] {
        const IN: &[PortSpec] = &[PortSpec::new(
            "w",
            ValueType::WPlus,
            "Per-layer latents to edit, e.g. from Map.",
        )];
        IN
    }

    fn outputs(&self) -> &'static [PortSpec] {
        const OUT: &[PortSpec] = &[PortSpec::new(
            "w",
            ValueType::WPlus,
            "The edited latents: one design per input design (per edit and amount with `strip`).",
        )];
        OUT
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[
            ParamSpec {
                name: "edits",
                ty: ParamType::List(&ParamType::Record(EDIT_FIELDS)),
                default: ParamDefault::Required,
                doc: "The edits, e.g. `[(direction: \"blue\", amount: 2), (component: 4, amount: -1, layers: \"0..4\")]`.",
            },
            ParamSpec {
                name: "strip",
                ty: ParamType::List(&ParamType::Float {
                    min: -1000.0,
                    max: 1000.0,
                }),
                default: ParamDefault::EmptyList,
                doc: "Amounts to sweep each edit through, e.g. `[-3, -2, -1, 0, 1, 2, 3]`; edits then give no amount.",
            },
            ParamSpec {
                name: "convention",
                ty: ParamType::Choice(&["additive", "centered"]),
                default: ParamDefault::Text("additive"),
                doc: "additive: w += amount·c; centered: the design's coordinate along c is set to the amount.",
            },
        ];
        PARAMS
    }

    fn uses_model(&self) -> bool {
        true
    }

    fn check(&self, params: &Params) -> Vec<ParamProblem> {
        let problem = |message: String| {
            vec![ParamProblem {
                param: Some("edits"),
                message,
            }]
        };
        match edit_specs(params) {
            Err(message) => problem(message),
            Ok(specs) if !strip_amounts(params).is_empty() && specs.iter().any(|s| s.amount.is_some()) => {
                problem("with `strip`, the amounts come from the strip; leave `amount` out of the edits".into())
            }
            Ok(_) => Vec::new(),
        }
    }

    fn check_with_model(&self, params: &Params, model_dir: &Path) -> Vec<ParamProblem> {
        let Ok(specs) = edit_specs(params) else {
            return Vec::new();
        };
        let names: Vec<&str> = specs
            .iter()
            .filter_map(|s| match &s.target {
                Target::Named(name) => Some(name.as_str()),
                Target::Component(_) => None,
            })
            .collect();
        match drape_directions::check_names(model_dir, &names) {
            Ok(()) => Vec::new(),
            Err(e) => vec![ParamProblem {
                param: Some("edits"),
                message: match e.help() {
                    Some(help) => format!("{e}; {help}"),
                    None => e.to_string(),
                },
            }],
        }
    }

    fn model_fingerprint(&self, _params: &Params, model_dir: &Path) -> String {
        drape_directions::fingerprint(model_dir)
    }

    fn items(&self, params: &Params) -> Items {
        // A strip makes several designs of each; without one, design k is edited design k.
        if strip_amounts(params).is_empty() {
            Items::PerDesign
        } else {
            Items::Whole
        }
    }

    fn estimate(
        &self,
        params: &Params,
        inputs: &HashMap<&'static str, Extent>,
        _model_dir: Option<&Path>,
    ) -> Option<Vec<Extent>> {
        let input = inputs.get("w")?;
        let strip = strip_amounts(params).len() as u64;
        let per_design = if strip == 0 {
            1
        } else {
            strip.saturating_mul(edit_specs(params).ok()?.len() as u64)
        };
        Some(vec![Extent {
            items: input.items.saturating_mul(per_design),
            ..*input
        }])
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let Value::WPlus(input) = ctx.required_input("w")? else {
            return Err(NodeError::new("input `w` is not a W+ batch"));
        };
        let model = model::model(ctx)?;
        let config = model.config();
        if (input.num_ws, input.dim) != (config.num_ws, config.w_dim) {
            return Err(NodeError::new(format!(
                "the latents are [{}, {}] per design, but the model takes [{}, {}]",
                input.num_ws, input.dim, config.num_ws, config.w_dim
            )));
        }
        let set = DirectionSet::load(ctx.model_dir()?, config.w_dim, config.num_ws)
            .map_err(node_error)?;
        let specs = edit_specs(ctx.params).map_err(NodeError::new)?;
        let convention = match ctx.params.text("convention")? {
            "centered" => Convention::Centered {
                mean: set
                    .components
                    .as_ref()
                    .map_or_else(|| model.w_avg().to_vec(), |c| c.mean.clone()),
            },
            _ => Convention::Additive,
        };
        let resolve = |spec: &EditSpec, amount: Option<f64>| {
            set.resolve(&spec.target, amount, spec.unit, spec.layers)
                .map_err(node_error)
        };
        let size = input.num_ws * input.dim;
        let edited = |item: usize, edits: &[Edit]| {
            let mut w = input.item(item).to_vec();
            apply_edits(&mut w, input.num_ws, input.dim, edits, &convention);
            w
        };
        let strip = strip_amounts(ctx.params);
        let mut data = Vec::new();
        let mut designs = Vec::new();
        if strip.is_empty() {
            let resolved = specs
                .iter()
                .map(|s| resolve(s, s.amount))
                .collect::<Result<Vec<_>, _>>()?;
            let edits: Vec<Edit> = resolved.iter().map(|r| r.edit.clone()).collect();
            let records: Vec<&Resolved> = resolved.iter().collect();
            for (i, design) in input.designs.iter().enumerate() {
                data.extend(edited(i, &edits));
                designs.push(record(design, &records));
            }
        } else {
            for spec in &specs {
                let resolved = strip
                    .iter()
                    .map(|&a| resolve(spec, Some(a)))
                    .collect::<Result<Vec<_>, _>>()?;
                for (i, design) in input.designs.iter().enumerate() {
                    for r in &resolved {
                        data.extend(edited(i, std::slice::from_ref(&r.edit)));
                        designs.push(record(design, &[r]));
                    }
                }
            }
        }
        debug_assert_eq!(data.len(), designs.len() * size);
        Ok(vec![Value::WPlus(WPlus {
            data: Arc::from(data),
            designs: Arc::from(designs),
            ..input.clone()
        })])
    }
}
