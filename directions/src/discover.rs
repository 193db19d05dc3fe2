//! Discovering directions: untruncated w sampled on the GPU from a numpy-compatible seed stream,
//! exact covariance PCA over them, and GANSpace's post-processing of the spread along each component.

use drape_generator::seeds::RandomState;
use drape_generator::{Backend, Truncation};

use crate::components::{Components, ComponentsInfo};
use crate::error::DirectionsError;
use crate::pca::Covariance;

/// How many fresh w samples measure the spread along each component (GANSpace uses 5000).
pub const STDEV_SAMPLES: usize = 5000;

/// What to compute.
#[derive(Clone, Copy, Debug)]
pub struct DiscoverOptions {
    /// Number of w samples for the covariance.
    pub samples: usize,
    /// Number of components to keep.
    pub components: usize,
    /// Seed of the z stream: z = `RandomState(seed).randn(samples + 5000, z_dim)`.
    pub seed: u32,
    /// Samples mapped per run.
    pub chunk: usize,
}

/// Samples `count` untruncated w ([count, w_dim]) from the next z of `stream`.
fn sample_w(
    generator: &dyn Backend,
    stream: &mut RandomState,
    count: usize,
) -> Result<Vec<f32>, DirectionsError> {
    let c = generator.model().config();
    let z = stream.randn_f32(count * c.z_dim);
    let ws = generator.map(&z, count, &Truncation::NONE)?;
    // Mapping broadcasts one w to every layer; keep the first copy.
    Ok(ws
        .chunks_exact(c.num_ws * c.w_dim)
        .flat_map(|item| &item[..c.w_dim])
        .copied()
        .collect())
}

/// The principal components of the model's W: exact covariance PCA of `samples` untruncated w
/// (z drawn as one stream from `RandomState(seed)`), sign-flipped so each row's largest entry is
/// positive, with the stdev along each component measured as GANSpace does: the standard deviation
/// (ddof 0) of the projections of [`STDEV_SAMPLES`] fresh w, the next ones of the same stream.
/// `progress(done, total)` is called after each chunk.
pub fn discover(
    generator: &dyn Backend,
    options: &DiscoverOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Components, DirectionsError> {
    let c = generator.model().config();
    let k = options.components;
    if k == 0 || k > c.w_dim {
        return Err(DirectionsError::request(
            format!("cannot keep {k} components of a {}-dimensional W", c.w_dim),
            Some(format!("ask for 1 to {} components", c.w_dim)),
        ));
    }
    if options.samples < 2 * k.max(2) {
        return Err(DirectionsError::request(
            format!("{} samples are too few for {k} components", options.samples),
            Some("use thousands of samples; GANSpace uses 300,000".into()),
        ));
    }
    let chunk = options.chunk.max(1);
    let total = options.samples + STDEV_SAMPLES;
    let mut stream = RandomState::new(options.seed);
    let mut sums = Covariance::new(c.w_dim);
    let mut done = 0;
    while done < options.samples {
        let count = chunk.min(options.samples - done);
        let w = sample_w(generator, &mut stream, count)?;
        sums = sums.merged(Covariance::of_rows(&w, c.w_dim));
        done += count;
        progress(done, total);
    }
    let pca = sums.principal_components(k);

    let mut projections = vec![Vec::with_capacity(STDEV_SAMPLES); k];
    let mut fresh = 0;
    while fresh < STDEV_SAMPLES {
        let count = chunk.min(STDEV_SAMPLES - fresh);
        let w = sample_w(generator, &mut stream, count)?;
        for row in w.chunks_exact(c.w_dim) {
            for (i, p) in projections.iter_mut().enumerate() {
                let v = &pca.vectors[i * c.w_dim..(i + 1) * c.w_dim];
                p.push(v.iter().zip(row).map(|(a, &b)| a * b as f64).sum::<f64>());
            }
        }
        fresh += count;
        progress(options.samples + fresh, total);
    }
    let stdev = projections.iter().map(|p| std_ddof0(p) as f32).collect();
    Ok(Components {
        w_dim: c.w_dim,
        vectors: pca.vectors.iter().map(|&v| v as f32).collect(),
        mean: pca.mean.iter().map(|&v| v as f32).collect(),
        stdev,
        explained_variance_ratio: pca.variance_ratios.iter().map(|&v| v as f32).collect(),
        info: ComponentsInfo {
            samples: Some(options.samples as u64),
            seed: Some(options.seed),
            method: format!(
                "exact covariance PCA of untruncated w; stdev from {STDEV_SAMPLES} fresh samples (ddof 0)"
            ),
        },
    })
}

/// Population standard deviation.
fn std_ddof0(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}
