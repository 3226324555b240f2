"""The layer sweep: one CAM-family map (Grad-CAM by default) at every block of a network, first to last.

Selvaraju et al. (2017, arXiv:1610.02391, section 6 and its figures of Grad-CAM at several layers)
show that the map sharpens towards the class as the layer goes deeper, and is finer but less about
the class early on. A sweep draws that as one strip. Every block's activations and gradients come
out of ONE forward and ONE backward pass: a model with every block's output as an extra output,
and one tape that takes the class score's gradient with respect to all of them at once.

Which layers are "blocks" (``sweep_layers``): the last convolution of each VGG16 block, the last
layer of each ResNet50 stage, InceptionV3's ``mixed`` blocks, and for any other model (Shapes, own
models) the last layer before each change of spatial size, and the last pickable layer.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explainers.errors import ParameterError
from explainers.methods import get_method
from explainers.methods.base import CamMethod, MethodCard
from explainers.models import ExplainableModel, LayerInfo, static_layers
from explainers.ops import upsample
from explainers.pass_keys import PassKey, PassResult

#: the blocks of the registry's ImageNet models, by name (the generic rule would also pick padding layers)
NAMED_BLOCKS: dict[str, tuple[str, ...]] = {
    "vgg16": ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"),
    "resnet50": ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
}
CARD = MethodCard(
    computes=(
        "Draws the same map (Grad-CAM by default) at every block of the network, from the first block to the "
        "last, in one strip. All maps come from one forward and one backward pass."
    ),
    colours=(
        "Each map has its own scale: bright regions of that block raise the class score, dark ones do not. "
        "Read the strip from left to right: the maps get coarser and more about the class as the blocks get "
        "deeper."
    ),
    pitfalls=(
        "Early blocks give fine but noisy maps that follow edges more than the class; their Grad-CAM is "
        "often nearly empty.",
        "The last block is the usual Grad-CAM map; the others are not better explanations, only other views.",
        "Each block's map is stretched from its own resolution (written under it) to the picture.",
    ),
    paper_url="https://arxiv.org/abs/1610.02391",
    good_for="Seeing where in the network the class evidence takes shape, block by block.",
)
_INCEPTION_BLOCK = re.compile(r"mixed\d+$")  # mixed0 … mixed10; mixed9_0, mixed9_1 are parts of a block


def blocks_of(name: str, layers: Sequence[LayerInfo]) -> list[str]:
    """The sweep's layers, first to last, for a model called ``name`` with pickable ``layers`` (in order)."""
    names = [info.name for info in layers]
    if name in NAMED_BLOCKS and all(block in names for block in NAMED_BLOCKS[name]):
        return list(NAMED_BLOCKS[name])
    if name == "inception_v3":
        return [layer for layer in names if _INCEPTION_BLOCK.match(layer)]
    blocks = [
        info.name
        for info, after in zip(layers, layers[1:], strict=False)
        if (info.height, info.width) != (after.height, after.width)
    ]
    return [*blocks, names[-1]]


def sweep_layers(model: ExplainableModel | str) -> list[str]:
    """The sweep's layers of a loaded model, or of a registry model by name (no TensorFlow then)."""
    if isinstance(model, str):
        return blocks_of(model, static_layers(model))
    return blocks_of(model.name, model.layers)


def sweep_methods() -> list[str]:
    """The methods a sweep can draw: the CAM family's gradient-weighted members (one hook each)."""
    from explainers.methods import METHODS

    return [name for name, cls in METHODS.items() if issubclass(cls, CamMethod)]


@dataclass
class Sweep:
    """One method at every block. ``heatmaps``: float32 (blocks, H, W) at the model's input size, each
    as that method's map at that layer would be; ``resolutions``: each block's (h, w)."""

    method: str
    model: str
    layers: list[str]
    heatmaps: np.ndarray
    resolutions: list[tuple[int, int]]
    target: int
    label: str
    meta: dict[str, Any] = field(default_factory=dict)


class _Recorded:
    """The one pass's results seen as the shared passes a CAM method reads (``passes.get``), per layer."""

    def __init__(self, model: ExplainableModel, results: dict[str, PassResult]):
        self.model = model
        self.results = results

    def get(self, key: PassKey) -> PassResult:
        return self.results[key.layer]


_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {layers: tf.function}
_LOCK = threading.Lock()


def _recording_pass(model: ExplainableModel, layers: tuple[str, ...]):
    """A compiled function (inputs, targets) -> (targets, [activations], [gradients]) for ``layers``:
    one forward pass through a model that also outputs every layer, one backward pass to all of them."""
    from explainers._tf import keras, tf

    with _LOCK:
        known = _FUNCTIONS.setdefault(model, {})
        if layers in known:
            return known[layers]
        net = model.keras
        recorder = keras.Model(net.inputs, [*(net.get_layer(name).output for name in layers), net.outputs[0]])
        height, width = model.input_shape

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, height, width, model.channels], tf.float32),
                tf.TensorSpec([None], tf.int32),
            ]
        )
        def run(inputs, targets):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(inputs)  # records the ops; the layers' outputs exist only once they run
                *activations, logits = recorder(inputs, training=False)
                chosen = tf.where(targets < 0, tf.argmax(logits, axis=-1, output_type=tf.int32), targets)
                score = tf.reduce_sum(tf.gather(logits, chosen, axis=1, batch_dims=1))
            return chosen, activations, tape.gradient(score, activations)

        known[layers] = run
        return run


def record(
    model: ExplainableModel, image: np.ndarray, layers: Sequence[str], target: int | str | None = None
) -> tuple[int, dict[str, PassResult]]:
    """(class explained, layer -> its activations and gradients) for ``image`` from one recording pass."""
    from explainers._tf import tf
    from explainers.passes import TOP1

    layers = tuple(model.check_layer(layer) for layer in layers)
    index = model.resolve_target(target)
    inputs = model.preprocess(model.prepare(image)[None]).astype(np.float32)
    targets = np.array([TOP1 if index is None else index], np.int32)
    chosen, activations, gradients = _recording_pass(model, layers)(
        tf.convert_to_tensor(inputs), tf.convert_to_tensor(targets)
    )
    chosen = chosen.numpy()
    results = {
        layer: PassResult(None, chosen, activations=a.numpy(), layer_grads=g.numpy())
        for layer, a, g in zip(layers, activations, gradients, strict=True)
    }
    return int(chosen[0]), results


def sweep(
    model: ExplainableModel,
    image: np.ndarray,
    method: str = "grad_cam",
    target: int | str | None = None,
    layers: Sequence[str] | None = None,
) -> Sweep:
    """``method`` (a CAM-family method: see ``sweep_methods``) at every block of ``model`` (or at
    ``layers``), from one forward and one backward pass. ``image``: RGB uint8 of any size;
    ``target``: a class index or label, default the top-1 class."""
    import time

    started = time.perf_counter()
    cls = get_method(method)
    if not issubclass(cls, CamMethod):
        raise ParameterError(
            f"The layer sweep draws the CAM-family methods: {', '.join(sweep_methods())}. Received: {method!r}."
        )
    instance = cls()
    layers = list(layers) if layers else sweep_layers(model)
    chosen, results = record(model, image, layers, target)
    recorded = _Recorded(model, results)
    heatmaps, resolutions = [], []
    for layer in layers:
        cam = instance.compute(recorded, layer).heatmap
        resolutions.append((int(cam.shape[1]), int(cam.shape[2])))
        heatmaps.append(upsample(cam, model.input_shape)[0])
    return Sweep(
        method=cls.name,
        model=model.name,
        layers=layers,
        heatmaps=np.stack(heatmaps).astype(np.float32),
        resolutions=resolutions,
        target=chosen,
        label=model.labels[chosen].name,
        meta={"seconds": time.perf_counter() - started, "weights": model.weights},
    )
