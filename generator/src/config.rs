//! The shape of a generator network: latent sizes, resolution, mapping depth and channel counts.

use crate::model::ModelError;

/// Everything that fixes the architecture of a StyleGAN2 "skip" generator (docs/stylegan2.md §1–§3).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    /// Length of the latent z.
    pub z_dim: usize,
    /// Length of the intermediate latent w.
    pub w_dim: usize,
    /// Number of w vectors the synthesis network takes: `2·log2(resolution) − 2`.
    pub num_ws: usize,
    /// Output image side in pixels (a power of two, 8..=1024).
    pub resolution: usize,
    /// Number of dense layers in the mapping network.
    pub mapping_layers: usize,
    /// Learning-rate multiplier of the mapping layers (0.01 in StyleGAN2).
    pub mapping_lr_multiplier: f32,
    /// Channel base: block `r` has `min(channel_base / r, channel_max)` channels.
    pub channel_base: usize,
    /// Upper bound on the channels of any block.
    pub channel_max: usize,
    /// Explicit channels per block from 4×4 up, for networks whose widths follow no
    /// `channel_base`/`channel_max` rule; when set it overrides them.
    pub channel_table: Option<Vec<usize>>,
    /// Clamp applied after every conv and toRGB layer, if any.
    pub conv_clamp: Option<f32>,
    /// Optional human-readable model name.
    pub name: Option<String>,
    /// Optional free-text description.
    pub description: Option<String>,
}

/// Smallest and largest supported output resolutions.
pub const RESOLUTION_RANGE: std::ops::RangeInclusive<usize> = 8..=1024;

impl ModelConfig {
    /// A config with `num_ws` derived from the resolution and no name; checked with [`Self::validate`].
    pub fn new(
        resolution: usize,
        z_dim: usize,
        w_dim: usize,
        mapping_layers: usize,
        channel_base: usize,
        channel_max: usize,
        conv_clamp: Option<f32>,
    ) -> Result<Self, ModelError> {
        let config = Self {
            z_dim,
            w_dim,
            num_ws: num_ws_for(resolution),
            resolution,
            mapping_layers,
            mapping_lr_multiplier: 0.01,
            channel_base,
            channel_max,
            channel_table: None,
            conv_clamp,
            name: None,
            description: None,
        };
        config.validate().map_err(ModelError::Config)?;
        Ok(config)
    }

    /// The 256 px "config-F-sized" network of the benchmark: channel base 16384, channel max 512,
    /// z and w of 512, 8 mapping layers, clamp 256.
    pub fn config_f_256() -> Self {
        Self::new(256, 512, 512, 8, 16384, 512, Some(256.0)).expect("a valid built-in config")
    }

    /// Checks that the numbers describe a buildable network; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if !self.resolution.is_power_of_two() || !RESOLUTION_RANGE.contains(&self.resolution) {
            return Err(format!(
                "img_resolution {} is not a power of two in {}..={}",
                self.resolution,
                RESOLUTION_RANGE.start(),
                RESOLUTION_RANGE.end()
            ));
        }
        if self.num_ws != num_ws_for(self.resolution) {
            return Err(format!(
                "num_ws {} does not match img_resolution {} (expected {})",
                self.num_ws,
                self.resolution,
                num_ws_for(self.resolution)
            ));
        }
        for (field, value) in [
            ("z_dim", self.z_dim),
            ("w_dim", self.w_dim),
            ("mapping_layers", self.mapping_layers),
            ("channel_max", self.channel_max),
        ] {
            if value == 0 {
                return Err(format!("{field} must be at least 1"));
            }
        }
        if let Some(table) = &self.channel_table {
            let blocks = self.block_resolutions().len();
            if table.len() != blocks {
                return Err(format!(
                    "channels lists {} blocks, but img_resolution {} has {blocks}",
                    table.len(),
                    self.resolution
                ));
            }
            if table.contains(&0) {
                return Err("channels must all be at least 1".to_string());
            }
        } else if self.channel_base < self.resolution {
            return Err(format!(
                "channel_base {} gives block {} no channels (it must be at least the resolution)",
                self.channel_base, self.resolution
            ));
        }
        if !self.mapping_lr_multiplier.is_finite() || self.mapping_lr_multiplier <= 0.0 {
            return Err(format!(
                "mapping_lr_multiplier {} must be a positive number",
                self.mapping_lr_multiplier
            ));
        }
        if let Some(clamp) = self.conv_clamp
            && !(clamp.is_finite() && clamp > 0.0)
        {
            return Err(format!("conv_clamp {clamp} must be a positive number"));
        }
        Ok(())
    }

    /// Channels of the block at resolution `r`.
    pub fn channels(&self, r: usize) -> usize {
        if let Some(table) = &self.channel_table {
            let block = (r.trailing_zeros() as usize).saturating_sub(2);
            return table.get(block).copied().unwrap_or(0);
        }
        (self.channel_base / r).min(self.channel_max)
    }

    /// Block resolutions 4, 8, …, resolution.
    pub fn block_resolutions(&self) -> Vec<usize> {
        (2..=self.resolution.trailing_zeros())
            .map(|k| 1usize << k)
            .collect()
    }
}

/// `num_ws = 2·log2(resolution) − 2` (docs/stylegan2.md §2.1).
pub fn num_ws_for(resolution: usize) -> usize {
    (2 * resolution.trailing_zeros() as usize).saturating_sub(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_follow_the_spec_table() {
        let config = ModelConfig::config_f_256();
        let ch: Vec<usize> = config
            .block_resolutions()
            .iter()
            .map(|&r| config.channels(r))
            .collect();
        assert_eq!(ch, [512, 512, 512, 512, 256, 128, 64]);
    }

    #[test]
    fn an_explicit_channel_table_overrides_base_and_max() {
        let mut config = ModelConfig::new(16, 8, 8, 2, 128, 16, None).unwrap();
        config.channel_table = Some(vec![12, 10, 6]);
        assert!(config.validate().is_ok());
        assert_eq!(config.channels(4), 12);
        assert_eq!(config.channels(16), 6);
        config.channel_table = Some(vec![12, 10]);
        assert!(config.validate().unwrap_err().contains("3"));
        config.channel_table = Some(vec![12, 0, 6]);
        assert!(config.validate().is_err());
    }

    #[test]
    fn rejects_bad_numbers() {
        assert!(ModelConfig::new(48, 8, 8, 2, 256, 16, None).is_err());
        assert!(ModelConfig::new(2048, 8, 8, 2, 4096, 16, None).is_err());
        assert!(ModelConfig::new(64, 8, 8, 2, 32, 16, None).is_err());
        assert!(ModelConfig::new(64, 8, 8, 2, 256, 16, Some(-1.0)).is_err());
        assert!(ModelConfig::new(64, 0, 8, 2, 256, 16, None).is_err());
    }
}
