"""People's own Keras image classifiers: check a ``.keras`` file, load it safely, read its labels, and
adapt it (``explainers.keras_graph``) into the same ``ExplainableModel`` the built-in models are.

A ``.keras`` file is a zip holding ``config.json`` (the layers), ``metadata.json`` and the weights. It
is checked before Keras opens it (``check_keras_file``: a zip, no path tricks, no zip bomb, a config),
then loaded with Keras's safe mode, which refuses Lambda layers (they carry Python code). Nothing is
ever unpickled. A model that fails to load leaves nothing behind: no resident model, no temporary file.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from explainers.errors import ModelFileError
from explainers.keras_graph import LAMBDA_MESSAGE, adapt, check_image_input, recommended_layer
from explainers.keras_graph import cam_applicable as _cam_reason
from explainers.labels import Labels
from explainers.own_preprocessing import PREPROCESSING, NamedPreprocessing, check_preprocessing

DEFAULT_MAX_BYTES = 300 * 1024 * 1024  # the upload limit of the page (issue 23)
MAX_MEMBERS = 1000  # a Keras 3 file holds three
UNPACKED_PER_PACKED = 4  # how much larger than the file its members may be once unpacked, in total
MAX_CONFIG_BYTES = 64 * 1024 * 1024
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
SAVE_HINT = "Save the whole model with model.save('my_model.keras') (Keras 3) and upload that file."

__all__ = [
    "PREPROCESSING",
    "ModelFileError",
    "cam_applicable",
    "check_keras_file",
    "describe",
    "from_keras",
    "load_keras_bytes",
    "load_keras_model",
    "parse_labels",
    "recommended_layer",
]


# ---- the file ------------------------------------------------------------------------------------
def check_keras_file(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES, safe_mode: bool = True) -> None:
    """Raise ModelFileError in plain words unless ``path`` looks like a sound ``.keras`` zip, before
    Keras reads it: size at most ``max_bytes``; a zip whose central directory is whole (a truncated
    upload has none); at most MAX_MEMBERS members, none with an absolute or ``..`` path; unpacked, at most
    UNPACKED_PER_PACKED × ``max_bytes`` (a zip bomb declares far more); a readable ``config.json``.
    An HDF5 file (``.h5``, weights only or the old format) gets told what to upload instead. In
    ``safe_mode``, a config naming a Lambda layer is refused here already, in the words Keras's would be."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(len(HDF5_SIGNATURE))
    except OSError as error:
        raise ModelFileError(f"The model file cannot be read ({error.strerror or type(error).__name__}).") from None
    if size > max_bytes:
        raise ModelFileError(f"The model file is {size / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB.")
    if head == HDF5_SIGNATURE:
        raise ModelFileError(
            "This is an HDF5 (.h5) file: weights only, or Keras's old format, which cannot be checked "
            f"safely. {SAVE_HINT}"
        )
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"This is not a .keras file (a .keras file is a zip archive; this file is not one, or it was cut "
            f"short while uploading). {SAVE_HINT}"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_members(members, max_bytes)
            names = {member.filename for member in members}
            if "config.json" not in names:
                raise ModelFileError(f"This zip holds no config.json, so it is not a Keras 3 model file. {SAVE_HINT}")
            if archive.getinfo("config.json").file_size > MAX_CONFIG_BYTES:
                raise ModelFileError("The model's config.json is implausibly large; the file was refused.")
            config = json.loads(archive.read("config.json").decode("utf-8"))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as error:
        raise ModelFileError(f"The .keras file is damaged or incomplete ({error}). {SAVE_HINT}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(
            f"The model's config.json is not readable JSON: the file is damaged. {SAVE_HINT}"
        ) from None
    if safe_mode and "Lambda" in _class_names(config):
        raise ModelFileError(LAMBDA_MESSAGE)


def _check_members(members: list[zipfile.ZipInfo], max_bytes: int) -> None:
    if len(members) > MAX_MEMBERS:
        raise ModelFileError(f"The .keras file holds {len(members)} files; a Keras model file holds a few.")
    for member in members:
        name = member.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or ":" in name or ".." in parts:
            raise ModelFileError(f"The .keras file holds a file with an unsafe path ({name!r}); it was refused.")
    unpacked = sum(member.file_size for member in members)
    if unpacked > UNPACKED_PER_PACKED * max_bytes:
        raise ModelFileError(
            f"The .keras file would unpack to {unpacked / 2**20:.0f} MB, far more than a model of its size "
            f"(a 'zip bomb'); it was refused."
        )


def _class_names(config: Any) -> set[str]:
    """Every ``class_name`` in a Keras config, at any depth."""
    found: set[str] = set()
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("class_name"), str):
                found.add(item["class_name"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def file_hash(path: str | os.PathLike) -> str:
    """The sha256 of the file's bytes (hex): the model's identity in caches and stores."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- labels --------------------------------------------------------------------------------------
def parse_labels(source: bytes | str | os.PathLike | list[str] | Mapping | None, outputs: int) -> Labels:
    """Class labels for a model with ``outputs`` classes.

    ``source``: a list of names; the bytes or text of a ``.txt`` file (one name a line, blank lines
    ignored) or of a ``.json`` file (a list, or {index: name}); a path to either; a mapping {index:
    name}; or None for
    "class 0" … "class N−1". A count other than ``outputs`` is an error in words."""
    if source is None:
        return Labels.from_names([f"class {i}" for i in range(outputs)])
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and _is_file(source)):
        try:
            source = Path(source).read_bytes()
        except OSError as error:
            raise ModelFileError(f"The labels file cannot be read ({error.strerror}).") from None
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ModelFileError("The labels file is not text (UTF-8): give a .txt or .json file.") from None
    if isinstance(source, str):
        names = _names_from(source)
    elif isinstance(source, Mapping):  # {index: name}, as a sidecar file's table gives it
        names = _indexed_names(source)
    else:
        names = [str(name) for name in source]
    names = [" ".join(name.split()) for name in names]
    if any(not name for name in names):
        raise ModelFileError("A label is empty: give every class a name.")
    if len(names) != outputs:
        raise ModelFileError(
            f"The labels file has {len(names)} names but the model has {outputs} outputs; give one name per output."
        )
    return Labels.from_names(names)


def _is_file(text: str) -> bool:
    try:
        return len(text) < 4096 and Path(text).is_file()
    except (OSError, ValueError):
        return False


def _indexed_names(data: Mapping) -> list[str]:
    try:
        indexed = {int(key): str(name) for key, name in data.items()}
    except (TypeError, ValueError):
        raise ModelFileError('Labels given as a table must map class numbers to names, e.g. {"0": "cat"}.') from None
    if sorted(indexed) != list(range(len(indexed))):
        raise ModelFileError("The labels must number the classes 0, 1, 2, … without gaps.")
    return [indexed[i] for i in range(len(indexed))]


def _names_from(text: str) -> list[str]:
    stripped = text.strip()
    if stripped[:1] in "[{":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            raise ModelFileError("The labels file looks like JSON but cannot be read as JSON.") from None
        if isinstance(data, list):
            return [str(name) for name in data]
        if isinstance(data, dict):
            return _indexed_names(data)
        raise ModelFileError("A JSON labels file must hold a list of names or an object {number: name}.")
    return [line for line in (line.strip() for line in text.splitlines()) if line]


# ---- models --------------------------------------------------------------------------------------
def cam_applicable(model: Any) -> str | None:
    """None if CAM applies (the model ends in global average pooling + one Dense layer); else the
    reason in words. ``model``: an ExplainableModel or a Keras model rebuilt by ``from_keras`` (its
    dropout layers are gone, as at inference)."""
    return _cam_reason(getattr(model, "keras", model))


def describe(model: Any) -> dict[str, Any]:
    """What a page or an API shows about a model, as plain JSON-ready values (no TensorFlow objects)."""
    return {
        "name": model.name,
        "title": model.title,
        "explaining": model.explaining,
        "input_shape": list(model.input_shape),
        "channels": model.channels,
        "preprocessing": model.preprocessing,
        "preprocessing_words": PREPROCESSING.get(model.preprocessing or "", ""),
        "classes": len(model.labels),
        "labels": model.labels.names,
        "layers": [info.name for info in model.layers],
        "default_layer": model.default_layer,
        "cam_not_applicable": cam_applicable(model),  # None: CAM is offered; else why not, in words
        "weights_id": model.weights_id,
    }


def from_keras(
    keras_model: Any,
    *,
    labels: bytes | str | os.PathLike | list[str] | Labels | None = None,
    preprocessing: str = "unit",
    name: str = "custom",
    title: str | None = None,
    default_layer: str | None = None,
    weights_id: str | None = None,
) -> Any:
    """An ``ExplainableModel`` of any Keras image classifier (see ``explainers.keras_graph.adapt``).

    ``preprocessing``: one of PREPROCESSING. ``labels``: see ``parse_labels``; a binary model (one
    output unit) may get one name "X", shown as "not X" / "X", or two. ``weights_id``: the identity of
    the weights in caches (default: a hash of the weights' values). The given model is not changed."""
    from explainers.explainable import ExplainableModel

    preprocessing = check_preprocessing(preprocessing)
    adapted = adapt(keras_model)
    keras = adapted.keras
    outputs = int(keras.output_shape[-1])
    if isinstance(labels, Labels):
        parsed = labels
    elif adapted.binary and labels is not None:
        parsed = _binary_labels(labels)
    else:
        parsed = parse_labels(labels, outputs)
    if len(parsed) != outputs:
        raise ModelFileError(f"The model has {outputs} outputs but {len(parsed)} labels were given.")
    recommended = recommended_layer(keras)
    if default_layer:
        known = {layer.name for layer in keras.layers}
        if default_layer not in known:
            raise ModelFileError(
                f"The model has no layer called {default_layer!r}; the recommended one is {recommended}."
            )
    channels = check_image_input(keras)[2]
    model = ExplainableModel(
        keras,
        name,
        labels=parsed,
        preprocess=NamedPreprocessing(preprocessing, channels),
        default_layer=default_layer or recommended,
        weights="file" if weights_id else "in memory",
        weights_id=weights_id or "keras:" + _weights_digest(keras),
        title=title or name,
        explaining=adapted.explaining,
        output_activation=adapted.activation,
    )
    return model


def _binary_labels(source: Any) -> Labels:
    try:
        return parse_labels(source, 2)
    except ModelFileError:
        one = parse_labels(source, 1)[0].name
    return Labels.from_names([f"not {one}", one])


def _weights_digest(keras_model: Any) -> str:
    digest = hashlib.sha256()
    for weights in keras_model.get_weights():
        digest.update(str(weights.shape).encode())
        digest.update(weights.tobytes())
    return digest.hexdigest()[:32]


def load_keras_model(
    path: str | os.PathLike,
    *,
    labels: bytes | str | os.PathLike | list[str] | None = None,
    preprocessing: str = "unit",
    name: str | None = None,
    title: str | None = None,
    default_layer: str | None = None,
    safe_mode: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Any:
    """Load a ``.keras`` file as an ``ExplainableModel`` (checks first: ``check_keras_file``).

    ``safe_mode``: Keras's safe mode, which refuses Lambda layers; only an admin's model folder may turn
    it off. The model's ``weights_id`` is "keras:" + the sha256 of the file. Any failure is a
    ModelFileError in words and leaves no model and no temporary file behind."""
    path = Path(path)
    check_keras_file(path, max_bytes=max_bytes, safe_mode=safe_mode)
    digest = file_hash(path)
    preprocessing = check_preprocessing(preprocessing)
    if path.suffix.lower() != ".keras":  # Keras picks the format by the name's ending
        with tempfile.TemporaryDirectory(prefix="explainers-model-") as folder:
            copy = Path(folder) / "model.keras"
            shutil.copyfile(path, copy)
            original = _keras_load(copy, safe_mode)
    else:
        original = _keras_load(path, safe_mode)
    try:
        return from_keras(
            original,
            labels=labels,
            preprocessing=preprocessing,
            name=name or path.stem,
            title=title,
            default_layer=default_layer,
            weights_id=f"keras:{digest[:32]}",
        )
    finally:
        del original
        gc.collect()


def load_keras_bytes(data: bytes, **options: Any) -> Any:
    """``load_keras_model`` on the bytes of an uploaded file, through a temporary file removed afterwards."""
    max_bytes = options.get("max_bytes", DEFAULT_MAX_BYTES)
    if len(data) > max_bytes:
        raise ModelFileError(f"The model file is {len(data) / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB.")
    with tempfile.TemporaryDirectory(prefix="explainers-upload-") as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(data)
        return load_keras_model(path, **options)


def _keras_load(path: Path, safe_mode: bool) -> Any:
    from explainers._tf import configure_devices, keras

    configure_devices()
    try:
        return keras.saving.load_model(str(path), compile=False, safe_mode=safe_mode)
    except Exception as error:  # noqa: BLE001 - every failure is told in words below
        message = _load_failure(error)
    gc.collect()  # the half-built model goes now, not at the next collection
    raise ModelFileError(message)


def _load_failure(error: BaseException) -> str:
    text = " ".join(str(error).split())
    lowered = text.lower()
    if "lambda" in lowered and ("safe_mode" in lowered or "unsafe" in lowered):
        return LAMBDA_MESSAGE
    if any(words in lowered for words in ("could not locate", "unknown layer", "could not deserialize")):
        found = text.split("'")[1].rsplit(".", 1)[-1] if text.count("'") >= 2 else "a custom layer"
        return (
            f"The model uses a layer type this program does not know ({found}): custom layers cannot be loaded "
            f"from an upload. Rebuild the model from Keras's own layers, or ask the admin to add it to the model "
            f"folder with its code."
        )
    short = text[:200] + ("…" if len(text) > 200 else "")
    return f"The model file could not be loaded ({short}). It may be damaged or made with another Keras. {SAVE_HINT}"
