//! The model and GPU resources nodes share: the loaded model of a folder, the GPU context (created
//! once, on the adapter the user chose) and the generator that holds a model's weights on the GPU.

use std::path::Path;
use std::sync::Arc;

use drape_engine::{NodeContext, NodeError, Resources};
use drape_generator::{AdapterChoice, Generator, GpuContext, Model};

const ADAPTER_KEY: &str = "gpu:adapter-choice";
const CONTEXT_KEY: &str = "gpu:context";

/// Chooses the GPU adapter for every later run on these resources (before anything uses the GPU).
pub fn set_adapter(resources: &Resources, choice: AdapterChoice) {
    // The first choice stays; the engine creates resources only on first use.
    let _ = resources.get_or_try_init(ADAPTER_KEY, || Ok(choice));
}

/// The adapter in use, once a node has used the GPU.
pub fn adapter_description(resources: &Resources) -> Option<String> {
    resources
        .get::<GpuContext>(CONTEXT_KEY)
        .map(|c| c.describe())
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

fn gpu_context(resources: &Resources) -> Result<Arc<GpuContext>, NodeError> {
    let choice = resources
        .get::<AdapterChoice>(ADAPTER_KEY)
        .map(|c| (*c).clone())
        .unwrap_or_else(AdapterChoice::from_env);
    resources.get_or_try_init(CONTEXT_KEY, || {
        GpuContext::new(&choice).map_err(|e| NodeError::new(e.to_string()))
    })
}

/// The generator for the graph's model on the GPU, built once per model.
pub fn generator(ctx: &NodeContext<'_>) -> Result<Arc<Generator>, NodeError> {
    let dir = ctx.model_dir()?;
    let model = load_model(ctx.resources, dir)?;
    let context = gpu_context(ctx.resources)?;
    ctx.resources
        .get_or_try_init(&format!("generator:{}", dir.display()), || {
            Generator::new(context, model).map_err(|e| NodeError::new(e.to_string()))
        })
}
