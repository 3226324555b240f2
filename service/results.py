"""What a computed map is once it leaves the explainers: plain data the UI, the cache, the trust checks
and the wire encoding share, with no TensorFlow objects and nothing from the service itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class MapResult:
    """One computed map, as the UI needs it (no TensorFlow objects)."""

    method: str
    model: str
    heatmap: np.ndarray  # float32 (input size, input size), not normalised
    target: int
    label: str
    layer: str | None
    seconds: float
    signed: bool
    params: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    cached: bool = False


def shrink(heatmap: np.ndarray, side: int) -> np.ndarray:
    """A map scaled down (area average) to at most ``side`` pixels on a side."""
    import cv2

    heatmap = np.asarray(heatmap, np.float32)
    height, width = heatmap.shape
    factor = min(1.0, side / max(height, width))
    if factor >= 1.0:
        return heatmap.copy()
    return cv2.resize(
        heatmap, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA
    )


EMPTY_TOLERANCE = 1e-6  # a map whose values all lie within this share of its largest magnitude shows nothing


def is_empty(heatmap: np.ndarray) -> bool:
    """True for a map that shows nothing: all zero, or the same value everywhere (up to rounding)."""
    values = np.asarray(heatmap, np.float64)
    if values.size == 0 or not np.isfinite(values).all():
        return values.size == 0
    largest = float(np.abs(values).max())
    return float(values.max() - values.min()) <= EMPTY_TOLERANCE * largest or largest == 0.0
