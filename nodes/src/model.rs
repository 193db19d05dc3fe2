//! The model and backend resources nodes share: the loaded model of a folder, the device (opened
//! once, as the user chose: a GPU adapter or the native CPU backend) and each model's backend.

use std::path::Path;
use std::sync::Arc;

use drape_engine::{NodeContext, NodeError, Resources};
use drape_generator::{AdapterChoice, Backend, BackendKind, CpuOptions, Device, Model};

const CHOICE_KEY: &str = "backend:choice";
const DEVICE_KEY: &str = "backend:device";

/// What the user asked to run on.
#[derive(Clone, Debug, Default)]
pub struct BackendChoice {
    /// auto, gpu or cpu.
    pub kind: BackendKind,
    /// The GPU adapter, when named.
    pub adapter: AdapterChoice,
    /// Threads and memory of the CPU backend.
    pub cpu: CpuOptions,
}

impl BackendChoice {
    /// The choice in `DRAPE_BACKEND` and `DRAPE_ADAPTER`.
    pub fn from_env() -> Result<Self, String> {
        Ok(Self {
            kind: BackendKind::from_env().map_err(|e| e.to_string())?,
            adapter: AdapterChoice::from_env(),
            cpu: CpuOptions::default(),
        })
    }
}

/// The settings of the model in `dir`, from its weights' header, for estimates at validation.
pub fn config_at(dir: Option<&Path>) -> Option<drape_generator::ModelConfig> {
    Model::read_config(dir?).ok()
}

/// Chooses the backend for every later run on these resources (before anything uses it).
pub fn set_backend(resources: &Resources, choice: BackendChoice) {
    // The first choice stays; the engine creates resources only on first use.
    let _ = resources.get_or_try_init(CHOICE_KEY, || Ok(choice));
}

/// The backend in use, e.g. `cpu (native, 2 threads)`, once a node has used it.
pub fn backend_description(resources: &Resources) -> Option<String> {
    resources.get::<Device>(DEVICE_KEY).map(|d| d.describe())
}

/// The BLAKE3 digest of the graph's model weights (none without a model), computed once per version of
/// the file (its size and modification time).
pub fn digest(ctx: &NodeContext<'_>) -> Result<Option<Arc<String>>, NodeError> {
    let Some(dir) = ctx.model_dir else {
        return Ok(None);
    };
    let weights = dir.join(drape_engine::MODEL_WEIGHTS_FILE);
    let cannot = |e: std::io::Error| {
        NodeError::new(format!(
            "cannot read the model weights {}: {e}",
            weights.display()
        ))
    };
    let meta = std::fs::metadata(&weights).map_err(cannot)?;
    let version = format!(
        "{}|{}|{:?}",
        weights.display(),
        meta.len(),
        meta.modified().ok()
    );
    ctx.resources
        .get_or_try_init(&format!("model-digest:{version}"), || {
            crate::recipe::model_digest(dir).map_err(cannot)
        })
        .map(Some)
}

/// The model of the graph's model folder, loaded once.
pub fn model(ctx: &NodeContext<'_>) -> Result<Arc<Model>, NodeError> {
    let dir = ctx.model_dir()?;
    load_model(ctx.resources, dir)
}

fn load_model(resources: &Resources, dir: &Path) -> Result<Arc<Model>, NodeError> {
    resources.get_or_try_init(&format!("model:{}", dir.display()), || {
        Model::load(dir).map_err(|e| {
            NodeError::new(e.to_string())
                .with_help("re-export the model with `python -m training.export`, or check the model path in the graph")
        })
    })
}

fn device(resources: &Resources) -> Result<Arc<Device>, NodeError> {
    let choice = match resources.get::<BackendChoice>(CHOICE_KEY) {
        Some(choice) => (*choice).clone(),
        None => BackendChoice::from_env().map_err(NodeError::new)?,
    };
    resources.get_or_try_init(DEVICE_KEY, || {
        Device::open(choice.kind, &choice.adapter, choice.cpu)
            .map_err(|e| NodeError::new(e.to_string()))
    })
}

/// The graph's model on the chosen backend, prepared once per model.
pub fn generator(ctx: &NodeContext<'_>) -> Result<Arc<dyn Backend>, NodeError> {
    let dir = ctx.model_dir()?;
    let model = load_model(ctx.resources, dir)?;
    let device = device(ctx.resources)?;
    let shared = ctx
        .resources
        .get_or_try_init(&format!("generator:{}", dir.display()), || {
            device
                .backend(model)
                .map_err(|e| NodeError::new(e.to_string()))
        })?;
    Ok(Arc::clone(&shared))
}
