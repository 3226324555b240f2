"""The cards of issue 24's views, in the words of a method card (what it computes, how to read it,
pitfalls, paper): attributions at the picked layer, the top k classes, and "why A and not B". The page
shows them when a card shows that view; the report prints them under the method's own card."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from explainers.methods.base import MethodCard


@dataclass(frozen=True)
class ViewCard:
    """A view's title, its paper in words, and its card."""

    title: str
    paper: str
    card: MethodCard


VIEW_CARDS: dict[str, ViewCard] = {
    "layer": ViewCard(
        "From the picked layer",
        "Ancona et al. 2018, arXiv:1711.06104 (gradient × activation: Shrikumar et al. 2016); expected "
        "gradients: Erion et al. 2021, arXiv:1906.10670",
        MethodCard(
            computes=(
                "The same method, but it credits the picked layer's activations instead of the pixels: each "
                "position of the layer gets activation × gradient (or its integrated or expected version), added "
                "over the layer's channels, and the small grid is stretched over the picture. Integrated gradients "
                "walk from the layer's activations for a black picture to the picture's own, so the parts add up "
                "to that change of the class score."
            ),
            colours=(
                "In the signed view red positions of the layer raise the class score and blue ones lower it; the "
                "grid has the layer's resolution, so one square covers many pixels."
            ),
            pitfalls=(
                "Later layers are coarse: a square of the map covers a patch of the picture, not a pixel.",
                "Where a shortcut skips the layer (ResNet, Inception), only what flows through the layer is "
                "credited; the shortcut keeps the picture's values.",
                "It shows which positions of the layer matter, not which pixels: a layer sees a wider patch than "
                "its square.",
            ),
            paper_url="https://arxiv.org/abs/1711.06104",
            good_for=(
                "Asking what a middle layer contributes, as the expected-gradients example from the input of "
                "VGG16's 7th layer (block2_pool) does."
            ),
        ),
    ),
    "top_k": ViewCard(
        "Top classes",
        "Selvaraju et al. 2017, arXiv:1610.02391 (a map per class)",
        MethodCard(
            computes=(
                "The same map for each of the model's top classes, most probable first, from one forward pass and "
                "one backward pass over all of their scores at once."
            ),
            colours="Each map reads as the method's own map; compare where the maps of different classes look.",
            pitfalls=(
                "Each map has its own colour scale: equal brightness in two maps does not mean equal evidence.",
                "Classes that look alike (two breeds of cat) often give nearly the same map.",
            ),
            paper_url="https://arxiv.org/abs/1610.02391",
            good_for="Seeing whether the model looks at different things for the classes it hesitates between.",
        ),
    ),
    "contrast": ViewCard(
        "Why A and not B",
        "Selvaraju et al. 2017, arXiv:1610.02391 (counterfactual and contrastive explanations)",
        MethodCard(
            computes=(
                "The method explains the difference of two class scores, score of A − score of B, instead of one "
                "score: the regions that tell A from B. For a gradient this is exactly A's map minus B's."
            ),
            colours=(
                "Bright (or red, signed) regions speak for A over B; blue regions, in the signed view, speak for B "
                "over A. Regions both classes share cancel out and look dark."
            ),
            pitfalls=(
                "It says what separates the two classes, not what makes A an A: a feature both share is invisible.",
                "Grad-CAM keeps only the positive part, so it shows the case for A, never the case for B.",
                "Methods that read a probability (LIME, RISE, Score-CAM) or one class's weights (CAM) cannot "
                "explain a difference and say so.",
            ),
            paper_url="https://arxiv.org/abs/1610.02391",
            good_for="Answering a student's 'why husky and not wolf?'.",
        ),
    ),
}


def views_of(meta: Mapping[str, Any]) -> list[str]:
    """The views a map's meta says it was computed in ("layer", "top_k", "contrast")."""
    found = []
    if meta.get("source") == "layer":
        found.append("layer")
    if meta.get("top_k") or meta.get("top_k_row"):
        found.append("top_k")
    if meta.get("contrast") is not None:
        found.append("contrast")
    return found


__all__ = ["VIEW_CARDS", "ViewCard", "views_of"]
