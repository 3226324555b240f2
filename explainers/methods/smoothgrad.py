"""SmoothGrad and its siblings: any gradient method averaged over noisy copies of the input.

Smilkov et al. (2017), "SmoothGrad: removing noise by adding noise"; VarGrad and SquareGrad from
Adebayo et al. (2018) and Hooker et al. (2019). The noisy copies go through the model in chunks
(the samples are the batch), and the noise is seeded, so the same seed gives the same map.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from explainers.methods.base import (Attribution, MethodCard, MultiPassMethod, Param, PixelGradientMethod,
                                     get_method, register, seed_param)

BASES = ("vanilla_gradient", "gradient_x_input", "guided_backprop")

#: what the three noisy-copy methods' cards share
NOISE_PITFALLS = (
    "The noise level matters: too little leaves the speckle, too much blurs everything; 10–20 % of the input "
    "range is the usual choice.",
    "It is random: another seed gives a slightly different map, and few samples give a noisy one.",
    "It costs one gradient pass per noisy copy (16 by default).",
)


class NoisyGradients(MultiPassMethod):
    """The shared machinery: n noisy copies, their attributions under the base method, one statistic."""

    statistic: ClassVar[str] = "mean"
    quick = {"n_samples": 2}
    params = {
        "base": Param("vanilla_gradient", "The gradient method whose maps are averaged.", choices=BASES),
        "n_samples": Param(16, "How many noisy copies (more: smoother, slower).", minimum=1, maximum=256),
        "noise": Param(0.15, "Noise level as a fraction of the input range (black to white).", minimum=0.0,
                       maximum=1.0),
        "seed": seed_param("the noise"),
    }

    def explain_one(self, passes, index, target, span, layer):
        base = get_method(self.settings["base"])()
        assert isinstance(base, PixelGradientMethod)
        sigma = self.settings["noise"] * passes.model.input_range()
        rng = np.random.default_rng(self.settings["seed"])
        x = passes.inputs[index]
        # float32 noise drawn as such and shifted in place: no float64 draw and copy of every sample
        noisy = rng.standard_normal((self.settings["n_samples"], *x.shape), dtype=np.float32)
        noisy *= np.float32(sigma)
        noisy += x[None]
        sums = {"count": 0, "first": 0.0, "second": 0.0}

        def running(start: int, stop: int, attributions: np.ndarray) -> None:
            values = attributions.astype(np.float64)
            sums["count"] += len(values)
            sums["first"] = sums["first"] + values.sum(axis=0)
            sums["second"] = sums["second"] + (values ** 2).sum(axis=0)
            count = sums["count"]
            passes.preview(self.reduce(base, sums["first"] / count, sums["second"] / count)[1])

        samples = base.attribute(passes, noisy, target, progress=span,
                                 on_chunk=running if passes.wants_preview else None)
        value = self.statistic_of(samples)
        heatmap = self.heatmap(base, value)
        return Attribution(heatmap, value, {"noise_sigma": sigma, "base": base.name})

    def statistic_of(self, samples: np.ndarray) -> np.ndarray:
        """This statistic (H, W, 3) over all the samples' attributions, with no float64 copy of them:
        the mean (accumulated in float64), the mean of squares, or the two-pass variance (no
        cancellation)."""
        if self.statistic == "mean":
            return samples.mean(axis=0, dtype=np.float64).astype(np.float32)
        if self.statistic == "square":
            return np.einsum("i...,i...->...", samples, samples) / np.float32(len(samples))
        return samples.var(axis=0)

    def reduce(self, base, mean: np.ndarray, mean_of_squares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(value (H, W, 3), heatmap (H, W)) of this statistic from running moments (the partial maps)."""
        if self.statistic == "mean":
            value = mean.astype(np.float32)
        elif self.statistic == "square":
            value = mean_of_squares.astype(np.float32)
        else:
            value = np.maximum(mean_of_squares - mean ** 2, 0.0).astype(np.float32)
        return value, self.heatmap(base, value)

    def heatmap(self, base, value: np.ndarray) -> np.ndarray:
        """The map (H, W) of a statistic's value: the base method's own for the mean, else the sum
        over colour channels (squares and variances have no sign to take care of)."""
        return base.to_heatmap(value[None])[0] if self.statistic == "mean" else value.sum(axis=-1)


@register
class SmoothGrad(NoisyGradients):
    """The mean of the base method's attributions over noisy copies of the input."""

    name = "smoothgrad"
    title = "SmoothGrad"
    description = "The vanilla gradient averaged over many noisy copies of the picture, which removes speckle."
    paper = "Smilkov et al. 2017, arXiv:1706.03825"
    card = MethodCard(
        computes=("Adds a little random noise to the picture many times, computes a gradient map for each noisy "
                  "copy (the vanilla gradient by default) and averages them. Speckle that appears only by chance "
                  "cancels out."),
        colours=("Unsigned (shown by size): bright pixels are those the score stays sensitive to under noise, dark "
                 "pixels matter little. With gradient × input as the base the values can be negative (against the "
                 "class), but this view shows only their size, so for and against look alike."),
        pitfalls=(
            *NOISE_PITFALLS,
            "It smooths whatever the base method shows, including its weaknesses (for example guided "
            "backpropagation's blindness to the weights).",
        ),
        paper_url="https://arxiv.org/abs/1706.03825",
        good_for="A cleaner, easier-to-read version of the vanilla gradient.",
    )
    order = 32


@register
class SquareGrad(NoisyGradients):
    """The mean of the squared attributions over noisy copies (Hooker et al. 2019)."""

    name = "squaregrad"
    title = "SquareGrad"
    description = "Like SmoothGrad, but squares each noisy map first, so strong pixels stand out more."
    paper = "Hooker et al. 2019, arXiv:1806.10758"
    card = MethodCard(
        computes=("Like SmoothGrad, but squares each noisy copy's attributions before averaging them, then adds "
                  "red, green and blue. Strong pixels stand out more."),
        colours=("Unsigned: squaring makes every value positive, so bright means strongly important in either "
                 "direction and dark means unimportant. It cannot show evidence against the class."),
        pitfalls=(
            *NOISE_PITFALLS,
            "Squaring exaggerates contrast: a few pixels can outshine everything else.",
        ),
        paper_url="https://arxiv.org/abs/1806.10758",
        good_for=("Ranking which pixels matter most: it did better than plain gradients in Hooker et al.'s "
                  "remove-and-retrain test."),
    )
    statistic = "square"
    order = 34


@register
class VarGrad(NoisyGradients):
    """The variance of the attributions over noisy copies (Adebayo et al. 2018)."""

    name = "vargrad"
    title = "VarGrad"
    description = "Where the gradient changes most under small noise: the pixels the score is most sensitive to."
    paper = "Adebayo et al. 2018, arXiv:1810.03292"
    card = MethodCard(
        computes=("Adds noise to the picture many times and measures, for each pixel, how much its attribution "
                  "varies between the noisy copies. Pixels whose attribution swings most are those the score is "
                  "most delicately tied to."),
        colours=("Unsigned: a variance is never negative, so bright means the attribution changes a lot under noise"
                 " and dark means it stays still. It says nothing about for or against."),
        pitfalls=(
            "It measures instability, not contribution: a bright pixel reacts strongly to noise, which is not the "
            "same as having made the decision.",
            *NOISE_PITFALLS,
        ),
        paper_url="https://arxiv.org/abs/1810.03292",
        good_for="A second opinion next to SquareGrad; both did well in Hooker et al.'s remove-and-retrain test.",
    )
    statistic = "variance"
    order = 36
