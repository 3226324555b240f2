"""Heatmap -> picture: normalisation, colour maps and overlays as plain numpy/OpenCV (no TensorFlow,
no Dash), shared by the CLI, the HTTP API and downloads."""
from __future__ import annotations

import numpy as np


def normalise(heatmap: np.ndarray, percentile: float = 99.0, signed: bool = False) -> np.ndarray:
    """Scale a heatmap to [0, 1] (or [-1, 1] if ``signed``), clipping at the given percentile of |values|.

    Clipping at the 99th percentile keeps a few extreme pixels (common in gradient maps) from washing
    out the rest. A constant map becomes all zeros rather than dividing by zero.
    """
    values = np.asarray(heatmap, np.float64)
    values = np.where(np.isfinite(values), values, 0.0)
    if not signed:
        values = np.maximum(values, 0.0)
    scale = map_scale(values, percentile)
    if scale <= 0:
        return np.zeros(values.shape, np.float32)
    low = -1.0 if signed else 0.0
    return np.clip(values / scale, low, 1.0).astype(np.float32)


# Moreland's "cool to warm" diverging map: blue (against) - light grey (nothing) - red (for).
_DIVERGING = np.array([[59, 76, 192], [221, 221, 221], [180, 4, 38]], np.float32)


def colourise(unit: np.ndarray, colormap: str = "viridis") -> np.ndarray:
    """Map values in [0, 1] to RGB uint8 with one of OpenCV's colour maps (viridis is colour-blind safe).

    "diverging" is for signed maps that were mapped from [-1, 1] to [0, 1]: 0.5 is neutral.
    """
    import cv2

    if colormap == "diverging":
        position = np.clip(unit, 0.0, 1.0) * 2.0
        low = np.minimum(position.astype(int), 1)
        frac = (position - low)[..., None]
        return np.round(_DIVERGING[low] * (1 - frac) + _DIVERGING[low + 1] * frac).astype(np.uint8)

    table = {"viridis": cv2.COLORMAP_VIRIDIS, "inferno": cv2.COLORMAP_INFERNO, "jet": cv2.COLORMAP_JET,
             "gray": None, "cividis": cv2.COLORMAP_CIVIDIS}
    if colormap not in table:
        raise ValueError(f"Unknown colour map {colormap!r}. Choose one of: {', '.join(table)}.")
    levels = np.round(np.clip(unit, 0.0, 1.0) * 255).astype(np.uint8)
    if table[colormap] is None:
        return np.repeat(levels[..., None], 3, axis=-1)
    return cv2.applyColorMap(levels, table[colormap])[..., ::-1].copy()  # OpenCV gives BGR


def overlay(image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.5, colormap: str = "viridis",
            percentile: float = 99.0, signed: bool = False) -> np.ndarray:
    """The image with the heatmap laid over it (heatmap resized to the image), RGB uint8."""
    import cv2

    if heatmap.shape != image.shape[:2]:
        heatmap = cv2.resize(np.asarray(heatmap, np.float32), (image.shape[1], image.shape[0]),
                             interpolation=cv2.INTER_LINEAR)
    unit = normalise(heatmap, percentile, signed)
    if signed:
        unit = (unit + 1.0) / 2.0
        colormap = "diverging" if colormap == "viridis" else colormap
    colours = colourise(unit, colormap).astype(np.float32)
    blended = (1.0 - opacity) * image.astype(np.float32) + opacity * colours
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def display_map(heatmap: np.ndarray, shape: tuple[int, int], mode: str = "absolute", percentile: float = 99.0,
                scale: float | None = None) -> tuple[np.ndarray, float]:
    """A heatmap ready to draw over a picture of ``shape`` (H, W): uint8 levels and the scale used.

    ``mode``: "absolute" (|values|, 0 = nothing, 255 = the clipping scale and above) or "signed"
    (127.5 = zero, 0 = strongest evidence against, 255 = strongest for). ``scale`` (from
    ``map_scale``) lets several maps share one scale; by default the map's own percentile is used.
    """
    import cv2

    values = np.asarray(heatmap, np.float32)
    if mode == "absolute":
        values = np.abs(values)
    elif mode != "signed":
        raise ValueError(f"mode must be 'absolute' or 'signed'. Received: {mode!r}.")
    if scale is None:
        scale = map_scale(values, percentile)
    height, width = int(shape[0]), int(shape[1])
    if values.shape != (height, width):
        values = cv2.resize(values, (width, height), interpolation=cv2.INTER_LINEAR)
    unit = np.clip(values / scale, -1.0, 1.0) if scale > 0 else np.zeros_like(values)
    if mode == "signed":
        unit = (unit + 1.0) / 2.0
    return np.round(np.clip(unit, 0.0, 1.0) * 255).astype(np.uint8), float(scale)


def map_scale(heatmap: np.ndarray, percentile: float = 99.0) -> float:
    """The value that maps to full colour: the given percentile of |heatmap| (its max if that is 0)."""
    values = np.abs(np.asarray(heatmap, np.float64))
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0
    scale = float(np.percentile(values, percentile))
    return scale if scale > 0 else float(values.max())


def encode_png(image: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:  # pragma: no cover - OpenCV fails only on impossible shapes
        raise ValueError("could not encode the picture as PNG")
    return data.tobytes()
