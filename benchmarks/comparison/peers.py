"""How each library (ours through the public API, tf-explain, Xplique, tf-keras-vis) is called: a ``Case``
per method, built once per model from a ``Setup`` that every library shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import ROOT
from .measure import Failure, short

PEERS = ("tf-explain", "Xplique", "tf-keras-vis")
LIBRARIES = ("ours", *PEERS)
DISTRIBUTIONS = {"tf-explain": "tf-explain", "Xplique": "xplique", "tf-keras-vis": "tf-keras-vis"}
MODULES = {"tf-explain": "tf_explain", "Xplique": "xplique", "tf-keras-vis": "tf_keras_vis"}
TARGET = 281  # tabby cat


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


# ---- our side: the public API ---------------------------------------------------------------------
def ours(method: str, **params: Any) -> Case:
    def build(s: Setup):
        from explainers.api import explain

        return lambda: explain(s.model, s.photo, method, target=TARGET, **params)

    shown = "".join(f", {k}={v!r}" for k, v in params.items())
    return Case(f"explain(model, photo, {method!r}, target=281{shown})", build)


def ours_default_view(methods: list[str]) -> Case:
    """Our default view: ``methods`` in one ``explain_all`` call, sharing their passes."""

    def build(s: Setup):
        from explainers.api import explain_all

        return lambda: explain_all(s.model, s.photo, methods, target=TARGET)

    return Case(f"explain_all(model, photo, {methods}, target=281)", build)


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
    made = "model_modifier=GuidedBackpropagation(), clone=True" if guided else "clone=False"

    def build(s: Setup):
        import importlib

        from tf_keras_vis.utils.model_modifiers import GuidedBackpropagation
        from tf_keras_vis.utils.scores import CategoricalScore

        visualiser_class = getattr(importlib.import_module(f"tf_keras_vis.{module}"), cls)
        visualiser = (
            visualiser_class(s.keras, model_modifier=GuidedBackpropagation(), clone=True)
            if guided
            else visualiser_class(s.keras, clone=False)
        )
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
            return tf.cast(slic(values, n_segments=segments, compactness=10, start_label=0, channel_axis=-1), tf.int32)

        return mapping

    return Label(f"SLIC({segments})", make)


def occlusion_tfe(patch: int) -> Callable[[Setup], Callable[[], Any]]:
    def build(s: Setup):
        from tf_explain.core import OcclusionSensitivity

        explainer = OcclusionSensitivity(batch_size=32)
        return lambda: explainer.explain((s.inputs, None), s.keras, TARGET, patch_size=patch)

    return build


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
    return Setup(model, logits, probabilities, photo, inputs, onehot, model.default_layer, model.input_range(), black)


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
