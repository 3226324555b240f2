"""Forward/backward passes shared by every method: the per-request cache of passes, and the logits memo.

One *pass* runs a batch through the model once, optionally watching one layer, and optionally takes
one backward pass from the target logits to that layer's activations and/or to the input. Several
methods can share a pass: Grad-CAM needs the layer's gradients, vanilla gradient the input's, and one
backward pass yields both. A pass may also run with every ReLU's gradient replaced (guided
backpropagation, DeconvNet); the shared model is never changed for that (see ``explainers.engine``).

This module is plain numpy at import (no TensorFlow), so method metadata can be read by a process that
never computes; ``explainers.engine`` holds the compiled TensorFlow functions, ``explainers.pass_keys``
what a pass computes, and ``explainers.logits_memo`` a model's memo of logits (both re-exported here).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from explainers.logits_memo import LogitsMemo
from explainers.ops import probabilities
from explainers.pass_keys import TOP1, PassKey, PassResult

__all__ = ["TOP1", "PassKey", "PassResult", "LogitsMemo", "Passes"]

if TYPE_CHECKING:  # pragma: no cover
    from explainers.engine import Engine
    from explainers.models import ExplainableModel


class Passes:
    """The passes for one batch of inputs and targets; each computed at most once, then shared.

    Methods ask for what they need (``get``); ``prepare`` lets a caller that knows every method in
    advance (``explain_all``) merge the requests so that, for example, Grad-CAM's layer gradients and
    vanilla gradient's input gradients come out of a single backward pass.
    """

    def __init__(
        self,
        model: ExplainableModel,
        inputs: np.ndarray,
        targets: np.ndarray,
        progress: Callable[[float], None] | None = None,
        pictures: np.ndarray | None = None,
        preview: Callable[[np.ndarray], None] | None = None,
        engine: Engine | None = None,
    ):
        """``inputs``: the preprocessed batch; ``pictures``: the same batch as RGB uint8 before
        preprocessing (methods that blur, mask or perturb pixels need it); ``preview``: called with a
        partial map (H, W) as long methods go (the running average so far); ``engine``: the compiled
        passes to run (default: the model's, ``explainers.engine.engine_for``)."""
        if engine is None:
            from explainers.engine import engine_for  # TensorFlow: only once something computes

            engine = engine_for(model)
        self.model = model
        self.engine = engine
        self._progress = progress
        self._preview = preview
        self.pictures = pictures
        self.inputs = inputs
        self.targets = np.asarray(targets, np.int32)
        self._results: dict[PassKey, PassResult] = {}
        self._lock = threading.Lock()
        self.passes_run: list[PassKey] = []
        self._noted: dict[int, np.ndarray] = {}  # image index -> its logits, from a method's own batch
        self._recalled: np.ndarray | None | bool = (
            False  # the pictures' logits from the model's memo (False: not looked)
        )

    def prepare(self, keys: list[PassKey]) -> None:
        """Merge ``keys`` into as few passes as possible and run them.

        Per gradient rule: one pass per watched layer (with that layer's gradients if anyone wants
        them), and input gradients ride along on the first of those passes instead of costing a pass
        of their own. Another rule that wants only input gradients (guided Grad-CAM's guided
        backpropagation next to Grad-CAM and the gradients) rides along on the first plain pass too:
        its own backward pass from the same forward pass, one forward pass fewer.
        """
        plans: dict[str, list[PassKey]] = {}
        for relu in dict.fromkeys(key.relu for key in keys):
            group = [key for key in keys if key.relu == relu]
            layers = list(dict.fromkeys(key.layer for key in group if key.layer is not None))
            plan = [
                PassKey(layer, any(k.layer_grads for k in group if k.layer == layer), False, relu) for layer in layers
            ]
            if any(key.input_grads for key in group):
                if plan:
                    plan[0] = replace(plan[0], input_grads=True)
                else:
                    plan.append(PassKey(None, False, True, relu))
            plans[relu] = plan or [PassKey(relu=relu)]
        riders = [relu for relu, plan in plans.items() if relu != "plain" and all(key.layer is None for key in plan)]
        if "plain" in plans and riders and self.engine.shares_forward(riders):
            plans["plain"][0] = replace(plans["plain"][0], also=tuple(riders))
            for relu in riders:
                del plans[relu]
        for plan in plans.values():
            for key in plan:
                self.get(key)

    def get(self, key: PassKey) -> PassResult:
        """The result of a pass that covers ``key``, running one only if none has yet.

        Methods read only gradients and activations from it: where the engine can skip part of the
        forward pass for a pass without logits (``Engine.lean``) and the targets are known, it runs
        that one."""
        with self._lock:
            if key.logits and len(self.inputs) == 1 and (self._resolved_targets() >= 0).all() and self.engine.lean(key):
                key = replace(key, logits=False)
            for done, result in self._results.items():
                if done.covers(key):
                    return result if done.relu == key.relu else result.under(key.relu)
            result = self.engine.run(key, self.inputs, self._resolved_targets())
            self._results[key] = result
            self.passes_run.append(key)
        if result.logits is not None:
            self._remember(result.logits)
        return result

    def picture(self, index: int) -> Passes:
        """The passes of picture ``index`` alone, holding its rows of every pass run so far: several
        requests' pictures ran as one batch (``explainers.many_pictures``), each request's methods then
        read their own picture's share; a pass not run yet runs for this picture only."""
        pictures = None if self.pictures is None else self.pictures[index : index + 1]
        alone = Passes(
            self.model,
            self.inputs[index : index + 1],
            self._resolved_targets()[index : index + 1],
            pictures=pictures,
            engine=self.engine,
        )
        with self._lock:
            for key, result in self._results.items():
                alone._results[key] = result.row(index)
                alone.passes_run.append(key)
        return alone

    def _remember(self, logits: np.ndarray) -> None:
        """Keep the pictures' logits in the model's memo, for later requests on the same photos."""
        memo = getattr(self.model, "logits_memo", None)
        if memo is not None:
            memo.remember(self.inputs, logits)

    def _memo_logits(self) -> np.ndarray | None:
        """The pictures' logits as an earlier request's pass left them in the model's memo, else None
        (looked up once: hashing a picture costs about a millisecond)."""
        if self._recalled is False:
            memo = getattr(self.model, "logits_memo", None)
            self._recalled = None if memo is None else memo.recall(self.inputs)
        return self._recalled

    # ---- many samples at once (the multi-pass methods) ------------------------------------------
    def batch(
        self,
        key: PassKey,
        inputs: np.ndarray,
        targets: np.ndarray,
        field: str | tuple[str, ...] = "input_grads",
        progress: tuple[float, float] = (0.0, 1.0),
        chunk: int | None = None,
        on_chunk: Callable[[int, int, Any], None] | None = None,
    ) -> Any:
        """``field`` of a pass over many inputs, in chunks sized to memory (halved on out-of-memory).

        ``field`` may be a tuple of fields (say ``("input_grads", "logits")``): then a tuple of arrays
        comes back, one per field, from the same passes. Progress is reported as the span ``progress``
        (start, end) of this method's whole work, so a method made of several batches reports one
        steadily growing fraction. ``on_chunk(start, stop, values)`` sees each chunk's values as they
        arrive (methods build their running previews there).
        """
        from explainers.batching import run_in_chunks

        start, end = progress
        targets = np.broadcast_to(np.asarray(targets, np.int32), (len(inputs),))
        fields = (field,) if isinstance(field, str) else tuple(field)
        # XLA compiles once per batch shape: run a chunk as pieces whose sizes are powers of two (13 =
        # 8 + 4 + 1), so the compiled shapes stay few and no padding rows are computed for nothing
        gradients = key.layer_grads or key.input_grads
        pieces = self.engine.jit(batched=True, gradients=gradients)

        def compute(a: int, b: int):
            bounds = [a, b]
            if pieces:
                bounds, size = [a], b - a
                while size:
                    bounds.append(bounds[-1] + (1 << (size.bit_length() - 1)))
                    size = b - bounds[-1]
            parts = []
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                result = self.engine.run(key, inputs[lo:hi], np.ascontiguousarray(targets[lo:hi]), batched=True)
                parts.append([getattr(result, name) for name in fields])
            values = tuple(
                np.concatenate([part[i] for part in parts]) if len(parts) > 1 else parts[0][i]
                for i in range(len(fields))
            )
            return values[0] if isinstance(field, str) else values

        return run_in_chunks(
            compute,
            len(inputs),
            chunk or self.engine.chunk_size(forward=not gradients),
            progress=lambda f: self.report(start + (end - start) * f),
            on_chunk=on_chunk,
        )

    def covered_logits(
        self,
        picture: np.ndarray,
        inputs: np.ndarray,
        boxes: list[tuple[int, int]],
        size: tuple[int, int],
        target: int,
        progress: tuple[float, float] = (0.0, 1.0),
        on_chunk: Callable[[int, int, Any], None] | None = None,
    ) -> np.ndarray:
        """Logits of ``inputs``: copies of ``picture`` (one model input, H x W x C) where row r differs
        from it only inside the ``size`` box at ``boxes[r]`` = (top, left). Where the network begins
        with a chain of convolutions and poolings, each copy runs those layers on a crop around its box
        only, the whole picture's activations filling in the rest (``explainers.locality``); the
        logits are the same as full passes' (``batch``), up to float rounding."""
        from explainers.batching import default_chunk_size, run_in_chunks

        engine = self.engine
        plan = engine.local_plan(size, sorted({t for t, _ in boxes}), sorted({left for _, left in boxes}))
        if plan is None:
            return self.batch(PassKey(), inputs, target, field="logits", progress=progress, on_chunk=on_chunk)
        start, end = progress
        shape = picture.shape[:2]
        whole = engine.local_head(plan, picture[None])[0]
        (crop_h, crop_w), (stride_h, stride_w) = plan.crop, (plan.rows.stride, plan.cols.stride)

        def compute(a: int, b: int) -> np.ndarray:
            origins = [plan.origin(top, left, size, shape) for top, left in boxes[a:b]]
            crops = np.stack([inputs[row, y : y + crop_h, x : x + crop_w] for row, (y, x) in zip(range(a, b), origins)])
            changed = engine.local_head(plan, crops)
            pasted = np.repeat(whole[None], b - a, axis=0)
            for k, ((top, left), (y, x)) in enumerate(zip(boxes[a:b], origins)):
                (r0, r1), (c0, c1) = plan.paste(top, left, size)
                dy, dx = y // stride_h, x // stride_w
                pasted[k, r0 : r1 + 1, c0 : c1 + 1] = changed[k, r0 - dy : r1 - dy + 1, c0 - dx : c1 - dx + 1]
            return engine.local_tail(plan, pasted)

        return run_in_chunks(
            compute,
            len(inputs),
            default_chunk_size(forward=True),
            progress=lambda f: self.report(start + (end - start) * f),
            on_chunk=on_chunk,
        )

    def remembered_logits(
        self, inputs: np.ndarray, target: int, progress: tuple[float, float] = (0.0, 1.0)
    ) -> np.ndarray:
        """Logits of ``inputs`` that recur whatever the photo (a black or white baseline): a forward
        pass the first time, then recalled from the model's ``LogitsMemo`` (if it keeps one)."""

        def compute(rows: np.ndarray) -> np.ndarray:
            return self.batch(PassKey(), rows, target, field="logits", progress=progress)

        memo = getattr(self.model, "logits_memo", None)
        return compute(inputs) if memo is None else memo.logits(inputs, compute)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """The model's class probabilities for rows of its ``logits``, as it gives them: a softmax, or each
        class's own sigmoid for a multi-label model, so methods that read a class probability (LIME, RISE,
        Score-CAM) never couple a multi-label model's classes."""
        return probabilities(logits, getattr(self.model, "output_activation", "softmax"))

    def preprocess(self, pictures: np.ndarray) -> np.ndarray:
        """RGB (float or uint8, 0..255) pictures -> model inputs."""
        return self.model.preprocess(pictures)

    @property
    def wants_preview(self) -> bool:
        """True if someone shows partial maps (so methods need not compute them otherwise)."""
        return self._preview is not None

    def preview(self, heatmap: np.ndarray) -> None:
        """Show a partial map (H, W) of the work so far; the final map replaces it."""
        if self._preview is not None:
            self._preview(np.asarray(heatmap, np.float32))

    def report(self, fraction: float) -> None:
        """Tell whoever asked how far the work is (0..1). The callback may raise to stop the work
        (a cancel or a deadline); long methods call this between chunks."""
        if self._progress is not None:
            self._progress(fraction)

    def note_logits(self, index: int, logits: np.ndarray) -> None:
        """Keep image ``index``'s logits that a method's own batch computed (integrated gradients' path
        ends at the picture itself), so the predictions need no pass of their own."""
        self._noted[int(index)] = np.asarray(logits, np.float32)
        if len(self._noted) == len(self.inputs):
            self._remember(np.stack([self._noted[i] for i in range(len(self.inputs))]))

    def _resolved_targets(self) -> np.ndarray:
        """Once any pass has resolved "top-1", later passes explain the same classes."""
        for result in self._results.values():
            return result.targets.astype(np.int32)
        return self.targets

    @property
    def resolved_targets(self) -> np.ndarray:
        """The classes explained; a pass runs only if some target is still "top-1" and the pictures'
        logits are not in the model's memo."""
        if not self._results and (self.targets < 0).any():
            recalled = self._memo_logits()
            if recalled is None:
                self.get(PassKey())
            else:
                self.targets = np.where(self.targets < 0, recalled.argmax(-1), self.targets).astype(np.int32)
        return self._resolved_targets()

    @property
    def has_logits(self) -> bool:
        """True if the pictures' logits are known without running a pass (``logits`` is then free)."""
        return (
            any(result.logits is not None for result in self._results.values())
            or len(self._noted) == len(self.inputs)
            or self._memo_logits() is not None
        )

    @property
    def logits(self) -> np.ndarray:
        """(N, classes) for the pictures themselves: from any pass run so far, else from logits the
        methods noted for every picture, else from an earlier request's pass over the same pictures
        (the model's memo: the upload's pass, say), else from a forward pass run now."""
        for result in list(self._results.values()):
            if result.logits is not None:
                return result.logits
        if len(self._noted) == len(self.inputs):
            return np.stack([self._noted[i] for i in range(len(self.inputs))])
        recalled = self._memo_logits()
        return self.get(PassKey()).logits if recalled is None else recalled
