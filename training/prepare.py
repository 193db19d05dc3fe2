"""Prepares the clothing photos for training: filters labels, centres each garment on a square, resizes, and
writes either one .npy array (uint8 NHWC) or a folder of small JPEGs.

    python -m training.prepare --resolution 64 --out training/data-cache/clothing-64.npy
    python -m training.prepare --resolution 256 --out prepared-256/ --format jpeg
    python -m training.prepare --resolution 64 --background plain --out training/data-cache/clothing-plain-64.npy \
        --contact-sheets training/runs/plain-sheets

With `--background plain` each garment is cut out (training/background.py) and put on a plain light background;
photos whose garment mask is implausible are dropped, and a list of every photo with its mask measurements and
verdict is written next to the output (`<out>.masks.csv`).
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

from training.background import ANALYSIS_SIZE, MaskCheck, prepare_plain_photo
from training.garment_crop import prepare_photo
from training.images import image_grid

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


BACKGROUNDS = ("photo", "plain")


def load_prepared_photo(path: Path, resolution: int, background: str = "photo"
                        ) -> tuple[np.ndarray | None, MaskCheck | None]:
    """Decodes one photo (at a reduced JPEG scale when that is still at least twice the target) and prepares it:
    (image, None) with the photo's own background; (image or None when dropped, mask check) with a plain one."""
    with Image.open(path) as image:
        if background == "photo":
            image.draft("RGB", (2 * resolution, 2 * resolution))
            return np.asarray(prepare_photo(image, resolution), dtype=np.uint8), None
        draft = max(2 * resolution, ANALYSIS_SIZE)
        image.draft("RGB", (draft, draft))
        prepared, check = prepare_plain_photo(image.convert("RGB"), resolution)
        return (None if prepared is None else np.asarray(prepared, dtype=np.uint8)), check


def prepare_images_checked(paths: list[Path], resolution: int, workers: int, background: str = "photo"
                           ) -> tuple[np.ndarray, list[MaskCheck | None]]:
    """The kept photos as one uint8 array [N, resolution, resolution, 3] (in the order of `paths`) and, for every
    photo, its mask check (None with the photo background, where every photo is kept)."""
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}, got {background!r}")
    work = partial(load_prepared_photo, resolution=resolution, background=background)
    if workers <= 1:
        results = [work(path) for path in paths]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(work, paths, chunksize=32))
    images = [image for image, _ in results if image is not None]
    checks = [check for _, check in results]
    stacked = np.stack(images) if images else np.zeros((0, resolution, resolution, 3), dtype=np.uint8)
    return stacked, checks


def prepare_images(paths: list[Path], resolution: int, workers: int, background: str = "photo") -> np.ndarray:
    """The kept photos prepared, as one uint8 array [N, resolution, resolution, 3] in the order of `paths`."""
    return prepare_images_checked(paths, resolution, workers, background)[0]


def write_mask_report(paths: list[Path], checks: list[MaskCheck], path: Path) -> None:
    """One CSV row per photo: id, verdict and the mask measurements."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "verdict", "area", "pieces", "pieces_share", "border_share", "sides_touched",
                         "solidity"])
        for photo, check in zip(paths, checks, strict=True):
            writer.writerow([photo.stem, check.reason or "kept", f"{check.area:.4f}", check.pieces,
                             f"{check.pieces_share:.4f}", f"{check.border_share:.4f}", check.sides_touched,
                             f"{check.solidity:.4f}"])


def write_contact_sheets(paths: list[Path], checks: list[MaskCheck], folder: Path, per_sheet: int = 64,
                         size: int = 96) -> list[Path]:
    """Sheets of photos for looking at the verdicts: `kept.png` (each photo next to its prepared version, the
    first per_sheet kept) and one `dropped-<reason>.png` per reason (the photos as they are)."""
    folder.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[Path]] = {}
    for photo, check in zip(paths, checks, strict=True):
        groups.setdefault(check.reason or "kept", []).append(photo)
    written = []
    for verdict, members in sorted(groups.items()):
        tiles = []
        for photo in members[:per_sheet]:
            with Image.open(photo) as image:
                image = image.convert("RGB")
                tiles.append(np.asarray(prepare_photo(image, size), dtype=np.uint8))
                if verdict == "kept":
                    prepared, _ = prepare_plain_photo(image, size)
                    tiles.append(np.asarray(prepared, dtype=np.uint8))
        name = "kept.png" if verdict == "kept" else f"dropped-{verdict.replace(' ', '-')}.png"
        Image.fromarray(image_grid(np.stack(tiles), 16 if verdict == "kept" else 8)).save(folder / name)
        written.append(folder / name)
    return written


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
    parser.add_argument("--background", choices=BACKGROUNDS, default="photo",
                        help="keep each photo's own background, or cut the garment out onto a plain light one")
    parser.add_argument("--contact-sheets", type=Path, default=None,
                        help="with --background plain: a folder for sheets of kept and dropped photos")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    paths = garment_photos(args.dataset)[: args.limit]
    images, checks = prepare_images_checked(paths, args.resolution, args.workers, args.background)
    kept_paths = [path for path, check in zip(paths, checks, strict=True) if check is None or check.plausible]
    if args.format == "npy":
        save_array(images, args.out)
    else:
        save_jpeg_folder(images, [path.stem for path in kept_paths], args.out)
    print(f"prepared {len(images)} images at {args.resolution}x{args.resolution} -> {args.out}")
    if args.background == "plain":
        report = args.out.with_name(args.out.name + ".masks.csv")
        write_mask_report(paths, checks, report)
        counts: dict[str, int] = {}
        for check in checks:
            counts[check.reason or "kept"] = counts.get(check.reason or "kept", 0) + 1
        print(f"{len(kept_paths)} of {len(paths)} photos kept ({100 * len(kept_paths) / max(len(paths), 1):.1f} %); "
              + ", ".join(f"{verdict}: {count}" for verdict, count in sorted(counts.items())) + f"; list in {report}")
        if args.contact_sheets is not None:
            for sheet in write_contact_sheets(paths, checks, args.contact_sheets):
                print(f"contact sheet {sheet}")


if __name__ == "__main__":
    main()
