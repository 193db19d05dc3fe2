"""Analytic cost of one generator image: 2 × the multiply-adds of its dense layers and convolutions."""

from __future__ import annotations

from training.config import IMG_CHANNELS, GeneratorConfig


def generator_flops(config: GeneratorConfig) -> int:
    """FLOPs per image: mapping and affine layers, every 3×3 conv at its output resolution (the up-sampling conv0
    too) and the 1×1 toRGB convs. Modulation, demodulation, noise, bias, activation and filtering are not counted."""
    w = config.w_dim
    macs = config.z_dim * w + (config.mapping_layers - 1) * w * w
    for r in config.block_resolutions:
        out_channels = config.channels(r)
        in_channels = [out_channels] if r == 4 else [config.channels(r // 2), out_channels]
        for c_in in in_channels:
            macs += w * c_in + out_channels * c_in * 9 * r * r
        macs += w * out_channels + IMG_CHANNELS * out_channels * r * r
    return 2 * macs
