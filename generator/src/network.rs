//! The network described once: every layer of the mapping and synthesis networks resolved from a
//! [`ModelConfig`] — kind, shapes, gains, w index, clamp, tensor and trace names. The weight loader,
//! the flop count, the CPU reference, the native CPU backend and the GPU schedule all walk this list
//! (docs/stylegan2.md has the maths).

use crate::config::ModelConfig;

/// Slope of the leaky ReLU of every mapping and conv layer.
pub const LRELU_SLOPE: f32 = 0.2;
/// Gain applied after the leaky ReLU (√2).
pub const LRELU_GAIN: f32 = std::f32::consts::SQRT_2;
/// Added under the square roots of the pixel norm and the demodulation.
pub const NORM_EPSILON: f64 = 1e-8;

/// An equalised-learning-rate dense layer of the mapping network: `y = x·(W·weight_gain)ᵀ +
/// b·bias_gain`, then leaky ReLU × √2.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseSpec {
    /// Tensor-name prefix, e.g. `mapping.fc0`.
    pub name: String,
    /// Input width.
    pub in_features: usize,
    /// Output width.
    pub out_features: usize,
    /// `lr_multiplier / √in_features`.
    pub weight_gain: f32,
    /// `lr_multiplier`.
    pub bias_gain: f32,
}

/// The style affine of a modulated layer: `s = (w[ws_index]·(A/√w_dim)ᵀ + a_b)·out_scale`.
#[derive(Clone, Debug, PartialEq)]
pub struct AffineSpec {
    /// Which of the `num_ws` vectors it reads.
    pub ws_index: usize,
    /// Input width (`w_dim`).
    pub in_features: usize,
    /// Style length (the layer's input channels).
    pub out_features: usize,
    /// `1/√w_dim`.
    pub weight_gain: f32,
    /// 1 for convs; `1/√c_in` for toRGB layers (ADA's `weight_gain` folded into the style).
    pub out_scale: f32,
}

/// One modulated 3×3 conv layer (`synthesis.b{r}.conv{0,1}`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvSpec {
    /// Position among the conv layers, which is also its noise index.
    pub index: usize,
    /// Output resolution.
    pub resolution: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Whether this is an up-sampling conv0 (input at half resolution).
    pub up: bool,
    /// Its style affine.
    pub affine: AffineSpec,
    /// Clamp after the activation, if any.
    pub clamp: Option<f32>,
}

impl ConvSpec {
    /// The canonical tensor-name prefix, e.g. `synthesis.b8.conv0`.
    pub fn prefix(&self) -> String {
        format!("synthesis.{}", self.tag())
    }

    /// `b8.conv0`: the part shared by tensor and trace names.
    fn tag(&self) -> String {
        format!("b{}.conv{}", self.resolution, if self.up { 0 } else { 1 })
    }

    /// The w (and noise) index of the layer.
    pub fn ws_index(&self) -> usize {
        self.affine.ws_index
    }

    /// Side of the input plane.
    pub fn input_size(&self) -> usize {
        if self.up {
            self.resolution / 2
        } else {
            self.resolution
        }
    }

    /// Trace name of the style vector, e.g. `style.b8.conv0`.
    pub fn style_name(&self) -> String {
        format!("style.{}", self.tag())
    }

    /// Trace name of the demodulation coefficients.
    pub fn demod_name(&self) -> String {
        format!("demod.{}", self.tag())
    }

    /// Trace name of the layer's output.
    pub fn output_name(&self) -> String {
        format!("act.{}", self.tag())
    }
}

/// The toRGB layer of one block: a 1×1 modulated conv without demodulation, plus bias and clamp,
/// added to the up-sampled image of the block below.
#[derive(Clone, Debug, PartialEq)]
pub struct ToRgbSpec {
    /// Block position (0 for the 4×4 block).
    pub block: usize,
    /// Block resolution.
    pub resolution: usize,
    /// Input channels.
    pub c_in: usize,
    /// Its style affine.
    pub affine: AffineSpec,
    /// Clamp of the layer's output, if any.
    pub clamp: Option<f32>,
}

impl ToRgbSpec {
    /// The canonical tensor-name prefix, e.g. `synthesis.b8.torgb`.
    pub fn prefix(&self) -> String {
        format!("synthesis.b{}.torgb", self.resolution)
    }

    /// Whether an image from the block below is up-sampled and added.
    pub fn has_previous(&self) -> bool {
        self.block > 0
    }

    /// Trace name of the style vector (with its `1/√c_in` gain).
    pub fn style_name(&self) -> String {
        format!("style.b{}.torgb", self.resolution)
    }

    /// Trace name of the block's image (after the skip addition).
    pub fn output_name(&self) -> String {
        format!("act.b{}.img", self.resolution)
    }
}

/// One step of the synthesis network.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    /// A modulated conv.
    Conv(ConvSpec),
    /// A toRGB layer.
    ToRgb(ToRgbSpec),
}

/// The whole network in execution order.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Length of z.
    pub z_dim: usize,
    /// Length of w.
    pub w_dim: usize,
    /// Number of w vectors the synthesis network reads.
    pub num_ws: usize,
    /// Output side.
    pub resolution: usize,
    /// Channels of the constant input `[C, 4, 4]`.
    pub const_channels: usize,
    /// The mapping layers (after the pixel norm of z).
    pub mapping: Vec<DenseSpec>,
    /// Synthesis: per block conv0 (above 4×4), conv1, toRGB.
    pub layers: Vec<Layer>,
}

impl Network {
    /// Resolves every layer of `config`.
    pub fn new(config: &ModelConfig) -> Network {
        let (w, lr) = (config.w_dim, config.mapping_lr_multiplier);
        let mapping = (0..config.mapping_layers)
            .map(|i| {
                let in_features = if i == 0 { config.z_dim } else { w };
                DenseSpec {
                    name: format!("mapping.fc{i}"),
                    in_features,
                    out_features: w,
                    weight_gain: lr / (in_features as f32).sqrt(),
                    bias_gain: lr,
                }
            })
            .collect();
        let affine = |ws_index: usize, c_in: usize, out_scale: f32| AffineSpec {
            ws_index,
            in_features: w,
            out_features: c_in,
            weight_gain: 1.0 / (w as f32).sqrt(),
            out_scale,
        };
        let mut layers = Vec::new();
        let mut conv_index = 0;
        for (block, r) in config.block_resolutions().into_iter().enumerate() {
            let channels = config.channels(r);
            let mut conv = |up: bool, c_in: usize| {
                let spec = ConvSpec {
                    index: conv_index,
                    resolution: r,
                    c_in,
                    c_out: channels,
                    up,
                    // The noise index equals the w index: conv k reads w[k].
                    affine: affine(conv_index, c_in, 1.0),
                    clamp: config.conv_clamp,
                };
                conv_index += 1;
                Layer::Conv(spec)
            };
            if block > 0 {
                layers.push(conv(true, config.channels(r / 2)));
            }
            layers.push(conv(false, channels));
            layers.push(Layer::ToRgb(ToRgbSpec {
                block,
                resolution: r,
                c_in: channels,
                // toRGB of block k reads the w after its last conv: w[2k + 1].
                affine: affine(2 * block + 1, channels, 1.0 / (channels as f32).sqrt()),
                clamp: config.conv_clamp,
            }));
        }
        Network {
            z_dim: config.z_dim,
            w_dim: w,
            num_ws: config.num_ws,
            resolution: config.resolution,
            const_channels: config.channels(4),
            mapping,
            layers,
        }
    }

    /// The conv layers in order.
    pub fn convs(&self) -> impl Iterator<Item = &ConvSpec> {
        self.layers.iter().filter_map(|l| match l {
            Layer::Conv(c) => Some(c),
            Layer::ToRgb(_) => None,
        })
    }

    /// The toRGB layers in order.
    pub fn torgbs(&self) -> impl Iterator<Item = &ToRgbSpec> {
        self.layers.iter().filter_map(|l| match l {
            Layer::ToRgb(t) => Some(t),
            Layer::Conv(_) => None,
        })
    }

    /// Every style affine in network order, with its layer's tensor-name prefix.
    pub fn affines(&self) -> impl Iterator<Item = (String, &AffineSpec)> {
        self.layers.iter().map(|l| match l {
            Layer::Conv(c) => (c.prefix(), &c.affine),
            Layer::ToRgb(t) => (t.prefix(), &t.affine),
        })
    }

    /// The widest activation of one design (floats), over every conv output.
    pub fn largest_activation(&self) -> usize {
        self.convs()
            .map(|c| c.c_out * c.resolution * c.resolution)
            .max()
            .unwrap_or(0)
    }

    /// FLOPs of one image through mapping and synthesis: 2 × the multiply-adds of the dense layers
    /// (mapping and every style affine), of every 3×3 conv counted at its output resolution (the
    /// up-sampling conv0 included) and of the 1×1 toRGB layers. Element-wise work (normalisation,
    /// demodulation, noise, bias, activation, the skip up-sampling) is not counted.
    pub fn flops_per_image(&self) -> f64 {
        let mut multiply_adds: f64 = self
            .mapping
            .iter()
            .map(|d| (d.in_features * d.out_features) as f64)
            .sum();
        for (_, a) in self.affines() {
            multiply_adds += (a.in_features * a.out_features) as f64;
        }
        for layer in &self.layers {
            multiply_adds += match layer {
                Layer::Conv(c) => 9.0 * (c.c_in * c.c_out * c.resolution * c.resolution) as f64,
                Layer::ToRgb(t) => 3.0 * (t.c_in * t.resolution * t.resolution) as f64,
            };
        }
        2.0 * multiply_adds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_indices_follow_the_layer_table() {
        let config = ModelConfig::new(512, 512, 512, 8, 32768, 512, None).unwrap();
        assert_eq!(config.num_ws, 16);
        let net = Network::new(&config);
        let convs: Vec<(String, usize)> = net.convs().map(|c| (c.prefix(), c.ws_index())).collect();
        assert_eq!(convs.len(), 15);
        assert_eq!(convs[0], ("synthesis.b4.conv1".into(), 0));
        assert_eq!(convs[1], ("synthesis.b8.conv0".into(), 1));
        assert_eq!(convs[14], ("synthesis.b512.conv1".into(), 14));
        let torgbs: Vec<usize> = net.torgbs().map(|t| t.affine.ws_index).collect();
        assert_eq!(torgbs.first(), Some(&1));
        assert_eq!(torgbs.last(), Some(&15));
        for (i, c) in net.convs().enumerate() {
            assert_eq!(c.index, i);
            assert_eq!(c.ws_index(), i, "noise index equals ws index");
        }
        // Every w index is read, none beyond num_ws.
        let max = net.affines().map(|(_, a)| a.ws_index).max();
        assert_eq!(max, Some(config.num_ws - 1));
    }

    #[test]
    fn order_names_and_gains() {
        let config = ModelConfig::new(8, 4, 2, 2, 24, 3, Some(256.0)).unwrap();
        let net = Network::new(&config);
        let names: Vec<String> = net
            .layers
            .iter()
            .map(|l| match l {
                Layer::Conv(c) => c.output_name(),
                Layer::ToRgb(t) => t.output_name(),
            })
            .collect();
        assert_eq!(
            names,
            [
                "act.b4.conv1",
                "act.b4.img",
                "act.b8.conv0",
                "act.b8.conv1",
                "act.b8.img"
            ]
        );
        assert_eq!(net.mapping[0].weight_gain, 0.01 / 2.0);
        assert_eq!(net.mapping[1].weight_gain, 0.01 / 2f32.sqrt());
        let t = net.torgbs().next().unwrap();
        assert_eq!(t.affine.out_scale, 1.0 / 3f32.sqrt());
        assert_eq!(t.style_name(), "style.b4.torgb");
        assert_eq!(net.convs().nth(1).unwrap().demod_name(), "demod.b8.conv0");
    }

    #[test]
    fn config_f_256_is_about_56_gflop() {
        let gflop = Network::new(&ModelConfig::config_f_256()).flops_per_image() / 1e9;
        assert!((gflop - 56.3).abs() < 0.05, "{gflop}");
    }

    #[test]
    fn flops_of_a_tiny_network_by_hand() {
        // R 8, z 4, w 2, 2 mapping layers, 3 channels everywhere.
        let config = ModelConfig::new(8, 4, 2, 2, 24, 3, None).unwrap();
        let mapping = 4 * 2 + 2 * 2;
        let affines = 3 * (2 * 3) + 2 * (2 * 3); // 3 convs + 2 toRGBs, each w_dim × C_in
        let convs = 9 * 3 * 3 * (16 + 64 + 64);
        let torgbs = 3 * 3 * (16 + 64);
        let expected = 2 * (mapping + affines + convs + torgbs);
        assert_eq!(Network::new(&config).flops_per_image(), expected as f64);
    }
}
