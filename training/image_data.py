"""The training images in memory: loaded from a prepared .npy, a folder of prepared JPEGs, or the raw photo
dataset (prepared once into a cached .npy), and served as shuffled, randomly mirrored batches in [−1, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from training.prepare import garment_photos, prepare_images, save_array

DEFAULT_CACHE_DIR = Path("training/data-cache")


def load_jpeg_folder(folder: Path, resolution: int) -> np.ndarray:
    """Every *.jpg of a folder (sorted by name), resized to resolution² if it is not already."""
    images = []
    for path in sorted(folder.glob("*.jpg")):
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image.size != (resolution, resolution):
                image = image.resize((resolution, resolution), Image.LANCZOS)
            images.append(np.asarray(image, dtype=np.uint8))
    if not images:
        raise FileNotFoundError(f"no .jpg images in {folder}")
    return np.stack(images)


def load_training_images(source: Path, resolution: int, cache_dir: Path = DEFAULT_CACHE_DIR,
                         workers: int = 1) -> np.ndarray:
    """uint8 [N, R, R, 3] from a .npy file, a prepared-JPEG folder, or the photo dataset (folder with images.csv)."""
    source = Path(source)
    if source.suffix == ".npy":
        images = np.load(source)
    elif (source / "images.csv").exists():
        cache = cache_dir / f"{source.name}-{resolution}.npy"
        if cache.exists():
            images = np.load(cache)
        else:
            images = prepare_images(garment_photos(source), resolution, workers)
            save_array(images, cache)
    elif source.is_dir():
        images = load_jpeg_folder(source, resolution)
    else:
        raise FileNotFoundError(f"{source} is neither a .npy file nor a folder of images")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (resolution, resolution, 3):
        raise ValueError(f"{source}: expected uint8 [N, {resolution}, {resolution}, 3], got {images.dtype} {images.shape}")
    return images


class BatchSampler:
    """Draws batches without replacement within an epoch (a fresh permutation each epoch) and mirrors half of the
    images at random. Its whole state lives in one torch.Generator plus a position, so it resumes exactly."""

    def __init__(self, images: np.ndarray, batch_size: int, seed: int, mirror: bool) -> None:
        if len(images) < batch_size:
            raise ValueError(f"{len(images)} images are fewer than one batch of {batch_size}")
        self.images = torch.from_numpy(images)
        self.batch_size = batch_size
        self.mirror = mirror
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(len(images), generator=self.generator)
        self.position = 0

    def next_batch(self, device: torch.device | str) -> torch.Tensor:
        """float [B, 3, R, R] in [−1, 1] on `device`."""
        if self.position + self.batch_size > len(self.order):
            self.order = torch.randperm(len(self.images), generator=self.generator)
            self.position = 0
        indices = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        batch = self.images[indices].permute(0, 3, 1, 2).float() / 127.5 - 1
        if self.mirror:
            flip = torch.rand(self.batch_size, generator=self.generator) < 0.5
            batch = torch.where(flip.reshape(-1, 1, 1, 1), batch.flip(3), batch)
        return batch.to(device)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self.order.clone(), "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.order = state["order"].clone()
        self.position = state["position"]
