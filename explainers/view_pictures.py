"""The layer views as one picture each (the CLI's PNGs, the page's downloads, the report): a grid of a
layer's channels over the picture, and the layer sweep's strip, each tile titled in words.

Plain numpy and OpenCV/Pillow (through ``explainers.render``): the arrays come from
``explainers.activations`` / ``explainers.sweep`` or from the service's cached dicts alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from explainers import render

TILE = 192  # pixels on a tile's longer side
GAP = 6  # white pixels between tiles


def tiles(pictures: Sequence[np.ndarray], columns: int) -> np.ndarray:
    """Pictures (RGB uint8, any heights) in rows of ``columns`` on white, each row as tall as its tallest."""
    import cv2

    width = max(p.shape[1] for p in pictures)
    cells = [
        cv2.resize(p, (width, round(p.shape[0] * width / p.shape[1])), interpolation=cv2.INTER_AREA)
        if p.shape[1] != width
        else p
        for p in pictures
    ]
    rows = []
    for start in range(0, len(cells), columns):
        row = cells[start : start + columns]
        height = max(c.shape[0] for c in row)
        canvas = np.full((height, columns * (width + GAP) - GAP, 3), 255, np.uint8)
        for i, cell in enumerate(row):
            canvas[: cell.shape[0], i * (width + GAP) : i * (width + GAP) + width] = cell
        rows.append(canvas)
    spacer = np.full((GAP, rows[0].shape[1], 3), 255, np.uint8)
    return np.concatenate([part for row in rows for part in (row, spacer)][:-1], axis=0)


def _picture_tile(image: np.ndarray) -> np.ndarray:
    import cv2

    height, width = image.shape[:2]
    factor = TILE / max(height, width)
    return cv2.resize(
        image, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA
    )


def _titled(picture: np.ndarray, heatmap: np.ndarray, caption: str, opacity: float, colormap: str) -> np.ndarray:
    return render.title_band(render.overlay(picture, heatmap, opacity=opacity, colormap=colormap), caption, size=12)


def channel_caption(index: int, mean: float, weight: float) -> str:
    """A channel's words under its map, the same on the page, in the PNG and in the report."""
    return f"channel {index} · mean {mean:.3g} · weight {weight:+.2g}"


def activations_picture(
    image: np.ndarray,
    maps: np.ndarray,
    channels: Sequence[int],
    means: Sequence[float],
    weights: Sequence[float],
    title: str,
    columns: int = 4,
    opacity: float = 0.6,
    colormap: str = "viridis",
) -> np.ndarray:
    """The channels' maps over ``image``, one tile each titled with its index, mean and weight."""
    picture = _picture_tile(image)
    cells = [
        _titled(picture, np.maximum(m, 0), channel_caption(int(c), float(a), float(w)), opacity, colormap)
        for m, c, a, w in zip(maps, channels, means, weights, strict=True)
    ]
    return render.title_band(tiles(cells, min(columns, len(cells))), title, size=16)


def sweep_picture(
    image: np.ndarray,
    heatmaps: np.ndarray,
    layers: Sequence[str],
    resolutions: Sequence[Sequence[int]],
    title: str,
    opacity: float = 0.5,
    colormap: str = "viridis",
) -> np.ndarray:
    """The sweep's maps over ``image`` in one row, first block to last, each titled with its layer."""
    picture = _picture_tile(image)
    cells = [
        _titled(picture, h, f"{layer} · {r[0]}×{r[1]}", opacity, colormap)
        for h, layer, r in zip(heatmaps, layers, resolutions, strict=True)
    ]
    return render.title_band(tiles(cells, len(cells)), title, size=16)
