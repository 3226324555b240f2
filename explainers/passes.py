"""Compiled forward/backward passes, shared by every method: the TensorFlow plumbing lives here.

One *pass* runs a batch through the model once, optionally watching one layer, and optionally takes
one backward pass from the target logits to that layer's activations and/or to the input. Several
methods can share a pass: Grad-CAM needs the layer's gradients, vanilla gradient the input's, and one
backward pass yields both. A pass may also run with every ReLU's gradient replaced (guided
backpropagation, DeconvNet); the shared model is never changed for that (see ``_relu_override``).

Each kind of pass is a ``tf.function`` traced once per (model, layer, wrt, relu rule): the batch
dimension is left open in the input signature, so any batch size reuses the same trace.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterator

import numpy as np

from explainers._tf import keras, tf

if TYPE_CHECKING:  # pragma: no cover
    from explainers.models import ExplainableModel

RELU_RULES = ("plain", "guided", "deconv")
TOP1 = -1  # a target of -1 means "the model's top-1 prediction", resolved inside the pass


@dataclass(frozen=True)
class PassKey:
    """What one pass computes: watch ``layer`` (None: none), gradients wrt layer and/or input."""

    layer: str | None = None
    layer_grads: bool = False
    input_grads: bool = False
    relu: str = "plain"

    def covers(self, other: "PassKey") -> bool:
        """True if this pass yields everything ``other`` asks for."""
        if self.relu != other.relu:
            return False
        if other.layer is not None and other.layer != self.layer:
            return False
        if other.layer_grads and not (self.layer_grads and self.layer == other.layer):
            return False
        return self.input_grads or not other.input_grads


@dataclass
class PassResult:
    logits: np.ndarray  # (N, classes)
    targets: np.ndarray  # (N,) int: the classes explained (top-1 resolved)
    activations: np.ndarray | None = None  # (N, h, w, k) at the watched layer
    layer_grads: np.ndarray | None = None  # d(target logit)/d(activations)
    input_grads: np.ndarray | None = None  # d(target logit)/d(preprocessed input), (N, H, W, 3)


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
        # XLA where it was measured to help (see benchmarks/speed.py); EXPLAINERS_JIT=0/1 overrides
        self.jit_compile = model.jit_compile if override not in {"0", "1"} else override == "1"
        self._functions: dict[PassKey, tf.types.experimental.GenericFunction] = {}
        self._submodels: dict[str | None, keras.Model] = {}
        self.trace_count: dict[PassKey, int] = {}
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

    def function(self, key: PassKey):
        """The compiled function for ``key`` (traced on first use, under the model's lock)."""
        fn = self._functions.get(key)
        if fn is not None:
            return fn
        with self.model.lock:
            fn = self._functions.get(key)
            if fn is None:
                fn = tf.function(self._make_pass(key), input_signature=self._signature,
                                 jit_compile=self.jit_compile)
                with _relu_override(self.model.keras, key.relu):
                    fn.get_concrete_function()  # trace now, while the override is in place
                self._functions[key] = fn
        return fn

    def _make_pass(self, key: PassKey):
        submodel = self._submodel(key.layer)
        wants_grads = key.layer_grads or key.input_grads

        def run(inputs, targets):
            self.trace_count[key] = self.trace_count.get(key, 0) + 1  # Python side effect: counts traces
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

    def run(self, key: PassKey, inputs: np.ndarray, targets: np.ndarray) -> PassResult:
        fn = self.function(key)
        out = fn(tf.convert_to_tensor(inputs, tf.float32), tf.convert_to_tensor(targets, tf.int32))
        return PassResult(**{name: value.numpy() for name, value in out.items()})

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        targets = np.full(len(inputs), TOP1, np.int32)
        return self.run(PassKey(), inputs, targets).logits


class Passes:
    """The passes for one batch of inputs and targets; each computed at most once, then shared.

    Methods ask for what they need (``get``); ``prepare`` lets a caller that knows every method in
    advance (``explain_all``) merge the requests so that, for example, Grad-CAM's layer gradients and
    vanilla gradient's input gradients come out of a single backward pass.
    """

    def __init__(self, model: "ExplainableModel", inputs: np.ndarray, targets: np.ndarray):
        self.model = model
        self.inputs = inputs
        self.targets = np.asarray(targets, np.int32)
        self._results: dict[PassKey, PassResult] = {}
        self._lock = threading.Lock()
        self.passes_run: list[PassKey] = []

    def prepare(self, keys: list[PassKey]) -> None:
        """Merge ``keys`` into as few passes as possible and run them.

        Per gradient rule: one pass per watched layer (with that layer's gradients if anyone wants
        them), and input gradients ride along on the first of those passes instead of costing a pass
        of their own.
        """
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
            for key in plan or [PassKey(relu=relu)]:
                self.get(key)

    def get(self, key: PassKey) -> PassResult:
        """The result of a pass that covers ``key``, running one only if none has yet."""
        with self._lock:
            for done, result in self._results.items():
                if done.covers(key):
                    return result
            result = self.model.engine.run(key, self.inputs, self._resolved_targets())
            self._results[key] = result
            self.passes_run.append(key)
            return result

    def _resolved_targets(self) -> np.ndarray:
        """Once any pass has resolved "top-1", later passes explain the same classes."""
        for result in self._results.values():
            return result.targets.astype(np.int32)
        return self.targets

    @property
    def resolved_targets(self) -> np.ndarray:
        if not self._results:
            self.get(PassKey())
        return self._resolved_targets()

    @property
    def logits(self) -> np.ndarray:
        if not self._results:
            self.get(PassKey())
        return next(iter(self._results.values())).logits
