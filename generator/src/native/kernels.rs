//! The native backend's per-design kernels in f32: dense layers, style-scaled im2col, the conv
//! matrix products (faer), the conv epilogue, toRGB and the skip up-sampling. Every function works on
//! one design, so a design's result never depends on the batch it was computed in.

use crate::network::{LRELU_GAIN, LRELU_SLOPE, NORM_EPSILON};
use crate::prepared::UP_TAPS;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Columns (output pixels) and rows (output channels) of one matrix-product task; fixed so that the
/// split of a design's work never depends on the batch or the thread count.
const COLUMN_TILE: usize = 512;
const ROW_BLOCK: usize = 64;

/// A dot product with eight independent partial sums, in a fixed order.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (x, y) in a_chunks.zip(b_chunks) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    let mut sum = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
    for (x, y) in a_rest.iter().zip(b_rest) {
        sum += x * y;
    }
    sum
}

/// Leaky ReLU with slope 0.2, times √2.
pub fn lrelu_gain(v: f32) -> f32 {
    (if v >= 0.0 { v } else { LRELU_SLOPE * v }) * LRELU_GAIN
}

/// Clamps to `[-limit, limit]` when there is a limit.
pub fn clamp(v: f32, limit: Option<f32>) -> f32 {
    match limit {
        Some(c) => v.clamp(-c, c),
        None => v,
    }
}

/// 2nd-moment normalisation of one latent.
pub fn pixel_norm(x: &[f32], out: &mut [f32]) {
    let mean_sq = x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / x.len() as f64;
    let scale = (1.0 / (mean_sq + NORM_EPSILON).sqrt()) as f32;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v * scale;
    }
}

/// `out[o] = (dot(x, W[o])·weight_gain + b[o]·bias_gain)`, then lrelu·√2 when `activation`, then
/// `·out_scale`.
#[allow(clippy::too_many_arguments)]
pub fn dense(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    weight_gain: f32,
    bias_gain: f32,
    activation: bool,
    out_scale: f32,
    out: &mut [f32],
) {
    let n = x.len();
    for (o, y) in out.iter_mut().enumerate() {
        let v = dot(x, &weight[o * n..(o + 1) * n]) * weight_gain + bias[o] * bias_gain;
        *y = if activation { lrelu_gain(v) } else { v } * out_scale;
    }
}

/// Demodulation coefficients `d[o] = 1/√(Σ_i Wsq[o,i]·s[i]² + 1e-8)`.
pub fn demodulation(weight_sq: &[f32], s: &[f32], out: &mut [f32]) {
    let c_in = s.len();
    for (o, d) in out.iter_mut().enumerate() {
        let mut sum = 0f32;
        for (w, &si) in weight_sq[o * c_in..(o + 1) * c_in].iter().zip(s) {
            sum += w * (si * si);
        }
        *d = (1.0 / (sum as f64 + NORM_EPSILON).sqrt()) as f32;
    }
}

/// The 3×3 patches of one input channel `x` (`[h, h]`) scaled by its style, zero-padded by one:
/// `rows[ty·3 + tx][p·h + q] = scale·x[p + ty − 1][q + tx − 1]` (nine rows of `h·h`).
pub fn im2col_channel(x: &[f32], scale: f32, h: usize, rows: &mut [f32]) {
    let plane = h * h;
    for ty in 0..3 {
        for tx in 0..3 {
            let row = &mut rows[(ty * 3 + tx) * plane..][..plane];
            for p in 0..h {
                let out = &mut row[p * h..(p + 1) * h];
                let Some(src_row) = (p + ty).checked_sub(1).filter(|&r| r < h) else {
                    out.fill(0.0);
                    continue;
                };
                let src = &x[src_row * h..(src_row + 1) * h];
                // q + tx − 1 in 0..h: for tx = 0 the first output column is padding.
                match tx {
                    0 => {
                        out[0] = 0.0;
                        for (o, &v) in out[1..].iter_mut().zip(&src[..h - 1]) {
                            *o = v * scale;
                        }
                    }
                    1 => {
                        for (o, &v) in out.iter_mut().zip(src) {
                            *o = v * scale;
                        }
                    }
                    _ => {
                        for (o, &v) in out[..h - 1].iter_mut().zip(&src[1..]) {
                            *o = v * scale;
                        }
                        out[h - 1] = 0.0;
                    }
                }
            }
        }
    }
}

/// `out[m, n] = weight[m, k] × col[k, n]` for one design, row-major; see [`matmul_into`].
pub fn matmul(weight: &[f32], m: usize, k: usize, col: &[f32], n: usize, out: &mut [f32]) {
    matmul_into(
        MatRef::from_row_major_slice(weight, m, k),
        MatRef::from_row_major_slice(col, k, n),
        MatMut::from_row_major_slice_mut(out, m, n),
    );
}

/// `out = lhs × rhs` as tasks of [`ROW_BLOCK`] rows × [`COLUMN_TILE`] columns run in parallel.
pub fn matmul_into(lhs: MatRef<'_, f32>, rhs: MatRef<'_, f32>, out: MatMut<'_, f32>) {
    let (m, n) = (out.nrows(), out.ncols());
    let mut tasks = Vec::with_capacity(m.div_ceil(ROW_BLOCK) * n.div_ceil(COLUMN_TILE));
    let mut rows_left = out;
    let mut row = 0;
    while row < m {
        let height = ROW_BLOCK.min(m - row);
        let (block, below) = rows_left.split_at_row_mut(height);
        rows_left = below;
        let mut rest = block;
        let mut start = 0;
        while start < n {
            let width = COLUMN_TILE.min(n - start);
            let (tile, after) = rest.split_at_col_mut(width);
            tasks.push((row, start, tile));
            rest = after;
            start += width;
        }
        row += height;
    }
    tasks.into_par_iter().for_each(|(row, start, tile)| {
        let (height, width) = (tile.nrows(), tile.ncols());
        faer::linalg::matmul::matmul(
            tile,
            Accum::Replace,
            lhs.subrows(row, height),
            rhs.subcols(start, width),
            1.0f32,
            Par::Seq,
        );
    });
}

/// Points of Winograd's F(2×2, 3×3) (Lavin & Gray, 2015): every 2×2 output tile of a 3×3 conv
/// from its 4×4 input tile with 16 products instead of 36. The transforms' entries are 0, ±½ and
/// ±1, so they add no rounding of their own beyond the sums.
pub const WINOGRAD_POINTS: usize = 16;

/// `G·g·Gᵀ` of one 3×3 kernel `g` (row-major) in f64, with `G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]]`.
pub fn winograd_kernel(g: &[f32]) -> [f32; WINOGRAD_POINTS] {
    const G: [[f64; 3]; 4] = [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ];
    let mut gg = [[0f64; 3]; 4];
    for (r, row) in gg.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| G[r][k] * g[k * 3 + c] as f64).sum();
        }
    }
    std::array::from_fn(|i| (0..3).map(|k| gg[i / 4][k] * G[i % 4][k]).sum::<f64>() as f32)
}

/// The Winograd input transform of one channel `x` (`[h, h]`) scaled by its style: for every
/// tile `t = ty·(h/2) + tx`, `v[ξ·T + t] = (Bᵀ·d·B)[ξ]` (T = (h/2)² tiles), where `d` is the 4×4
/// patch of the zero-padded input at (2ty − 1, 2tx − 1) and
/// `Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]]`. Each padded row is split into its even
/// and odd columns, so that every step is an operation on whole rows of tiles. `scratch` is reused.
pub fn winograd_input(x: &[f32], scale: f32, h: usize, scratch: &mut Vec<f32>, v: &mut [f32]) {
    let half = h / 2;
    let (tiles, n) = (half * half, half + 1);
    scratch.clear();
    scratch.resize(16 * n, 0.0);
    let (rows, columns) = scratch.split_at_mut(8 * n);
    for ty in 0..half {
        // Even and odd columns of the four padded input rows 2ty − 1 … 2ty + 2, scaled:
        // padded[2k] = x[2k − 1], padded[2k + 1] = x[2k].
        for (r, row) in rows.chunks_exact_mut(2 * n).enumerate() {
            let (even, odd) = row.split_at_mut(n);
            match (2 * ty + r).checked_sub(1).filter(|&y| y < h) {
                Some(y) => {
                    let src = &x[y * h..(y + 1) * h];
                    even[0] = 0.0;
                    odd[half] = 0.0;
                    for ((e, o), pair) in even[1..]
                        .iter_mut()
                        .zip(&mut odd[..half])
                        .zip(src.chunks_exact(2))
                    {
                        *o = pair[0] * scale;
                        *e = pair[1] * scale;
                    }
                }
                None => row.fill(0.0),
            }
        }
        // Bᵀ·d down the columns: t0 = d0 − d2, t1 = d1 + d2, t2 = d2 − d1, t3 = d1 − d3.
        let d = |r: usize| &rows[r * 2 * n..(r + 1) * 2 * n];
        for (j, t) in columns.chunks_exact_mut(2 * n).enumerate() {
            let (a, b, sign) = match j {
                0 => (d(0), d(2), -1.0),
                1 => (d(1), d(2), 1.0),
                2 => (d(2), d(1), -1.0),
                _ => (d(1), d(3), -1.0),
            };
            for ((t, &a), &b) in t.iter_mut().zip(a).zip(b) {
                *t = a + sign * b;
            }
        }
        // ·B along the rows, with e[c] = t[2tx + c]: v0 = E[tx] − E[tx+1], v1 = O[tx] + E[tx+1],
        // v2 = E[tx+1] − O[tx], v3 = O[tx] − O[tx+1].
        for (j, t) in columns.chunks_exact(2 * n).enumerate() {
            let (even, odd) = t.split_at(n);
            let (e0, e1, o0, o1) = (&even[..half], &even[1..], &odd[..half], &odd[1..]);
            let at = |k: usize| (j * 4 + k) * tiles + ty * half;
            for ((v, &a), &b) in v[at(0)..][..half].iter_mut().zip(e0).zip(e1) {
                *v = a - b;
            }
            for ((v, &a), &b) in v[at(1)..][..half].iter_mut().zip(o0).zip(e1) {
                *v = a + b;
            }
            for ((v, &a), &b) in v[at(2)..][..half].iter_mut().zip(e1).zip(o0) {
                *v = a - b;
            }
            for ((v, &a), &b) in v[at(3)..][..half].iter_mut().zip(o0).zip(o1) {
                *v = a - b;
            }
        }
    }
}

/// The Winograd output transform of one output channel: from its 16 product planes `m`
/// (`m[ξ·T + t]`) every 2×2 tile `Aᵀ·m_t·A`, `Aᵀ = [[1,1,1,0],[0,1,−1,−1]]`, into `out` (`[h, h]`),
/// a row of tiles at a time. `scratch` is reused.
pub fn winograd_output(m: &[f32], h: usize, scratch: &mut Vec<f32>, out: &mut [f32]) {
    let half = h / 2;
    let tiles = half * half;
    scratch.clear();
    scratch.resize(8 * half, 0.0);
    for ty in 0..half {
        let plane = |xi: usize| &m[xi * tiles + ty * half..][..half];
        // Aᵀ·m down the columns: r0[c] = m[c] + m[4 + c] + m[8 + c], r1[c] = m[4 + c] − m[8 + c] − m[12 + c].
        for (c, r) in scratch.chunks_exact_mut(half).enumerate() {
            let (k, sign) = (c % 4, if c < 4 { 1.0 } else { -1.0 });
            let (a, b, d) = if c < 4 {
                (plane(k), plane(4 + k), plane(8 + k))
            } else {
                (plane(4 + k), plane(8 + k), plane(12 + k))
            };
            for (((r, &a), &b), &d) in r.iter_mut().zip(a).zip(b).zip(d) {
                *r = a + sign * b + sign * d;
            }
        }
        let r = |k: usize| &scratch[k * half..(k + 1) * half];
        let (top, bottom) = out[2 * ty * h..(2 * ty + 2) * h].split_at_mut(h);
        for (row, base) in [(top, 0), (bottom, 4)] {
            let (r0, r1, r2, r3) = (r(base), r(base + 1), r(base + 2), r(base + 3));
            for ((((pair, &a), &b), &c), &d) in
                row.chunks_exact_mut(2).zip(r0).zip(r1).zip(r2).zip(r3)
            {
                pair[0] = a + b + c;
                pair[1] = b - c - d;
            }
        }
    }
}

/// What the epilogue of one conv layer adds after the product.
pub struct Epilogue<'a> {
    /// Demodulation coefficients `[c_out]`.
    pub demod: &'a [f32],
    /// Bias `[c_out]`.
    pub bias: &'a [f32],
    /// The noise map at the output resolution and its strength, if any.
    pub noise: Option<(&'a [f32], f32)>,
    /// Clamp limit.
    pub clamp: Option<f32>,
}

impl Epilogue<'_> {
    /// The noise of output row `row` (`side` wide), zeros without noise.
    fn noise_row<'z>(&self, row: usize, side: usize, zeros: &'z [f32]) -> &'z [f32]
    where
        Self: 'z,
    {
        match self.noise {
            Some((map, _)) => &map[row * side..(row + 1) * side],
            None => &zeros[..side],
        }
    }

    /// One output channel `o` in place on its `[r, r]` plane, `clamp(lrelu·√2(v·d[o] +
    /// strength·noise + b[o]))`; `zeros` holds at least `r` zeros. Written as straight-line
    /// arithmetic over slices so that it vectorises.
    pub fn channel(&self, o: usize, plane: &mut [f32], side: usize, zeros: &[f32]) {
        let strength = self.noise.map_or(0.0, |(_, s)| s);
        let (demod, bias) = (self.demod[o], self.bias[o]);
        let limit = self.clamp.unwrap_or(f32::INFINITY);
        for (row, out) in plane.chunks_exact_mut(side).enumerate() {
            let noise = self.noise_row(row, side, zeros);
            for (v, &n) in out.iter_mut().zip(noise) {
                let x = *v * demod + strength * n + bias;
                let x = if x >= 0.0 { x } else { LRELU_SLOPE * x } * LRELU_GAIN;
                *v = x.clamp(-limit, limit);
            }
        }
    }
}

/// `out = scale·x`: one channel of the style-scaled input of an up-sampling conv's product.
pub fn scale_channel(x: &[f32], scale: f32, out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v * scale;
    }
}

/// The 2× up-sampling conv of one output channel from its nine transposed-conv taps
/// (`taps[a·3 + b]` is `[h, h]`: the product of tap (a, b) at every input pixel): scatter each input
/// pixel (r, c) to (2r + a, 2c + b) of the stride-2 transposed output (`2h + 1` wide, padded by one),
/// then the 4×4 FIR `g = outer(k, k)`, `k = [1, 3, 3, 1]/4`, separably. `out` is `[2h, 2h]`.
pub fn transposed_up(taps: &[f32], h: usize, scratch: &mut Vec<f32>, out: &mut [f32]) {
    let (padded, side, plane) = (2 * h + 3, 2 * h, h * h);
    scratch.clear();
    scratch.resize(padded * padded + padded * side, 0.0);
    let (full, rows) = scratch.split_at_mut(padded * padded);
    for a in 0..3 {
        for b in 0..3 {
            let tap = &taps[(a * 3 + b) * plane..][..plane];
            for (r, src) in tap.chunks_exact(h).enumerate() {
                let dst = &mut full[(2 * r + a + 1) * padded + b + 1..];
                for (c, &v) in src.iter().enumerate() {
                    dst[2 * c] += v;
                }
            }
        }
    }
    let g = UP_TAPS.map(|t| t as f32);
    for (row, line) in full.chunks_exact(padded).zip(rows.chunks_exact_mut(side)) {
        for (q, v) in line.iter_mut().enumerate() {
            *v = g[0] * row[q] + g[1] * row[q + 1] + g[2] * row[q + 2] + g[3] * row[q + 3];
        }
    }
    for (p, line) in out.chunks_exact_mut(side).enumerate() {
        let at = |u: usize| &rows[(p + u) * side..][..side];
        let (r0, r1, r2, r3) = (at(0), at(1), at(2), at(3));
        for (q, v) in line.iter_mut().enumerate() {
            *v = g[0] * r0[q] + g[1] * r1[q] + g[2] * r2[q] + g[3] * r3[q];
        }
    }
}

/// ToRGB of one design: `rgb[c] = clamp(Σ_i W[c,i]·s[i]·x[i] + b[c])`, plus the up-sampled previous
/// image when there is one. `x` is `[c_in, r, r]`, `image` `[3, r, r]`, `previous` `[3, r/2, r/2]`.
pub fn torgb(
    x: &[f32],
    weight: &[f32],
    s: &[f32],
    bias: &[f32],
    clamp_limit: Option<f32>,
    previous: Option<&[f32]>,
    image: &mut [f32],
) {
    let c_in = s.len();
    let plane = x.len() / c_in;
    for (c, out) in image.chunks_exact_mut(plane).enumerate() {
        out.fill(0.0);
        for (i, &si) in s.iter().enumerate() {
            let scale = weight[c * c_in + i] * si;
            for (o, &v) in out.iter_mut().zip(&x[i * plane..(i + 1) * plane]) {
                *o += scale * v;
            }
        }
        for o in out.iter_mut() {
            *o = clamp(*o + bias[c], clamp_limit);
        }
    }
    if let Some(previous) = previous {
        let side = (plane as f64).sqrt() as usize;
        add_upsampled(previous, side / 2, image);
    }
}

/// The two source positions and weights of position `pos` of the 2× up-sampling along one axis:
/// `out[2m] = .25 in[m−1] + .75 in[m]`, `out[2m+1] = .75 in[m] + .25 in[m+1]`, zero outside.
fn taps(pos: usize, h: usize) -> [(usize, f32); 2] {
    let m = pos / 2;
    if pos.is_multiple_of(2) {
        [
            (m.saturating_sub(1), if m > 0 { 0.25 } else { 0.0 }),
            (m, 0.75),
        ]
    } else {
        [
            (m, 0.75),
            ((m + 1).min(h - 1), if m + 1 < h { 0.25 } else { 0.0 }),
        ]
    }
}

/// Adds the 2× FIR up-sampling of `previous` (`[3, h, h]`) to `image` (`[3, 2h, 2h]`).
fn add_upsampled(previous: &[f32], h: usize, image: &mut [f32]) {
    let side = 2 * h;
    for (c, out) in image.chunks_exact_mut(side * side).enumerate() {
        let src = &previous[c * h * h..(c + 1) * h * h];
        for p in 0..side {
            let ty = taps(p, h);
            for q in 0..side {
                let tx = taps(q, h);
                let row =
                    |r: usize| tx[0].1 * src[r * h + tx[0].0] + tx[1].1 * src[r * h + tx[1].0];
                out[p * side + q] += ty[0].1 * row(ty[0].0) + ty[1].1 * row(ty[1].0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn im2col_shifts_and_pads() {
        // One channel, 3×3 input 1..9, style 2.
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let mut col = vec![f32::NAN; 9 * 9];
        im2col_channel(&x, 2.0, 3, &mut col);
        // Tap (1,1) is the input itself, scaled.
        assert_eq!(
            &col[4 * 9..5 * 9],
            &x.iter().map(|v| v * 2.0).collect::<Vec<_>>()[..]
        );
        // Tap (0,0) at pixel (0,0) is padding; at (1,1) it is x[0][0].
        assert_eq!(col[0], 0.0);
        assert_eq!(col[4], 2.0);
        // Tap (2,2) at pixel (1,1) is x[2][2]; at (2,2) padding.
        assert_eq!(col[8 * 9 + 4], 18.0);
        assert_eq!(col[8 * 9 + 8], 0.0);
        assert!(col.iter().all(|v| v.is_finite()));
    }

    /// Winograd's transforms and products give the 3×3 conv of the style-scaled, zero-padded
    /// input (the im2col product's definition) within f32 rounding.
    #[test]
    fn winograd_equals_the_direct_conv() {
        use crate::seeds::RandomState;
        let (c_in, c_out, h) = (3, 2, 6);
        let mut rng = RandomState::new(4);
        let weight = rng.randn_f32(c_out * c_in * 9);
        let x = rng.randn_f32(c_in * h * h);
        let styles = [0.5, -1.5, 2.0];
        let (plane, tiles) = (h * h, h * h / 4);
        let mut col = vec![0f32; 9 * c_in * plane];
        for i in 0..c_in {
            let rows = &mut col[i * 9 * plane..(i + 1) * 9 * plane];
            im2col_channel(&x[i * plane..(i + 1) * plane], styles[i], h, rows);
        }
        let mut direct = vec![0f32; c_out * plane];
        matmul(&weight, c_out, 9 * c_in, &col, plane, &mut direct);
        let mut v = vec![0f32; c_in * WINOGRAD_POINTS * tiles];
        let mut scratch = Vec::new();
        for i in 0..c_in {
            let out = &mut v[i * WINOGRAD_POINTS * tiles..][..WINOGRAD_POINTS * tiles];
            winograd_input(
                &x[i * plane..(i + 1) * plane],
                styles[i],
                h,
                &mut scratch,
                out,
            );
        }
        for o in 0..c_out {
            // m[ξ][t] = Σ_i U[o, i][ξ]·v[i][ξ][t]
            let mut m = vec![0f32; WINOGRAD_POINTS * tiles];
            for i in 0..c_in {
                let u = winograd_kernel(&weight[(o * c_in + i) * 9..][..9]);
                for (xi, &u) in u.iter().enumerate() {
                    for t in 0..tiles {
                        m[xi * tiles + t] += u * v[(i * WINOGRAD_POINTS + xi) * tiles + t];
                    }
                }
            }
            let mut got = vec![f32::NAN; plane];
            winograd_output(&m, h, &mut scratch, &mut got);
            for (k, (g, w)) in got.iter().zip(&direct[o * plane..]).enumerate() {
                assert!(
                    (g - w).abs() < 1e-5 * (1.0 + w.abs()),
                    "o {o} pixel {k}: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn matmul_tasks_cover_every_row_and_column() {
        let (m, k, n) = (ROW_BLOCK + 3, 5, COLUMN_TILE + 7);
        let a: Vec<f32> = (0..m * k).map(|v| v as f32 * 0.5).collect();
        let b: Vec<f32> = (0..k * n).map(|v| (v % 11) as f32).collect();
        let mut out = vec![f32::NAN; m * n];
        matmul(&a, m, k, &b, n, &mut out);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|t| a[i * k + t] * b[t * n + j]).sum();
                assert_eq!(out[i * n + j], want, "({i},{j})");
            }
        }
    }

    /// The transposed conv + FIR of one channel equals the reference's definition of the
    /// up-sampling conv (spec: stride-2 transposed conv, pad 1, then the 4×4 FIR).
    #[test]
    fn transposed_up_matches_the_reference_definition() {
        use crate::cpu::layers::up_conv_by_definition;
        use crate::seeds::RandomState;
        let (c_in, c_out, h) = (3, 2, 5);
        let mut rng = RandomState::new(9);
        let weight = rng.randn_f32(c_out * c_in * 9);
        let x = rng.randn_f32(c_in * h * h);
        let want = up_conv_by_definition(&weight, c_out, c_in, &x, h);
        // Taps by hand: taps[o][tap][p] = Σ_i W[o, i, tap]·x[i, p].
        let plane = h * h;
        let mut scratch = Vec::new();
        for o in 0..c_out {
            let mut taps = vec![0f32; 9 * plane];
            for tap in 0..9 {
                for p in 0..plane {
                    taps[tap * plane + p] = (0..c_in)
                        .map(|i| weight[(o * c_in + i) * 9 + tap] * x[i * plane + p])
                        .sum();
                }
            }
            let mut got = vec![f32::NAN; 4 * plane];
            transposed_up(&taps, h, &mut scratch, &mut got);
            for (k, (g, w)) in got.iter().zip(&want[o * 4 * plane..]).enumerate() {
                assert!(
                    (g - w).abs() < 1e-5 * (1.0 + w.abs()),
                    "o {o} pixel {k}: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn upsampling_taps_by_hand() {
        // in = [4, 8]: out = [.75·4, .75·4+.25·8, .25·4+.75·8, .75·8] along one axis.
        let previous = [4.0, 8.0, 4.0, 8.0]; // 2×2, rows equal
        let mut image = [0.0; 16];
        add_upsampled(&previous, 2, &mut image[..16]);
        // Rows are equal inputs, so each row is the 1D result times the vertical weight sum, which is
        // .75 at the border rows (one tap outside) and 1 inside.
        let line = [3.0, 5.0, 7.0, 6.0];
        for q in 0..4 {
            assert!((image[q] - 0.75 * line[q]).abs() < 1e-6);
            assert!((image[4 + q] - line[q]).abs() < 1e-6);
        }
    }
}
