"""Cutting garments out onto a plain background: the mask plausibility rules on synthetic masks, GrabCut on
synthetic photos, and `training.prepare --background plain`."""

import csv

import cv2
import numpy as np
from PIL import Image

from training.background import PLAIN_BACKGROUND, check_mask, garment_mask, prepare_plain_photo
from training.prepare import main as prepare_main
from training.tests.test_data import garment_photo, red_mask, write_fake_dataset


def ellipse_mask(rows: int = 200, cols: int = 150, centre=(75, 100), axes=(40, 60)) -> np.ndarray:
    canvas = np.zeros((rows, cols), dtype=np.uint8)
    cv2.ellipse(canvas, centre, axes, 0, 0, 360, 1, -1)
    return canvas.astype(bool)


def test_a_solid_central_garment_is_plausible():
    check = check_mask(ellipse_mask())
    assert check.plausible and check.pieces == 1 and check.border_share == 0 and check.solidity > 0.95


def test_a_pair_of_shoes_is_two_pieces_and_plausible():
    mask = ellipse_mask(centre=(45, 100), axes=(25, 40)) | ellipse_mask(centre=(105, 100), axes=(25, 40))
    check = check_mask(mask)
    assert check.plausible and check.pieces == 2


def test_a_tiny_mask_is_dropped():
    assert check_mask(ellipse_mask(axes=(8, 10))).reason == "tiny"


def test_a_mask_of_almost_the_whole_photo_is_dropped():
    mask = np.ones((200, 150), dtype=bool)
    mask[:5, :5] = False
    assert check_mask(mask).reason == "no background found"


def test_a_mask_of_many_pieces_is_fragmented():
    mask = np.zeros((200, 150), dtype=bool)
    for row in range(20, 180, 40):
        for col in range(15, 135, 30):
            mask[row:row + 18, col:col + 15] = True
    check = check_mask(mask)
    assert check.reason == "fragmented" and check.pieces > 3


def test_speckle_around_a_garment_is_fragmented():
    rng = np.random.RandomState(0)
    mask = ellipse_mask(axes=(30, 40)) | (rng.rand(200, 150) < 0.08)
    assert check_mask(mask).reason == "fragmented"


def test_a_mask_along_the_border_is_dropped():
    frame = np.zeros((200, 150), dtype=bool)
    frame[:, :30] = frame[:, -30:] = frame[:25] = True  # the floor taken for garment, open at the bottom
    assert check_mask(frame).reason == "along the border"
    touching_all_sides = ellipse_mask(axes=(76, 104))  # a photo-filling oval: the floor in its corners only
    assert check_mask(touching_all_sides).sides_touched == 4
    assert check_mask(touching_all_sides).reason == "along the border"


def test_a_garment_cut_off_at_one_side_is_plausible():
    mask = np.zeros((200, 150), dtype=bool)
    mask[60:200, 40:110] = True  # trousers running out of the bottom of the photo
    check = check_mask(mask)
    assert check.plausible and check.sides_touched == 1


def test_a_thin_stroke_is_a_torn_shape():
    mask = np.zeros((200, 150), dtype=bool)
    cv2.line(mask.view(np.uint8), (10, 20), (140, 180), 1, 12)
    cv2.line(mask.view(np.uint8), (140, 20), (10, 180), 1, 12)
    check = check_mask(mask)
    assert check.reason == "torn shape" and check.solidity < 0.6


def test_grabcut_finds_the_garment_on_a_textured_floor():
    photo = garment_photo(300, 400, box=(60, 80, 220, 330), seed=5)
    mask = garment_mask(photo)
    truth = cv2.resize(red_mask(photo).astype(np.uint8), mask.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    intersection_over_union = (mask & truth).sum() / (mask | truth).sum()
    assert intersection_over_union > 0.9


def test_the_garment_lands_centred_on_the_plain_background():
    photo = garment_photo(300, 400, box=(20, 40, 160, 250), seed=6)
    prepared, check = prepare_plain_photo(photo, 64)
    assert check.plausible and prepared.size == (64, 64)
    pixels = np.asarray(prepared, dtype=np.int32)
    for corner in (pixels[0, 0], pixels[0, -1], pixels[-1, 0], pixels[-1, -1]):
        assert np.abs(corner - PLAIN_BACKGROUND).max() <= 2
    rows, cols = np.nonzero(red_mask(prepared))
    assert abs(rows.mean() - 31.5) < 4 and abs(cols.mean() - 31.5) < 4
    assert 0.3 < red_mask(prepared).mean() < 0.8


def test_a_photo_without_a_garment_is_dropped():
    prepared, check = prepare_plain_photo(garment_photo(300, 400, box=(0, 0, 0, 0), seed=7), 64)
    assert prepared is None and not check.plausible


def test_prepare_with_a_plain_background_reports_and_draws_sheets(tmp_path):
    ids = write_fake_dataset(tmp_path / "dataset")
    Image.fromarray(np.full((160, 120, 3), 200, np.uint8)).save(tmp_path / "dataset" / "images" / f"{ids[0]}.jpg")
    out = tmp_path / "plain.npy"
    prepare_main(["--dataset", str(tmp_path / "dataset"), "--resolution", "16", "--out", str(out), "--workers", "1",
                  "--background", "plain", "--contact-sheets", str(tmp_path / "sheets")])
    images = np.load(out)
    with open(tmp_path / "plain.npy.masks.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["image"] for row in rows] == ids
    assert rows[0]["verdict"] != "kept" and [row["verdict"] for row in rows[1:]] == ["kept", "kept"]
    assert images.shape == (2, 16, 16, 3)
    assert (tmp_path / "sheets" / "kept.png").exists()
    assert len(list((tmp_path / "sheets").glob("dropped-*.png"))) == 1
