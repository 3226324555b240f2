"""Explain and score every picture of a set, several pictures per forward and backward pass.

``explain_batch`` is the core: a batch of pictures goes through one ``Passes`` (the same passes a single
picture's ``explainers.api.explain`` runs, with a batch dimension), so Grad-CAM of eight pictures costs
one forward and one backward pass of eight, and every map equals the one ``explain`` gives for that
picture alone (tests/test_sets.py). ``score_picture`` turns one map into the set's scores; ``iter_set``
walks a whole set batch by batch and yields one ``PictureResult`` at a time, so a caller can store the
maps and keep only running sums (``explainers.sets.summary``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from explainers.errors import ExplainerError
from explainers.images import decode
from explainers.sets.reading import PictureSet, SetPicture
from explainers.sets.regions import Truth
from explainers.sets.scores import border_share, concentration

DEFAULT_METHOD = "grad_cam"
DEFAULT_BATCH = 8
Top5 = list[tuple[int, str, float]]


@dataclass
class PictureScores:
    """One picture's row: what the model says, whether that is right, and where its map lies.

    ``outside``: the share of the map off the object (1 − ``energy_in_region``) when a region is
    given, else the share on the border band: one column to sort by "looks outside the object"."""

    name: str
    prediction: str
    confidence: float
    label: str | None = None
    correct: bool | None = None
    region: str = ""  # "mask", "box" or "" (none given)
    energy_in_region: float | None = None
    pointing_game: bool | None = None
    border_share: float = 0.0
    concentration: float = 0.0
    outside: float = 0.0
    deletion_auc: float | None = None
    top5: Top5 = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """Plain values for a table or CSV (the top-5 as one "name (p); ..." cell)."""
        row = asdict(self)
        row["top5"] = "; ".join(f"{label} ({p:.3f})" for _, label, p in self.top5)
        return row


@dataclass
class PictureResult:
    """A picture's scores with its picture and map at the model's input size (for thumbnails and means)."""

    scores: PictureScores
    picture: np.ndarray
    heatmap: np.ndarray
    label_index: int | None
    prediction_index: int


def explain_batch(
    model: Any, pictures: Sequence[np.ndarray], method: str = DEFAULT_METHOD, layer: str | None = None
) -> tuple[np.ndarray, list[Top5]]:
    """Maps (N, H, W) at the model's input size for each picture's top-1 class, and each top-5, from
    one shared set of passes over the whole batch. ``pictures``: RGB uint8 of any sizes."""
    from explainers.methods import get_method
    from explainers.methods.base import upsample
    from explainers.models import top_classes
    from explainers.passes import TOP1, Passes

    instance = get_method(method)()
    instance.check_applicable(model)
    layer = model.check_layer(layer)
    prepared = np.stack([model.prepare(picture) for picture in pictures])
    passes = Passes(model, model.preprocess(prepared), np.full(len(prepared), TOP1, np.int32), pictures=prepared)
    result = instance.compute(passes, layer)
    heatmaps = upsample(result.heatmap, model.input_size).astype(np.float32)
    logits = passes.logits
    return heatmaps, [top_classes(row, model.labels, 5, model.output_activation) for row in logits]


def score_picture(
    name: str,
    heatmap: np.ndarray,
    top5: Top5,
    labels: Any,
    label_index: int | None = None,
    region: np.ndarray | None = None,
    region_kind: str = "",
) -> PictureScores:
    """The set's scores for one map (``heatmap`` at the model's input size). ``region``: bool mask of
    the object at the picture's own size (resized onto the map here), or None."""
    from explainers.evaluation.localization import energy_in_mask, pointing_game

    index, prediction, confidence = top5[0]
    scores = PictureScores(
        name=name,
        prediction=prediction,
        confidence=float(confidence),
        label=None if label_index is None else labels[label_index].name,
        correct=None if label_index is None else bool(index == label_index),
        border_share=border_share(heatmap),
        concentration=concentration(heatmap),
        top5=[(int(i), str(text), float(p)) for i, text, p in top5],
    )
    if region is not None and region.any():
        scores.region = region_kind
        scores.energy_in_region = energy_in_mask(heatmap, region)
        scores.pointing_game = pointing_game(heatmap, region)
        scores.outside = 1.0 - scores.energy_in_region
    else:
        scores.outside = scores.border_share
    return scores


def _deletion_auc(model: Any, picture: np.ndarray, heatmap: np.ndarray, target: int) -> float:
    from explainers.evaluation.faithfulness import faithfulness

    return float(faithfulness(model, picture, heatmap, target=target, mode="deletion").auc)


def iter_set(
    model: Any,
    picture_set: PictureSet,
    truth: Truth | None = None,
    method: str = DEFAULT_METHOD,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    deletion: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[PictureResult]:
    """Explain and score the set's pictures in batches of ``batch_size``, yielding each picture's
    result in the set's order. ``progress(done, total)`` after each batch; it may raise to stop."""
    if batch_size < 1:
        raise ExplainerError(f"batch_size must be 1 or more. Received: {batch_size!r}.")
    pictures = picture_set.pictures
    for start in range(0, len(pictures), batch_size):
        chunk = pictures[start : start + batch_size]
        yield from score_chunk(model, chunk, truth, method, layer, deletion)
        if progress is not None:
            progress(start + len(chunk), len(pictures))


def score_chunk(
    model: Any,
    chunk: Sequence[SetPicture],
    truth: Truth | None = None,
    method: str = DEFAULT_METHOD,
    layer: str | None = None,
    deletion: bool = False,
) -> list[PictureResult]:
    """One batch of the set's pictures, explained together and scored one by one."""
    images = [decode(picture.data) for picture in chunk]
    heatmaps, top5s = explain_batch(model, images, method, layer)
    results = []
    for picture, image, heatmap, top5 in zip(chunk, images, heatmaps, top5s):
        label_index = truth.labels.get(picture.name) if truth else None
        region = truth.region(picture) if truth else None
        kind = "" if truth is None else ("mask" if picture.name in truth.masks else "box")
        scores = score_picture(picture.name, heatmap, top5, model.labels, label_index, region, kind)
        prepared = model.prepare(image)
        if deletion:
            scores.deletion_auc = _deletion_auc(model, prepared, heatmap, top5[0][0])
        results.append(PictureResult(scores, prepared, heatmap, label_index, int(top5[0][0])))
    return results
