"""SHAP's Partition explainer (Lundberg & Lee 2017; the hierarchical Owen-value variant of the ``shap``
library) with an inpainting image masker: regions of a recursive split of the picture are hidden by
filling them in from their surroundings (OpenCV's Telea inpainting), and each region gets its share of
the change in the class score.

This is the recipe of the course material this dashboard grew from, run through the ``shap`` library
itself (an optional extra: ``pip install -r requirements-extra.txt``); without it the method says so
and every other method works. The hidden copies go through the model in chunks, with progress and
cancel between chunks like every multi-pass method. The Partition explainer walks its tree in a fixed
order, so the same settings give the same map (no seed needed).
"""

from __future__ import annotations

import numpy as np

from explainers.errors import NotApplicableError
from explainers.methods.base import Attribution, MethodCard, Param, SamplingMethod, register, stable_params
from explainers.passes import PassKey

MASKERS = ("inpaint_telea", "inpaint_ns", "blur")
INSTALL = "pip install -r requirements-extra.txt"


def shap_module():
    """The ``shap`` package, or NotApplicableError saying how to install it."""
    try:
        import shap
    except ImportError as exc:
        raise NotApplicableError(
            f"SHAP needs the optional package 'shap', which is not installed on this server. "
            f"Install it with: {INSTALL}. ({exc})"
        ) from None
    return shap


def masker_value(kind: str, size: int) -> str:
    """The ``shap.maskers.Image`` fill for ``kind``: inpainting, or a box blur a tenth of the picture wide."""
    if kind == "blur":
        width = max(3, size // 10)
        return f"blur({width},{width})"
    return kind


@register
class ShapPartition(SamplingMethod):
    name = "shap_partition"
    title = "SHAP (partition)"
    description = (
        "Hides regions of a recursive split of the picture, filled in from their surroundings, and "
        "shares out the change in the class score fairly among the regions (Owen values)."
    )
    paper = "Lundberg & Lee 2017, arXiv:1705.07874"
    signed = True
    order = 66
    deadline = 900.0
    quick = {"max_evals": 64}
    efforts = {"quick": {"max_evals": 100}, "standard": {"max_evals": 500}, "thorough": {"max_evals": 2000}}
    card = MethodCard(
        computes=(
            "Splits the picture into halves, quarters and so on, hides regions by painting them over from "
            "their surroundings, and scores the hidden copies. Each region gets its fair share (a Shapley-style "
            "value) of the difference between the score of the whole picture and of the fully hidden one."
        ),
        colours=(
            "Signed: red regions raised the class score (evidence for the class), blue regions lowered it "
            "(evidence against it); white is close to zero. The values add up to the score of the picture "
            "minus the score with everything hidden."
        ),
        pitfalls=(
            "The map is made of rectangles from a fixed recursive split, so an object that straddles a split line is "
            "shared between blocks.",
            "The budget of evaluations sets the finest block size: 500 evaluations give blocks of roughly 1/16 of "
            "the picture on a side.",
            "Hidden regions are filled in from their surroundings; a small object can be painted back in from its "
            "own edges and look unimportant.",
            "It is slow (one forward pass per evaluation) and needs the optional shap package.",
        ),
        paper_url="https://arxiv.org/abs/1705.07874",
        good_for="A region-level map whose values add up exactly to the change in the score, for fair comparisons.",
    )
    params = {
        "max_evals": Param(
            500, "How many hidden copies the model scores (more: finer regions, slower).", minimum=16, maximum=5000
        ),
        "masker": Param(
            "inpaint_telea",
            "How a hidden region is filled: inpainted from its surroundings (Telea, or Navier–Stokes) or blurred.",
            choices=MASKERS,
        ),
        **stable_params("max_evals"),
    }
    budget, unit = "max_evals", "evaluations"
    chunked = False  # its levels are its own

    def check_applicable(self, model) -> None:
        shap_module()

    def work(self, input_size):
        return self.settings["max_evals"] + 2, 0

    def steps(self, passes, index, target, span, chunk):
        """Partition explanations at 64, 128, 256, ... evaluations (up to max_evals): a deeper budget splits
        the picture further. Each hidden copy already scored is remembered, so a level pays only for the
        copies the coarser ones did not score."""
        memo: dict = {"scores": {}, "done": 0}
        budget = self.settings["max_evals"]
        levels = [n for n in (2**k for k in range(6, 13)) if n < budget] + [budget]
        for evaluations in levels:
            yield evaluations, self.partition(passes, index, target, span, evaluations, memo)

    def explain_count(self, passes, index, target, span, layer):
        return self.partition(passes, index, target, span, self.settings["max_evals"], {"scores": {}, "done": 0})

    def partition(self, passes, index, target, span, max_evals: int, memo: dict) -> Attribution:
        """The Partition explainer's map at ``max_evals`` evaluations. ``memo``: the hidden copies scored so
        far (by their bytes) and how many, shared between calls on the same picture."""
        import hashlib

        shap = shap_module()
        settings = self.settings
        picture = passes.pictures[index].astype(np.float32)
        start, end = span
        scores = memo["scores"]
        budget = self.settings["max_evals"] + 2  # the explainer also scores the full and the fully hidden picture

        def score(images: np.ndarray) -> np.ndarray:
            images = np.asarray(images, np.float32)
            keys = [hashlib.blake2b(image.tobytes(), digest_size=16).digest() for image in images]
            new = [i for i, key in enumerate(keys) if key not in scores]
            if new:
                done = memo["done"]
                span_of_call = tuple(start + (end - start) * min(1.0, n / budget) for n in (done, done + len(new)))
                logits = passes.batch(
                    PassKey(), passes.preprocess(images[new]), target, field="logits", progress=span_of_call
                )
                for i, row in zip(new, logits[:, target : target + 1].astype(np.float64)):
                    scores[keys[i]] = row
                memo["done"] += len(new)
            return np.stack([scores[key] for key in keys])

        masker = shap.maskers.Image(masker_value(settings["masker"], picture.shape[0]), picture.shape)
        explainer = shap.PartitionExplainer(score, masker)
        result = explainer(picture[None], max_evals=max_evals, batch_size=64, silent=True)
        values = np.asarray(result.values, np.float32).reshape(picture.shape)  # one output: (H, W, 3)
        base = float(np.ravel(result.base_values)[0])
        heatmap = values.sum(axis=-1)
        meta = {
            "evaluations": memo["done"],
            "passes_done": [memo["done"], 0],  # a deeper level re-scores none of the copies scored before
            "base_value": base,
            "full_value": float(base + values.sum(dtype=np.float64)),
        }
        return Attribution(heatmap, None, meta)
