"""Score-CAM (Wang et al. 2020): weight each channel of a layer by how much the class probability rises
when the picture is seen only through that channel's (upsampled, normalised) activation map.

``score_cam`` uses every channel; ``score_cam_fast`` only the ``top_k`` channels with the highest mean
activation, which is most of the map for a fraction of the forward passes.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from explainers.batching import LazyRows
from explainers.methods.base import Attribution, MethodCard, Param, PerPictureMethod, register
from explainers.ops import upsample
from explainers.passes import PassKey

#: what the two Score-CAM cards share
COLOURS = (
    "Unsigned, positive evidence only: bright regions hold feature maps that, used as a mask, raise the class "
    "probability; dark regions do not. Nothing is marked as against the class."
)
PITFALLS = (
    "With random weights, or for a class the model does not recognise, no feature map raises the probability, "
    "so the map can be empty.",
    "It is coarse: it has the layer's resolution (14×14 for VGG16's block5_conv3).",
    "It shows only positive evidence.",
)


class ScoreCamBase(PerPictureMethod):
    """Score-CAM's machinery. It runs its own batch per picture (one masked copy per channel), but it
    also reads the picked layer's activations from a shared pass, so it is not a MultiPassMethod (the
    service computes it together with the one-pass methods)."""

    uses_layer = True
    deadline = 1200.0
    top_k: ClassVar[int | None] = None

    def needs(self, model, layer):
        return [PassKey(layer)]

    def channels(self, activations: np.ndarray) -> np.ndarray:
        return np.arange(activations.shape[-1])

    def explain_one(self, passes, index, target, span, layer):
        activations = passes.get(PassKey(layer)).activations[index]  # (h, w, K)
        chosen = self.channels(activations)
        picture = passes.pictures[index].astype(np.float32)
        channel_maps = np.moveaxis(activations[..., chosen], -1, 0)

        def masked_copies(start: int, stop: int) -> np.ndarray:
            # made a chunk at a time: all of ResNet50's 2048 masked copies at once held gigabytes
            maps = upsample(channel_maps[start:stop], picture.shape[:2])
            low = maps.reshape(stop - start, -1).min(axis=1)[:, None, None]
            high = maps.reshape(stop - start, -1).max(axis=1)[:, None, None]
            masks = np.where(high > low, (maps - low) / np.where(high > low, high - low, 1), 0).astype(np.float32)
            return passes.preprocess(picture[None] * masks[..., None])

        black = passes.remembered_logits(
            passes.preprocess(np.zeros_like(picture)[None]),
            target,  # once per model
            progress=(span[0], span[0]),
        )
        masked = passes.batch(PassKey(), LazyRows(len(chosen), masked_copies), target, field="logits", progress=span)
        probabilities = passes.probabilities(np.concatenate([black, masked]))[:, target]
        weights = probabilities[1:] - probabilities[0]  # rise in confidence over a black picture
        cam = np.maximum((activations[..., chosen] * weights).sum(axis=-1), 0.0).astype(np.float32)
        meta = {"channels": int(len(chosen)), "layer_resolution": list(cam.shape)}
        if not cam.any():
            meta["notes"] = [
                "No feature map raised this class's probability, so the map is empty "
                "(common when the model does not recognise the class at all)."
            ]
        return Attribution(cam, None, meta)


@register
class ScoreCam(ScoreCamBase):
    name = "score_cam"
    quick = {}  # every channel by definition; use score_cam_fast for a quick look
    title = "Score-CAM"
    description = "Weights each feature map by how well the picture seen through it alone keeps the class."
    paper = "Wang et al. 2020, arXiv:1910.01279"
    card = MethodCard(
        computes=(
            "Uses each feature map of the picked layer as a soft mask over the picture and weights it by how "
            "much the class probability rises when the network sees the picture only through that mask "
            "(compared with a black picture). The weighted maps are added up and the positive part kept."
        ),
        colours=COLOURS,
        pitfalls=(
            *PITFALLS,
            "It is slow: one forward pass per feature map (512 for VGG16's block5_conv3).",
        ),
        paper_url="https://arxiv.org/abs/1910.01279",
        good_for="A CAM that needs no gradients, so noisy or saturated gradients do not affect it.",
    )
    order = 17


@register
class ScoreCamFast(ScoreCamBase):
    name = "score_cam_fast"
    title = "Score-CAM (fast)"
    description = "Score-CAM using only the most active feature maps, for a fraction of the time."
    paper = "Wang et al. 2020, arXiv:1910.01279 (top-k channels)"
    card = MethodCard(
        computes=(
            "Score-CAM using only the most active feature maps of the picked layer (32 by default): each is "
            "used as a soft mask and weighted by how much the class probability rises when the network sees "
            "the picture only through it."
        ),
        colours=COLOURS,
        pitfalls=(
            *PITFALLS,
            "Skipping the less active feature maps can leave out some that matter, so the map can differ from full "
            "Score-CAM.",
        ),
        paper_url="https://arxiv.org/abs/1910.01279",
        good_for="A quick Score-CAM preview; use full Score-CAM when the two disagree.",
    )
    order = 18
    quick = {"top_k": 4}
    efforts = {"quick": {"top_k": 8}, "standard": {"top_k": 32}, "thorough": {"top_k": 128}}
    params = {"top_k": Param(32, "How many of the most active feature maps to use.", minimum=1, maximum=4096)}

    def work(self, input_size):
        return self.settings["top_k"] + 1, 0  # one masked copy per feature map, and a black picture

    def channels(self, activations):
        means = activations.reshape(-1, activations.shape[-1]).mean(axis=0)
        return np.argsort(-means, kind="stable")[: self.settings["top_k"]]
