"""Running many samples through a model in chunks sized to memory.

Multi-sample methods (SmoothGrad, integrated gradients, occlusion, ...) call ``run_in_chunks``: it
feeds ``chunk`` samples at a time, reports progress after each chunk (where a cancel or a deadline
stops the work), and when a chunk runs out of memory it halves the chunk and tries that part again,
so peak memory stays bounded by the chunk size rather than by the number of samples.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from explainers.errors import ExplainerError

log = logging.getLogger(__name__)
# samples per chunk on a CPU: about as fast as 16, half the memory, a partial map twice as often (docs/benchmarks.md)
CPU_CHUNK = 8
# forward-only batches keep no activations for a backward pass: a bigger chunk is cheap, ran faster (docs/benchmarks.md)
CPU_FORWARD_CHUNK = 16
# TensorFlow's pool a gradient chunk may grow on a CPU: the pool keeps it for the process's life (docs/performance.md)
CPU_GRADIENT_CHUNK_BYTES = 1024 * 1024 * 1024
# a backward pass's pool per sample, over its largest feature map's bytes: measured 13-21 on the ImageNet models
BACKWARD_BYTES_PER_LARGEST_MAP_BYTE = 16


def is_out_of_memory(error: BaseException) -> bool:
    """True for Python's MemoryError and TensorFlow's ResourceExhaustedError (an OOM on CPU or GPU)."""
    return isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError"


def default_chunk_size(sample_bytes: int | None = None, forward: bool = False) -> int:
    """Samples per chunk. On a CPU a fixed size, smaller for gradients where a chunk's pool would pass
    ``CPU_GRADIENT_CHUNK_BYTES``; on a GPU, what a quarter of its free memory holds.

    ``sample_bytes`` is a rough cost of one sample's backward pass through the model
    (``backward_sample_bytes``; None: a generic 224-pixel guess); a wrong guess only costs speed,
    because an OOM halves the chunk and retries. ``forward``: the batch runs forward only (no backward
    pass), which keeps no activations, so a sample is counted at a quarter of that.
    """
    from explainers._tf import tf

    known = sample_bytes is not None
    sample_bytes = int(sample_bytes) if known else 224 * 224 * 3 * 4 * 60
    gpus = tf.config.list_logical_devices("GPU")
    if not gpus:
        if forward:
            return CPU_FORWARD_CHUNK
        fits = CPU_GRADIENT_CHUNK_BYTES // max(1, sample_bytes) if known else CPU_CHUNK
        return 1 << (max(1, min(CPU_CHUNK, fits)).bit_length() - 1)  # a power of two: one compiled shape
    if forward:
        sample_bytes = max(1, sample_bytes // 4)
    try:
        info = tf.config.experimental.get_memory_info(gpus[0].name)
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        total = int(details.get("memory_limit", 0)) or 8 * 1024**3
        free = max(total - int(info.get("current", 0)), total // 4)
    except (ValueError, RuntimeError, IndexError):
        return CPU_FORWARD_CHUNK if forward else CPU_CHUNK
    return int(max(1, min(256, free // 4 // sample_bytes)))


_sample_bytes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def backward_sample_bytes(keras_model: Any) -> int:
    """A rough cost in bytes of one sample's backward pass through ``keras_model``: a multiple of its
    largest feature map, whose convolution's backward pass dominates TensorFlow's pool."""
    if keras_model in _sample_bytes:
        return _sample_bytes[keras_model]
    largest = 1
    for layer in keras_model.layers:
        try:
            shape = tuple(layer.output.shape)[1:]
        except (AttributeError, ValueError):  # several outputs or none
            continue
        if shape and all(isinstance(d, int) for d in shape):
            largest = max(largest, int(np.prod(shape)))
    estimate = largest * 4 * BACKWARD_BYTES_PER_LARGEST_MAP_BYTE
    _sample_bytes[keras_model] = estimate
    return estimate


def run_in_chunks(
    compute: Callable[[int, int], Any],
    total: int,
    chunk: int,
    progress: Callable[[float], None] | None = None,
    on_chunk: Callable[[int, int, Any], None] | None = None,
) -> Any:
    """``compute(start, stop)`` for consecutive slices of ``range(total)``, concatenated on axis 0.

    ``compute`` returns an array, or a tuple of arrays (several results of the same samples): then
    each is concatenated on its own and a tuple comes back.

    On an out-of-memory error the chunk is halved and the same slice tried again (down to one sample,
    after which the error is a plain ExplainerError). After each chunk, ``on_chunk(start, stop, values)``
    sees its values (for running previews), then ``progress`` gets the fraction done.
    """
    if total <= 0:
        raise ValueError(f"total must be positive. Received: {total}.")
    size = max(1, int(chunk))
    parts: list[np.ndarray] = []
    start = 0
    while start < total:
        stop = min(total, start + size)
        try:
            part = compute(start, stop)
            part = tuple(np.asarray(p) for p in part) if isinstance(part, tuple) else np.asarray(part)
        except Exception as error:  # noqa: BLE001 - only out-of-memory is handled here
            if not is_out_of_memory(error):
                raise
            if size == 1:
                raise ExplainerError(
                    "The server does not have enough memory for even one sample of this "
                    "method. Try a smaller model or fewer methods at once."
                ) from error
            size = max(1, size // 2)
            log.warning("out of memory with %d samples per chunk; retrying with %d", stop - start, size)
            continue
        parts.append(part)
        if on_chunk is not None:
            on_chunk(start, stop, part)
        start = stop
        if progress is not None:
            progress(start / total)
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate([part[i] for part in parts], axis=0) for i in range(len(parts[0])))
    return np.concatenate(parts, axis=0)


#: rows of a lazily made array held at once by ``weighted_sum``: beyond it the sum runs in blocks
SUM_BLOCK_BYTES = 256 * 1024 * 1024


class LazyRows:
    """An array of ``count`` rows that exist only a slice at a time: ``rows[a:b]`` calls ``make(a, b)``.

    Passed as the inputs of a batch of passes (which only take ``len`` and slices), it keeps thousands
    of perturbed copies of a picture from being built at once: each chunk is made when its pass runs.
    """

    def __init__(self, count: int, make: Callable[[int, int], np.ndarray]):
        self.count, self.make = int(count), make

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, rows: slice | tuple) -> np.ndarray:
        """``rows[a:b]``: rows a..b-1; ``rows[i, ...]``: part of row i (e.g. a crop: ``rows[i, y0:y1, x0:x1]``)."""
        if isinstance(rows, tuple) and rows and isinstance(rows[0], (int, np.integer)):
            row = int(rows[0]) % self.count
            return self.make(row, row + 1)[(0, *rows[1:])]
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError("LazyRows are read in contiguous slices or one row at a time only.")
        start, stop, _ = rows.indices(self.count)
        return self.make(start, stop)


def weighted_sum(weights: np.ndarray, rows: Any, block_bytes: int = SUM_BLOCK_BYTES) -> np.ndarray:
    """``sum_i weights[i] * rows[i]`` over lazily made ``rows`` (anything with ``len`` and slices), in
    blocks of at most ``block_bytes``; one block (a single ``np.tensordot``, bit for bit) when it fits."""
    first = np.asarray(rows[0:1])
    per_row = max(1, first.nbytes)
    block = max(1, block_bytes // per_row)
    total = None
    for start in range(0, len(rows), block):
        stop = min(len(rows), start + block)
        part = np.tensordot(weights[start:stop], rows[start:stop], axes=1)
        total = part if total is None else total + part
    return total
