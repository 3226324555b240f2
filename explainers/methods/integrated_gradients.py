"""Integrated gradients (Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for Deep Networks").

Attributions are (x − x′) × the average gradient along the straight path from a baseline x′ to the
input x (tf-explain forgets the (x − x′) factor). The path integral is computed with Gauss–Legendre
quadrature by default, which reaches a given accuracy with far fewer gradient evaluations than the
left Riemann sum. ``quadrature="gauss_lobatto"`` (one degree of exactness less per node) has nodes at
both ends of the path, so f(x′) and f(x) come from passes it runs anyway (two forward passes fewer);
it is not the default because on VGG16 with random weights it missed the 5 % completeness goal at 32
steps (9.5 % for class 281). The completeness error |Σ attributions − (f(x) − f(x′))| / |f(x) − f(x′)|
is reported in ``meta["completeness_error"]`` (the axiom says it should be 0).

``until="stable"`` makes the step count adaptive: the path's nodes double level by level (7, 15, 31, 63,
... points; ``explainers.ops.NestedPath``, so every earlier gradient is reused) until the completeness
error is at most ``tolerance`` (1 %) and the map agrees with the previous level's (ρ ≥ 0.99 at 32 × 32),
or the budget (``steps``, seconds) is spent;
``meta`` then says ``steps``, ``completeness_error`` and ``budget_reached``.
"""

from __future__ import annotations

import numpy as np

from explainers import layer_attribution
from explainers.convergence import sub_span
from explainers.methods.base import Attribution, MethodCard, Param, SamplingMethod, register, seed_param, stable_params
from explainers.ops import NestedPath, blur, integrate
from explainers.passes import PassKey

BASELINES = ("black", "white", "blur", "noise", "average")
QUADRATURES = ("gauss_lobatto", "gauss_legendre", "trapezoid", "riemann_left")


def baseline_pictures(picture: np.ndarray, kind: str, seed: int) -> list[np.ndarray]:
    """Baselines in pixel space (float 0..255) for one RGB picture."""
    picture = picture.astype(np.float32)
    if kind == "black":
        return [np.zeros_like(picture)]
    if kind == "white":
        return [np.full_like(picture, 255.0)]
    if kind == "blur":
        return [blur(picture, max(picture.shape[:2]) / 10)]
    if kind == "noise":
        return [np.random.default_rng(seed).uniform(0, 255, picture.shape).astype(np.float32)]
    return [b for name in ("black", "white", "blur", "noise") for b in baseline_pictures(picture, name, seed)]


@register
class IntegratedGradients(SamplingMethod):
    name = "integrated_gradients"
    title = "Integrated gradients"
    description = "Adds up the gradient along a path from a blank picture to yours, so the parts add up to the score."
    paper = "Sundararajan et al. 2017, arXiv:1703.01365"
    card = MethodCard(
        computes=(
            "Walks in small steps from a baseline picture (black by default, meaning 'nothing there') to your"
            " picture, adds up the gradients along the way and multiplies by how much each pixel differs from"
            " the baseline. The parts add up to the score difference between your picture and the baseline."
        ),
        colours=(
            "In the signed (for/against) view, red pixels raise the class score compared with the baseline and"
            " blue pixels lower it, which is evidence against the class; light grey is close to zero. In the "
            "absolute view, brightness shows only how strong the effect is, whichever its direction."
        ),
        pitfalls=(
            "It depends on the baseline: with the black baseline, pure black pixels equal the baseline and can "
            "never get any attribution, even when they matter.",
            "Other baselines (white, blurred, noise) can give visibly different maps; none is the single right one.",
            "The number of steps matters: with too few the parts no longer add up to the score; the completeness "
            "error in the notes says by how much (a few % is fine).",
            "It costs one gradient pass per step (32 by default).",
        ),
        paper_url="https://arxiv.org/abs/1703.01365",
        good_for=("When you want attributions that add up to the score and that can show evidence against the class."),
    )
    signed = True
    order = 38
    quick = {"steps": 4}
    efforts = {"quick": {"steps": 8}, "standard": {"steps": 32}, "thorough": {"steps": 128}}
    params = {
        "steps": Param(32, "Gradient evaluations along the path (more: more exact, slower).", minimum=1, maximum=512),
        "baseline": Param(
            "black", "What 'absent' means: black, white, blurred, noise, or the average of these.", choices=BASELINES
        ),
        "quadrature": Param("gauss_legendre", "How the path integral is summed.", choices=QUADRATURES),
        "seed": seed_param("the noise baseline"),
        "source": Param("pixels", layer_attribution.SOURCE_HELP, choices=layer_attribution.SOURCES),
        **stable_params("steps"),
        # one agreeing level is enough here: the completeness error is this method's own test of being done
        "patience": Param(1, "Stable mode: how many levels in a row must agree.", minimum=1, maximum=10),
        "tolerance": Param(
            0.01,
            "Stable mode: the largest completeness error accepted (0.01: the parts add up to within 1 %).",
            minimum=0.0001,
            maximum=0.5,
        ),
    }
    budget, unit = "steps", "steps"
    chunked = False  # its levels are its own

    def work(self, input_size):
        baselines = 4 if self.settings["baseline"] == "average" else 1
        return baselines, baselines * self.settings["steps"]

    def baselines(self, passes, index: int) -> list[np.ndarray]:
        """The baselines of picture ``index``, preprocessed."""
        pictures = baseline_pictures(passes.pictures[index], self.settings["baseline"], self.settings["seed"])
        return [passes.preprocess(b[None])[0] for b in pictures]

    def done(self, result):
        return result.meta["completeness_error"] <= self.settings["tolerance"]

    def explain_one(self, passes, index, target, span, layer):
        result = super().explain_one(passes, index, target, span, layer)
        if "stopped" in result.meta:  # stable mode ran (not at a layer, which runs its fixed count)
            error, reached = result.meta["completeness_error"], result.meta["stopped"] == "budget"
            result.meta["budget_reached"] = reached
            goal = f"the goal is at most {100 * self.settings['tolerance']:g} %"
            said = "budget reached before the parts added up" if reached else "the parts add up"
            result.meta["notes"].append(f"Completeness error {100 * error:.2f} % ({said}; {goal}).")
        return result

    def steps(self, passes, index, target, span, chunk):
        x, bases, budget = passes.inputs[index], self.baselines(passes, index), self.settings["steps"]
        score = float(passes.logits[index, target])
        baseline_scores = passes.remembered_logits(np.stack(bases), target, progress=(span[0], span[0]))[:, target]
        if budget < 7:  # too few for even the first level: the fixed rule at that count
            result = self.explain_count(passes, index, target, span, None)
            result.meta["steps"] = budget
            yield budget, result
            return
        paths = [NestedPath(first_level=3) for _ in bases]
        while 2 ** (paths[0].level + 1) - 1 <= budget:
            before = paths[0].evaluations if paths[0].current is not None else 0
            nodes = [path.next_nodes() for path in paths][0].astype(np.float32)[:, None, None, None]
            points = np.concatenate([b[None] + nodes * (x - b)[None] for b in bases]).astype(np.float32)
            # a batch of 8k points: the gradient pass compiled for the fixed count's chunks serves every level
            padded = np.concatenate([points, points[: -len(points) % 8]])
            progress = sub_span(span, before, paths[0].evaluations, budget)
            gradients = passes.batch(PassKey(None, input_grads=True), padded, target, progress=progress)
            for path, part in zip(paths, np.split(gradients[: len(points)], len(bases))):
                path.add(part)
            attributions = np.mean([(x - b) * path.mean() for b, path in zip(bases, paths)], axis=0)
            meta = completeness(attributions.astype(np.float32), score, baseline_scores, self.settings["baseline"])
            meta["steps"] = paths[0].evaluations
            yield paths[0].evaluations, Attribution(attributions.sum(axis=-1), attributions, meta)

    def explain_count(self, passes, index, target, span, layer):
        settings = self.settings
        if layer_attribution.from_layer(settings):  # the path runs in the layer's space
            pictures = baseline_pictures(passes.pictures[index], settings["baseline"], settings["seed"])
            heatmap, meta = layer_attribution.integrated_at_layer(
                passes, index, target, layer, pictures, settings["quadrature"], settings["steps"], span
            )
            return Attribution(heatmap, None, {**meta, "baseline": settings["baseline"]})
        x = passes.inputs[index]
        bases = self.baselines(passes, index)
        width = (span[1] - span[0]) / len(bases)
        ends = [{} for _ in bases]
        attributions = np.mean(
            [
                integrate(
                    passes,
                    x,
                    b,
                    target,
                    settings["quadrature"],
                    settings["steps"],
                    (span[0] + i * width, span[0] + (i + 1) * width),
                    preview=len(bases) == 1,
                    ends=ends[i],
                )
                for i, b in enumerate(bases)
            ],
            axis=0,
        )
        if all(ends):  # the path's end points were passes of their own: f(x′) and f(x) come from them
            passes.note_logits(index, ends[0]["input"])
            score = float(ends[0]["input"][target])
            baseline_scores = np.array([end["baseline"][target] for end in ends])
        else:  # f(x) comes from the pass that gives the predictions; a black or white baseline's
            # logits are the same for every photo, so its forward pass runs once per model
            score = float(passes.logits[index, target])
            baseline_scores = passes.remembered_logits(np.stack(bases), target, progress=(span[1], span[1]))[:, target]
        meta = completeness(attributions, score, baseline_scores, settings["baseline"])
        return Attribution(attributions.sum(axis=-1), attributions, meta)


def completeness(attributions: np.ndarray, score: float, baseline_scores: np.ndarray, baseline: str) -> dict:
    """How far the attributions' sum is from f(x) − f(x′), relative to it (the axiom says 0)."""
    difference = float(score - baseline_scores.mean())
    error = abs(float(attributions.sum(dtype=np.float64)) - difference) / max(abs(difference), 1e-12)
    return {"completeness_error": error, "score_difference": difference, "baseline": baseline}
