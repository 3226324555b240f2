"""SmoothGrad and its siblings: any gradient method averaged over noisy copies of the input.

Smilkov et al. (2017), "SmoothGrad: removing noise by adding noise"; VarGrad and SquareGrad from
Adebayo et al. (2018) and Hooker et al. (2019). The noisy copies go through the model in chunks
(the samples are the batch), and the noise is seeded, so the same seed gives the same map.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from explainers import layer_attribution
from explainers.convergence import chunk_bounds, sub_span
from explainers.methods.base import (
    Attribution,
    MethodCard,
    Param,
    PixelGradientMethod,
    SamplingMethod,
    get_method,
    register,
    sampler_param,
    seed_param,
    stable_params,
)
from explainers.ops import Mean, MeanOfSquares, SampleStatistic, Variance
from explainers.passes import PassKey
from explainers.samplers import NOISE_SAMPLERS, gaussian_noise

BASES = ("vanilla_gradient", "gradient_x_input", "guided_backprop")

#: what the three noisy-copy methods' cards share
NOISE_PITFALLS = (
    "The noise level matters: too little leaves the speckle, too much blurs everything; 10–20 % of the input "
    "range is the usual choice.",
    "It is random: another seed gives a slightly different map, and few samples give a noisy one.",
    "It costs one gradient pass per noisy copy (16 by default).",
)


class NoisyGradients(SamplingMethod):
    """The shared machinery: n noisy copies, their attributions under the base method, one statistic.

    A sibling picks its ``statistic`` (``explainers.ops.SampleStatistic``: kept chunk by chunk for the
    partial maps, over all the samples for the final one) and, if need be, how its value becomes a map
    (``heatmap``)."""

    statistic: ClassVar[SampleStatistic] = Mean()
    quick = {"n_samples": 2}
    efforts = {"quick": {"n_samples": 8}, "standard": {"n_samples": 16}, "thorough": {"n_samples": 64}}
    params = {
        "base": Param("vanilla_gradient", "The gradient method whose maps are averaged.", choices=BASES),
        "n_samples": Param(16, "How many noisy copies (more: smoother, slower).", minimum=1, maximum=256),
        "noise": Param(
            0.15, "Noise level as a fraction of the input range (black to white).", minimum=0.0, maximum=1.0
        ),
        "seed": seed_param("the noise"),
        "source": Param("pixels", layer_attribution.SOURCE_HELP, choices=layer_attribution.SOURCES),
        # antithetic pairs measured no better than plain noise here (docs/benchmarks.md): plain stays the default
        "sampler": sampler_param(
            "plain",
            NOISE_SAMPLERS,
            "antithetic (each noise ε is used with −ε as well, so their odd effects cancel)",
        ),
        **stable_params("n_samples"),
    }

    def work(self, input_size):
        return 0, self.settings["n_samples"]

    def explain_count(self, passes, index, target, span, layer):
        base = get_method(self.settings["base"])()
        assert isinstance(base, PixelGradientMethod)
        sigma = self.settings["noise"] * passes.model.input_range()
        rng = np.random.default_rng(self.settings["seed"])
        x = passes.inputs[index]
        # float32 noise drawn as such and shifted in place: no float64 draw and copy of every sample
        noisy = gaussian_noise(rng, self.settings["n_samples"], x.shape, self.settings["sampler"])
        noisy *= np.float32(sigma)
        noisy += x[None]
        state = self.statistic.start()

        def running(start: int, stop: int, attributions: np.ndarray) -> None:
            self.statistic.update(state, attributions)
            passes.preview(self.heatmap(base, self.statistic.finish(state)))

        if layer_attribution.from_layer(self.settings):  # the base method's attributions of the layer's activations
            gradients, activations = passes.batch(
                PassKey(layer, layer_grads=True, relu=base.relu_rule),
                noisy,
                target,
                field=("layer_grads", "activations"),
                progress=span,
            )
            value = self.statistic.of(base.from_gradients(gradients, activations))
            return Attribution(
                self.heatmap(base, value), None, {"noise_sigma": sigma, "base": base.name, "source": "layer"}
            )
        samples = base.attribute(
            passes, noisy, target, progress=span, on_chunk=running if passes.wants_preview else None
        )
        value = self.statistic.of(samples)
        return Attribution(self.heatmap(base, value), value, {"noise_sigma": sigma, "base": base.name})

    def steps(self, passes, index, target, span, chunk):
        base = get_method(self.settings["base"])()
        sigma = self.settings["noise"] * passes.model.input_range()
        rng = np.random.default_rng(self.settings["seed"])
        x, total = passes.inputs[index], self.settings["n_samples"]
        state = self.statistic.start()
        for start, stop in chunk_bounds(total, chunk):
            noisy = gaussian_noise(rng, stop - start, x.shape, self.settings["sampler"])
            noisy *= np.float32(sigma)
            noisy += x[None]
            self.statistic.update(
                state, base.attribute(passes, noisy, target, progress=sub_span(span, start, stop, total))
            )
            value = self.statistic.finish(state)
            yield stop, Attribution(self.heatmap(base, value), value, {"noise_sigma": sigma, "base": base.name})

    def heatmap(self, base: PixelGradientMethod, value: np.ndarray) -> np.ndarray:
        """The map (H, W) of the statistic's value (H, W, 3): the sum over colour channels (squares and
        variances have no sign to take care of)."""
        return value.sum(axis=-1)


@register
class SmoothGrad(NoisyGradients):
    """The mean of the base method's attributions over noisy copies of the input."""

    name = "smoothgrad"
    title = "SmoothGrad"
    description = "The vanilla gradient averaged over many noisy copies of the picture, which removes speckle."
    paper = "Smilkov et al. 2017, arXiv:1706.03825"
    card = MethodCard(
        computes=(
            "Adds a little random noise to the picture many times, computes a gradient map for each noisy "
            "copy (the vanilla gradient by default) and averages them. Speckle that appears only by chance "
            "cancels out."
        ),
        colours=(
            "Unsigned (shown by size): bright pixels are those the score stays sensitive to under noise, dark "
            "pixels matter little. With gradient × input as the base the values can be negative (against the "
            "class), but this view shows only their size, so for and against look alike."
        ),
        pitfalls=(
            *NOISE_PITFALLS,
            "It smooths whatever the base method shows, including its weaknesses (for example guided "
            "backpropagation's blindness to the weights).",
        ),
        paper_url="https://arxiv.org/abs/1706.03825",
        good_for="A cleaner, easier-to-read version of the vanilla gradient.",
    )
    statistic = Mean()
    order = 32

    def heatmap(self, base, value):
        """The base method's own map of the mean attributions (their sign matters to it)."""
        return base.to_heatmap(value[None])[0]


@register
class SquareGrad(NoisyGradients):
    """The mean of the squared attributions over noisy copies (Hooker et al. 2019)."""

    name = "squaregrad"
    title = "SquareGrad"
    description = "Like SmoothGrad, but squares each noisy map first, so strong pixels stand out more."
    paper = "Hooker et al. 2019, arXiv:1806.10758"
    card = MethodCard(
        computes=(
            "Like SmoothGrad, but squares each noisy copy's attributions before averaging them, then adds "
            "red, green and blue. Strong pixels stand out more."
        ),
        colours=(
            "Unsigned: squaring makes every value positive, so bright means strongly important in either "
            "direction and dark means unimportant. It cannot show evidence against the class."
        ),
        pitfalls=(
            *NOISE_PITFALLS,
            "Squaring exaggerates contrast: a few pixels can outshine everything else.",
        ),
        paper_url="https://arxiv.org/abs/1806.10758",
        good_for=(
            "Ranking which pixels matter most: it did better than plain gradients in Hooker et al.'s "
            "remove-and-retrain test."
        ),
    )
    statistic = MeanOfSquares()
    order = 34


@register
class VarGrad(NoisyGradients):
    """The variance of the attributions over noisy copies (Adebayo et al. 2018)."""

    name = "vargrad"
    title = "VarGrad"
    description = "Where the gradient changes most under small noise: the pixels the score is most sensitive to."
    paper = "Adebayo et al. 2018, arXiv:1810.03292"
    card = MethodCard(
        computes=(
            "Adds noise to the picture many times and measures, for each pixel, how much its attribution "
            "varies between the noisy copies. Pixels whose attribution swings most are those the score is "
            "most delicately tied to."
        ),
        colours=(
            "Unsigned: a variance is never negative, so bright means the attribution changes a lot under noise"
            " and dark means it stays still. It says nothing about for or against."
        ),
        pitfalls=(
            "It measures instability, not contribution: a bright pixel reacts strongly to noise, which is not the "
            "same as having made the decision.",
            *NOISE_PITFALLS,
        ),
        paper_url="https://arxiv.org/abs/1810.03292",
        good_for="A second opinion next to SquareGrad; both did well in Hooker et al.'s remove-and-retrain test.",
    )
    statistic = Variance()
    order = 36
