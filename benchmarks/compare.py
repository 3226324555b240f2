"""This project against the peer libraries tf-explain, Xplique and tf-keras-vis, alternated in one run.

    bash benchmarks/setup_peers.sh          # once: .venv-peers with the peers (the project's .venv stays clean)
    .venv-peers/bin/python benchmarks/compare.py [--models vgg16,resnet50,inception_v3] [--methods ...]
        [--repeat 3] [--min-seconds 4] [--slow-repeat 1] [--slow-models vgg16] [--quick] [--no-ig | --ig-only]
        [--out docs/benchmarks.md]

For each (model, method): every library's call is built once (a peer's explainer object, our model's
compiled passes), warmed up once, then the libraries take turns ``--repeat`` times (the order rotates
each round; short calls go on for more rounds until each library's timed calls add up to
``--min-seconds``, at most 25 rounds), so a shared machine's load changes affect all of them alike;
the table gives the median seconds, ours ÷ the fastest peer, and the memory each call needed (the
peak of TensorFlow's CPU tensor pool above what it held just before the call; median over the timed
calls).

All libraries get the same Keras model object (seeded random weights: timings do not depend on weight
values), the same cat picture, the same target class (281, tabby) and the same settings. Our ``explain``
is given the photo as decoded (uint8, any size) and resizes and preprocesses it inside the timed call;
the peers are given the already preprocessed batch (1, size, size, 3). Methods that explain a
probability are given the same model with a softmax appended (sharing its weights).

The slow methods (Score-CAM, RISE, LIME) run only on the ``--slow-models`` and ``--slow-repeat`` times.
The second table gives the integrated-gradients steps that our default quadrature (Gauss–Legendre)
and the left Riemann sum need to reach ≤ 1 % completeness error, from ``benchmarks/ig_completeness.py``; it involves no peer
and its errors do not depend on the load, so it can be run on its own (``--ig-only``, which keeps the
rest of ``--out``), and ``--no-ig`` keeps the table already in ``--out``. Prints the markdown and writes
it with the run's date, command, machine, load and versions to ``--out``.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import importlib.metadata
import io
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

PEERS = ("tf-explain", "Xplique", "tf-keras-vis")
LIBRARIES = ("ours", *PEERS)
DISTRIBUTIONS = {"tf-explain": "tf-explain", "Xplique": "xplique", "tf-keras-vis": "tf-keras-vis"}
MODULES = {"tf-explain": "tf_explain", "Xplique": "xplique", "tf-keras-vis": "tf_keras_vis"}
TARGET = 281  # tabby cat
DEFAULT_VIEW = ["grad_cam", "guided_grad_cam", "vanilla_gradient", "gradient_x_input"]
# what a peer user runs to get the default view's four maps: guided Grad-CAM is guided backprop
# times the Grad-CAM map, and no peer has it as one call
DEFAULT_VIEW_PEER = ["grad_cam", "guided_backprop", "vanilla_gradient", "gradient_x_input"]
IG_THRESHOLD = 0.01


@dataclass(frozen=True)
class Settings:
    """Sample counts of the multi-pass methods (the same for every library)."""

    smoothgrad_samples: int = 16
    noise: float = 0.2  # × the input range (black to white)
    ig_steps: int = 16
    patch: int = 32
    top_k: int = 32
    rise_masks: int = 128  # ours defaults to 500 and 256: cut so that the full run fits in ~40 minutes
    lime_samples: int = 128
    ig_table_steps: tuple[int, ...] = (8, 16, 32, 64, 128, 256)


QUICK = Settings(smoothgrad_samples=4, ig_steps=4, patch=56, top_k=4, rise_masks=32, lime_samples=32,
                 ig_table_steps=(8, 16))


@dataclass
class Setup:
    """Everything every library's call is built from, for one model."""

    model: Any  # explainers.models.ExplainableModel
    keras: Any  # the logits model, shared by every library
    probabilities: Any  # the same model with a softmax appended (shares the weights)
    photo: np.ndarray  # uint8 RGB as decoded: what our explain is given
    inputs: np.ndarray  # float32 (1, size, size, 3), preprocessed: what the peers are given
    onehot: np.ndarray  # (1, 1000): Xplique's way of naming the target
    layer: str
    input_range: float
    black: np.ndarray  # a black pixel after preprocessing, per channel


@dataclass(frozen=True)
class Case:
    """How one library computes one method: the call as text, and a builder returning the timed call."""

    call: str
    build: Callable[[Setup], Callable[[], Any]]


@dataclass(frozen=True)
class Row:
    key: str
    title: Callable[[Setup], str]
    cases: dict[str, Case]  # library -> its call; a library missing here has no such method
    slow: bool = False  # Score-CAM, RISE, LIME: only on --slow-models, --slow-repeat times


@dataclass
class Timing:
    seconds: float
    memory: float  # bytes
    runs: int
    samples: list[float] = field(default_factory=list)


@dataclass
class Failure:
    reason: str


# ---- our side: the public API ---------------------------------------------------------------------
def ours(method: str, **params: Any) -> Case:
    def build(s: Setup):
        from explainers.api import explain

        return lambda: explain(s.model, s.photo, method, target=TARGET, **params)

    shown = "".join(f", {k}={v!r}" for k, v in params.items())
    return Case(f"explain(model, photo, {method!r}, target=281{shown})", build)


def ours_default_view() -> Case:
    def build(s: Setup):
        from explainers.api import explain_all

        return lambda: explain_all(s.model, s.photo, DEFAULT_VIEW, target=TARGET)

    return Case(f"explain_all(model, photo, {DEFAULT_VIEW}, target=281)", build)


# ---- tf-explain 0.3.1 (tf_explain.core): stateless classes, explain((x, y), model, class_index, ...)
# returns a uint8 picture grid; its colour-mapping of that grid is part of its call and is timed too.
def tfe(cls: str, model: str = "keras", **kwargs: Any) -> Case:
    shown = "".join(f", {k}={getattr(v, 'label', v)}" for k, v in kwargs.items())
    given = "logits model" if model == "keras" else "model + softmax"

    def build(s: Setup):
        import tf_explain.core as core

        explainer = getattr(core, cls)()
        target_model = getattr(s, model)
        values = {k: (v(s) if isinstance(v, Label) else v) for k, v in kwargs.items()}
        return lambda: explainer.explain((s.inputs, None), target_model, TARGET, **values)

    return Case(f"{cls}().explain((x, None), {given}, 281{shown})", build)


# ---- Xplique 2.0.2 (xplique.attributions): Explainer(model, **settings).explain(x, one_hot_targets);
# the explainer is built once per model (GuidedBackprop clones the model there), like our compiled passes.
def xpl(cls: str, model: str = "keras", **kwargs: Any) -> Case:
    shown = "".join(f", {k}={getattr(v, 'label', v)}" for k, v in kwargs.items())
    given = "logits model" if model == "keras" else "model + softmax"

    def build(s: Setup):
        import xplique.attributions as attributions

        values = {k: (v(s) if isinstance(v, Label) else v) for k, v in kwargs.items()}
        explainer = getattr(attributions, cls)(getattr(s, model), **values)
        return lambda: explainer.explain(s.inputs, s.onehot).numpy()

    return Case(f"{cls}({given}{shown}).explain(x, one_hot)", build)


# ---- tf-keras-vis 0.8.7: Visualizer(model, ...)(CategoricalScore([281]), x, ...), built once per model.
def tkv(module: str, cls: str, guided: bool = False, **kwargs: Any) -> Case:
    shown = "".join(f", {k}={getattr(v, 'label', v)}" for k, v in kwargs.items())
    made = ("model_modifier=GuidedBackpropagation(), clone=True" if guided else "clone=False")

    def build(s: Setup):
        import importlib

        from tf_keras_vis.utils.model_modifiers import GuidedBackpropagation
        from tf_keras_vis.utils.scores import CategoricalScore

        visualiser_class = getattr(importlib.import_module(f"tf_keras_vis.{module}"), cls)
        visualiser = (visualiser_class(s.keras, model_modifier=GuidedBackpropagation(), clone=True) if guided
                      else visualiser_class(s.keras, clone=False))
        score = CategoricalScore([TARGET])
        values = {k: (v(s) if isinstance(v, Label) else v) for k, v in kwargs.items()}
        return lambda: visualiser(score, s.inputs, **values)

    return Case(f"{cls}(logits model, {made})(CategoricalScore([281]), x{shown})", build)


def together(cases: list[Case], multiply: tuple[int, int] | None = None) -> Case:
    """Several of one library's calls run back to back as one timed call; ``multiply``: two of them whose
    maps are then multiplied (guided Grad-CAM = guided backprop × the Grad-CAM map)."""

    def build(s: Setup):
        calls = [case.build(s) for case in cases]

        def run():
            maps = [call() for call in calls]
            if multiply:
                return maps, np.squeeze(np.asarray(maps[multiply[0]])) * np.squeeze(np.asarray(maps[multiply[1]]))
            return maps

        return run

    texts = [case.call for case in cases]
    if multiply:
        texts[multiply[0]] = f"({texts[multiply[0]]}) × ({texts[multiply[1]]})"
        del texts[multiply[1]]
    return Case(" + ".join(texts), build)


class Label:
    """A setting computed per model, shown in the calls table by ``label``."""

    def __init__(self, label: str, compute: Callable[[Setup], Any]):
        self.label, self.compute = label, compute

    def __call__(self, s: Setup) -> Any:
        return self.compute(s)


LAYER = Label("<layer>", lambda s: s.layer)


def slic_mapping(segments: int) -> Label:
    """Xplique LIME's ``map_to_interpret_space``: SLIC superpixels as ours (50, compactness 10), computed
    on its input rescaled to 0..1 inside its call (ours cuts the picture inside ours)."""

    def make(s: Setup):
        from skimage.segmentation import slic

        from explainers._tf import tf

        def mapping(inp):
            values = inp.numpy().astype(np.float64)
            values = (values - values.min()) / max(float(values.max() - values.min()), 1e-12)
            return tf.cast(slic(values, n_segments=segments, compactness=10, start_label=0, channel_axis=-1),
                           tf.int32)

        return mapping

    return Label(f"SLIC({segments})", make)


def rows(settings: Settings) -> list[Row]:
    st = settings
    noise = Label(f"{st.noise}×range", lambda s: st.noise * s.input_range)
    black = Label("mean(black)", lambda s: float(s.black.mean()))
    return [
        Row("grad_cam", lambda s: f"Grad-CAM ({s.layer})", {
            "ours": ours("grad_cam"),
            # tf-explain: GradCAM().explain((x, None), model, 281, layer_name=layer, use_guided_grads=False)
            "tf-explain": tfe("GradCAM", layer_name=LAYER, use_guided_grads=False),
            # Xplique: GradCAM(model, conv_layer=layer).explain(x, one_hot)
            "Xplique": xpl("GradCAM", conv_layer=LAYER),
            # tf-keras-vis: Gradcam(model)(score, x, penultimate_layer=layer, seek_penultimate_conv_layer=False)
            "tf-keras-vis": tkv("gradcam", "Gradcam", penultimate_layer=LAYER, seek_penultimate_conv_layer=False),
        }),
        Row("vanilla_gradient", lambda s: "vanilla gradient (saliency)", {
            "ours": ours("vanilla_gradient"),
            # tf-explain: VanillaGradients().explain((x, None), model, 281)
            "tf-explain": tfe("VanillaGradients"),
            # Xplique: Saliency(model).explain(x, one_hot)
            "Xplique": xpl("Saliency"),
            # tf-keras-vis: Saliency(model)(score, x)
            "tf-keras-vis": tkv("saliency", "Saliency"),
        }),
        Row("gradient_x_input", lambda s: "gradient × input", {
            "ours": ours("gradient_x_input"),
            # tf-explain: GradientsInputs().explain((x, None), model, 281)
            "tf-explain": tfe("GradientsInputs"),
            # Xplique: GradientInput(model).explain(x, one_hot)
            "Xplique": xpl("GradientInput"),
        }),
        Row("guided_backprop", lambda s: "guided backprop", {
            "ours": ours("guided_backprop"),
            # Xplique: GuidedBackprop(model).explain(x, one_hot)  (a clone with guided ReLUs)
            "Xplique": xpl("GuidedBackprop"),
            # tf-keras-vis: Saliency(model, model_modifier=GuidedBackpropagation())(score, x)
            "tf-keras-vis": tkv("saliency", "Saliency", guided=True),
        }),
        Row("guided_grad_cam", lambda s: f"guided Grad-CAM ({s.layer})", {
            "ours": ours("guided_grad_cam"),
            # no peer has it as one call: its users multiply their guided backprop by their Grad-CAM map
            # Xplique: GuidedBackprop(model).explain(x, one_hot) × GradCAM(model, conv_layer=layer).explain(x, one_hot)
            "Xplique": together([xpl("GuidedBackprop"), xpl("GradCAM", conv_layer=LAYER)], multiply=(0, 1)),
            # tf-keras-vis: Saliency(model, model_modifier=GuidedBackpropagation())(score, x) × Gradcam(model)(...)
            "tf-keras-vis": together([tkv("saliency", "Saliency", guided=True),
                                      tkv("gradcam", "Gradcam", penultimate_layer=LAYER,
                                          seek_penultimate_conv_layer=False)], multiply=(0, 1)),
        }),
        Row("grad_cam_plus_plus", lambda s: f"Grad-CAM++ ({s.layer})", {
            "ours": ours("grad_cam_plus_plus"),
            # Xplique: GradCAMPP(model, conv_layer=layer).explain(x, one_hot)
            "Xplique": xpl("GradCAMPP", conv_layer=LAYER),
            # tf-keras-vis: GradcamPlusPlus(model)(score, x, penultimate_layer=layer, seek_penultimate_conv_layer=False)
            "tf-keras-vis": tkv("gradcam_plus_plus", "GradcamPlusPlus", penultimate_layer=LAYER,
                                seek_penultimate_conv_layer=False),
        }),
        Row("layer_cam", lambda s: f"Layer-CAM ({s.layer})", {
            "ours": ours("layer_cam"),
            # tf-keras-vis: Layercam(model)(score, x, penultimate_layer=layer, seek_penultimate_conv_layer=False)
            "tf-keras-vis": tkv("layercam", "Layercam", penultimate_layer=LAYER, seek_penultimate_conv_layer=False),
        }),
        Row("deconvnet", lambda s: "DeconvNet", {
            "ours": ours("deconvnet"),
            # Xplique: DeconvNet(model).explain(x, one_hot)  (a clone with the deconvnet ReLU rule)
            "Xplique": xpl("DeconvNet"),
        }),
        Row("smoothgrad", lambda s: f"SmoothGrad, {st.smoothgrad_samples} samples, σ = {st.noise} × range", {
            "ours": ours("smoothgrad", n_samples=st.smoothgrad_samples, noise=st.noise),
            # tf-explain: SmoothGrad().explain((x, None), model + softmax, 281, num_samples=16, noise=0.2 × range)
            # (its loss is a cross-entropy on probabilities, so it gets the softmax model)
            "tf-explain": tfe("SmoothGrad", model="probabilities", num_samples=st.smoothgrad_samples,
                              noise=noise),
            # Xplique: SmoothGrad(model, nb_samples=16, noise=0.2 × range).explain(x, one_hot)
            "Xplique": xpl("SmoothGrad", nb_samples=st.smoothgrad_samples, noise=noise),
            # tf-keras-vis: Saliency(model)(score, x, smooth_samples=16, smooth_noise=0.2)
            # (its σ is 0.2 × this input's own max − min)
            "tf-keras-vis": tkv("saliency", "Saliency", smooth_samples=st.smoothgrad_samples,
                                smooth_noise=st.noise),
        }),
        Row("squaregrad", lambda s: f"SquareGrad, {st.smoothgrad_samples} samples, σ = {st.noise} × range", {
            "ours": ours("squaregrad", n_samples=st.smoothgrad_samples, noise=st.noise),
            # Xplique: SquareGrad(model, nb_samples=16, noise=0.2 × range).explain(x, one_hot)
            "Xplique": xpl("SquareGrad", nb_samples=st.smoothgrad_samples, noise=noise),
        }),
        Row("vargrad", lambda s: f"VarGrad, {st.smoothgrad_samples} samples, σ = {st.noise} × range", {
            "ours": ours("vargrad", n_samples=st.smoothgrad_samples, noise=st.noise),
            # Xplique: VarGrad(model, nb_samples=16, noise=0.2 × range).explain(x, one_hot)
            "Xplique": xpl("VarGrad", nb_samples=st.smoothgrad_samples, noise=noise),
        }),
        Row("integrated_gradients", lambda s: f"integrated gradients, {st.ig_steps} steps, black baseline", {
            "ours": ours("integrated_gradients", steps=st.ig_steps, baseline="black"),
            # tf-explain: IntegratedGradients().explain((x, None), model, 281, n_steps=16)
            # (left Riemann sum, baseline fixed at 0 of the preprocessed input, no (x − x′) factor)
            "tf-explain": tfe("IntegratedGradients", n_steps=st.ig_steps),
            # Xplique: IntegratedGradients(model, steps=16, baseline_value=mean of black).explain(x, one_hot)
            # (trapezoid rule; one scalar baseline, so black's per-channel values are averaged)
            "Xplique": xpl("IntegratedGradients", steps=st.ig_steps, baseline_value=black),
        }),
        Row("occlusion", lambda s: f"occlusion, {st.patch}-px patches, stride {st.patch}", {
            "ours": ours("occlusion", patch=st.patch, stride=st.patch),
            # tf-explain: OcclusionSensitivity(batch_size=32).explain((x, None), model, 281, patch_size=32)
            # (stride = patch size; patches filled with 127.5 in its input's units)
            "tf-explain": Case(f"OcclusionSensitivity(batch_size=32).explain((x, None), logits model, 281, "
                               f"patch_size={st.patch})", occlusion_tfe(st.patch)),
            # Xplique: Occlusion(model, patch_size=32, patch_stride=32, occlusion_value=0).explain(x, one_hot)
            "Xplique": xpl("Occlusion", patch_size=st.patch, patch_stride=st.patch, occlusion_value=0.0,
                           batch_size=32),
        }),
        Row("score_cam_fast", lambda s: f"Score-CAM, top {st.top_k} channels ({s.layer})", {
            "ours": ours("score_cam_fast", top_k=st.top_k),
            # tf-keras-vis: Scorecam(model)(score, x, penultimate_layer=layer, max_N=32)
            # (it picks the channels by the activations' spread, ours by their mean)
            "tf-keras-vis": tkv("scorecam", "Scorecam", penultimate_layer=LAYER, seek_penultimate_conv_layer=False,
                                max_N=st.top_k),
        }, slow=True),
        Row("score_cam", lambda s: f"Score-CAM, every channel ({s.layer})", {
            "ours": ours("score_cam"),
            # tf-keras-vis: Scorecam(model)(score, x, penultimate_layer=layer)
            "tf-keras-vis": tkv("scorecam", "Scorecam", penultimate_layer=LAYER, seek_penultimate_conv_layer=False),
        }, slow=True),
        Row("rise", lambda s: f"RISE, {st.rise_masks} masks, 7×7 cells, keep 0.5", {
            "ours": ours("rise", n_masks=st.rise_masks, cells=7, keep=0.5),
            # Xplique: Rise(model + softmax, nb_samples=128, grid_size=7, preservation_probability=0.5).explain(...)
            "Xplique": xpl("Rise", model="probabilities", nb_samples=st.rise_masks, grid_size=7,
                           preservation_probability=0.5, batch_size=32),
        }, slow=True),
        Row("lime", lambda s: f"LIME, {st.lime_samples} samples, ~50 superpixels", {
            "ours": ours("lime", n_samples=st.lime_samples, segments=50),
            # Xplique: Lime(model + softmax, nb_samples=128, map_to_interpret_space=SLIC(50)).explain(x, one_hot)
            "Xplique": xpl("Lime", model="probabilities", nb_samples=st.lime_samples,
                           map_to_interpret_space=slic_mapping(50), batch_size=32),
        }, slow=True),
        Row("default_view", lambda s: "default view: Grad-CAM + guided Grad-CAM + vanilla + gradient × input", {
            "ours": ours_default_view(),
            # the only peer with all four: Xplique's GradCAM, GuidedBackprop (× the Grad-CAM map), Saliency and
            # GradientInput back to back; compare() adds the fastest peer per map, also back to back
            "Xplique": together([xpl("GradCAM", conv_layer=LAYER), xpl("GuidedBackprop"), xpl("Saliency"),
                                 xpl("GradientInput")], multiply=(1, 0)),
        }),
    ]


def occlusion_tfe(patch: int) -> Callable[[Setup], Callable[[], Any]]:
    def build(s: Setup):
        from tf_explain.core import OcclusionSensitivity

        explainer = OcclusionSensitivity(batch_size=32)
        return lambda: explainer.explain((s.inputs, None), s.keras, TARGET, patch_size=patch)

    return build


DEFAULT_METHODS = ["grad_cam", "vanilla_gradient", "gradient_x_input", "guided_backprop", "guided_grad_cam",
                   "grad_cam_plus_plus", "layer_cam", "deconvnet", "smoothgrad", "squaregrad", "vargrad",
                   "integrated_gradients", "occlusion", "score_cam_fast", "rise", "lime", "default_view"]


# ---- measuring --------------------------------------------------------------------------------------
class PeakMemory:
    """Memory a ``with`` block needed: the peak of TensorFlow's CPU tensor pool during it above the pool's
    use at the start (``pool``), and the peak resident set size above the size at the start (``extra``)."""

    def __init__(self, interval: float = 0.002):
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.extra = 0.0
        self.pool = 0.0

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.process.memory_info().rss)

    @staticmethod
    def _pool() -> dict[str, int] | None:
        from explainers._tf import tf

        try:
            return tf.config.experimental.get_memory_info("CPU:0")
        except (ValueError, RuntimeError):  # an allocator without statistics (malloc)
            return None

    def __enter__(self) -> "PeakMemory":
        from explainers._tf import tf

        before = self._pool()
        if before is not None:
            tf.config.experimental.reset_memory_stats("CPU:0")
        self.pool_base = before["current"] if before else None
        self.base = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.peak = max(self.peak, self.process.memory_info().rss)
        self._stop.set()
        self._thread.join()
        self.extra = float(self.peak - self.base)
        after = self._pool() if self.pool_base is not None else None
        self.pool = float(after["peak"] - self.pool_base) if after else self.extra


def short(error: BaseException, limit: int = 150) -> str:
    text = " ".join(str(error).split()) or repr(error)
    text = f"{type(error).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


MAX_ROUNDS = 25  # the most rounds --min-seconds adds up to


def measure(calls: dict[str, Callable[[], Any] | Failure], repeat: int, log,
            min_seconds: float = 0.0) -> dict[str, Timing | Failure]:
    """Warm every call once, then alternate them ``repeat`` times (rotating the order each round), and
    go on for more rounds, all of them still taking turns, while any library has spent less than
    ``min_seconds`` in its timed calls (at most ``MAX_ROUNDS`` in all): a call of 0.15 s varies by a
    third between rounds here, so three of them say little, while twenty-odd cost a few seconds."""
    results: dict[str, Timing | Failure] = {}
    ready: dict[str, Callable[[], Any]] = {}
    for library, call in calls.items():
        if isinstance(call, Failure):
            results[library] = call
            continue
        started = time.perf_counter()
        try:
            call()
        except Exception as error:  # a peer that cannot run this: say why in the table
            results[library] = Failure(short(error))
            log(f"    {library}: failed in its warm-up: {short(error)}")
            continue
        ready[library] = call
        log(f"    {library}: warm-up {time.perf_counter() - started:.1f} s")
    times: dict[str, list[float]] = {library: [] for library in ready}
    memory: dict[str, list[float]] = {library: [] for library in ready}
    names = list(ready)

    def more(round_: int) -> bool:
        if round_ < repeat:
            return True
        running = [library for library in names if library not in results]
        return round_ < MAX_ROUNDS and any(sum(times[library]) < min_seconds for library in running)

    round_ = 0
    while names and more(round_):
        shift = round_ % max(1, len(names))
        round_ += 1
        for library in names[shift:] + names[:shift]:
            if library in results:
                continue
            gc.collect()
            try:
                with PeakMemory() as peak:
                    started = time.perf_counter()
                    ready[library]()
                    seconds = time.perf_counter() - started
            except Exception as error:
                results[library] = Failure(short(error))
                continue
            times[library].append(seconds)
            memory[library].append(peak.pool)
    for library in names:
        if library not in results:
            results[library] = Timing(statistics.median(times[library]), statistics.median(memory[library]),
                                      len(times[library]), times[library])
            log(f"    {library}: {' '.join(f'{t:.2f}' for t in times[library])} s")
    return results


def fastest_peer(results: dict[str, Timing | Failure]) -> tuple[str, Timing] | None:
    timed = [(library, r) for library, r in results.items() if library != "ours" and isinstance(r, Timing)]
    return min(timed, key=lambda item: item[1].seconds) if timed else None


FASTEST_MIX = "fastest peer per map"


def fastest_mix(chosen: list[Row], model_results: dict[str, dict[str, Timing | Failure]]) -> tuple[Case, str] | None:
    """The default view as a peer user gets it fastest: each map from the peer that was fastest at it in this
    model's rows above, back to back (guided Grad-CAM: that guided backprop × that Grad-CAM map)."""
    by_key = {row.key: row for row in chosen}
    cases, who = [], []
    for method in DEFAULT_VIEW_PEER:
        best = fastest_peer(model_results.get(method, {}))
        if best is None:
            return None
        cases.append(by_key[method].cases[best[0]])
        who.append(f"{TITLES[method]}: {best[0]}")
    return together(cases, multiply=(1, 0)), "; ".join(who)


TITLES = {"grad_cam": "Grad-CAM", "guided_backprop": "guided backprop", "vanilla_gradient": "vanilla gradient",
          "gradient_x_input": "gradient × input"}


# ---- formatting ---------------------------------------------------------------------------------------
def fmt_seconds(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def cell(result: Timing | Failure | None) -> str:
    if result is None:
        return "—"
    if isinstance(result, Failure):
        return "failed: " + result.reason.replace("|", "\\|")
    return f"{fmt_seconds(result.seconds)} · {result.memory / 2**20:.0f} MiB"


TABLE_HEAD = ["| method and settings | ours | " + " | ".join(PEERS) + " | ours ÷ fastest peer |",
              "|---|---:|" + "---:|" * len(PEERS) + "---|"]
MISSING_FOR_DEFAULT_VIEW = {"tf-explain": "guided backprop", "tf-keras-vis": "gradient × input"}


def model_table(table: list[tuple[Row, dict[str, Timing | Failure], str]], slow_note: bool) -> list[tuple[str, str]]:
    """(row key, markdown table line) per measured row."""
    rows_out = []
    for row, results, label in table:
        ours_result = results.get("ours")
        best = fastest_peer(results)  # for the default view, the fastest-per-map mix is one of the contenders
        if best and isinstance(ours_result, Timing):
            ratio = f"**{ours_result.seconds / best[1].seconds:.2f}** ({best[0]})"
        else:
            ratio = "— (no peer has it)" if not any(p in row.cases for p in PEERS) else "—"
        cells = [cell(results.get(p)) for p in PEERS]
        if row.key == "default_view":
            cells = [c if p in row.cases else f"— (no {MISSING_FOR_DEFAULT_VIEW.get(p, 'such call')})"
                     for p, c in zip(PEERS, cells)]
            if isinstance(results.get(FASTEST_MIX), Timing):
                ratio = (f"**{ours_result.seconds / results[FASTEST_MIX].seconds:.2f}** (vs the fastest peer per "
                         f"map, run back to back: {fmt_seconds(results[FASTEST_MIX].seconds)})"
                         if isinstance(ours_result, Timing) else "—")
        runs = " ¹" if row.slow and slow_note else ""
        rows_out.append((row.key, f"| {label}{runs} | {cell(ours_result)} | " + " | ".join(cells) + f" | {ratio} |"))
    return rows_out


# ---- integrated gradients: steps to ≤ 1 % completeness error ----------------------------------------
def completeness_error(model_name: str, rule: str, steps: int) -> float:
    """One run of benchmarks/ig_completeness.py (imported, not copied) for one model, rule and step count."""
    import ig_completeness
    from explainers.methods import integrated_gradients

    printed = io.StringIO()
    argv = ["ig_completeness.py", "--models", model_name, "--steps", str(steps)]
    with mock.patch.object(sys, "argv", argv), mock.patch.object(integrated_gradients, "QUADRATURES", (rule,)), \
            contextlib.redirect_stdout(printed):
        ig_completeness.main()
    cells = [line for line in printed.getvalue().splitlines() if line.startswith("|") and "%" in line]
    return float(re.search(r"([0-9.]+)\s*%", cells[-1]).group(1)) / 100


def steps_needed(model_name: str, rule: str, candidates: tuple[int, ...],
                 log) -> tuple[int | None, list[tuple[int, float]]]:
    tried = []
    for steps in candidates:
        error = completeness_error(model_name, rule, steps)
        tried.append((steps, error))
        log(f"  IG {model_name} {rule} {steps} steps: {error:.2%}")
        if error <= IG_THRESHOLD:
            return steps, tried
    return None, tried


def ig_table(model_names: list[str], candidates: tuple[int, ...], log) -> list[str]:
    from explainers.models import MODELS

    lines = ["| model | Gauss–Legendre: steps to ≤ 1 % | left Riemann: steps to ≤ 1 % | "
             "Gauss–Legendre error by steps | left Riemann error by steps |", "|---|---:|---:|---|---|"]
    for name in model_names:
        found = {}
        for rule in ("gauss_legendre", "riemann_left"):
            started = time.perf_counter()
            found[rule] = steps_needed(name, rule, candidates, log)
            log(f"  IG {name} {rule}: {found[rule][0]} steps ({time.perf_counter() - started:.0f} s)")
        needed = [str(n) if n else f"> {candidates[-1]}" for n, _ in found.values()]
        errors = [", ".join(f"{steps}: {error:.2%}" for steps, error in tried) for _, tried in found.values()]
        lines.append(f"| {MODELS[name].title} | {needed[0]} | {needed[1]} | {errors[0]} | {errors[1]} |")
    return lines


# ---- the run -------------------------------------------------------------------------------------------
def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        return f"(uptime failed: {error})"


def version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def peer_import_errors() -> dict[str, Failure]:
    """A peer whose package does not import gets that error in every one of its cells."""
    import importlib

    errors = {}
    for peer, module in MODULES.items():
        try:
            importlib.import_module(module)
            if peer == "Xplique":
                importlib.import_module("xplique.attributions")
        except Exception as error:
            errors[peer] = Failure("import failed: " + short(error))
    return errors


def make_setup(name: str) -> Setup:
    from explainers._tf import keras
    from explainers.images import decode
    from explainers.models import load_model

    model = load_model(name, weights=None)
    photo = decode((ROOT / "assets" / "examples" / "chelsea.jpg").read_bytes())
    logits = model.keras
    probabilities = keras.Model(logits.inputs, keras.layers.Softmax(name="probabilities")(logits.output))
    inputs = model.preprocess(model.prepare(photo)[None])
    onehot = np.zeros((1, len(model.labels)), np.float32)
    onehot[0, TARGET] = 1.0
    black = model.preprocess(np.zeros((1, 1, 1, 3), np.float32))[0, 0, 0]
    return Setup(model, logits, probabilities, photo, inputs, onehot, model.default_layer, model.input_range(),
                 black)


IG_HEADING = "## Integrated gradients: steps needed for ≤ 1 % completeness error"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vgg16,resnet50,inception_v3", help="comma-separated")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated, from: {', '.join(r.key for r in rows(Settings()))}")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per library after the warm-up")
    parser.add_argument("--slow-repeat", type=int, default=1, help="timed runs for Score-CAM, RISE and LIME")
    parser.add_argument("--min-seconds", type=float, default=4.0,
                        help=f"more rounds (up to {MAX_ROUNDS}) until each library's timed calls add up to this")
    parser.add_argument("--slow-models", default="vgg16", help="models the slow methods run on (comma-separated)")
    parser.add_argument("--quick", action="store_true", help="small sample counts, one timed run: to check it works")
    ig = parser.add_mutually_exclusive_group()
    ig.add_argument("--no-ig", action="store_true",
                    help="skip the integrated-gradients table (an earlier one in --out is kept)")
    ig.add_argument("--ig-only", action="store_true",
                    help="only the integrated-gradients table (replacing the one in --out; the rest is kept)")
    ig.add_argument("--update", action="store_true",
                    help="re-measure only --methods and put those rows in place of theirs in --out (no IG table)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"), help="markdown file ('' = none)")
    parser.add_argument("--tf-data-autotune", action="store_true",
                        help="leave tf.data autotuning on for the peers' datasets (it stalls their calls here)")
    args = parser.parse_args()
    if not args.tf_data_autotune:
        no_tf_data_autotune()

    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    run = Run(started_at=datetime.datetime.now(datetime.timezone.utc), load_before=uptime(),
              clock=time.perf_counter(), command=".venv-peers/bin/python benchmarks/compare.py" + "".join(
                  " " + shlex.quote(a) for a in sys.argv[1:]))
    settings = QUICK if args.quick else Settings()
    repeat, slow_repeat = (1, 1) if args.quick else (args.repeat, args.slow_repeat)
    min_seconds = 0.0 if args.quick else args.min_seconds
    wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
    known = {row.key for row in rows(settings)}
    unknown = [m for m in wanted if m not in known]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    if "default_view" in wanted:  # its peer side is made of these rows' fastest peers
        wanted = [m for m in DEFAULT_VIEW_PEER if m not in wanted] + wanted
    if args.update and not (args.out and Path(args.out).is_file()):
        parser.error("--update needs an existing --out document to update")

    from explainers._tf import keras
    from explainers.models import resolve_model_name

    keras.config.disable_interactive_logging()  # no progress bars from the peers' model.predict
    model_names = [resolve_model_name(m) for m in args.models.split(",") if m.strip()]
    slow_models = {resolve_model_name(m) for m in args.slow_models.split(",") if m.strip()}
    comparison = None
    if not args.ig_only:
        sections, calls_seen, import_errors = compare(run, model_names, wanted, slow_models, settings, repeat,
                                                      slow_repeat, min_seconds)
        if not args.update:
            comparison = render(run, sections, calls_seen, import_errors, repeat, slow_repeat,
                                sorted(slow_models & set(model_names)), min_seconds)
    ig_text = None
    if not (args.no_ig or args.update):
        run.log("integrated gradients: steps to ≤ 1 % completeness error")
        started, load = time.perf_counter(), uptime()
        lines = ig_table(model_names, settings.ig_table_steps, run.log)
        print("\n".join(lines) + "\n", flush=True)
        ig_text = render_ig(run, lines, settings, load, uptime(), time.perf_counter() - started)
    if args.out and args.update:
        out = Path(args.out)
        out.write_text(update(out.read_text(encoding="utf-8"), run, sections, calls_seen, wanted, min_seconds),
                       encoding="utf-8")
        run.log(f"updated {out}")
    elif args.out:
        out = Path(args.out)
        # read only now, so that a --no-ig and an --ig-only run may overlap without losing either part
        before_ig, _, old_ig = (out.read_text(encoding="utf-8") if out.is_file() else "").partition(IG_HEADING)
        if comparison is None:
            comparison = before_ig if before_ig.strip() else HEADER + "\n"
        if ig_text is None:
            ig_text = IG_HEADING + old_ig if old_ig else ""
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(comparison.rstrip() + "\n\n" + ig_text if ig_text else comparison, encoding="utf-8")
        run.log(f"wrote {out}")


@dataclass
class Run:
    started_at: datetime.datetime
    load_before: str
    clock: float
    command: str

    def log(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.clock:6.0f} s] {message}", file=sys.stderr, flush=True)


@dataclass
class ModelSection:
    heading: str  # "### VGG16 (224×224, ...)"
    rows: list[tuple[str, str]]  # (row key, markdown table line)
    notes: list[str]  # paragraphs under the table

    def markdown(self) -> str:
        lines = [self.heading, "", *TABLE_HEAD, *(line for _, line in self.rows)]
        for note in self.notes:
            lines += ["", note]
        return "\n".join(lines)


def compare(run: Run, model_names: list[str], wanted: list[str], slow_models: set[str], settings: Settings,
            repeat: int, slow_repeat: int, min_seconds: float = 0.0
            ) -> tuple[list[ModelSection], dict[str, dict[str, str]], dict[str, Failure]]:
    """Time every (model, method) for every library, alternated."""
    from explainers.models import MODELS

    chosen = [row for row in rows(settings) if row.key in wanted]
    import_errors = peer_import_errors()
    for peer, failure in import_errors.items():
        run.log(f"{peer}: {failure.reason}")
    sections: list[ModelSection] = []
    calls_seen: dict[str, dict[str, str]] = {}
    for name in model_names:
        run.log(f"{name}: building")
        setup = make_setup(name)
        from explainers.batching import default_chunk_size

        engine = setup.model.engine
        tuned = engine.tune_passes()  # as the server does at start
        if tuned:
            run.log(f"{name}: the default view's plain pass took {tuned[True]:.2f} s with XLA, {tuned[False]:.2f} s "
                    f"in graph mode; ours keeps {'XLA' if engine.jit_compile else 'graph mode'}")
        tuned = engine.tune_batches(default_chunk_size())
        if tuned:
            run.log(f"{name}: a chunk of gradients took {tuned[True]:.2f} s with XLA, {tuned[False]:.2f} s in graph "
                    f"mode; ours keeps {'XLA' if engine.jit_batches else 'graph mode'}")
        model_results: dict[str, dict[str, Timing | Failure]] = {}
        table = []
        mix_note = None
        for row in chosen:
            if row.slow and name not in slow_models:
                continue
            label = row.title(setup)
            run.log(f"{name} · {label}")
            cases = dict(row.cases)
            if row.key == "default_view":
                mix = fastest_mix(chosen, model_results)
                if mix is not None:
                    cases[FASTEST_MIX], mix_note = mix
            calls: dict[str, Callable[[], Any] | Failure] = {}
            for library, case in cases.items():
                if library != FASTEST_MIX:
                    calls_seen.setdefault(row.key, {})[library] = case.call
                if library in import_errors:
                    calls[library] = import_errors[library]
                    continue
                try:
                    calls[library] = case.build(setup)
                except Exception as error:  # the peer cannot even set this up: say why in the table
                    calls[library] = Failure(short(error))
            results = measure(calls, slow_repeat if row.slow else repeat, run.log, 0.0 if row.slow else min_seconds)
            model_results[row.key] = results
            table.append((row, results, label))
        spec = MODELS[name]
        engine = setup.model.engine
        heading = (f"### {spec.title} ({spec.input_size}×{spec.input_size}, layer {setup.layer}; ours with XLA "
                   f"{'on' if engine.jit_compile else 'off'} for one-picture passes, "
                   f"{'on' if engine.jit_batches else 'off'} for many-sample gradient batches, "
                   f"{'on' if engine.jit_forward else 'off'} for forward-only batches)")
        slow_note = slow_repeat != repeat and any(row.slow for row, _, _ in table)
        notes = []
        if mix_note:
            notes.append(f"Default view: ours is one `explain_all` call; the fastest peer per map ({mix_note}) runs "
                         "those four calls back to back as one timed call, alternated with ours and Xplique's four; "
                         "guided Grad-CAM is that guided backprop × that Grad-CAM map, as no peer has it as one "
                         "call.")
        if slow_note:
            notes.append(f"¹ {slow_repeat} timed run{'s' if slow_repeat != 1 else ''} after the warm-up "
                         f"(slow method); the other rows: median of {'at least ' if min_seconds > 0 else ''}{repeat}.")
        sections.append(ModelSection(heading, model_table(table, slow_note), notes))
        print(sections[-1].markdown() + "\n", flush=True)
        del setup
        gc.collect()
    return sections, calls_seen, import_errors


def commit_id() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def update(previous: str, run: Run, sections: list[ModelSection], calls_seen: dict[str, dict[str, str]],
           wanted: list[str], min_seconds: float = 0.0) -> str:
    """``previous`` with the re-measured rows (and their calls and notes) put in place of the old ones."""
    lines = previous.splitlines()
    for section in sections:
        model = section.heading.split(" (")[0]
        start = next((i for i, line in enumerate(lines) if line.startswith(model + " (")), None)
        if start is None:  # a model the document did not have: add its section before the calls table
            at = next(i for i, line in enumerate(lines) if line.startswith("## What each library was asked"))
            lines[at:at] = section.markdown().splitlines() + [""]
            continue
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
        lines[start] = section.heading  # what ours compiled with XLA, as in this run
        body = lines[start:end]
        table_end = max(i for i, line in enumerate(body) if line.startswith("|")) + 1
        for key, line in section.rows:
            label = line.split(" | ")[0].removesuffix(" ¹")
            old = next((i for i, row in enumerate(body[:table_end]) if row.split(" | ")[0].removesuffix(" ¹") == label),
                       None)
            if old is None:  # a row the table did not have: before the default view, which stays last
                at = next((i for i, row in enumerate(body[:table_end]) if row.startswith("| default view")), table_end)
                body.insert(at, line)
                table_end += 1
            else:
                body[old] = line
        for note in section.notes:  # a note replaces the old one that starts with the same words (or mark)
            lead = "¹ " if note.startswith("¹ ") else note.split(":")[0].split(",")[0]
            old = next((i for i, row in enumerate(body) if row.startswith(lead)), None)
            if old is None:
                body[table_end:table_end] = ["", note]
            else:
                body[old] = note
        lines[start:end] = body
    for key, calls in calls_seen.items():
        line = f"| {key} | " + " | ".join((f"`{calls[lib]}`" if lib in calls else "—").replace("|", "\\|")
                                          for lib in LIBRARIES) + " |"
        old = next((i for i, row in enumerate(lines) if row.startswith(f"| {key} | ")), None)
        if old is not None:
            lines[old] = line
        else:  # a method the calls table did not have: before its default-view row
            at = next((i for i, row in enumerate(lines) if row.startswith("| default_view | ")), None)
            if at is not None:
                lines.insert(at, line)
    lines = [COMPILE_NOTE if line.startswith("- Ours compiles ") else line for line in lines]
    lines = [line for line in lines if not line.startswith(TF_DATA_NOTE[:24])]
    lines.insert(next(i for i, line in enumerate(lines) if line.startswith("- Ours compiles ")) + 1, TF_DATA_NOTE)
    bullet = (f"- **Re-measured** on {run.started_at:%Y-%m-%d %H:%M} UTC at commit {commit_id()} on {os.cpu_count()} "
              f"CPU cores ({cpu_name()}), rows "
              f"{', '.join(wanted)}, with `{run.command}` (load at its start `{run.load_before}`, at its end "
              f"`{uptime()}`)"
              + (f"; rows of short calls went on for more rounds until each library's timed calls added up to "
                 f"{min_seconds:g} s (at most {MAX_ROUNDS} rounds)" if min_seconds > 0 else "")
              + "; tf.data autotuning off for the peers (see below) in these rows"
              f"{'' if TF_DATA_NOTE in previous else ', where the rows not re-measured since ran with it on'}.")
    at = max(i for i, line in enumerate(lines) if line.startswith("- **")
             and i < next(j for j, row in enumerate(lines) if row.startswith("## How it is measured")))
    lines.insert(at + 1, bullet)
    return "\n".join(lines) + "\n"


TF_DATA_NOTE = (
    "- **tf.data autotuning is off** for the datasets the peers build (Xplique batches its samples through "
    "`tf.data`, Keras's `predict` too): with it on, calls stalled until a timer that doubles from 10 ms, so "
    "they ended at exactly 10.24, 20.48, 40.96 or 81.92 s whatever their work (Xplique's SmoothGrad on VGG16, "
    "4 calls each in by-hand runs: 20.5–81.9 s with it, 10.7–13.7 s without). `compare.py` turns it off "
    "(`tf.data.Options().autotune.enabled = False` on every `from_tensor_slices`, `from_tensors` and `range` "
    "dataset; "
    "ours builds none), so the table compares the libraries' computation; `--tf-data-autotune` leaves it on.")


def no_tf_data_autotune() -> None:
    """Give every dataset made by ``from_tensor_slices``, ``from_tensors`` or ``range`` autotuning off (see
    TF_DATA_NOTE): Keras's ``predict`` builds its batches from these too."""
    from explainers._tf import tf

    for name in ("from_tensor_slices", "from_tensors", "range"):
        make = getattr(tf.data.Dataset, name)
        if getattr(make, "autotune_off", False):
            continue

        def without(*args, _make=make, **kwargs):
            options = tf.data.Options()
            options.autotune.enabled = False
            return _make(*args, **kwargs).with_options(options)

        without.autotune_off = True
        setattr(tf.data.Dataset, name, staticmethod(without))


COMPILE_NOTE = (
    "- Ours compiles its one-picture passes (Grad-CAM, the gradients, the default view) and its many-sample "
    "gradient batches (SmoothGrad, integrated gradients) with XLA or as plain graphs, whichever ran faster on this "
    "machine when the model was built (`Engine.tune_passes` on the default view's pass, `Engine.tune_batches` on a "
    "chunk of gradients, as the server does at start; each model's heading says which), and its forward-only "
    "batches (occlusion, Score-CAM, RISE, LIME) as plain graphs (XLA was no faster for them and compiles once per "
    "batch shape); the peers run as they ship (tf-explain's Grad-CAM and tf-keras-vis's maps eagerly, most of "
    "Xplique in `tf.function`s).")

HEADER = "\n".join([
    "# Benchmarks: this project against tf-explain, Xplique and tf-keras-vis",
    "",
    "Generated by `benchmarks/compare.py` (set up the peers' virtualenv first with "
    "`bash benchmarks/setup_peers.sh`); do not edit by hand, run it again.",
])


def render(run: Run, sections: list[ModelSection], calls_seen: dict[str, dict[str, str]], import_errors: dict[str, Failure],
           repeat: int, slow_repeat: int, slow_models: list[str], min_seconds: float = 0.0) -> str:
    import psutil

    from explainers._tf import keras, tf
    from explainers.models import MODELS

    commit = commit_id()
    peers_line = ", ".join(
        f"{p} {version(DISTRIBUTIONS[p])}" + (f" ({import_errors[p].reason})" if p in import_errors else "")
        for p in PEERS)
    ran = [p for p in PEERS if p not in import_errors]
    how_ran = (f"{', '.join(ran)} ran in this process on Keras 3 (no legacy-Keras worker was needed)" if ran
               else "no peer could be imported")
    slow_on = ", ".join(MODELS[m].title for m in slow_models) or "no model"
    elapsed = time.perf_counter() - run.clock
    lines = [
        HEADER,
        "",
        f"- **Date**: {run.started_at:%Y-%m-%d %H:%M} UTC; the comparison took {elapsed / 60:.0f} min.",
        f"- **Command**: `{run.command}`",
        f"- **Machine**: {os.cpu_count()} CPU cores ({cpu_name()}), {psutil.virtual_memory().total / 2**30:.0f} GiB "
        f"memory, no GPU; Python {platform.python_version()}, TensorFlow {tf.__version__} (CPU), Keras "
        f"{keras.__version__}, NumPy {np.__version__}.",
        f"- **Load** (`uptime`; the machine is shared with other jobs): at the start `{run.load_before}`; "
        f"at the end `{uptime()}`.",
        f"- **Versions**: this project at commit {commit}; {peers_line}. {how_ran}.",
        "",
        "## How it is measured",
        "",
        "- Every library is handed the same Keras model object (the model's logits; seeded random weights, "
        "`load_model(name, weights=None)`: timings do not depend on weight values), the same picture (the cat, "
        "`assets/examples/chelsea.jpg`), the same target class (281, tabby) and the same settings. Where a "
        "library explains a probability (tf-explain's SmoothGrad loss, Xplique's RISE and LIME), it gets that "
        "model with a softmax appended, sharing the weights.",
        "- **Inputs**: ours is called through the public API, `explain(model, photo, ...)` with the decoded "
        "uint8 photo (451 × 300 pixels), and resizes and preprocesses it inside the timed call; the peers are "
        "given the already preprocessed batch `x` (1 × 224 × 224 × 3, or 299 for InceptionV3). Ours returns "
        "the picture's top-5 too; where its method's passes did not already give the picture's logits (a "
        "given class, and only masked, noisy or perturbed copies seen), that forward pass runs only when the "
        "top-5 is read, which these calls never do, as the peers compute no predictions at all. The logits of "
        "an input that is the same for every photo (integrated gradients' black baseline, Score-CAM's black "
        "picture) are computed once per model and then recalled (the warm-up call computes them). So are the "
        "photo's own logits, which integrated gradients needs for f(x): in the app the upload's pass leaves "
        "them, here the warm-up call does (`benchmarks/seen_photo.py` times integrated gradients on a photo "
        "never seen: one forward pass more).",
        "- **Warm**: each library's explainer object is built once per model (Xplique and tf-keras-vis objects, "
        "our compiled passes), then each call runs once untimed (tracing, XLA compiles, first-use set-up), then "
        "the libraries take turns (ours, tf-explain, Xplique, tf-keras-vis, the order rotating every round) for "
        f"{repeat} round{'s' if repeat != 1 else ''}"
        + (f", and for more rounds while any library's timed calls add up to less than {min_seconds:g} s (at most "
           f"{MAX_ROUNDS} rounds: short calls vary by a third between rounds, so a median of three says little)"
           if min_seconds > 0 else "")
        + f"; Score-CAM, RISE and LIME run on {slow_on} only, "
        f"{slow_repeat} round{'s' if slow_repeat != 1 else ''}. The table gives the **median seconds** of the "
        "timed calls. Because the libraries alternate within one run, a change in the machine's load hits all "
        "of them alike, and the **ratio ours ÷ fastest peer** stays comparable even when the seconds do not "
        "(below 1: ours is faster).",
        "- **Memory** (`MiB`): the peak of TensorFlow's CPU tensor pool during one call minus what the pool held "
        "just before it (`tf.config.experimental.get_memory_info`, statistics reset before each call), median "
        "over the timed calls: the tensors (activations, gradients, batches, XLA's buffers) that the call needed "
        "at once, on top of the model's weights. It leaves out memory outside TensorFlow's tensors (NumPy arrays, "
        "Python objects); where the pool keeps no statistics it falls back to the growth of the resident set size.",
        "- A library without the method shows `—`; a library that raised shows `failed:` and its error.",
        COMPILE_NOTE,
        TF_DATA_NOTE,
        "- **Allocator**: importing `explainers` switches TensorFlow's CPU tensors to its pooling (BFC) allocator "
        "(`TF_CPU_ALLOCATOR_USE_BFC=true`), which keeps memory between calls instead of faulting gigabytes in "
        "again on every call. It is set for the whole process, so **the peers run with it too**: their times "
        "gain from it as ours do, and the ratios compare the libraries, not the allocators. The memory column "
        "reads the pool's own statistics (above).",
        "",
        "## Results",
        "",
        *[section.markdown() + "\n" for section in sections],
        "## What each library was asked",
        "",
        "`x` is the preprocessed batch, `one_hot` the target as Xplique wants it, `<layer>` the model's "
        "recommended layer, `range` the distance from black to white in the model's input (255 for VGG16 and "
        "ResNet50, 2 for InceptionV3), `mean(black)` the mean over the colour channels of a black pixel after "
        "preprocessing.",
        "",
        "| method | " + " | ".join(LIBRARIES) + " |",
        "|---|" + "---|" * len(LIBRARIES),
    ]
    for key, calls in calls_seen.items():
        cells = [f"`{calls[lib]}`" if lib in calls else "—" for lib in LIBRARIES]
        lines.append(f"| {key} | " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", "## Where the peers compute something else", "", *NOTES, ""]
    return "\n".join(lines)


def render_ig(run: Run, table: list[str], settings: Settings, load_before: str, load_after: str,
              seconds: float) -> str:
    return "\n".join([
        IG_HEADING,
        "",
        "Completeness error = |Σ attributions − (f(x) − f(black))| / |f(x) − f(black)| (0 in theory), for our "
        "`integrated_gradients` with its default Gauss–Legendre quadrature and with the left Riemann sum "
        "(`quadrature=\"riemann_left\"`, the rule tf-explain uses), on the cat photo, the model's top-1 class, "
        f"seeded random weights; step counts tried in order {', '.join(map(str, settings.ig_table_steps))}, "
        "stopping at the first at or under 1 %. Each entry is one run of `benchmarks/ig_completeness.py` "
        "(imported, for one rule and one step count at a time). Every step is one gradient evaluation, so the "
        "step counts are the cost. The errors do not depend on the machine's load; only the time does.",
        "",
        f"Run {run.started_at:%Y-%m-%d %H:%M} UTC with `{run.command}`; it took {seconds / 60:.0f} min; load "
        f"`{load_before}` at its start, `{load_after}` at its end.",
        "",
        *table,
        "",
    ])


NOTES = [
    "- **tf-explain, integrated gradients**: a left Riemann sum of the gradients that is *not* multiplied "
    "by (x − x′), so its map is the path-averaged gradient rather than integrated gradients, and it cannot "
    "satisfy completeness; its baseline is fixed at 0 of the preprocessed input (the mean colour for VGG16 "
    "and ResNet50, grey for InceptionV3), not black.",
    "- **Xplique, integrated gradients**: the trapezoid rule over `steps` points; its baseline is one scalar, "
    "given as the mean of black's three preprocessed channel values (exact for InceptionV3, an approximation "
    "of black for the caffe-style VGG16 and ResNet50 preprocessing).",
    "- **tf-explain, SmoothGrad**: the gradient of a cross-entropy loss on the probabilities (hence the softmax "
    "model), not of the class score; noise σ = 0.2 × range as ours.",
    "- **tf-keras-vis, SmoothGrad**: σ = 0.2 × this input's own max − min (close to 0.2 × range for a photo "
    "with near-black and near-white pixels), and one backward pass per sample, eagerly.",
    "- **tf-explain, Grad-CAM**: run with `use_guided_grads=False` (its default gates the layer gradients by "
    "their sign and the activations', which is not Grad-CAM); it builds a new gradient model on every call, "
    "eagerly. Its calls return a colour-mapped picture grid, which is part of its call and so of its time.",
    "- **tf-explain, occlusion**: the stride is the patch size; patches are filled with 127.5 in its input's "
    "units, and the map is 1 − score at a resolution of one value per patch; it runs the patches through "
    "`model.predict`. Xplique's occlusion fills with 0 of the preprocessed input and places only patches that "
    "fit inside the picture (81 instead of 100 on InceptionV3's 299 px); ours fills with grey and adds a last "
    "row and column of patches that end at the border.",
    "- **Score-CAM**: tf-keras-vis picks its `max_N` channels by the spread of their activations, ours the "
    "`top_k` by their mean; it weights each channel by the softmax probability of the picture seen through "
    "it, ours by that probability's rise over a black picture's.",
    "- **Xplique, LIME**: given SLIC superpixels computed on its input rescaled to 0..1 (ours cuts the photo "
    "the model sees into ~50 SLIC segments with the same compactness); its kernel and ridge regression are "
    "its own. RISE and LIME explain the softmax probability in both.",
    "- **Vanilla gradient**: ours, Xplique's `Saliency` and tf-keras-vis's `Saliency` take the maximum of "
    "|gradient| over the colour channels; tf-explain sums |gradient| over them and standardises the result "
    "into a grey picture. Gradient × input: ours sums over the channels (signed), Xplique averages, "
    "tf-explain sums the absolute values and standardises.",
    "- **Guided backprop**: Xplique and tf-keras-vis swap the ReLU gradient in a clone of the model (made "
    "once, outside the timed call); ours compiles a separate guided pass and leaves the model alone.",
]


if __name__ == "__main__":
    main()
