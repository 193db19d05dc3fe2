//! `sample-latent`: latent vectors z from seeds, identical to numpy's `RandomState(seed).randn`.

use drape_engine::{Extent, Items};
use std::collections::HashMap;
use std::path::Path;

use std::sync::Arc;

use drape_engine::param::MAX_SEEDS;
use drape_engine::{
    Design, Latents, Node, NodeContext, NodeError, ParamDefault, ParamProblem, ParamSpec,
    ParamType, Params, PortSpec, Value, ValueType,
};
use drape_generator::seeds::{RandomState, z_from_seed};

use crate::model;

/// See the module docs.
pub struct SampleLatent;

impl Node for SampleLatent {
    fn name(&self) -> &'static str {
        "sample-latent"
    }

    fn doc(&self) -> &'static str {
        "Latent vectors z drawn from seeds, one design per seed, or many designs from one seed.\n\
         With `seeds`, z is exactly numpy's `RandomState(seed).randn(1, z_dim)`, so seed 42 is the same \
         design here as in stylegan2-ada's generate.py, GANSpace and ClothingGAN. With `count` and \
         `seed` instead, the batch is numpy's `RandomState(seed).randn(count, z_dim)` (row i is design \
         `seed S #i`), the way GANSpace draws its samples. The length is the model's z_dim.\n\
         A large batch streams through `seeds` design by design; `count` draws one stream and needs the whole batch."
    }

    fn outputs(&self) -> &'static [PortSpec] {
        const OUT: &[PortSpec] = &[PortSpec::new(
            "z",
            ValueType::Latents,
            "One latent vector per design, in seed order.",
        )];
        OUT
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[
            ParamSpec {
                name: "seeds",
                ty: ParamType::Seeds,
                default: ParamDefault::Optional,
                doc: "Which designs: `12`, `[1, 5, 9]`, `\"0..8\"` (end excluded) or `\"0..=7\"`; \
                      or leave out and give `count` and `seed`.",
            },
            ParamSpec {
                name: "count",
                ty: ParamType::Int {
                    min: 1,
                    max: MAX_SEEDS as i64,
                },
                default: ParamDefault::Optional,
                doc: "How many designs to draw from the one `seed` (instead of `seeds`).",
            },
            ParamSpec {
                name: "seed",
                ty: ParamType::Int {
                    min: 0,
                    max: u32::MAX as i64,
                },
                default: ParamDefault::Optional,
                doc: "The seed that all `count` designs are drawn from, in one stream.",
            },
        ];
        PARAMS
    }

    fn uses_model(&self) -> bool {
        true
    }

    fn check(&self, params: &Params) -> Vec<ParamProblem> {
        let given = |name| params.get(name).is_some();
        let problem = |param, message: &str| {
            vec![ParamProblem {
                param: Some(param),
                message: message.into(),
            }]
        };
        match (given("seeds"), given("count"), given("seed")) {
            (true, false, false) | (false, true, true) => Vec::new(),
            (true, count, _) => problem(
                if count { "count" } else { "seed" },
                "give either `seeds` (one design per seed) or `count` with `seed` (many designs from one seed), not both",
            ),
            (false, false, false) => vec![ParamProblem {
                param: None,
                message:
                    "no designs chosen: give `seeds`, e.g. `seeds: \"0..8\"`, or `count` and `seed`"
                        .into(),
            }],
            (false, true, false) => problem("count", "`count` needs a `seed` to draw from"),
            (false, false, true) => problem(
                "seed",
                "`seed` draws `count` designs: add `count`, or write `seeds: N` for one design",
            ),
        }
    }

    fn synonyms(&self) -> &'static [(&'static str, &'static str)] {
        &[("seed_list", "seeds")]
    }

    fn items(&self, params: &Params) -> Items {
        // Design k of `seeds` is seed k alone; `count` designs share one random stream.
        match params.opt_int("count") {
            Ok(None) => Items::PerDesign,
            _ => Items::Whole,
        }
    }

    fn estimate(
        &self,
        params: &Params,
        _inputs: &HashMap<&'static str, Extent>,
        model_dir: Option<&Path>,
    ) -> Option<Vec<Extent>> {
        let dim = model::config_at(model_dir)?.z_dim as u64;
        let count = match params.opt_int("count").ok()? {
            Some(count) => count as u64,
            None => params.seeds("seeds").ok()?.len() as u64,
        };
        Some(vec![Extent::values(count, dim)])
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let dim = model::model(ctx)?.config().z_dim;
        let (data, designs) = match ctx.params.opt_int("count")? {
            Some(count) => from_one_seed(ctx.params.int("seed")? as u32, count as usize, dim),
            None => {
                let seeds = ctx.params.seeds("seeds")?;
                let seeds = match ctx.designs() {
                    Some(range) => seeds.get(range).ok_or_else(|| {
                        NodeError::new("the streamed designs are outside the seeds")
                            .with_help("this is a bug in drape; please report it")
                    })?,
                    None => seeds,
                };
                from_seeds(seeds, dim)
            }
        };
        Ok(vec![Value::Latents(Latents {
            dim,
            data: Arc::from(data),
            designs: Arc::from(designs),
        })])
    }
}

/// One z per seed: `RandomState(seed).randn(1, dim)` each.
fn from_seeds(seeds: &[u32], dim: usize) -> (Vec<f32>, Vec<Design>) {
    let data = seeds.iter().flat_map(|&s| z_from_seed(s, dim)).collect();
    (data, seeds.iter().map(|&s| Design::from_seed(s)).collect())
}

/// `count` zs from one stream: `RandomState(seed).randn(count, dim)`.
fn from_one_seed(seed: u32, count: usize, dim: usize) -> (Vec<f32>, Vec<Design>) {
    let data = RandomState::new(seed).randn_f32(count * dim);
    let designs = (0..count)
        .map(|i| Design::labelled(format!("seed {seed} #{i}")))
        .collect();
    (data, designs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, drape_engine::ParamValue)]) -> Params {
        let mut p = Params::default();
        for (name, value) in pairs {
            p.insert(name, value.clone());
        }
        p
    }

    #[test]
    fn many_designs_from_one_seed_match_numpy() {
        // numpy 2.4: np.random.RandomState(7).randn(3, 4).tolist()
        let expected: [f64; 12] = [
            1.690525703800356,
            -0.4659373705408328,
            0.0328201636785844,
            0.40751628299650783,
            -0.7889230286257386,
            0.00206557290594813,
            -0.0008903858579313628,
            -1.7547243063454208,
            1.0176580056634932,
            0.6004985159195494,
            -0.6254289739667597,
            -0.17154826119572117,
        ];
        let (data, designs) = from_one_seed(7, 3, 4);
        assert_eq!(data, expected.map(|v| v as f32));
        let labels: Vec<_> = designs.iter().map(|d| d.label.as_str()).collect();
        assert_eq!(labels, ["seed 7 #0", "seed 7 #1", "seed 7 #2"]);
        assert!(designs.iter().all(|d| d.seed.is_none()));
    }

    #[test]
    fn one_design_per_seed_starts_each_stream_afresh() {
        let (data, designs) = from_seeds(&[7, 7], 4);
        assert_eq!(&data[..4], &data[4..]);
        assert_eq!(data[0], 1.690525703800356_f64 as f32);
        assert_eq!(designs[1], Design::from_seed(7));
    }

    #[test]
    fn seeds_and_count_are_two_exclusive_ways() {
        use drape_engine::ParamValue::{Int, Seeds};
        let node = SampleLatent;
        assert!(node.check(&params(&[("seeds", Seeds(vec![1]))])).is_empty());
        assert!(
            node.check(&params(&[("count", Int(4)), ("seed", Int(1))]))
                .is_empty()
        );
        let both = node.check(&params(&[
            ("seeds", Seeds(vec![1])),
            ("count", Int(4)),
            ("seed", Int(1)),
        ]));
        assert_eq!(both[0].param, Some("count"));
        assert!(both[0].message.contains("not both"), "{both:?}");
        let neither = node.check(&Params::default());
        assert!(neither[0].message.contains("no designs chosen"));
        let lone_count = node.check(&params(&[("count", Int(4))]));
        assert!(lone_count[0].message.contains("needs a `seed`"));
        let lone_seed = node.check(&params(&[("seed", Int(4))]));
        assert_eq!(lone_seed[0].param, Some("seed"));
    }
}
