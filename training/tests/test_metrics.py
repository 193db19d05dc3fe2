"""The quality metrics: feature statistics against known values, the split, and a tiny end-to-end run."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.classifier import GarmentClassifier, features_and_probabilities
from training.config import GeneratorConfig
from training.feature_stats import class_histogram, confident_share, frechet_distance, mean_pairwise_distance
from training.generator import Generator
from training.labelled_data import MERGED_CLASS, class_indices, class_names_after_merging, stratified_split
from training.metrics import generate_images, main as metrics_main
from training.model_card import model_card
from training.model_format import save_model
from training.random_weights import randomize_parameters
from training.seeds import z_from_seeds
from training.tests.test_data import garment_photo

TINY = GeneratorConfig(img_resolution=16, z_dim=8, w_dim=8, mapping_layers=2, channel_base=128, channel_max=16,
                       conv_clamp=256)


def whitened(count: int, dim: int, seed: int) -> np.ndarray:
    """Samples whose sample mean is exactly 0 and sample covariance exactly the identity."""
    samples = np.random.RandomState(seed).randn(count, dim)
    samples -= samples.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(samples, rowvar=False))
    return samples @ vectors @ np.diag(values**-0.5) @ vectors.T


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = np.random.RandomState(0).randn(500, 16) @ np.random.RandomState(1).randn(16, 16)
    assert frechet_distance(features, features) == pytest.approx(0, abs=1e-6)


def test_frechet_distance_of_shifted_and_scaled_gaussians_is_the_closed_form():
    # N(0, I) against N(μ, diag(t²)), both rotated by the same orthogonal matrix: ‖μ‖² + Σ(1 − t)².
    dim = 6
    a = whitened(400, dim, seed=2)
    shift = np.arange(dim, dtype=np.float64) / 2
    scale = np.linspace(0.5, 3.0, dim)
    b = a * scale + shift
    rotation, _ = np.linalg.qr(np.random.RandomState(3).randn(dim, dim))
    expected = np.sum(shift**2) + np.sum((1 - scale) ** 2)
    assert frechet_distance(a @ rotation, b @ rotation) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(a, a + shift) == pytest.approx(np.sum(shift**2), rel=1e-9)


def test_frechet_distance_needs_two_samples():
    with pytest.raises(ValueError, match="at least two"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))


def test_mean_pairwise_distance_known_values():
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == 5.0
    # Pairs of (0, 1, 3) on a line: 1, 3, 2.
    assert mean_pairwise_distance(np.array([[0.0], [1.0], [3.0]]), chunk=2) == pytest.approx(2.0)


def test_diversity_of_identical_images_is_zero():
    torch.manual_seed(0)
    classifier = GarmentClassifier(16, num_classes=3).eval()
    image = np.random.RandomState(4).randint(0, 256, size=(16, 16, 3), dtype=np.uint8)
    features, _ = features_and_probabilities(classifier, np.stack([image] * 7))
    assert mean_pairwise_distance(features) == 0.0
    other = np.random.RandomState(5).randint(0, 256, size=(16, 16, 3), dtype=np.uint8)
    features, _ = features_and_probabilities(classifier, np.stack([image, other]))
    assert mean_pairwise_distance(features) > 0


def test_confident_share_counts_max_probability_at_least_one_half():
    probabilities = np.array([[0.5, 0.3, 0.2], [0.49, 0.31, 0.2], [0.1, 0.1, 0.8], [0.4, 0.4, 0.2]])
    assert confident_share(probabilities) == 0.5
    assert confident_share(probabilities, threshold=0.8) == 0.25


def test_class_histogram_is_the_argmax_share():
    probabilities = np.array([[0.4, 0.35, 0.25], [0.1, 0.1, 0.8], [0.2, 0.1, 0.7], [0.3, 0.6, 0.1]])
    assert class_histogram(probabilities, ["a", "b", "c"]) == {"a": 0.25, "b": 0.25, "c": 0.5}


def test_rare_labels_are_merged_into_one_class():
    labels = ["Shirt"] * 5 + ["Pants"] * 4 + ["Top"] * 2 + ["Body"]
    names, merged = class_names_after_merging(labels, min_images=4)
    assert names == ["Pants", "Shirt", MERGED_CLASS] and merged == ["Body", "Top"]
    assert class_indices(labels, names).tolist() == [1] * 5 + [0] * 4 + [2] * 3


def test_split_is_deterministic_and_stratified():
    labels = np.repeat(np.arange(4), [100, 40, 7, 1])
    held_out = stratified_split(labels)
    assert np.array_equal(held_out, stratified_split(labels.copy()))
    assert [int(held_out[labels == k].sum()) for k in range(4)] == [15, 6, 1, 0]
    assert not np.array_equal(held_out, stratified_split(labels, seed=1))


def test_generated_images_are_quantised_as_drape_does():
    generator = randomize_parameters(Generator(TINY), seed=1).eval()
    images = generate_images(generator, 3, truncation_psi=0.7)
    with torch.no_grad():
        raw = generator(torch.from_numpy(z_from_seeds([0, 1, 2], TINY.z_dim)), truncation_psi=0.7,
                        noise_mode="const").numpy()
    expected = np.floor(np.clip(127.5 * raw.astype(np.float64) + 128, 0, 255)).astype(np.uint8)
    assert images.dtype == np.uint8 and images.shape == (3, 16, 16, 3)
    # float32 vs float64 arithmetic may differ at an exact integer boundary; allow a handful of such pixels.
    assert np.mean(images != expected.transpose(0, 2, 3, 1)) < 1e-3


def write_labelled_dataset(folder: Path) -> None:
    """30 photos: garments of three colours (labels Shirt, Pants, Dress), plus 'Skip' photos that must be dropped."""
    (folder / "images").mkdir(parents=True)
    colours = {"Shirt": (180, 30, 40), "Pants": (30, 40, 170), "Dress": (40, 160, 50), "Skip": (0, 0, 0)}
    with open(folder / "images.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "sender_id", "label", "kids"])
        for i in range(30):
            label = list(colours)[i % 4]
            photo = np.array(garment_photo(60, 80, box=(10 + i % 5, 15, 50, 70), seed=i))
            photo[15:70, 10 + i % 5:50] = colours[label]
            image_id = f"photo-{i:02d}"
            writer.writerow([image_id, i, label, "False"])
            Image.fromarray(photo).save(folder / "images" / f"{image_id}.jpg")


def test_end_to_end_on_a_tiny_random_model(tmp_path, capsys):
    write_labelled_dataset(tmp_path / "photos")
    generator = randomize_parameters(Generator(TINY), seed=2)
    model = save_model(generator, tmp_path / "model", model_card("tiny", "A test model.", TINY, {}))
    common = ["--model", str(model), "--dataset", str(tmp_path / "photos"), "--cache-dir", str(tmp_path / "cache"),
              "--samples", "6", "--limit", "21", "--epochs", "2", "--min-class-images", "7", "--workers", "1"]
    metrics_main(common)
    report = json.loads((model / "metrics.json").read_text())
    markdown = capsys.readouterr().out

    assert report["resolution"] == 16 and report["samples"] == 6
    assert report["data"]["images"] == 21 and report["data"]["train"] == 18
    assert report["data"]["classes"] == ["Dress", "Pants", "Shirt"]
    assert report["data"]["held_out"] == 3
    per_class = report["classifier"]["per_class"]
    assert sum(counts["held_out"] for counts in per_class.values()) == 3
    assert 0 <= report["classifier"]["held_out_accuracy"] <= 1
    assert [g["truncation_psi"] for g in report["generated"]] == [1.0, 0.7]
    real_diversity = report["real"]["diversity_held_out"]
    for generated in report["generated"]:
        assert generated["frechet_distance"] >= 0 and np.isfinite(generated["frechet_distance"])
        assert 0 <= generated["garment_share"] <= 1
        assert sum(generated["class_histogram"].values()) == pytest.approx(1)
        assert generated["diversity_ratio"] == pytest.approx(generated["diversity"] / real_diversity)
    assert "| Fréchet distance to held-out photos |" in markdown and "| Dress | " in markdown

    # A second run reuses the cached classifier and gives the same numbers; a different size is measured by
    # resizing the generated images.
    cached = list((tmp_path / "cache").glob("classifier-16px-*.pt"))
    assert len(cached) == 1
    metrics_main(common + ["--out", str(tmp_path / "again.json")])
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["generated"] == report["generated"] and again["real"] == report["real"]
    assert list((tmp_path / "cache").glob("classifier-16px-*.pt")) == cached
    metrics_main(common + ["--resolution", "8", "--out", str(tmp_path / "small.json")])
    assert json.loads((tmp_path / "small.json").read_text())["resolution"] == 8
