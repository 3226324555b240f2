"""Scores of one map without a region (pure numpy): how much of it lies on the picture's border band, and
how concentrated it is. With a region, ``explainers.evaluation.localization`` scores it instead
(energy in the region, pointing game)."""

from __future__ import annotations

import numpy as np

BORDER_BAND = 0.10  # the outer tenth of the picture on every side
TOP_SHARE = 0.10  # concentration: the mass held by the brightest tenth of the pixels


def _mass(heatmap: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(heatmap, np.float64), 0.0)


def border_band(shape: tuple[int, int], band: float = BORDER_BAND) -> np.ndarray:
    """Bool (H, W): True on the outer ``band`` of the height and width on every side."""
    height, width = shape
    rows, columns = max(1, round(height * band)), max(1, round(width * band))
    inner = np.zeros((height, width), bool)
    inner[rows : height - rows, columns : width - columns] = True
    return ~inner


def border_share(heatmap: np.ndarray, band: float = BORDER_BAND) -> float:
    """The share (0..1) of the map's positive mass on the border band. A map of a uniform picture puts
    36 % there (the band's area for 10 %); a map drawn to the picture's edge or corners, far more."""
    mass = _mass(heatmap)
    total = mass.sum()
    return float(mass[border_band(mass.shape, band)].sum() / total) if total > 0 else 0.0


def concentration(heatmap: np.ndarray, top: float = TOP_SHARE) -> float:
    """The share (0..1) of the map's positive mass held by its brightest ``top`` of pixels: 0.1 for a flat
    map, 1.0 for a map on a tenth of the picture or less. A map with no positive mass scores 0."""
    mass = _mass(heatmap).ravel()
    total = mass.sum()
    if total <= 0:
        return 0.0
    count = max(1, round(mass.size * top))
    return float(np.partition(mass, mass.size - count)[mass.size - count :].sum() / total)


def peak_place(heatmap: np.ndarray) -> str:
    """Where the map's mass is densest, in words: the ninth of the picture ("top left", "centre", ...)."""
    mass = _mass(heatmap)
    height, width = mass.shape
    thirds = np.array(
        [
            [
                mass[r * height // 3 : (r + 1) * height // 3, c * width // 3 : (c + 1) * width // 3].mean()
                for c in range(3)
            ]
            for r in range(3)
        ]
    )
    row, column = np.unravel_index(int(np.argmax(thirds)), thirds.shape)
    if (row, column) == (1, 1):
        return "centre"
    vertical, horizontal = ("top", "middle", "bottom")[row], ("left", "middle", "right")[column]
    if vertical == "middle":
        return f"{horizontal} edge"
    if horizontal == "middle":
        return f"{vertical} edge"
    return f"{vertical}-{horizontal} corner"
