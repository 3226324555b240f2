"""Activations: the picked layer's feature maps over the picture, ranked by what they add to the class.

Zeiler & Fergus (2014, "Visualizing and Understanding Convolutional Networks", arXiv:1311.2901) look
at what single channels of a layer respond to. Here each channel k of the layer gets:

- its mean activation ``mean`` (the spatial mean of Aₖ),
- its Grad-CAM weight ``weight`` (the spatial mean of d(class score)/dAₖ, Selvaraju et al. 2017),
- its ``contribution`` = weight × mean: the channel's term in the Grad-CAM sum Σₖ wₖ·Aₖ, averaged
  over the positions; the channels that add most to the class come first.

Orders: "contribution" (largest first), "activation" (the most active first) and "index" (every
channel in the layer's order, for paging through all of them). One forward and one backward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explainers.errors import ParameterError
from explainers.methods.base import MethodCard
from explainers.models import ExplainableModel
from explainers.pass_keys import PassKey

ORDERS = ("contribution", "activation", "index")
MAX_TOP = 64  # channels per page at most
CARD = MethodCard(
    computes=(
        "Shows what single channels (feature detectors) of the picked layer respond to in this picture: each "
        "small map is one channel's activation. By default the 16 channels that add most to the class come "
        "first: their Grad-CAM weight (how much the class score rises when the channel grows) times their "
        "mean activation."
    ),
    colours=(
        "Bright = the channel responds strongly there, dark = it is silent. Each map has its own scale, so "
        "compare shapes, not brightness; the numbers under a map give its mean activation and its weight "
        "(positive: the channel speaks for the class, negative: against it)."
    ),
    pitfalls=(
        "One channel rarely means one idea: most respond to mixtures of patterns.",
        "A channel can be very active and still not matter for the class (weight near 0): switch between "
        "'adds most to the class' and 'most active' to see the difference.",
        "Early layers respond to edges and colours, late layers to parts of objects; their maps are coarse.",
        "With random weights the maps show only the picture's edges and colours passing through.",
    ),
    paper_url="https://arxiv.org/abs/1311.2901",
    good_for="Seeing what the layer's detectors pick up in this picture, and which of them the class relies on.",
)


@dataclass
class Activations:
    """One page of a layer's channels. ``maps``: float32 (n, h, w) at the layer's resolution, the
    channels' activations; ``channels``, ``means``, ``weights``, ``contributions``: (n,) each, in the
    chosen ``order``; ``count``: the layer's channels; ``pages``: how many pages of ``top`` there are."""

    model: str
    layer: str
    target: int
    label: str
    order: str
    page: int
    pages: int
    count: int
    channels: np.ndarray
    means: np.ndarray
    weights: np.ndarray
    contributions: np.ndarray
    maps: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


def channel_order(means: np.ndarray, weights: np.ndarray, order: str) -> np.ndarray:
    """Channel indices in ``order`` (see ORDERS); ties keep the layer's order."""
    if order == "contribution":
        return np.argsort(-(weights * means), kind="stable")
    if order == "activation":
        return np.argsort(-means, kind="stable")
    if order == "index":
        return np.arange(len(means))
    raise ParameterError(f"order must be one of {', '.join(ORDERS)}. Received: {order!r}.")


def check_paging(top: Any, page: Any) -> tuple[int, int]:
    """(channels per page, page) as whole numbers in range; plain words for anything else."""
    try:
        top, page = int(top), int(page)
    except (TypeError, ValueError):
        raise ParameterError(f"top and page must be whole numbers. Received: {top!r}, {page!r}.") from None
    if not 1 <= top <= MAX_TOP:
        raise ParameterError(f"top must be between 1 and {MAX_TOP}. Received: {top}.")
    if page < 0:
        raise ParameterError(f"page must be 0 or more. Received: {page}.")
    return top, page


def activations(
    model: ExplainableModel,
    image: np.ndarray,
    layer: str | None = None,
    top: int = 16,
    target: int | str | None = None,
    order: str = "contribution",
    page: int = 0,
) -> Activations:
    """The ``top`` channels of ``layer`` (default: the recommended one) for ``image`` (RGB uint8, any
    size) in ``order``, page ``page`` (from 0), explained for class ``target`` (default: the top-1)."""
    from explainers.api import _passes

    if order not in ORDERS:
        raise ParameterError(f"order must be one of {', '.join(ORDERS)}. Received: {order!r}.")
    top, page = check_paging(top, page)
    layer = model.check_layer(layer)
    passes = _passes(model, image, target)
    result = passes.get(PassKey(layer, layer_grads=True))
    acts = result.activations[0].astype(np.float32)  # (h, w, K)
    means = acts.mean(axis=(0, 1), dtype=np.float64)
    weights = result.layer_grads[0].mean(axis=(0, 1), dtype=np.float64)
    ranked = channel_order(means, weights, order)
    pages = max(1, math.ceil(len(ranked) / top))
    page = min(page, pages - 1)
    chosen = ranked[page * top : (page + 1) * top]
    target_index = int(result.targets[0])
    return Activations(
        model=model.name,
        layer=layer,
        target=target_index,
        label=model.labels[target_index].name,
        order=order,
        page=page,
        pages=pages,
        count=len(ranked),
        channels=chosen.astype(np.int64),
        means=means[chosen].astype(np.float32),
        weights=weights[chosen].astype(np.float32),
        contributions=(weights * means)[chosen].astype(np.float32),
        maps=np.moveaxis(acts[:, :, chosen], -1, 0).copy(),
        meta={"weights": model.weights},
    )
