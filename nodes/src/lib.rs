//! drape's built-in nodes and the registry that lists them. Each node lives in its own module; add a
//! node by writing a module with a unit struct implementing [`drape_engine::Node`] and listing it in
//! [`registry`].

mod apply_direction;
mod grid;
mod map;
mod model;
mod pixels;
mod sample_latent;
mod save;
mod synthesize;

pub use model::{adapter_description, set_adapter};

use drape_engine::Registry;

/// Every built-in node, in catalogue order (roughly the order a graph uses them).
pub fn registry() -> Registry {
    Registry::new(vec![
        &sample_latent::SampleLatent,
        &map::Map,
        &apply_direction::ApplyDirection,
        &synthesize::Synthesize,
        &grid::Grid,
        &save::Save,
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
