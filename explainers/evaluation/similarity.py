"""How alike two maps are: ``rank_correlation`` (Spearman) and ``ssim`` (structural similarity), the
two measures of Adebayo et al. 2018."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from explainers.errors import ExplainerError
from explainers.evaluation._checks import _as_map, _resize


def _pair(a: Any, b: Any, absolute: bool) -> tuple[np.ndarray, np.ndarray]:
    """Both maps as 2-D arrays; ``b`` resized (bilinear) to ``a``'s size if they differ (maps of two
    models with different input sizes); absolute values if asked."""
    first, second = _as_map(a, "first map"), _as_map(b, "second map")
    second = _resize(second, first.shape)
    if absolute:
        first, second = np.abs(first), np.abs(second)
    return first, second


def rank_correlation(a: Any, b: Any, absolute: bool = False) -> float:
    """Spearman's rank correlation of two maps' pixels (−1..1): 1 = the same ranking of pixels, 0 =
    unrelated, −1 = reversed (one of Adebayo et al. 2018's two similarity measures).

    Only the order of pixels counts, so any increasing rescaling of a map keeps 1. ``absolute``: compare
    |map| (Adebayo et al. compare absolute-value maps, where the sign of a gradient is arbitrary; the
    sanity checks here set it). A constant map ranks nothing: its correlation is 0.0. ``b`` is resized
    to ``a``'s size if needed.
    """
    from scipy.stats import spearmanr

    first, second = _pair(a, b, absolute)
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return 0.0
    value = float(spearmanr(first.ravel(), second.ravel()).statistic)
    return value if math.isfinite(value) else 0.0


def ssim(a: Any, b: Any, absolute: bool = False) -> float:
    """Structural similarity (Wang et al. 2004) of two maps, each first scaled to [0, 1] by its own
    minimum and maximum, so only their shapes are compared (Adebayo et al. 2018's second measure).

    1 = the same picture; near 0 = unrelated. A constant map becomes all zeros. The window is 7 × 7
    (smaller for maps under 7 pixels on a side; a map needs at least 3). ``absolute`` and resizing as in
    ``rank_correlation``.
    """
    from skimage.metrics import structural_similarity

    first, second = _pair(a, b, absolute)
    side = min(first.shape)
    if side < 3:
        raise ExplainerError(f"SSIM needs maps of at least 3 × 3 pixels. Received shape: {first.shape}.")
    window = min(7, side if side % 2 else side - 1)

    def unit(values: np.ndarray) -> np.ndarray:
        span = np.ptp(values)
        return (values - values.min()) / span if span > 0 else np.zeros_like(values)

    return float(structural_similarity(unit(first), unit(second), data_range=1.0, win_size=window))
