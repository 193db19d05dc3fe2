"""The whole generator z → image: mapping plus synthesis, with parameter names as ADA's G_ema (docs/stylegan2.md §4.1)."""

from __future__ import annotations

import torch
from torch import nn

from training.config import GeneratorConfig
from training.mapping import MappingNetwork
from training.synthesis import SynthesisNetwork


class Generator(nn.Module):
    """Unconditional StyleGAN2 generator; `state_dict()` keys are the canonical names of the model format."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.mapping = MappingNetwork(config.z_dim, config.w_dim, config.num_ws, config.mapping_layers,
                                      config.mapping_lr_multiplier)
        self.synthesis = SynthesisNetwork(config)

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                noise_mode: str = "const") -> torch.Tensor:
        ws = self.mapping(z, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode)
