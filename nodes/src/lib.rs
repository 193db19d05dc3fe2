//! drape's built-in nodes and the registry that lists them. Each node lives in its own module; add a
//! node by writing a module with a unit struct implementing [`drape_engine::Node`] and listing it in
//! [`registry`].

mod animation;
mod apply_direction;
mod atomic;
mod blend;
mod design_png;
mod grid;
mod interpolate;
mod interpolate_w;
pub mod kept;
pub mod latent_file;
mod load_latents;
mod map;
mod mix_layers;
mod model;
mod output_path;
mod pending_truncation;
mod pixels;
pub mod recipe;
mod recreate;
mod sample_latent;
mod save;
mod save_animation;
mod save_latents;
mod sheet_labels;
mod synthesize;
pub mod text;

pub use model::{BackendChoice, backend_description, set_backend};
pub use output_path::set_out_dir;
pub use recreate::Recreate;

use drape_engine::Registry;

/// Every built-in node, in catalogue order (roughly the order a graph uses them).
pub fn registry() -> Registry {
    Registry::new(vec![
        &sample_latent::SampleLatent,
        &load_latents::LoadLatents,
        &interpolate::Interpolate,
        &map::Map,
        &mix_layers::MixLayers,
        &apply_direction::ApplyDirection,
        &interpolate_w::InterpolateW,
        &synthesize::Synthesize,
        &grid::Grid,
        &save::Save,
        &save_animation::SaveAnimation,
        &save_latents::SaveLatents,
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_node_follows_the_plugin_rules() {
        let problems = super::registry().problems();
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
