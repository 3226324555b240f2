"""The TensorFlow side of the passes: compiled functions per (model, layer, gradients, ReLU rule).

Each kind of pass is a ``tf.function`` traced once per model: the batch dimension is left open in the
input signature, so any batch size reuses the same trace. Whether a pass compiles with XLA is the
engine's ``CompilePolicy`` (``explainers.compile_policy``): one-picture passes, gradient batches and
forward-only batches apart, a guess at first, then what ``Engine.autotune`` measured on this machine.
Guided backpropagation and DeconvNet swap every ReLU's gradient only while their function is traced
(see ``_relu_override``), so the shared model itself never changes; a plain pass can also build their
backward passes after its own from the same forward pass (``PassKey.also``).

Engines are found through ``engine_for(model)``: one per model and process, kept only while the model
lives; the model itself holds no reference to its engine.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from explainers._tf import keras, tf
from explainers.batching import backward_sample_bytes, default_chunk_size
from explainers.compile_policy import GRADIENT_BATCHES, ONE_PICTURE, TUNED_KINDS, CompilePolicy
from explainers.pass_keys import TOP1, PassKey, PassResult

log = logging.getLogger(__name__)
BACKGROUND_ENV = "EXPLAINERS_TUNE_IN_BACKGROUND"  # "0": ``autotune(background=True)`` does nothing


def _relu_gradient(rule: str, upstream, output):
    """A ReLU's backward pass under ``rule``, given the incoming gradient and the ReLU's output.
    "plain": the true gradient; "guided": only where both the forward input and the incoming gradient
    are positive (Springenberg et al. 2015); "deconv": the positive part of the incoming gradient
    whatever the forward input was (Zeiler & Fergus 2014)."""
    if rule == "plain":
        return tf.raw_ops.ReluGrad(gradients=upstream, features=output)
    if rule == "guided":
        return tf.raw_ops.ReluGrad(gradients=tf.nn.relu(upstream), features=output)
    return tf.nn.relu(upstream)


@contextmanager
def _relu_override(model, rule: str | dict) -> Iterator[None]:
    """Temporarily give every ReLU activation of ``model`` another gradient rule (``_relu_gradient``).

    Only used while a function is being *traced* (under the model's lock): the traced graph keeps the
    replacement, the model's layers get their own activation back right after. ``rule`` may be a dict
    whose "rule" entry is read each time a backward pass is built, so that one traced forward pass can
    be followed by backward passes under several rules (the gradient of a custom-gradient op is built
    when ``tape.gradient`` is called, not when the forward pass runs).
    """
    if rule == "plain":
        yield
        return
    relu = keras.activations.relu

    @tf.custom_gradient
    def replacement(x):
        y = tf.nn.relu(x)

        def grad(upstream):
            return _relu_gradient(rule["rule"] if isinstance(rule, dict) else rule, upstream, y)

        return y, grad

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
    """The compiled passes of one Keras model; thread-safe, traced lazily, reused across requests.

    ``preprocess`` turns RGB pixels into the model's input (for timing ``autotune`` on real-looking
    inputs), ``default_layer`` is the layer the one-picture timing watches, and ``policy`` says which
    kinds of pass compile with XLA (by default graphs everywhere, unless ``EXPLAINERS_JIT`` says XLA).
    """

    def __init__(
        self,
        keras_model: Any,
        preprocess: Callable[[np.ndarray], np.ndarray],
        default_layer: str | None = None,
        policy: CompilePolicy | None = None,
        name: str = "model",
    ):
        self.keras = keras_model
        self.preprocess = preprocess
        self.default_layer = default_layer
        self.name = name
        self.policy = policy or CompilePolicy.guess()
        self.lock = threading.RLock()  # held while tracing functions that temporarily swap activations
        self._functions: dict[tuple[PassKey, bool], tf.types.experimental.GenericFunction] = {}
        self._submodels: dict[str | None, keras.Model] = {}
        self._plans: dict[tuple, object] = {}  # (box size, box rows, box columns) -> locality.Plan or None
        self._local: dict[str, tuple] = {}  # chain's last layer -> (chain function, rest-of-network function)
        # occluded copies reuse the whole picture's first layers (see explainers/locality.py); =0 turns it off
        self.reuse_layers = os.environ.get("EXPLAINERS_LOCAL", "").strip() != "0"
        self.trace_count: dict[tuple[PassKey, bool], int] = {}  # (pass, XLA) -> traces
        self._tune_lock = threading.Lock()  # one measurement at a time; later callers get its result
        self._background_lock = threading.Lock()  # guards the flag below, never held while measuring
        self._tuning_in_background = False
        shape = keras_model.input_shape
        self.input_shape = (int(shape[1]), int(shape[2]))  # (height, width)
        self.channels = int(shape[3])
        self.input_size = self.input_shape[0]  # the side, for square models
        pixels = [*self.input_shape, self.channels]
        self._signature = [tf.TensorSpec([None, *pixels], tf.float32), tf.TensorSpec([None], tf.int32)]
        # passes without logits (``lean``) are traced for one picture: with every shape known, TensorFlow
        # can drop the forward layers whose outputs the backward pass never reads
        self._one_picture = [tf.TensorSpec([1, *pixels], tf.float32), tf.TensorSpec([1], tf.int32)]

    def _submodel(self, layer: str | None):
        if layer not in self._submodels:
            net = self.keras
            if layer is None:
                self._submodels[layer] = net
            else:
                self._submodels[layer] = keras.Model(net.inputs, [net.get_layer(layer).output, net.outputs[0]])
        return self._submodels[layer]

    def jit(self, batched: bool, gradients: bool = True) -> bool:
        """True if passes over one picture, or over many samples (``batched``) with or without
        ``gradients``, are compiled with XLA."""
        return self.policy.uses_xla(batched, gradients)

    def function(self, key: PassKey, batched: bool = False):
        """The compiled function for ``key`` (traced on first use, under the model's lock)."""
        slot = (key, self.jit(batched, key.layer_grads or key.input_grads))
        fn = self._functions.get(slot)
        if fn is not None:
            return fn
        with self.lock:
            fn = self._functions.get(slot)
            if fn is None:
                switch = {"rule": key.relu}  # the rule the next backward pass is built with
                signature = self._signature if key.logits else self._one_picture
                fn = tf.function(self._make_pass(slot, switch), input_signature=signature, jit_compile=slot[1])
                with _relu_override(self.keras, switch if key.also else key.relu):
                    fn.get_concrete_function()  # trace now, while the override is in place
                self._functions[slot] = fn
        return fn

    def shares_forward(self, rules: list[str]) -> bool:
        """True if passes under the ReLU ``rules`` can reuse a plain pass's forward pass (``PassKey.also``):
        every ReLU is an activation whose gradient can be swapped while tracing."""
        return all(rule in {"guided", "deconv"} for rule in rules) and not any(
            isinstance(layer, keras.layers.ReLU) for layer in _walk_layers(self.keras)
        )

    def lean(self, key: PassKey) -> bool:
        """True if a pass over one picture for ``key`` runs faster without its logits (``PassKey.logits``):
        under DeconvNet's rule a ReLU's backward pass ignores its forward input, so only the max
        poolings' switches are read and the rest of the forward pass can be dropped, but only if the
        pass returns neither the logits nor a top-1 class and its shapes are fixed (docs/benchmarks.md,
        ``benchmarks/lean_pass.py``). Other rules read every ReLU's input, so the forward pass runs
        whole anyway and the logits cost nothing."""
        return key.relu == "deconv" and key.layer is None and key.input_grads and not key.also

    def _make_pass(self, slot: tuple[PassKey, bool], switch: dict):
        key = slot[0]
        submodel = self._submodel(key.layer)
        wants_grads = key.layer_grads or key.input_grads

        def run(inputs, targets):
            self.trace_count[slot] = self.trace_count.get(slot, 0) + 1  # Python side effect: counts traces
            with tf.GradientTape(watch_accessed_variables=False, persistent=bool(key.also)) as tape:
                # Watch the input even for layer gradients only: the tape records an op only if one
                # of its inputs is watched when it runs, and the layer's output exists only afterwards.
                tape.watch(inputs)
                outputs = submodel(inputs, training=False)
                activations, logits = (outputs[0], outputs[1]) if key.layer is not None else (None, outputs)
                if key.logits:
                    top = tf.argmax(logits, axis=-1, output_type=tf.int32)
                    chosen = tf.where(targets < 0, top, targets)
                else:  # the targets are given: reading the logits only for the score lets TF prune the rest
                    chosen = targets
                score = tf.reduce_sum(tf.gather(logits, chosen, axis=1, batch_dims=1))
            result = {"logits": logits, "targets": chosen} if key.logits else {"targets": chosen}
            if activations is not None:
                result["activations"] = activations
            if wants_grads:
                sources = ([activations] if key.layer_grads else []) + ([inputs] if key.input_grads else [])
                grads = tape.gradient(score, sources)
                if key.layer_grads:
                    result["layer_grads"] = grads[0]
                if key.input_grads:
                    result["input_grads"] = grads[-1]
            for rule in key.also:  # the same forward pass, backward under another ReLU rule
                switch["rule"] = rule
                try:
                    result[f"{rule}_input_grads"] = tape.gradient(score, inputs)
                finally:
                    switch["rule"] = key.relu
            return result

        return run

    def run(self, key: PassKey, inputs: np.ndarray, targets: np.ndarray, batched: bool = False) -> PassResult:
        """One pass over ``inputs``; ``batched``: they are many samples of one method (see ``jit``)."""
        fn = self.function(key, batched)
        out = fn(tf.convert_to_tensor(inputs, tf.float32), tf.convert_to_tensor(targets, tf.int32))
        values = {"logits": None, **{name: value.numpy() for name, value in out.items()}}
        riders = {rule: values.pop(f"{rule}_input_grads") for rule in key.also}
        return PassResult(**values, rule_input_grads=riders or None)

    def chunk_size(self, forward: bool = False) -> int:
        """Samples per chunk of this model's batches of passes (``explainers.batching.default_chunk_size``)."""
        return default_chunk_size(backward_sample_bytes(self.keras), forward=forward)

    def warm_batches(self, size: int, forward_size: int | None = None) -> list[PassKey]:
        """Prepare now the many-sample passes that multi-pass methods use: XLA compiles once per batch
        shape (slow for a large model, docs/benchmarks.md), which the first SmoothGrad or integrated-
        gradients request would otherwise wait for, so an XLA kind is run once on a full chunk of ``size``
        samples (forward-only ones on ``forward_size``, if given); a graph-mode kind (forward-only
        batches, by default) is only traced, as its batch dimension is open. Returns the passes warmed."""
        keys = [PassKey(None, input_grads=True), PassKey()]  # gradients (SmoothGrad, IG), scores (occlusion, ...)
        for key in keys:
            if self.jit(batched=True, gradients=key.input_grads):
                n = size if key.input_grads or forward_size is None else forward_size
                # the full chunk first, then its smaller powers of two: stable mode's first chunks and a
                # count's remainder (13 = 8 + 4 + 1) run in those shapes
                for rows in [n] + [2**k for k in reversed(range(n.bit_length())) if 2**k < n]:
                    inputs = np.zeros((rows, *self.input_shape, self.channels), np.float32)
                    self.run(key, inputs, np.zeros(rows, np.int32), batched=True)
            else:
                self.function(key, batched=True)
        return keys

    # ---- XLA or graphs: measured once per process ------------------------------------------------
    def autotune(self, background: bool = False, kinds: tuple[str, ...] = TUNED_KINDS) -> dict[str, Any]:
        """Time each of ``kinds`` (one-picture passes, gradient batches) with XLA and as graphs and keep
        the faster, once per engine: later callers, and callers that arrive while it runs, get the
        result without measuring again. Which is faster depends on the machine as much as on the model
        (docs/benchmarks.md), so it is measured where it runs instead of trusted to a table.

        Returns /readyz's row per kind (``CompilePolicy.readiness``: None where not measured, as when
        ``EXPLAINERS_JIT`` forces a choice). ``background``: measure in a daemon thread instead (at
        most one at a time; requests meanwhile run with the current choice) and return {} at once;
        ``EXPLAINERS_TUNE_IN_BACKGROUND=0`` turns that off (the tests do: a mode switching under them
        changes results in the last digits)."""
        if not background:
            for kind in kinds:
                self._measure_once(kind)
            return {kind: self.policy.readiness(kind) for kind in kinds}
        if os.environ.get(BACKGROUND_ENV, "").strip() == "0" or set(kinds) <= set(self.policy.measured):
            return {}
        with self._background_lock:
            if self._tuning_in_background:
                return {}
            self._tuning_in_background = True
        threading.Thread(
            target=self._autotune_in_background, args=(kinds,), name=f"tune {self.name}", daemon=True
        ).start()
        return {}

    def _autotune_in_background(self, kinds: tuple[str, ...]) -> None:
        try:
            self.autotune(kinds=kinds)
        except BaseException as error:  # noqa: BLE001 - a background thread: the guesses stay, only speed is at stake
            log.warning("timing XLA against graph mode for %s failed: %s", self.name, error)
        finally:
            with self._background_lock:
                self._tuning_in_background = False

    def _measure_once(self, kind: str) -> None:
        measure = {ONE_PICTURE: self.tune_passes, GRADIENT_BATCHES: lambda: self.tune_batches(self.chunk_size())}
        with self._tune_lock:
            if kind in self.policy.measured:
                return
            seconds = self.policy.measured[kind] = measure[kind]()
        if seconds:
            log.info(
                "%s %s: XLA %.2f s, graph mode %.2f s; keeping %s",
                self.name,
                kind.replace("_", " "),
                seconds[True],
                seconds[False],
                "XLA" if self.policy.xla[kind] else "graph mode",
            )

    def tune_batches(
        self, size: int, rounds: int = 2, timer: Callable[[Callable[[], object]], float] | None = None
    ) -> dict[bool, float]:
        """Time a chunk of ``size`` input gradients (SmoothGrad's and integrated gradients' pass) with
        XLA and as graphs, and keep the faster for this model's gradient batches. See ``_tune`` for how;
        returns {XLA on?: seconds}, {} when ``EXPLAINERS_JIT`` forces a choice."""
        pixels = np.random.default_rng(0).integers(0, 256, (size, *self.input_shape, 3)).astype(np.float32)
        return self._tune(GRADIENT_BATCHES, PassKey(None, input_grads=True), pixels, True, rounds, timer)

    def tune_passes(
        self, layer: str | None = None, rounds: int = 3, timer: Callable[[Callable[[], object]], float] | None = None
    ) -> dict[bool, float]:
        """Like ``tune_batches``, for the passes over one picture (Grad-CAM, the gradients, the default
        view): times the default view's plain pass (gradients to ``layer``, by default the model's
        recommended one, and to the input) on one picture both ways, and keeps the faster."""
        pixels = np.random.default_rng(1).integers(0, 256, (1, *self.input_shape, 3)).astype(np.float32)
        key = PassKey(layer or self.default_layer, layer_grads=True, input_grads=True)
        return self._tune(ONE_PICTURE, key, pixels, False, rounds, timer)

    def _tune(
        self,
        kind: str,
        key: PassKey,
        pixels: np.ndarray,
        batched: bool,
        rounds: int,
        timer: Callable[[Callable[[], object]], float] | None,
    ) -> dict[bool, float]:
        """Run ``key`` on ``pixels`` with ``kind``'s passes compiled with XLA and as graphs: each way
        once untimed (XLA compiles, graph mode traces), then ``rounds`` timed runs taking turns so that
        a change in the machine's load hits both alike; the best run of each counts, the faster way is
        kept. ``timer(run)`` returns the seconds ``run()`` took (tests pass their own)."""
        if self.policy.forced:
            return {}
        timer = timer or _seconds
        inputs, targets = self.preprocess(pixels), np.full(len(pixels), -1, np.int32)
        original = self.policy.xla[kind]
        ways = (original, not original)
        seconds: dict[bool, float] = {}

        def run(jit: bool):
            self.policy.xla[kind] = jit
            return self.run(key, inputs, targets, batched=batched)

        try:
            for jit in ways:
                run(jit)  # compile or trace
            for _ in range(rounds):
                for jit in ways:
                    seconds[jit] = min(seconds.get(jit, float("inf")), timer(lambda: run(jit)))
        finally:
            self.policy.xla[kind] = min(seconds, key=seconds.get) if len(seconds) == 2 else original
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

            with self.lock:
                self._plans[key] = locality.plan(self.keras, tuple(size), list(tops), list(lefts))
        return self._plans[key]

    def _local_functions(self, plan):
        fns = self._local.get(plan.layer)
        if fns is not None:
            return fns
        with self.lock:
            fns = self._local.get(plan.layer)
            if fns is None:
                net = self.keras
                layers = net.layers[1 : plan.count + 1]
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
                fns = (
                    tf.function(
                        head,
                        input_signature=[tf.TensorSpec([None, None, None, channels], tf.float32)],
                        jit_compile=self.jit(batched=True, gradients=False),
                    ),
                    tf.function(
                        tail,
                        input_signature=[tf.TensorSpec([None, *cells], tf.float32)],
                        jit_compile=self.jit(batched=True, gradients=False),
                    ),
                )
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
        """The logits of model ``inputs`` (one pass, no gradients)."""
        targets = np.full(len(inputs), TOP1, np.int32)
        return self.run(PassKey(), inputs, targets).logits


def _seconds(run: Callable[[], object]) -> float:
    """Wall-clock seconds of ``run()``."""
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


_engines: weakref.WeakKeyDictionary[Any, Engine] = weakref.WeakKeyDictionary()
_engines_lock = threading.Lock()


def engine_for(model: Any, policy: CompilePolicy | None = None) -> Engine:
    """The engine of ``model`` (an ``explainers.models.ExplainableModel``: its ``keras``, ``preprocess``,
    ``default_layer`` and ``name`` are read), made on first use and shared by every caller for as long as
    the model lives. ``policy``: how the engine compiles if it is made now (default: the registry's guess
    for the model's name, ``CompilePolicy.for_model``); giving one for a model whose engine exists is an
    error, since its passes may already be compiled the other way."""
    with _engines_lock:
        engine = _engines.get(model)
        if engine is None:
            engine = Engine(
                model.keras,
                model.preprocess,
                model.default_layer,
                policy or CompilePolicy.for_model(model.name),
                name=model.name,
            )
            _engines[model] = engine
        elif policy is not None and policy is not engine.policy:
            raise ValueError(f"The engine of {model.name!r} exists already; its compile policy cannot change.")
    return engine
