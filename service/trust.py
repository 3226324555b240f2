"""“Can I trust this map?”: the checks behind a card's trust panel, as service jobs.

Three checks need the model many times and run as jobs (queued, cached, with progress and cancel, like
maps): the sanity checks (cascading weight randomization and the random-class check, Adebayo et al.
2018), faithfulness (deletion and insertion curves, Petsiuk et al. 2018) and stability (a seeded method
under several seeds). Localization against a known outline or a box the person drew is arithmetic on
a map already computed and runs inline. Results are plain dicts of numbers, strings and small arrays,
so they cache, travel to Celery workers and back, and render without TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from explainers import evaluation
from explainers.api import Explanation
from explainers.errors import ExplainerError, UnknownNameError
from explainers.render import colourise, encode_png, normalise
from explainers.report import render_report, report_filename
from service.results import MapResult, is_empty, shrink
from service.views import report_figures

if TYPE_CHECKING:  # pragma: no cover - for annotations only: the service calls these checks, not the reverse
    from service.core import ExplainerService

CHECKS = ("sanity", "faithfulness", "stability")
STRIP_SIDE = 96  # maps in a sanity or stability strip travel at most this many pixels on a side
MAX_SANITY_STEPS = 9  # a deep model (ResNet50: 107 weighted layers) is randomized in at most this many steps
STABILITY_RUNS = 5
CURVE_STEPS = 20
DEADLINES = {"sanity": 900.0, "faithfulness": 300.0, "stability": 900.0}


def check_options(kind: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The allowed options of a check, validated (the browser can send anything)."""
    if kind not in CHECKS:
        raise UnknownNameError(f"Unknown check {kind!r}. Choose one of: {', '.join(CHECKS)}.")
    options = dict(options or {})
    if kind == "stability":
        runs = options.get("runs", STABILITY_RUNS)
        if not isinstance(runs, int) or isinstance(runs, bool) or not 2 <= runs <= 10:
            raise ExplainerError(f"Stability runs the method 2 to 10 times. Received: {runs!r}.")
        return {"runs": runs}
    return {}


def checkpoints(order: list[str], most: int = MAX_SANITY_STEPS) -> list[str]:
    """At most ``most`` layers of ``order`` (top first), evenly spread, always the first and the last: each
    step of the cascade then randomizes everything from the top down to that layer."""
    if len(order) <= most:
        return list(order)
    picks = np.unique(np.round(np.linspace(0, len(order) - 1, most)).astype(int))
    return [order[i] for i in picks]


def small(heatmap: np.ndarray, side: int = STRIP_SIDE) -> np.ndarray:
    """A map shrunk (area average) to at most ``side`` pixels on a side, for strips of thumbnails."""
    return shrink(heatmap, side)


def compute_check(
    svc: ExplainerService, request: Mapping[str, Any], progress: Callable[[float], None] | None = None
) -> dict[str, Any]:
    """Run one check request (see ``ExplainerService.request_check``) here and now."""
    image = svc.images.get(request["key"])
    model = svc.load(request["model"], request["weights"])
    method, target, layer, settings = request["method"], request["target"], request["layer"], request["settings"]
    kind = request["check"]
    if kind == "sanity":
        order = evaluation.weighted_layers(model.keras)

        def cascade_progress(fraction: float) -> None:
            if progress is not None:
                progress(0.9 * fraction)

        cascade = evaluation.cascading_randomization(
            model,
            image,
            method,
            target=target,
            layer=layer,
            params=settings,
            layers=checkpoints(order),
            progress=cascade_progress,
        )
        other = evaluation.random_logit(model, image, method, target=cascade.target, layer=layer, params=settings)
        return {
            "check": "sanity",
            "method": method,
            "target": cascade.target,
            "label": cascade.label,
            "layer": cascade.layer,
            "original": small(cascade.original),
            "weighted_layers": len(order),
            "steps": [
                {
                    "layer": step.layer,
                    "heatmap": small(step.heatmap),
                    "rank_correlation": step.rank_correlation,
                    "ssim": step.ssim,
                }
                for step in cascade.steps
            ],
            "random_logit": {
                "class": other.random_class,
                "label": other.random_label,
                "heatmap": small(other.heatmap),
                "rank_correlation": other.rank_correlation,
                "ssim": other.ssim,
            },
            "seconds": cascade.seconds,
            "random_weights": bool(model.random_weights),
            "original_empty": is_empty(cascade.original),
        }
    if kind == "faithfulness":
        result = svc.map_here(request["key"], request["model"], method, target, layer, request["weights"], settings)
        answer: dict[str, Any] = {
            "check": "faithfulness",
            "method": method,
            "target": result.target,
            "label": result.label,
            "steps": CURVE_STEPS,
        }
        parts = [("deletion", 0.0), ("insertion", 0.5)]
        for mode, start in parts:

            def span(fraction: float, start: float = start) -> None:
                if progress is not None:
                    progress(start + 0.5 * fraction)

            curve = evaluation.faithfulness(
                model, image, result.heatmap, result.target, mode=mode, steps=CURVE_STEPS, progress=span
            )
            chance = evaluation.random_map_auc(model, image, result.target, mode=mode, steps=CURVE_STEPS)
            answer[mode] = {
                "fractions": curve.fractions,
                "probabilities": curve.probabilities,
                "auc": curve.auc,
                "fill": curve.fill,
                "random_auc": chance.mean,
                "random_std": chance.std,
            }
        return answer
    runs = request["options"]["runs"]
    stable = evaluation.stability(
        model, image, method, n=runs, target=target, layer=layer, params=settings, progress=progress
    )
    return {
        "check": "stability",
        "method": method,
        "target": stable.target,
        "seeds": stable.seeds,
        "mean": small(stable.mean),
        "std": small(stable.std),
        "agreement": stable.agreement,
        "maps": [small(m) for m in stable.maps],
    }


def localization(
    result: MapResult,
    truth: np.ndarray | None = None,
    box: tuple[float, float, float, float] | None = None,
    box_shape: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Where the map looks, scored against ``truth`` (a boolean mask of the object, any size) or a box
    (x0, y0, x1, y1) drawn on a picture of ``box_shape``: does its peak fall inside (pointing game), and
    what share of its positive mass lies inside (energy)."""
    heatmap = np.asarray(result.heatmap, np.float32)
    if truth is None:
        if box is None or box_shape is None:
            raise ExplainerError("Draw a box on the picture first, or pick a demo picture whose outline is known.")
        scaled = evaluation.scale_box(box, box_shape, heatmap.shape)
        truth = evaluation.box_mask(heatmap.shape, scaled)
    mask = np.asarray(truth, bool)
    tolerance = max(1.0, 0.03 * max(heatmap.shape))  # a peak a few pixels off the edge still counts
    peak = evaluation.map_peak(heatmap)
    return {
        "pointing_game": bool(evaluation.pointing_game(heatmap, mask, tolerance=tolerance)),
        "energy_in_mask": float(evaluation.energy_in_mask(heatmap, mask)),
        "area": float(mask.mean()),
        "peak": [int(peak[0]), int(peak[1])],
        "tolerance": tolerance,
    }


def report_scores(
    svc: ExplainerService, key: str, model: str, result: MapResult, weights=None, target=None, layer=None
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """Every score known for one map without computing anything new: localization (when the picture's
    outline is known) and the checks already run from the trust panel; plus the sanity strip as a PNG."""
    scores: dict[str, Any] = {}
    images: list[tuple[str, bytes]] = []
    truth = svc.ground_truth(key)
    if truth is not None:
        found = localization(result, truth=truth)
        scores["pointing game"] = float(found["pointing_game"])
        scores["energy in mask"] = found["energy_in_mask"]
    ask = dict(
        key=key, model=model, method=result.method, target=target, layer=layer, weights=weights, params=result.params
    )
    faithful = svc.cached_check("faithfulness", **ask)
    if faithful:
        for mode in ("deletion", "insertion"):
            scores[f"{mode} AUC"] = faithful[mode]["auc"]
            scores[f"{mode} AUC of random maps"] = faithful[mode]["random_auc"]
    sanity = svc.cached_check("sanity", **ask)
    if sanity and sanity["steps"]:
        last = sanity["steps"][-1]
        scores["sanity rank correlation (all layers random)"] = last["rank_correlation"]
        scores["sanity SSIM (all layers random)"] = last["ssim"]
        scores["random-class rank correlation"] = sanity["random_logit"]["rank_correlation"]
        tiles = [sanity["original"], *[step["heatmap"] for step in sanity["steps"]]]
        side = max(t.shape[0] for t in tiles)
        strip = np.concatenate([colourise(normalise(np.abs(_pad(t, side)))) for t in tiles], axis=1)
        images.append(
            (
                f"{result.method}: cascading randomization, original then each step "
                f"({', '.join(step['layer'] for step in sanity['steps'])})",
                encode_png(strip),
            )
        )
    stable = svc.cached_check("stability", **ask, options={"runs": STABILITY_RUNS})
    if stable:
        scores["stability agreement"] = stable["agreement"]
    if "completeness_error" in result.meta:
        scores["completeness error"] = result.meta["completeness_error"]
    return scores, images


def _pad(heatmap: np.ndarray, side: int) -> np.ndarray:
    out = np.zeros((side, side), np.float32)
    out[: heatmap.shape[0], : heatmap.shape[1]] = heatmap
    return out


def report_html(
    svc: ExplainerService,
    key: str,
    model: str,
    methods: list[str],
    target=None,
    layer=None,
    weights=None,
    colormap: str = "viridis",
    opacity: float = 0.5,
    percentile: float = 99.0,
    name: str | None = None,
    contrast=None,
    views: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[str, str]:
    """The one-click report of a page: every method's map (from the cache, or computed now), its method
    card, and every score known so far; ``contrast``: the page's "why A and not B" class, for the methods
    that can explain it; ``views``: each card's view (``service.card_views.report_views``), a top-k card
    then giving its whole row. Returns (HTML text, suggested file name)."""
    from service.card_views import accepts_contrast, report_maps

    model, weights = svc.names(model, weights)
    predictions = svc.predict(key, model, weights)
    explanations, scores, images = [], {}, []
    card_maps = (
        report_maps(
            svc,
            key,
            model,
            method,
            (views or {}).get(method),
            target=target,
            layer=layer,
            weights=weights,
            contrast=contrast if accepts_contrast(method) else None,
        )
        for method in methods
    )
    for result in (found for maps in card_maps for found in maps):
        explanations.append(
            Explanation(
                method=result.method,
                model=result.model,
                heatmap=result.heatmap,
                attributions=None,
                target=result.target,
                label=result.label,
                layer=result.layer,
                params=result.params,
                seconds=result.seconds,
                predictions=predictions,
                signed=result.signed,
                meta=dict(result.meta),
            )
        )
        if result.meta.get("rank", 1) > 1:  # a top-k row's other classes: the card's scores are its first map's
            continue
        found, pictures = report_scores(svc, key, model, result, weights, target, layer)
        if found:
            scores[result.method] = found
        images.extend(pictures)
    images.extend(report_figures(svc, key, model, target, layer, weights))  # the layer views opened on the page
    facts = svc.model_facts(model)
    described = (
        "random (seed 0): maps are meaningless"
        if weights == "random"
        else "trained, shipped with the app"
        if facts["family"] == "shapes"
        else "ImageNet"
        if facts["family"] == "imagenet"
        else "its own file" + (f", explaining {facts['explaining']}" if facts.get("explaining") else "")
    )
    text = render_report(
        svc.model_input(key, model),
        explanations,
        model=facts["title"],
        weights=described,
        random_weights=weights == "random",
        scores=scores or None,
        images=images,
        versions=svc.versions(),
        colormap=colormap,
        opacity=opacity,
        percentile=percentile,
        picture_name=name,
        parameters={"image": key, "model": model, "weights": weights},
    )
    return text, report_filename(model, explanations[0].label, len(explanations))


# ---- verdicts: what a check's numbers say, as data; the page and other clients put them in words ------
SANITY_PASS_BELOW = 0.3  # rank correlation with every weight random: below it the map no longer resembles the original
SANITY_FAIL_ABOVE = 0.5  # ... above it the map shows the picture more than what the model learned
RANDOM_CLASS_FAIL_ABOVE = 0.5  # rank correlation with another class's map: above it the class hardly matters
CHANCE_MARGIN = (2.0, 0.01)  # beyond random maps only by max(2 × their spread, 0.01) of area under the curve
STABILITY_LEVELS = (("high", 0.9), ("medium", 0.7))  # agreement between runs above each bound, else "low"


def verdict(kind: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict of a finished check (``sanity``, ``faithfulness``, ``stability``) or of a ``localization``
    score: ``{"verdict": ..., "score": ..., "threshold": ...}`` (one per part where a check has several), so
    every client reads the same thresholds and only words them.

    A sanity check can only judge a map of a model that learned something, and a map that shows
    something: for a model whose weights were random to begin with, or a map that was empty (all zero or
    constant) before any weight was randomized, its verdict is "meaningless", with the ``reason``
    ("random_weights" or "empty_map") and no pass or fail for either part."""
    if kind == "sanity":
        steps = result["steps"]
        last = float(steps[-1]["rank_correlation"]) if steps else float("nan")
        other = float(result["random_logit"]["rank_correlation"])
        reason = (
            "random_weights" if result.get("random_weights") else "empty_map" if result.get("original_empty") else None
        )
        if reason is not None:
            return {
                "verdict": "meaningless",
                "reason": reason,
                "score": last,
                "threshold": SANITY_PASS_BELOW,
                "fail_above": SANITY_FAIL_ABOVE,
                "random_class": {
                    "verdict": "meaningless",
                    "reason": reason,
                    "score": other,
                    "threshold": RANDOM_CLASS_FAIL_ABOVE,
                },
            }
        return {
            "verdict": "pass" if last < SANITY_PASS_BELOW else "fail" if last > SANITY_FAIL_ABOVE else "unclear",
            "score": last,
            "threshold": SANITY_PASS_BELOW,
            "fail_above": SANITY_FAIL_ABOVE,
            "random_class": {
                "verdict": "fail" if other > RANDOM_CLASS_FAIL_ABOVE else "pass",
                "score": other,
                "threshold": RANDOM_CLASS_FAIL_ABOVE,
            },
        }
    if kind == "faithfulness":
        answer = {}
        for mode, lower_is_better in (("deletion", True), ("insertion", False)):
            curve = result[mode]
            margin = max(CHANCE_MARGIN[0] * curve["random_std"], CHANCE_MARGIN[1])
            gain = (curve["random_auc"] - curve["auc"]) if lower_is_better else (curve["auc"] - curve["random_auc"])
            answer[mode] = {
                "verdict": "better" if gain > margin else "worse" if gain < -margin else "chance",
                "score": curve["auc"],
                "threshold": curve["random_auc"],
                "margin": margin,
                "lower_is_better": lower_is_better,
            }
        return answer
    if kind == "stability":
        agreement = float(result["agreement"])
        level = next((name for name, bound in STABILITY_LEVELS if agreement > bound), "low")
        return {"verdict": level, "score": agreement, "threshold": dict(STABILITY_LEVELS)}
    if kind == "localization":
        energy, area = float(result["energy_in_mask"]), float(result["area"])
        return {
            "verdict": "hit" if result["pointing_game"] else "miss",
            "energy": {"verdict": "better" if energy > area else "chance", "score": energy, "threshold": area},
        }
    raise UnknownNameError(f"No verdict for {kind!r}. Choose one of: {', '.join((*CHECKS, 'localization'))}.")
