"""XRAI (Kapishnikov et al. 2019): integrated gradients summed over image regions, regions chosen
greedily by attribution density from over-segmentations at several scales.

The map gives each pixel the density of the region that first covered it, so the most important
regions are brightest and the map is made of whole regions rather than scattered pixels.
"""

from __future__ import annotations

import numpy as np

from explainers.methods.base import Attribution, MethodCard, MultiPassMethod, Param, register
from explainers.ops import integrate


def candidate_regions(picture: np.ndarray, scales=(50, 100, 150, 250, 500, 1200)) -> list[np.ndarray]:
    """Boolean masks from Felzenszwalb segmentations at several scales, each slightly dilated."""
    import cv2
    from skimage.segmentation import felzenszwalb

    masks = []
    kernel = np.ones((5, 5), np.uint8)
    image = picture.astype(np.float64) / 255.0
    for scale in scales:
        labels = felzenszwalb(image, scale=scale, sigma=0.8, min_size=max(20, image.shape[0] * image.shape[1] // 1000))
        for label in np.unique(labels):
            region = (labels == label).astype(np.uint8)
            masks.append(cv2.dilate(region, kernel).astype(bool))
    return masks


def greedy_regions(masks: np.ndarray, density: np.ndarray) -> np.ndarray:
    """Repeatedly take the region whose not-yet-covered pixels have the highest mean density; each
    pixel gets that mean from the step that covered it. ``masks``: (regions, pixels) booleans.

    Per-region sums and counts of uncovered pixels are updated as pixels get covered, so the whole
    loop costs about one pass over ``masks`` instead of one per step.
    """
    masks = masks.astype(bool)
    sums = masks.astype(np.float64) @ density
    counts = masks.sum(axis=1).astype(np.float64)
    covered = np.zeros(masks.shape[1], bool)
    heatmap = np.zeros(masks.shape[1], np.float32)
    while True:
        gains = np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf)
        best = int(np.argmax(gains))
        if not np.isfinite(gains[best]):
            break
        new = masks[best] & ~covered
        heatmap[new] = gains[best]
        covered |= new
        columns = np.flatnonzero(new)
        sums -= masks[:, columns].astype(np.float64) @ density[columns]
        counts -= masks[:, columns].sum(axis=1)
    return heatmap


@register
class Xrai(MultiPassMethod):
    name = "xrai"
    title = "XRAI"
    description = "Integrated gradients gathered into whole regions, most important regions first."
    paper = "Kapishnikov et al. 2019, arXiv:1906.02825"
    card = MethodCard(
        computes=(
            "Computes integrated gradients (from a black and a white baseline), cuts the picture into regions"
            " at several scales, and picks regions one after another by how much attribution they hold per "
            "pixel. Each pixel gets the score of the region that first took it."
        ),
        colours=(
            "Unsigned: bright regions were picked first (the most attribution per pixel), dark ones last; "
            "whole regions share one colour. It uses the size of the attribution, so a region that argues "
            "against the class can rank as high as one that argues for it."
        ),
        pitfalls=(
            "It ranks regions, not pixels: the sharp region borders come from segmenting the picture, not from the "
            "model.",
            "It depends on how the picture is cut into regions: another segmentation gives another map.",
            "It inherits integrated gradients' cost and baseline choice (two baselines × 32 steps by default).",
        ),
        paper_url="https://arxiv.org/abs/1906.02825",
        good_for="Answering 'which parts of the picture matter most' with whole, readable regions.",
    )
    order = 40
    deadline = 900.0
    quick = {"steps": 2}
    efforts = {"quick": {"steps": 8}, "standard": {"steps": 32}, "thorough": {"steps": 64}}
    params = {
        "steps": Param(32, "Integrated-gradients steps per baseline.", minimum=1, maximum=512),
    }

    def work(self, input_size):
        return 0, 2 * self.settings["steps"]  # a path from black and one from white

    def explain_one(self, passes, index, target, span, layer):
        steps = self.settings["steps"]
        picture = passes.pictures[index].astype(np.float32)
        x = passes.inputs[index]
        middle = (span[0] + span[1]) / 2
        black, white = passes.preprocess(np.stack([np.zeros_like(picture), np.full_like(picture, 255.0)]))
        attributions = (
            integrate(passes, x, black, target, "gauss_legendre", steps, (span[0], middle))
            + integrate(passes, x, white, target, "gauss_legendre", steps, (middle, span[1]))
        ) / 2
        density = np.abs(attributions.sum(axis=-1)).ravel().astype(np.float64)
        heatmap = greedy_regions(np.stack([m.ravel() for m in candidate_regions(picture)]), density)
        heatmap = heatmap.reshape(picture.shape[:2])
        return Attribution(heatmap, attributions, {"regions": int(len(np.unique(heatmap)))})
