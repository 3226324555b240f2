"""RISE (Petsiuk, Das & Saenko 2018): the class probability under many random masks, averaged per pixel.

Masks are coarse random grids, upsampled smoothly and shifted by a random offset, all from one seed;
the masked copies go through the model in chunks.
"""

from __future__ import annotations

import numpy as np

from explainers.batching import LazyRows, weighted_sum
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
from explainers.passes import PassKey
from explainers.samplers import POINT_SAMPLERS, uniform_points


class RandomMasks:
    """``count`` smooth masks in [0, 1] of ``shape`` from random ``cells`` × ``cells`` binary grids, made a
    slice at a time (``masks[a:b]``), so thousands of them never sit in memory at once.

    Every random number is drawn up front (the grids, then each mask's offset, from one seed), so a
    slice is the same whichever slices were made before it. ``sampler="sobol"`` takes each mask's grid
    and offset from one point of a scrambled Sobol sequence (``explainers.samplers``), so the masks
    cover every cell being hidden and shown evenly.
    """

    def __init__(self, count: int, shape: tuple[int, int], cells: int, keep: float, seed: int, sampler: str = "plain"):
        self.shape = (int(shape[0]), int(shape[1]))
        height, width = self.shape
        self.cell = int(np.ceil(height / cells)), int(np.ceil(width / cells))
        self.big = ((cells + 1) * self.cell[0], (cells + 1) * self.cell[1])
        if sampler == "plain":
            rng = np.random.default_rng(seed)
            self.grids = rng.random((count, cells, cells)) < keep
            self.offsets = [(rng.integers(0, self.cell[0]), rng.integers(0, self.cell[1])) for _ in range(count)]
            return
        points = uniform_points(count, cells * cells + 2, sampler, seed)
        self.grids = points[:, : cells * cells].reshape(count, cells, cells) < keep
        self.offsets = list(zip((points[:, -2] * self.cell[0]).astype(int), (points[:, -1] * self.cell[1]).astype(int)))

    def __len__(self) -> int:
        return len(self.grids)

    def __getitem__(self, rows: slice) -> np.ndarray:
        import cv2

        indices = range(len(self))[rows]
        height, width = self.shape
        masks = np.empty((len(indices), height, width), np.float32)
        for out, i in enumerate(indices):
            up = cv2.resize(
                self.grids[i].astype(np.float32), (self.big[1], self.big[0]), interpolation=cv2.INTER_LINEAR
            )
            dy, dx = self.offsets[i]
            masks[out] = up[dy : dy + height, dx : dx + width]
        return masks


def random_masks(
    count: int, shape: tuple[int, int], cells: int, keep: float, seed: int, sampler: str = "plain"
) -> np.ndarray:
    """All ``count`` masks of ``RandomMasks`` at once (small counts: tests, previews)."""
    return RandomMasks(count, shape, cells, keep, seed, sampler)[:]


@register
class Rise(SamplingMethod):
    name = "rise"
    title = "RISE"
    description = "Hides random parts of the picture many times and sees which parts keep the class probable."
    paper = "Petsiuk et al. 2018, arXiv:1806.07421"
    card = MethodCard(
        computes=(
            "Shows the network many copies of the picture, each with a random set of soft blobs hidden, and "
            "notes the class probability each time. A pixel's value is the average probability over the "
            "copies in which it was visible."
        ),
        colours=(
            "Unsigned: bright pixels are those whose visibility goes with a high class probability, dark "
            "pixels with a low one. The whole map sits on a base level (the average probability), so the "
            "contrast matters, not the absolute brightness; nothing is marked as against the class."
        ),
        pitfalls=(
            "It is random: another seed or too few masks gives a different, blotchy map; hundreds to thousands of "
            "masks are needed.",
            "It is slow: one forward pass per mask (500 by default).",
            "The blob size (cells) limits how fine the map can be.",
            "It works on probabilities, so for a class the model finds unlikely the map can be nearly flat.",
        ),
        paper_url="https://arxiv.org/abs/1806.07421",
        good_for="A map that needs only the model's predictions, to cross-check gradient methods.",
    )
    order = 62
    deadline = 900.0
    quick = {"n_masks": 16}
    efforts = {"quick": {"n_masks": 100}, "standard": {"n_masks": 500}, "thorough": {"n_masks": 2000}}
    params = {
        "n_masks": Param(500, "How many random masks (more: smoother, slower).", minimum=8, maximum=8000),
        "cells": Param(7, "Grid cells per side of a mask (fewer: coarser blobs).", minimum=2, maximum=32),
        "keep": Param(0.5, "Fraction of each mask left visible.", minimum=0.05, maximum=0.95),
        "seed": seed_param("the masks"),
        "sampler": sampler_param("sobol", POINT_SAMPLERS, "sobol (a scrambled Sobol sequence: evenly spread masks)"),
        **stable_params("n_masks"),
    }
    budget, unit, chunk = "n_masks", "masks", 64

    def work(self, input_size):
        return self.settings["n_masks"], 0

    def masks(self, picture: np.ndarray) -> RandomMasks:
        settings = self.settings
        return RandomMasks(
            settings["n_masks"],
            picture.shape[:2],
            settings["cells"],
            settings["keep"],
            settings["seed"],
            settings["sampler"],
        )

    def steps(self, passes, index, target, span, chunk):
        picture = passes.pictures[index].astype(np.float32)
        masks, total = self.masks(picture), 0.0
        for start, stop in chunk_bounds(len(masks), chunk):
            part = masks[start:stop]
            inputs = passes.preprocess(picture[None] * part[..., None])
            logits = passes.batch(
                PassKey(), inputs, target, field="logits", progress=sub_span(span, start, stop, len(masks))
            )
            total = total + np.tensordot(passes.probabilities(logits)[:, target], part, axes=1)
            heatmap = (total / (stop * self.settings["keep"])).astype(np.float32)
            yield stop, Attribution(heatmap, None, {"n_masks": stop})

    def explain_count(self, passes, index, target, span, layer):
        settings = self.settings
        picture = passes.pictures[index].astype(np.float32)
        masks = self.masks(picture)
        # the masked copies are made a chunk at a time, as the passes ask for them
        inputs = LazyRows(len(masks), lambda a, b: passes.preprocess(picture[None] * masks[a:b][..., None]))
        total = {"sum": 0.0}

        def running(start: int, stop: int, logits: np.ndarray) -> None:
            total["sum"] = total["sum"] + np.tensordot(
                passes.probabilities(logits)[:, target], masks[start:stop], axes=1
            )
            passes.preview(total["sum"] / (stop * settings["keep"]))

        logits = passes.batch(
            PassKey(), inputs, target, field="logits", progress=span, on_chunk=running if passes.wants_preview else None
        )
        probabilities = passes.probabilities(logits)[:, target]
        heatmap = weighted_sum(probabilities, masks) / (len(masks) * settings["keep"])
        return Attribution(heatmap.astype(np.float32), None, {"n_masks": len(masks)})
