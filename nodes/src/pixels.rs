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

/// Interleaved RGB bytes enlarged `scale` times, each pixel becoming a `scale`×`scale` block.
pub fn enlarge_rgb8(rgb: &[u8], width: usize, height: usize, scale: usize) -> Vec<u8> {
    if scale <= 1 {
        return rgb.to_vec();
    }
    let mut out = Vec::with_capacity(rgb.len() * scale * scale);
    for y in 0..height * scale {
        let row = &rgb[(y / scale) * width * 3..][..width * 3];
        for pixel in row.chunks_exact(3) {
            for _ in 0..scale {
                out.extend_from_slice(pixel);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enlarging_repeats_each_pixel_as_a_block() {
        // 2×1: red, blue → 4×2 at scale 2.
        let rgb = [255, 0, 0, 0, 0, 255];
        let big = enlarge_rgb8(&rgb, 2, 1, 2);
        let red = [255, 0, 0];
        let blue = [0, 0, 255];
        let row: Vec<u8> = [red, red, blue, blue].concat();
        assert_eq!(big, [row.clone(), row].concat());
        assert_eq!(enlarge_rgb8(&rgb, 2, 1, 1), rgb);
    }

    #[test]
    fn rounds_like_generate_py() {
        // Planar R = [-1, 0], G = [1, 2], B = [-3, -0.5]: -1 → 0, 0 → 128, 1 → 255, out of range
        // clamps, and -0.5 → floor(64.25) = 64.
        let planar = [-1.0, 0.0, 1.0, 2.0, -3.0, -0.5];
        let rgb = to_rgb8(&planar, 2, 1);
        assert_eq!(rgb, vec![0, 255, 0, 128, 255, 64]);
    }
}
