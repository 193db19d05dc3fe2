"""Network images ↔ pictures: float [−1, 1] NCHW to uint8 HWC (ADA generate.py rounding) and PNG grids."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, 3, H, W] in [−1, 1] → uint8 [N, H, W, 3]: floor(clamp(127.5·x + 128, 0, 255)) (docs/stylegan2.md §2.13)."""
    return (images.detach().float() * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def image_grid(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """uint8 [N, H, W, 3] → one [rows·H, columns·W, 3] picture, row-major, black where the grid is not full."""
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.zeros((rows * columns, h, w, c), dtype=np.uint8)
    grid[:n] = images
    return grid.reshape(rows, columns, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, columns * w, c)


def save_grid(images: torch.Tensor, path: Path, columns: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(to_uint8(images), columns)).save(path)
