"""Every model the service can explain, by name: the built-in registry (``explainers.models.MODELS``) and
the models people brought (``service.own_models``: the admin's folder, uploads, a notebook's model).

Built-in models are described by shipped data (no TensorFlow). A brought model's facts (input size,
layers, recommended layer, classes, what is explained, whether CAM applies) are only known once it is
built, so they are computed once by a job where models are built (a local thread or a Celery worker,
``ExplainerService.model_facts``), cached like a map, and kept here.

The module-level ``title`` and ``labels`` answer for any model name in this process, for the code that
has no service at hand (``service.classes``): the admin's folder models and the uploads this process has
seen are noted in a process-wide table (names only lead to models their owners were given).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from explainers.errors import ExplainerError, UnknownNameError
from explainers.labels import Labels
from explainers.models import _ALIASES, MODELS, max_resident_models, model_labels, resolve_model_name
from explainers.own_models import file_hash
from service.own_models import (
    UPLOAD_NAME,
    ModelFiles,
    OwnModel,
    check_name_for,
    models_dir,
    owner_of,
    scan_folder,
    upload_limit_bytes,
)

BUILTIN_NAMES = frozenset({*MODELS, *_ALIASES})
FAMILY_WORDS = {"folder": "model folder", "upload": "your upload", "notebook": "your notebook"}

_known: dict[str, tuple[OwnModel, Callable[[str], dict[str, Any]]]] = {}  # name -> (model, its facts)
_known_lock = threading.Lock()


def _note(entry: OwnModel, facts: Callable[[str], dict[str, Any]]) -> None:
    with _known_lock:
        _known[entry.name] = (entry, facts)


def title(model: Any) -> str:
    """A model's name as people read it ("VGG16", a folder model's title); an unknown name comes back as given."""
    try:
        return MODELS[resolve_model_name(model)].title
    except ExplainerError:
        found = _known.get(str(model))
        return found[0].title if found else str(model)


def labels(model: Any) -> Labels:
    """A model's classes: the registry's, or a brought model's (computing its facts if they are not known)."""
    found = _known.get(str(model)) if isinstance(model, str) else None
    if found is None:
        return model_labels(model)
    return Labels.from_names(found[1](found[0].name)["labels"])


class ModelCatalogue:
    """The models of one service: names, listing, facts, and the brought models built in this process."""

    def __init__(self, data_dir: Path, facts: Callable[[str], dict[str, Any]], files: ModelFiles | None = None):
        """``facts(name)``: the service's way to get a brought model's facts (a job, cached)."""
        self.folder = models_dir()
        self.files = files or ModelFiles(Path(data_dir) / "models")
        self._facts = facts
        self._notebook: dict[str, OwnModel] = {}
        self._folder_entries: dict[str, OwnModel] = {}
        self._folder_stamp: int | None = -1  # the folder's modification time when last read (-1: never read)
        self._resident: OrderedDict[tuple, Any] = OrderedDict()
        self._build_locks: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()
        self._digests: dict[tuple, str] = {}  # (path, size, mtime) -> SHA-256 of a folder model's file
        self.facts_known: dict[str, dict[str, Any]] = {}

    # ---- names ------------------------------------------------------------------------------
    def folder_models(self, rescan: bool = False) -> list[OwnModel]:
        """The admin's folder models, read again whenever the folder changed: a file added, removed or renamed
        changes the folder's modification time, one cheap look per call (``rescan`` reads it anyway)."""
        stamp = folder_stamp(self.folder)
        if rescan or stamp != self._folder_stamp:
            entries = scan_folder(self.folder, BUILTIN_NAMES)
            with self._lock:
                self._folder_entries = {entry.name: entry for entry in entries}
                self._folder_stamp = stamp
            for entry in entries:
                _note(entry, self._facts)
        return list(self._folder_entries.values())

    def add_notebook_model(self, entry: OwnModel) -> None:
        with self._lock:
            self._notebook[entry.name] = entry
        _note(entry, self._facts)

    def add_upload(self, entry: OwnModel) -> None:
        """Keep an upload's record (its owner's list is added to once it was built: ``add_owned``)."""
        self.files.put_record("uploads", entry.name, entry.record())
        _note(entry, self._facts)

    def is_builtin(self, name: Any) -> bool:
        try:
            resolve_model_name(name)
        except ExplainerError:
            return False
        return True

    def own(self, name: Any, client: str | None = None) -> OwnModel | None:
        """The brought model called ``name`` (None for a built-in one); UnknownNameError for a name nobody
        knows, a broken folder model (its problem in words), or another session's upload."""
        if self.is_builtin(name):
            return None
        name = str(name).strip()
        entry = self._notebook.get(name)
        if entry is None:
            self.folder_models()
            entry = self._folder_entries.get(name)
        if entry is None and UPLOAD_NAME.match(name):
            record = self.files.get_record("uploads", name)
            entry = OwnModel.from_record(record) if isinstance(record, dict) else None
            if entry is not None:
                _note(entry, self._facts)
        if entry is None:
            choices = [*MODELS, *(e.name for e in self._folder_entries.values() if not e.problem), *self._notebook]
            raise UnknownNameError(f"Unknown model {name!r}. Choose one of: {', '.join(choices)}.")
        entry = check_name_for(entry, name, None if client is None else owner_of(client))
        if entry.problem:
            raise ExplainerError(f"The model {entry.title} cannot be used: {entry.problem}")
        return entry

    def resolve(self, name: Any, client: str | None = None) -> str:
        """The canonical name of any model (a built-in alias resolved); UnknownNameError otherwise."""
        if self.is_builtin(name):
            return resolve_model_name(name)
        return self.own(name, client).name

    # ---- listing (no TensorFlow) ------------------------------------------------------------
    def listing(self, client: str | None = None) -> list[dict[str, Any]]:
        """The brought models a person may pick: the admin's folder (broken ones with their problem), the
        notebook's, and this browser session's uploads."""
        rows = [self._row(entry) for entry in [*self._notebook.values(), *self.folder_models()]]
        if client is not None:
            for name in self.files.owned(owner_of(client)):
                try:
                    rows.append(self._row(self.own(name, client)))
                except ExplainerError:  # its file was cleaned away: no longer listed
                    continue
        return rows

    def _row(self, entry: OwnModel) -> dict[str, Any]:
        facts = self.facts_known.get(entry.name) or {}
        return {
            "name": entry.name,
            "title": entry.title,
            "input_size": facts.get("input_height"),
            "default_layer": facts.get("default_layer") or entry.default_layer,
            "blurb": entry.description or f"A Keras model from {FAMILY_WORDS[entry.source]}.",
            "family": entry.source,
            "problem": entry.problem,
        }

    # ---- identity -------------------------------------------------------------------------------
    def digest(self, entry: OwnModel) -> str:
        """The model file's SHA-256 (a folder file's is read once per size and modification time)."""
        if entry.digest and entry.source != "folder":
            return entry.digest
        if entry.source == "notebook":
            return entry.digest or "notebook"
        stat = Path(entry.path).stat()
        stamp = (entry.path, stat.st_size, stat.st_mtime_ns)
        if stamp not in self._digests:
            self._digests[stamp] = file_hash(entry.path)
        return self._digests[stamp]

    def identity(self, entry: OwnModel) -> str:
        """What a brought model's maps depend on besides the request: its file and its settings (cache keys)."""
        return f"own:{self.digest(entry)}:{entry.settings_id()}"

    # ---- building (TensorFlow, where models are built) ----------------------------------------
    def build(self, entry: OwnModel) -> Any:
        """The ExplainableModel of a brought model, built once per process (the least recently used let go)."""
        key = (entry.name, self.identity(entry))
        with self._lock:
            if key in self._resident:
                self._resident.move_to_end(key)
                return self._resident[key]
            lock = self._build_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._resident:
                    return self._resident[key]
            model = self._build(entry)
            with self._lock:
                self._resident[key] = model
                while len(self._resident) > max(1, max_resident_models() // 2):
                    self._resident.popitem(last=False)
            return model

    def _build(self, entry: OwnModel) -> Any:
        if entry.source == "notebook":  # wrapped by dashboard() already, in this process
            return entry.keras_model
        if entry.source == "upload":  # the store keeps the file while it is read
            with self.files.using(entry.digest) as path:
                return self._load(entry, path)
        return self._load(entry, entry.path)

    def _load(self, entry: OwnModel, path: Any) -> Any:
        from explainers.own_models import load_keras_model  # TensorFlow

        return load_keras_model(
            path,
            labels=entry.labels,
            preprocessing=entry.preprocessing,
            name=entry.name,
            title=entry.title,
            default_layer=entry.default_layer,
            safe_mode=entry.safe_mode if entry.source == "folder" else True,
            # the admin's files may be larger than uploads may
            max_bytes=max(upload_limit_bytes(), Path(path).stat().st_size + 1),
        )

    def resident(self) -> list[str]:
        with self._lock:
            return [f"{name} (own file)" for name, _ in self._resident]


def folder_stamp(folder: Path | None) -> int | None:
    """The model folder's modification time in nanoseconds (None without a folder, 0 if it cannot be read)."""
    if folder is None:
        return None
    try:
        return folder.stat().st_mtime_ns
    except OSError:
        return 0


def facts_of(loaded: Any) -> dict[str, Any]:
    """A built model's facts as plain data (cached and sent between processes)."""
    from explainers.own_models import cam_applicable

    height, width = getattr(loaded, "input_shape", None) or (loaded.input_size, loaded.input_size)
    explaining = getattr(loaded, "explaining", None)
    return {
        "input_height": int(height),
        "input_width": int(width),
        "channels": int(getattr(loaded, "channels", 3)),
        "layers": [
            {"name": info.name, "label": info.display, "height": info.height, "width": info.width}
            for info in loaded.layers
        ],
        "default_layer": loaded.default_layer,
        "labels": [label.name for label in loaded.labels],
        "explaining": None if explaining in (None, "the logits") else explaining,  # said only when adapted
        "cam": cam_applicable(loaded),
        "weights_id": loaded.weights_id,
    }
