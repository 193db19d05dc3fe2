//! Sizes and limits: where each layer's styles and coefficients live, how large the intermediate
//! buffers are per design, and how many designs fit in one run of dispatches on this device.

use super::GpuError;
use super::layout::CHANNEL_GROUP;
use crate::network::Network;

/// Loop iterations one invocation may run in total: lavapipe silently stops loops beyond this.
pub const LOOP_LIMIT: usize = 65_535;
/// Invocations per workgroup of every kernel (`WORKGROUP_SIZE` in `common.wgsl`).
pub const WORKGROUP_SIZE: usize = 64;
/// Pixels along a row computed by one conv invocation (rows of 4 use half of them).
pub const PIXELS_PER_INVOCATION: usize = 8;

/// Buffer offsets and per-design sizes of one model, and the largest batch one run can take.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// Offset of each conv layer's style vector within a design's styles (floats).
    pub conv_style_offsets: Vec<usize>,
    /// Offset of each toRGB layer's style vector.
    pub torgb_style_offsets: Vec<usize>,
    /// Floats of styles per design.
    pub style_stride: usize,
    /// Offset of each conv layer's demodulation coefficients.
    pub demod_offsets: Vec<usize>,
    /// Floats of coefficients per design.
    pub demod_stride: usize,
    /// Largest activation of any layer per design (floats).
    pub activation_len: usize,
    /// Width of the mapping network's hidden buffers.
    pub hidden_len: usize,
    /// The most designs one run of dispatches can hold.
    pub max_batch: usize,
}

impl Plan {
    pub fn new(network: &Network, limits: &wgpu::Limits) -> Result<Plan, GpuError> {
        check_loops(network)?;
        let torgb_channels: Vec<usize> = network.torgbs().map(|t| t.c_in).collect();
        let conv_inputs: Vec<usize> = network.convs().map(|c| c.c_in).collect();
        let (conv_style_offsets, after_convs) = prefix_offsets(&conv_inputs, 0);
        let (torgb_style_offsets, style_stride) = prefix_offsets(&torgb_channels, after_convs);
        let conv_outputs: Vec<usize> = network.convs().map(|c| c.c_out).collect();
        let (demod_offsets, demod_stride) = prefix_offsets(&conv_outputs, 0);
        let activation_len = network.largest_activation();
        let hidden_len = network.z_dim.max(network.w_dim);
        let mut plan = Plan {
            conv_style_offsets,
            torgb_style_offsets,
            style_stride,
            demod_offsets,
            demod_stride,
            activation_len,
            hidden_len,
            max_batch: 0,
        };
        plan.max_batch = plan.fit_batch(network, limits)?;
        Ok(plan)
    }

    /// The largest batch whose buffers and dispatch grids all respect the device limits.
    fn fit_batch(&self, network: &Network, limits: &wgpu::Limits) -> Result<usize, GpuError> {
        let binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size) as usize;
        let groups = limits.max_compute_workgroups_per_dimension as usize;
        let r = network.resolution;
        let noise_total: usize = network
            .convs()
            .map(|c| 4 * c.resolution * c.resolution)
            .sum();
        let widest_grid = network
            .convs()
            .map(|c| {
                let side = c.input_size();
                side * side.div_ceil(PIXELS_PER_INVOCATION)
            })
            .chain([r * r])
            .max()
            .unwrap_or(1);
        // (what, units per design, limit)
        let constraints = [
            ("an activation buffer", 4 * self.activation_len, binding),
            ("an image buffer", 4 * 3 * r * r, binding),
            ("the styles buffer", 4 * self.style_stride, binding),
            ("the demodulation buffer", 4 * self.demod_stride, binding),
            ("the ws buffer", 4 * network.num_ws * network.w_dim, binding),
            ("a noise window", 4 * r * r, binding),
            (
                "the noise buffer",
                noise_total + 256 * network.convs().count(),
                limits.max_buffer_size as usize,
            ),
            (
                "the widest dispatch grid",
                widest_grid,
                groups * WORKGROUP_SIZE,
            ),
            ("the per-design dispatch dimension", 1, groups),
        ];
        let (what, per_design, limit) = constraints
            .iter()
            .min_by_key(|(_, per_design, limit)| limit / per_design)
            .copied()
            .expect("constraints are listed");
        let batch = limit / per_design;
        if batch == 0 {
            return Err(GpuError::DoesNotFit {
                what: format!("{what} of one design"),
                needed: per_design,
                limit,
            });
        }
        Ok(batch)
    }
}

/// Start offsets of consecutive regions of the given lengths from `start`, and the end.
fn prefix_offsets(lengths: &[usize], start: usize) -> (Vec<usize>, usize) {
    let mut end = start;
    let offsets = lengths
        .iter()
        .map(|len| {
            end += len;
            end - len
        })
        .collect();
    (offsets, end)
}

/// Every loop trip count per invocation, checked against [`LOOP_LIMIT`] before any pipeline runs.
fn check_loops(network: &Network) -> Result<(), GpuError> {
    let mut trips = vec![(
        "pixel_norm (two passes over z)".to_string(),
        2 * network.z_dim,
    )];
    for dense in &network.mapping {
        trips.push((dense.name.clone(), dense.in_features));
    }
    for (name, affine) in network.affines() {
        trips.push((format!("{name}.affine"), affine.in_features));
    }
    for c in network.convs() {
        trips.push((format!("{} (conv and demodulation)", c.prefix()), c.c_in));
    }
    for t in network.torgbs() {
        trips.push((t.prefix(), t.c_in));
    }
    match trips.into_iter().find(|(_, count)| *count > LOOP_LIMIT) {
        Some((layer, trips)) => Err(GpuError::LoopLimit {
            layer,
            trips,
            limit: LOOP_LIMIT,
        }),
        None => Ok(()),
    }
}

/// Workgroups of a conv dispatch: x over (batch × rows × row segments) of the input grid, y over channel
/// groups, z over the four output phases of an up-sampling conv.
pub fn conv_workgroups(batch: usize, size: usize, c_out: usize, up: bool) -> [u32; 3] {
    let invocations = batch * size * size.div_ceil(PIXELS_PER_INVOCATION);
    [
        invocations.div_ceil(WORKGROUP_SIZE) as u32,
        c_out.div_ceil(CHANNEL_GROUP) as u32,
        if up { 4 } else { 1 },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;

    #[test]
    fn batch_is_split_to_fit_the_binding_limit() {
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: 128 << 20,
            ..wgpu::Limits::default()
        };
        // 1024 px with channel base 32768: one design's 1024² × 32 activation is exactly 128 MiB.
        let config = ModelConfig::new(1024, 512, 512, 8, 32768, 512, Some(256.0)).unwrap();
        assert_eq!(
            Plan::new(&Network::new(&config), &limits)
                .unwrap()
                .max_batch,
            1
        );
        let small = ModelConfig::new(32, 16, 16, 2, 256, 16, None).unwrap();
        assert!(Plan::new(&Network::new(&small), &limits).unwrap().max_batch > 1000);
        let tight = wgpu::Limits {
            max_storage_buffer_binding_size: 1 << 20,
            ..limits
        };
        assert!(matches!(
            Plan::new(&Network::new(&config), &tight),
            Err(GpuError::DoesNotFit { .. })
        ));
    }

    #[test]
    fn loop_limits_are_checked() {
        let config = ModelConfig::new(8, 40_000, 16, 2, 256, 16, None).unwrap();
        let err = Plan::new(&Network::new(&config), &wgpu::Limits::default()).unwrap_err();
        assert!(
            matches!(err, GpuError::LoopLimit { trips: 80_000, .. }),
            "{err}"
        );
    }
}
