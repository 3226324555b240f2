"""The TensorFlow side of the passes: compiled functions per (model, layer, gradients, ReLU rule).

Each kind of pass is a ``tf.function`` traced once per model: the batch dimension is left open in the
input signature, so any batch size reuses the same trace. A model may compile its one-picture passes
and its many-sample batches differently, and among those the gradient batches (SmoothGrad's noisy
copies, integrated gradients' path) and the forward-only ones (occlusion's patches, RISE's masks,
LIME's samples): XLA was measured faster for the gradient batches of all three ImageNet models, for
the one-picture passes of VGG16 only, and not for forward-only batches (``benchmarks/batches.py``,
``benchmarks/speed.py``). Guided backpropagation and DeconvNet swap every ReLU's gradient only while
their function is traced (see ``_relu_override``), so the shared model itself never changes.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from explainers._tf import keras, tf
from explainers.passes import TOP1, PassKey, PassResult

if TYPE_CHECKING:  # pragma: no cover
    from explainers.models import ExplainableModel


@contextmanager
def _relu_override(model, rule: str) -> Iterator[None]:
    """Temporarily give every ReLU activation of ``model`` another gradient rule.

    Only used while a function is being *traced* (under the model's lock): the traced graph keeps the
    replacement, the model's layers get their own activation back right after. "guided": pass a
    gradient only where both the forward input and the incoming gradient are positive (Springenberg
    et al. 2015); "deconv": pass the positive part of the incoming gradient whatever the forward input
    was (Zeiler & Fergus 2014).
    """
    if rule == "plain":
        yield
        return
    relu = keras.activations.relu

    @tf.custom_gradient
    def replacement(x):
        def grad(upstream):
            if rule == "guided":
                return upstream * tf.cast(x > 0, upstream.dtype) * tf.cast(upstream > 0, upstream.dtype)
            return tf.nn.relu(upstream)

        return tf.nn.relu(x), grad

    swapped = []
    for layer in _walk_layers(model):
        if getattr(layer, "activation", None) is relu:
            object.__setattr__(layer, "activation", replacement)
            swapped.append(layer)
        elif isinstance(layer, keras.layers.ReLU):
            raise NotImplementedError("ReLU layers of class keras.layers.ReLU are not supported by guided methods")
    try:
        yield
    finally:
        for layer in swapped:
            object.__setattr__(layer, "activation", relu)


def _walk_layers(model) -> Iterator:
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _walk_layers(layer)


class Engine:
    """The compiled passes of one model; thread-safe, traced lazily, reused across requests."""

    def __init__(self, model: "ExplainableModel"):
        self.model = model
        override = os.environ.get("EXPLAINERS_JIT", "").strip().lower()
        # XLA where it was measured to help (see benchmarks/speed.py); EXPLAINERS_JIT=0/1 overrides all three
        forced = None if override not in {"0", "1"} else override == "1"
        self.jit_forced = forced is not None
        self.jit_compile = model.jit_compile if forced is None else forced  # one-picture passes
        self.jit_batches = model.jit_batches if forced is None else forced  # many-sample gradient batches
        self.jit_forward = model.jit_forward if forced is None else forced  # many-sample forward-only batches
        self._functions: dict[tuple[PassKey, bool], tf.types.experimental.GenericFunction] = {}
        self._submodels: dict[str | None, keras.Model] = {}
        self._plans: dict[tuple, object] = {}  # (box size, box rows, box columns) -> locality.Plan or None
        self._local: dict[str, tuple] = {}  # chain's last layer -> (chain function, rest-of-network function)
        # occluded copies reuse the whole picture's first layers (see explainers/locality.py); =0 turns it off
        self.reuse_layers = os.environ.get("EXPLAINERS_LOCAL", "").strip() != "0"
        self.trace_count: dict[tuple[PassKey, bool], int] = {}  # (pass, XLA) -> traces
        size = model.input_size
        self._signature = [tf.TensorSpec([None, size, size, 3], tf.float32), tf.TensorSpec([None], tf.int32)]

    def _submodel(self, layer: str | None):
        if layer not in self._submodels:
            net = self.model.keras
            if layer is None:
                self._submodels[layer] = net
            else:
                self._submodels[layer] = keras.Model(net.inputs, [net.get_layer(layer).output, net.outputs[0]])
        return self._submodels[layer]

    def jit(self, batched: bool, gradients: bool = True) -> bool:
        """True if passes over one picture, or over many samples (``batched``) with or without
        ``gradients``, are compiled with XLA."""
        if not batched:
            return self.jit_compile
        return self.jit_batches if gradients else self.jit_forward

    def function(self, key: PassKey, batched: bool = False):
        """The compiled function for ``key`` (traced on first use, under the model's lock)."""
        slot = (key, self.jit(batched, key.layer_grads or key.input_grads))
        fn = self._functions.get(slot)
        if fn is not None:
            return fn
        with self.model.lock:
            fn = self._functions.get(slot)
            if fn is None:
                fn = tf.function(self._make_pass(slot), input_signature=self._signature, jit_compile=slot[1])
                with _relu_override(self.model.keras, key.relu):
                    fn.get_concrete_function()  # trace now, while the override is in place
                self._functions[slot] = fn
        return fn

    def _make_pass(self, slot: tuple[PassKey, bool]):
        key = slot[0]
        submodel = self._submodel(key.layer)
        wants_grads = key.layer_grads or key.input_grads

        def run(inputs, targets):
            self.trace_count[slot] = self.trace_count.get(slot, 0) + 1  # Python side effect: counts traces
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                # Watch the input even for layer gradients only: the tape records an op only if one
                # of its inputs is watched when it runs, and the layer's output exists only afterwards.
                tape.watch(inputs)
                outputs = submodel(inputs, training=False)
                activations, logits = (outputs[0], outputs[1]) if key.layer is not None else (None, outputs)
                top = tf.argmax(logits, axis=-1, output_type=tf.int32)
                chosen = tf.where(targets < 0, top, targets)
                score = tf.reduce_sum(tf.gather(logits, chosen, axis=1, batch_dims=1))
            result = {"logits": logits, "targets": chosen}
            if activations is not None:
                result["activations"] = activations
            if wants_grads:
                sources = ([activations] if key.layer_grads else []) + ([inputs] if key.input_grads else [])
                grads = tape.gradient(score, sources)
                if key.layer_grads:
                    result["layer_grads"] = grads[0]
                if key.input_grads:
                    result["input_grads"] = grads[-1]
            return result

        return run

    def run(self, key: PassKey, inputs: np.ndarray, targets: np.ndarray, batched: bool = False) -> PassResult:
        """One pass over ``inputs``; ``batched``: they are many samples of one method (see ``jit``)."""
        fn = self.function(key, batched)
        out = fn(tf.convert_to_tensor(inputs, tf.float32), tf.convert_to_tensor(targets, tf.int32))
        return PassResult(**{name: value.numpy() for name, value in out.items()})

    def warm_batches(self, size: int, forward_size: int | None = None) -> list[PassKey]:
        """Prepare now the many-sample passes that multi-pass methods use: XLA compiles once per batch
        shape (tens of seconds for VGG16 on a CPU), which the first SmoothGrad or integrated-gradients
        request would otherwise wait for, so an XLA kind is run once on a full chunk of ``size``
        samples (forward-only ones on ``forward_size``, if given); a graph-mode kind (forward-only
        batches, by default) is only traced, as its batch dimension is open. Returns the passes warmed."""
        keys = [PassKey(None, input_grads=True), PassKey()]  # gradients (SmoothGrad, IG), scores (occlusion, ...)
        for key in keys:
            if self.jit(batched=True, gradients=key.input_grads):
                n = size if key.input_grads or forward_size is None else forward_size
                inputs = np.zeros((n, self.model.input_size, self.model.input_size, 3), np.float32)
                self.run(key, inputs, np.zeros(n, np.int32), batched=True)
            else:
                self.function(key, batched=True)
        return keys

    def tune_batches(self, size: int, rounds: int = 2,
                     timer: Callable[[Callable[[], object]], float] | None = None) -> dict[bool, float]:
        """Time a chunk of ``size`` input gradients (SmoothGrad's and integrated gradients' pass) with
        XLA and in graph mode, and keep the faster for this model's gradient batches.

        Which is faster depends on the machine, not only the model: on an AMD EPYC VGG16's 16 input
        gradients took 10.8 s with XLA and 13.3 s without, on an Intel Xeon with AMX 7.57 s and 6.31 s
        (``benchmarks/batches.py``). So the server measures it at start instead of trusting a table.
        Each way runs once untimed (XLA compiles, graph mode traces), then the best of ``rounds``
        timed runs counts. Nothing changes when ``EXPLAINERS_JIT`` forces a choice. ``timer(run)``
        returns the seconds ``run()`` took (tests pass their own). Returns {XLA on?: seconds}."""
        if self.jit_forced:
            return {}
        timer = timer or _seconds
        key = PassKey(None, input_grads=True)
        side = self.model.input_size
        pixels = np.random.default_rng(0).integers(0, 256, (size, side, side, 3)).astype(np.float32)
        inputs, targets = self.model.preprocess(pixels), np.zeros(size, np.int32)
        seconds: dict[bool, float] = {}
        original = self.jit_batches
        try:
            for jit in (original, not original):
                self.jit_batches = jit
                self.run(key, inputs, targets, batched=True)  # compile or trace
                seconds[jit] = min(timer(lambda: self.run(key, inputs, targets, batched=True)) for _ in range(rounds))
        finally:
            self.jit_batches = min(seconds, key=seconds.get) if len(seconds) == 2 else original
        return seconds

    # ---- copies of one picture that differ only inside a box (occlusion) ------------------------
    def local_plan(self, size: tuple[int, int], tops: list[int], lefts: list[int]):
        """How to run copies of a picture covered by a ``size`` box at each (top, left) of ``tops`` x
        ``lefts`` on crops of the first layers (a ``locality.Plan``), or None: full passes."""
        if not self.reuse_layers:
            return None
        key = (tuple(size), tuple(tops), tuple(lefts))
        if key not in self._plans:
            from explainers import locality

            with self.model.lock:
                self._plans[key] = locality.plan(self.model.keras, tuple(size), list(tops), list(lefts))
        return self._plans[key]

    def _local_functions(self, plan):
        fns = self._local.get(plan.layer)
        if fns is not None:
            return fns
        with self.model.lock:
            fns = self._local.get(plan.layer)
            if fns is None:
                net = self.model.keras
                layers = net.layers[1:plan.count + 1]
                assert layers[-1].name == plan.layer
                rest = keras.Model(net.get_layer(plan.layer).output, net.outputs[0])

                def head(x):
                    for layer in layers:
                        x = layer(x, training=False)
                    return x

                def tail(x):
                    return rest(x, training=False)

                channels = int(net.input_shape[-1])
                cells = tuple(int(d) for d in net.get_layer(plan.layer).output.shape[1:])
                fns = (tf.function(head, input_signature=[tf.TensorSpec([None, None, None, channels], tf.float32)],
                                   jit_compile=self.jit_forward),
                       tf.function(tail, input_signature=[tf.TensorSpec([None, *cells], tf.float32)],
                                   jit_compile=self.jit_forward))
                self._local[plan.layer] = fns
        return fns

    def warm_local(self, size: tuple[int, int], tops: list[int], lefts: list[int]) -> bool:
        """Trace now the crop passes for boxes of ``size`` at ``tops`` x ``lefts`` (occlusion's default
        patches), so the first request does not wait for it; False if those boxes run full passes."""
        plan = self.local_plan(size, tops, lefts)
        if plan is None:
            return False
        head, tail = self._local_functions(plan)
        head.get_concrete_function()
        tail.get_concrete_function()
        return True

    def local_head(self, plan, inputs: np.ndarray) -> np.ndarray:
        """The chain's activations for (crops of) model inputs."""
        return self._local_functions(plan)[0](tf.convert_to_tensor(inputs, tf.float32)).numpy()

    def local_tail(self, plan, activations: np.ndarray) -> np.ndarray:
        """Logits from the chain's activations on whole pictures."""
        return self._local_functions(plan)[1](tf.convert_to_tensor(activations, tf.float32)).numpy()

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        targets = np.full(len(inputs), TOP1, np.int32)
        return self.run(PassKey(), inputs, targets).logits


def _seconds(run: Callable[[], object]) -> float:
    """Wall-clock seconds of ``run()``."""
    started = time.perf_counter()
    run()
    return time.perf_counter() - started
