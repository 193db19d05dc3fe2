//! The error type of checkpoint import: every variant names the file.

use std::path::PathBuf;

/// Why a checkpoint could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bytes are not a readable torch checkpoint or pickle (truncated, damaged, …).
    #[error("{path} is not a readable torch checkpoint or network pickle: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The pickle names a global outside the allow-list; nothing from the file was run.
    #[error(
        "{path}: the pickle needs the Python global `{global}`, which drape does not load (it reads \
         only torch tensors and storages, OrderedDict and stylegan2-ada persistence objects, and \
         never runs code from the file)"
    )]
    UnknownGlobal {
        /// The file.
        path: PathBuf,
        /// `module.name`.
        global: String,
    },
    /// A tensor the network needs is absent.
    #[error("{path}: tensor `{tensor}` is missing (it is needed for `{canonical}`)")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The name in the file's own naming.
        tensor: String,
        /// The canonical drape name.
        canonical: String,
    },
    /// A tensor has the wrong shape.
    #[error("{path}: tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// The name in the file.
        tensor: String,
        /// The shape the network implies.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },
    /// The file is readable but holds something drape cannot use (not StyleGAN2, conditional, …).
    #[error("{path}: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What was expected and what was found.
        reason: String,
    },
    /// The output folder exists and is not empty.
    #[error("{path} already exists and is not empty; choose another --out or remove it")]
    OutExists {
        /// The folder.
        path: PathBuf,
    },
    /// Writing the model folder failed (nothing is left at the output path).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The converted weights did not make a valid drape model.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
}
