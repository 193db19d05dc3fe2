//! The analytic FLOP count of one generated image, used to report achieved GFLOP/s.

use crate::config::ModelConfig;

/// FLOPs of one image through mapping and synthesis: 2 × the multiply-adds of the dense layers
/// (mapping and every style affine), of every 3×3 conv counted at its output resolution (the
/// up-sampling conv0 included) and of the 1×1 toRGB layers. Element-wise work (normalisation,
/// demodulation, noise, bias, activation, the skip up-sampling) is not counted.
pub fn flops_per_image(config: &ModelConfig) -> f64 {
    let (z, w) = (config.z_dim as f64, config.w_dim as f64);
    let mapping = z * w + (config.mapping_layers as f64 - 1.0) * w * w;
    let mut multiply_adds = mapping;
    for conv in config.conv_layers() {
        let pixels = (conv.resolution * conv.resolution) as f64;
        multiply_adds += w * conv.c_in as f64;
        multiply_adds += 9.0 * (conv.c_in * conv.c_out) as f64 * pixels;
    }
    for r in config.block_resolutions() {
        let channels = config.channels(r) as f64;
        multiply_adds += w * channels + 3.0 * channels * (r * r) as f64;
    }
    2.0 * multiply_adds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_f_256_is_about_56_gflop() {
        let gflop = flops_per_image(&ModelConfig::config_f_256()) / 1e9;
        assert!((gflop - 56.3).abs() < 0.05, "{gflop}");
    }

    #[test]
    fn a_tiny_network_by_hand() {
        // R 8, z 4, w 2, 2 mapping layers, 3 channels everywhere.
        let config = ModelConfig::new(8, 4, 2, 2, 24, 3, None).unwrap();
        let mapping = 4 * 2 + 2 * 2;
        let affines = 3 * (2 * 3) + 2 * (2 * 3); // 3 convs + 2 toRGBs, each w_dim × C_in
        let convs = 9 * 3 * 3 * (16 + 64 + 64);
        let torgbs = 3 * 3 * (16 + 64);
        let expected = 2 * (mapping + affines + convs + torgbs);
        assert_eq!(flops_per_image(&config), expected as f64);
    }
}
