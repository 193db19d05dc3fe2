//! Attribute directions in a model's W space: the principal components of w (found here by exact
//! covariance PCA, or imported from a GANSpace `.npz`), the named directions a person gives them in
//! `directions.ron`, and the edit maths that moves designs along them.
//!
//! A model folder may hold, beside `generator.safetensors`:
//! - [`COMPONENTS_FILE`]: the components ([`Components`]), written by discovery or import;
//! - [`NAMED_FILE`]: named directions ([`NamedDirections`]), written by hand.
//!
//! [`DirectionSet`] loads both for a model and resolves a name or component index into an [`Edit`].

mod components;
mod discover;
mod edit;
mod error;
mod layers;
mod named;
mod npz;
mod pca;
mod set;

pub use components::{COMPONENTS_FILE, Components, ComponentsInfo};
pub use discover::{DiscoverOptions, STDEV_SAMPLES, discover};
pub use edit::{Convention, Edit, apply_edits};
pub use error::DirectionsError;
pub use layers::{LayerRange, parse_layers};
pub use named::{NAMED_FILE, NamedDirection, NamedDirections, Source, Unit};
pub use npz::{fortran_to_c, import_npz};
pub use pca::{Covariance, Pca};
pub use set::{
    DirectionSet, Resolved, Target, check_names, direction_names, fingerprint, format_amount,
};
