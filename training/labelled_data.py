"""The garment photos with their labels, prepared exactly as for training, cached, and split into train and
held-out sets (the dataset has no split of its own, so a fixed-seed stratified one)."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.prepare import garment_photos, prepare_images_checked

HELD_OUT_FRACTION = 0.15
SPLIT_SEED = 2024
MIN_CLASS_IMAGES = 100
MERGED_CLASS = "Other garment"


@dataclass(frozen=True)
class LabelledImages:
    """uint8 [N, R, R, 3] images, their class index, the class names, and the held-out mask of the split."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    held_out: np.ndarray
    merged_labels: list[str]

    @property
    def train_images(self) -> np.ndarray:
        return self.images[~self.held_out]

    @property
    def train_labels(self) -> np.ndarray:
        return self.labels[~self.held_out]

    @property
    def held_out_images(self) -> np.ndarray:
        return self.images[self.held_out]

    @property
    def held_out_labels(self) -> np.ndarray:
        return self.labels[self.held_out]

    def fingerprint(self) -> str:
        """A hash of the images, labels, class names and split: what a classifier trained on them depends on."""
        digest = hashlib.sha256()
        for array in (self.images, self.labels, self.held_out):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update("\n".join(self.class_names).encode())
        return digest.hexdigest()[:16]


def garment_labels(dataset: Path, paths: list[Path]) -> list[str]:
    """The label of each photo in `paths` (as listed by `garment_photos`), read from `images.csv`."""
    with open(dataset / "images.csv", newline="") as handle:
        label_of = {row["image"]: row["label"] for row in csv.DictReader(handle)}
    return [label_of[path.stem] for path in paths]


def load_labelled_photos(dataset: Path, resolution: int, cache_dir: Path, limit: int | None = None,
                         workers: int = 1, background: str = "photo") -> tuple[np.ndarray, list[str]]:
    """The garment photos prepared at `resolution` (as training prepares them, with the photo's own background or
    a plain one; photos that preparation drops are left out) and their labels, cached as .npz."""
    paths = garment_photos(dataset)[:limit]
    suffix = "" if limit is None else f"-first{limit}"
    suffix += "" if background == "photo" else f"-{background}"
    cache = cache_dir / f"{dataset.name}-{resolution}{suffix}-labelled.npz"
    all_ids = [path.stem for path in paths]
    if cache.exists():
        with np.load(cache) as stored:
            listed = list(stored["all_ids"]) if "all_ids" in stored else list(stored["ids"])
            if listed == all_ids:
                kept = [dataset / "images" / f"{image_id}.jpg" for image_id in stored["ids"]]
                return stored["images"], garment_labels(dataset, kept)
    images, checks = prepare_images_checked(paths, resolution, workers, background)
    kept = [path for path, check in zip(paths, checks, strict=True) if check is None or check.plausible]
    save_npz(cache, images=images, ids=np.array([path.stem for path in kept]), all_ids=np.array(all_ids))
    return images, garment_labels(dataset, kept)


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Writes an .npz atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = path.with_name(path.name + ".partial")
    with open(partial_path, "wb") as handle:
        np.savez(handle, **arrays)
    partial_path.replace(path)


def class_names_after_merging(labels: list[str], min_images: int) -> tuple[list[str], list[str]]:
    """(class names, merged labels): labels with fewer than `min_images` photos become one MERGED_CLASS, which
    is then kept whatever its size. Classes are sorted by name, the merged class last."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    kept = sorted(label for label, count in counts.items() if count >= min_images)
    merged = sorted(label for label, count in counts.items() if count < min_images)
    return kept + ([MERGED_CLASS] if merged else []), merged


def class_indices(labels: list[str], class_names: list[str]) -> np.ndarray:
    """int64 class index per label; a label that is not a class name belongs to MERGED_CLASS."""
    index = {name: i for i, name in enumerate(class_names)}
    return np.array([index[label] if label in index else index[MERGED_CLASS] for label in labels], dtype=np.int64)


def stratified_split(labels: np.ndarray, held_out_fraction: float = HELD_OUT_FRACTION,
                     seed: int = SPLIT_SEED) -> np.ndarray:
    """Boolean held-out mask: within each class, a seeded shuffle picks round(fraction·count) held-out images."""
    rng = np.random.RandomState(seed)
    held_out = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = int(round(held_out_fraction * len(members)))
        held_out[rng.permutation(members)[:count]] = True
    return held_out


def labelled_images(dataset: Path, resolution: int, cache_dir: Path, limit: int | None = None,
                    min_class_images: int = MIN_CLASS_IMAGES, workers: int = 1,
                    background: str = "photo") -> LabelledImages:
    """The prepared, labelled and split photos of `dataset` at `resolution`."""
    images, labels = load_labelled_photos(dataset, resolution, cache_dir, limit, workers, background)
    class_names, merged = class_names_after_merging(labels, min_class_images)
    indices = class_indices(labels, class_names)
    return LabelledImages(images, indices, class_names, stratified_split(indices), merged)
