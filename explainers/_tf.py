"""The one place that imports TensorFlow, so its environment is set before the import.

Every module of the core that needs TensorFlow imports ``tf`` and ``keras`` from here. On a GPU,
memory growth is switched on (TensorFlow otherwise grabs all GPU memory at start, and a second model
or worker would then fail); ``configure_devices()`` returns the device in use, in words.
"""

from __future__ import annotations

import os
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the CLI
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")  # growth even for GPUs seen before configure()
# The CPU's tensors from TensorFlow's pooling (BFC) allocator: malloc would hand a batch's gigabytes of
# activations back after every call and fault them in again on the next (docs/benchmarks.md); the pool
# keeps the largest chunk's peak and reuses it. Only processes importing TensorFlow through here use it.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

_configured = threading.Lock()
_device: str | None = None


def configure_devices() -> str:
    """Turn on GPU memory growth (once, before the first op) and return the device in use, in words."""
    global _device
    with _configured:
        if _device is None:
            gpus = tf.config.list_physical_devices("GPU")
            for gpu in gpus:
                try:
                    tf.config.experimental.set_memory_growth(gpu, True)
                except RuntimeError:  # the GPU was already initialised; the env var above covered it
                    pass
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                _device = f"GPU: {details.get('device_name', gpus[0].name)}" + (
                    f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else ""
                )
            else:
                _device = "CPU"
        return _device


__all__ = ["tf", "keras", "configure_devices"]
