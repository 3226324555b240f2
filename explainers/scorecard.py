"""Scores of a method over many pictures: what ``python -m explainers evaluate`` and ``sanity`` print.

``evaluate`` runs a method on generated Shapes pictures, whose objects' true outlines are known, and
reports the model's accuracy, the pointing game and energy in the outline (localization), and the
deletion and insertion areas against random maps (faithfulness). ``sanity`` runs the cascading
randomization and random-class checks on a few pictures and averages them per layer. The per-picture
work is ``explainers.evaluation``; this module loops, averages and reports progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from explainers.errors import ExplainerError

EVAL_SEED = 7  # generated pictures for evaluation: not a training, validation or test seed (10·S + 1..3)
TOLERANCE = 4  # pixels: a peak this close to the outline still counts as a hit in the pointing game


def _shapes_set(n: int, seed: int):
    from explainers import shapes

    if not 1 <= int(n) <= 5000:
        raise ExplainerError(f"Give between 1 and 5000 pictures. Received: {n!r}.")
    return shapes.generate(int(n), int(seed))


def evaluate(
    model,
    method: str,
    n: int = 100,
    seed: int = EVAL_SEED,
    params: Mapping[str, Any] | None = None,
    layer: str | None = None,
    steps: int = 20,
    faithfulness: bool = True,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Localization and faithfulness of ``method`` on ``n`` generated Shapes pictures (the true class is
    explained, right or wrong). Needs a model whose classes are the Shapes classes."""
    from explainers import evaluation
    from explainers.api import explain
    from explainers.shapes import CLASSES

    if list(model.labels.names) != list(CLASSES):
        raise ExplainerError(
            "evaluate needs pictures whose objects' outlines are known: only the shapes model has "
            "them. Use --model shapes."
        )
    data = _shapes_set(n, seed)
    started = time.perf_counter()
    rows = []
    for i, (image, label, mask) in enumerate(zip(data.images, data.labels, data.masks)):
        e = explain(model, image, method, target=int(label), layer=layer, **dict(params or {}))
        row = {
            "label": CLASSES[int(label)],
            "predicted": e.predictions[0][1],
            "correct": e.predictions[0][0] == int(label),
            "pointing_game": bool(evaluation.pointing_game(e.heatmap, mask, tolerance=TOLERANCE)),
            "energy_in_mask": float(evaluation.energy_in_mask(e.heatmap, mask)),
            "object_area": float(mask.mean()),
        }
        if faithfulness:
            for mode in ("deletion", "insertion"):
                row[f"{mode}_auc"] = evaluation.faithfulness(
                    model, image, e.heatmap, int(label), mode=mode, steps=steps
                ).auc
                row[f"{mode}_auc_random"] = evaluation.random_map_auc(
                    model, image, int(label), mode=mode, steps=steps, seed=i, n=1
                ).mean
        rows.append(row)
        if progress is not None:
            progress((i + 1) / len(data))
    summary = {
        key: float(np.mean([row[key] for row in rows]))
        for key in rows[0]
        if isinstance(rows[0][key], (bool, float)) and key != "correct"
    }
    summary["accuracy"] = float(np.mean([row["correct"] for row in rows]))
    return {
        "model": model.name,
        "method": method,
        "n": len(rows),
        "seed": int(seed),
        "tolerance_px": TOLERANCE,
        "steps": steps,
        "params": dict(params or {}),
        "summary": summary,
        "seconds": time.perf_counter() - started,
        "pictures": rows,
    }


def sanity(
    model,
    method: str,
    n: int = 3,
    seed: int = EVAL_SEED,
    images: list[np.ndarray] | None = None,
    params: Mapping[str, Any] | None = None,
    layer: str | None = None,
    layers: list[str] | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Cascading randomization and the random-class check of ``method``, averaged over pictures: the
    first ``n`` generated Shapes pictures, or ``images``."""
    from explainers import evaluation

    if images is None:
        from explainers.shapes import CLASSES

        if list(model.labels.names) != list(CLASSES):
            raise ExplainerError(
                "Give a picture (--image) for this model; generated pictures only suit the shapes model."
            )
        images = list(_shapes_set(n, seed).images)
    started = time.perf_counter()
    cascades, others = [], []
    for i, image in enumerate(images):

        def step(fraction: float, i: int = i) -> None:
            if progress is not None:
                progress((i + 0.9 * fraction) / len(images))

        cascades.append(
            evaluation.cascading_randomization(
                model, image, method, layer=layer, seed=i, params=params, layers=layers, progress=step
            )
        )
        others.append(
            evaluation.random_logit(
                model, image, method, target=cascades[-1].target, layer=layer, seed=i, params=params
            )
        )
    names = cascades[0].layers
    table = [
        {
            "layer": name,
            "rank_correlation": float(np.mean([c.rank_correlations[k] for c in cascades])),
            "ssim": float(np.mean([c.ssims[k] for c in cascades])),
        }
        for k, name in enumerate(names)
    ]
    return {
        "model": model.name,
        "method": method,
        "pictures": len(images),
        "params": dict(params or {}),
        "randomized_top_down": table,
        "random_logit": {
            "rank_correlation": float(np.mean([o.rank_correlation for o in others])),
            "ssim": float(np.mean([o.ssim for o in others])),
        },
        "seconds": time.perf_counter() - started,
    }
