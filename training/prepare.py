"""Prepares the clothing photos for training: filters labels, centres each garment on a square, resizes, and
writes either one .npy array (uint8 NHWC) or a folder of small JPEGs.

    python -m training.prepare --resolution 64 --out training/data-cache/clothing-64.npy
    python -m training.prepare --resolution 256 --out prepared-256/ --format jpeg
"""

from __future__ import annotations

import argparse
import csv
import os
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from training.garment_crop import prepare_photo

DEFAULT_DATASET = Path("../shared/datasets/clothing-dataset")
EXCLUDED_LABELS = frozenset({"Not sure", "Other", "Skip"})
JPEG_QUALITY = 95


def garment_photos(dataset: Path) -> list[Path]:
    """The photos listed in `images.csv` whose label is a garment, sorted by id; missing files are an error."""
    with open(dataset / "images.csv", newline="") as handle:
        ids = sorted(row["image"] for row in csv.DictReader(handle) if row["label"] not in EXCLUDED_LABELS)
    paths = [dataset / "images" / f"{image_id}.jpg" for image_id in ids]
    missing = [path for path in paths if not path.exists()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} listed photos are missing, e.g. {missing[0]}")
    return paths


def load_prepared_photo(path: Path, resolution: int) -> np.ndarray:
    """Decodes one photo (at a reduced JPEG scale when that is still at least twice the target) and prepares it."""
    with Image.open(path) as image:
        image.draft("RGB", (2 * resolution, 2 * resolution))
        return np.asarray(prepare_photo(image, resolution), dtype=np.uint8)


def prepare_images(paths: list[Path], resolution: int, workers: int) -> np.ndarray:
    """All photos prepared, as one uint8 array [N, resolution, resolution, 3] in the order of `paths`."""
    work = partial(load_prepared_photo, resolution=resolution)
    if workers <= 1:
        images = [work(path) for path in paths]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            images = list(pool.map(work, paths, chunksize=32))
    return np.stack(images) if images else np.zeros((0, resolution, resolution, 3), dtype=np.uint8)


def save_array(images: np.ndarray, path: Path) -> None:
    """Writes the .npy atomically, so an interrupted run never leaves a truncated cache behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = path.with_name(path.name + ".partial")
    with open(partial_path, "wb") as handle:
        np.save(handle, images)
    partial_path.replace(path)


def save_jpeg_folder(images: np.ndarray, names: list[str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for image, name in zip(images, names, strict=True):
        Image.fromarray(image).save(folder / f"{name}.jpg", quality=JPEG_QUALITY, subsampling=0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="folder with images.csv and images/")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True, help="a .npy file, or a folder with --format jpeg")
    parser.add_argument("--format", choices=("npy", "jpeg"), default="npy")
    parser.add_argument("--limit", type=int, default=None, help="prepare only the first N photos")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    paths = garment_photos(args.dataset)[: args.limit]
    images = prepare_images(paths, args.resolution, args.workers)
    if args.format == "npy":
        save_array(images, args.out)
    else:
        save_jpeg_folder(images, [path.stem for path in paths], args.out)
    print(f"prepared {len(images)} images at {args.resolution}x{args.resolution} -> {args.out}")


if __name__ == "__main__":
    main()
