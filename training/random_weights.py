"""Deterministic random weights that exercise every part of the generator (for fixtures, tests and benchmarks).

A freshly initialised generator has zero biases, zero noise strengths, affine biases of exactly 1 and a
zero w_avg, so a wrong bias or noise term would go unnoticed. These weights make every term count.
"""

from __future__ import annotations

import torch

from training.generator import Generator


def random_tensor(name: str, shape: torch.Size, lr_multiplier: float, rng: torch.Generator) -> torch.Tensor:
    """A random value for the parameter or buffer `name`, scaled to what that kind of tensor holds in practice."""
    normal = torch.randn(shape, generator=rng, dtype=torch.float64)
    if name.startswith("mapping.fc"):
        # Stored raw: the run-time gains multiply by lr_multiplier (and 1/sqrt(in) for weights).
        return normal / lr_multiplier if name.endswith("weight") else normal * 0.5 / lr_multiplier
    if name == "mapping.w_avg":
        return normal * 0.5
    if name.endswith("affine.bias"):
        return 1.0 + 0.25 * normal
    if name.endswith("affine.weight") or name.endswith("const") or name.endswith("noise_const"):
        return normal
    if name.endswith("noise_strength"):
        return 0.1 + 0.3 * torch.rand(shape, generator=rng, dtype=torch.float64)
    if name.endswith("torgb.weight"):
        return 0.3 * normal
    if name.endswith("torgb.bias"):
        return 0.1 * normal
    if name.endswith("bias"):
        return 0.2 * normal
    if name.endswith("weight"):
        return normal
    raise ValueError(f"no random rule for {name}")


@torch.no_grad()
def randomize_parameters(generator: Generator, seed: int) -> Generator:
    """Overwrites every parameter and buffer (in state-dict order) from one seeded stream; returns the generator."""
    rng = torch.Generator().manual_seed(seed)
    lr_multiplier = generator.config.mapping_lr_multiplier
    for name, tensor in generator.state_dict().items():
        tensor.copy_(random_tensor(name, tensor.shape, lr_multiplier, rng).to(tensor.dtype))
    return generator
