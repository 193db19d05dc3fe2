"""Quality metrics of a generator model, measured in the feature space of a small garment classifier.

    python -m training.metrics --model models/clothing [--samples 2000] [--resolution R]

The labelled photos are prepared as for training and split 85/15 (stratified, fixed seed); a small CNN is
trained on the train split (cached under training/data-cache/). Seeds 0..N−1 are generated at ψ = 1 and ψ = 0.7
(constant noise) and quantised to uint8 as drape does. Reported: the classifier's held-out accuracy, the Fréchet
distance of generated to held-out features (train photos to held-out photos as a floor), the share classified as
some garment with confidence ≥ 0.5, the mean pairwise feature distance (diversity) against that of the held-out
photos, and the class histogram. Writes a JSON file and prints a markdown table for the model card.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from training.classifier import GarmentClassifier, TrainSettings, cached_classifier, features_and_probabilities
from training.feature_stats import (CONFIDENCE_THRESHOLD, class_histogram, confident_share, frechet_distance,
                                    mean_pairwise_distance)
from training.generator import Generator
from training.image_data import DEFAULT_CACHE_DIR
from training.images import to_uint8
from training.labelled_data import HELD_OUT_FRACTION, MIN_CLASS_IMAGES, SPLIT_SEED, LabelledImages, labelled_images
from training.model_format import load_generator
from training.prepare import BACKGROUNDS, DEFAULT_DATASET
from training.seeds import z_from_seeds

TRUNCATIONS = (1.0, 0.7)
GENERATION_BATCH = 64


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@torch.no_grad()
def generate_images(generator: Generator, count: int, truncation_psi: float) -> np.ndarray:
    """Seeds 0..count−1 at `truncation_psi` with constant noise, as uint8 [count, R, R, 3] (drape's rounding)."""
    batches = []
    for start in range(0, count, GENERATION_BATCH):
        seeds = list(range(start, min(count, start + GENERATION_BATCH)))
        z = torch.from_numpy(z_from_seeds(seeds, generator.config.z_dim))
        batches.append(to_uint8(generator(z, truncation_psi=truncation_psi, noise_mode="const")))
    return np.concatenate(batches)


def resize_images(images: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 [N, r, r, 3] → [N, resolution, resolution, 3] with Lanczos (unchanged when the size matches)."""
    if images.shape[1] == resolution:
        return images
    return np.stack([np.asarray(Image.fromarray(image).resize((resolution, resolution), Image.LANCZOS))
                     for image in images])


def classifier_report(model: GarmentClassifier, data: LabelledImages, weights: Path,
                      settings: TrainSettings) -> tuple[dict, np.ndarray, np.ndarray]:
    """Held-out accuracy overall and per class, plus the held-out features and probabilities."""
    features, probabilities = features_and_probabilities(model, data.held_out_images)
    predicted = probabilities.argmax(axis=1)
    per_class = {}
    for index, name in enumerate(data.class_names):
        members = data.held_out_labels == index
        per_class[name] = {"held_out": int(members.sum()), "correct": int((predicted[members] == index).sum())}
    report = {
        "weights": str(weights),
        "settings": asdict(settings),
        "feature_dim": model.feature_dim,
        "held_out_accuracy": float(np.mean(predicted == data.held_out_labels)),
        "per_class": per_class,
    }
    return report, features, probabilities


def generated_report(model: GarmentClassifier, images: np.ndarray, truncation_psi: float, class_names: list[str],
                     real_features: np.ndarray, real_diversity: float) -> dict:
    features, probabilities = features_and_probabilities(model, images)
    diversity = mean_pairwise_distance(features)
    return {
        "truncation_psi": truncation_psi,
        "frechet_distance": frechet_distance(features, real_features),
        "garment_share": confident_share(probabilities),
        "diversity": diversity,
        "diversity_ratio": diversity / real_diversity,
        "class_histogram": class_histogram(probabilities, class_names),
    }


def measure(model_path: Path, samples: int, resolution: int | None, dataset: Path, cache_dir: Path,
            limit: int | None, min_class_images: int, settings: TrainSettings, workers: int,
            background: str = "photo") -> dict:
    """Runs everything and returns the report (the JSON file's content)."""
    generator = load_generator(model_path)
    model_resolution = generator.config.img_resolution
    resolution = resolution or model_resolution
    log(f"preparing labelled photos at {resolution} px ({background} background)")
    data = labelled_images(dataset, resolution, cache_dir, limit, min_class_images, workers, background)
    model, weights = cached_classifier(cache_dir, data.train_images, data.train_labels, data.class_names,
                                       data.fingerprint(), settings, log)
    classifier, held_out_features, held_out_probabilities = classifier_report(model, data, weights, settings)
    train_features, _ = features_and_probabilities(model, data.train_images)
    real_diversity = mean_pairwise_distance(held_out_features)
    generated = []
    for psi in TRUNCATIONS:
        log(f"generating {samples} images at psi {psi}")
        images = resize_images(generate_images(generator, samples, psi), resolution)
        generated.append(generated_report(model, images, psi, data.class_names, held_out_features, real_diversity))
    return {
        "model": str(model_path),
        "model_resolution": model_resolution,
        "resolution": resolution,
        "samples": samples,
        "seeds": f"0..{samples - 1}",
        "noise_mode": "const",
        "confidence_threshold": CONFIDENCE_THRESHOLD,
        "data": {
            "dataset": dataset.name,
            "background": background,
            "images": len(data.images),
            "train": int((~data.held_out).sum()),
            "held_out": int(data.held_out.sum()),
            "split": f"stratified by class, {HELD_OUT_FRACTION:.0%} held out, seed {SPLIT_SEED}",
            "classes": data.class_names,
            "min_class_images": min_class_images,
            "merged_into_other_garment": data.merged_labels,
        },
        "classifier": classifier,
        "real": {
            "frechet_distance_train_vs_held_out": frechet_distance(train_features, held_out_features),
            "garment_share_held_out": confident_share(held_out_probabilities),
            "diversity_held_out": real_diversity,
            "class_histogram_held_out": class_histogram(held_out_probabilities, data.class_names),
        },
        "generated": generated,
    }


def percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def markdown_report(report: dict) -> str:
    """The numbers as markdown tables, ready to paste into a model card."""
    classifier, real, generated = report["classifier"], report["real"], report["generated"]
    psi_headers = " | ".join(f"generated ψ = {g['truncation_psi']:g}" for g in generated)
    rule = " | ".join("---" for _ in range(len(generated) + 2))

    def row(name: str, values: list[str], real_value: str) -> str:
        return f"| {name} | {' | '.join(values)} | {real_value} |"

    data = report["data"]
    lines = [
        f"Measured with `python -m training.metrics` at {report['resolution']} px: {report['samples']} generated "
        f"images (seeds {report['seeds']}, constant noise) against {data['held_out']} held-out photos"
        f"{' cut out onto a plain background' if data.get('background') == 'plain' else ''}. Features are "
        f"the penultimate layer of a small classifier trained on {data['train']} photos (held-out top-1 accuracy "
        f"{percent(classifier['held_out_accuracy'])}, {len(data['classes'])} classes).",
        "",
        f"| metric | {psi_headers} | real held-out photos |",
        f"| {rule} |",
        row("Fréchet distance to held-out photos", [f"{g['frechet_distance']:.2f}" for g in generated],
            f"{real['frechet_distance_train_vs_held_out']:.2f} (train photos)"),
        row("garment share (confidence ≥ 0.5)", [percent(g["garment_share"]) for g in generated],
            percent(real["garment_share_held_out"])),
        row("diversity (mean pairwise feature distance)", [f"{g['diversity']:.3f}" for g in generated],
            f"{real['diversity_held_out']:.3f}"),
        row("diversity ratio to real", [f"{g['diversity_ratio']:.2f}" for g in generated], "1.00"),
        "",
        f"| class | held-out photos | classified correctly | {psi_headers} | real held-out photos |",
        f"| --- | --- | {rule} |",
    ]
    for name, counts in classifier["per_class"].items():
        shares = [percent(g["class_histogram"][name]) for g in generated]
        lines.append(f"| {name} | {counts['held_out']} | {counts['correct']} | {' | '.join(shares)} | "
                     f"{percent(real['class_histogram_held_out'][name])} |")
    merged = data["merged_into_other_garment"]
    if merged:
        lines += ["", f"Labels with fewer than {data['min_class_images']} photos are merged into "
                      f"'Other garment': {', '.join(merged)}."]
    return "\n".join(lines)


def write_json(report: dict, path: Path) -> None:
    """Writes the report atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = path.with_name(path.name + ".partial")
    partial_path.write_text(json.dumps(report, indent=2) + "\n")
    partial_path.replace(path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="model folder or generator.safetensors")
    parser.add_argument("--samples", type=int, default=2000, help="generated images per truncation")
    parser.add_argument("--resolution", type=int, default=None,
                        help="measure at this size (default: the model's; generated images are resized to it)")
    parser.add_argument("--out", type=Path, default=None, help="JSON report (default: <model folder>/metrics.json)")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="folder with images.csv and images/")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N photos")
    parser.add_argument("--min-class-images", type=int, default=MIN_CLASS_IMAGES,
                        help="labels with fewer photos are merged into 'Other garment'")
    parser.add_argument("--epochs", type=int, default=TrainSettings.epochs, help="classifier training epochs")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="photo preparation processes")
    parser.add_argument("--background", choices=BACKGROUNDS, default="photo",
                        help="prepare the real photos with their own background or a plain one (training.prepare)")
    args = parser.parse_args(argv)
    if args.samples < 2:
        parser.error("--samples must be at least 2")
    if args.resolution is not None and (args.resolution < 8 or args.resolution & (args.resolution - 1)):
        parser.error(f"--resolution must be a power of two of at least 8, got {args.resolution}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    start = time.perf_counter()
    report = measure(args.model, args.samples, args.resolution, args.dataset, args.cache_dir, args.limit,
                     args.min_class_images, TrainSettings(epochs=args.epochs), args.workers, args.background)
    report["wall_seconds"] = round(time.perf_counter() - start, 1)
    out = args.out or (args.model if args.model.is_dir() else args.model.parent) / "metrics.json"
    write_json(report, out)
    print(markdown_report(report))
    log(f"report written to {out} ({report['wall_seconds']} s)")


if __name__ == "__main__":
    main()
