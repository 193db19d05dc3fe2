//! The error type of the directions crate: every variant about a file names it.

use std::path::PathBuf;

use drape_engine::Diagnostics;

/// Why directions could not be read, written, computed or applied.
#[derive(Debug, thiserror::Error)]
pub enum DirectionsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A components file (safetensors or npz) is malformed or does not fit the model.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and, where it helps, what to do.
        reason: String,
    },
    /// `directions.ron` has problems, each located at file:line:col.
    #[error("{0}")]
    Named(Diagnostics),
    /// A request that does not fit the model or the files (unknown name, index out of range, …).
    #[error("{message}")]
    Request {
        /// What is wrong.
        message: String,
        /// What to do about it.
        help: Option<String>,
    },
    /// The generator failed while sampling w.
    #[error("sampling w failed: {0}")]
    Backend(#[from] drape_generator::BackendError),
}

impl DirectionsError {
    pub(crate) fn invalid(path: &std::path::Path, reason: impl Into<String>) -> Self {
        DirectionsError::Invalid {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    pub(crate) fn request(message: impl Into<String>, help: Option<String>) -> Self {
        DirectionsError::Request {
            message: message.into(),
            help,
        }
    }

    /// Advice for the user, when the error carries some.
    pub fn help(&self) -> Option<&str> {
        match self {
            DirectionsError::Request { help, .. } => help.as_deref(),
            _ => None,
        }
    }
}
