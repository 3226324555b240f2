"""Integrated gradients (Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for Deep Networks").

Attributions are (x − x′) × the average gradient along the straight path from a baseline x′ to the
input x (tf-explain forgets the (x − x′) factor). The path integral is computed with Gauss–Legendre
quadrature by default, which reaches a given accuracy with far fewer gradient evaluations than the
left Riemann sum. ``quadrature="gauss_lobatto"`` (one degree of exactness less per node) has nodes at
both ends of the path, so f(x′) and f(x) come from passes it runs anyway (two forward passes fewer);
it is not the default because on VGG16 with random weights it missed the 5 % completeness goal at 32
steps (9.5 % for class 281). The completeness error |Σ attributions − (f(x) − f(x′))| / |f(x) − f(x′)|
is reported in ``meta["completeness_error"]`` (the axiom says it should be 0).
"""

from __future__ import annotations

import numpy as np

from explainers import layer_attribution
from explainers.methods.base import Attribution, MethodCard, MultiPassMethod, Param, register, seed_param
from explainers.ops import blur, integrate

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
class IntegratedGradients(MultiPassMethod):
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
    }

    def work(self, input_size):
        baselines = 4 if self.settings["baseline"] == "average" else 1
        return baselines, baselines * self.settings["steps"]

    def explain_one(self, passes, index, target, span, layer):
        settings = self.settings
        if layer_attribution.from_layer(
            settings
        ):  # the path runs in the layer's space, from the baseline's activations
            pictures = baseline_pictures(passes.pictures[index], settings["baseline"], settings["seed"])
            heatmap, meta = layer_attribution.integrated_at_layer(
                passes, index, target, layer, pictures, settings["quadrature"], settings["steps"], span
            )
            return Attribution(heatmap, None, {**meta, "baseline": settings["baseline"]})
        x = passes.inputs[index]
        bases = [
            passes.preprocess(b[None])[0]
            for b in baseline_pictures(passes.pictures[index], settings["baseline"], settings["seed"])
        ]
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
        difference = float(score - baseline_scores.mean())
        error = abs(float(attributions.sum(dtype=np.float64)) - difference) / max(abs(difference), 1e-12)
        meta = {"completeness_error": error, "score_difference": difference, "baseline": settings["baseline"]}
        return Attribution(attributions.sum(axis=-1), attributions, meta)
