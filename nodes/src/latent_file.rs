//! W+ latents in numpy files: reading `.npy` / `.npz` arrays of float32 or float64, shaped
//! [n, num_ws, w_dim] or [n, w_dim], and writing float32 [n, num_ws, w_dim] atomically.

use std::io::{Read, Seek, Write};
use std::path::Path;

use drape_engine::NodeError;
use npyz::npz::{NpzArchive, NpzWriter};
use npyz::{DType, NpyFile, Order, TypeChar, WriterBuilder};

use crate::atomic::write_atomically;

/// The array name stylegan2-ada's projector writes (`projected_w.npz`), and the one drape writes.
pub const NPZ_KEY: &str = "w";

/// The numbers of a file's array, read as float32, with its shape.
#[derive(Debug, PartialEq)]
pub struct Array {
    /// As stored.
    pub shape: Vec<u64>,
    /// Row-major.
    pub data: Vec<f32>,
}

/// The two kinds of file, by extension.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    /// One array.
    Npy,
    /// A zip of named arrays.
    Npz,
}

impl Format {
    /// The format of `path`, or `None` for another extension.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "npy" => Some(Format::Npy),
            "npz" => Some(Format::Npz),
            _ => None,
        }
    }
}

fn file_error(path: &Path, what: impl std::fmt::Display) -> NodeError {
    NodeError::new(format!("{}: {what}", path.display()))
}

/// Reads the array of a `.npy` file, or array `key` of a `.npz` (by default `w`, or the only array).
pub fn read(path: &Path, key: Option<&str>) -> Result<Array, NodeError> {
    let io = |e: std::io::Error| file_error(path, format!("cannot read it: {e}"));
    match Format::of(path) {
        Some(Format::Npy) => {
            let mut file = std::fs::File::open(path).map_err(io)?;
            let size = file.metadata().map_err(io)?.len();
            check_header(path, &mut file, size)?;
            file.rewind().map_err(io)?;
            read_array(
                path,
                NpyFile::new(std::io::BufReader::new(file)).map_err(io)?,
                size,
            )
        }
        Some(Format::Npz) => {
            let mut archive = NpzArchive::open(path).map_err(io)?;
            let (name, names) = npz_name(path, &archive, key)?;
            let entry = npyz::npz::file_name_from_array_name(&name);
            let size = match archive.zip_archive().by_name(&entry) {
                Ok(mut file) => {
                    let size = file.size();
                    check_header(path, &mut file, size)?;
                    size
                }
                Err(_) => 0,
            };
            let Some(array) = archive.by_name(&name).map_err(io)? else {
                return Err(file_error(
                    path,
                    format!("has no array `{name}`; it holds {}", names.join(", ")),
                ));
            };
            read_array(path, array, size)
        }
        None => Err(file_error(path, "is not a .npy or .npz file")),
    }
}

/// The shape of the array `read` would read, from its header alone (checked as `read` checks it).
pub fn shape(path: &Path, key: Option<&str>) -> Result<Vec<u64>, NodeError> {
    let io = |e: std::io::Error| file_error(path, format!("cannot read it: {e}"));
    match Format::of(path) {
        Some(Format::Npy) => {
            let mut file = std::fs::File::open(path).map_err(io)?;
            let size = file.metadata().map_err(io)?.len();
            check_header(path, &mut file, size)
        }
        Some(Format::Npz) => {
            let mut archive = NpzArchive::open(path).map_err(io)?;
            let (name, names) = npz_name(path, &archive, key)?;
            let entry = npyz::npz::file_name_from_array_name(&name);
            let mut file = archive.zip_archive().by_name(&entry).map_err(|_| {
                file_error(
                    path,
                    format!("has no array `{name}`; it holds {}", names.join(", ")),
                )
            })?;
            let size = file.size();
            check_header(path, &mut file, size)
        }
        None => Err(file_error(path, "is not a .npy or .npz file")),
    }
}

/// The array of an archive to read: `key`, else `w`, else the only one; with all the names.
fn npz_name<R: Read + Seek>(
    path: &Path,
    archive: &NpzArchive<R>,
    key: Option<&str>,
) -> Result<(String, Vec<String>), NodeError> {
    let names: Vec<String> = archive.array_names().map(str::to_string).collect();
    let name = match key {
        Some(key) => key.to_string(),
        None if names.iter().any(|n| n == NPZ_KEY) => NPZ_KEY.to_string(),
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(file_error(
                path,
                format!(
                    "holds the arrays {}, and none is named `{NPZ_KEY}`",
                    names.join(", ")
                ),
            )
            .with_help("name the array to read with `key`"));
        }
    };
    Ok((name, names))
}

/// Reads the header of a `.npy` stream and checks that its shape's element count fits in 64 bits
/// and in `available` bytes, before any numpy reader computes with it; returns the shape.
fn check_header(
    path: &Path,
    reader: &mut impl Read,
    available: u64,
) -> Result<Vec<u64>, NodeError> {
    let damaged = |what: &str| {
        file_error(path, format!("is not a readable numpy array: {what}"))
            .with_help("write it again with np.save or np.savez")
    };
    let mut start = [0u8; 12];
    reader
        .read_exact(&mut start[..8])
        .map_err(|_| damaged("it ends inside the header"))?;
    if &start[..6] != b"\x93NUMPY" {
        return Err(damaged("it does not start with the numpy magic bytes"));
    }
    let len = match start[6] {
        1 => {
            reader
                .read_exact(&mut start[8..10])
                .map_err(|_| damaged("it ends inside the header"))?;
            u16::from_le_bytes([start[8], start[9]]) as usize
        }
        2 | 3 => {
            reader
                .read_exact(&mut start[8..12])
                .map_err(|_| damaged("it ends inside the header"))?;
            u32::from_le_bytes([start[8], start[9], start[10], start[11]]) as usize
        }
        v => return Err(damaged(&format!("format version {v} is unknown"))),
    };
    if len > 1 << 20 {
        return Err(damaged("its header is longer than 1 MiB"));
    }
    let mut header = vec![0u8; len];
    reader
        .read_exact(&mut header)
        .map_err(|_| damaged("it ends inside the header"))?;
    let header = String::from_utf8_lossy(&header);
    let shape = parse_shape(&header).ok_or_else(|| damaged("its header has no readable shape"))?;
    // The item size is checked once the dtype is known; one byte each is the least any dtype takes.
    if checked_size(&shape, 1, available).is_none() {
        return Err(too_large(path, &shape, available));
    }
    Ok(shape)
}

/// The `'shape': (a, b, …)` tuple of a numpy header; `None` when absent or not integers.
fn parse_shape(header: &str) -> Option<Vec<u64>> {
    let after = &header[header.find("'shape'")? + "'shape'".len()..];
    let open = after.find('(')?;
    let close = after[open..].find(')')? + open;
    after[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_end_matches('L').parse().ok())
        .collect()
}

fn too_large(path: &Path, shape: &[u64], available: u64) -> NodeError {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    file_error(
        path,
        format!(
            "says its array has shape ({}), more than its {available} bytes can hold",
            dims.join(", ")
        ),
    )
    .with_help(
        "the file is damaged or was not written by numpy; write it again with np.save or np.savez",
    )
}

/// The number of elements of `shape` and their bytes at `item` bytes each, when they fit in
/// `available` bytes (what the file really holds); `None` when the product overflows or exceeds it.
fn checked_size(shape: &[u64], item: u64, available: u64) -> Option<usize> {
    let count = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d))?;
    let bytes = count.checked_mul(item)?;
    (bytes <= available).then(|| usize::try_from(count).ok())?
}

/// Reads the whole array; `available` is the size of what holds it (the file, or the archive
/// entry), which its header's shape must not exceed.
fn read_array<R: Read>(path: &Path, array: NpyFile<R>, available: u64) -> Result<Array, NodeError> {
    let shape = array.shape().to_vec();
    let fortran = array.order() == Order::Fortran;
    let io = |e: std::io::Error| file_error(path, format!("cannot read its array: {e}"));
    let item = match array.dtype() {
        DType::Plain(t) => t.num_bytes().unwrap_or(0) as u64,
        _ => 0,
    };
    let Some(count) = checked_size(&shape, item.max(1), available) else {
        return Err(too_large(path, &shape, available));
    };
    let data = match array.dtype() {
        DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 4 => {
            read_exactly::<f32, R>(array, count).map_err(io)?
        }
        DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 8 => {
            let wide = read_exactly::<f64, R>(array, count).map_err(io)?;
            wide.into_iter().map(|v| v as f32).collect()
        }
        other => {
            let found = match other {
                DType::Plain(t) => format!("`{t}` numbers"),
                _ => "structured records".into(),
            };
            return Err(file_error(
                path,
                format!("holds {found}; drape reads float32 or float64"),
            ));
        }
    };
    if data.iter().any(|v| !v.is_finite()) {
        return Err(file_error(path, "holds NaN or infinite values"));
    }
    // Column-major arrays (numpy's `fortran_order`) are reordered to row-major; `data` holds
    // exactly `count` values, the shape's product.
    let data = if fortran {
        let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        drape_directions::fortran_to_c(&data, &dims)
    } else {
        data
    };
    Ok(Array { shape, data })
}

/// Reads `count` values, reserving no more than that (the header's own count is not trusted).
fn read_exactly<T: npyz::Deserialize, R: Read>(
    array: NpyFile<R>,
    count: usize,
) -> std::io::Result<Vec<T>> {
    let mut values = Vec::with_capacity(count);
    let reader = array
        .data::<T>()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    for value in reader.take(count) {
        values.push(value?);
    }
    if values.len() < count {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("it ends after {} of its {count} values", values.len()),
        ));
    }
    Ok(values)
}

/// The array as W+ for a model of `num_ws` × `w_dim`: [n, num_ws, w_dim] as is, [n, w_dim]
/// repeated to every layer. Returns n and the [n, num_ws, w_dim] data.
pub fn to_w_plus(
    path: &Path,
    array: Array,
    num_ws: usize,
    w_dim: usize,
) -> Result<(usize, Vec<f32>), NodeError> {
    let (num_ws_u, w_dim_u) = (num_ws as u64, w_dim as u64);
    match array.shape[..] {
        [n, l, d] if (l, d) == (num_ws_u, w_dim_u) => Ok((n as usize, array.data)),
        [n, d] if d == w_dim_u => Ok((
            n as usize,
            drape_generator::truncation::broadcast(&array.data, w_dim, num_ws),
        )),
        _ => Err(file_error(
            path,
            format!(
                "holds an array of shape {:?}, but the model takes [n, {num_ws}, {w_dim}] (W+) or [n, {w_dim}] (one w per design)",
                array.shape
            ),
        )
        .with_help("the latents must come from a model of the same size as the graph's")),
    }
}

/// Writes `data` as float32 [n, num_ws, w_dim] to a `.npy`, or to array `w` of a `.npz`, through a
/// temporary file renamed into place.
pub fn write(path: &Path, data: &[f32], shape: [usize; 3]) -> Result<(), NodeError> {
    let format = Format::of(path).ok_or_else(|| file_error(path, "must end in .npy or .npz"))?;
    let shape = shape.map(|d| d as u64);
    write_atomically(path, |out| {
        match format {
            Format::Npy => write_npy(out, data, &shape),
            Format::Npz => write_npz(out, data, &shape),
        }
        .map_err(|e| e.to_string())
    })
}

fn write_npy<W: Write>(out: W, data: &[f32], shape: &[u64]) -> std::io::Result<()> {
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(out)
        .begin_nd()?;
    writer.extend(data.iter().copied())?;
    writer.finish()
}

fn write_npz<W: Write + Seek>(out: W, data: &[f32], shape: &[u64]) -> std::io::Result<()> {
    let mut npz = NpzWriter::new(out);
    // Uncompressed, like numpy's savez (which the projector uses).
    let options = npyz::zip::write::FileOptions::default()
        .compression_method(npyz::zip::CompressionMethod::Stored);
    let mut writer = npz
        .array::<f32>(NPZ_KEY, options)?
        .default_dtype()
        .shape(shape)
        .begin_nd()?;
    writer.extend(data.iter().copied())?;
    writer.finish()?;
    npz.zip_writer().finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures")
            .join(name)
    }

    #[test]
    fn a_round_trip_keeps_every_value_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
        for name in ["w.npy", "w.npz"] {
            let path = dir.path().join("sub").join(name);
            write(&path, &data, [2, 3, 2]).unwrap();
            let array = read(&path, None).unwrap();
            assert_eq!(
                array,
                Array {
                    shape: vec![2, 3, 2],
                    data: data.clone()
                }
            );
        }
        let leftovers = std::fs::read_dir(dir.path().join("sub")).unwrap().count();
        assert_eq!(leftovers, 2, "no temporary files remain");
    }

    #[test]
    fn reads_float64_w_written_by_numpy() {
        // tests/fixtures/README.md: w = np.arange(80).reshape(2, 40) / 8 - 5, float64.
        let array = read(&fixture("latent-w-2x40-f64.npy"), None).unwrap();
        assert_eq!(array.shape, [2, 40]);
        assert_eq!(array.data[0], -5.0);
        assert_eq!(array.data[41], 41.0 / 8.0 - 5.0);
        let (n, ws) = to_w_plus(Path::new("w.npy"), array, 8, 40).unwrap();
        assert_eq!(n, 2);
        assert_eq!(ws.len(), 2 * 8 * 40);
        // Design 1, layer 5, element 1 is w[1][1].
        assert_eq!(ws[(8 + 5) * 40 + 1], 41.0 / 8.0 - 5.0);
    }

    #[test]
    fn reads_a_projector_style_npz_written_by_numpy() {
        // tests/fixtures/README.md: np.savez(path, w=w) with w float32 [1, 8, 40],
        // w[0, l, d] = l - d / 64.
        let array = read(&fixture("latent-projected_w-1x8x40.npz"), None).unwrap();
        assert_eq!(array.shape, [1, 8, 40]);
        assert_eq!(array.data[3 * 40 + 16], 3.0 - 16.0 / 64.0);
        let (n, ws) = to_w_plus(Path::new("p.npz"), array, 8, 40).unwrap();
        assert_eq!((n, ws.len()), (1, 320));
    }

    #[test]
    fn a_wrong_shape_names_the_file_and_both_shapes() {
        let array = Array {
            shape: vec![2, 14, 512],
            data: vec![0.0; 2 * 14 * 512],
        };
        let error = to_w_plus(Path::new("lat/w.npz"), array, 8, 40).unwrap_err();
        assert_eq!(
            error.message,
            "lat/w.npz: holds an array of shape [2, 14, 512], but the model takes [n, 8, 40] (W+) or [n, 40] (one w per design)"
        );
    }

    #[test]
    fn other_arrays_and_files_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let ints = dir.path().join("ints.npy");
        npyz::to_file_1d(&ints, [1i32, 2, 3]).unwrap();
        assert!(
            read(&ints, None)
                .unwrap_err()
                .message
                .contains("`<i4` numbers")
        );
        let npz = dir.path().join("w.npz");
        write(&npz, &[0.0; 4], [1, 2, 2]).unwrap();
        assert!(
            read(&npz, Some("latents"))
                .unwrap_err()
                .message
                .contains("has no array `latents`; it holds w")
        );
        assert!(
            read(&dir.path().join("w.txt"), None)
                .unwrap_err()
                .message
                .contains("not a .npy or .npz")
        );
        assert!(
            read(&dir.path().join("missing.npy"), None)
                .unwrap_err()
                .message
                .contains("cannot read it")
        );
    }

    #[test]
    fn fortran_ordered_arrays_read_like_c_ordered_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (n, d) = (2usize, 3usize);
        let w: Vec<f32> = (0..n * d).map(|i| i as f32).collect();
        let column_major: Vec<f32> = (0..d)
            .flat_map(|j| (0..n).map(move |i| (i * d + j) as f32))
            .collect();
        let path = dir.path().join("f.npy");
        let dict = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
        let mut header = dict.as_bytes().to_vec();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header);
        bytes.extend(column_major.iter().flat_map(|v| v.to_le_bytes()));
        std::fs::write(&path, bytes).unwrap();
        let array = read(&path, None).unwrap();
        assert_eq!(array.shape, [2, 3]);
        assert_eq!(array.data, w);
    }

    /// A `.npy` of `header_shape` (float32, C order) followed by `data_bytes` bytes of data.
    fn hostile_npy(
        dir: &Path,
        name: &str,
        header_shape: &str,
        data_bytes: usize,
    ) -> std::path::PathBuf {
        let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {header_shape}, }}");
        let mut header = dict.into_bytes();
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header);
        bytes.extend(vec![0u8; data_bytes]);
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn shapes_larger_than_the_file_are_refused_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        for (name, shape) in [
            // 2^57 · 10 · 128 · 4 bytes wraps to 0 in 64 bits.
            ("wraps.npy", "(144115188075855872, 10, 128)"),
            ("overflows.npy", "(9223372036854775808, 10, 128)"),
            ("too-long.npy", "(1000, 10, 128)"),
        ] {
            let path = hostile_npy(dir.path(), name, shape, 64);
            let err = read(&path, None).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
            assert!(err.contains("more than its"), "{err}");
        }
        // A header that fits, with the data cut short, is an error too.
        let short = hostile_npy(dir.path(), "short.npy", "(2, 4)", 16);
        let err = read(&short, None).unwrap_err().to_string();
        assert!(err.contains("short.npy"), "{err}");
        let whole = hostile_npy(dir.path(), "whole.npy", "(2, 4)", 32);
        assert_eq!(read(&whole, None).unwrap().data, vec![0.0; 8]);
    }
}
