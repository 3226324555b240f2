"""Does deleting the pixels the map ranks first make the class disappear quickly, and does revealing
them first bring it back quickly? ``faithfulness`` gives the deletion or insertion curve of Petsiuk et
al. 2018 (RISE) and its area; ``random_map_auc`` the area random maps get. The pictures go through the
same compiled passes as everything else (``Passes.batch``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from explainers.errors import ExplainerError
from explainers.evaluation._checks import (
    Progress,
    _as_map,
    _check_choice,
    _check_count,
    _resize,
    _shape2,
    _target_index,
)
from explainers.models import check_image, probabilities
from explainers.ops import fill_picture
from explainers.passes import TOP1, Passes, PassKey

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


def _check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 2 <= steps <= MAX_STEPS:
        raise ExplainerError(
            f"steps must be a whole number from 2 to {MAX_STEPS} (the curve then has steps + 1 "
            f"points). Received: {steps!r}."
        )
    return int(steps)


@dataclass
class Curve:
    """A deletion or insertion curve (Petsiuk et al. 2018, "RISE", arXiv:1806.07421).

    Deletion: pixels are replaced by the fill, most important first (by the map); a faithful map makes
    the class probability fall fast, so a *low* area under the curve is good. Insertion: the picture
    starts as the fill and pixels are revealed, most important first; a faithful map makes the
    probability rise fast, so a *high* area is good. Compare with ``random_map_auc``.

    ``fractions``: share of pixels deleted or revealed at each point (0..1); ``probabilities``: the
    model's probability of ``target`` there (softmax, or its own sigmoid for a multi-label model);
    ``logits``: its logit; ``auc``: area under the probability curve over fraction 0..1 (trapezoid rule).
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


def perturbed_images(
    image: np.ndarray, heatmap: Any, fractions: Any, mode: str = "deletion", fill: str | None = None, seed: int = 0
) -> np.ndarray:
    """The pictures of a deletion/insertion curve, (N, H, W, 3) uint8, one per fraction in ``fractions``.

    ``image``: RGB uint8, the picture the model sees (``model.prepare(photo)``); ``heatmap`` is resized
    to it (bilinear) if needed. A fraction f deletes (or reveals) round(f × H × W) pixels, all three
    colours of each, in ``pixel_order``. ``fill``: see ``fill_image``; None = "blur" for deletion and
    "blur" for insertion. ``faithfulness`` feeds exactly these pictures to the model.
    """
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


def perturbed_image(
    image: np.ndarray, heatmap: Any, fraction: float, mode: str = "deletion", fill: str | None = None, seed: int = 0
) -> np.ndarray:
    """The picture at ``fraction`` (0..1) of a deletion or insertion curve, RGB uint8 (for showing
    "the picture with 30 % deleted"); the same pictures ``faithfulness`` runs through the model."""
    return perturbed_images(image, heatmap, [fraction], mode, fill, seed)[0]


def _logits_of(
    model, pictures: np.ndarray, progress: Progress | None, span: tuple[float, float] = (0.0, 1.0)
) -> np.ndarray:
    """The model's logits for RGB uint8 pictures: one chunked batch through the shared compiled pass."""
    inputs = model.preprocess(pictures)
    passes = Passes(model, inputs[:1], np.array([TOP1], np.int32), progress)
    return passes.batch(PassKey(), inputs, TOP1, field="logits", progress=span)


def _curves(
    model,
    image: np.ndarray,
    heatmaps: list[np.ndarray],
    target: Any,
    mode: str,
    steps: int,
    fill: str | None,
    seed: int,
    progress: Progress | None,
):
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
    chances = probabilities(logits, model.output_activation)[..., index]
    aucs = np.array([float(np.trapezoid(p, fractions)) for p in chances])
    return fractions, fill, index, logits[..., index], chances, aucs


def faithfulness(
    model,
    image: np.ndarray,
    heatmap: Any,
    target: int | str | None = None,
    mode: str = "deletion",
    steps: int = DEFAULT_STEPS,
    fill: str | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> Curve:
    """The deletion or insertion curve of ``heatmap`` for ``target`` (Petsiuk et al. 2018); see ``Curve``.

    ``image``: RGB uint8 of any size (resized to the model's input, as ``explain`` does); ``heatmap``: a
    map of it (an ``Explanation.heatmap``; resized bilinearly to the input if needed). ``target``: the
    class explained (index or name; None = the top-1 class of the whole picture). ``steps``: equal steps
    from 0 to 100 % of the pixels (20: every 5 %; the curve has steps + 1 points). ``fill``: "grey",
    "mean" or "blur" (None: blur for both; see ``DEFAULT_FILL``). ``seed``: the order
    of pixels with equal values. All steps + 1 pictures go through the model as one chunked batch.
    """
    fractions, fill, index, logits, probabilities, aucs = _curves(
        model, image, [heatmap], target, mode, steps, fill, seed, progress
    )
    return Curve(
        fractions=fractions,
        probabilities=probabilities[0],
        logits=logits[0].astype(np.float64),
        auc=float(aucs[0]),
        mode=mode,
        fill=fill,
        target=index,
        label=model.labels[index].name,
    )


def random_map_auc(
    model,
    image: np.ndarray,
    target: int | str | None = None,
    mode: str = "deletion",
    steps: int = DEFAULT_STEPS,
    fill: str | None = None,
    seed: int = 0,
    n: int = 3,
    progress: Progress | None = None,
) -> RandomBaseline:
    """The curve areas of ``n`` random maps (independent uniform noise per pixel, drawn from ``seed``):
    what a map scores by chance. A useful map deletes the class faster (lower deletion AUC) and brings
    it back faster (higher insertion AUC) than this. All n curves run as one chunked batch."""
    n = _check_count("n", n, 1)
    maps = list(np.random.default_rng(seed).random((n, *model.input_shape)))
    _, fill, index, _, _, aucs = _curves(model, image, maps, target, mode, steps, fill, seed, progress)
    return RandomBaseline(aucs=aucs, mean=float(aucs.mean()), std=float(aucs.std()), mode=mode, fill=fill, target=index)
