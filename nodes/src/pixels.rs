//! Conversion of the network's float images (planar, nominally [-1, 1]) to 8-bit RGB pixels.

/// One planar `[3, height, width]` image as interleaved RGB bytes, rounding as stylegan2-ada's
/// generate.py does: `floor(clamp(127.5·x + 128, 0, 255))`.
pub fn to_rgb8(planar: &[f32], width: usize, height: usize) -> Vec<u8> {
    let plane = width * height;
    let mut out = Vec::with_capacity(plane * 3);
    for p in 0..plane {
        for c in 0..3 {
            let x = planar[c * plane + p];
            out.push((127.5 * x + 128.0).clamp(0.0, 255.0).floor() as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_like_generate_py() {
        // Planar R = [-1, 0], G = [1, 2], B = [-3, -0.5]: -1 → 0, 0 → 128, 1 → 255, out of range
        // clamps, and -0.5 → floor(64.25) = 64.
        let planar = [-1.0, 0.0, 1.0, 2.0, -3.0, -0.5];
        let rgb = to_rgb8(&planar, 2, 1);
        assert_eq!(rgb, vec![0, 255, 0, 128, 255, 64]);
    }
}
