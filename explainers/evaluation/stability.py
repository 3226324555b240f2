"""How much a method with a random seed changes from one seed to another (``stability``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from explainers.errors import ExplainerError, NotApplicableError
from explainers.evaluation._checks import Progress, _check_count, _explain
from explainers.evaluation.similarity import rank_correlation
from explainers.methods import get_method
from explainers.render import map_scale


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


def stability(
    model,
    image: np.ndarray,
    method: str,
    n: int = 5,
    seeds: Sequence[int] | None = None,
    target: int | str | None = None,
    layer: str | None = None,
    params: Mapping[str, Any] | None = None,
    absolute: bool = False,
    progress: Progress | None = None,
) -> StabilityResult:
    """Run a method that has a ``seed`` setting (SmoothGrad, RISE, LIME, ...) with ``n`` seeds (0..n−1, or
    ``seeds``) and measure how much the map changes; see ``StabilityResult``.

    The class is fixed after the first run (``target`` or the top-1). A ``seed`` in ``params`` is
    replaced by each seed. ``absolute``: compare |map| in ``agreement``. Cost: n maps. ``progress`` is
    called with the fraction done after each map; it may raise to stop.
    """
    cls = get_method(method)
    if "seed" not in cls.params:
        raise NotApplicableError(
            f"{cls.title} is deterministic: it gives the same map every time, so there is "
            f"nothing to measure. Stability applies to methods with a seed setting."
        )
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
    pairs = [
        rank_correlation(stack[i], stack[j], absolute) for i in range(len(stack)) for j in range(i + 1, len(stack))
    ]
    return StabilityResult(
        method=cls.name,
        target=int(index),
        seeds=list(seeds),
        maps=stack.astype(np.float32),
        mean=stack.mean(axis=0).astype(np.float32),
        std=stack.std(axis=0).astype(np.float32),
        agreement=float(np.mean(pairs)),
    )
