"""Expected gradients (Erion et al. 2021, the idea behind SHAP's GradientExplainer): integrated
gradients averaged over baselines drawn from a background set, with one random point on each path.

The background is the example photos shipped with the dashboard (resized to the model's input) plus
blurred copies of the picture; ``smoothing`` adds SmoothGrad-style noise to each sample. Seeded.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from explainers import layer_attribution
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
from explainers.ops import blur
from explainers.passes import PassKey
from explainers.samplers import uniform_points

#: plain: baselines and points on the path drawn independently; stratified: from a 2-D scrambled Sobol
#: sequence, so every background picture and every stretch of the path gets its even share of samples
BASELINE_SAMPLERS = ("plain", "stratified")

BACKGROUND_DIR = Path(
    os.environ.get("EXPLAINERS_BACKGROUND_DIR") or Path(__file__).resolve().parents[2] / "assets" / "examples"
)


@lru_cache(maxsize=8)
def background_pictures(size: int | tuple[int, int]) -> tuple[np.ndarray, ...]:
    """The background photos at ``size`` × ``size`` or (height, width) (none if the folder is missing)."""
    from explainers.images import decode
    from explainers.models import prepare_image

    if not BACKGROUND_DIR.is_dir():
        return ()
    return tuple(
        prepare_image(decode(path.read_bytes()), size).astype(np.float32)
        for path in sorted(BACKGROUND_DIR.glob("*.jpg"))
    )


def blurred_copies(picture: np.ndarray) -> list[np.ndarray]:
    """The picture blurred by a twentieth and by an eighth of its longer side (two baselines)."""
    side = max(picture.shape[:2])
    return [blur(picture, side / k) for k in (20, 8)]


@register
class ExpectedGradients(SamplingMethod):
    name = "expected_gradients"
    title = "Expected gradients"
    description = "Integrated gradients averaged over many everyday baselines instead of one blank picture."
    paper = "Erion et al. 2021, arXiv:1906.10670"
    card = MethodCard(
        computes=(
            "Integrated gradients averaged over many baselines (the example photos and blurred copies of your"
            " picture) instead of one blank picture, using one random point on each path. It asks what each "
            "pixel adds compared with a typical other picture."
        ),
        colours=(
            "In the signed (for/against) view, red pixels raise the class score compared with the background "
            "pictures and blue pixels lower it, which is evidence against the class; light grey is close to "
            "zero. In the absolute view, brightness shows only how strong the effect is, whichever its "
            "direction."
        ),
        pitfalls=(
            "It is random: the seed and the number of samples change the map, and few samples make it noisy.",
            "It depends on the background set: here a handful of example photos and blurred copies stand in for "
            "'typical pictures'.",
            "With one random point per path, the parts add up to the score only on average over many samples.",
        ),
        paper_url="https://arxiv.org/abs/1906.10670",
        good_for="Avoiding the blind spot of a single black baseline, where black pixels can get nothing.",
    )
    signed = True
    order = 39
    quick = {"n_samples": 4}
    efforts = {"quick": {"n_samples": 8}, "standard": {"n_samples": 32}, "thorough": {"n_samples": 128}}
    params = {
        "n_samples": Param(32, "How many (baseline, point on the path) samples.", minimum=1, maximum=512),
        "smoothing": Param(
            0.0, "Noise added to each sample, as a fraction of the input range.", minimum=0.0, maximum=1.0
        ),
        "seed": seed_param("the sampling"),
        "source": Param("pixels", layer_attribution.SOURCE_HELP, choices=layer_attribution.SOURCES),
        "sampler": sampler_param(
            "stratified", BASELINE_SAMPLERS, "stratified (each background picture and stretch of the path evenly often)"
        ),
        **stable_params("n_samples"),
    }

    def work(self, input_size):
        return 0, self.settings["n_samples"]

    def draws(self, passes, index: int):
        """(background pictures, each sample's baseline, each sample's α along its path, the generator
        for what is drawn next)."""
        settings = self.settings
        picture = passes.pictures[index].astype(np.float32)
        pool = [p for p in background_pictures(picture.shape[:2]) if p.shape == picture.shape]
        pool += blurred_copies(picture)
        rng = np.random.default_rng(settings["seed"])
        count = settings["n_samples"]
        if settings["sampler"] == "plain":
            chosen = rng.integers(0, len(pool), count)
            alphas = rng.random(count).astype(np.float32)[:, None, None, None]
        else:
            spread = uniform_points(count, 2, "sobol", settings["seed"])
            chosen = np.minimum((spread[:, 0] * len(pool)).astype(int), len(pool) - 1)
            alphas = spread[:, 1].astype(np.float32)[:, None, None, None]
        return pool, chosen, alphas, rng

    def sampling(self, passes, index: int):
        """The input, its background (preprocessed), and ``points(start, stop)``: samples start..stop-1
        (baseline + α (x − baseline), plus noise if smoothing), with ``chosen``: each sample's baseline."""
        sigma = self.settings["smoothing"] * passes.model.input_range()
        x = passes.inputs[index]
        pool, chosen, alphas, rng = self.draws(passes, index)
        background = passes.preprocess(np.stack(pool))
        noise = NoiseRows(rng, sigma, x.shape)

        def points(start: int, stop: int) -> np.ndarray:
            """Samples start..stop-1, made when their chunk runs (hundreds at once would take gigabytes)."""
            rows = background[chosen[start:stop]]
            rows = rows + alphas[start:stop] * (x[None] - rows)
            if sigma > 0:
                rows = rows + noise.rows(start, stop).astype(np.float32)
            return rows.astype(np.float32)

        return x, background, chosen, points, len(pool)

    def steps(self, passes, index, target, span, chunk):
        x, background, chosen, points, pool = self.sampling(passes, index)
        count, total = len(chosen), 0.0
        for start, stop in chunk_bounds(count, chunk):
            progress = sub_span(span, start, stop, count)
            gradients = passes.batch(PassKey(None, input_grads=True), points(start, stop), target, progress=progress)
            total = total + ((x[None] - background[chosen[start:stop]]) * gradients).sum(axis=0)
            attributions = (total / np.float32(stop)).astype(np.float32)
            yield stop, Attribution(attributions.sum(axis=-1), attributions, {"background": pool})

    def explain_count(self, passes, index, target, span, layer):
        if layer_attribution.from_layer(self.settings):  # the paths run in the layer's space (no smoothing)
            pool, chosen, alphas, _ = self.draws(passes, index)
            heatmap, meta = layer_attribution.expected_at_layer(
                passes, index, target, layer, np.stack(pool), chosen, alphas, span
            )
            return Attribution(heatmap, None, {**meta, "background": len(pool)})
        x, background, chosen, points, pool = self.sampling(passes, index)
        count = len(chosen)
        gradients = passes.batch(PassKey(None, input_grads=True), LazyRows(count, points), target, progress=span)
        total = (x - background[chosen[0]]) * gradients[0]
        for row in range(1, count):  # the mean over samples, in the order np.mean adds them, one sample at a time
            total += (x - background[chosen[row]]) * gradients[row]
        attributions = (total / np.float32(count)).astype(np.float32)
        return Attribution(attributions.sum(axis=-1), attributions, {"background": pool})


class NoiseRows:
    """Gaussian noise for consecutive rows of samples, drawn from ``rng`` a chunk at a time as the chunks
    ask for it: the same numbers as one draw of every row at once. A chunk asked for again (a retry
    after running out of memory) gets the same rows; rows before the newest chunk are let go."""

    def __init__(self, rng: np.random.Generator, sigma: float, shape: tuple[int, ...]):
        self.rng, self.sigma, self.shape = rng, sigma, tuple(shape)
        self.first = 0  # the row that buffer[0] is
        self.buffer = np.empty((0, *self.shape))

    def rows(self, start: int, stop: int) -> np.ndarray:
        if start < self.first:
            raise ValueError("noise rows are drawn in order; an earlier row is gone")
        drawn = self.first + len(self.buffer)
        if stop > drawn:
            self.buffer = np.concatenate([self.buffer, self.rng.normal(0, self.sigma, (stop - drawn, *self.shape))])
        self.buffer, self.first = self.buffer[start - self.first :], start
        return self.buffer[: stop - start]
