//! The uniform parameter blocks of each kernel, mirroring the structs at the top of each shader.
//! They are encoded as 32-bit words (floats by their bits) in declaration order.

/// `DenseParams` of `dense.wgsl` (also used by `pixel_norm`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DenseParams {
    pub batch: u32,
    pub in_features: u32,
    pub out_features: u32,
    pub activation: bool,
    pub in_offset: u32,
    pub in_stride: u32,
    pub out_offset: u32,
    pub out_stride: u32,
    pub weight_gain: f32,
    pub bias_gain: f32,
    pub out_scale: f32,
}

impl DenseParams {
    pub fn words(&self) -> Vec<u32> {
        vec![
            self.batch,
            self.in_features,
            self.out_features,
            self.activation as u32,
            self.in_offset,
            self.in_stride,
            self.out_offset,
            self.out_stride,
            self.weight_gain.to_bits(),
            self.bias_gain.to_bits(),
            self.out_scale.to_bits(),
            0,
        ]
    }
}

/// `DemodParams` of `demod.wgsl`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DemodParams {
    pub batch: u32,
    pub c_in: u32,
    pub c_out: u32,
    pub style_offset: u32,
    pub style_stride: u32,
    pub out_offset: u32,
    pub out_stride: u32,
}

impl DemodParams {
    pub fn words(&self) -> Vec<u32> {
        vec![
            self.batch,
            self.c_in,
            self.c_out,
            self.style_offset,
            self.style_stride,
            self.out_offset,
            self.out_stride,
            0,
        ]
    }
}

/// `ConvParams` of `modconv.wgsl`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ConvParams {
    pub batch: u32,
    pub c_in: u32,
    pub c_out: u32,
    pub size: u32,
    pub in_batch_stride: u32,
    pub style_offset: u32,
    pub style_stride: u32,
    pub demod_offset: u32,
    pub demod_stride: u32,
    pub noise_batch_stride: u32,
    pub noise_strength: f32,
    pub clamp: Option<f32>,
}

impl ConvParams {
    pub fn words(&self) -> Vec<u32> {
        vec![
            self.batch,
            self.c_in,
            self.c_out,
            self.size,
            self.in_batch_stride,
            self.style_offset,
            self.style_stride,
            self.demod_offset,
            self.demod_stride,
            self.noise_batch_stride,
            self.noise_strength.to_bits(),
            self.clamp.is_some() as u32,
            self.clamp.unwrap_or(0.0).to_bits(),
            0,
            0,
            0,
        ]
    }
}

/// `ToRgbParams` of `torgb.wgsl`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ToRgbParams {
    pub batch: u32,
    pub c_in: u32,
    pub size: u32,
    pub style_offset: u32,
    pub style_stride: u32,
    pub has_previous: bool,
    pub clamp: Option<f32>,
}

impl ToRgbParams {
    pub fn words(&self) -> Vec<u32> {
        vec![
            self.batch,
            self.c_in,
            self.size,
            self.style_offset,
            self.style_stride,
            self.has_previous as u32,
            self.clamp.is_some() as u32,
            self.clamp.unwrap_or(0.0).to_bits(),
        ]
    }
}
