//! The canonical tensor names and shapes of a generator file (spec §4.1), derived from its config.

use crate::config::ModelConfig;

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

/// Every tensor of the model in a fixed order: mapping layers, `w_avg`, the constant input, then per
/// block conv0 (if any), conv1 and torgb, each with its affine layer.
pub fn tensor_specs(config: &ModelConfig) -> Vec<TensorSpec> {
    let w = config.w_dim;
    let mut specs = Vec::new();
    for i in 0..config.mapping_layers {
        let input = if i == 0 { config.z_dim } else { w };
        specs.push(TensorSpec::new(
            format!("mapping.fc{i}.weight"),
            &[w, input],
        ));
        specs.push(TensorSpec::new(format!("mapping.fc{i}.bias"), &[w]));
    }
    specs.push(TensorSpec::new("mapping.w_avg", &[w]));
    specs.push(TensorSpec::new(
        "synthesis.b4.const",
        &[config.channels(4), 4, 4],
    ));
    let convs = config.conv_layers();
    for r in config.block_resolutions() {
        for conv in convs.iter().filter(|c| c.resolution == r) {
            let p = conv.prefix();
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
        let c = config.channels(r);
        let p = format!("synthesis.b{r}.torgb");
        specs.push(TensorSpec::new(format!("{p}.weight"), &[3, c, 1, 1]));
        specs.push(TensorSpec::new(format!("{p}.bias"), &[3]));
        specs.push(TensorSpec::new(format!("{p}.affine.weight"), &[c, w]));
        specs.push(TensorSpec::new(format!("{p}.affine.bias"), &[c]));
    }
    specs
}
