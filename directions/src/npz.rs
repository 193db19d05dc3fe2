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
    let fortran = npy.order() == npyz::Order::Fortran;
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
    if data.len() != shape.iter().product::<usize>() {
        return Err(invalid(format!(
            "`{name}` holds {} values, not the {} its shape {shape:?} needs",
            data.len(),
            shape.iter().product::<usize>()
        )));
    }
    let data = if fortran {
        fortran_to_c(&data, &shape)
    } else {
        data
    };
    Ok((shape, data))
}

/// Reorders an array stored in Fortran (column-major) order to C (row-major) order, as
/// scikit-learn's PCA leaves GANSpace's `lat_comp`. `data` must hold exactly the shape's elements.
///
/// # Panics
/// When `data` is shorter than the shape says.
pub fn fortran_to_c(data: &[f32], shape: &[usize]) -> Vec<f32> {
    // Fortran strides: the first axis varies fastest.
    let mut strides = vec![1usize; shape.len()];
    for d in 1..shape.len() {
        strides[d] = strides[d - 1] * shape[d - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut out = Vec::with_capacity(data.len());
    for _ in 0..data.len() {
        out.push(
            data[index
                .iter()
                .zip(&strides)
                .map(|(i, s)| i * s)
                .sum::<usize>()],
        );
        for d in (0..shape.len()).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    out
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

    /// A GANSpace-like file with `lat_comp` [k, 1, w_dim] stored in `order`.
    fn write_ganspace(path: &Path, order: npyz::Order, comp: &[f32], k: usize, w_dim: usize) {
        use npyz::WriterBuilder;
        let mut npz = npyz::npz::NpzWriter::create(path).unwrap();
        let options = npyz::zip::write::FileOptions::default();
        let stored: Vec<f32> = match order {
            npyz::Order::C => comp.to_vec(),
            // Column-major: the first axis varies fastest.
            npyz::Order::Fortran => (0..w_dim)
                .flat_map(|j| (0..k).map(move |i| comp[i * w_dim + j]))
                .collect(),
        };
        let arrays: [(&str, Vec<u64>, Vec<f32>, npyz::Order); 4] = [
            ("lat_comp", vec![k as u64, 1, w_dim as u64], stored, order),
            (
                "lat_mean",
                vec![1, w_dim as u64],
                vec![0.5; w_dim],
                npyz::Order::C,
            ),
            ("lat_stdev", vec![k as u64], vec![2.0; k], npyz::Order::C),
            ("var_ratio", vec![k as u64], vec![0.1; k], npyz::Order::C),
        ];
        for (name, shape, data, order) in arrays {
            let mut writer = npz
                .array::<f32>(name, options)
                .unwrap()
                .default_dtype()
                .shape(&shape)
                .order(order)
                .begin_nd()
                .unwrap();
            writer.extend(data).unwrap();
            writer.finish().unwrap();
        }
    }

    #[test]
    fn fortran_ordered_components_read_like_c_ordered_ones() {
        let (k, w_dim) = (3, 4);
        let comp: Vec<f32> = (0..k * w_dim).map(|i| (i as f32 * 0.7).sin()).collect();
        let dir = tempfile::tempdir().unwrap();
        let (c, f) = (dir.path().join("c.npz"), dir.path().join("f.npz"));
        write_ganspace(&c, npyz::Order::C, &comp, k, w_dim);
        write_ganspace(&f, npyz::Order::Fortran, &comp, k, w_dim);
        let from_c = import_npz(&c, w_dim).unwrap();
        let from_f = import_npz(&f, w_dim).unwrap();
        assert_eq!(from_c.vectors, from_f.vectors);
        assert_eq!(from_c.stdev, from_f.stdev);
    }
}
