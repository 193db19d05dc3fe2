"""Statistics on classifier features and outputs: Fréchet distance, mean pairwise distance, confident share
and class histogram. Plain numpy in float64."""

from __future__ import annotations

import numpy as np

CONFIDENCE_THRESHOLD = 0.5


def mean_and_covariance(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and unbiased covariance [D, D] of features [N, D] (N ≥ 2)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least two feature vectors [N, D], got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The PSD square root of a symmetric PSD matrix (negative eigenvalues from rounding are clipped to 0)."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa − μb‖² + tr(Σa + Σb − 2(Σa Σb)^½) between Gaussians fitted to feature sets a and b.

    tr((Σa Σb)^½) is computed as tr((Σa^½ Σb Σa^½)^½), which has the same eigenvalues and stays symmetric."""
    mean_a, cov_a = mean_and_covariance(a)
    mean_b, cov_b = mean_and_covariance(b)
    root_a = symmetric_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    trace_of_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_of_root
    return float(max(distance, 0.0))


def mean_pairwise_distance(features: np.ndarray, chunk: int = 32) -> float:
    """Mean Euclidean distance over all unordered pairs of distinct rows of features [N, D] (N ≥ 2), from exact
    differences (no ‖a‖² + ‖b‖² − 2ab cancellation, so identical rows are exactly 0 apart)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least two feature vectors [N, D], got shape {features.shape}")
    total = 0.0
    for start in range(0, len(features), chunk):
        differences = features[start:start + chunk, None, :] - features[None, :, :]
        total += np.sqrt(np.sum(differences**2, axis=2)).sum()
    # Every unordered pair was counted twice; the diagonal adds zeros.
    return float(total / (len(features) * (len(features) - 1)))


def confident_share(probabilities: np.ndarray, threshold: float = CONFIDENCE_THRESHOLD) -> float:
    """The fraction of rows of probabilities [N, C] whose largest class probability is ≥ threshold."""
    return float(np.mean(np.max(probabilities, axis=1) >= threshold))


def class_histogram(probabilities: np.ndarray, class_names: list[str]) -> dict[str, float]:
    """The share of rows whose most probable class is each class (argmax, whatever its confidence)."""
    counts = np.bincount(np.argmax(probabilities, axis=1), minlength=len(class_names))
    return {name: float(count / len(probabilities)) for name, count in zip(class_names, counts, strict=True)}
