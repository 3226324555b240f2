"""Which passes of a model compile with XLA and which run as plain TensorFlow graphs.

Three kinds of pass compile apart: the passes over one picture (Grad-CAM, the gradients, the default
view), the many-sample gradient batches (SmoothGrad's noisy copies, integrated gradients' path) and the
many-sample forward-only batches (occlusion's patches, RISE's masks, LIME's samples). Which way is
faster depends on the processor as much as on the model (docs/benchmarks.md), so a ``CompilePolicy``
starts from a guess per registry model, can be forced by ``EXPLAINERS_JIT``, and keeps what the
engine's timing (``Engine.autotune``) measured. Plain Python: no TensorFlow import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

ONE_PICTURE = "one_picture_passes"
GRADIENT_BATCHES = "gradient_batches"
FORWARD_BATCHES = "forward_batches"
KINDS = (ONE_PICTURE, GRADIENT_BATCHES, FORWARD_BATCHES)
#: the kinds timed both ways at start; forward-only batches stay graphs (no faster with XLA, see docs)
TUNED_KINDS = (ONE_PICTURE, GRADIENT_BATCHES)
JIT_ENV = "EXPLAINERS_JIT"  # "1": XLA for every kind, "0": graphs for every kind; unset: guess, then measure

# The guess until measured, per registry model: the kinds that start with XLA (docs/benchmarks.md)
GUESSES: dict[str, tuple[str, ...]] = {
    "vgg16": (ONE_PICTURE, GRADIENT_BATCHES),
    "resnet50": (GRADIENT_BATCHES,),
    "inception_v3": (GRADIENT_BATCHES,),
}


def forced_choice() -> bool | None:
    """XLA (True) or graphs (False) for every kind if ``EXPLAINERS_JIT`` says so, else None."""
    value = os.environ.get(JIT_ENV, "").strip().lower()
    return None if value not in {"0", "1"} else value == "1"


@dataclass
class CompilePolicy:
    """XLA or not per kind of pass (``xla``), whether ``EXPLAINERS_JIT`` fixed it (``forced``), and the
    seconds each way took where it was measured (``measured``: kind -> {XLA on?: seconds})."""

    xla: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(KINDS, False))
    forced: bool = False
    measured: dict[str, dict[bool, float]] = field(default_factory=dict)

    @classmethod
    def guess(cls, xla_kinds: tuple[str, ...] | list[str] = ()) -> CompilePolicy:
        """XLA for ``xla_kinds``, graphs for the others, unless ``EXPLAINERS_JIT`` forces one way."""
        unknown = set(xla_kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"Unknown kinds of pass: {sorted(unknown)}. Choose among: {', '.join(KINDS)}.")
        forced = forced_choice()
        if forced is not None:
            return cls(dict.fromkeys(KINDS, forced), forced=True)
        return cls({kind: kind in xla_kinds for kind in KINDS})

    @classmethod
    def for_model(cls, name: str) -> CompilePolicy:
        """The starting policy of a model called ``name``: the registry's guess, graphs for any other."""
        return cls.guess(GUESSES.get(name, ()))

    def copy(self) -> CompilePolicy:
        """The same choices, with nothing measured (for a copy of the model, say)."""
        return CompilePolicy(dict(self.xla), forced=self.forced)

    def uses_xla(self, batched: bool, gradients: bool = True) -> bool:
        """True if passes over one picture, or over many samples (``batched``) with or without
        ``gradients``, are compiled with XLA."""
        return self.xla[kind_of(batched, gradients)]

    def readiness(self, kind: str) -> dict[str, Any] | None:
        """What /readyz says of ``kind``'s measurement, or None if it was not measured."""
        seconds = self.measured.get(kind)
        if not seconds:
            return None
        return timing(seconds, self.xla[kind])


def kind_of(batched: bool, gradients: bool = True) -> str:
    """The kind of a pass: over one picture, or a batch of many samples with or without gradients."""
    if not batched:
        return ONE_PICTURE
    return GRADIENT_BATCHES if gradients else FORWARD_BATCHES


def timing(seconds: dict[bool, float], kept_xla: bool) -> dict[str, Any]:
    """One XLA-or-graph measurement as /readyz shows it."""
    return {
        "xla_seconds": round(seconds[True], 3),
        "graph_seconds": round(seconds[False], 3),
        "kept": "xla" if kept_xla else "graph",
    }
