"""The model registry: VGG16, ResNet50 and InceptionV3 from ``keras.applications``, with their inputs,
preprocessing, logits output, pickable layers and recommended layer, and where their weights come from.

Every model is built with ``classifier_activation=None``: its output is the class score before the
softmax (the logit), which is what the saliency literature explains. Probabilities for the top-5 list
are a softmax taken afterwards.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from explainers import weights as weights_mod
from explainers.errors import UnknownNameError, WeightsError
from explainers.explainable import (  # noqa: F401 - re-exported: the model object's historic home
    ExplainableModel,
    LayerInfo,
    Preprocessing,
    check_image,
    pickable_layers,
    prepare_image,
)
from explainers.labels import IMAGENET_LABELS, Labels
from explainers.ops import probabilities as ops_probabilities


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    builder: str  # attribute of keras.applications
    preprocess: str  # module of keras.applications whose preprocess_input this model needs
    input_size: int
    default_layer: str
    blurb: str
    family: str = "imagenet"  # "imagenet": keras.applications + ImageNet weights; "shapes": the offline demo


def _shapes_spec() -> ModelSpec:
    from explainers import shapes

    return ModelSpec(
        "shapes",
        "Shapes (offline demo)",
        "shapes",
        "shapes",
        shapes.IMAGE_SIZE,
        shapes.DEFAULT_LAYER,
        f"A small CNN trained here on generated pictures of {len(shapes.CLASSES)} shapes; its weights "
        f"ship with the app and every demo picture comes with the object's true outline.",
        family="shapes",
    )


def _clever_hans_spec() -> ModelSpec:
    from explainers import clever_hans

    return replace(
        _shapes_spec(),
        name=clever_hans.NAME,
        title="Shapes, Clever Hans (a model that cheats)",
        blurb="The Shapes network trained on pictures whose corner mark gives the class away: right for the "
        "wrong reason. Check it on a set of pictures and compare with the honest Shapes model.",
    )


def shipped_weights(name: str) -> Path:
    """The weights file that ships with a model of the "shapes" family."""
    from explainers import clever_hans

    return clever_hans.shipped_weights(name)


MODELS: dict[str, ModelSpec] = {
    "vgg16": ModelSpec(
        "vgg16",
        "VGG16",
        "VGG16",
        "vgg16",
        224,
        "block5_conv3",
        "Simonyan & Zisserman 2014: 16 layers, plain convolutions, 138 M parameters.",
    ),
    "resnet50": ModelSpec(
        "resnet50",
        "ResNet50",
        "ResNet50",
        "resnet",
        224,
        "conv5_block3_out",
        "He et al. 2015: 50 layers with shortcut connections, 26 M parameters.",
    ),
    "inception_v3": ModelSpec(
        "inception_v3",
        "InceptionV3",
        "InceptionV3",
        "inception_v3",
        299,
        "mixed10",
        "Szegedy et al. 2015: parallel filter sizes per block, 24 M parameters.",
    ),
    "shapes": _shapes_spec(),
    "shapes_clever_hans": _clever_hans_spec(),
}
IMAGENET_MODELS = tuple(name for name, spec in MODELS.items() if spec.family == "imagenet")
_ALIASES = {
    "demo": "shapes",
    "vgg": "vgg16",
    "resnet": "resnet50",
    "inception": "inception_v3",
    "inceptionv3": "inception_v3",
    "inception-v3": "inception_v3",
}


def model_names() -> list[str]:
    return list(MODELS)


def model_labels(name: str) -> Labels:
    """The class labels of a registry model, without building it (no TensorFlow)."""
    if MODELS[resolve_model_name(name)].family == "shapes":
        return _shapes_labels()
    return IMAGENET_LABELS


@functools.lru_cache(maxsize=1)
def _shapes_labels() -> Labels:
    from explainers import shapes

    return Labels.from_names(list(shapes.CLASSES))


_STATIC_LAYERS: dict[str, list[LayerInfo]] = {}


def static_layers(name: str) -> list[LayerInfo]:
    """The pickable layers of a registry model, read from shipped data (no TensorFlow, no model build)."""
    key = resolve_model_name(name)
    if not _STATIC_LAYERS:
        rows = json.loads((Path(__file__).resolve().parent / "data" / "layers.json").read_text(encoding="utf-8"))
        for model, layers in rows.items():
            _STATIC_LAYERS[model] = [LayerInfo(*row) for row in layers]
    return _STATIC_LAYERS[key]


def resolve_model_name(name: str) -> str:
    key = str(name).strip().lower().replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in MODELS:
        raise UnknownNameError(f"Unknown model {name!r}. Choose one of: {', '.join(MODELS)}.")
    return key


def is_keras_path(name: Any) -> bool:
    """True if ``name`` is a path to a ``.keras`` file rather than a registry model's name."""
    return isinstance(name, (str, os.PathLike)) and str(name).lower().endswith(".keras")


def probabilities(logits: np.ndarray, activation: str = "softmax") -> np.ndarray:
    """A model's probabilities from its scores (``ExplainableModel.output_activation``): a softmax over the
    classes, or for a multi-label model each class's own sigmoid (they need not sum to 1)."""
    return ops_probabilities(np.asarray(logits, dtype=np.float64), activation)


def top_classes(
    logits: np.ndarray, labels: Labels, top: int = 5, activation: str = "softmax"
) -> list[tuple[int, str, float]]:
    found = probabilities(logits, activation)
    order = np.argsort(-found, kind="stable")[: max(1, int(top))]
    return [(int(i), labels[int(i)].name, float(found[i])) for i in order]


# ---- loading -------------------------------------------------------------------------------------
_cache: OrderedDict[tuple, ExplainableModel] = OrderedDict()  # least recently used first
_cache_lock = threading.Lock()
_build_locks: dict[tuple, threading.Lock] = {}
_footprints: dict[int, int] = {}  # id of a resident model -> its estimated footprint in bytes
MAX_MODELS_ENV = "EXPLAINERS_MAX_MODELS"  # how many models stay resident per process
ALLOW_RANDOM_ENV = "EXPLAINERS_ALLOW_RANDOM"  # "0": refuse requests for random weights
DEFAULT_MAX_MODELS = 4  # the registry's four models, one weights each
MODELS_MB_ENV = "EXPLAINERS_MODELS_MB"  # the memory resident models may take per process, estimated
DEFAULT_MODELS_MB = 8192
# a model's resident footprint is estimated as its weights' bytes times this: its compiled passes and
# their buffers hold several times the weights (a random-weights VGG16, 0.53 GB of weights, held ~3 GB)
FOOTPRINT_PER_WEIGHT_BYTE = 6


def max_resident_models() -> int:
    """How many built models a process keeps (``EXPLAINERS_MAX_MODELS``; at least 1). A full-size model
    with its compiled passes takes gigabytes, so the least recently used one is let go beyond this."""
    try:
        return max(1, int(os.environ.get(MAX_MODELS_ENV, "") or DEFAULT_MAX_MODELS))
    except ValueError:
        return DEFAULT_MAX_MODELS


def resident_budget_bytes() -> int:
    """The estimated memory resident models may take per process (``EXPLAINERS_MODELS_MB``)."""
    try:
        megabytes = float(os.environ.get(MODELS_MB_ENV, "") or DEFAULT_MODELS_MB)
    except ValueError:
        megabytes = DEFAULT_MODELS_MB
    return int(max(0.0, megabytes) * 1024 * 1024)


def footprint_bytes(model: ExplainableModel) -> int:
    """The estimated resident memory of a built model with its compiled passes (see FOOTPRINT_PER_WEIGHT_BYTE)."""
    weights = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.keras.weights)
    return weights * FOOTPRINT_PER_WEIGHT_BYTE


def random_weights_allowed() -> bool:
    """Whether requests may ask for random weights (``EXPLAINERS_ALLOW_RANDOM=0`` turns them off)."""
    return os.environ.get(ALLOW_RANDOM_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def load_model(
    name: str | os.PathLike,
    weights: str | os.PathLike | None = "imagenet",
    *,
    seed: int = 0,
    weights_dir: str | os.PathLike | None = None,
    cache: bool = True,
    **own: Any,
) -> ExplainableModel:
    """Build (or return the already-built) model ``name`` with the given weights.

    ``weights``: ``"imagenet"`` (Keras's download and cache, or the offline weights folder),
    ``None`` or ``"none"``/``"random"`` (seeded random weights: for tests; maps are meaningless), or a path
    to an ``.h5``/``.weights.h5`` file for this architecture. Models are cached per process, so a second
    call with the same arguments is free and every caller shares one resident copy; at most
    ``max_resident_models()`` stay, within ``resident_budget_bytes()`` of estimated memory (the newest
    always stays), the least recently used one let go first.

    ``name`` may also be the path of one's own ``.keras`` file; ``own`` are then the options of
    ``explainers.own_models.load_keras_model`` (``labels``, ``preprocessing``, ``title``, ...).
    """
    if is_keras_path(name):
        from explainers.own_models import load_keras_model

        stat = Path(name).stat() if Path(name).is_file() else None
        key = ("keras", str(Path(name).resolve()), stat and (stat.st_size, stat.st_mtime_ns), repr(sorted(own.items())))
        build = functools.partial(load_keras_model, name, **own)
    else:
        if own:
            raise TypeError(f"load_model() got options only a .keras file takes: {', '.join(own)}.")
        key_name = resolve_model_name(name)
        mode, path = _weights_mode(weights, key_name, weights_dir)
        key = (key_name, mode, str(path) if path else None, seed if mode == "random" else None)
        build = functools.partial(_build, key_name, mode, path, seed)
    if not cache:
        return build()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        lock = _build_locks.setdefault(key, threading.Lock())
    with lock:  # one build per key even when many threads ask at once
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        model = build()
        footprint = footprint_bytes(model)
        with _cache_lock:
            _cache[key] = model
            _footprints[id(model)] = footprint
            # the least recently used go; a job still computing with one holds its own reference, so that
            # model is only freed when the job ends
            while len(_cache) > 1 and (
                len(_cache) > max_resident_models()
                or sum(_footprints.get(id(m), 0) for m in _cache.values()) > resident_budget_bytes()
            ):
                _, gone = _cache.popitem(last=False)
                _footprints.pop(id(gone), None)
        return model


def loaded_models() -> list[str]:
    """The models resident in this process, as "name (weights)"."""
    with _cache_lock:
        return [f"{model.name} ({model.weights})" for model in _cache.values()]


def _weights_mode(weights, name: str, weights_dir) -> tuple[str, Path | None]:
    if weights is None or (isinstance(weights, str) and weights.strip().lower() in {"none", "random"}):
        return "random", None
    if isinstance(weights, str) and weights.strip().lower() in {"imagenet", "trained"}:
        if MODELS[name].family == "shapes":  # its trained weights ship with the code
            return "file", shipped_weights(name)
        return "imagenet", weights_mod.find_local(name, weights_dir)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsError(
            f"There is no weights file at {str(path)!r}. Give the path of an .h5 file, "
            f"'imagenet', or 'none' for random weights."
        )
    return "file", path


def _build(name: str, mode: str, path: Path | None, seed: int) -> ExplainableModel:
    from explainers._tf import configure_devices, keras

    configure_devices()
    spec = MODELS[name]
    if spec.family == "shapes":
        return _build_shapes(mode, path, seed, name)
    builder = getattr(keras.applications, spec.builder)
    preprocess = getattr(keras.applications, spec.preprocess).preprocess_input
    if mode == "random":
        keras.utils.set_random_seed(seed)
        keras_model = builder(weights=None, classifier_activation=None)
        weights, weights_id, random_weights = f"random (seed {seed})", f"random:{seed}", True
    else:
        weights_id = None
        if mode == "imagenet" and path is None:  # fetched before anything is built: a failure costs no memory
            wfile = weights_mod.IMAGENET_WEIGHTS[name]
            if weights_mod.offline():
                raise WeightsError(weights_mod.missing_message(wfile, f"{weights_mod.OFFLINE_ENV} is set"))
            path, weights_id = weights_mod.fetch(name, progress=False), f"imagenet:{wfile.md5}"
        problem = _unreadable_weights(path)
        keras_model = None if problem else builder(weights=None, classifier_activation=None)
        if keras_model is not None:
            try:
                keras_model.load_weights(str(path))
            except Exception as exc:  # noqa: BLE001 - any failure means the same to the person
                problem = weights_mod._short(exc)
        if problem:
            # drop the half-built model here: the error raised below keeps no frame or cause that holds it
            keras_model = None
            raise WeightsError(
                f"The weights file {path} could not be loaded into {spec.title} ({problem}): it may be incomplete, "
                f"damaged, or made for another model. Delete it and fetch it again with: "
                f"python -m explainers fetch-weights --model {name}"
            )
        weights = "imagenet" if mode == "imagenet" else f"file: {path}"
        weights_id = weights_id or f"{'imagenet' if mode == 'imagenet' else 'file'}:{_file_digest(path)}"
        random_weights = False
    return ExplainableModel(
        keras_model,
        name,
        labels=IMAGENET_LABELS,
        preprocess=preprocess,
        default_layer=spec.default_layer,
        weights=weights,
        weights_id=weights_id,
        random_weights=random_weights,
        title=spec.title,
    )


@functools.lru_cache(maxsize=4)
def shapes_weights_id(name: str = "shapes") -> str:
    """The identity of the shipped Shapes weights: a hash of the file's bytes (small; same in every clone)."""
    try:
        return "shapes:" + hashlib.sha256(shipped_weights(name).read_bytes()).hexdigest()[:16]
    except OSError:
        return "shapes:missing"


def _build_shapes(mode: str, path: Path | None, seed: int, name: str = "shapes") -> ExplainableModel:
    from explainers import shapes
    from explainers._tf import keras

    spec = MODELS[name]
    if mode == "random":
        keras.utils.set_random_seed(seed)
        keras_model = shapes.build_model(seed)
        weights, weights_id, random_weights = f"random (seed {seed})", f"random:{seed}", True
    else:
        keras_model = shapes.build_model()
        try:
            keras_model.load_weights(str(path))
        except Exception as exc:
            raise WeightsError(
                f"The weights file {path} could not be loaded into the Shapes model: it may be "
                f"damaged or made for another model. The shipped file is {shapes.WEIGHTS_PATH}; "
                f"scripts/train_shapes.py makes it again."
            ) from exc
        shipped = path is not None and Path(path).resolve() == shipped_weights(name).resolve()
        weights = "trained (shipped)" if shipped else f"file: {path}"
        weights_id = shapes_weights_id(name) if shipped else f"file:{_file_digest(Path(path))}"
        random_weights = False
    return ExplainableModel(
        keras_model,
        name,
        labels=_shapes_labels(),
        preprocess=shapes.preprocess,
        default_layer=spec.default_layer,
        weights=weights,
        weights_id=weights_id,
        random_weights=random_weights,
        title=spec.title,
    )


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _unreadable_weights(path: Path | None) -> str | None:
    """Why ``path`` cannot be a Keras ``.h5`` weights file (checked before a model is built), or None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(HDF5_SIGNATURE))
    except (OSError, TypeError) as error:
        return f"it cannot be read: {getattr(error, 'strerror', None) or type(error).__name__}"
    if head != HDF5_SIGNATURE:
        return "it is not an HDF5 file"
    return None


def _file_digest(path: Path) -> str:
    """A cheap identity for a weights file: size, mtime and the hash of its first and last MiB."""
    stat = path.stat()
    digest = hashlib.sha256(f"{stat.st_size}:{int(stat.st_mtime)}".encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(1 << 20))
        if stat.st_size > 2 << 20:
            handle.seek(-(1 << 20), os.SEEK_END)
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:16]
