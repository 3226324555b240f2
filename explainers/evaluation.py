"""Can I trust this map? Scores that check a saliency map against the object, the model and itself.

- **Localization**: does the map point at the object? ``pointing_game`` (Zhang et al. 2016/2018) and
  ``energy_in_mask`` (the "energy-based pointing game" of the Score-CAM paper, Wang et al. 2020),
  against a mask of the object, or against a box the person drew (``box_mask``, ``scale_box``).
- **Similarity** of two maps: ``rank_correlation`` (Spearman) and ``ssim`` (structural similarity),
  the two measures of Adebayo et al. 2018.
- **Faithfulness**: does deleting the pixels the map ranks first make the class disappear quickly, and
  does revealing them first bring it back quickly? ``faithfulness`` gives the deletion or insertion
  curve of Petsiuk et al. 2018 (RISE) and its area; ``random_map_auc`` the area random maps get.
- **Sanity checks** (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"): a map that explains the
  model must change when the model's weights are replaced by random ones (``cascading_randomization``)
  and should change when another class is explained (``random_logit``).
- **Stability**: how much a method with a random seed changes from one seed to another (``stability``).

Scores on maps alone are plain numpy/scipy/scikit-image; the ones that run the model go through the
same API and compiled passes as everything else (``explainers.api.explain`` and ``Passes.batch``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from explainers.errors import ExplainerError, NotApplicableError, UnknownNameError

MODES = ("deletion", "insertion")
#: what replaces a deleted pixel (or what an insertion starts from); the same words as occlusion's fills
FILLS = ("blur", "grey", "mean")
# Blur for both: a picture speckled with grey pixels is unlike anything a model saw, so random deletion
# with a grey fill already destroys the class and no map can beat it (on the Shapes demo: grey-filled
# random maps 0.153 vs Grad-CAM 0.156; blur-filled 0.549 vs 0.117, on generate(20, 7), steps=10, in a
# one-off comparison). Blurred pixels keep
# the picture natural and remove only its detail (the remedy of Rong et al. 2022, "ROAD", in spirit).
DEFAULT_FILL = {"deletion": "blur", "insertion": "blur"}
DEFAULT_STEPS = 20
MAX_STEPS = 200  # every step is one picture through the model; 200 keeps a curve under ~250 MB of inputs

Progress = Callable[[float], None]


# ==== checking inputs ===============================================================================
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
        raise ExplainerError("The mask must be a 2-D array (height × width) of True/False or 0/1. "
                             f"Received: shape {values.shape}, type {values.dtype}.")
    inside = _resize((np.nan_to_num(values.astype(np.float64)) != 0).astype(np.uint8), shape, nearest=True) > 0
    if not inside.any():
        raise ExplainerError(f"The mask is empty: mark at least one pixel of the object. Received a mask of "
                             f"shape {values.shape} with no pixel set.")
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


def _check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 2 <= steps <= MAX_STEPS:
        raise ExplainerError(f"steps must be a whole number from 2 to {MAX_STEPS} (the curve then has steps + 1 "
                             f"points). Received: {steps!r}.")
    return int(steps)


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ExplainerError(f"{name} must be a whole number of at least {minimum}. Received: {value!r}.")
    return int(value)


def _target_index(model, target: Any) -> int | None:
    if isinstance(target, np.integer):
        target = int(target)
    return model.resolve_target(target)


# ==== localization ==================================================================================
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
        raise ExplainerError(f"The box covers no pixel of the {width}×{height} picture: draw a larger box inside "
                             f"it. Received: {tuple(box)!r}.")
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


# ==== similarity of two maps ========================================================================
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


# ==== faithfulness: deletion and insertion ==========================================================
@dataclass
class Curve:
    """A deletion or insertion curve (Petsiuk et al. 2018, "RISE", arXiv:1806.07421).

    Deletion: pixels are replaced by the fill, most important first (by the map); a faithful map makes
    the class probability fall fast, so a *low* area under the curve is good. Insertion: the picture
    starts as the fill and pixels are revealed, most important first; a faithful map makes the
    probability rise fast, so a *high* area is good. Compare with ``random_map_auc``.

    ``fractions``: share of pixels deleted or revealed at each point (0..1); ``probabilities``: the
    softmax probability of ``target`` there; ``logits``: its logit; ``auc``: area under the probability
    curve over fraction 0..1 (trapezoid rule).
    """

    fractions: np.ndarray
    probabilities: np.ndarray
    logits: np.ndarray
    auc: float
    mode: str
    fill: str
    target: int
    label: str


@dataclass
class RandomBaseline:
    """Areas under the curves of ``n`` random maps (seeded): the score a map must beat to be better than
    chance (lower for deletion, higher for insertion)."""

    aucs: np.ndarray
    mean: float
    std: float
    mode: str
    fill: str
    target: int


def fill_image(image: np.ndarray, fill: str) -> np.ndarray:
    """What deleted pixels become, as an RGB uint8 picture like ``image``: "blur" (a strongly blurred copy,
    σ = 1/20 of the longer side, the same blur as occlusion's), "grey" (mid-grey, 128) or "mean" (the
    picture's mean colour)."""
    from explainers.methods.occlusion import fill_picture
    from explainers.models import check_image

    check_image(image)
    _check_choice("fill", fill, FILLS)
    return np.clip(np.round(fill_picture(image, fill)), 0, 255).astype(np.uint8)


def pixel_order(heatmap: Any, shape: tuple[int, int] | None = None, seed: int = 0) -> np.ndarray:
    """Flat pixel indices (row-major) from the most to the least important by ``heatmap``.

    The map is resized (bilinear) to ``shape`` (height, width) if given. Signed maps rank their most
    positive values first (strongest evidence for the class). Equal values (the flat zero area of a
    Grad-CAM map, say) carry no order, so they are taken in a random order drawn from ``seed``: the same
    seed gives the same order, and ties never favour the top of the picture.
    """
    values = _as_map(heatmap)
    if shape is not None:
        values = _resize(values.astype(np.float32), _shape2(shape, "shape")).astype(np.float64)
    tiebreak = np.random.default_rng(seed).permutation(values.size)
    return np.lexsort((tiebreak, -values.ravel()))  # the last key sorts first


def _counts(fractions: Any, total: int) -> tuple[np.ndarray, np.ndarray]:
    values = np.atleast_1d(np.asarray(fractions, np.float64))
    if values.ndim != 1 or not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
        raise ExplainerError(f"A fraction of pixels must be between 0 and 1. Received: {fractions!r}.")
    return values, np.floor(values * total + 0.5).astype(np.int64)


def perturbed_images(image: np.ndarray, heatmap: Any, fractions: Any, mode: str = "deletion",
                     fill: str | None = None, seed: int = 0) -> np.ndarray:
    """The pictures of a deletion/insertion curve, (N, H, W, 3) uint8, one per fraction in ``fractions``.

    ``image``: RGB uint8, the picture the model sees (``model.prepare(photo)``); ``heatmap`` is resized
    to it (bilinear) if needed. A fraction f deletes (or reveals) round(f × H × W) pixels, all three
    colours of each, in ``pixel_order``. ``fill``: see ``fill_image``; None = "blur" for deletion and
    "blur" for insertion. ``faithfulness`` feeds exactly these pictures to the model.
    """
    from explainers.models import check_image

    check_image(image)
    mode = _check_choice("mode", mode, MODES)
    fill = _check_choice("fill", DEFAULT_FILL[mode] if fill is None else fill, FILLS)
    height, width = image.shape[:2]
    order = pixel_order(heatmap, (height, width), seed)
    _, counts = _counts(fractions, height * width)
    source, replacement = (image, fill_image(image, fill)) if mode == "deletion" else (fill_image(image, fill), image)
    source_flat, replacement_flat = source.reshape(-1, 3), replacement.reshape(-1, 3)
    pictures = np.empty((len(counts), height * width, 3), np.uint8)
    for i, count in enumerate(counts):
        pictures[i] = source_flat
        chosen = order[:count]
        pictures[i, chosen] = replacement_flat[chosen]
    return pictures.reshape(len(counts), height, width, 3)


def perturbed_image(image: np.ndarray, heatmap: Any, fraction: float, mode: str = "deletion",
                    fill: str | None = None, seed: int = 0) -> np.ndarray:
    """The picture at ``fraction`` (0..1) of a deletion or insertion curve, RGB uint8 (for showing
    "the picture with 30 % deleted"); the same pictures ``faithfulness`` runs through the model."""
    return perturbed_images(image, heatmap, [fraction], mode, fill, seed)[0]


def _logits_of(model, pictures: np.ndarray, progress: Progress | None,
               span: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """The model's logits for RGB uint8 pictures: one chunked batch through the shared compiled pass."""
    from explainers.passes import TOP1, PassKey, Passes

    inputs = model.preprocess(pictures)
    passes = Passes(model, inputs[:1], np.array([TOP1], np.int32), progress)
    return passes.batch(PassKey(), inputs, TOP1, field="logits", progress=span)


def _curves(model, image: np.ndarray, heatmaps: list[np.ndarray], target: Any, mode: str, steps: int,
            fill: str | None, seed: int, progress: Progress | None):
    from explainers.models import softmax

    mode = _check_choice("mode", mode, MODES)
    steps = _check_steps(steps)
    fill = _check_choice("fill", DEFAULT_FILL[mode] if fill is None else fill, FILLS)
    index = _target_index(model, target)  # checked before any work
    picture = model.prepare(image)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    pictures = np.concatenate([perturbed_images(picture, heatmap, fractions, mode, fill, seed) for heatmap in heatmaps])
    logits = _logits_of(model, pictures, progress).reshape(len(heatmaps), steps + 1, -1)
    if index is None:  # top-1 of the whole picture: first of a deletion curve, last of an insertion curve
        index = int(np.argmax(logits[0, 0 if mode == "deletion" else -1]))
    probabilities = softmax(logits)[..., index]
    aucs = np.array([float(np.trapezoid(p, fractions)) for p in probabilities])
    return fractions, fill, index, logits[..., index], probabilities, aucs


def faithfulness(model, image: np.ndarray, heatmap: Any, target: int | str | None = None, mode: str = "deletion",
                 steps: int = DEFAULT_STEPS, fill: str | None = None, seed: int = 0,
                 progress: Progress | None = None) -> Curve:
    """The deletion or insertion curve of ``heatmap`` for ``target`` (Petsiuk et al. 2018); see ``Curve``.

    ``image``: RGB uint8 of any size (resized to the model's input, as ``explain`` does); ``heatmap``: a
    map of it (an ``Explanation.heatmap``; resized bilinearly to the input if needed). ``target``: the
    class explained (index or name; None = the top-1 class of the whole picture). ``steps``: equal steps
    from 0 to 100 % of the pixels (20: every 5 %; the curve has steps + 1 points). ``fill``: "grey",
    "mean" or "blur" (None: blur for both; see ``DEFAULT_FILL``). ``seed``: the order
    of pixels with equal values. All steps + 1 pictures go through the model as one chunked batch.
    """
    fractions, fill, index, logits, probabilities, aucs = _curves(
        model, image, [heatmap], target, mode, steps, fill, seed, progress)
    return Curve(fractions=fractions, probabilities=probabilities[0], logits=logits[0].astype(np.float64),
                 auc=float(aucs[0]), mode=mode, fill=fill, target=index, label=model.labels[index].name)


def random_map_auc(model, image: np.ndarray, target: int | str | None = None, mode: str = "deletion",
                   steps: int = DEFAULT_STEPS, fill: str | None = None, seed: int = 0, n: int = 3,
                   progress: Progress | None = None) -> RandomBaseline:
    """The curve areas of ``n`` random maps (independent uniform noise per pixel, drawn from ``seed``):
    what a map scores by chance. A useful map deletes the class faster (lower deletion AUC) and brings
    it back faster (higher insertion AUC) than this. All n curves run as one chunked batch."""
    n = _check_count("n", n, 1)
    size = model.input_size
    maps = list(np.random.default_rng(seed).random((n, size, size)))
    _, fill, index, _, _, aucs = _curves(model, image, maps, target, mode, steps, fill, seed, progress)
    return RandomBaseline(aucs=aucs, mean=float(aucs.mean()), std=float(aucs.std()), mode=mode, fill=fill,
                          target=index)


# ==== sanity checks (Adebayo et al. 2018) ===========================================================
@dataclass
class RandomizationStep:
    """One step of the cascade: every weighted layer from the top down to ``layer`` now has random
    weights; ``heatmap`` is the map then, compared with the original map."""

    layer: str
    heatmap: np.ndarray
    rank_correlation: float
    ssim: float


@dataclass
class SanityResult:
    """Cascading randomization (Adebayo et al. 2018, "Sanity Checks for Saliency Maps", NeurIPS).

    A map that explains *this model* must change as the model's weights are replaced, from the top
    down, by random ones: similarities that stay near 1 (``rank_correlations``, ``ssims``) mean the map
    shows the picture (edges, contrast) more than what the model learned. ``original`` is the map of
    the untouched model; ``steps`` one entry per randomized layer, top layer first.
    """

    method: str
    target: int
    label: str
    layer: str | None
    original: np.ndarray
    steps: list[RandomizationStep]
    seed: int
    absolute: bool
    seconds: float

    @property
    def layers(self) -> list[str]:
        return [step.layer for step in self.steps]

    @property
    def rank_correlations(self) -> np.ndarray:
        return np.array([step.rank_correlation for step in self.steps])

    @property
    def ssims(self) -> np.ndarray:
        return np.array([step.ssim for step in self.steps])


@dataclass
class RandomLogitResult:
    """The map for a random other class next to the map for ``target`` (Adebayo et al. 2018; Sixt et al.
    2020, "When explanations lie"): a map that hardly changes with the class explains the picture, not
    the class. High ``rank_correlation``/``ssim`` = the method ignores the class."""

    target: int
    label: str
    random_class: int
    random_label: str
    original: np.ndarray
    heatmap: np.ndarray
    rank_correlation: float
    ssim: float
    absolute: bool


@dataclass
class StabilityResult:
    """The same stochastic method run with ``len(seeds)`` seeds: how much chance there is in its map.

    ``maps``: the maps, each divided by its own scale (``render.map_scale``: the 99th percentile of
    |values|, what full colour stands for on screen), so maps of any magnitude compare; ``mean`` and
    ``std``: per pixel over those maps (a high std marks pixels the seed decides); ``agreement``: the
    mean rank correlation over all pairs of maps (1 = every seed ranks pixels alike).
    """

    method: str
    target: int
    seeds: list[int]
    maps: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    agreement: float


def _explain(model, image, method: str, target, layer, params: Mapping[str, Any] | None):
    from explainers.api import explain

    return explain(model, image, method, target=target, layer=layer, **dict(params or {}))


def weighted_layers(keras_model) -> list[str]:
    """Names of the layers that have weights, from the top (the logits) down."""
    return [layer.name for layer in reversed(keras_model.layers) if layer.weights]


def randomizable_copy(model):
    """A copy of ``model`` with its own weights (equal to the original's), to randomize without touching
    the model every user shares. Costs as much memory as the model's weights (528 MB for VGG16)."""
    from explainers._tf import keras
    from explainers.models import ExplainableModel

    def clone_layer(layer):
        if isinstance(layer, keras.layers.Lambda):  # Keras refuses to rebuild Python lambdas from config
            return keras.layers.Lambda(layer.function, output_shape=layer._output_shape, mask=layer.mask,
                                       arguments=layer.arguments, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    try:
        copy = keras.models.clone_model(model.keras, clone_function=clone_layer)
        copy.set_weights(model.keras.get_weights())
    except (ValueError, TypeError, NotImplementedError) as error:
        raise NotApplicableError(f"{model.title} cannot be copied to randomize its weights (only Keras functional "
                                 f"and Sequential models can). Keras said: {error}") from error
    return ExplainableModel(copy, f"{model.name} (randomized)", labels=model.labels, preprocess=model.preprocess,
                            default_layer=model.default_layer, weights="randomized copy",
                            weights_id=f"{model.weights_id}+randomized", random_weights=True,
                            title=f"{model.title} (randomized)", memo_logits=False)  # its weights change in place


_INITIALIZER_NAMES = {"depthwise_kernel": "depthwise_initializer", "pointwise_kernel": "pointwise_initializer"}


def randomize_layer(layer, seed: int) -> None:
    """Re-initialise every weight of ``layer`` in place, as if the layer had just been built.

    Each variable gets a fresh draw from the layer's own initializer for it (``kernel_initializer``:
    Glorot uniform for Keras convolutions and dense layers; ``bias_initializer``: zeros; batch
    normalisation back to γ = 1, β = 0, mean 0, variance 1), seeded from ``seed`` and the variable's
    position: the distribution the model started from before training, as in Adebayo et al. 2018.
    A variable without a known initializer gets normal noise with the original values' mean and
    standard deviation. Values are assigned in place, so compiled passes keep working untraced.
    """
    from explainers._tf import keras

    for position, variable in enumerate(layer.weights):
        name = variable.name.split("/")[-1].split(":")[0]
        initializer = getattr(layer, _INITIALIZER_NAMES.get(name, f"{name}_initializer"), None)
        derived = int(np.random.SeedSequence([int(seed), position]).generate_state(1)[0] % (2**31 - 1))
        if isinstance(initializer, keras.initializers.Initializer):
            config = initializer.get_config()
            if "seed" in config:
                config["seed"] = derived
            values = type(initializer).from_config(config)(shape=tuple(variable.shape), dtype=variable.dtype)
        else:
            original = np.asarray(variable.numpy(), np.float64)
            rng = np.random.default_rng(derived)
            values = rng.normal(original.mean(), original.std(), original.shape).astype(variable.dtype)
        variable.assign(values)


def _layer_seed(seed: int, names: list[str], name: str) -> int:
    return int(np.random.SeedSequence([int(seed), names.index(name)]).generate_state(1)[0] % (2**31 - 1))


def cascading_randomization(model, image: np.ndarray, method: str, target: int | str | None = None,
                            layer: str | None = None, seed: int = 0, params: Mapping[str, Any] | None = None,
                            layers: Sequence[str] | None = None, absolute: bool = True,
                            progress: Progress | None = None) -> SanityResult:
    """Adebayo et al.'s cascading model-parameter randomization test, on a copy of ``model``.

    The map of ``method`` (with ``params``, for ``layer``) is computed on the model, then again after
    each step of replacing weights by random ones (``randomize_layer``), from the top layer down and
    cumulatively, always for the same class (``target``, or the original model's top-1, fixed). Each
    map is compared with the original by ``rank_correlation`` and ``ssim`` (of |map| if ``absolute``,
    as in the paper). The shared ``model`` is never modified: a copy is randomized
    (``randomizable_copy``: as much extra memory as the model's weights).

    ``layers``: the steps, as names of weighted layers (default: every one, ``weighted_layers``); each
    step randomizes every weighted layer from the top down to that one, so a few names give a coarse but
    still cumulative cascade. Cost: one map per step, plus tracing the copy's passes once (VGG16: 16
    steps; ResNet50: 107 and InceptionV3: 189 with their batch normalisations, so pass a few names there). ``progress``
    is called with the fraction done after the original map and after each step; it may raise to stop.
    """
    from explainers.engine import engine_for

    started = time.perf_counter()
    original = _explain(model, image, method, target, layer, params)
    index = original.target
    copy = randomizable_copy(model)
    engine_for(copy, engine_for(model).policy.copy())  # the copy compiles as the original does now (as tuned)
    order = weighted_layers(copy.keras)
    if not order:
        raise NotApplicableError(f"{model.title} has no layer with weights, so there is nothing to randomize.")
    if layers is None:
        checkpoints = order
    else:
        wanted = [str(name) for name in layers]
        unknown = [name for name in wanted if name not in order]
        if unknown or not wanted:
            raise UnknownNameError(f"Only layers with weights can be randomized: {', '.join(order)}. "
                                   f"Received: {list(layers)!r}.")
        checkpoints = [name for name in order if name in wanted]  # top down, whatever order they came in
    total = len(checkpoints) + 1
    if progress is not None:
        progress(1 / total)
    steps: list[RandomizationStep] = []
    done = 0  # layers of ``order`` randomized so far
    for number, checkpoint in enumerate(checkpoints, start=1):
        stop = order.index(checkpoint) + 1
        for name in order[done:stop]:
            randomize_layer(copy.keras.get_layer(name), _layer_seed(seed, order, name))
        done = stop
        heatmap = _explain(copy, image, method, index, layer, params).heatmap
        steps.append(RandomizationStep(checkpoint, heatmap, rank_correlation(original.heatmap, heatmap, absolute),
                                       ssim(original.heatmap, heatmap, absolute)))
        if progress is not None:
            progress((number + 1) / total)
    return SanityResult(method=original.method, target=index, label=original.label, layer=original.layer,
                        original=original.heatmap, steps=steps, seed=int(seed), absolute=absolute,
                        seconds=time.perf_counter() - started)


def random_logit(model, image: np.ndarray, method: str, target: int | str | None = None, layer: str | None = None,
                 seed: int = 0, params: Mapping[str, Any] | None = None, absolute: bool = True) -> RandomLogitResult:
    """The data-randomization-style class check: the map for ``target`` (default: top-1) against the map for
    a class drawn at random (from ``seed``) among all the others. See ``RandomLogitResult``."""
    classes = len(model.labels)
    if classes < 2:
        raise NotApplicableError(f"{model.title} has a single class, so there is no other class to compare with.")
    original = _explain(model, image, method, target, layer, params)
    draw = int(np.random.default_rng(seed).integers(0, classes - 1))
    other = draw + 1 if draw >= original.target else draw  # uniform over every class but the target
    heatmap = _explain(model, image, method, other, layer, params).heatmap
    return RandomLogitResult(target=original.target, label=original.label, random_class=other,
                             random_label=model.labels[other].name, original=original.heatmap, heatmap=heatmap,
                             rank_correlation=rank_correlation(original.heatmap, heatmap, absolute),
                             ssim=ssim(original.heatmap, heatmap, absolute), absolute=absolute)


# ==== stability =====================================================================================
def stability(model, image: np.ndarray, method: str, n: int = 5, seeds: Sequence[int] | None = None,
              target: int | str | None = None, layer: str | None = None, params: Mapping[str, Any] | None = None,
              absolute: bool = False, progress: Progress | None = None) -> StabilityResult:
    """Run a method that has a ``seed`` setting (SmoothGrad, RISE, LIME, ...) with ``n`` seeds (0..n−1, or
    ``seeds``) and measure how much the map changes; see ``StabilityResult``.

    The class is fixed after the first run (``target`` or the top-1). A ``seed`` in ``params`` is
    replaced by each seed. ``absolute``: compare |map| in ``agreement``. Cost: n maps. ``progress`` is
    called with the fraction done after each map; it may raise to stop.
    """
    from explainers.methods import get_method
    from explainers.render import map_scale

    cls = get_method(method)
    if "seed" not in cls.params:
        raise NotApplicableError(f"{cls.title} is deterministic: it gives the same map every time, so there is "
                                 f"nothing to measure. Stability applies to methods with a seed setting.")
    if seeds is None:
        n = _check_count("n", n, 2)
        seeds = list(range(n))
    else:
        seeds = [_check_count("each seed", s, 0) for s in seeds]
        if len(seeds) < 2 or len(set(seeds)) != len(seeds):
            raise ExplainerError(f"Give at least two different seeds. Received: {list(seeds)!r}.")
    settings = {key: value for key, value in dict(params or {}).items() if key != "seed"}
    maps: list[np.ndarray] = []
    index: Any = target
    for number, seed_value in enumerate(seeds, start=1):
        explanation = _explain(model, image, cls.name, index, layer, {**settings, "seed": seed_value})
        index = explanation.target
        heatmap = np.asarray(explanation.heatmap, np.float64)
        scale = map_scale(heatmap)
        maps.append(heatmap / scale if scale > 0 else np.zeros_like(heatmap))
        if progress is not None:
            progress(number / len(seeds))
    stack = np.stack(maps)
    pairs = [rank_correlation(stack[i], stack[j], absolute)
             for i in range(len(stack)) for j in range(i + 1, len(stack))]
    return StabilityResult(method=cls.name, target=int(index), seeds=list(seeds), maps=stack.astype(np.float32),
                           mean=stack.mean(axis=0).astype(np.float32), std=stack.std(axis=0).astype(np.float32),
                           agreement=float(np.mean(pairs)))


__all__ = [
    "MODES", "FILLS", "Curve", "RandomBaseline", "RandomizationStep", "SanityResult", "RandomLogitResult",
    "StabilityResult", "map_peak", "pointing_game", "energy_in_mask", "box_mask", "scale_box",
    "rank_correlation", "ssim", "fill_image", "pixel_order", "perturbed_images", "perturbed_image",
    "faithfulness", "random_map_auc", "weighted_layers", "randomizable_copy", "randomize_layer",
    "cascading_randomization", "random_logit", "stability",
]
