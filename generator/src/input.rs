//! Checks on caller-supplied latents: lengths and finiteness.

/// A latent buffer passed to `map` or `synthesize` does not fit the model or the batch.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InputError {
    /// Wrong number of values.
    #[error("{what} has {found} values, but batch {batch} needs {expected} ({layout})")]
    Length {
        /// Which input.
        what: &'static str,
        /// Values given.
        found: usize,
        /// Values needed.
        expected: usize,
        /// Batch size asked for.
        batch: usize,
        /// The expected layout, e.g. `[batch, num_ws, w_dim]`.
        layout: String,
    },
    /// A NaN or infinity in the input.
    #[error("{what} holds a non-finite value ({value}) at element {index}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Flat index.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A batch of zero designs.
    #[error("batch size must be at least 1")]
    EmptyBatch,
}

/// Checks that `values` holds `batch·per_sample` finite numbers.
pub fn check(
    what: &'static str,
    values: &[f32],
    batch: usize,
    per_sample: usize,
    layout: &str,
) -> Result<(), InputError> {
    if batch == 0 {
        return Err(InputError::EmptyBatch);
    }
    if values.len() != batch * per_sample {
        return Err(InputError::Length {
            what,
            found: values.len(),
            expected: batch * per_sample,
            batch,
            layout: layout.to_string(),
        });
    }
    if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(InputError::NonFinite { what, index, value });
    }
    Ok(())
}

/// Checks latents z `[batch, z_dim]` for `config`.
pub fn check_z(config: &crate::ModelConfig, z: &[f32], batch: usize) -> Result<(), InputError> {
    check("z", z, batch, config.z_dim, "[batch, z_dim]")
}

/// Checks per-layer latents ws `[batch, num_ws, w_dim]` for `config`.
pub fn check_ws(config: &crate::ModelConfig, ws: &[f32], batch: usize) -> Result<(), InputError> {
    check(
        "ws",
        ws,
        batch,
        config.num_ws * config.w_dim,
        "[batch, num_ws, w_dim]",
    )
}
