"""Measures the exports of a training run (`--export-every`) as they appear and prints the progress table.

    python -m training.progress --run training/runs/clothing-64 [--watch] [--samples 2000]

Every `<run>/exports/step-N` without a `metrics.json` is measured with `training.metrics` (in this process, one
thread); then the table of all measured exports is printed (step, images seen, Fréchet distance, garment share
and diversity ratio at ψ = 1 / ψ = 0.7), and the best export by Fréchet distance at ψ = 1 is named. With
`--watch` it keeps looking for new exports until stopped.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from training.classifier import TrainSettings
from training.image_data import DEFAULT_CACHE_DIR
from training.labelled_data import MIN_CLASS_IMAGES
from training.metrics import measure, write_json
from training.model_format import WEIGHTS_FILE, read_metadata
from training.prepare import BACKGROUNDS, DEFAULT_DATASET

METRICS_FILE = "metrics.json"


def pending_exports(run: Path) -> list[Path]:
    folders = sorted((run / "exports").glob("step-*"))
    return [folder for folder in folders if (folder / WEIGHTS_FILE).exists() and not (folder / METRICS_FILE).exists()]


def progress_rows(run: Path) -> list[dict]:
    rows = []
    for folder in sorted((run / "exports").glob("step-*")):
        if not (folder / METRICS_FILE).exists():
            continue
        report = json.loads((folder / METRICS_FILE).read_text())
        metadata = read_metadata(folder / WEIGHTS_FILE)
        rows.append({"folder": folder, "step": int(metadata["training_steps"]),
                     "images": int(metadata["training_images_seen"]), "generated": report["generated"]})
    return rows


def progress_table(rows: list[dict]) -> str:
    lines = ["| step | images seen | Fréchet distance | garment share | diversity ratio |", "| --- | --- | --- | --- | --- |"]
    for row in rows:
        generated = row["generated"]
        lines.append(f"| {row['step']:,} | {row['images']:,} | "
                     + " / ".join(f"{g['frechet_distance']:.2f}" for g in generated) + " | "
                     + " / ".join(f"{100 * g['garment_share']:.1f} %" for g in generated) + " | "
                     + " / ".join(f"{g['diversity_ratio']:.2f}" for g in generated) + " |")
    if rows:
        best = min(rows, key=lambda row: row["generated"][0]["frechet_distance"])
        lines.append(f"\nbest by Fréchet distance at ψ = 1: {best['folder']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="run folder with exports/")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--resolution", type=int, default=None)
    parser.add_argument("--background", choices=BACKGROUNDS, default="photo")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--watch", action="store_true", help="keep measuring new exports until stopped")
    parser.add_argument("--poll", type=float, default=60.0, help="seconds between looks with --watch")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    while True:
        for folder in pending_exports(args.run):
            report = measure(folder, args.samples, args.resolution, args.dataset, args.cache_dir, None,
                             MIN_CLASS_IMAGES, TrainSettings(), 1, args.background)
            write_json(report, folder / METRICS_FILE)
            print(progress_table(progress_rows(args.run)), flush=True)
        if not args.watch:
            break
        time.sleep(args.poll)
    print(progress_table(progress_rows(args.run)), flush=True)


if __name__ == "__main__":
    main()
