//! Importing GANSpace's precomputed directions: the `.npz` written by its decomposition.py
//! (`lat_comp` [k, 1, w_dim], `lat_mean` [1, w_dim], `lat_stdev` [k], `var_ratio` [k]).

use std::path::Path;

use npyz::npz::NpzArchive;

use crate::components::{Components, ComponentsInfo};
use crate::error::DirectionsError;

/// One array of the archive as f32 with its shape; float32 and float64 arrays are accepted.
fn array(
    archive: &mut NpzArchive<std::io::BufReader<std::fs::File>>,
    path: &Path,
    name: &str,
) -> Result<(Vec<usize>, Vec<f32>), DirectionsError> {
    let invalid = |reason: String| DirectionsError::invalid(path, reason);
    let npy = archive
        .by_name(name)
        .map_err(|e| invalid(format!("cannot read `{name}`: {e}")))?
        .ok_or_else(|| {
            invalid(format!(
                "has no array `{name}`; a GANSpace file holds lat_comp, lat_mean, lat_stdev and var_ratio"
            ))
        })?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    if npy.order() != npyz::Order::C {
        return Err(invalid(format!("`{name}` is stored in Fortran order")));
    }
    let descr = npy.dtype().descr();
    let read_err = |e: std::io::Error| invalid(format!("cannot read `{name}`: {e}"));
    let data = match descr.as_str() {
        "'<f4'" => npy.into_vec::<f32>().map_err(read_err)?,
        "'<f8'" => npy
            .into_vec::<f64>()
            .map_err(read_err)?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        other => {
            return Err(invalid(format!(
                "`{name}` has dtype {other}; expected float32 or float64"
            )));
        }
    };
    Ok((shape, data))
}

/// The number of samples from a GANSpace file name's `_n300000` tag, if it has one.
fn samples_from_name(name: &str) -> Option<u64> {
    name.split('_')
        .filter_map(|part| part.strip_prefix('n'))
        .map(|rest| rest.split('.').next().unwrap_or(rest))
        .find_map(|digits| digits.parse().ok())
}

/// Reads a GANSpace `.npz` into components for a model whose w has `w_dim` entries. Rows are
/// re-normalised to unit length (as GANSpace does); stdev is `lat_stdev`, the spread of fresh samples.
pub fn import_npz(path: &Path, w_dim: usize) -> Result<Components, DirectionsError> {
    let mut archive = NpzArchive::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => {
            DirectionsError::invalid(path, format!("not an .npz archive: {e}"))
        }
        _ => DirectionsError::Read {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    let (comp_shape, mut vectors) = array(&mut archive, path, "lat_comp")?;
    let (_, mean) = array(&mut archive, path, "lat_mean")?;
    let (_, stdev) = array(&mut archive, path, "lat_stdev")?;
    let (_, explained_variance_ratio) = array(&mut archive, path, "var_ratio")?;
    let file_dim = comp_shape.last().copied().unwrap_or(0);
    let k = comp_shape.first().copied().unwrap_or(0);
    if comp_shape.iter().product::<usize>() != k * file_dim || k == 0 {
        return Err(DirectionsError::invalid(
            path,
            format!("`lat_comp` has shape {comp_shape:?}; expected [k, 1, w_dim]"),
        ));
    }
    if file_dim != w_dim {
        return Err(DirectionsError::invalid(
            path,
            format!(
                "the directions are {file_dim}-dimensional, but the model's w has {w_dim} entries; \
                 import directions made for this model"
            ),
        ));
    }
    for row in vectors.chunks_exact_mut(w_dim) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let components = Components {
        w_dim,
        vectors,
        mean,
        stdev,
        explained_variance_ratio,
        info: ComponentsInfo {
            samples: samples_from_name(&name),
            seed: None,
            method: format!("imported from GANSpace file {name}"),
        },
    };
    components.check(path)?;
    Ok(components)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sample_count_from_ganspace_names() {
        assert_eq!(
            samples_from_name("stylegan2-lookbook_style_ipca_c80_n300000_w.npz"),
            Some(300_000)
        );
        assert_eq!(samples_from_name("directions.npz"), None);
    }
}
