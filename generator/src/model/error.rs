//! The error type of model loading and construction.

use std::path::PathBuf;

/// Why a model folder or configuration could not be used. Every variant about a file names it, and
/// every variant about a tensor names the tensor.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read (missing, unreadable, …).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a readable safetensors file (truncated, corrupt header, …).
    #[error("{path} is not a valid safetensors file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser reported.
        reason: String,
    },
    /// A metadata entry is missing, malformed, unsupported or inconsistent.
    #[error("{path}: metadata `{key}`: {reason}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The metadata key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor the metadata calls for is absent.
    #[error("{path}: tensor `{tensor}` is missing")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
    },
    /// A tensor's shape disagrees with the metadata.
    #[error("{path}: tensor `{tensor}` has shape {found:?}, but the metadata implies {expected:?}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// The shape implied by the metadata.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor is stored in an unsupported element type.
    #[error("{path}: tensor `{tensor}` has dtype {dtype}; only F32 and F16 are supported")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// The dtype found.
        dtype: String,
    },
    /// A tensor holds NaN or infinity.
    #[error("{path}: tensor `{tensor}` holds a non-finite value ({value}) at element {index}")]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// Flat index of the first bad element.
        index: usize,
        /// The bad value.
        value: f32,
    },
    /// A tensor exists that the metadata says should not (for example an extra mapping layer).
    #[error("{path}: tensor `{tensor}` contradicts the metadata: {reason}")]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// Why it contradicts the metadata.
        reason: String,
    },
    /// The configuration does not describe a buildable network.
    #[error("invalid model configuration: {0}")]
    Config(String),
}
