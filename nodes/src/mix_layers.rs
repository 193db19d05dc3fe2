//! `mix-layers`: style mixing of two W+ batches, layer by layer: ClothingGAN's structure/style blend,
//! arbitrary per-layer weights, StyleGAN's crossover index, or ADA style_mixing.py's swapped layers.

use drape_engine::{Extent, Items};
use std::collections::HashMap;
use std::path::Path;

use std::sync::Arc;

use drape_engine::{
    Design, Node, NodeContext, NodeError, ParamDefault, ParamProblem, ParamSpec, ParamType,
    ParamValue, Params, PortSpec, Value, ValueType, WPlus,
};

/// See the module docs.
pub struct MixLayers;

/// The mode each mode-specific parameter belongs to.
const MODE_PARAMS: &[(&str, &str)] = &[
    ("structure", "blend"),
    ("style", "blend"),
    ("split", "blend"),
    ("split_fraction", "blend"),
    ("weights", "weights"),
    ("crossover", "crossover"),
    ("layers", "layers"),
];

/// ClothingGAN's default blend weight for both groups.
const DEFAULT_BLEND: f64 = 0.5;

impl Node for MixLayers {
    fn name(&self) -> &'static str {
        "mix-layers"
    }

    fn doc(&self) -> &'static str {
        "Style mixing: each layer's w taken or blended from two W+ batches `a` and `b`.\n\
         Coarse layers (the first ws) set the structure — silhouette, pose, length — and fine layers the \
         style — colour, texture. Modes, each with its own parameters:\n\
         - `blend` (ClothingGAN): w = (1−structure)·a + structure·b on the first `split` ws and \
         (1−style)·a + style·b on the rest; 0 gives `a`, 1 gives `b`, both default to 0.5. `split` is a \
         number of ws or `split_fraction` a share of them; by default round(num_ws·5/16), halves rounded \
         up — ClothingGAN's 5 of 16 ws (4–16 px) scaled to the model (3 of 8 at 32 px).\n\
         - `weights`: one weight of `b` per layer, `weights: [0, 0, 0.5, 1, …]` with num_ws entries.\n\
         - `crossover` (StyleGAN training mixing): ws[0:k] from `a`, ws[k:] from `b`, `crossover: k`.\n\
         - `layers` (stylegan2-ada style_mixing.py `--styles`): the listed ws from `b`, the rest from \
         `a`, e.g. `layers: [0, 1, 2, 3, 4, 5, 6]` for its default `0-6`.\n\
         `pairs: all` mixes every design of `a` with every design of `b`, `a`-major, so a Grid with \
         columns = len(b) shows a structure × style matrix; `one-to-one` pairs them in order (equal \
         lengths, or one side of length 1). Labels read `seed 3 × seed 7`, and each design records the \
         mix parameters. Both inputs must carry the same deferred truncation (Map's `apply`); the mix \
         keeps it, so Synthesize truncates after mixing as ClothingGAN does. A large batch streams \
         through `one-to-one` design by design; `pairs: all` needs the whole batch."
    }

    fn inputs(&self) -> &'static [PortSpec] {
        const IN: &[PortSpec] = &[
            PortSpec::new(
                "a",
                ValueType::WPlus,
                "The first batch (weight 0): the rows of a matrix, e.g. the structure designs.",
            ),
            PortSpec::new(
                "b",
                ValueType::WPlus,
                "The second batch (weight 1): the columns of a matrix, e.g. the style designs.",
            ),
        ];
        IN
    }

    fn outputs(&self) -> &'static [PortSpec] {
        const OUT: &[PortSpec] = &[PortSpec::new(
            "w",
            ValueType::WPlus,
            "The mixed designs: len(a)·len(b) of them for `pairs: all`.",
        )];
        OUT
    }

    fn params(&self) -> &'static [ParamSpec] {
        const WEIGHT: ParamType = ParamType::Float { min: 0.0, max: 1.0 };
        const PARAMS: &[ParamSpec] = &[
            ParamSpec {
                name: "mode",
                ty: ParamType::Choice(&["blend", "weights", "crossover", "layers"]),
                default: ParamDefault::Text("blend"),
                doc: "How layers are mixed; see the node's description.",
            },
            ParamSpec {
                name: "structure",
                ty: WEIGHT,
                default: ParamDefault::Optional,
                doc: "`blend`: weight of `b` on the coarse ws (before `split`); 0.5 when left out.",
            },
            ParamSpec {
                name: "style",
                ty: WEIGHT,
                default: ParamDefault::Optional,
                doc: "`blend`: weight of `b` on the fine ws (from `split` on); 0.5 when left out.",
            },
            ParamSpec {
                name: "split",
                ty: ParamType::Int { min: 0, max: 64 },
                default: ParamDefault::Optional,
                doc: "`blend`: how many ws are structure; round(num_ws·5/16) when left out.",
            },
            ParamSpec {
                name: "split_fraction",
                ty: ParamType::Float { min: 0.0, max: 1.0 },
                default: ParamDefault::Optional,
                doc: "`blend`: the structure share of the ws instead of `split`, rounded to whole ws.",
            },
            ParamSpec {
                name: "weights",
                ty: ParamType::List(&WEIGHT),
                default: ParamDefault::Optional,
                doc: "`weights`: the weight of `b` on each layer, num_ws numbers from 0 to 1.",
            },
            ParamSpec {
                name: "crossover",
                ty: ParamType::Int { min: 0, max: 64 },
                default: ParamDefault::Optional,
                doc: "`crossover`: k; ws[0:k] come from `a` and ws[k:] from `b`.",
            },
            ParamSpec {
                name: "layers",
                ty: ParamType::List(&ParamType::Int { min: 0, max: 63 }),
                default: ParamDefault::Optional,
                doc: "`layers`: the ws (from 0) taken from `b`; the others come from `a`.",
            },
            ParamSpec {
                name: "pairs",
                ty: ParamType::Choice(&["all", "one-to-one"]),
                default: ParamDefault::Text("all"),
                doc: "`all`: every a with every b (a-major); `one-to-one`: in order, or one side broadcast.",
            },
        ];
        PARAMS
    }

    fn check(&self, params: &Params) -> Vec<ParamProblem> {
        let Ok(mode) = params.text("mode") else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        for &(name, owner) in MODE_PARAMS {
            if owner != mode && params.get(name).is_some() {
                problems.push(ParamProblem {
                    param: Some(name),
                    message: format!(
                        "`{name}` belongs to `mode: {owner}`, but this node's mode is `{mode}`"
                    ),
                });
            }
        }
        let needed = match mode {
            "weights" => Some((
                "weights",
                "one weight of `b` per layer, e.g. `weights: [0, 0, 1, 1]`",
            )),
            "crossover" => Some((
                "crossover",
                "the first layer taken from `b`, e.g. `crossover: 4`",
            )),
            "layers" => Some((
                "layers",
                "the layers taken from `b`, e.g. `layers: [0, 1, 2]`",
            )),
            _ => None,
        };
        if let Some((name, what)) = needed.filter(|(name, _)| params.get(name).is_none()) {
            problems.push(ParamProblem {
                param: None,
                message: format!("`mode: {mode}` needs `{name}`: {what}"),
            });
        }
        if mode == "blend"
            && params.get("split").is_some()
            && params.get("split_fraction").is_some()
        {
            problems.push(ParamProblem {
                param: Some("split_fraction"),
                message:
                    "give `split` (a number of ws) or `split_fraction` (a share of them), not both"
                        .into(),
            });
        }
        if let Ok(layers) = params.list("layers") {
            let mut seen = Vec::new();
            for layer in layers {
                if seen.contains(layer) {
                    problems.push(ParamProblem {
                        param: Some("layers"),
                        message: format!("layer {layer} is listed twice"),
                    });
                }
                seen.push(layer.clone());
            }
            if layers.is_empty() {
                problems.push(ParamProblem {
                    param: Some("layers"),
                    message: "no layers listed; name at least one w to take from `b`".into(),
                });
            }
        }
        problems
    }

    fn items(&self, params: &Params) -> Items {
        // One-to-one pairs of equal batches mix design k with design k.
        match params.text("pairs") {
            Ok("all") | Err(_) => Items::Whole,
            Ok(_) => Items::PerDesign,
        }
    }

    fn estimate(
        &self,
        params: &Params,
        inputs: &HashMap<&'static str, Extent>,
        _model_dir: Option<&Path>,
    ) -> Option<Vec<Extent>> {
        let (a, b) = (inputs.get("a")?, inputs.get("b")?);
        let items = if params.text("pairs").ok()? == "all" {
            a.items.saturating_mul(b.items)
        } else {
            a.items.max(b.items)
        };
        Some(vec![Extent { items, ..*a }])
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let (Value::WPlus(a), Value::WPlus(b)) =
            (ctx.required_input("a")?, ctx.required_input("b")?)
        else {
            return Err(NodeError::new("inputs `a` and `b` must be W+ batches"));
        };
        if (a.num_ws, a.dim) != (b.num_ws, b.dim) {
            return Err(NodeError::new(format!(
                "`a` holds [{}, {}] per design but `b` holds [{}, {}]",
                a.num_ws, a.dim, b.num_ws, b.dim
            ))
            .with_help("map both inputs with the graph's model"));
        }
        if a.pending_truncation != b.pending_truncation {
            let describe = |w: &WPlus| match &w.pending_truncation {
                Some(t) => format!("{t}, after edits"),
                None => "none deferred".to_string(),
            };
            return Err(NodeError::new(format!(
                "the inputs carry different deferred truncations (a: {}; b: {})",
                describe(a),
                describe(b)
            ))
            .with_help(
                "give both Map nodes the same `truncation`, `toward`, `cutoff` and `apply`",
            ));
        }
        let mixing = Mixing::from_params(ctx.params)?;
        let weights = mixing.layer_weights(a.num_ws)?;
        let pairs = pairs(a.len(), b.len(), ctx.params.text("pairs")? == "all")?;
        let recorded = mixing.record(a.num_ws);
        let mut data = Vec::with_capacity(pairs.len() * a.num_ws * a.dim);
        let mut designs = Vec::with_capacity(pairs.len());
        for &(i, j) in &pairs {
            data.extend(mix(a.item(i), b.item(j), &weights, a.dim));
            designs.push(mixed_design(&a.designs[i], &b.designs[j], &recorded));
        }
        Ok(vec![Value::WPlus(WPlus {
            data: Arc::from(data),
            designs: Arc::from(designs),
            ..a.clone()
        })])
    }
}

/// Where the structure group ends when the graph gives no split: ClothingGAN's 5 of 16 ws scaled to
/// `num_ws`, halves rounded up.
fn default_split(num_ws: usize) -> usize {
    (num_ws * 5 + 8) / 16
}

/// A mixing mode with its parameters.
#[derive(Clone, Debug, PartialEq)]
enum Mixing {
    Blend {
        structure: f64,
        style: f64,
        split: Split,
    },
    Weights(Vec<f64>),
    Crossover(usize),
    Layers(Vec<usize>),
}

/// Where the structure ws end, as given.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Split {
    Default,
    Count(usize),
    Fraction(f64),
}

impl Mixing {
    fn from_params(params: &Params) -> Result<Mixing, NodeError> {
        let opt_float = |name| params.get(name).map(|_| params.float(name)).transpose();
        let numbers = |name| -> Result<Vec<f64>, NodeError> {
            params
                .list(name)?
                .iter()
                .map(|v| match v {
                    ParamValue::Float(x) => Ok(*x),
                    ParamValue::Int(x) => Ok(*x as f64),
                    _ => Err(NodeError::new(format!("`{name}` holds a non-number"))),
                })
                .collect()
        };
        Ok(match params.text("mode")? {
            "weights" => Mixing::Weights(numbers("weights")?),
            "crossover" => Mixing::Crossover(params.int("crossover")? as usize),
            "layers" => {
                Mixing::Layers(numbers("layers")?.into_iter().map(|l| l as usize).collect())
            }
            _ => Mixing::Blend {
                structure: opt_float("structure")?.unwrap_or(DEFAULT_BLEND),
                style: opt_float("style")?.unwrap_or(DEFAULT_BLEND),
                split: match (params.opt_int("split")?, opt_float("split_fraction")?) {
                    (Some(count), _) => Split::Count(count as usize),
                    (None, Some(fraction)) => Split::Fraction(fraction),
                    (None, None) => Split::Default,
                },
            },
        })
    }

    fn split(split: Split, num_ws: usize) -> usize {
        match split {
            Split::Default => default_split(num_ws),
            Split::Count(count) => count,
            Split::Fraction(fraction) => (num_ws as f64 * fraction).round() as usize,
        }
    }

    /// The weight of `b` on each of the model's `num_ws` layers.
    fn layer_weights(&self, num_ws: usize) -> Result<Vec<f32>, NodeError> {
        let too_far = |what: String| {
            NodeError::new(format!(
                "{what}, but the model has {num_ws} ws (0 to {})",
                num_ws.saturating_sub(1)
            ))
        };
        Ok(match self {
            Mixing::Blend {
                structure,
                style,
                split,
            } => {
                let split = Mixing::split(*split, num_ws);
                if split > num_ws {
                    return Err(too_far(format!("`split` is {split}")));
                }
                let weight = |l| if l < split { *structure } else { *style };
                (0..num_ws).map(|l| weight(l) as f32).collect()
            }
            Mixing::Weights(weights) => {
                if weights.len() != num_ws {
                    return Err(NodeError::new(format!(
                        "`weights` has {} entries, but the model has {num_ws} ws",
                        weights.len()
                    ))
                    .with_help(format!("give one weight per layer: {num_ws} numbers")));
                }
                weights.iter().map(|&w| w as f32).collect()
            }
            Mixing::Crossover(k) => {
                if *k > num_ws {
                    return Err(too_far(format!("`crossover` is {k}")));
                }
                (0..num_ws)
                    .map(|l| if l < *k { 0.0 } else { 1.0 })
                    .collect()
            }
            Mixing::Layers(layers) => {
                if let Some(bad) = layers.iter().find(|&&l| l >= num_ws) {
                    return Err(too_far(format!("`layers` names w {bad}")));
                }
                (0..num_ws)
                    .map(|l| if layers.contains(&l) { 1.0 } else { 0.0 })
                    .collect()
            }
        })
    }

    /// The parameters each mixed design records.
    fn record(&self, num_ws: usize) -> Vec<(&'static str, String)> {
        let list = |items: Vec<String>| format!("[{}]", items.join(", "));
        match self {
            Mixing::Blend {
                structure,
                style,
                split,
            } => vec![
                ("structure", structure.to_string()),
                ("style", style.to_string()),
                ("split", Mixing::split(*split, num_ws).to_string()),
            ],
            Mixing::Weights(w) => vec![("weights", list(w.iter().map(f64::to_string).collect()))],
            Mixing::Crossover(k) => vec![("crossover", k.to_string())],
            Mixing::Layers(l) => vec![("layers", list(l.iter().map(usize::to_string).collect()))],
        }
    }
}

/// Which (a, b) items to mix: every combination a-major, or in order with a length-1 side broadcast.
fn pairs(a: usize, b: usize, all: bool) -> Result<Vec<(usize, usize)>, NodeError> {
    if a == 0 || b == 0 {
        return Err(NodeError::new(
            "an input batch is empty; there is nothing to mix",
        ));
    }
    if all {
        return Ok((0..a).flat_map(|i| (0..b).map(move |j| (i, j))).collect());
    }
    match (a, b) {
        _ if a == b => Ok((0..a).map(|i| (i, i)).collect()),
        (1, _) => Ok((0..b).map(|j| (0, j)).collect()),
        (_, 1) => Ok((0..a).map(|i| (i, 0)).collect()),
        _ => Err(NodeError::new(format!(
            "`pairs: one-to-one` needs batches of equal length (or one of length 1), but `a` has {a} designs and `b` has {b}"
        ))
        .with_help("use `pairs: all` to mix every combination")),
    }
}

/// One design's ws mixed per layer: (1 − t)·a + t·b with t = `weights[layer]`; 0 and 1 copy exactly.
fn mix(a: &[f32], b: &[f32], weights: &[f32], dim: usize) -> Vec<f32> {
    let layers = a.chunks_exact(dim).zip(b.chunks_exact(dim)).zip(weights);
    layers
        .flat_map(|((wa, wb), &t)| {
            wa.iter().zip(wb).map(move |(&x, &y)| {
                if t == 0.0 {
                    x
                } else if t == 1.0 {
                    y
                } else {
                    (1.0 - t) * x + t * y
                }
            })
        })
        .collect()
}

/// The record of a mix of `a` and `b`: labels joined with ×, `a`'s parameters, `b`'s where they
/// differ (as `b.name`), then the mix's own.
fn mixed_design(a: &Design, b: &Design, mix: &[(&'static str, String)]) -> Design {
    let mut params = a.params.clone();
    for (name, value) in &b.params {
        if !a.params.iter().any(|(n, v)| n == name && v == value) {
            params.push((format!("b.{name}"), value.clone()));
        }
    }
    params.extend(
        mix.iter()
            .map(|(name, value)| (name.to_string(), value.clone())),
    );
    Design {
        seed: None,
        label: format!("{} × {}", a.label, b.label),
        params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, ParamValue)]) -> Params {
        let mut p = Params::default();
        p.insert("mode", ParamValue::Text("blend".into()));
        p.insert("pairs", ParamValue::Text("all".into()));
        for (name, value) in pairs {
            p.insert(name, value.clone());
        }
        p
    }

    fn text(v: &str) -> ParamValue {
        ParamValue::Text(v.into())
    }

    #[test]
    fn the_default_split_is_clothinggans_five_of_sixteen() {
        assert_eq!(default_split(16), 5);
        assert_eq!(default_split(8), 3); // 2.5 rounds up
        assert_eq!(default_split(14), 4); // 4.375
        assert_eq!(default_split(18), 6); // 5.625
    }

    #[test]
    fn blend_weights_structure_before_the_split_and_style_after() {
        let blend = Mixing::Blend {
            structure: 0.25,
            style: 1.0,
            split: Split::Default,
        };
        assert_eq!(
            blend.layer_weights(8).unwrap(),
            [0.25, 0.25, 0.25, 1.0, 1.0, 1.0, 1.0, 1.0]
        );
        let by_fraction = Mixing::Blend {
            structure: 0.0,
            style: 1.0,
            split: Split::Fraction(0.25),
        };
        assert_eq!(by_fraction.layer_weights(4).unwrap(), [0.0, 1.0, 1.0, 1.0]);
        let too_far = Mixing::Blend {
            structure: 0.0,
            style: 1.0,
            split: Split::Count(9),
        };
        assert!(
            too_far
                .layer_weights(8)
                .unwrap_err()
                .message
                .contains("`split` is 9")
        );
    }

    #[test]
    fn clothinggan_mix_by_hand() {
        // a = [[0, 4], [8, 0]], b = [[4, 0], [0, 8]]; structure 0.25 on w 0, style 0.5 on w 1:
        // w0 = 0.75·[0, 4] + 0.25·[4, 0] = [1, 3]; w1 = 0.5·[8, 0] + 0.5·[0, 8] = [4, 4].
        let weights = Mixing::Blend {
            structure: 0.25,
            style: 0.5,
            split: Split::Count(1),
        }
        .layer_weights(2)
        .unwrap();
        let mixed = mix(&[0.0, 4.0, 8.0, 0.0], &[4.0, 0.0, 0.0, 8.0], &weights, 2);
        assert_eq!(mixed, [1.0, 3.0, 4.0, 4.0]);
    }

    #[test]
    fn crossover_and_layers_copy_whole_ws() {
        let a = [0.1, 0.2, 0.3];
        let b = [7.0, 8.0, 9.0];
        let crossover = Mixing::Crossover(1).layer_weights(3).unwrap();
        assert_eq!(mix(&a, &b, &crossover, 1), [0.1, 8.0, 9.0]);
        let layers = Mixing::Layers(vec![0, 2]).layer_weights(3).unwrap();
        assert_eq!(mix(&a, &b, &layers, 1), [7.0, 0.2, 9.0]);
        assert!(
            Mixing::Layers(vec![3])
                .layer_weights(3)
                .unwrap_err()
                .message
                .contains("w 3")
        );
        assert!(Mixing::Crossover(4).layer_weights(3).is_err());
    }

    #[test]
    fn per_layer_weights_must_match_the_model() {
        let weights = Mixing::Weights(vec![0.0, 0.5, 1.0]);
        assert_eq!(weights.layer_weights(3).unwrap(), [0.0, 0.5, 1.0]);
        let error = weights.layer_weights(8).unwrap_err();
        assert_eq!(
            error.message,
            "`weights` has 3 entries, but the model has 8 ws"
        );
    }

    #[test]
    fn pairs_all_is_a_major_and_one_to_one_broadcasts() {
        assert_eq!(
            pairs(2, 3, true).unwrap(),
            [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
        );
        assert_eq!(pairs(2, 2, false).unwrap(), [(0, 0), (1, 1)]);
        assert_eq!(pairs(1, 3, false).unwrap(), [(0, 0), (0, 1), (0, 2)]);
        assert_eq!(pairs(2, 1, false).unwrap(), [(0, 0), (1, 0)]);
        assert!(
            pairs(2, 3, false)
                .unwrap_err()
                .message
                .contains("`a` has 2 designs and `b` has 3")
        );
        assert!(pairs(0, 3, true).is_err());
    }

    #[test]
    fn mixed_designs_are_labelled_and_record_the_mix() {
        let a = Design::from_seed(3).with_param("truncation", 0.7);
        let b = Design::from_seed(7).with_param("truncation", 0.7);
        let mix = Mixing::Crossover(2).record(8);
        let d = mixed_design(&a, &b, &mix);
        assert_eq!(d.label, "seed 3 × seed 7");
        assert_eq!(d.seed, None);
        assert_eq!(
            d.params,
            [
                ("truncation".into(), "0.7".into()),
                ("crossover".into(), "2".into())
            ]
        );
        let plain = mixed_design(&Design::from_seed(3), &b, &[]);
        assert_eq!(plain.params, [("b.truncation".into(), "0.7".into())]);
    }

    #[test]
    fn parameters_of_another_mode_and_missing_ones_are_reported() {
        let node = MixLayers;
        assert!(node.check(&params(&[])).is_empty());
        let wrong = node.check(&params(&[("crossover", ParamValue::Int(3))]));
        assert_eq!(wrong[0].param, Some("crossover"));
        assert!(wrong[0].message.contains("belongs to `mode: crossover`"));
        let missing = node.check(&params(&[("mode", text("weights"))]));
        assert!(
            missing[0]
                .message
                .contains("`mode: weights` needs `weights`")
        );
        let both = node.check(&params(&[
            ("split", ParamValue::Int(3)),
            ("split_fraction", ParamValue::Float(0.5)),
        ]));
        assert!(both[0].message.contains("not both"));
        let twice = node.check(&params(&[
            ("mode", text("layers")),
            (
                "layers",
                ParamValue::List(vec![ParamValue::Int(1), ParamValue::Int(1)]),
            ),
        ]));
        assert_eq!(twice[0].message, "layer 1 is listed twice");
    }

    #[test]
    fn parameters_become_a_mixing() {
        let blend = Mixing::from_params(&params(&[("structure", ParamValue::Float(0.0))])).unwrap();
        assert_eq!(
            blend,
            Mixing::Blend {
                structure: 0.0,
                style: 0.5,
                split: Split::Default
            }
        );
        let layers = Mixing::from_params(&params(&[
            ("mode", text("layers")),
            (
                "layers",
                ParamValue::List(vec![ParamValue::Int(0), ParamValue::Int(6)]),
            ),
        ]))
        .unwrap();
        assert_eq!(layers, Mixing::Layers(vec![0, 6]));
    }
}
