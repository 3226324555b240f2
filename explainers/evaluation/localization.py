"""Does the map point at the object? ``pointing_game`` (Zhang et al. 2016/2018) and ``energy_in_mask``
(the "energy-based pointing game" of the Score-CAM paper, Wang et al. 2020), against a mask of the
object, or against a box the person drew (``box_mask``, ``scale_box``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from explainers.errors import ExplainerError
from explainers.evaluation._checks import _as_map, _as_mask, _shape2


def map_peak(heatmap: Any) -> tuple[int, int]:
    """(row, column) of the map's highest value; among equal highest values, the first in reading
    order (row by row, top left first), so the answer never depends on chance."""
    values = _as_map(heatmap)
    row, column = np.unravel_index(int(np.argmax(values)), values.shape)
    return int(row), int(column)


def pointing_game(heatmap: Any, mask: Any, tolerance: float = 0) -> bool:
    """True if the map's highest point falls on the object (Zhang et al. 2016, "Top-down neural
    attention by excitation backprop"; IJCV 2018).

    ``mask``: True on the object, resized (nearest) to the map's size if it has another size.
    ``tolerance``: a point at most this many pixels (of the map) from the object also counts (the paper
    uses 15 px on the image). The highest point is ``map_peak``: the first maximum in reading order, so
    a constant map points at its top-left corner. Signed maps point with their most positive value.
    """
    values = _as_map(heatmap)
    try:
        tolerance = float(tolerance)
    except (TypeError, ValueError):
        tolerance = float("nan")
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ExplainerError(f"tolerance must be a distance in pixels, 0 or more. Received: {tolerance!r}.")
    inside = _as_mask(mask, values.shape)
    row, column = map_peak(values)
    if inside[row, column] or tolerance == 0:
        return bool(inside[row, column])
    from scipy.ndimage import distance_transform_edt

    distance = distance_transform_edt(~inside)  # Euclidean distance of every pixel to the object
    return bool(distance[row, column] <= tolerance)


def energy_in_mask(heatmap: Any, mask: Any) -> float:
    """The share (0..1) of the map's positive mass that lies on the object: Σ inside / Σ everywhere of
    max(map, 0) (the "energy-based pointing game" of Wang et al. 2020, Score-CAM).

    Negative values (evidence against the class in signed maps) are left out. A map with no positive
    mass at all scores 0.0 (it points nowhere). ``mask`` as in ``pointing_game``.
    """
    values = np.maximum(_as_map(heatmap), 0.0)
    inside = _as_mask(mask, values.shape)
    total = float(values.sum())
    return float(values[inside].sum() / total) if total > 0 else 0.0


def box_mask(shape: Any, box: Sequence[float]) -> np.ndarray:
    """A boolean mask of ``shape`` (height, width[, channels]) that is True inside ``box``.

    ``box`` = (x0, y0, x1, y1) in pixels of that picture, measured on pixel edges: (0, 0) is the top-left
    corner of the picture and (width, height) its bottom-right corner, so (0, 0, 2, 1) covers the first
    two pixels of the top row. Corners may come in any order (a box dragged up or left); coordinates are
    rounded to the nearest edge and clipped to the picture. A box with no pixel inside is an error.
    For a box drawn on the displayed photo, map it onto the model's input with ``scale_box`` first.
    """
    height, width = _shape2(shape, "shape")
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ExplainerError(f"A box must be four numbers (x0, y0, x1, y1) in pixels. Received: {box!r}.") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ExplainerError(f"A box must be four finite numbers (x0, y0, x1, y1). Received: {box!r}.")

    def edges(a: float, b: float, size: int) -> tuple[int, int]:
        low, high = sorted((a, b))
        return (int(np.clip(math.floor(low + 0.5), 0, size)), int(np.clip(math.floor(high + 0.5), 0, size)))

    left, right = edges(x0, x1, width)
    top, bottom = edges(y0, y1, height)
    if right <= left or bottom <= top:
        raise ExplainerError(
            f"The box covers no pixel of the {width}×{height} picture: draw a larger box inside "
            f"it. Received: {tuple(box)!r}."
        )
    mask = np.zeros((height, width), bool)
    mask[top:bottom, left:right] = True
    return mask


def scale_box(box: Sequence[float], from_shape: Any, to_shape: Any) -> tuple[float, float, float, float]:
    """Map a box (x0, y0, x1, y1) drawn on a picture of ``from_shape`` onto the same picture resized to
    ``to_shape`` (both (height, width[, channels])).

    The model sees the whole photo squashed to its input size, so a box drawn on the photo maps onto the
    model's input by scaling x and y separately: ``scale_box(box, photo.shape, (224, 224))``.
    """
    from_h, from_w = _shape2(from_shape, "from_shape")
    to_h, to_w = _shape2(to_shape, "to_shape")
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ExplainerError(f"A box must be four numbers (x0, y0, x1, y1) in pixels. Received: {box!r}.") from None
    sx, sy = to_w / from_w, to_h / from_h
    return (x0 * sx, y0 * sy, x1 * sx, y1 * sy)
