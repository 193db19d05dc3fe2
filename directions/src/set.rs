//! The directions of one model folder: its components and named directions loaded together and
//! checked against the model, and the resolution of a name or component index into an [`Edit`].

use std::path::Path;

use drape_engine::registry::did_you_mean;

use crate::components::{COMPONENTS_FILE, Components};
use crate::edit::Edit;
use crate::error::DirectionsError;
use crate::layers::LayerRange;
use crate::named::{NAMED_FILE, NamedDirections, Source, Unit};

/// What an edit moves along.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A named direction of `directions.ron`.
    Named(String),
    /// A component of `components.safetensors`, by index.
    Component(usize),
}

/// A model's components and named directions (either may be absent).
#[derive(Clone, Debug)]
pub struct DirectionSet {
    /// `components.safetensors`, if the model has one.
    pub components: Option<Components>,
    /// `directions.ron`, if the model has one.
    pub named: Option<NamedDirections>,
    num_ws: usize,
}

/// A resolved edit with what to record about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// The edit to apply.
    pub edit: Edit,
    /// `dark=+2σ` style name and value: the direction's name (or `c5`) and the signed amount.
    pub record: (String, String),
}

/// The signed amount with its unit: `+2σ`, `-1.5σ`, `+10`.
pub fn format_amount(amount: f64, unit: Unit) -> String {
    format!("{amount:+}{}", unit.suffix())
}

/// A content hash of a model folder's direction files, so that editing them changes cache keys.
pub fn fingerprint(model_dir: &Path) -> String {
    let mut h = blake3::Hasher::new();
    for name in [COMPONENTS_FILE, NAMED_FILE] {
        h.update(name.as_bytes());
        match std::fs::read(model_dir.join(name)) {
            Ok(bytes) => h.update(b"\x01").update(&bytes),
            Err(_) => h.update(b"\x00"),
        };
    }
    h.finalize().to_hex().to_string()
}

/// The error for a direction name the model does not have, with a suggestion and the names.
fn unknown_direction(name: &str, names: &[&str]) -> DirectionsError {
    let help = if names.is_empty() {
        format!(
            "the model has no named directions; write {NAMED_FILE} in the model folder \
             (see docs/directions.md) or edit by `component`"
        )
    } else {
        let hint = did_you_mean(name, names.iter().copied())
            .map(|s| format!("did you mean \"{s}\"? "))
            .unwrap_or_default();
        format!("{hint}the directions are: {}", names.join(", "))
    };
    DirectionsError::request(format!("unknown direction \"{name}\""), Some(help))
}

/// The names of the model's directions in `model_dir`, from `directions.ron` alone (none without it).
pub fn direction_names(model_dir: &Path) -> Result<Vec<String>, DirectionsError> {
    let path = model_dir.join(NAMED_FILE);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let named = NamedDirections::load(&path)?;
    Ok(named.directions.into_iter().map(|d| d.name).collect())
}

/// Checks, from `directions.ron` alone, that the model in `model_dir` has directions of these names
/// (for validating a graph before the model is loaded).
pub fn check_names(model_dir: &Path, names: &[&str]) -> Result<(), DirectionsError> {
    if names.is_empty() {
        return Ok(());
    }
    let known = direction_names(model_dir)?;
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    match names.iter().find(|name| !known.contains(name)) {
        Some(name) => Err(unknown_direction(name, &known)),
        None => Ok(()),
    }
}

impl DirectionSet {
    /// Loads the direction files of `model_dir` for a model with w of `w_dim` entries and `num_ws`
    /// layers, checking them against it.
    pub fn load(model_dir: &Path, w_dim: usize, num_ws: usize) -> Result<Self, DirectionsError> {
        let components_path = model_dir.join(COMPONENTS_FILE);
        let components = if components_path.is_file() {
            let c = Components::load(&components_path)?;
            if c.w_dim != w_dim {
                return Err(DirectionsError::invalid(
                    &components_path,
                    format!(
                        "the components are {}-dimensional, but the model's w has {w_dim} entries",
                        c.w_dim
                    ),
                ));
            }
            Some(c)
        } else {
            None
        };
        let named_path = model_dir.join(NAMED_FILE);
        let named = if named_path.is_file() {
            let n = NamedDirections::load(&named_path)?;
            n.check_model(w_dim, num_ws, components.as_ref().map(Components::len))
                .map_err(DirectionsError::Named)?;
            Some(n)
        } else {
            None
        };
        Ok(DirectionSet {
            components,
            named,
            num_ws,
        })
    }

    /// The names of the named directions, in file order.
    pub fn names(&self) -> Vec<&str> {
        self.named
            .iter()
            .flat_map(|n| n.directions.iter().map(|d| d.name.as_str()))
            .collect()
    }

    fn component(&self, k: usize) -> Result<(&Components, usize), DirectionsError> {
        let c = self.components.as_ref().ok_or_else(|| {
            DirectionsError::request(
                "the model has no components file",
                Some("run `drape directions discover --model MODEL` (or `import`) first".into()),
            )
        })?;
        if k >= c.len() {
            return Err(DirectionsError::request(
                format!(
                    "component {k} does not exist: the model has components 0..{}",
                    c.len()
                ),
                None,
            ));
        }
        Ok((c, k))
    }

    /// Resolves one edit. Amount, unit and layers default to the named direction's, else to 1,
    /// σ and every layer.
    pub fn resolve(
        &self,
        target: &Target,
        amount: Option<f64>,
        unit: Option<Unit>,
        layers: Option<LayerRange>,
    ) -> Result<Resolved, DirectionsError> {
        let (name, source, defaults) = match target {
            Target::Component(k) => (format!("c{k}"), Source::Component(*k), None),
            Target::Named(name) => {
                let Some(named) = self.named.as_ref().and_then(|n| n.get(name)) else {
                    return Err(unknown_direction(name, &self.names()));
                };
                (
                    name.clone(),
                    named.source.clone(),
                    Some((named.amount, named.unit, named.layers)),
                )
            }
        };
        let amount = amount.or(defaults.map(|d| d.0)).unwrap_or(1.0);
        let unit = unit.or(defaults.map(|d| d.1)).unwrap_or(Unit::Sigma);
        let layers = layers
            .or(defaults.and_then(|d| d.2))
            .unwrap_or(LayerRange::all(self.num_ws));
        if let Some(message) = layers.problem(self.num_ws) {
            return Err(DirectionsError::request(message, None));
        }
        let (vector, stdev) = match source {
            Source::Component(k) => {
                let (c, k) = self.component(k)?;
                (c.vector(k).to_vec(), Some(c.stdev[k]))
            }
            Source::Vector(v) => (v, None),
        };
        let offset = match (unit, stdev) {
            (Unit::Raw, _) => amount as f32,
            (Unit::Sigma, Some(s)) => amount as f32 * s,
            (Unit::Sigma, None) => {
                return Err(DirectionsError::request(
                    format!("direction \"{name}\" is an explicit vector without a σ"),
                    Some("give its amount with `unit: raw`".into()),
                ));
            }
        };
        Ok(Resolved {
            edit: Edit {
                vector,
                offset,
                layers,
            },
            record: (name, format_amount(amount, unit)),
        })
    }
}
