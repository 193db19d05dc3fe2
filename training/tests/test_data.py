"""Data preparation on generated photos: label filtering, garment centring, .npy cache, JPEG folders, batches."""

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.garment_crop import find_garment_square, prepare_photo
from training.image_data import BatchSampler, load_training_images
from training.prepare import DEFAULT_DATASET, garment_photos, main as prepare_main

REPO_ROOT = Path(__file__).resolve().parents[2]


def garment_photo(width: int, height: int, box: tuple[int, int, int, int], seed: int) -> Image.Image:
    """A noisy beige 'floor' with a red rectangle 'garment' at box = (left, top, right, bottom)."""
    rng = np.random.RandomState(seed)
    pixels = np.clip(rng.normal([200, 190, 170], 8, size=(height, width, 3)), 0, 255)
    left, top, right, bottom = box
    pixels[top:bottom, left:right] = [180, 30, 40]
    return Image.fromarray(pixels.astype(np.uint8))


def red_mask(image: Image.Image) -> np.ndarray:
    pixels = np.asarray(image, dtype=np.int32)
    return (pixels[..., 0] > 140) & (pixels[..., 1] < 90)


def test_off_centre_garment_ends_up_centred_and_whole():
    photo = garment_photo(400, 533, box=(40, 60, 240, 330), seed=0)
    square = find_garment_square(photo)
    assert abs(square.centre_x - 140) < 40 and abs(square.centre_y - 195) < 40
    out = prepare_photo(photo, 64)
    assert out.size == (64, 64)
    mask = red_mask(out)
    rows, cols = np.nonzero(mask)
    assert abs(rows.mean() - 31.5) < 8 and abs(cols.mean() - 31.5) < 8
    # The whole garment is inside, with some background around it.
    assert not mask[0].any() and not mask[-1].any() and not mask[:, 0].any() and not mask[:, -1].any()
    assert 0.2 < mask.mean() < 0.8


def test_garment_wider_than_the_photo_is_padded_with_the_background():
    photo = garment_photo(300, 200, box=(0, 20, 300, 180), seed=1)
    out = np.asarray(prepare_photo(photo, 32), dtype=np.int32)
    top_row = out[0].mean(axis=0)
    assert np.abs(top_row - [200, 190, 170]).max() < 20
    assert red_mask(Image.fromarray(out.astype(np.uint8)))[16].mean() > 0.9


def test_plain_photo_falls_back_to_the_centre_square():
    photo = garment_photo(300, 400, box=(0, 0, 0, 0), seed=2)
    square = find_garment_square(photo)
    assert (square.centre_x, square.centre_y, square.side) == (150, 200, 300)


def write_fake_dataset(folder: Path) -> list[str]:
    """Six photos, two of them with labels that are not garments; returns the garment ids."""
    (folder / "images").mkdir(parents=True)
    rows = [("b-shirt", "Shirt"), ("a-dress", "Dress"), ("c-skip", "Skip"), ("d-unsure", "Not sure"),
            ("e-other", "Other"), ("f-pants", "Pants")]
    with open(folder / "images.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "sender_id", "label", "kids"])
        for i, (image_id, label) in enumerate(rows):
            writer.writerow([image_id, i, label, "False"])
            garment_photo(120, 160, box=(20 + i, 30, 90, 120), seed=i).save(folder / "images" / f"{image_id}.jpg")
    return ["a-dress", "b-shirt", "f-pants"]


def test_dataset_listing_drops_non_garments(tmp_path):
    expected = write_fake_dataset(tmp_path / "photos")
    assert [path.stem for path in garment_photos(tmp_path / "photos")] == expected


def test_npy_and_jpeg_preparation_and_loading(tmp_path):
    write_fake_dataset(tmp_path / "photos")
    prepare_main(["--dataset", str(tmp_path / "photos"), "--resolution", "16", "--out", str(tmp_path / "set.npy"),
                  "--workers", "1"])
    array = np.load(tmp_path / "set.npy")
    assert array.shape == (3, 16, 16, 3) and array.dtype == np.uint8
    prepare_main(["--dataset", str(tmp_path / "photos"), "--resolution", "16", "--out", str(tmp_path / "jpegs"),
                  "--format", "jpeg", "--workers", "2"])
    assert sorted(path.name for path in (tmp_path / "jpegs").iterdir()) == ["a-dress.jpg", "b-shirt.jpg", "f-pants.jpg"]
    from_jpegs = load_training_images(tmp_path / "jpegs", 16)
    assert from_jpegs.shape == array.shape
    assert np.abs(from_jpegs.astype(int) - array).mean() < 4
    np.testing.assert_array_equal(load_training_images(tmp_path / "set.npy", 16), array)
    with pytest.raises(ValueError):
        load_training_images(tmp_path / "set.npy", 32)


def test_raw_dataset_is_prepared_once_into_the_cache(tmp_path):
    write_fake_dataset(tmp_path / "photos")
    images = load_training_images(tmp_path / "photos", 8, cache_dir=tmp_path / "cache")
    cache = tmp_path / "cache" / "photos-8.npy"
    np.testing.assert_array_equal(np.load(cache), images)
    np.save(cache, np.zeros_like(images))
    assert not load_training_images(tmp_path / "photos", 8, cache_dir=tmp_path / "cache").any()


def test_batch_sampler_covers_epochs_mirrors_and_resumes_exactly():
    images = np.arange(10 * 4 * 4 * 3, dtype=np.uint8).reshape(10, 4, 4, 3)
    sampler = BatchSampler(images, batch_size=4, seed=0, mirror=False)
    first_epoch = torch.cat([sampler.next_batch("cpu") for _ in range(2)])
    assert first_epoch.min() >= -1 and first_epoch.max() <= 1
    assert len({tuple(x.flatten().tolist()) for x in first_epoch}) == 8
    mirrored = BatchSampler(images, batch_size=4, seed=0, mirror=True)
    batches = torch.cat([mirrored.next_batch("cpu") for _ in range(5)])
    flipped = sum(bool(torch.equal(b.flip(2), a)) for b in batches for a in first_epoch)
    assert flipped > 0
    state = mirrored.state_dict()
    ahead = [mirrored.next_batch("cpu") for _ in range(3)]
    resumed = BatchSampler(images, batch_size=4, seed=99, mirror=True)
    resumed.load_state_dict(state)
    for expected in ahead:
        assert torch.equal(resumed.next_batch("cpu"), expected)


def test_real_dataset_smoke():
    dataset = Path(os.environ.get("DRAPE_DATASET", REPO_ROOT / DEFAULT_DATASET))
    if not (dataset / "images.csv").exists():
        pytest.skip(f"clothing dataset not found at {dataset}")
    photos = garment_photos(dataset)
    assert len(photos) == 5096
    with Image.open(photos[0]) as photo:
        assert prepare_photo(photo, 16).size == (16, 16)
