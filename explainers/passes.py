"""Forward/backward passes shared by every method: what a pass computes, and the per-request cache.

One *pass* runs a batch through the model once, optionally watching one layer, and optionally takes
one backward pass from the target logits to that layer's activations and/or to the input. Several
methods can share a pass: Grad-CAM needs the layer's gradients, vanilla gradient the input's, and one
backward pass yields both. A pass may also run with every ReLU's gradient replaced (guided
backpropagation, DeconvNet); the shared model is never changed for that (see ``explainers.engine``).

This module is plain numpy (no TensorFlow import), so method metadata can be read by a process that
never computes; ``explainers.engine`` holds the compiled TensorFlow functions.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from explainers.models import ExplainableModel

TOP1 = -1  # a target of -1 means "the model's top-1 prediction", resolved inside the pass


@dataclass(frozen=True)
class PassKey:
    """What one pass computes: watch ``layer`` (None: none), gradients wrt layer and/or input."""

    layer: str | None = None
    layer_grads: bool = False
    input_grads: bool = False
    relu: str = "plain"  # "plain", "guided" (Springenberg et al.) or "deconv" (Zeiler & Fergus)
    # other ReLU rules whose input gradients come out of this pass's forward pass too: a backward pass
    # each, with no forward pass of their own (the forward pass is the same whatever the rule)
    also: tuple[str, ...] = ()
    # False: a pass over one picture whose target is given, returning its gradients but not the logits,
    # so TensorFlow can leave out every part of the forward pass the backward pass never reads (see
    # ``Engine.lean``); the pictures' logits then come from another pass, if anyone reads them
    logits: bool = True

    def covers(self, other: "PassKey") -> bool:
        """True if this pass yields everything ``other`` asks for."""
        if other.logits and not self.logits:
            return False
        if self.relu != other.relu:
            return other.relu in self.also and other.layer is None and not other.layer_grads
        if other.layer is not None and other.layer != self.layer:
            return False
        if other.layer_grads and not (self.layer_grads and self.layer == other.layer):
            return False
        return self.input_grads or not other.input_grads


@dataclass
class PassResult:
    logits: np.ndarray | None  # (N, classes); None from a pass keyed ``logits=False``
    targets: np.ndarray  # (N,) int: the classes explained (top-1 resolved)
    activations: np.ndarray | None = None  # (N, h, w, k) at the watched layer
    layer_grads: np.ndarray | None = None  # d(target logit)/d(activations)
    input_grads: np.ndarray | None = None  # d(target logit)/d(preprocessed input), (N, H, W, 3)
    rule_input_grads: dict[str, np.ndarray] | None = None  # input gradients under the key's ``also`` rules

    def under(self, rule: str) -> "PassResult":
        """This pass as a pass of another ReLU rule of its ``also`` sees it: the same logits, that rule's
        input gradients."""
        return PassResult(self.logits, self.targets, input_grads=self.rule_input_grads[rule])


class LogitsMemo:
    """The logits of inputs already seen, recalled by their content.

    Two kinds of input recur. A few are the same whatever the photo: integrated gradients' black and
    white baselines, Score-CAM's black picture; with a memo their forward pass runs once per model
    instead of once per request. And the photo itself: the upload's pass computes its logits, and a
    later request on the same photo (integrated gradients' f(x), a card's top-5) recalls them instead
    of running its own forward pass. Rows are keyed by a hash of their bytes, so a row is recalled
    only if it is bit for bit the same input. At most ``size`` rows are kept (the least recently used
    go first; a row is 4 kB for 1000 classes). A model whose weights change in place (the trust
    checks' randomized copy) must not keep one: its logits would be stale.
    """

    def __init__(self, size: int = 256):
        self.size = size
        self._rows: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(row: np.ndarray) -> bytes:
        row = np.ascontiguousarray(row, np.float32)
        digest = hashlib.blake2b(str(row.shape).encode(), digest_size=16)
        digest.update(row.tobytes())
        return digest.digest()

    def _found(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        with self._lock:
            found = {key: self._rows[key] for key in keys if key in self._rows}
            for key in found:
                self._rows.move_to_end(key)
        return found

    def remember(self, inputs: np.ndarray, logits: np.ndarray) -> None:
        """Keep ``logits[i]`` as the logits of ``inputs[i]``."""
        self._store([self.key(row) for row in inputs], logits)

    def _store(self, keys: list[bytes], logits: np.ndarray) -> None:
        with self._lock:
            for key, value in zip(keys, logits):
                self._rows[key] = np.array(value, np.float32, copy=True)
                self._rows.move_to_end(key)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)

    def recall(self, inputs: np.ndarray) -> np.ndarray | None:
        """The logits of every row of ``inputs`` if all are known, else None."""
        keys = [self.key(row) for row in inputs]
        found = self._found(keys)
        return np.stack([found[key] for key in keys]) if len(found) == len(set(keys)) else None

    def logits(self, inputs: np.ndarray, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The logits of each row of ``inputs``: recalled, or from ``compute(rows)`` for the rows not
        seen before (one call for all of them)."""
        keys = [self.key(row) for row in inputs]
        found = self._found(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            fresh = np.asarray(compute(np.asarray(inputs)[missing]))
            self._store([keys[i] for i in missing], fresh)
            found.update((keys[i], np.asarray(value, np.float32)) for i, value in zip(missing, fresh))
        return np.stack([found[key] for key in keys])

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)


class Passes:
    """The passes for one batch of inputs and targets; each computed at most once, then shared.

    Methods ask for what they need (``get``); ``prepare`` lets a caller that knows every method in
    advance (``explain_all``) merge the requests so that, for example, Grad-CAM's layer gradients and
    vanilla gradient's input gradients come out of a single backward pass.
    """

    def __init__(self, model: "ExplainableModel", inputs: np.ndarray, targets: np.ndarray,
                 progress: Callable[[float], None] | None = None, pictures: np.ndarray | None = None,
                 preview: Callable[[np.ndarray], None] | None = None):
        """``inputs``: the preprocessed batch; ``pictures``: the same batch as RGB uint8 before
        preprocessing (methods that blur, mask or perturb pixels need it); ``preview``: called with a
        partial map (H, W) as long methods go (the running average so far)."""
        self.model = model
        self._progress = progress
        self._preview = preview
        self.pictures = pictures
        self.inputs = inputs
        self.targets = np.asarray(targets, np.int32)
        self._results: dict[PassKey, PassResult] = {}
        self._lock = threading.Lock()
        self.passes_run: list[PassKey] = []
        self._noted: dict[int, np.ndarray] = {}  # image index -> its logits, from a method's own batch
        self._recalled: np.ndarray | None | bool = False  # the pictures' logits from the model's memo (False: not looked)

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
            plan = [PassKey(layer, any(k.layer_grads for k in group if k.layer == layer), False, relu)
                    for layer in layers]
            if any(key.input_grads for key in group):
                if plan:
                    plan[0] = replace(plan[0], input_grads=True)
                else:
                    plan.append(PassKey(None, False, True, relu))
            plans[relu] = plan or [PassKey(relu=relu)]
        riders = [relu for relu, plan in plans.items()
                  if relu != "plain" and all(key.layer is None for key in plan)]
        if "plain" in plans and riders and self.model.engine.shares_forward(riders):
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
            if (key.logits and len(self.inputs) == 1 and (self._resolved_targets() >= 0).all()
                    and self.model.engine.lean(key)):
                key = replace(key, logits=False)
            for done, result in self._results.items():
                if done.covers(key):
                    return result if done.relu == key.relu else result.under(key.relu)
            result = self.model.engine.run(key, self.inputs, self._resolved_targets())
            self._results[key] = result
            self.passes_run.append(key)
        if result.logits is not None:
            self._remember(result.logits)
        return result

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
    def batch(self, key: PassKey, inputs: np.ndarray, targets: np.ndarray,
              field: str | tuple[str, ...] = "input_grads", progress: tuple[float, float] = (0.0, 1.0),
              chunk: int | None = None, on_chunk: Callable[[int, int, Any], None] | None = None) -> Any:
        """``field`` of a pass over many inputs, in chunks sized to memory (halved on out-of-memory).

        ``field`` may be a tuple of fields (say ``("input_grads", "logits")``): then a tuple of arrays
        comes back, one per field, from the same passes. Progress is reported as the span ``progress``
        (start, end) of this method's whole work, so a method made of several batches reports one
        steadily growing fraction. ``on_chunk(start, stop, values)`` sees each chunk's values as they
        arrive (methods build their running previews there).
        """
        from explainers.batching import default_chunk_size, run_in_chunks

        start, end = progress
        targets = np.broadcast_to(np.asarray(targets, np.int32), (len(inputs),))
        fields = (field,) if isinstance(field, str) else tuple(field)
        # XLA compiles once per batch shape: run a chunk as pieces whose sizes are powers of two (13 =
        # 8 + 4 + 1), so the compiled shapes stay few and no padding rows are computed for nothing
        gradients = key.layer_grads or key.input_grads
        pieces = self.model.engine.jit(batched=True, gradients=gradients)

        def compute(a: int, b: int):
            bounds = [a, b]
            if pieces:
                bounds, size = [a], b - a
                while size:
                    bounds.append(bounds[-1] + (1 << (size.bit_length() - 1)))
                    size = b - bounds[-1]
            parts = []
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                result = self.model.engine.run(key, inputs[lo:hi], np.ascontiguousarray(targets[lo:hi]), batched=True)
                parts.append([getattr(result, name) for name in fields])
            values = tuple(np.concatenate([part[i] for part in parts]) if len(parts) > 1 else parts[0][i]
                           for i in range(len(fields)))
            return values[0] if isinstance(field, str) else values

        return run_in_chunks(compute, len(inputs), chunk or default_chunk_size(forward=not gradients),
                             progress=lambda f: self.report(start + (end - start) * f), on_chunk=on_chunk)

    def covered_logits(self, picture: np.ndarray, inputs: np.ndarray, boxes: list[tuple[int, int]],
                       size: tuple[int, int], target: int, progress: tuple[float, float] = (0.0, 1.0),
                       on_chunk: Callable[[int, int, Any], None] | None = None) -> np.ndarray:
        """Logits of ``inputs``: copies of ``picture`` (one model input, H x W x C) where row r differs
        from it only inside the ``size`` box at ``boxes[r]`` = (top, left). Where the network begins
        with a chain of convolutions and poolings, each copy runs those layers on a crop around its box
        only, the whole picture's activations filling in the rest (``explainers.locality``); the
        logits are the same as full passes' (``batch``), up to float rounding."""
        from explainers.batching import default_chunk_size, run_in_chunks

        engine = self.model.engine
        plan = engine.local_plan(size, sorted({t for t, _ in boxes}), sorted({l for _, l in boxes}))
        if plan is None:
            return self.batch(PassKey(), inputs, target, field="logits", progress=progress, on_chunk=on_chunk)
        start, end = progress
        shape = picture.shape[:2]
        whole = engine.local_head(plan, picture[None])[0]
        (crop_h, crop_w), (stride_h, stride_w) = plan.crop, (plan.rows.stride, plan.cols.stride)

        def compute(a: int, b: int) -> np.ndarray:
            origins = [plan.origin(top, left, size, shape) for top, left in boxes[a:b]]
            crops = np.stack([inputs[row, y:y + crop_h, x:x + crop_w] for row, (y, x) in zip(range(a, b), origins)])
            changed = engine.local_head(plan, crops)
            pasted = np.repeat(whole[None], b - a, axis=0)
            for k, ((top, left), (y, x)) in enumerate(zip(boxes[a:b], origins)):
                (r0, r1), (c0, c1) = plan.paste(top, left, size)
                dy, dx = y // stride_h, x // stride_w
                pasted[k, r0:r1 + 1, c0:c1 + 1] = changed[k, r0 - dy:r1 - dy + 1, c0 - dx:c1 - dx + 1]
            return engine.local_tail(plan, pasted)

        return run_in_chunks(compute, len(inputs), default_chunk_size(forward=True),
                             progress=lambda f: self.report(start + (end - start) * f), on_chunk=on_chunk)

    def remembered_logits(self, inputs: np.ndarray, target: int,
                          progress: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
        """Logits of ``inputs`` that recur whatever the photo (a black or white baseline): a forward
        pass the first time, then recalled from the model's ``LogitsMemo`` (if it keeps one)."""
        def compute(rows: np.ndarray) -> np.ndarray:
            return self.batch(PassKey(), rows, target, field="logits", progress=progress)

        memo = getattr(self.model, "logits_memo", None)
        return compute(inputs) if memo is None else memo.logits(inputs, compute)

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
        return (any(result.logits is not None for result in self._results.values())
                or len(self._noted) == len(self.inputs) or self._memo_logits() is not None)

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
