//! The canonical tensor names and shapes of a generator file (docs/stylegan2.md §4.1), derived from the network description.

use crate::network::{Layer, Network};

/// One tensor a generator file must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// Canonical (stylegan2-ada `G_ema`) name.
    pub name: String,
    /// Expected shape.
    pub shape: Vec<usize>,
}

impl TensorSpec {
    fn new(name: impl Into<String>, shape: &[usize]) -> Self {
        Self {
            name: name.into(),
            shape: shape.to_vec(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is a noise-strength scalar, which may be stored with shape `[]` or `[1]`.
    pub fn is_scalar(&self) -> bool {
        self.shape.is_empty()
    }
}

/// Every tensor of the model in a fixed order: mapping layers, `w_avg`, the constant input, then the
/// synthesis layers in network order (per block conv0 if any, conv1, torgb), each with its affine.
pub fn tensor_specs(network: &Network) -> Vec<TensorSpec> {
    let w = network.w_dim;
    let mut specs = Vec::new();
    for layer in &network.mapping {
        let name = &layer.name;
        specs.push(TensorSpec::new(
            format!("{name}.weight"),
            &[layer.out_features, layer.in_features],
        ));
        specs.push(TensorSpec::new(
            format!("{name}.bias"),
            &[layer.out_features],
        ));
    }
    specs.push(TensorSpec::new("mapping.w_avg", &[w]));
    specs.push(TensorSpec::new(
        "synthesis.b4.const",
        &[network.const_channels, 4, 4],
    ));
    for layer in &network.layers {
        match layer {
            Layer::Conv(conv) => {
                let (p, r) = (conv.prefix(), conv.resolution);
                specs.push(TensorSpec::new(
                    format!("{p}.weight"),
                    &[conv.c_out, conv.c_in, 3, 3],
                ));
                specs.push(TensorSpec::new(format!("{p}.bias"), &[conv.c_out]));
                specs.push(TensorSpec::new(format!("{p}.noise_strength"), &[]));
                specs.push(TensorSpec::new(format!("{p}.noise_const"), &[r, r]));
                specs.push(TensorSpec::new(
                    format!("{p}.affine.weight"),
                    &[conv.c_in, w],
                ));
                specs.push(TensorSpec::new(format!("{p}.affine.bias"), &[conv.c_in]));
            }
            Layer::ToRgb(torgb) => {
                let (p, c) = (torgb.prefix(), torgb.c_in);
                specs.push(TensorSpec::new(format!("{p}.weight"), &[3, c, 1, 1]));
                specs.push(TensorSpec::new(format!("{p}.bias"), &[3]));
                specs.push(TensorSpec::new(format!("{p}.affine.weight"), &[c, w]));
                specs.push(TensorSpec::new(format!("{p}.affine.bias"), &[c]));
            }
        }
    }
    specs
}
