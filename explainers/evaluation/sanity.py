"""Sanity checks (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"): a map that explains the model
must change when the model's weights are replaced by random ones (``cascading_randomization``) and
should change when another class is explained (``random_logit``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from explainers.errors import NotApplicableError, UnknownNameError
from explainers.evaluation._checks import Progress, _explain
from explainers.evaluation.similarity import rank_correlation, ssim
from explainers.model_copies import randomizable_copy, randomize_layer, weighted_layers


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


def _layer_seed(seed: int, names: list[str], name: str) -> int:
    return int(np.random.SeedSequence([int(seed), names.index(name)]).generate_state(1)[0] % (2**31 - 1))


def cascading_randomization(
    model,
    image: np.ndarray,
    method: str,
    target: int | str | None = None,
    layer: str | None = None,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    layers: Sequence[str] | None = None,
    absolute: bool = True,
    progress: Progress | None = None,
) -> SanityResult:
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
            raise UnknownNameError(
                f"Only layers with weights can be randomized: {', '.join(order)}. Received: {list(layers)!r}."
            )
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
        steps.append(
            RandomizationStep(
                checkpoint,
                heatmap,
                rank_correlation(original.heatmap, heatmap, absolute),
                ssim(original.heatmap, heatmap, absolute),
            )
        )
        if progress is not None:
            progress((number + 1) / total)
    return SanityResult(
        method=original.method,
        target=index,
        label=original.label,
        layer=original.layer,
        original=original.heatmap,
        steps=steps,
        seed=int(seed),
        absolute=absolute,
        seconds=time.perf_counter() - started,
    )


def random_logit(
    model,
    image: np.ndarray,
    method: str,
    target: int | str | None = None,
    layer: str | None = None,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    absolute: bool = True,
) -> RandomLogitResult:
    """The data-randomization-style class check: the map for ``target`` (default: top-1) against the map for
    a class drawn at random (from ``seed``) among all the others. See ``RandomLogitResult``."""
    classes = len(model.labels)
    if classes < 2:
        raise NotApplicableError(f"{model.title} has a single class, so there is no other class to compare with.")
    original = _explain(model, image, method, target, layer, params)
    draw = int(np.random.default_rng(seed).integers(0, classes - 1))
    other = draw + 1 if draw >= original.target else draw  # uniform over every class but the target
    heatmap = _explain(model, image, method, other, layer, params).heatmap
    return RandomLogitResult(
        target=original.target,
        label=original.label,
        random_class=other,
        random_label=model.labels[other].name,
        original=original.heatmap,
        heatmap=heatmap,
        rank_correlation=rank_correlation(original.heatmap, heatmap, absolute),
        ssim=ssim(original.heatmap, heatmap, absolute),
        absolute=absolute,
    )
