"""Occlusion sensitivity (Zeiler & Fergus 2014): cover one patch at a time and watch the score drop.

Every occluded copy goes through the model in chunks; a pixel's value is the average drop of the
class score over the patches that covered it (positive: covering it hurts the class).

With ``scales`` > 1 it covers the picture again with patches half the size (and half the stride), then a
quarter, …, coarse to fine, and the map is the mean of the maps of each scale: big patches find what
the network needs as a whole, small ones where exactly. ``until="stable"`` stops once a finer scale no
longer changes that mean (``explainers.convergence``), or at the budget (``scales``, ``max_seconds``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np

from explainers.batching import LazyRows
from explainers.convergence import StopRule, describe, run_until_stable, sub_span
from explainers.methods.base import Attribution, MethodCard, Param, SamplingMethod, register, stable_params
from explainers.ops import FILLS, fill_picture
from explainers.passes import Passes


def positions(size: int, patch: int, stride: int) -> list[int]:
    """Patch starts along one side, always including one that ends at the border."""
    starts = list(range(0, max(1, size - patch + 1), stride))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return starts


def scale_plan(patch: int, stride: int, scales: int) -> list[tuple[int, int]]:
    """(patch, stride) of each scale, coarse to fine: both halved at each finer scale (their ratio kept),
    down to 2-pixel patches at the finest (fewer scales if the patch is too small for all of them)."""
    plan = []
    for level in range(scales):
        if patch // 2**level < 2:
            break
        plan.append((patch // 2**level, max(1, stride // 2**level)))
    return plan


def covered_boxes(height: int, width: int, patch: int, stride: int) -> tuple[int, list[tuple[int, int]]]:
    """The square's side on a ``height`` × ``width`` picture, and the (top, left) of every square."""
    size = min(patch, height, width)
    return size, [(top, left) for top in positions(height, size, stride) for left in positions(width, size, stride)]


def occlusion_map(
    passes: Passes,
    picture: np.ndarray,
    cover: np.ndarray,
    target: int,
    original: float,
    size: int,
    boxes: list[tuple[int, int]],
    span: tuple[float, float],
    shown: Callable[[np.ndarray], None],
) -> np.ndarray:
    """One scale's map: each pixel's average score drop over the ``boxes`` (squares of side ``size``) that
    covered it; ``shown`` sees the running map after each chunk."""
    height, width = picture.shape[:2]

    def occluded(start: int, stop: int) -> np.ndarray:
        """Copies start..stop-1 (row r: box r covered), made when their chunk runs: a fine stride
        gives tens of thousands of copies, too many to hold at once."""
        copies = np.repeat(picture[None], stop - start, axis=0)
        for i, (top, left) in enumerate(boxes[start:stop]):
            copies[i, top : top + size, left : left + size] = cover[top : top + size, left : left + size]
        return passes.preprocess(copies)

    total = np.zeros((height, width), np.float64)
    counts = np.zeros((height, width), np.float64)

    def add(start: int, stop: int, logits: np.ndarray) -> None:
        """Row r is the picture with box r covered."""
        for row, scores in zip(range(start, stop), logits):
            top, left = boxes[row]
            total[top : top + size, left : left + size] += original - float(scores[target])
            counts[top : top + size, left : left + size] += 1
        shown(total / np.maximum(counts, 1))

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
    return (total / np.maximum(counts, 1)).astype(np.float32)


@register
class Occlusion(SamplingMethod):
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
            "other parts, large patches give a blocky map; several scales (the thorough effort) average both.",
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
        "quick": {"patch": 56, "stride": 56, "scales": 1},
        "standard": {"patch": 32, "stride": 32, "scales": 1},
        # 64-, 32- and 16-pixel squares: the whole object and its details, stopping early if they agree
        "thorough": {"patch": 64, "stride": 64, "scales": 3},
    }
    params = {
        "patch": Param(32, "Side of the covering square, in pixels of the model input.", minimum=2, maximum=256),
        "stride": Param(32, "Step between squares, in pixels (smaller: finer map, slower).", minimum=1, maximum=256),
        "fill": Param(
            "grey", "What covers a square: grey, the picture's mean colour, or a blurred copy.", choices=FILLS
        ),
        "scales": Param(
            1,
            "How many square sizes, coarse to fine: the patch, then half of it, a quarter, … (stride halved "
            "too); the map is their mean.",
            minimum=1,
            maximum=5,
        ),
        **stable_params("scales"),
        # each finer scale costs about four times the one before: one agreeing scale is enough
        "patience": Param(1, "Stable mode: how many finer scales in a row must agree.", minimum=1, maximum=4),
    }
    budget, unit = "scales", "scales"
    chunked = False  # its levels are its own

    def plan(self, height: int, width: int) -> list[tuple[int, list[tuple[int, int]]]]:
        """(square side, boxes) of each scale on a ``height`` × ``width`` picture, coarse to fine."""
        settings = self.settings
        return [
            covered_boxes(height, width, patch, stride)
            for patch, stride in scale_plan(settings["patch"], settings["stride"], settings["scales"])
        ]

    def warm_up(self, model):
        from explainers.engine import engine_for

        height, width = model.input_shape
        engine = engine_for(model)
        for size, boxes in self.plan(height, width):
            engine.warm_local((size, size), sorted({top for top, _ in boxes}), sorted({left for _, left in boxes}))

    def work(self, input_size):
        # an over-estimate: each covered copy runs its first layers on a crop only
        height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
        return sum(len(boxes) for _, boxes in self.plan(height, width)), 0

    def scale_steps(
        self, passes: Passes, index: int, target: int, span, max_seconds: float | None = None, late: dict | None = None
    ) -> Iterator[tuple[int, Attribution]]:
        """Yield (scales so far, Attribution of their mean map) after each scale, coarse to fine. With
        ``max_seconds``, a scale is not started if, at the last one's speed per square, it would end past
        that (each finer scale has about four times the squares); ``late`` then records it."""
        picture = passes.pictures[index].astype(np.float32)
        height, width = picture.shape[:2]
        cover = fill_picture(picture, self.settings["fill"])
        original = float(passes.logits[index, target])  # the whole picture's score, from the shared pass
        plan = self.plan(height, width)
        squares = sum(len(boxes) for _, boxes in plan)
        done, summed, began, per_square = 0, np.zeros((height, width), np.float64), time.monotonic(), 0.0
        for level, (size, boxes) in enumerate(plan):
            if max_seconds is not None and level and time.monotonic() - began + per_square * len(boxes) > max_seconds:
                if late is not None:
                    late["seconds"] = True
                return
            started = time.monotonic()

            def shown(partial: np.ndarray, level: int = level, summed: np.ndarray = summed) -> None:
                passes.preview((summed + partial) / (level + 1))

            span_of_scale = sub_span(span, done, done + len(boxes), squares)
            heatmap = occlusion_map(passes, picture, cover, target, original, size, boxes, span_of_scale, shown)
            per_square = (time.monotonic() - started) / len(boxes)
            done += len(boxes)
            summed = summed + heatmap
            mean = (summed / (level + 1)).astype(np.float32)
            # the squares run, for a time estimate's learnt speed: a finer scale has about four times as many
            meta = {"patches": done, "scales": level + 1, "passes_done": [done, 0]}
            yield level + 1, Attribution(mean, None, meta)

    def steps(self, passes, index, target, span, chunk):
        return self.scale_steps(passes, index, target, span)

    def explain_count(self, passes, index, target, span, layer):
        *_, (_, result) = self.scale_steps(passes, index, target, span)
        return result

    def explain_one(self, passes, index, target, span, layer):
        settings = self.settings
        if (
            settings["until"] != "stable"
            or len(scale_plan(settings["patch"], settings["stride"], settings["scales"])) < 2
        ):
            return self.explain_count(passes, index, target, span, layer)  # one scale: nothing to compare it with
        rule = StopRule(settings["agreement"], settings["patience"], settings["scales"], settings["max_seconds"])
        late: dict = {}
        steps = self.scale_steps(passes, index, target, span, settings["max_seconds"], late)
        on_step = (lambda result: passes.preview(result.heatmap)) if passes.wants_preview else None
        result, stop = run_until_stable(steps, rule, on_step=on_step)
        if late and stop["stopped"] == "budget":
            stop["budget"] = "seconds"
        result.meta.update(stop)
        result.meta["notes"] = [*result.meta.get("notes", []), describe(stop, self.unit)]
        return result
