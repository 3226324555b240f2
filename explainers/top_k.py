"""The same method for the model's top k classes, as a row of maps (like a ranked-outputs plot).

For the methods made of one plain pass (Grad-CAM and the CAM family's gradient methods, vanilla
gradient, gradient × input, ...) the k maps come from one forward pass and one batched backward pass:
the k class scores' gradients are a Jacobian, taken with TensorFlow's vectorized backward pass (one
backward pass whose batch is the k scores), never k forward passes. Each class then gets the per-request
passes of an ordinary ``explain`` call with that pass already in them, so its map and its Explanation
are exactly those of ``explain(..., target=class)``. Other methods (guided rules, the multi-pass ones)
run once per class.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from explainers.errors import ParameterError
from explainers.methods import Method
from explainers.models import ExplainableModel
from explainers.passes import Passes, PassKey, PassResult

MAX_K = 10
DEFAULT_K = 3
#: the one answer, in the API, the CLI, the HTTP API and the service, to top k classes asked with a contrast
NOT_WITH_CONTRAST = (
    "A map shows either the top classes or 'why A and not B', not both at once: "
    "ask for the top classes or for a contrast class, not for both."
)

_functions: weakref.WeakKeyDictionary[Any, dict[tuple, Any]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def check_k(k: Any) -> int:
    """``k`` as an int from 1 to ``MAX_K``, or ParameterError in words."""
    try:
        value = int(k)
        if value != float(k):
            raise ValueError
    except (TypeError, ValueError):
        raise ParameterError(f"The number of top classes must be a whole number. Received: {k!r}.") from None
    if not 1 <= value <= MAX_K:
        raise ParameterError(f"The number of top classes must be between 1 and {MAX_K}. Received: {value}.")
    return value


def shared_key(method: Method, model: ExplainableModel, layer: str) -> PassKey | None:
    """The one plain pass that covers everything ``method`` needs, or None if it needs more (another
    ReLU rule, two layers) or its own batches (a multi-pass method needs only the target)."""
    keys = method.needs(model, layer)
    layers = {key.layer for key in keys if key.layer is not None}
    if any(key.relu != "plain" or key.also for key in keys) or len(layers) > 1:
        return None
    layer_grads = any(key.layer_grads for key in keys)
    input_grads = any(key.input_grads for key in keys)
    if not (layer_grads or input_grads):
        return None
    return PassKey(next(iter(layers), None), layer_grads, input_grads)


def jacobian_pass(model: ExplainableModel, key: PassKey):
    """A compiled function (one model input, k) -> the logits, the top k classes, the layer's
    activations and the k scores' gradients (to the layer and/or the input) from one forward pass."""
    with _lock:
        kept = _functions.setdefault(model, {})  # the functions hold the Keras model only: no cycle
        if key in kept:
            return kept[key]
        from explainers._tf import keras, tf

        net = model.keras
        probe = net if key.layer is None else keras.Model(net.inputs, [net.get_layer(key.layer).output, net.outputs[0]])

        def run(inputs, k):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(inputs)
                outputs = probe(inputs, training=False)
                activations, logits = (outputs[0], outputs[1]) if key.layer is not None else (None, outputs)
                classes = tf.math.top_k(logits[0], k).indices
                scores = tf.gather(logits[0], classes)
            sources = ([activations] if key.layer_grads else []) + ([inputs] if key.input_grads else [])
            # one backward pass whose batch is the k scores (pfor), not k backward passes
            grads = tape.jacobian(scores, sources, experimental_use_pfor=True)
            result = {"logits": logits, "classes": classes}
            if activations is not None:
                result["activations"] = activations
            if key.layer_grads:
                result["layer_grads"] = grads[0][:, 0]
            if key.input_grads:
                result["input_grads"] = grads[-1][:, 0]
            return result

        signature = [tf.TensorSpec([1, *net.input_shape[1:]], tf.float32), tf.TensorSpec([], tf.int32)]
        kept[key] = tf.function(run, input_signature=signature)
        return kept[key]


def top_k_passes(
    model: ExplainableModel,
    image: np.ndarray,
    method: Method,
    layer: str,
    k: int,
    progress: Callable[[float], None] | None = None,
) -> list[Passes]:
    """One ``Passes`` per top class, most probable first, each already holding its share of one
    Jacobian pass when ``method`` needs only a plain pass (``shared_key``); ``progress`` sees the
    fraction of all k maps done."""
    from explainers._tf import tf

    def share(rank: int):
        return None if progress is None else lambda f: progress((rank + f) / k)

    pictures = model.prepare(image)[None]
    inputs = model.preprocess(pictures)
    key = shared_key(method, model, layer)
    if key is None:
        from explainers.engine import engine_for

        logits = engine_for(model).forward(inputs)
        classes = np.argsort(-logits[0], kind="stable")[:k]
        return [
            Passes(model, inputs, np.array([c], np.int32), share(rank), pictures=pictures)
            for rank, c in enumerate(classes)
        ]
    out = jacobian_pass(model, key)(tf.convert_to_tensor(inputs, tf.float32), tf.constant(k, tf.int32))
    values = {name: value.numpy() for name, value in out.items()}
    found = []
    for rank, c in enumerate(values["classes"]):
        passes = GivenPasses(model, inputs, np.array([c], np.int32), share(rank), pictures=pictures)
        passes.give(
            key,
            PassResult(
                values["logits"],
                np.array([c], np.int32),
                activations=values.get("activations"),
                layer_grads=values["layer_grads"][rank : rank + 1] if key.layer_grads else None,
                input_grads=values["input_grads"][rank : rank + 1] if key.input_grads else None,
            ),
        )
        found.append(passes)
    return found


class GivenPasses(Passes):
    """Per-request passes that start with a pass computed elsewhere (a class's share of a Jacobian)."""

    def give(self, key: PassKey, result: PassResult) -> None:
        with self._lock:
            self._results[key] = result
            self.passes_run.append(key)
        self._remember(result.logits)


def explain_top_k(
    model: ExplainableModel,
    image: np.ndarray,
    method: str | Method = "grad_cam",
    k: int = DEFAULT_K,
    layer: str | None = None,
    progress: Callable[[float], None] | None = None,
    **params: Any,
) -> list:
    """The map of ``method`` for each of the model's top ``k`` classes (1..10), most probable first:
    a list of k Explanations, each equal to ``explain(model, image, method, target=that class)``.
    A ``contrast`` class is refused in words (``NOT_WITH_CONTRAST``): a row of differences against one
    class would read as a row of plain maps."""
    from explainers import api

    started = time.perf_counter()
    k = check_k(k)
    if params.pop("contrast", None) not in (None, ""):
        raise ParameterError(NOT_WITH_CONTRAST)
    instance = api._instantiate(model, method, params)
    layer = model.check_layer(layer)
    found = top_k_passes(model, image, instance, layer, k, progress)
    shared = (time.perf_counter() - started) / k
    explanations = [
        api._finish(model, instance, passes, layer, shared, {"top_k": k, "rank": rank + 1})
        for rank, passes in enumerate(found)
    ]
    if progress is not None:
        progress(1.0)
    return explanations


__all__ = [
    "DEFAULT_K",
    "MAX_K",
    "NOT_WITH_CONTRAST",
    "check_k",
    "explain_top_k",
    "jacobian_pass",
    "shared_key",
    "top_k_passes",
]
