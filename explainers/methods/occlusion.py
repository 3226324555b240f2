"""Occlusion sensitivity (Zeiler & Fergus 2014): cover one patch at a time and watch the score drop.

Every occluded copy goes through the model in chunks; a pixel's value is the average drop of the
class score over the patches that covered it (positive: covering it hurts the class).
"""

from __future__ import annotations

import numpy as np

from explainers.batching import LazyRows
from explainers.methods.base import Attribution, MethodCard, MultiPassMethod, Param, register
from explainers.ops import FILLS, fill_picture


def positions(size: int, patch: int, stride: int) -> list[int]:
    """Patch starts along one side, always including one that ends at the border."""
    starts = list(range(0, max(1, size - patch + 1), stride))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return starts


@register
class Occlusion(MultiPassMethod):
    name = "occlusion"
    title = "Occlusion"
    description = "Covers one square at a time and measures how much the class score drops."
    paper = "Zeiler & Fergus 2014, arXiv:1311.2901"
    card = MethodCard(
        computes=(
            "Covers one square of the picture at a time (with grey, the mean colour or a blurred copy), runs "
            "the network again and records how much the class score dropped. A pixel's value is the average "
            "drop over the squares that covered it."
        ),
        colours=(
            "In the signed (for/against) view, red means covering that area lowered the score (it was evidence"
            " for the class) and blue means covering it raised the score (it was working against the class), "
            "which is evidence against the class; light grey is close to zero. In the absolute view, "
            "brightness shows only how strong the effect is, whichever its direction."
        ),
        pitfalls=(
            "It depends on the patch size: small patches can miss objects the network still recognises from their "
            "other parts, large patches give a blocky map.",
            "The fill colour matters: a grey square is itself an odd object to the network and can change the score.",
            "It is slow: one forward pass per patch position (49 for 32-pixel patches on 224 × 224, far more with a"
            " small stride).",
            "Its resolution is set by the stride, so the map looks blocky.",
        ),
        paper_url="https://arxiv.org/abs/1311.2901",
        good_for="An intuitive check that needs no gradients: does the class survive when this part is hidden?",
    )
    signed = True
    order = 60
    quick = {"patch": 112, "stride": 112}
    efforts = {
        "quick": {"patch": 56, "stride": 56},
        "standard": {"patch": 32, "stride": 32},
        "thorough": {"patch": 32, "stride": 16},
    }
    params = {
        "patch": Param(32, "Side of the covering square, in pixels of the model input.", minimum=2, maximum=256),
        "stride": Param(32, "Step between squares, in pixels (smaller: finer map, slower).", minimum=1, maximum=256),
        "fill": Param(
            "grey", "What covers a square: grey, the picture's mean colour, or a blurred copy.", choices=FILLS
        ),
    }

    def warm_up(self, model):
        from explainers.engine import engine_for

        height, width = model.input_shape
        size = min(self.settings["patch"], height, width)
        stride = self.settings["stride"]
        engine_for(model).warm_local((size, size), positions(height, size, stride), positions(width, size, stride))

    def work(self, input_size):
        # an over-estimate: each covered copy runs its first layers on a crop only
        height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
        size, stride = min(self.settings["patch"], height, width), self.settings["stride"]
        return len(positions(height, size, stride)) * len(positions(width, size, stride)), 0

    def explain_one(self, passes, index, target, span, layer):
        patch, stride = self.settings["patch"], self.settings["stride"]
        picture = passes.pictures[index].astype(np.float32)
        height, width = picture.shape[:2]
        size = min(patch, height, width)
        cover = fill_picture(picture, self.settings["fill"])
        boxes = [(top, left) for top in positions(height, size, stride) for left in positions(width, size, stride)]

        def occluded(start: int, stop: int) -> np.ndarray:
            """Copies start..stop-1 (row r: box r covered), made when their chunk runs: a fine stride
            gives tens of thousands of copies, too many to hold at once."""
            copies = np.repeat(picture[None], stop - start, axis=0)
            for i, (top, left) in enumerate(boxes[start:stop]):
                copies[i, top : top + size, left : left + size] = cover[top : top + size, left : left + size]
            return passes.preprocess(copies)

        total = np.zeros((height, width), np.float64)
        counts = np.zeros((height, width), np.float64)
        original = float(passes.logits[index, target])  # the whole picture's score, from the shared pass

        def add(start: int, stop: int, logits: np.ndarray) -> None:
            """Row r is the picture with box r covered."""
            for row, scores in zip(range(start, stop), logits):
                top, left = boxes[row]
                total[top : top + size, left : left + size] += original - float(scores[target])
                counts[top : top + size, left : left + size] += 1
            passes.preview(total / np.maximum(counts, 1))

        # each copy differs from the picture only inside its box: the first layers run on a crop
        passes.covered_logits(
            passes.preprocess(picture[None])[0],
            LazyRows(len(boxes), occluded),
            boxes,
            (size, size),
            target,
            progress=span,
            on_chunk=add,
        )
        heatmap = (total / np.maximum(counts, 1)).astype(np.float32)
        return Attribution(heatmap, None, {"patches": len(boxes)})
