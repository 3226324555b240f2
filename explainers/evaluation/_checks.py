"""Checks every score shares: maps, masks and shapes read from what a caller gave, with an error that
echoes the value when it cannot be; and one map through the public API."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from explainers.api import explain
from explainers.errors import ExplainerError

Progress = Callable[[float], None]


def _as_map(heatmap: Any, what: str = "heatmap") -> np.ndarray:
    """A 2-D float64 map; non-finite values count as 0 (the rule ``render.normalise`` uses)."""
    try:
        values = np.asarray(heatmap, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExplainerError(f"The {what} must be an array of numbers. Received: {type(heatmap).__name__}.") from None
    if values.ndim != 2 or values.size == 0:
        raise ExplainerError(f"The {what} must be a 2-D array (height × width). Received shape: {values.shape}.")
    return np.where(np.isfinite(values), values, 0.0)


def _resize(values: np.ndarray, shape: tuple[int, int], nearest: bool = False) -> np.ndarray:
    import cv2

    height, width = int(shape[0]), int(shape[1])
    if values.shape == (height, width):
        return values
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    dtype = np.uint8 if nearest else np.float32
    return cv2.resize(values.astype(dtype), (width, height), interpolation=interpolation).astype(values.dtype)


def _as_mask(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    """A boolean mask at ``shape`` (nearest-neighbour resize if it has another size); True = object."""
    try:
        values = np.asarray(mask)
    except (TypeError, ValueError):
        raise ExplainerError(f"The mask must be an array. Received: {type(mask).__name__}.") from None
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[..., 0]
    if values.ndim != 2 or values.size == 0 or values.dtype.kind not in "biuf":
        raise ExplainerError(
            "The mask must be a 2-D array (height × width) of True/False or 0/1. "
            f"Received: shape {values.shape}, type {values.dtype}."
        )
    inside = _resize((np.nan_to_num(values.astype(np.float64)) != 0).astype(np.uint8), shape, nearest=True) > 0
    if not inside.any():
        raise ExplainerError(
            f"The mask is empty: mark at least one pixel of the object. Received a mask of "
            f"shape {values.shape} with no pixel set."
        )
    return inside


def _shape2(shape: Any, what: str) -> tuple[int, int]:
    try:
        height, width = int(shape[0]), int(shape[1])
    except (TypeError, ValueError, IndexError):
        raise ExplainerError(f"The {what} must be (height, width[, channels]). Received: {shape!r}.") from None
    if height < 1 or width < 1:
        raise ExplainerError(f"The {what} must have a positive height and width. Received: {shape!r}.")
    return height, width


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ExplainerError(f"{name} must be one of: {', '.join(choices)}. Received: {value!r}.")
    return value


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ExplainerError(f"{name} must be a whole number of at least {minimum}. Received: {value!r}.")
    return int(value)


def _target_index(model, target: Any) -> int | None:
    if isinstance(target, np.integer):
        target = int(target)
    return model.resolve_target(target)


def _explain(model, image, method: str, target, layer, params: Mapping[str, Any] | None):
    return explain(model, image, method, target=target, layer=layer, **dict(params or {}))
