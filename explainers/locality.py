"""Forward passes over pictures that differ from one picture only inside a box (occlusion's patches).

A convolution or pooling layer's output at a position depends only on a window of its input, so the
first layers of a network give the covered picture the same activations as the whole picture
everywhere except near the box. When the network begins with a plain chain of such layers (VGG16's
blocks, the stems of ResNet50 and InceptionV3), each covered copy needs those layers only on a crop
around its box: the crop's activations are pasted into the whole picture's, and the rest of the
network runs as usual. The result is the same as the full pass (up to float rounding), for a
fraction of the work.

The geometry, along each axis: after a chain of layers, output cell ``j`` depends exactly on the
inputs ``stride * j - pad`` to ``stride * j - pad + field - 1`` (positions outside the picture are
the layers' zero padding). A crop whose origin is a multiple of ``stride`` computes, for every cell
whose window lies inside it (or reaches past a border of the picture that the crop also touches),
exactly the value of the full pass. Only layers whose window is the same everywhere are accepted:
convolutions and poolings with "valid" padding, or "same" padding at stride 1 (TensorFlow pads a
strided "same" layer by an amount that depends on its input's size), explicit zero padding, and
layers that act on each position alone (activations, inference-time batch normalisation).

Which layer to stop the chain at is chosen by counting multiply-adds: per copy, the crop's share of
the chain's work, the rest of the network, and a share of the chain's one run on the whole picture,
against a full pass; a chain is used only if it saves at least a tenth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# below this estimated cost (a fraction of one full pass per covered copy) the crops are worth it
WORTH = 0.9


@dataclass(frozen=True)
class Axis:
    """Along one axis, output cell j depends on inputs [stride*j - pad, stride*j - pad + field)."""

    stride: int = 1
    pad: int = 0
    field: int = 1

    def then(self, stride: int, pad: int, kernel: int) -> Axis:
        """This chain followed by a layer whose cell j reads its input [stride*j - pad, ... + kernel)."""
        return Axis(self.stride * stride, self.stride * pad + self.pad, self.stride * (kernel - 1) + self.field)

    def changed(self, start: int, size: int, cells: int) -> tuple[int, int]:
        """The output cells [first, last] whose window meets inputs [start, start + size)."""
        first = -((self.field - 1 - self.pad - start) // self.stride)  # ceil((start - field + 1 + pad) / stride)
        last = (start + size - 1 + self.pad) // self.stride
        return max(0, first), min(cells - 1, last)

    def needed(self, cells: tuple[int, int], length: int) -> tuple[int, int]:
        """The inputs [lo, hi) those cells read, within a picture of ``length`` pixels."""
        first, last = cells
        return max(0, self.stride * first - self.pad), min(length, self.stride * last - self.pad + self.field)


@dataclass(frozen=True)
class Plan:
    """Reuse the whole picture's activations after ``layers`` (the first ``len(layers)`` layers of the
    network after its input), computing them for each covered copy on a ``crop`` (height, width)."""

    layer: str
    count: int  # how many layers after the input layer form the chain
    rows: Axis
    cols: Axis
    crop: tuple[int, int]
    cells: tuple[int, int]  # the chain's output size (rows, cols) on the whole picture
    cost: float  # estimated work per covered copy, as a fraction of a full pass

    def origin(self, top: int, left: int, size: tuple[int, int], picture: tuple[int, int]) -> tuple[int, int]:
        """Where the crop for a box at (top, left) of ``size`` starts in the picture."""
        return tuple(
            _origin(axis, start, extent, length, cells, crop)
            for axis, start, extent, length, cells, crop in zip(
                (self.rows, self.cols), (top, left), size, picture, self.cells, self.crop
            )
        )

    def paste(self, top: int, left: int, size: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """The chain's output cells, ([row0, row1], [col0, col1]), that a box changes."""
        return (self.rows.changed(top, size[0], self.cells[0]), self.cols.changed(left, size[1], self.cells[1]))


def _origin(axis: Axis, start: int, extent: int, length: int, cells: int, crop: int) -> int:
    lo, _ = axis.needed(axis.changed(start, extent, cells), length)
    return min(lo // axis.stride * axis.stride, length - crop)


def _crop_length(axis: Axis, starts: Sequence[int], extent: int, length: int, cells: int) -> int:
    """The smallest crop, the same for every box, whose origin stays a multiple of the stride."""
    widest = 0
    for start in starts:
        lo, hi = axis.needed(axis.changed(start, extent, cells), length)
        widest = max(widest, hi - lo // axis.stride * axis.stride)
    # a crop flush with the far border starts at length - crop: keep that a multiple of the stride too
    crop = widest + (length - widest) % axis.stride
    return min(length, crop)


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


def _window(layer: Any) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
    """(stride, pad, kernel) per axis for a layer whose output at a position depends on a fixed
    window of its input; None for any other layer."""
    from explainers._tf import keras

    layers = keras.layers
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return None
    if isinstance(layer, layers.InputLayer):
        return (1, 0, 1), (1, 0, 1)
    if isinstance(
        layer, (layers.Activation, layers.ReLU, layers.LeakyReLU, layers.ELU, layers.Dropout, layers.Identity)
    ):
        return (1, 0, 1), (1, 0, 1)
    if isinstance(layer, layers.BatchNormalization):
        return ((1, 0, 1), (1, 0, 1)) if layer.axis in (-1, 3, [-1], [3]) else None
    if isinstance(layer, layers.ZeroPadding2D):
        (top, _), (left, _) = layer.padding
        return (1, int(top), 1), (1, int(left), 1)
    if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D)):
        if isinstance(layer, layers.Conv2DTranspose) or _pair(layer.dilation_rate) != (1, 1):
            return None
        kernel, strides, padding = _pair(layer.kernel_size), _pair(layer.strides), layer.padding
    elif isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D)):
        kernel, strides, padding = _pair(layer.pool_size), _pair(layer.strides), layer.padding
    else:
        return None
    if padding == "valid":
        return tuple((s, 0, k) for s, k in zip(strides, kernel))
    if padding == "same" and strides == (1, 1):
        return tuple((1, (k - 1) // 2, k) for k in kernel)
    return None


def _multiply_adds(layer: Any) -> float:
    """Rough multiply-adds of one sample through ``layer`` (convolutions and dense layers; the rest
    are cheap next to them)."""
    from explainers._tf import keras

    layers = keras.layers
    try:
        out = layer.output.shape
    except (AttributeError, ValueError):
        return 0.0
    if isinstance(layer, layers.SeparableConv2D):
        kh, kw = _pair(layer.kernel_size)
        cin = layer.input.shape[-1]
        return float(
            out[1] * out[2] * (kh * kw * cin * layer.depth_multiplier + cin * layer.depth_multiplier * out[-1])
        )
    if isinstance(layer, layers.DepthwiseConv2D):
        kh, kw = _pair(layer.kernel_size)
        return float(out[1] * out[2] * out[-1] * kh * kw)
    if isinstance(layer, layers.Conv2D):
        kh, kw = _pair(layer.kernel_size)
        return float(out[1] * out[2] * out[-1] * kh * kw * layer.input.shape[-1] / max(1, layer.groups))
    if isinstance(layer, layers.Dense):
        return float(layer.input.shape[-1] * out[-1])
    if hasattr(layer, "layers"):
        return sum(_multiply_adds(inner) for inner in layer.layers)
    return 0.0


def chain(net: Any) -> list[Any]:
    """The network's first layers that form a plain chain of window layers, from its one input on:
    each takes only the previous one's output, and that output goes nowhere else."""
    if len(net.inputs) != 1 or len(net.outputs) != 1:
        return []
    layers = list(net.layers)
    found: list[Any] = []
    previous = None
    for layer in layers:
        if _window(layer) is None or len(getattr(layer, "_inbound_nodes", [])) != 1:
            break
        if previous is None:
            if not hasattr(layer, "output") or layer.output is not net.inputs[0]:
                break
        else:
            if len(getattr(previous, "_outbound_nodes", [])) != 1 or layer.input is not previous.output:
                break
        found.append(layer)
        previous = layer
    return found


def plan(net: Any, size: tuple[int, int], tops: Sequence[int], lefts: Sequence[int]) -> Plan | None:
    """The cheapest way to run copies of one picture each covered by a ``size`` box at every
    (top, left) of ``tops`` x ``lefts``; None if a full pass per copy is as cheap."""
    layers = chain(net)
    if len(layers) < 2:
        return None
    height, width = int(net.input_shape[1]), int(net.input_shape[2])
    total = _multiply_adds(net)
    if total <= 0:
        return None
    copies = max(1, len(tops) * len(lefts))
    rows = cols = Axis()
    spent = 0.0
    best: Plan | None = None
    for count, layer in enumerate(layers[1:], start=1):
        (rs, rp, rk), (cs, cp, ck) = _window(layer)
        rows, cols = rows.then(rs, rp, rk), cols.then(cs, cp, ck)
        spent += _multiply_adds(layer)
        shape = layer.output.shape
        if len(shape) != 4 or shape[1] is None or shape[2] is None:
            break
        cells = (int(shape[1]), int(shape[2]))
        crop = (
            _crop_length(rows, tops, size[0], height, cells[0]),
            _crop_length(cols, lefts, size[1], width, cells[1]),
        )
        # per copy: the chain on its crop, the rest in full, and a share of the chain on the whole picture
        cost = (spent * crop[0] * crop[1] / (height * width) + (total - spent) + spent / copies) / total
        if cost < WORTH and (best is None or cost < best.cost):
            best = Plan(layer.name, count, rows, cols, crop, cells, cost)
    return best
