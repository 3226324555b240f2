"""The Python API: ``explain`` one method, ``explain_all`` several sharing their passes; ``predict``
and ``logits_of`` for what the model says of a picture.

The dashboard, the CLI, the HTTP API and the benchmarks all go through these functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explainers.contrast import contrasted, name_contrast
from explainers.errors import ExplainerError, NotApplicableError
from explainers.methods import METHODS, get_method
from explainers.methods.base import Method, upsample
from explainers.models import ExplainableModel, top_classes
from explainers.passes import TOP1, Passes

DEFAULT_METHODS = ("grad_cam", "guided_grad_cam", "vanilla_gradient")  # the page's first cards (README)
Top5 = list[tuple[int, str, float]]


class _OnFirstRead:
    """A dataclass field that may be set to a value or to a function computing it: the function runs
    the first time the field is read, and its value replaces it. ``Explanation.predictions`` uses it
    so that a method whose own passes never saw the picture itself (RISE, LIME, SmoothGrad, expected
    gradients, with a given class) does not pay a forward pass up front for a top-5 the caller may never read."""

    def __set_name__(self, owner, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            return None  # the dataclass's default
        value = obj.__dict__.get(self.slot)
        if callable(value):
            value = obj.__dict__[self.slot] = value()
        return value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.slot] = value


@dataclass
class Explanation:
    """One saliency map and everything needed to show or reproduce it.

    ``heatmap``: float32 (H, W) at the model's input size, not normalised, higher = more important
    (negative = evidence against the class, for signed methods). ``attributions``: float32 (H, W, 3)
    based on d(target logit)/d(preprocessed input) for pixel-space methods; None for the CAM family.
    ``predictions``: the top-5 (class, label, probability) for the picture; if no pass of the method
    computed the picture's logits, the forward pass for them runs when this is first read.
    """

    method: str
    model: str
    heatmap: np.ndarray
    attributions: np.ndarray | None
    target: int
    label: str
    layer: str | None
    params: dict[str, Any]
    seconds: float
    predictions: Top5 | Callable[[], Top5] | None = _OnFirstRead()
    signed: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_predictions"] = self.predictions  # pickled as the list, never as the function
        return state


def heatmap_to_image_size(heatmap: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Resize a heatmap (h, w) onto an image of ``shape`` (H, W[, C]) so that they line up.

    The model saw the whole image squashed to its input size, so a plain resize maps it back.
    """
    return upsample(np.asarray(heatmap, np.float32)[None], (int(shape[0]), int(shape[1])))[0]


def _passes(model: ExplainableModel, image: np.ndarray, target, progress=None, preview=None) -> Passes:
    pictures = model.prepare(image)[None]
    return Passes(
        model, model.preprocess(pictures), _target_array(model, target), progress, pictures=pictures, preview=preview
    )


def _target_array(model: ExplainableModel, target: int | str | None) -> np.ndarray:
    index = model.resolve_target(target)
    return np.array([TOP1 if index is None else index], np.int32)


def _instantiate(model: ExplainableModel, method: str | Method, params: Mapping[str, Any]) -> Method:
    if isinstance(method, Method):
        if params:
            raise ExplainerError("Give settings either in the method object or as parameters, not both.")
        instance = method
    else:
        instance = get_method(method)(**dict(params))
    instance.check_applicable(model)
    return instance


def _finish(
    model: ExplainableModel,
    method: Method,
    passes: Passes,
    layer: str,
    seconds: float,
    extra_meta: Mapping[str, Any] | None = None,
) -> Explanation:
    started = time.perf_counter()
    result = method.compute(passes, layer)
    heatmap = upsample(result.heatmap, model.input_shape)[0]
    attributions = None if result.attributions is None else np.asarray(result.attributions[0], np.float32)
    target = int(passes.resolved_targets[0])
    meta = {**result.meta, **(extra_meta or {}), "weights": model.weights, "device": model.device}
    notes = [*method.notes, *result.meta.get("notes", [])]
    if notes:
        meta["notes"] = notes
    if passes.has_logits or model.logits_memo is None:  # free, or the weights may change before a later read
        predictions = top_classes(passes.logits[0], model.labels, 5, model.output_activation)
    else:  # later, if ever read: one forward pass of the picture, holding on to nothing but its input
        picture, engine = passes.inputs[:1], passes.engine
        activation = model.output_activation
        predictions = lambda: top_classes(engine.forward(picture)[0], model.labels, 5, activation)  # noqa: E731
    return Explanation(
        method=method.name,
        model=model.name,
        heatmap=heatmap.astype(np.float32),
        attributions=attributions,
        target=target,
        label=model.labels[target].name,
        layer=method.layer_for(model, layer),
        params=dict(method.settings),
        seconds=seconds + time.perf_counter() - started,
        predictions=predictions,
        signed=method.signed,
        meta=meta,
    )


def logits_of(model: ExplainableModel, image: np.ndarray) -> np.ndarray:
    """The model's logits (classes,) for ``image`` (RGB uint8 of any size, resized here)."""
    from explainers.engine import engine_for

    return engine_for(model).forward(model.preprocess(model.prepare(image)[None]))[0]


def predict(model: ExplainableModel, image: np.ndarray, top: int = 5) -> Top5:
    """The ``top`` classes of ``image`` as (index, label, probability), most probable first."""
    return top_classes(logits_of(model, image), model.labels, top, model.output_activation)


def explain(
    model: ExplainableModel,
    image: np.ndarray,
    method: str | Method = "grad_cam",
    target: int | str | None = None,
    layer: str | None = None,
    progress: Callable[[float], None] | None = None,
    preview: Callable[[np.ndarray], None] | None = None,
    contrast: int | str | None = None,
    **params: Any,
) -> Explanation:
    """Explain why ``model`` gives ``target`` (default: its top-1 class) for ``image`` with ``method``.

    ``image``: RGB uint8 (H, W, 3) of any size (resized to the model's input here). ``layer``: any of
    ``model.layers`` (default: the recommended one); methods that do not use a layer ignore it.
    ``params``: the method's settings (see ``METHODS[name].params``). ``progress``: called with the
    fraction done (0..1) as long methods go; it may raise to stop the work. ``preview``: called with a
    partial map (H, W at the model's input size) after each chunk of the methods that average many
    samples (SmoothGrad and its siblings, integrated gradients, RISE, occlusion), so a slow map can be
    shown while it sharpens. ``contrast``: a second class B; the map then explains logit ``target`` −
    logit B, "why A and not B" (``explainers.contrast``).
    """
    started = time.perf_counter()
    original = model
    if contrast is not None and contrast != "":  # A = B is refused in words, A the top class or not
        top_class = lambda: int(_passes(model, image, None).resolved_targets[0])  # noqa: E731
        model, contrast, target = contrasted(model, method, target, contrast, top_class)
    instance = _instantiate(model, method, params)
    layer = model.check_layer(layer)
    passes = _passes(model, image, target, progress, preview)
    explanation = _finish(model, instance, passes, layer, time.perf_counter() - started)
    if model is not original:
        name_contrast(explanation, original, contrast)
        if original.output_activation != "softmax":  # per-class sigmoids of shifted scores are not the model's
            explanation.predictions = lambda: predict(original, image)
    passes.report(1.0)
    return explanation


def explain_all(
    model: ExplainableModel,
    image: np.ndarray,
    methods: Iterable[str] | None = None,
    target: int | str | None = None,
    layer: str | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    on_error: str = "raise",
) -> dict[str, Explanation | ExplainerError]:
    """Several methods for one (image, target, layer), sharing forward and backward passes.

    Grad-CAM, vanilla gradient and gradient × input, for example, come out of one forward and one
    backward pass. ``params`` maps a method name to its settings. ``on_error="raise"`` (default) raises
    before computing anything if a method does not apply to the model; ``"return"`` puts the error in
    the result in that method's place and computes the others.
    """
    if on_error not in {"raise", "return"}:
        raise ExplainerError(f"on_error must be 'raise' or 'return'. Received: {on_error!r}.")
    started = time.perf_counter()
    names = list(dict.fromkeys(methods or DEFAULT_METHODS))
    params = params or {}
    layer = model.check_layer(layer)
    instances: dict[str, Method] = {}
    results: dict[str, Explanation | ExplainerError] = {}
    for name in names:
        try:
            instances[name] = _instantiate(model, name, params.get(name, {}))
        except NotApplicableError as error:
            if on_error == "raise":
                raise
            results[name] = error
    passes = _passes(model, image, target)
    passes.prepare([key for instance in instances.values() for key in instance.needs(model, layer)])
    shared = (time.perf_counter() - started) / max(1, len(instances))
    shared_meta = {"shared_passes": len(passes.passes_run)}
    for name, instance in instances.items():
        results[name] = _finish(model, instance, passes, layer, shared, shared_meta)
    return {name: results[name] for name in names}


__all__ = [
    "Explanation",
    "explain",
    "explain_all",
    "heatmap_to_image_size",
    "logits_of",
    "predict",
    "METHODS",
    "DEFAULT_METHODS",
]
