//! Exact covariance PCA: Σw and Σwwᵀ accumulated in f64 (chunks in parallel), the unbiased
//! covariance, and its symmetric eigendecomposition with sklearn's sign convention.

use nalgebra::{DMatrix, SymmetricEigen};
use rayon::prelude::*;

/// Running sums of vectors and of their outer products, in f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Covariance {
    dim: usize,
    count: u64,
    sum: Vec<f64>,
    /// Upper triangle (i ≤ j) of Σ x xᵀ, stored as a full row-major [dim, dim] matrix.
    products: Vec<f64>,
}

/// The leading principal components of a set of vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    /// Vector length.
    pub dim: usize,
    /// Unit rows [k, dim], by decreasing variance; each row's largest-magnitude entry is positive.
    pub vectors: Vec<f64>,
    /// The variance along each row (eigenvalues of the covariance, with N − 1).
    pub variances: Vec<f64>,
    /// Share of the total variance (the covariance's trace) along each row.
    pub variance_ratios: Vec<f64>,
    /// Mean of the vectors.
    pub mean: Vec<f64>,
}

impl Covariance {
    /// Empty sums for vectors of length `dim`.
    pub fn new(dim: usize) -> Self {
        Covariance {
            dim,
            count: 0,
            sum: vec![0.0; dim],
            products: vec![0.0; dim * dim],
        }
    }

    /// Sums of `rows` ([n, dim], row-major), split over threads.
    pub fn of_rows(rows: &[f32], dim: usize) -> Self {
        const ROWS_PER_TASK: usize = 256;
        rows.par_chunks(ROWS_PER_TASK * dim)
            .map(|chunk| {
                let mut c = Covariance::new(dim);
                c.add_rows(chunk);
                c
            })
            .reduce(|| Covariance::new(dim), Covariance::merged)
    }

    /// Adds `rows` ([n, dim], row-major) on this thread.
    pub fn add_rows(&mut self, rows: &[f32]) {
        let d = self.dim;
        assert_eq!(rows.len() % d, 0, "rows must be [n, dim]");
        let mut x = vec![0.0f64; d];
        for row in rows.chunks_exact(d) {
            for (xi, &r) in x.iter_mut().zip(row) {
                *xi = r as f64;
            }
            for i in 0..d {
                self.sum[i] += x[i];
                let xi = x[i];
                let out = &mut self.products[i * d + i..(i + 1) * d];
                for (p, &xj) in out.iter_mut().zip(&x[i..]) {
                    *p += xi * xj;
                }
            }
            self.count += 1;
        }
    }

    /// Both sets of sums together.
    pub fn merged(mut self, other: Covariance) -> Covariance {
        assert_eq!(self.dim, other.dim, "merging sums of different lengths");
        self.count += other.count;
        self.sum
            .iter_mut()
            .zip(&other.sum)
            .for_each(|(a, b)| *a += b);
        self.products
            .iter_mut()
            .zip(&other.products)
            .for_each(|(a, b)| *a += b);
        self
    }

    /// Number of vectors added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The mean and the unbiased covariance `(Σxxᵀ − N·μμᵀ)/(N − 1)` as a full [dim, dim] matrix.
    pub fn mean_and_covariance(&self) -> (Vec<f64>, Vec<f64>) {
        let d = self.dim;
        let n = self.count as f64;
        let mean: Vec<f64> = self.sum.iter().map(|s| s / n).collect();
        let mut cov = vec![0.0; d * d];
        for i in 0..d {
            for j in i..d {
                let c = (self.products[i * d + j] - n * mean[i] * mean[j]) / (n - 1.0);
                cov[i * d + j] = c;
                cov[j * d + i] = c;
            }
        }
        (mean, cov)
    }

    /// The top `k` principal components. Needs at least two vectors and `k ≤ dim`.
    pub fn principal_components(&self, k: usize) -> Pca {
        assert!(self.count >= 2, "PCA needs at least two samples");
        assert!(k >= 1 && k <= self.dim, "k must be in 1..=dim");
        let d = self.dim;
        let (mean, cov) = self.mean_and_covariance();
        let trace: f64 = (0..d).map(|i| cov[i * d + i]).sum();
        let eigen = SymmetricEigen::new(DMatrix::from_row_slice(d, d, &cov));
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        let mut vectors = Vec::with_capacity(k * d);
        let mut variances = Vec::with_capacity(k);
        for &col in &order[..k] {
            let v = eigen.eigenvectors.column(col);
            let largest = (0..d)
                .reduce(|best, i| if v[i].abs() > v[best].abs() { i } else { best })
                .expect("dim ≥ 1");
            let sign = if v[largest] < 0.0 { -1.0 } else { 1.0 };
            let norm = v.norm();
            vectors.extend(v.iter().map(|x| sign * x / norm));
            // Rounding can leave tiny negative eigenvalues for a rank-deficient covariance.
            variances.push(eigen.eigenvalues[col].max(0.0));
        }
        let variance_ratios = variances
            .iter()
            .map(|v| if trace > 0.0 { v / trace } else { 0.0 })
            .collect();
        Pca {
            dim: d,
            vectors,
            variances,
            variance_ratios,
            mean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six points μ ± s_i·v_i for an orthonormal basis v: the mean is μ and the covariance is
    /// Σ 2·s_i²·v_i v_iᵀ / 5, so the eigenvalues are 2·s_i²/5 along ±v_i.
    fn known() -> (Vec<f32>, [[f64; 3]; 3], [f64; 3], [f64; 3]) {
        let (c, s) = (0.6f64, 0.8f64);
        // An orthonormal basis; v_1's largest-magnitude entry is negative on purpose.
        let basis = [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]];
        let spread = [3.0, 2.0, 1.0];
        let mean = [1.0, -2.0, 0.5];
        let mut rows = Vec::new();
        for (v, s) in basis.iter().zip(spread) {
            for sign in [1.0, -1.0] {
                rows.extend((0..3).map(|j| (mean[j] + sign * s * v[j]) as f32));
            }
        }
        (rows, basis, spread, mean)
    }

    #[test]
    fn finds_the_known_eigenvalues_directions_and_ratios() {
        let (rows, basis, spread, mean) = known();
        let mut cov = Covariance::new(3);
        cov.add_rows(&rows);
        let pca = cov.principal_components(3);
        let total: f64 = spread.iter().map(|s| 2.0 * s * s / 5.0).sum();
        for i in 0..3 {
            let expected = 2.0 * spread[i] * spread[i] / 5.0;
            assert!((pca.variances[i] - expected).abs() < 1e-5, "{pca:?}");
            assert!((pca.variance_ratios[i] - expected / total).abs() < 1e-6);
            let row = &pca.vectors[i * 3..(i + 1) * 3];
            let dot: f64 = row.iter().zip(basis[i]).map(|(a, b)| a * b).sum();
            assert!((dot.abs() - 1.0).abs() < 1e-6, "row {i} is ±v_{i}: {row:?}");
            let largest = row
                .iter()
                .copied()
                .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
            assert!(largest > 0.0, "sign convention: {row:?}");
        }
        // v_1 = (−0.8, 0.6, 0) comes out flipped.
        assert!((pca.vectors[3] - 0.8).abs() < 1e-6 && (pca.vectors[4] + 0.6).abs() < 1e-6);
        for (found, expected) in pca.mean.iter().zip(mean) {
            assert!((found - expected).abs() < 1e-6);
        }
    }

    #[test]
    fn flips_a_component_whose_largest_entry_is_negative() {
        // All spread along (−0.28, −0.96): the component comes out as (0.28, 0.96).
        let rows: Vec<f32> = [-2.0f32, -1.0, 1.0, 2.0]
            .iter()
            .flat_map(|t| [-0.28 * t, -0.96 * t])
            .collect();
        let mut cov = Covariance::new(2);
        cov.add_rows(&rows);
        let pca = cov.principal_components(1);
        assert!((pca.vectors[0] - 0.28).abs() < 1e-6 && (pca.vectors[1] - 0.96).abs() < 1e-6);
        assert!((pca.variance_ratios[0] - 1.0).abs() < 1e-9);
        assert!((pca.variances[0] - 10.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn parallel_sums_equal_sequential_sums() {
        let mut rs = drape_generator::seeds::RandomState::new(3);
        let rows = rs.randn_f32(1000 * 5);
        let mut one = Covariance::new(5);
        one.add_rows(&rows);
        let many = Covariance::of_rows(&rows, 5);
        assert_eq!(many.count(), 1000);
        let (m1, c1) = one.mean_and_covariance();
        let (m2, c2) = many.mean_and_covariance();
        for (a, b) in m1.iter().chain(&c1).zip(m2.iter().chain(&c2)) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
