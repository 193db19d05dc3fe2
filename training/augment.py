"""DiffAugment (Zhao et al. 2020): differentiable colour, translation and cutout applied to every image the discriminator sees."""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def random_color(x: torch.Tensor) -> torch.Tensor:
    """Random brightness (±0.5), saturation (×0…2) and contrast (×0.5…1.5) per sample."""
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, dtype=x.dtype, device=x.device) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, dtype=x.dtype, device=x.device) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, dtype=x.dtype, device=x.device) + 0.5) + mean


def random_translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shifts each sample by up to ratio·size pixels per axis, filling with zeros."""
    n, c, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (n, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device).reshape(1, h, 1) + dy + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device).reshape(1, 1, w) + dx + 1).clamp(0, w + 1)
    batch = torch.arange(n, device=x.device).reshape(n, 1, 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def random_cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zeroes one square of ratio·size per sample at a random centre."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - size_y % 2), (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - size_x % 2), (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).reshape(1, h, 1) - (cy - size_y // 2)
    cols = torch.arange(w, device=x.device).reshape(1, 1, w) - (cx - size_x // 2)
    inside = (rows >= 0) & (rows < size_y) & (cols >= 0) & (cols < size_x)
    return x * (~inside).to(x.dtype).unsqueeze(1)


AUGMENTATIONS = {"color": random_color, "translation": random_translation, "cutout": random_cutout}


def parse_policy(text: str) -> tuple[str, ...]:
    """"color,translation,cutout" → its parts, checked; "" or "none" → no augmentation."""
    if text in ("", "none"):
        return ()
    parts = tuple(part.strip() for part in text.split(","))
    unknown = [part for part in parts if part not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; choose from {POLICIES}")
    return parts


def diff_augment(x: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    for name in policy:
        x = AUGMENTATIONS[name](x)
    return x
