"""CNN Fixations' backtracking (Mopuri, Garg & Babu, arXiv:1708.06670): from one class neuron, the neurons
that contributed to it, layer by layer, down to the input pixels.

``plan_for(keras_model)`` reads a Keras functional model once into ``Step``s (the kernel variables, read live
at each map; windows, strides, offsets), in an order where every tensor's consumers come before its producer,
and refuses a layer it cannot trace back through (``NotApplicableError``). ``Plan.record`` runs the one
forward pass that returns every activation the steps read; ``backtrack`` then walks the steps for one
picture in plain numpy.

A *kept* set of a tensor is an array of flat indices into one picture's tensor (C order, channels last)
with a *contribution* each: how much that neuron added (activation × weight) to the kept neuron it was
kept for. A tensor read by several layers gets the union of what each kept (contributions added).

The rule at each kind of layer:

- dense: for each kept output j, every input i whose contribution aᵢ·Wᵢⱼ is positive (the paper's rule
  for fully connected layers); an input's contribution is the sum of its positive aᵢ·Wᵢⱼ over the kept j.
- convolution: for each kept output (y, x, k), the one input neuron (row, column and channel of its
  receptive field) whose contribution a·w to it is the largest, if positive (the paper's rule for
  convolutions: the maximum of the contributions over the 3-D receptive field). Biases are not inputs.
- max pooling: the position of the window's maximum (the neuron the output copied); global max pooling
  the same over the whole map.
- average pooling, global average pooling: every position of the window whose contribution a/n is
  positive (the window's weights are all 1/n, so: every position with a positive activation).
- addition (residual blocks): in each branch, the same neuron, if its activation (weight 1) is positive.
- concatenation: each kept channel goes to the branch it came from.
- zero padding, cropping: the same neuron, its coordinates shifted (neurons in the padding are dropped).
- batch normalisation, activations, dropout, identity, rescaling, flatten, reshape: the same neurons.

The paper keeps every neuron the rules select. Here at most ``limit`` neurons are kept per tensor: those
with the largest contributions (ties by position), so that networks as large as InceptionV3 are traced in
seconds; with a limit above what the rules select, nothing is dropped and the result is the paper's.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explainers.errors import NotApplicableError

#: Keras layers whose output neuron (y, x, c) is computed from the input neuron at the same place only
PASS_THROUGH = frozenset(
    {
        "BatchNormalization",
        "Activation",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "PReLU",
        "Dropout",
        "SpatialDropout2D",
        "GaussianDropout",
        "GaussianNoise",
        "AlphaDropout",
        "Identity",
        "ActivityRegularization",
        "Rescaling",
        "Flatten",
        "Reshape",
    }
)
WHOLE_VECTOR_ACTIVATIONS = frozenset({"softmax", "log_softmax"})  # mix every neuron: not traced through
CHUNK = 256  # kept neurons whose receptive fields are gathered at once (bounds the memory of one step)


@dataclass
class Step:
    """One layer application, as the backtracking needs it: which tensors it reads and writes (numbers
    into ``Plan.shapes``) and its numbers (kernel, window, strides, offsets)."""

    kind: str
    layer: str
    inputs: tuple[int, ...]
    output: int
    kernel: Any = None  # the layer's kernel variable (read live: weights may change in place) or an array
    window: tuple[int, int] = (1, 1)
    strides: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    pads: tuple[int, int] = (0, 0)  # (top, left) rows and columns before the first window starts


@dataclass
class Plan:
    """A model read for backtracking: steps from the output down, tensor shapes (one picture), which
    tensors to record, and the recording model (built on first use)."""

    steps: list[Step]
    shapes: list[tuple[int, ...]]
    input: int
    output: int
    recorded: list[int]
    tensors: list[Any] = field(repr=False, default_factory=list)
    keras_inputs: Any = field(repr=False, default=None)
    _recorder: Any = field(repr=False, default=None)

    def recorder(self):
        """The recording pass: a graph traced once (an eager call of a deep network pays Python's overhead
        on every layer), returning the recorded tensors and the logits."""
        from explainers._tf import keras, tf

        if self._recorder is None:
            outputs = [self.tensors[t] for t in self.recorded] + [self.tensors[self.output]]
            model = keras.Model(self.keras_inputs, outputs)
            signature = [tf.TensorSpec([None, *self.shapes[self.input]], tf.float32)]
            recorder = tf.function(lambda x: model(x, training=False), input_signature=signature)
            recorder.get_concrete_function()
            self._recorder = recorder
        return self._recorder

    def record(self, inputs: np.ndarray) -> tuple[dict[int, np.ndarray], np.ndarray]:
        """One forward pass of the batch ``inputs``: (tensor number -> its activations (N, ...), logits)."""
        values = self.recorder()(np.asarray(inputs, np.float32))
        values = [np.asarray(v) for v in values]
        return dict(zip(self.recorded, values[:-1])), values[-1]


def _same_padding(size: int, window: int, stride: int, dilation: int) -> int:
    """Rows TensorFlow adds before the first window for "same" padding (the smaller half of the total)."""
    span = (window - 1) * dilation + 1
    out = -(-size // stride)
    return max((out - 1) * stride + span - size, 0) // 2


def _window_step(kind: str, layer, inputs, output, shape, kernel=None) -> Step:
    config = layer.get_config()
    if config.get("data_format", "channels_last") != "channels_last":
        raise _refuse(layer, "it reads channels first")
    window = tuple(config.get("kernel_size") or config.get("pool_size"))
    strides = tuple(config.get("strides") or window)
    dilation = tuple(config.get("dilation_rate", (1, 1)))
    pads = (0, 0)
    if config.get("padding") == "same":
        pads = tuple(_same_padding(shape[i], window[i], strides[i], dilation[i]) for i in (0, 1))
    elif config.get("padding") != "valid":
        raise _refuse(layer, f"its padding is {config.get('padding')!r}")
    return Step(kind, layer.name, inputs, output, kernel, window, strides, dilation, pads)


def _refuse(layer, why: str = "") -> NotApplicableError:
    reason = f": {why}" if why else ""
    return NotApplicableError(
        f"CNN Fixations is not supported for layer {layer.name} (type {type(layer).__name__}){reason}. It can "
        f"trace back only through dense, convolution, pooling, batch normalisation, activation, dropout, "
        f"flatten, reshape, addition, concatenation, zero padding and cropping layers."
    )


def _step(layer, inputs: tuple[int, ...], output: int, shapes: list[tuple[int, ...]]) -> Step:
    """The step of one application of ``layer``, or NotApplicableError in plain words."""
    kind = type(layer).__name__
    shape = shapes[inputs[0]] if inputs else ()
    if kind == "Dense":
        if len(shape) != 1:
            raise _refuse(layer, "it is applied to a tensor with more than one axis")
        return Step("dense", layer.name, inputs, output, layer.kernel)
    if kind == "Conv2D":
        if layer.get_config().get("groups", 1) != 1:
            raise _refuse(layer, "it is a grouped convolution")
        return _window_step("conv", layer, inputs, output, shape, layer.kernel)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return _window_step("max_pool" if kind.startswith("Max") else "avg_pool", layer, inputs, output, shape)
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        if layer.get_config().get("data_format", "channels_last") != "channels_last":
            raise _refuse(layer, "it reads channels first")
        return Step("global_max" if "Max" in kind else "global_avg", layer.name, inputs, output)
    if kind in PASS_THROUGH:
        activation = getattr(getattr(layer, "activation", None), "__name__", "")
        if kind == "Activation" and activation in WHOLE_VECTOR_ACTIVATIONS:
            raise _refuse(layer, f"its activation {activation} mixes all neurons")
        if int(np.prod(shape)) != int(np.prod(shapes[output])):
            raise _refuse(layer, "its output has another number of neurons than its input")
        return Step("same", layer.name, inputs, output)
    if kind == "Add":
        if any(shapes[t] != shapes[output] for t in inputs):
            raise _refuse(layer, "it adds tensors of different shapes")
        return Step("add", layer.name, inputs, output)
    if kind == "Concatenate":
        rank = len(shapes[output])
        if layer.get_config().get("axis", -1) not in (-1, rank):
            raise _refuse(layer, "it joins along another axis than the channels")
        return Step("concat", layer.name, inputs, output)
    if kind in ("ZeroPadding2D", "Cropping2D"):
        config = layer.get_config()
        if config.get("data_format", "channels_last") != "channels_last":
            raise _refuse(layer, "it reads channels first")
        name = "padding" if kind == "ZeroPadding2D" else "cropping"
        (top, _), (left, _) = config[name]
        sign = 1 if kind == "ZeroPadding2D" else -1
        return Step("shift", layer.name, inputs, output, pads=(sign * top, sign * left))
    raise _refuse(layer)


def _read(net) -> Plan:
    """Walk ``net``'s graph from its first output down to its input, consumers before producers."""
    if len(net.inputs) != 1:
        raise NotApplicableError("CNN Fixations needs a model with one input picture.")
    numbers: dict[int, int] = {}
    tensors: list[Any] = []

    def number(tensor) -> int:
        if id(tensor) not in numbers:
            numbers[id(tensor)] = len(tensors)
            tensors.append(tensor)
        return numbers[id(tensor)]

    def producer(tensor):
        operation, node_index, _ = tensor._keras_history
        return operation, operation._inbound_nodes[node_index]

    start, output = net.inputs[0], net.outputs[0]
    # every node between input and output, and how many of them read each tensor
    readers: dict[int, int] = {}
    nodes: dict[int, tuple[Any, Any]] = {}
    stack = [output]
    while stack:
        tensor = stack.pop()
        if tensor is start:
            continue
        layer, node = producer(tensor)
        if id(node) in nodes:
            continue
        nodes[id(node)] = (layer, node)
        for t in node.input_tensors:
            readers[id(t)] = readers.get(id(t), 0) + 1
            stack.append(t)
    steps: list[Step] = []
    ready = [producer(output)]
    shapes: list[tuple[int, ...]] = []
    while ready:
        layer, node = ready.pop()
        if len(node.output_tensors) != 1:
            raise _refuse(layer, "it has several outputs")
        if hasattr(layer, "layers") and type(layer).__name__ != "InputLayer":
            raise _refuse(layer, "it is a model inside the model")
        out = number(node.output_tensors[0])
        ins = tuple(number(t) for t in node.input_tensors)
        while len(shapes) < len(tensors):
            shapes.append(tuple(int(d) for d in tensors[len(shapes)].shape[1:]))
        steps.append(_step(layer, ins, out, shapes))
        for t in node.input_tensors:
            readers[id(t)] -= 1
            if readers[id(t)] == 0 and t is not start:
                ready.append(producer(t))
    reads = {"dense", "conv", "max_pool", "avg_pool", "global_avg", "global_max", "add"}
    recorded = sorted({t for s in steps if s.kind in reads for t in s.inputs})
    return Plan(steps, shapes, number(start), number(output), recorded, tensors, start)


_plans: weakref.WeakKeyDictionary[Any, Plan] = weakref.WeakKeyDictionary()
_plans_lock = threading.Lock()


def plan_for(net) -> Plan:
    """The backtracking plan of Keras model ``net`` (read once, kept as long as the model lives)."""
    with _plans_lock:
        plan = _plans.get(net)
        if plan is None:
            plan = _plans[net] = _read(net)
    return plan


# ---- the rules (plain numpy, one picture) ----------------------------------------------------------
Kept = tuple[np.ndarray, np.ndarray]  # (flat indices int64, contributions float64)


def merge(parts: list[Kept]) -> Kept:
    """The union of kept sets, each neuron's contributions added."""
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0)
    index = np.concatenate([p[0] for p in parts]).astype(np.int64)
    score = np.concatenate([p[1] for p in parts]).astype(np.float64)
    unique, where = np.unique(index, return_inverse=True)
    total = np.zeros(len(unique))
    np.add.at(total, where, score)
    return unique, total


def cap(kept: Kept, limit: int) -> Kept:
    """The ``limit`` neurons with the largest contributions (ties: the lower index), in index order."""
    index, score = kept
    if len(index) <= limit:
        return kept
    chosen = np.sort(np.lexsort((index, -score))[:limit])
    return index[chosen], score[chosen]


def _take(kernel: Any, index: np.ndarray, axis: int, rows: np.ndarray | None = None) -> np.ndarray:
    """``kernel``'s slices ``index`` along ``axis`` (of its ``rows`` only, if given), copying only those:
    a dense kernel can be 400 MB."""
    if isinstance(kernel, np.ndarray):
        return np.take(kernel if rows is None else kernel[rows], index, axis=axis)
    from explainers._tf import tf

    return np.asarray(tf.gather(kernel if rows is None else tf.gather(kernel, rows), index, axis=axis))


def dense(a: np.ndarray, kernel: Any, kept: Kept) -> Kept:
    """Inputs with a positive contribution aᵢ·Wᵢⱼ to any kept output j; contributions summed over j."""
    index = np.flatnonzero(a)  # a zero activation contributes nothing (after a ReLU, most of them)
    weights = _take(kernel, kept[0], axis=1, rows=index)
    values = a[index].astype(np.float64)
    positive = np.maximum(weights, 0).sum(axis=1, dtype=np.float64)
    negative = positive - weights.sum(axis=1, dtype=np.float64)  # the sum of -w over the negative w
    score = np.where(values > 0, values * positive, -values * negative)
    found = score > 0
    return index[found], score[found]


def _windows(step: Step, rows: np.ndarray, cols: np.ndarray, size: tuple[int, int]):
    """Input rows (n, kh) and columns (n, kw) each kept output's window reads, and whether each is inside."""
    (kh, kw), (sh, sw), (dh, dw), (pt, pl) = step.window, step.strides, step.dilation, step.pads
    r = rows[:, None] * sh - pt + np.arange(kh) * dh
    c = cols[:, None] * sw - pl + np.arange(kw) * dw
    return r, c, (r >= 0) & (r < size[0]), (c >= 0) & (c < size[1])


def conv(a: np.ndarray, step: Step, out_shape: tuple[int, ...], kept: Kept) -> Kept:
    """For each kept output, its receptive field's input neuron with the largest positive contribution a·w."""
    height, width, channels = a.shape
    used, which = np.unique(kept[0] % out_shape[-1], return_inverse=True)
    kernels = np.moveaxis(_take(step.kernel, used, axis=3), -1, 0)  # (kept channels, kh, kw, in channels)
    parts = []
    for lo in range(0, len(kept[0]), CHUNK):
        index = kept[0][lo : lo + CHUNK]
        y, x, _ = np.unravel_index(index, out_shape)
        r, c, r_in, c_in = _windows(step, y, x, (height, width))
        patch = a[np.clip(r, 0, height - 1)[:, :, None], np.clip(c, 0, width - 1)[:, None, :], :]
        patch = patch * (r_in[:, :, None] & c_in[:, None, :])[..., None]
        contribution = (patch * kernels[which[lo : lo + CHUNK]]).reshape(len(index), -1)
        best = contribution.argmax(axis=1)
        value = contribution[np.arange(len(index)), best]
        dy, dx, ch = np.unravel_index(best, (*step.window, channels))
        rows, cols = r[np.arange(len(index)), dy], c[np.arange(len(index)), dx]
        keep = value > 0
        parts.append((np.ravel_multi_index((rows[keep], cols[keep], ch[keep]), a.shape), value[keep]))
    return merge(parts)


def pool(a: np.ndarray, step: Step, out_shape: tuple[int, ...], kept: Kept) -> Kept:
    """Max pooling: the window's maximum (its contribution passed on); average: the positive positions."""
    height, width, _ = a.shape
    y, x, k = np.unravel_index(kept[0], out_shape)
    r, c, r_in, c_in = _windows(step, y, x, (height, width))
    inside = r_in[:, :, None] & c_in[:, None, :]
    rows = np.broadcast_to(np.clip(r, 0, height - 1)[:, :, None], inside.shape)
    cols = np.broadcast_to(np.clip(c, 0, width - 1)[:, None, :], inside.shape)
    values = a[rows, cols, k[:, None, None]].astype(np.float64)
    n = len(kept[0])
    if step.kind == "max_pool":
        best = np.where(inside, values, -np.inf).reshape(n, -1).argmax(axis=1)
        rows, cols = rows.reshape(n, -1)[np.arange(n), best], cols.reshape(n, -1)[np.arange(n), best]
        return merge([(np.ravel_multi_index((rows, cols, k), a.shape), kept[1])])
    share = np.where(inside, values, 0.0) / inside.sum(axis=(1, 2), keepdims=True)  # padding is not counted
    keep = share > 0
    channels = np.broadcast_to(k[:, None, None], inside.shape)
    return merge([(np.ravel_multi_index((rows[keep], cols[keep], channels[keep]), a.shape), share[keep])])


def global_pool(a: np.ndarray, kind: str, kept: Kept) -> Kept:
    """Global max pooling: the map's maximum; global average: every position with a positive activation."""
    height, width, channels = a.shape
    k = kept[0] % channels
    maps = a.reshape(height * width, channels)[:, k].astype(np.float64)  # (positions, kept)
    if kind == "global_max":
        return merge([(maps.argmax(axis=0) * channels + k, kept[1])])
    share = maps / (height * width)
    position, column = np.nonzero(share > 0)
    return merge([(position * channels + k[column], share[position, column])])


def add(arrays: list[np.ndarray], kept: Kept) -> list[Kept]:
    """Each branch keeps the kept neurons where its own activation (its contribution, weight 1) is positive."""
    parts = []
    for a in arrays:
        value = a.reshape(-1)[kept[0]].astype(np.float64)
        parts.append((kept[0][value > 0], value[value > 0]))
    return parts


def concat(shapes: list[tuple[int, ...]], out_shape: tuple[int, ...], kept: Kept) -> list[Kept]:
    """Each kept channel goes to the branch it came from, at the same position."""
    position, channel = np.divmod(kept[0], out_shape[-1])
    parts, offset = [], 0
    for shape in shapes:
        inside = (channel >= offset) & (channel < offset + shape[-1])
        parts.append((position[inside] * shape[-1] + channel[inside] - offset, kept[1][inside]))
        offset += shape[-1]
    return parts


def shift(in_shape: tuple[int, ...], out_shape: tuple[int, ...], pads: tuple[int, int], kept: Kept) -> Kept:
    """Zero padding (``pads`` = rows, columns added before) or cropping (negative): the same neuron, moved."""
    y, x, k = np.unravel_index(kept[0], out_shape)
    y, x = y - pads[0], x - pads[1]
    inside = (y >= 0) & (y < in_shape[0]) & (x >= 0) & (x < in_shape[1])
    return np.ravel_multi_index((y[inside], x[inside], k[inside]), in_shape), kept[1][inside]


def backtrack(plan: Plan, activations: dict[int, np.ndarray], target: int, limit: int) -> tuple[np.ndarray, ...]:
    """The fixations of one picture for class ``target``: (points (P, 2) as (row, column) of the input,
    their contributions (P,), largest first; kept neurons per layer {layer: count}).

    ``activations``: tensor number -> that picture's activations (no batch axis), for ``plan.recorded``.
    """
    pending: dict[int, list[Kept]] = {plan.output: [(np.array([target], np.int64), np.ones(1))]}
    counts: dict[str, int] = {}
    for step in plan.steps:
        kept = cap(merge(pending.pop(step.output, [])), limit)
        counts[step.layer] = len(kept[0])
        if not len(kept[0]):
            continue
        out_shape = plan.shapes[step.output]
        first = step.inputs[0]
        if step.kind == "dense":
            found = [dense(activations[first], step.kernel, kept)]
        elif step.kind == "conv":
            found = [conv(activations[first], step, out_shape, kept)]
        elif step.kind in ("max_pool", "avg_pool"):
            found = [pool(activations[first], step, out_shape, kept)]
        elif step.kind in ("global_max", "global_avg"):
            found = [global_pool(activations[first], step.kind, kept)]
        elif step.kind == "add":
            found = add([activations[t] for t in step.inputs], kept)
        elif step.kind == "concat":
            found = concat([plan.shapes[t] for t in step.inputs], out_shape, kept)
        elif step.kind == "shift":
            found = [shift(plan.shapes[first], out_shape, step.pads, kept)]
        else:  # "same": the neuron at the same flat index
            found = [kept]
        for tensor, part in zip(step.inputs, found):
            pending.setdefault(tensor, []).append(part)
    index, score = cap(merge(pending.pop(plan.input, [])), limit)
    rows, cols, _ = np.unravel_index(index, plan.shapes[plan.input])
    pixels, score = merge([(rows * plan.shapes[plan.input][1] + cols, score)])
    order = np.lexsort((pixels, -score))
    points = np.stack(np.divmod(pixels[order], plan.shapes[plan.input][1]), axis=1).astype(np.int64)
    return points, score[order], counts
