"""Cuts the garment out of its photo and puts it on a plain light background, like lookbook photos.

OpenCV's GrabCut separates garment from background. It is seeded from the border-contrast analysis that
garment_crop uses: the border colour is the background, pixels that differ clearly from it are probably garment,
border pixels that look like the background are surely background. The resulting mask is cleaned (small specks
and holes) and checked: a mask that is tiny, fragmented into many pieces, nearly the whole photo, or that runs
along much of the photo's border (the background was taken for garment) is implausible, and the photo is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from training.garment_crop import (CENTRE_SIGMA, EXTENT_QUANTILES, MIN_MASK_FRACTION, BorderContrast, Square,
                                   border_contrast, crop_square, weighted_quantiles)

PLAIN_BACKGROUND = (240, 240, 240)
ANALYSIS_SIZE = 200
GRABCUT_ITERATIONS = 5
SURE_BACKGROUND_BAND = 0.02
BOX_MARGIN = 0.1  # the seed box around the contrasting pixels grows by this share of its size on each side
BOX_FALLBACK = 0.8
NEAR_BACKGROUND = 0.5  # inside the box, pixels closer than this share of the threshold seed as background
FEATHER_SIGMA = 0.8
MARGIN = 1.15

# Plausibility of a mask (fractions of the analysed photo unless said otherwise).
MIN_AREA = 0.04
MAX_AREA = 0.85
PIECE_FRACTION = 0.05  # a piece is a connected part holding at least this share of the mask
MAX_PIECES = 3
MIN_PIECES_SHARE = 0.9  # the pieces must hold this share of the mask; the rest are specks
MAX_BORDER_SHARE = 0.35  # of the photo's border pixels
SIDE_TOUCH = 0.1  # a side counts as touched when this share of its pixels is garment
MIN_SOLIDITY = 0.6  # pieces' area over their convex hulls' area: thin strokes and torn shapes fall below
SPECK_FRACTION = 0.002
HOLE_FRACTION = 0.01


@dataclass(frozen=True)
class MaskCheck:
    """Measurements of a garment mask and the reason it is implausible (None when it is plausible)."""

    area: float
    pieces: int
    pieces_share: float
    border_share: float
    sides_touched: int
    solidity: float
    reason: str | None

    @property
    def plausible(self) -> bool:
        return self.reason is None


def border_pixels(mask: np.ndarray) -> np.ndarray:
    return np.concatenate([mask[0], mask[-1], mask[1:-1, 0], mask[1:-1, -1]])


def check_mask(mask: np.ndarray) -> MaskCheck:
    """Measures a boolean mask [rows, cols] and judges it (first failing rule wins)."""
    total = mask.size
    area = float(mask.sum()) / total
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    sizes = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    mask_pixels = max(float(mask.sum()), 1.0)
    piece_indices = [i + 1 for i, size in enumerate(sizes) if size >= PIECE_FRACTION * mask_pixels]
    pieces = sizes[[i - 1 for i in piece_indices]]
    pieces_share = float(pieces.sum()) / mask_pixels
    hull_area = sum(convex_hull_area(labels == i) for i in piece_indices)
    solidity = float(pieces.sum()) / hull_area if hull_area > 0 else 0.0
    border_share = float(border_pixels(mask).mean())
    sides = [mask[0].mean(), mask[-1].mean(), mask[:, 0].mean(), mask[:, -1].mean()]
    sides_touched = int(sum(side >= SIDE_TOUCH for side in sides))
    if area < MIN_AREA:
        reason = "tiny"
    elif area > MAX_AREA:
        reason = "no background found"
    elif len(pieces) > MAX_PIECES or pieces_share < MIN_PIECES_SHARE:
        reason = "fragmented"
    elif border_share > MAX_BORDER_SHARE or sides_touched == 4:
        reason = "along the border"
    elif solidity < MIN_SOLIDITY:
        reason = "torn shape"
    else:
        reason = None
    return MaskCheck(area, len(pieces), pieces_share, border_share, sides_touched, solidity, reason)


def convex_hull_area(piece: np.ndarray) -> float:
    """Pixels inside the convex hull of a boolean piece (the hull drawn filled, so comparable with pixel counts)."""
    points = cv2.findNonZero(piece.astype(np.uint8))
    hull = cv2.convexHull(points)
    canvas = np.zeros(piece.shape, dtype=np.uint8)
    cv2.fillConvexPoly(canvas, hull, 1)
    return float(canvas.sum())


def garment_box(contrast: BorderContrast) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) around the pixels that differ from the border colour, weighted towards the
    centre as garment_crop does, widened by BOX_MARGIN; the central BOX_FALLBACK of the photo when none do."""
    rows, cols = contrast.distance.shape
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    prior = np.exp(-0.5 * (((y - rows / 2) / (CENTRE_SIGMA * rows)) ** 2 + ((x - cols / 2) / (CENTRE_SIGMA * cols)) ** 2))
    weights = (contrast.garment * prior).ravel()
    if weights.sum() < MIN_MASK_FRACTION * rows * cols * prior.mean():
        margin_y, margin_x = (1 - BOX_FALLBACK) / 2 * rows, (1 - BOX_FALLBACK) / 2 * cols
        return round(margin_y), round(rows - margin_y), round(margin_x), round(cols - margin_x)
    top, bottom = weighted_quantiles(y.ravel() + 0.5, weights, EXTENT_QUANTILES)
    left, right = weighted_quantiles(x.ravel() + 0.5, weights, EXTENT_QUANTILES)
    grow_y, grow_x = BOX_MARGIN * (bottom - top), BOX_MARGIN * (right - left)
    return (max(0, int(top - grow_y)), min(rows, int(np.ceil(bottom + grow_y))),
            max(0, int(left - grow_x)), min(cols, int(np.ceil(right + grow_x))))


def seed_labels(pixels: np.ndarray) -> np.ndarray:
    """GrabCut's initial labels from the border contrast: inside the box around the contrasting pixels, probable
    garment (probable background where a pixel is close to the border colour); outside it, probable background;
    in a thin outer band, sure background where a pixel looks like the border colour."""
    contrast = border_contrast(pixels)
    rows, cols = contrast.distance.shape
    labels = np.full((rows, cols), cv2.GC_PR_BGD, dtype=np.uint8)
    top, bottom, left, right = garment_box(contrast)
    inside = np.zeros((rows, cols), dtype=bool)
    inside[top:bottom, left:right] = True
    labels[inside & (contrast.distance > NEAR_BACKGROUND * contrast.threshold)] = cv2.GC_PR_FGD
    labels[contrast.garment] = cv2.GC_PR_FGD
    band = max(1, round(SURE_BACKGROUND_BAND * max(rows, cols)))
    outer = np.ones((rows, cols), dtype=bool)
    outer[band:-band, band:-band] = False
    labels[outer & ~contrast.garment] = cv2.GC_BGD
    return labels


def clean_mask(mask: np.ndarray) -> np.ndarray:
    """Removes specks and fills small holes (holes that are larger, e.g. between trouser legs, stay)."""
    total = mask.size
    cleaned = mask.copy()
    for value in (True, False):
        count, labels, stats, _ = cv2.connectedComponentsWithStats((cleaned == value).astype(np.uint8), connectivity=8)
        limit = (SPECK_FRACTION if value else HOLE_FRACTION) * total
        for index in range(1, count):
            if stats[index, cv2.CC_STAT_AREA] < limit:
                if not value:
                    x, y, w, h = stats[index, :4]
                    if x == 0 or y == 0 or x + w == mask.shape[1] or y + h == mask.shape[0]:
                        continue  # background reaching the border is not a hole
                cleaned[labels == index] = not value
    return cleaned


def analysis_pixels(image: Image.Image) -> np.ndarray:
    width, height = image.size
    scale = min(1.0, ANALYSIS_SIZE / max(width, height))
    small = image.convert("RGB").resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR)
    return np.asarray(small, dtype=np.uint8)


def garment_mask(image: Image.Image) -> np.ndarray:
    """Boolean garment mask at analysis size (longest side ANALYSIS_SIZE, or the photo's own size if smaller)."""
    pixels = analysis_pixels(image)
    labels = seed_labels(pixels.astype(np.float32))
    if not (labels == cv2.GC_PR_FGD).any() or not np.isin(labels, (cv2.GC_BGD, cv2.GC_PR_BGD)).any():
        return labels == cv2.GC_PR_FGD
    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(np.ascontiguousarray(pixels[..., ::-1]), labels, None, background_model, foreground_model,
                GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    return clean_mask((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD))


def composite(image: Image.Image, mask: np.ndarray, colour: tuple[int, int, int] = PLAIN_BACKGROUND) -> Image.Image:
    """The photo with everything outside the (feathered, resized) mask replaced by `colour`."""
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), FEATHER_SIGMA)
    alpha = cv2.resize(alpha, image.size, interpolation=cv2.INTER_LINEAR)[..., None]
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    out = pixels * alpha + np.array(colour, dtype=np.float32) * (1 - alpha)
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))


def mask_square(mask: np.ndarray, image_size: tuple[int, int], colour: tuple[int, int, int]) -> Square:
    """The square around the mask's bounding box (times MARGIN), in the photo's pixels."""
    rows, cols = np.nonzero(mask)
    scale = image_size[0] / mask.shape[1]
    top, bottom = rows.min() * scale, (rows.max() + 1) * scale
    left, right = cols.min() * scale, (cols.max() + 1) * scale
    side = max(bottom - top, right - left) * MARGIN
    return Square((left + right) / 2, (top + bottom) / 2, side, colour)


def prepare_plain_photo(image: Image.Image, resolution: int) -> tuple[Image.Image | None, MaskCheck]:
    """A photo → (the garment on the plain background, square, resolution²; or None when dropped) and its check."""
    mask = garment_mask(image)
    check = check_mask(mask)
    if not check.plausible:
        return None, check
    square = mask_square(mask, image.size, PLAIN_BACKGROUND)
    return crop_square(composite(image, mask), square, resolution), check
