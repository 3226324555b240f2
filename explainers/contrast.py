"""'Why A and not B': a method explains the difference of two class scores, logit A − logit B.

Selvaraju et al. (2017, arXiv:1610.02391, section "counterfactual explanations") explain what tells one
class from another by taking the gradient of a changed score. Here every method gets that for free: the
model is wrapped so that each class's logit becomes logit − logit B, and the method explains class A
of the wrapped model. Gradients are linear, so a gradient map of the difference is the difference of
the two gradient maps; methods that read scores (occlusion, Partition SHAP) explain the score
difference. The softmax does not change when the same number is taken off every logit, so the
predictions stay the model's own (a multi-label model's sigmoids do change: its top-5 is read from the
model itself). Methods that read the class probability (LIME, RISE, Score-CAM) or
one class's output weights (CAM) cannot explain a difference this way and say so.

The wrapped model shares the weights and layers of the model; one is kept per (model, class B), for
the few classes a person contrasts with, each with its own compiled passes and logits memo.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable

from explainers.errors import NotApplicableError, ParameterError
from explainers.models import ExplainableModel

KEPT_PER_MODEL = 4  # wrapped models kept per model: each compiles its own passes on first use
#: methods that read something other than the class score, and why a difference does not fit them
REFUSED = {
    "lime": "LIME fits the class probability",
    "rise": "RISE averages the class probability",
    "score_cam": "Score-CAM weighs feature maps by the class probability",
    "cam": "CAM reads one class's output weights",
}

_kept: weakref.WeakKeyDictionary[ExplainableModel, OrderedDict[int, ExplainableModel]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def same_class(index: int, label: str | None = None) -> str:
    """The sentence for A = B, whether A was picked or is the top class: the map would be zero everywhere."""
    name = f"class {int(index)}" if not label or label == f"class {int(index)}" else f"{label}, class {int(index)}"
    return f"Class A and class B are the same ({name}): pick two different classes."


def check_contrast(method: str, title: str, target: int | None, contrast: int, label: str | None = None) -> None:
    """Refuse in words what a contrast cannot mean: a method that reads no class score, or A = B (``label``:
    class B's name, for the sentence)."""
    if method in REFUSED:
        raise NotApplicableError(
            f"{title} cannot explain 'why one class and not another': {REFUSED[method]}, not the class score, so "
            f"the difference of two scores has no meaning for it. Use Grad-CAM or a gradient method instead."
        )
    if target is not None and target == contrast:
        raise ParameterError(same_class(contrast, label))


def contrast_model(model: ExplainableModel, contrast: int) -> ExplainableModel:
    """``model`` with every logit replaced by logit − logit[``contrast``] (same layers, same weights)."""
    with _lock:
        kept = _kept.setdefault(model, OrderedDict())
        if contrast in kept:
            kept.move_to_end(contrast)
            return kept[contrast]
        from explainers._tf import keras

        net = model.keras
        index = int(contrast)
        difference = keras.layers.Lambda(lambda logits: logits - logits[:, index : index + 1], name="contrast")
        wrapped = ExplainableModel(
            keras.Model(net.inputs, difference(net.outputs[0])),
            model.name,
            labels=model.labels,
            preprocess=model.preprocess,
            default_layer=model.default_layer,
            weights=model.weights,
            weights_id=f"{model.weights_id}-logit{index}",
            random_weights=model.random_weights,
            title=model.title,
            memo_logits=model.logits_memo is not None,
        )
        kept[contrast] = wrapped
        while len(kept) > KEPT_PER_MODEL:
            kept.popitem(last=False)
        return wrapped


def contrast_title(target_label: str, contrast_label: str) -> str:
    """The card's words: 'why tabby and not tiger cat'."""
    return f"why {target_label} and not {contrast_label}"


def contrasted(
    model: ExplainableModel, method, target, contrast, top_class: Callable[[], int]
) -> tuple[ExplainableModel, int, int]:
    """(the wrapped model, class B's index, class A's index) for ``explain(..., contrast=B)``, after
    ``check_contrast``; ``top_class()``: the picture's top class, class A where none was picked (asked only
    once the method is known to take a contrast)."""
    from explainers.methods import Method, get_method

    index = model.resolve_target(contrast)
    cls = type(method) if isinstance(method, Method) else get_method(method)
    check_contrast(cls.name, cls.title, None, index)
    target = model.resolve_target(target)
    target = top_class() if target is None else target
    check_contrast(cls.name, cls.title, target, index, model.labels[index].name)
    return contrast_model(model, index), index, target


def name_contrast(explanation, model: ExplainableModel, index: int) -> None:
    """Write the contrast class into the explanation's meta (the card and the report name both classes)."""
    label = model.labels[index].name
    explanation.meta.update(contrast=index, contrast_label=label, title=contrast_title(explanation.label, label))


__all__ = [
    "KEPT_PER_MODEL",
    "REFUSED",
    "check_contrast",
    "contrast_model",
    "contrast_title",
    "contrasted",
    "name_contrast",
    "same_class",
]
