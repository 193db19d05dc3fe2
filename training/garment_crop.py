"""Finds the garment in a photo and cuts a square around it, padding with the background colour where needed.

The photos show one garment on floors, beds or tables. The background colour is estimated from the
image border; pixels that differ clearly from it, weighted towards the image centre, outline the garment.
When nothing stands out, the square falls back to the centre of the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

ANALYSIS_SIZE = 96
BORDER_FRACTION = 0.05
MIN_THRESHOLD = 24.0
CENTRE_SIGMA = 0.45
EXTENT_QUANTILES = (0.02, 0.98)
MARGIN = 1.2
MIN_SIDE_FRACTION = 0.7
CENTRE_PULL = 0.25
MIN_MASK_FRACTION = 0.02


@dataclass(frozen=True)
class Square:
    """A square in image pixels: centre (x, y), side length, and the colour for any part outside the image."""

    centre_x: float
    centre_y: float
    side: float
    fill: tuple[int, int, int]


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, quantiles: tuple[float, ...]) -> np.ndarray:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return np.interp(np.array(quantiles) * cumulative[-1], cumulative, values[order])


def place_on_axis(centre: float, side: float, length: float) -> float:
    """Moves the square's centre so the square stays inside [0, length] when it fits, else centres it."""
    if side >= length:
        return length / 2
    return float(np.clip(centre, side / 2, length - side / 2))


@dataclass(frozen=True)
class BorderContrast:
    """The background colour estimated from the image border, every pixel's colour distance to it, the distance
    above which a pixel counts as garment, and the border band the estimate came from."""

    background: np.ndarray
    distance: np.ndarray
    threshold: float
    border: np.ndarray

    @property
    def garment(self) -> np.ndarray:
        return self.distance > self.threshold


def border_contrast(pixels: np.ndarray) -> BorderContrast:
    """Border-contrast analysis of float RGB pixels [rows, cols, 3]."""
    rows, cols = pixels.shape[:2]
    band = max(1, round(BORDER_FRACTION * max(rows, cols)))
    border = np.ones((rows, cols), dtype=bool)
    border[band:-band, band:-band] = False
    background = np.median(pixels[border], axis=0)
    distance = np.linalg.norm(pixels - background, axis=2)
    threshold = max(MIN_THRESHOLD, float(np.percentile(distance[border], 90)))
    return BorderContrast(background, distance, threshold, border)


def find_garment_square(image: Image.Image) -> Square:
    """The square around the garment, in the coordinates of `image`."""
    width, height = image.size
    scale = ANALYSIS_SIZE / max(width, height)
    small = image.convert("RGB").resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR)
    pixels = np.asarray(small, dtype=np.float32)
    rows, cols = pixels.shape[:2]

    contrast = border_contrast(pixels)
    background, distance, threshold = contrast.background, contrast.distance, contrast.threshold

    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    prior = np.exp(-0.5 * (((y - rows / 2) / (CENTRE_SIGMA * rows)) ** 2 + ((x - cols / 2) / (CENTRE_SIGMA * cols)) ** 2))
    weights = (distance > threshold) * prior
    fill = tuple(int(round(v)) for v in background)
    short_side = min(width, height)

    if weights.sum() < MIN_MASK_FRACTION * rows * cols * prior.mean():
        return Square(width / 2, height / 2, short_side, fill)

    flat = weights.ravel()
    top, bottom = weighted_quantiles(y.ravel() + 0.5, flat, EXTENT_QUANTILES)
    left, right = weighted_quantiles(x.ravel() + 0.5, flat, EXTENT_QUANTILES)
    side = max(bottom - top, right - left) / scale * MARGIN
    side = float(np.clip(side, MIN_SIDE_FRACTION * short_side, max(width, height)))
    centre_x = (1 - CENTRE_PULL) * (left + right) / 2 / scale + CENTRE_PULL * width / 2
    centre_y = (1 - CENTRE_PULL) * (top + bottom) / 2 / scale + CENTRE_PULL * height / 2
    return Square(place_on_axis(centre_x, side, width), place_on_axis(centre_y, side, height), side, fill)


def crop_square(image: Image.Image, square: Square, resolution: int) -> Image.Image:
    """Cuts `square` out of `image` (background fill outside it) and resizes it to resolution² with Lanczos."""
    side = max(1, round(square.side))
    left = round(square.centre_x - side / 2)
    top = round(square.centre_y - side / 2)
    canvas = Image.new("RGB", (side, side), square.fill)
    canvas.paste(image.convert("RGB"), (-left, -top))
    return canvas.resize((resolution, resolution), Image.LANCZOS)


def prepare_photo(image: Image.Image, resolution: int) -> Image.Image:
    """A garment photo → a square resolution² RGB image centred on the garment."""
    return crop_square(image, find_garment_square(image), resolution)
