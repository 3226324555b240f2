"""Which class each model explains when two models are compared, and where a class stands in a model's
ranking of a picture. A class belongs to a model: class number 3 is "star" to the Shapes demo and "tiger
shark" to VGG16, so the second model never reuses the first one's number blindly. No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from explainers.errors import ExplainerError
from explainers.labels import Labels
from explainers.models import probabilities
from service.catalogue import labels as model_labels
from service.catalogue import title as catalogue_title


@dataclass(frozen=True)
class ClassChoice:
    """The class a model explains (``target``: an index into its own labels, or None for its top
    prediction) and, in words, why (shown on the card)."""

    target: int | None
    reason: str
    same: bool  # True if both models explain the same class

    def describe(self, label: str) -> str:
        """The reason, completed with the class actually explained when that is the model's top class."""
        return self.reason if self.target is not None else f"{self.reason}: {label}"


def model_title(model: Any) -> str:
    """A model's name as people read it ("VGG16", "Shapes (offline demo)"); an unknown name comes back as given."""
    return catalogue_title(model)


def matching_class(source: Labels, target: int, other: Labels) -> int | None:
    """``other``'s index of ``source``'s class ``target``: the same index where the label sets are the same,
    else the one class whose name (or a synonym) is the source class's name; None if ``other`` lacks it."""
    if list(source.names) == list(other.names):
        return target
    name = source[target].name.strip().lower()
    found = [
        label.index
        for label in other
        if label.name.strip().lower() == name or name in (s.strip().lower() for s in label.synonyms)
    ]
    return found[0] if len(found) == 1 else None


def counterpart_class(source_model: str, target: Any, other_model: str) -> ClassChoice:
    """The class ``other_model`` explains when ``source_model`` explains ``target`` (an index, a name, or None
    for the top prediction): the same class where both models know it, else ``other_model``'s top class."""
    other_title = model_title(other_model)
    if target is None or target == "":
        return ClassChoice(None, f"no class picked: {other_title} explains its top class", False)
    source = model_labels(source_model)
    try:
        index = source.resolve(target)
    except ExplainerError:
        return ClassChoice(None, f"{other_title} explains its top class", False)
    found = matching_class(source, index, model_labels(other_model))
    if found is not None:
        return ClassChoice(found, f"the same class as {model_title(source_model)}", True)
    return ClassChoice(None, f"{other_title} does not know “{source[index].name}”; showing its top class", False)


def class_name(model: str, index: int) -> str:
    """The name of ``model``'s class number ``index`` ("tabby cat"); UnknownNameError if there is none."""
    labels = model_labels(model)
    return labels[labels.resolve(index)].name


def picture_probabilities(loaded: Any, image: np.ndarray) -> np.ndarray | None:
    """Every class's probability for ``image`` (float32), from the logits an earlier pass left in the
    model's memo (no pass of its own runs here), or None where the memo does not hold them."""
    memo = getattr(loaded, "logits_memo", None)
    if memo is None:
        return None
    logits = memo.recall(loaded.preprocess(loaded.prepare(image)[None]))
    activation = getattr(loaded, "output_activation", "softmax")
    return None if logits is None else probabilities(logits[0], activation).astype(np.float32)


def choose_class(
    model: str | None, target: Any, compare: str | None = None, compare_target: Any = None, second: bool = False
) -> ClassChoice:
    """The class a card explains: for the first model, the picked class (None: its top class); for the second
    (``second``), the class picked on its own top-5 chart, else ``counterpart_class`` of the first model's."""
    if not second:
        picked = target is not None and target != ""
        return ClassChoice(
            target if picked else None, "the class chosen in “Class to explain”" if picked else "its top class", True
        )
    try:
        title = model_title(compare)
        if isinstance(compare_target, int) and not isinstance(compare_target, bool):
            return ClassChoice(compare_target, f"picked on {title}'s chart", False)
        return counterpart_class(model, target, compare)
    except ExplainerError:  # a forged model name: the map's request then says what is wrong
        return ClassChoice(None, "its top class", False)


def standing(probabilities: np.ndarray | None, target: int) -> tuple[float, int] | None:
    """(probability, rank from 1) of class ``target`` among ``probabilities``, ranked as the top-5 are (ties
    in class order), or None where they are unknown."""
    if probabilities is None or not 0 <= int(target) < len(probabilities):
        return None
    values = np.asarray(probabilities, np.float64)
    mine = values[int(target)]
    ahead = np.count_nonzero(values > mine) + np.count_nonzero(values[: int(target)] == mine)
    return float(mine), int(ahead) + 1
