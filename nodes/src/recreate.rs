//! `recreate`: stands in for a `Save` node when `drape run design.png` re-creates one saved design, and
//! writes that one item of the batch to a new file (never over the source).

use std::path::PathBuf;

use drape_engine::{Items, Node, NodeContext, NodeError, Params, PortSpec, Value, ValueType};

use crate::design_png::Provenance;

/// Writes item `index` of its input batch to `out`, with the same provenance `Save` embeds.
pub struct Recreate {
    /// The design's position in the batch.
    pub index: usize,
    /// Where to write it.
    pub out: PathBuf,
}

impl Node for Recreate {
    fn name(&self) -> &'static str {
        "recreate"
    }

    fn doc(&self) -> &'static str {
        "Re-creates one design of a Save node's batch into another file (used by `drape run design.png`)."
    }

    fn inputs(&self) -> &'static [PortSpec] {
        const IN: &[PortSpec] = &[PortSpec::new(
            "images",
            ValueType::Images,
            "The batch the saved design came from.",
        )];
        IN
    }

    fn is_output(&self) -> bool {
        true
    }

    fn items(&self, _params: &Params) -> Items {
        Items::PerDesign
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let Value::Images(images) = ctx.required_input("images")? else {
            return Err(NodeError::new("input `images` is not an image batch"));
        };
        // A streamed run hands over the batch in ranges of designs; only one holds this design.
        let first = ctx.first_design();
        let len = ctx.batch_len().unwrap_or(images.len());
        if self.index >= len {
            return Err(NodeError::new(format!(
                "the design was item {} of the batch, but the batch now has {len} item(s)",
                self.index,
            ))
            .with_help("the graph or the overrides changed the batch; re-run the graph itself"));
        }
        let Some(local) = self.index.checked_sub(first).filter(|&i| i < images.len()) else {
            return Ok(Vec::new());
        };
        Provenance::of(ctx)?.write(&self.out, images, local)?;
        ctx.wrote_design(self.index, self.out.clone());
        Ok(Vec::new())
    }
}
