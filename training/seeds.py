"""Seed → latent z exactly as numpy's legacy `RandomState(seed).randn` (docs/stylegan2.md §1.6)."""

from __future__ import annotations

import numpy as np


def z_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """`RandomState(seed).randn(1, z_dim)` cast to float32, as ADA's generate.py draws it; shape [z_dim]."""
    return np.random.RandomState(seed).randn(1, z_dim).astype(np.float32)[0]


def z_from_seeds(seeds: list[int], z_dim: int) -> np.ndarray:
    """One z per seed, stacked to [len(seeds), z_dim] float32."""
    return np.stack([z_from_seed(seed, z_dim) for seed in seeds])
