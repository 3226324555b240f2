"""Turning the Keras image classifiers people train into one flat functional model that outputs scores.

What people train rarely looks like ``keras.applications(classifier_activation=None)``: a base network
nested inside a ``Sequential`` (transfer learning), a softmax or sigmoid at the end, augmentation
layers at the front, one output unit for a yes/no question. ``adapt`` rebuilds such a model as one
functional graph whose every layer (inner ones included) can be watched, that stops before the final
softmax or sigmoid, and that has at least two outputs.

Why rebuilt from fresh layers: a Keras layer called in two graphs answers ``layer.output`` with the
tensor of the first graph it was called in, so a model built from the original layers and asked for an
inner layer's output mixes the two graphs ("Graph disconnected"). Each layer is therefore re-made from
its config and given the original's weights; the new graph owns its layers alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explainers.errors import ModelFileError

#: augmentation layers that change nothing at inference; dropped from the rebuilt graph (RandomCrop is
#: kept: it crops at inference too)
_AUGMENTATION_KEPT = {"RandomCrop"}
#: layers that are the identity at inference, dropped too (CAM then sees its dense layer right after pooling)
_INFERENCE_IDENTITY = {"Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout"}
_FLATTENING = {"Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Reshape", "GlobalAveragePooling1D"}


@dataclass
class Adapted:
    """The rebuilt model and what its output means (``explaining``, in words; ``binary``: one unit widened;
    ``activation``: how its scores become probabilities, "sigmoid" for a multi-label model)."""

    keras: Any
    explaining: str
    binary: bool
    activation: str = "softmax"


def check_image_input(keras_model: Any) -> tuple[int, int, int]:
    """(height, width, channels) of the model's one image input; ModelFileError in words otherwise."""
    try:
        inputs = keras_model.inputs
    except (AttributeError, ValueError):  # a Sequential model never built
        inputs = None
    if not inputs:
        raise ModelFileError("The model has no input yet: build it (call it once, or give it an Input) and save it.")
    if len(inputs) != 1:
        raise ModelFileError(f"The model takes {len(inputs)} inputs; only models with one picture as input work here.")
    shape = tuple(inputs[0].shape)
    if len(shape) == 2:
        raise ModelFileError(
            f"The model's input is a vector of {shape[1]} numbers, not a picture: only image classifiers "
            f"(input height × width × channels) can be explained here."
        )
    if len(shape) == 5:
        raise ModelFileError(
            f"The model's input is a video or a 3-D volume {shape[1:]}: only 2-D image classifiers "
            f"(height × width × channels) can be explained here."
        )
    if len(shape) != 4:
        raise ModelFileError(
            f"The model's input has shape {shape[1:]}; only pictures (height × width × channels) work here."
        )
    height, width, channels = shape[1:]
    if height is None or width is None:
        raise ModelFileError(
            "The model accepts pictures of any size, so it is not known what size to show it: save it with a "
            "fixed input size, e.g. keras.Input(shape=(224, 224, 3))."
        )
    if channels not in (1, 3):
        raise ModelFileError(
            f"The model expects pictures with {channels} channels; only colour (3) or grey (1) pictures work here."
        )
    return int(height), int(width), int(channels)


def _fresh(layer: Any, **changes: Any) -> Any:
    """A new layer like ``layer`` (its config with ``changes``), not yet built."""
    return type(layer).from_config({**layer.get_config(), **changes})


def _fresh_lambda(layer: Any) -> Any:
    """A Lambda layer with the same function (its config would need Keras's unsafe mode to be read back).
    Only models from Python, or an admin's folder with safe mode off, get this far with one."""
    from explainers._tf import keras

    return keras.layers.Lambda(
        layer.function, output_shape=layer._output_shape, mask=layer.mask, arguments=layer.arguments, name=layer.name
    )


def _is_model(layer: Any) -> bool:
    from explainers._tf import keras

    return isinstance(layer, keras.Model)


def _is_functional(layer: Any) -> bool:
    """A functional model: one whose graph of operations can be run through (a subclassed one has none)."""
    return hasattr(layer, "_run_through_graph")


def _flat_call(layer: Any, args: tuple, kwargs: dict, made: list) -> Any:
    """Call ``layer`` (or, for a nested model, each of its layers in turn) on symbolic tensors, with
    fresh layers; ``made`` collects (fresh layer, original layer) to copy the weights once built."""
    from explainers._tf import keras

    if isinstance(layer, keras.Sequential):
        x = args[0]
        for inner in layer.layers:
            x = _flat_call(inner, (x,), {}, made)
        return x
    if _is_model(layer) and not _is_functional(layer):
        raise ModelFileError(
            f"The model {layer.name!r} is a subclassed Keras model (its own Python class with a call method), "
            f"whose layers cannot be followed one by one; build it as a functional or Sequential model."
        )
    if _is_model(layer):  # functional: its own graph, each operation called flat in turn
        inputs = args[0] if len(args) == 1 else list(args)
        outputs = layer._run_through_graph(inputs, operation_fn=lambda op: lambda *a, **k: _flat_call(op, a, k, made))
        return outputs[0] if isinstance(outputs, (list, tuple)) and len(outputs) == 1 else outputs
    kind = type(layer).__name__
    if kind == "InputLayer":
        return args[0]
    if (kind.startswith("Random") and kind not in _AUGMENTATION_KEPT) or kind in _INFERENCE_IDENTITY:
        return args[0]  # data augmentation, dropout, noise: the identity at inference
    try:
        fresh = _fresh_lambda(layer) if isinstance(layer, keras.layers.Lambda) else _fresh(layer)
    except Exception as error:  # noqa: BLE001 - any layer that cannot be re-made from its config
        raise ModelFileError(
            f"The layer {layer.name!r} ({kind}) cannot be rebuilt from its settings, so the model cannot be "
            f"explained here ({_short(error)})."
        ) from None
    kwargs = {k: v for k, v in kwargs.items() if k not in {"training", "mask"}}
    out = fresh(*args, **kwargs)
    made.append((fresh, layer))
    return out


WIDENED_HEAD = "not_and_yes"  # the layer that shows a single output unit as two classes
#: the scores [−z/2, z/2] as a matrix: a layer's weights times this give the two classes' weights
WIDENING = ((-0.5, 0.5),)

LAMBDA_MESSAGE = (
    "This model contains a Lambda layer, which could run arbitrary code; save it without Lambda layers, "
    "or ask the admin to add it to the model folder."
)


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:200] + ("…" if len(text) > 200 else "")


def _producer(tensor: Any) -> tuple[Any, Any]:
    """(the layer that made ``tensor``, that layer's input tensor) in a symbolic graph."""
    history = tensor._keras_history
    node = history.operation._inbound_nodes[history.node_index]
    return history.operation, node.input_tensors[0] if node.input_tensors else None


def adapt(keras_model: Any) -> Adapted:
    """``keras_model`` rebuilt flat, ending in scores before any softmax/sigmoid, with ≥ 2 outputs.

    A single output unit (a binary classifier, sigmoid or not) becomes two scores [−z/2, z/2]: their
    softmax is [1 − σ(z), σ(z)], exactly the model's own probabilities for "not X" and "X", and the map
    of "not X" is the mirror of the map of "X" (evidence for one is evidence against the other). [0, z]
    would give the same probabilities, but a constant score for "not X", hence a blank map.
    """
    from explainers._tf import keras

    height, width, channels = check_image_input(keras_model)
    outputs = keras_model.outputs
    if len(outputs) != 1 or len(outputs[0].shape) != 2:
        raise ModelFileError(
            "The model must give one list of class scores (one output of shape (classes,)); "
            f"it gives {len(outputs)} output(s) of shape {', '.join(str(tuple(o.shape[1:])) for o in outputs)}."
        )
    made: list = []
    x = keras.Input(shape=(height, width, channels), name=keras_model.inputs[0].name or "picture")
    try:
        out = _flat_call(keras_model, (x,), {}, made)
    except ModelFileError:
        raise
    except Exception as error:  # noqa: BLE001 - a graph this code does not know how to open
        raise ModelFileError(f"The model's layers could not be put together again ({_short(error)}).") from None
    explaining, stripped = "the logits", None
    last, before = _producer(out)
    activation = getattr(last, "activation", None)
    if isinstance(last, keras.layers.Softmax) or (
        type(last).__name__ == "Activation" and activation in (keras.activations.softmax, keras.activations.sigmoid)
    ):
        out = before
        stripped = "softmax" if isinstance(last, keras.layers.Softmax) else activation.__name__
        explaining = f"the score before {stripped}"
    elif activation in (keras.activations.softmax, keras.activations.sigmoid):
        original = next(orig for fresh, orig in made if fresh is last)
        linear = _fresh(original, activation="linear")
        out = linear(before)
        made.append((linear, original))
        stripped = activation.__name__
        explaining = f"the score before {stripped}"
    for fresh, original in made:
        if fresh.weights or original.weights:
            fresh.set_weights(original.get_weights())
            if hasattr(fresh, "finalize_state"):  # an adapted Normalization reads its statistics here
                fresh.finalize_state()
    binary = int(out.shape[-1]) == 1
    if binary:
        out = keras.layers.Concatenate(name=WIDENED_HEAD)(
            [keras.layers.Rescaling(-0.5, name="not_score")(out), keras.layers.Rescaling(0.5, name="yes_score")(out)]
        )
        explaining += " (one output unit, shown as two classes)"
    try:
        rebuilt = keras.Model(x, out, name=keras_model.name)
    except ValueError as error:
        raise ModelFileError(
            f"Once the inner models are opened, the model's layers cannot form one network ({_short(error)}). "
            f"Give every layer, inner ones included, its own name."
        ) from None
    # one sigmoid unit widened to two scores has its probabilities as their softmax; several are multi-label
    return Adapted(rebuilt, explaining, binary, "sigmoid" if stripped == "sigmoid" and not binary else "softmax")


def _output_shape(layer: Any) -> tuple | None:
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None


def recommended_layer(keras_model: Any) -> str:
    """The last layer with a spatial output of at least 2 × 2 before the model pools or flattens it.

    Deep layers see whole objects, but below 2 × 2 a map cannot point anywhere; this is the layer
    Grad-CAM's authors use (the last convolutional block). ModelFileError if there is none."""
    chosen = None
    for layer in keras_model.layers:
        if type(layer).__name__ in _FLATTENING:
            break
        shape = _output_shape(layer)
        if type(layer).__name__ == "InputLayer" or shape is None or len(shape) != 4:
            continue
        if shape[1] >= 2 and shape[2] >= 2:
            chosen = layer.name
    if chosen is None:
        raise ModelFileError(
            "The model has no image-shaped layer (height × width × channels, at least 2 × 2) to explain: "
            "maps need a convolutional network."
        )
    return chosen


def widened_layer(keras_model: Any) -> Any | None:
    """The layer whose single unit ``adapt`` widened into two scores (times WIDENING), or None."""
    last, _ = _producer(keras_model.outputs[0])
    if type(last).__name__ != "Concatenate" or last.name != WIDENED_HEAD:
        return None
    return _producer(_producer(last._inbound_nodes[0].input_tensors[1])[1])[0]


def cam_applicable(keras_model: Any) -> str | None:
    """None if the model ends in global average pooling + one Dense layer (what CAM needs); else why not."""
    from explainers._tf import keras

    last, before = _producer(keras_model.outputs[0])
    widened = widened_layer(keras_model)
    if widened is not None:  # one unit z shown as [−z/2, z/2]: the dense layer under it
        last, before = _producer(widened.output)
    if not isinstance(last, keras.layers.Dense):
        return f"the model's last layer is {type(last).__name__}, not one dense layer"
    pool, _ = _producer(before)
    if not isinstance(pool, keras.layers.GlobalAveragePooling2D):
        return f"its dense layer follows {type(pool).__name__}, not global average pooling"
    return None
