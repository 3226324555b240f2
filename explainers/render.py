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

    table = {
        "viridis": cv2.COLORMAP_VIRIDIS,
        "inferno": cv2.COLORMAP_INFERNO,
        "jet": cv2.COLORMAP_JET,
        "gray": None,
        "cividis": cv2.COLORMAP_CIVIDIS,
    }
    if colormap not in table:
        raise ValueError(f"Unknown colour map {colormap!r}. Choose one of: {', '.join(table)}.")
    levels = np.round(np.clip(unit, 0.0, 1.0) * 255).astype(np.uint8)
    if table[colormap] is None:
        return np.repeat(levels[..., None], 3, axis=-1)
    return cv2.applyColorMap(levels, table[colormap])[..., ::-1].copy()  # OpenCV gives BGR


def overlay(
    image: np.ndarray,
    heatmap: np.ndarray,
    opacity: float = 0.5,
    colormap: str = "viridis",
    percentile: float = 99.0,
    signed: bool = False,
) -> np.ndarray:
    """The image with the heatmap laid over it (heatmap resized to the image), RGB uint8."""
    import cv2

    if heatmap.shape != image.shape[:2]:
        heatmap = cv2.resize(
            np.asarray(heatmap, np.float32), (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR
        )
    unit = normalise(heatmap, percentile, signed)
    if signed:
        unit = (unit + 1.0) / 2.0
        colormap = "diverging" if colormap == "viridis" else colormap
    colours = colourise(unit, colormap).astype(np.float32)
    blended = (1.0 - opacity) * image.astype(np.float32) + opacity * colours
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def draw_points(picture: np.ndarray, points, grid) -> np.ndarray:
    """``picture`` (RGB uint8) with ``points`` (row, column) of a ``grid`` (height, width) drawn as white dots
    ringed in dark grey: a method's points in ``meta`` (CNN Fixations), as its card shows them."""
    import cv2

    drawn = np.ascontiguousarray(picture).copy()
    height, width = drawn.shape[:2]
    radius = max(1, round(max(height, width) / 160))
    for row, col in np.asarray(points, np.float64).reshape(-1, 2)[:2000]:  # the strongest first, as on the card
        centre = (round((col + 0.5) * width / grid[1] - 0.5), round((row + 0.5) * height / grid[0] - 0.5))
        cv2.circle(drawn, centre, radius + 1, (33, 37, 41), -1, cv2.LINE_AA)
        cv2.circle(drawn, centre, radius, (255, 255, 255), -1, cv2.LINE_AA)
    return drawn


def display_map(
    heatmap: np.ndarray,
    shape: tuple[int, int],
    mode: str = "absolute",
    percentile: float = 99.0,
    scale: float | None = None,
) -> tuple[np.ndarray, float]:
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


# ---- legends for downloaded pictures (the card's words, so a PNG explains itself away from the page) --------
LEGEND_MIN_WIDTH = 360  # pixels: narrower downloads are enlarged so the legend's words stay readable
LEGEND_ENDS = {False: ("← less important", "more important →"), True: ("← against the class", "for the class →")}
_ASCII = str.maketrans({"←": "<-", "→": "->", "—": "-", "“": '"', "”": '"', "×": "x"})


def _font(size: int):
    """A scalable font with arrows and dashes (DejaVu Sans where installed), else Pillow's own (then the text
    is written in ASCII, which it can draw); with it, whether it draws non-ASCII."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans.ttf", size), True
    except OSError:
        return ImageFont.load_default(size=size), False


def _fitted(draw, text: str, font, unicode_ok: bool, width: float) -> str:
    """``text`` as the font can draw it, cut with an ellipsis to at most ``width`` pixels."""
    text = text if unicode_ok else text.translate(_ASCII)
    if draw.textlength(text, font=font) <= width:
        return text
    ellipsis = "…" if unicode_ok else "..."
    while text and draw.textlength(text + ellipsis, font=font) > width:
        text = text[:-1]
    return text.rstrip() + ellipsis


def _lines(draw, text: str, font, width: float, most: int) -> list[str]:
    """``text`` broken at spaces into at most ``most`` lines of at most ``width`` pixels (the last one cut)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines[: most - 1] + [" ".join(lines[most - 1 :])] if len(lines) > most else lines


def title_band(picture: np.ndarray, title: str, size: int | None = None) -> np.ndarray:
    """``picture`` (RGB uint8) with ``title`` written once above it, dark on white: on two lines where one is too
    short, cut with an ellipsis where two are."""
    from PIL import Image, ImageDraw

    width = picture.shape[1]
    size = size or max(12, min(28, width // 24))
    font, unicode_ok = _font(size)
    text = title if unicode_ok else title.translate(_ASCII)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines = [
        _fitted(measure, line, font, unicode_ok, width - size) for line in _lines(measure, text, font, width - size, 2)
    ]
    step = round(size * 1.25)
    band = Image.new("RGB", (width, step * len(lines) + round(size * 0.7)), "white")
    draw = ImageDraw.Draw(band)
    for i, line in enumerate(lines):
        draw.text((size // 2, round(size * 0.35) + i * step), line, font=font, fill=(31, 41, 51), anchor="la")
    return np.concatenate([np.asarray(band), picture], axis=0)


def colour_bar(width: int, colormap: str = "viridis", signed: bool = False, size: int | None = None) -> np.ndarray:
    """A horizontal colour bar ``width`` pixels wide with its ends in words (as on the page's cards), RGB uint8.
    Signed maps use the diverging map unless another colour map was picked, as ``overlay`` does."""
    from PIL import Image, ImageDraw

    size = size or max(11, min(22, width // 30))
    margin, thickness = size, max(8, size)
    ramp = np.linspace(0.0, 1.0, max(1, width - 2 * margin), dtype=np.float32)[None, :]
    colours = colourise(
        np.repeat(ramp, thickness, axis=0), "diverging" if signed and colormap == "viridis" else colormap
    )
    band = Image.new("RGB", (width, thickness + round(size * 2.2)), "white")
    band.paste(Image.fromarray(colours), (margin, round(size * 0.4)))
    draw = ImageDraw.Draw(band)
    font, unicode_ok = _font(size)
    low, high = LEGEND_ENDS[bool(signed)]
    half = (width - 2 * margin) / 2
    y = round(size * 0.4) + thickness + round(size * 0.3)
    draw.text((margin, y), _fitted(draw, low, font, unicode_ok, half), font=font, fill=(82, 96, 109), anchor="la")
    draw.text(
        (width - margin, y), _fitted(draw, high, font, unicode_ok, half), font=font, fill=(82, 96, 109), anchor="ra"
    )
    return np.asarray(band)


def with_legend(picture: np.ndarray, title: str, colormap: str = "viridis", signed: bool = False) -> np.ndarray:
    """A downloaded overlay that explains itself: ``title`` above it (method, model, class) and its colour bar
    with the ends in words below it, RGB uint8. A picture narrower than ``LEGEND_MIN_WIDTH`` is enlarged first
    (whole pixels repeated, so nothing is smoothed) to leave room for readable words."""
    factor = -(-LEGEND_MIN_WIDTH // picture.shape[1])
    if factor > 1:
        picture = np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)
    return np.concatenate([title_band(picture, title), colour_bar(picture.shape[1], colormap, signed)], axis=0)
