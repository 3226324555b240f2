"""LIME (Ribeiro, Singh & Guestrin 2016) for images: superpixels switched on and off at random, and a
weighted linear model of the class probability on which superpixels were on.

Superpixels come from scikit-image's SLIC; the samples go through the model in chunks; everything
random comes from one seed, so the same seed gives the same map (the ``lime`` package is not
repeatable even with a seed).
"""

from __future__ import annotations

import numpy as np

from explainers.batching import LazyRows
from explainers.convergence import chunk_bounds, sub_span
from explainers.methods.base import (
    Attribution,
    MethodCard,
    Param,
    SamplingMethod,
    register,
    sampler_param,
    seed_param,
    stable_params,
)
from explainers.ops import FILLS, fill_picture
from explainers.passes import PassKey
from explainers.samplers import POINT_SAMPLERS, uniform_points


def superpixels(picture: np.ndarray, segments: int) -> np.ndarray:
    """Integer labels 0..n-1 (H, W) from SLIC; a regular grid when SLIC finds far fewer segments than
    asked (it does on tiny pictures), so LIME always has patches to switch."""
    from skimage.segmentation import slic

    labels = slic(
        picture.astype(np.float64) / 255.0, n_segments=segments, compactness=10, start_label=0, channel_axis=-1
    )
    _, labels = np.unique(labels, return_inverse=True)
    labels = labels.reshape(picture.shape[:2])
    if labels.max() + 1 < max(2, segments // 4):
        height, width = picture.shape[:2]
        side = max(1, int(round(np.sqrt(height * width / segments))))
        rows, columns = np.arange(height)[:, None] // side, np.arange(width)[None, :] // side
        labels = rows * (-(-width // side)) + columns
    return labels


def weighted_ridge(features: np.ndarray, targets: np.ndarray, weights: np.ndarray, alpha: float = 1.0):
    """Coefficients and intercept of a ridge regression with sample weights, and its weighted R²."""
    w = weights / weights.sum()
    mean_x, mean_y = w @ features, w @ targets
    x, y = features - mean_x, targets - mean_y
    gram = x.T @ (x * w[:, None]) + alpha / len(targets) * np.eye(x.shape[1])
    coefficients = np.linalg.solve(gram, x.T @ (w * y))
    residual = y - x @ coefficients
    total = float(w @ (y * y))
    r2 = 1.0 - float(w @ (residual * residual)) / total if total > 0 else 0.0
    return coefficients, float(mean_y - mean_x @ coefficients), r2


@register
class Lime(SamplingMethod):
    name = "lime"
    title = "LIME"
    description = "Switches patches of the picture on and off at random and fits which patches raise the class."
    paper = "Ribeiro et al. 2016, arXiv:1602.04938"
    card = MethodCard(
        computes=(
            "Cuts the picture into patches (superpixels), shows the network many versions with random patches"
            " switched off, and fits a simple weighted linear model of the class probability on which patches"
            " were on. Each patch gets that model's coefficient."
        ),
        colours=(
            "In the signed (for/against) view, red patches raise the class probability when shown and blue "
            "patches lower it, which is evidence against the class; light grey is close to zero. In the "
            "absolute view, brightness shows only how strong the effect is, whichever its direction. Every "
            "pixel of a patch has the same colour."
        ),
        pitfalls=(
            "It depends on the superpixels: patch borders come from segmenting the picture, not from the model, and"
            " another number of patches gives another map.",
            "It is random: another seed or too few samples can reorder the patches; hundreds or thousands are needed.",
            "The simple linear model may fit the network poorly; its fit (R² in the notes) says how far to trust it.",
            "What a switched-off patch shows (grey, mean colour, blur) changes the answer.",
            "It is slow: one forward pass per sample (256 by default).",
        ),
        paper_url="https://arxiv.org/abs/1602.04938",
        good_for="A patch-level explanation that needs only predictions and is easy for non-experts to read.",
    )
    signed = True
    order = 64
    deadline = 900.0
    quick = {"n_samples": 16, "segments": 8}
    efforts = {"quick": {"n_samples": 64}, "standard": {"n_samples": 256}, "thorough": {"n_samples": 1000}}
    params = {
        "n_samples": Param(256, "How many random on/off patterns (more: steadier, slower).", minimum=16, maximum=4000),
        "segments": Param(50, "About how many patches (superpixels) to cut the picture into.", minimum=4, maximum=500),
        "fill": Param(
            "mean", "What a switched-off patch shows: grey, the mean colour, or a blurred copy.", choices=FILLS
        ),
        "kernel_width": Param(
            0.25, "How fast a sample's weight falls as more patches are off.", minimum=0.01, maximum=10.0
        ),
        "seed": seed_param("the patterns"),
        "sampler": sampler_param(
            "sobol", POINT_SAMPLERS, "sobol (a scrambled Sobol sequence: every patch on and off evenly often)"
        ),
        **stable_params("n_samples"),
    }
    chunk = 32

    def work(self, input_size):
        return self.settings["n_samples"], 0

    def patterns(self, picture: np.ndarray):
        """The superpixels, the on/off patterns (n, patches; row 0 is the picture itself) and what covers
        a switched-off patch."""
        settings = self.settings
        labels = superpixels(picture, settings["segments"])
        count = int(labels.max()) + 1
        on = (uniform_points(settings["n_samples"], count, settings["sampler"], settings["seed"]) < 0.5).astype(
            np.float32
        )
        on[0] = 1.0  # the picture itself
        cover = fill_picture(picture, settings["fill"])
        return labels, on, cover

    def fit(self, labels: np.ndarray, on: np.ndarray, probabilities: np.ndarray) -> Attribution:
        """The weighted linear model of the class probability (one per pattern) on the patterns ``on``."""
        count = on.shape[1]
        probabilities = probabilities.astype(np.float64)
        distance = 1.0 - on.sum(axis=1) / np.sqrt(count * np.maximum(on.sum(axis=1), 1e-12))  # cosine to all-on
        weights = np.sqrt(np.exp(-(distance**2) / self.settings["kernel_width"] ** 2))
        coefficients, intercept, r2 = weighted_ridge(on.astype(np.float64), probabilities, weights)
        heatmap = coefficients[labels].astype(np.float32)
        return Attribution(heatmap, None, {"segments": count, "r2": r2, "intercept": intercept})

    def steps(self, passes, index, target, span, chunk):
        picture = passes.pictures[index].astype(np.float32)
        labels, on, cover = self.patterns(picture)
        parts = []
        for start, stop in chunk_bounds(len(on), chunk):
            keep = on[start:stop, labels][..., None]
            inputs = passes.preprocess(picture[None] * keep + cover[None] * (1.0 - keep))
            parts.append(
                passes.batch(PassKey(), inputs, target, field="logits", progress=sub_span(span, start, stop, len(on)))
            )
            yield stop, self.fit(labels, on[:stop], passes.probabilities(np.concatenate(parts))[:, target])

    def explain_count(self, passes, index, target, span, layer):
        picture = passes.pictures[index].astype(np.float32)
        labels, on, cover = self.patterns(picture)

        def samples(start: int, stop: int) -> np.ndarray:
            """Samples start..stop-1, made when their chunk runs (thousands at once would take gigabytes)."""
            keep = on[start:stop, labels][..., None]  # (n, H, W, 1)
            return passes.preprocess(picture[None] * keep + cover[None] * (1.0 - keep))

        logits = passes.batch(PassKey(), LazyRows(len(on), samples), target, field="logits", progress=span)
        return self.fit(labels, on, passes.probabilities(logits)[:, target])
