"""Attribution at a picked layer instead of the input pixels: gradient × activation, integrated and
expected gradients and SmoothGrad of the layer's activations, summed over its channels (the caller
upsamples the map to the picture).

Gradient × activation (Shrikumar et al. 2016, arXiv:1605.01713; Ancona et al. 2018, arXiv:1711.06104)
needs only the layer's activations and gradients from one shared pass. Integrated and expected
gradients at a layer walk in the layer's own space, from a baseline's activations a′ to the picture's
a, so they need "the rest of the network from the layer's activations": the model run on the picture
with that one layer's output replaced by a given tensor z (``rest_of_network``). Every later layer
still reads what it read before, so in a residual or concatenating network a shortcut that skips the
layer keeps the picture's own values; only what flows through the layer changes. Completeness then
holds at the layer: Σ attributions = f(x; a) − f(x; a′).

Plain numpy at import; TensorFlow is imported inside the functions that trace.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from explainers.errors import NotApplicableError
from explainers.ops import quadrature, spread_order
from explainers.passes import PassKey

#: where a method's attributions are taken: the input pixels, or the picked layer's activations
SOURCES = ("pixels", "layer")
SOURCE_HELP = "From: the pixels, or the picked layer's activations (summed over its channels)."

#: the seed's example: expected gradients from the input of VGG16's 7th layer. Counting Keras' layers
#: from 0 (the input layer), layers[7] is block3_conv1, whose input is the output of block2_pool.
SEED_EXAMPLE = {
    "model": "vgg16",
    "method": "expected_gradients",
    "layer": "block2_pool",
    "settings": {"source": "layer"},
    "top_k": 3,
}


def from_layer(settings: dict[str, Any]) -> bool:
    """True if a method's ``settings`` ask for attributions at the picked layer."""
    return settings.get("source") == "layer"


def gradient_times_activation(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Σ over channels of activation × gradient: (N, h, w, K) twice -> (N, h, w)."""
    return (activations * gradients).sum(axis=-1, dtype=np.float64).astype(np.float32)


# ---- the rest of the network from a layer's activations --------------------------------------------
_functions: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def rest_of_network(model: Any, layer: str):
    """A compiled function (x, z, targets) -> (logits, d logit[target] / dz): ``model`` (an
    ``ExplainableModel``) run on inputs ``x`` with ``layer``'s output replaced by ``z`` (batch N each).
    Traced once per (model, layer) and kept while the model lives (the function holds only its Keras
    model, so an unloaded model is freed)."""
    with _lock:
        found = _functions.setdefault(model, {}).get(layer)
        if found is not None:
            return found
        from keras.src.models.functional import operation_fn

        from explainers._tf import tf

        keras_model = model.keras
        # a Sequential model runs its layers through the functional graph it builds of them
        graph = getattr(keras_model, "_functional", None) or keras_model
        replaced = keras_model.get_layer(layer)
        # calls of the layer in this graph only: another graph built on the same layer objects adds its own
        in_graph = {id(node) for nodes in graph._nodes_by_depth.values() for node in nodes}
        if sum(1 for node in getattr(replaced, "_inbound_nodes", []) if id(node) in in_graph) > 1:
            raise NotApplicableError(
                f"The layer {layer!r} is used more than once in the network, so it cannot be "
                "replaced on its own; pick another layer."
            )
        shape = tuple(int(d) for d in replaced.output.shape[1:])

        def run(x, z, targets):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(z)

                def swap(op):
                    if op is replaced:
                        return lambda *args, **kwargs: z
                    return operation_fn(op, training=False)

                logits = graph._run_through_graph([x], operation_fn=swap)
                logits = logits[0] if isinstance(logits, (list, tuple)) else logits
                score = tf.reduce_sum(tf.gather(logits, targets, axis=1, batch_dims=1))
            return logits, tape.gradient(score, z)

        signature = [
            tf.TensorSpec([None, *keras_model.input_shape[1:]], tf.float32),
            tf.TensorSpec([None, *shape], tf.float32),
            tf.TensorSpec([None], tf.int32),
        ]
        found = _functions[model][layer] = tf.function(run, input_signature=signature)
        return found


def rest_gradients(passes, layer: str, x: np.ndarray, z: np.ndarray, target: int, span=(0.0, 1.0)):
    """(logits (N, classes), gradients (N, h, w, K)) of the network run on picture ``x`` (one model
    input) with ``layer``'s output replaced by each row of ``z``; in chunks, reporting progress."""
    from explainers._tf import tf
    from explainers.batching import default_chunk_size, run_in_chunks

    function = rest_of_network(passes.model, layer)
    start, end = span

    def compute(a: int, b: int):
        rows = tf.convert_to_tensor(np.repeat(x[None], b - a, axis=0), tf.float32)
        logits, grads = function(rows, tf.convert_to_tensor(z[a:b], tf.float32), tf.fill([b - a], int(target)))
        return logits.numpy(), grads.numpy()

    return run_in_chunks(
        compute,
        len(z),
        default_chunk_size(),
        progress=lambda f: passes.report(start + (end - start) * f),
    )


def layer_activations(passes, layer: str, pictures: np.ndarray, target: int) -> np.ndarray:
    """The ``layer``'s activations (N, h, w, K) for RGB ``pictures`` (N, H, W, 3, 0..255)."""
    inputs = passes.preprocess(np.asarray(pictures, np.float32))
    return passes.batch(PassKey(layer), inputs, target, field="activations")


def integrated_at_layer(
    passes, index: int, target: int, layer: str, baselines: list[np.ndarray], rule: str, steps: int, span
) -> tuple[np.ndarray, dict[str, Any]]:
    """Integrated gradients of picture ``index`` at ``layer``, from the activations of each baseline
    picture (RGB) to the picture's, averaged over baselines: (map (h, w), meta with the completeness
    error at the layer, |Σ attributions − (f(x; a) − f(x; a′))| / |f(x; a) − f(x; a′)|)."""
    x = passes.inputs[index]
    own = passes.get(PassKey(layer)).activations[index]
    starts = layer_activations(passes, layer, np.stack(baselines), target)
    nodes, weights = quadrature(rule, steps)
    order = spread_order(steps)
    nodes, weights = nodes[order].astype(np.float32), weights[order].astype(np.float32)
    maps, differences, totals = [], [], []
    width = (span[1] - span[0]) / len(starts)
    for i, start in enumerate(starts):
        difference = own - start
        path = start[None] + nodes[:, None, None, None] * difference[None]
        ends = np.stack([start, own])  # f(x; a′) and f(x; a): the completeness check's two scores
        logits, grads = rest_gradients(
            passes,
            layer,
            x,
            np.concatenate([path, ends]),
            target,
            (span[0] + i * width, span[0] + (i + 1) * width),
        )
        attributions = difference * np.tensordot(weights, grads[:steps], axes=1)
        maps.append(attributions)
        differences.append(float(logits[-1, target] - logits[-2, target]))
        totals.append(float(attributions.sum(dtype=np.float64)))
    difference = float(np.mean(differences))
    error = abs(float(np.mean(totals)) - difference) / max(abs(difference), 1e-12)
    attributions = np.mean(maps, axis=0)
    meta = {"completeness_error": error, "score_difference": difference, "source": "layer", "source_layer": layer}
    return attributions.sum(axis=-1), meta


def expected_at_layer(
    passes, index: int, target: int, layer: str, background: np.ndarray, chosen, alphas, span
) -> tuple[np.ndarray, dict[str, Any]]:
    """Expected gradients of picture ``index`` at ``layer``: the mean over samples of (a − a′) × the
    gradient at a′ + α(a − a′), with a′ the activations of background picture ``chosen[i]`` (RGB)
    and α = ``alphas[i]``: (map (h, w), meta)."""
    x = passes.inputs[index]
    own = passes.get(PassKey(layer)).activations[index]
    starts = layer_activations(passes, layer, background, target)
    alphas = np.asarray(alphas, np.float32).reshape(-1, 1, 1, 1)
    differences = own[None] - starts[chosen]
    _, grads = rest_gradients(passes, layer, x, starts[chosen] + alphas * differences, target, span)
    attributions = (differences * grads).mean(axis=0)
    return attributions.sum(axis=-1), {"source": "layer", "source_layer": layer}


__all__ = [
    "SEED_EXAMPLE",
    "SOURCES",
    "SOURCE_HELP",
    "expected_at_layer",
    "from_layer",
    "gradient_times_activation",
    "integrated_at_layer",
    "layer_activations",
    "rest_gradients",
    "rest_of_network",
]
