//! A loaded generator: its config and every weight as f32, grouped by layer.

mod error;
mod load;
mod random;
mod save;
mod spec;

pub use error::ModelError;
pub use random::RandomWeights;
pub use save::StorageType;
pub use spec::{TensorSpec, tensor_specs};

use crate::config::ModelConfig;
use crate::network::{ConvSpec, Layer, Network, ToRgbSpec};
use std::path::{Path, PathBuf};

/// The file name of the weights inside a model folder.
pub const WEIGHTS_FILE: &str = "generator.safetensors";

/// An equalised-learning-rate dense layer with raw (unscaled) parameters.
#[derive(Clone, Debug)]
pub struct DenseLayer {
    /// `[out_features, in_features]`, row-major.
    pub weight: Vec<f32>,
    /// `[out_features]`.
    pub bias: Vec<f32>,
    /// Input width.
    pub in_features: usize,
    /// Output width.
    pub out_features: usize,
}

/// A modulated 3×3 conv layer (`synthesis.b{r}.conv{0,1}`).
#[derive(Clone, Debug)]
pub struct ConvLayer {
    /// Where the layer sits, its channel counts and gains.
    pub spec: ConvSpec,
    /// `[c_out, c_in, 3, 3]`, raw.
    pub weight: Vec<f32>,
    /// `[c_out]`.
    pub bias: Vec<f32>,
    /// Scale of the noise added to the conv output.
    pub noise_strength: f32,
    /// The layer's constant noise map `[r, r]`.
    pub noise_const: Vec<f32>,
    /// The style affine `w → s` (`[c_in, w_dim]`).
    pub affine: DenseLayer,
}

/// The toRGB layer of one block (1×1 modulated conv without demodulation).
#[derive(Clone, Debug)]
pub struct ToRgbLayer {
    /// Where the layer sits, its channel count and gains.
    pub spec: ToRgbSpec,
    /// `[3, c_in]`.
    pub weight: Vec<f32>,
    /// `[3]`.
    pub bias: Vec<f32>,
    /// The style affine `w → s` (`[c_in, w_dim]`).
    pub affine: DenseLayer,
}

/// A StyleGAN2 generator held in memory as f32.
#[derive(Clone, Debug)]
pub struct Model {
    config: ModelConfig,
    network: Network,
    source: Option<PathBuf>,
    mapping: Vec<DenseLayer>,
    w_avg: Vec<f32>,
    const_input: Vec<f32>,
    convs: Vec<ConvLayer>,
    torgbs: Vec<ToRgbLayer>,
}

impl Model {
    /// Loads `generator.safetensors` from a model folder, checking every tensor (see [`ModelError`]).
    pub fn load(dir: &Path) -> Result<Model, ModelError> {
        load::load(&dir.join(WEIGHTS_FILE))
    }

    /// The architecture of a model folder's weights, read from the file's header without the weights.
    pub fn read_config(dir: &Path) -> Result<ModelConfig, ModelError> {
        load::read_config(&dir.join(WEIGHTS_FILE))
    }

    /// The architecture.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Sets the name and description written to the metadata.
    pub fn set_name(&mut self, name: &str, description: &str) {
        self.config.name = Some(name.to_string());
        self.config.description = Some(description.to_string());
    }

    /// Every layer, resolved from the config.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The weights file this model came from, if it was loaded.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The average w (`mapping.w_avg`), the standard truncation target.
    pub fn w_avg(&self) -> &[f32] {
        &self.w_avg
    }

    /// The mapping layers in order.
    pub fn mapping(&self) -> &[DenseLayer] {
        &self.mapping
    }

    /// The constant input of block 4, `[C(4), 4, 4]`.
    pub fn const_input(&self) -> &[f32] {
        &self.const_input
    }

    /// The modulated conv layers in network order (b4.conv1, b8.conv0, b8.conv1, …).
    pub fn convs(&self) -> &[ConvLayer] {
        &self.convs
    }

    /// The toRGB layers, one per block from 4 up.
    pub fn torgbs(&self) -> &[ToRgbLayer] {
        &self.torgbs
    }

    /// Builds a model from tensors delivered in [`tensor_specs`] order. `next` gets each spec and
    /// returns its data with exactly `spec.len()` elements (1 for scalars).
    pub(crate) fn from_tensors(
        config: ModelConfig,
        source: Option<PathBuf>,
        mut next: impl FnMut(&TensorSpec) -> Result<Vec<f32>, ModelError>,
    ) -> Result<Model, ModelError> {
        let network = Network::new(&config);
        let specs = tensor_specs(&network);
        let mut specs = specs.iter();
        let mut take = || {
            let spec = specs.next().expect("spec order matches the model layout");
            next(spec)
        };
        fn dense(
            in_features: usize,
            out_features: usize,
            take: &mut dyn FnMut() -> Result<Vec<f32>, ModelError>,
        ) -> Result<DenseLayer, ModelError> {
            Ok(DenseLayer {
                weight: take()?,
                bias: take()?,
                in_features,
                out_features,
            })
        }
        let mut mapping = Vec::new();
        for layer in &network.mapping {
            mapping.push(dense(layer.in_features, layer.out_features, &mut take)?);
        }
        let w_avg = take()?;
        let const_input = take()?;
        let mut convs = Vec::new();
        let mut torgbs = Vec::new();
        for layer in &network.layers {
            match layer {
                Layer::Conv(spec) => {
                    let weight = take()?;
                    let bias = take()?;
                    let noise_strength = take()?[0];
                    let noise_const = take()?;
                    let affine = dense(config.w_dim, spec.c_in, &mut take)?;
                    convs.push(ConvLayer {
                        spec: spec.clone(),
                        weight,
                        bias,
                        noise_strength,
                        noise_const,
                        affine,
                    });
                }
                Layer::ToRgb(spec) => {
                    let weight = take()?;
                    let bias = take()?;
                    let affine = dense(config.w_dim, spec.c_in, &mut take)?;
                    torgbs.push(ToRgbLayer {
                        spec: spec.clone(),
                        weight,
                        bias,
                        affine,
                    });
                }
            }
        }
        Ok(Model {
            config,
            network,
            source,
            mapping,
            w_avg,
            const_input,
            convs,
            torgbs,
        })
    }

    /// Every tensor with its canonical name, in [`tensor_specs`] order.
    pub fn named_tensors(&self) -> Vec<(TensorSpec, &[f32])> {
        let mut data: Vec<&[f32]> = Vec::new();
        for layer in &self.mapping {
            data.extend([&layer.weight[..], &layer.bias[..]]);
        }
        data.extend([&self.w_avg[..], &self.const_input[..]]);
        let (mut convs, mut torgbs) = (self.convs.iter(), self.torgbs.iter());
        for layer in &self.network.layers {
            match layer {
                Layer::Conv(_) => {
                    let conv = convs.next().expect("one conv layer per conv spec");
                    data.extend([
                        &conv.weight[..],
                        &conv.bias[..],
                        std::slice::from_ref(&conv.noise_strength),
                        &conv.noise_const[..],
                        &conv.affine.weight[..],
                        &conv.affine.bias[..],
                    ]);
                }
                Layer::ToRgb(_) => {
                    let torgb = torgbs.next().expect("one toRGB layer per toRGB spec");
                    data.extend([
                        &torgb.weight[..],
                        &torgb.bias[..],
                        &torgb.affine.weight[..],
                        &torgb.affine.bias[..],
                    ]);
                }
            }
        }
        tensor_specs(&self.network).into_iter().zip(data).collect()
    }
}
