"""Models people bring, beside the built-in ones: the admin's model folder, uploads in the page, and a
Keras model handed to ``dashboard()`` in a notebook. No TensorFlow here: building a model is
``explainers.own_models``'s job, inside the process that computes.

- **The model folder** (``EXPLAINERS_MODELS_DIR``): each model is ``name.keras`` with a sidecar
  ``name.toml`` or ``name.json`` (title, labels, preprocessing, default_layer, description, safe_mode).
  The admin trusts these files; a broken one is listed with its problem in words, never crashes anything.
- **Uploads**: the ``.keras`` file is kept once by its SHA-256 (``ModelFiles``), whoever uploads it; the
  model made of it (file, labels, preprocessing) is a record that belongs to the browser session that
  uploaded it, under a name nobody else is told and that others are refused.
- **A notebook's model**: kept in this process only, as the object it was handed over as.

Every model is named by a string (``OwnModel.name``), as the built-in ones are, so the page, the HTTP API,
the cache and the jobs treat them alike.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import tomllib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from explainers.errors import ExplainerError, UnknownNameError
from service.store import bound_folder, megabytes

log = logging.getLogger(__name__)

MODELS_DIR_ENV = "EXPLAINERS_MODELS_DIR"  # the admin's model folder (none by default)
UPLOAD_ENV = "EXPLAINERS_MODEL_UPLOAD"  # "0": no model uploads in the page
UPLOAD_MB_ENV = "EXPLAINERS_MODEL_UPLOAD_MB"  # the largest .keras upload, in MB
DEFAULT_UPLOAD_MB = 300
MODEL_STORE_ENV = "EXPLAINERS_MODEL_STORE_MB"  # uploaded model files kept on disk, in MB
DEFAULT_MODEL_STORE_MB = 2000
LABELS_MAX_BYTES = 2 * 1024 * 1024  # a labels file (one name a line, or JSON)
MAX_LABELS = 100_000
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # a file name without folders
UPLOAD_NAME = re.compile(r"^upload-[0-9a-f]{16}$")
DIGEST_PATTERN = re.compile(r"^[0-9a-f]{64}$")
STORED_FILE = re.compile(r"^[0-9a-f]{64}\.keras$")
SIDECAR_KEYS = {"title", "labels", "preprocessing", "default_layer", "description", "safe_mode"}
#: the preprocessing choices, in the order the page offers them (their words: explainers.own_models.PREPROCESSING)
PREPROCESSING_CHOICES = ("unit", "tf", "caffe", "torch", "none")


def upload_allowed() -> bool:
    """Whether people may upload a model in the page (``EXPLAINERS_MODEL_UPLOAD=0`` turns it off)."""
    return os.environ.get(UPLOAD_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def upload_limit_bytes() -> int:
    """The largest ``.keras`` upload (``EXPLAINERS_MODEL_UPLOAD_MB``, default 300 MB)."""
    try:
        megabytes = float(os.environ.get(UPLOAD_MB_ENV, "") or DEFAULT_UPLOAD_MB)
    except ValueError:
        megabytes = DEFAULT_UPLOAD_MB
    return int(max(0.001, megabytes) * 1024 * 1024)


def models_dir() -> Path | None:
    folder = os.environ.get(MODELS_DIR_ENV, "").strip()
    return Path(folder).expanduser() if folder else None


def preprocessing_words() -> dict[str, str]:
    """Each preprocessing choice in a plain sentence, for the page's list (from the explainers)."""
    from explainers.own_models import PREPROCESSING

    return {name: PREPROCESSING[name] for name in PREPROCESSING_CHOICES if name in PREPROCESSING}


@dataclass
class OwnModel:
    """A model someone brought: where its file is, how to read its outputs, who may use it."""

    name: str  # what the page, the API and the cache call it
    title: str
    source: str  # "folder", "upload" or "notebook"
    description: str = ""
    path: str | None = None  # a folder model's file
    digest: str | None = None  # SHA-256 of the .keras file (an upload's, or a folder file's once read)
    labels: list[str] | None = None  # class names as given; None: the classes are numbered
    preprocessing: str = "unit"
    default_layer: str | None = None
    safe_mode: bool = True
    owner: str | None = None  # an upload's browser session (hashed)
    file_name: str = ""  # the uploaded file's name, for the page only
    problem: str | None = None  # why it cannot be used, in words (a broken folder model)
    keras_model: Any = field(default=None, repr=False, compare=False)  # a notebook's model object

    def record(self) -> dict[str, Any]:
        """What is kept on disk (or in Redis) for an upload: plain JSON, never the model itself."""
        return {key: value for key, value in asdict(self).items() if key != "keras_model"}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> OwnModel:
        known = {key: record[key] for key in cls.__dataclass_fields__ if key in record and key != "keras_model"}
        return cls(**known)

    def settings_id(self) -> str:
        """What besides the file decides its maps (labels, preprocessing, layer), as a short hash for cache keys."""
        text = json.dumps([self.labels, self.preprocessing, self.default_layer], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def owner_of(client: str | None) -> str:
    """A browser session's name as kept with its uploads: hashed, so a record never holds a cookie's value."""
    return hashlib.sha256(str(client or "anonymous").encode()).hexdigest()[:32]


def upload_name(digest: str, labels: list[str] | None, preprocessing: str, owner: str) -> str:
    """An uploaded model's name: its file, labels, preprocessing and owner, hashed (others cannot guess it)."""
    text = json.dumps([digest, labels, preprocessing, owner])
    return "upload-" + hashlib.sha256(text.encode()).hexdigest()[:16]


# ---- labels files ------------------------------------------------------------------------------
def parse_label_names(data: bytes, file_name: str = "labels.txt") -> list[str]:
    """Class names from a labels file: ``.txt`` one name a line, or ``.json`` (a list of names, or
    {"0": "cat", ...}). ExplainerError in words for anything else."""
    if len(data) > LABELS_MAX_BYTES:
        raise ExplainerError(
            f"The labels file is larger than {LABELS_MAX_BYTES // 2**20} MB; it should hold names only."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExplainerError(
            "The labels file is not UTF-8 text. Save it as plain text, one class name a line."
        ) from None
    if file_name.lower().endswith(".json"):
        try:
            found = json.loads(text)
        except ValueError as error:
            raise ExplainerError(f"The labels file is not valid JSON ({error.msg}, line {error.lineno}).") from None
        if isinstance(found, dict):
            try:
                found = [found[key] for key in sorted(found, key=int)]
            except (TypeError, ValueError):
                raise ExplainerError(
                    'A labels JSON object must map class numbers to names ({"0": "cat", "1": "dog"}).'
                ) from None
        if not isinstance(found, list) or not all(isinstance(name, str) for name in found):
            raise ExplainerError('A labels JSON file must hold a list of names (["cat", "dog"]).')
        names = [name.strip() for name in found]
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise ExplainerError("The labels file holds no class names.")
    if len(names) > MAX_LABELS:
        raise ExplainerError(f"The labels file holds {len(names)} names; at most {MAX_LABELS} are accepted.")
    return names


# ---- the admin's folder ------------------------------------------------------------------------
def _inside(folder: Path, name: object, what: str) -> Path:
    """``folder / name`` for a plain file name inside the folder; ExplainerError for anything else."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or ".." in name:
        raise ExplainerError(
            f"{what} must be a file name inside the model folder, without folders. Received: {name!r}."
        )
    path = folder / name
    if path.resolve().parent != folder.resolve() or not path.is_file():
        raise ExplainerError(f"{what} {name!r} is not a file in the model folder.")
    return path


def read_sidecar(model_path: Path, builtin: set[str] | frozenset[str] = frozenset()) -> OwnModel:
    """The folder model of ``model_path`` as its sidecar describes it; its ``problem`` says what is wrong."""
    folder, stem = model_path.parent, model_path.stem
    entry = OwnModel(stem, stem, "folder", path=str(model_path))
    try:
        if not NAME_PATTERN.match(stem):
            raise ExplainerError(f"Its file name {model_path.name!r} may only use letters, digits, '.', '_' and '-'.")
        if stem.lower() in builtin:
            raise ExplainerError(f"It has the name of a built-in model ({stem}); rename the file and its sidecar.")
        toml_path, json_path = folder / f"{stem}.toml", folder / f"{stem}.json"
        if toml_path.is_file():
            try:
                sidecar = tomllib.loads(toml_path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
                raise ExplainerError(f"Its sidecar {toml_path.name} is not valid TOML ({error}).") from None
        elif json_path.is_file():
            try:
                sidecar = json.loads(json_path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as error:
                raise ExplainerError(f"Its sidecar {json_path.name} is not valid JSON ({error}).") from None
            if not isinstance(sidecar, dict):
                raise ExplainerError(f"Its sidecar {json_path.name} must be a JSON object.")
        else:
            raise ExplainerError(
                f"It has no sidecar ({stem}.toml or {stem}.json) saying its title, labels and preprocessing."
            )
        unknown = sorted(set(sidecar) - SIDECAR_KEYS)
        if unknown:
            raise ExplainerError(
                f"Its sidecar has unknown keys: {', '.join(unknown)}. Known: {', '.join(sorted(SIDECAR_KEYS))}."
            )
        entry.title = str(sidecar.get("title") or stem)
        entry.description = str(sidecar.get("description") or "")
        preprocessing = sidecar.get("preprocessing", "unit")
        if preprocessing not in PREPROCESSING_CHOICES:
            raise ExplainerError(
                f"Its preprocessing must be one of {', '.join(PREPROCESSING_CHOICES)}. Received: {preprocessing!r}."
            )
        entry.preprocessing = preprocessing
        layer = sidecar.get("default_layer")
        entry.default_layer = str(layer) if layer else None
        safe_mode = sidecar.get("safe_mode", True)
        if not isinstance(safe_mode, bool):
            raise ExplainerError(f"Its safe_mode must be true or false. Received: {safe_mode!r}.")
        entry.safe_mode = safe_mode
        labels = sidecar.get("labels")
        if isinstance(labels, list):
            if not labels or not all(isinstance(name, str) for name in labels):
                raise ExplainerError("Its labels must be a list of class names, or the name of a .txt or .json file.")
            entry.labels = [name.strip() for name in labels]
        elif isinstance(labels, str):
            labels_path = _inside(folder, labels, "Its labels file")
            entry.labels = parse_label_names(labels_path.read_bytes(), labels_path.name)
        elif labels is not None:
            raise ExplainerError("Its labels must be a list of class names, or the name of a .txt or .json file.")
    except (ExplainerError, OSError) as error:
        entry.problem = str(error) if isinstance(error, ExplainerError) else f"It cannot be read ({error.strerror})."
        log.warning("model folder: %s: %s", model_path.name, entry.problem)
    return entry


def scan_folder(folder: Path | None, builtin: set[str] | frozenset[str] = frozenset()) -> list[OwnModel]:
    """Every ``.keras`` model of the admin's folder, in name order (broken ones with their problem)."""
    if folder is None:
        return []
    try:
        paths = sorted(path for path in folder.iterdir() if path.suffix == ".keras" and path.is_file())
    except OSError as error:
        log.warning("the model folder %s cannot be read: %s", folder, error.strerror or error)
        return []
    return [read_sidecar(path, builtin) for path in paths]


# ---- uploaded files and records ---------------------------------------------------------------
class TooLarge(ExplainerError):
    """A model file over the upload limit (HTTP 413)."""

    def __init__(self, max_bytes: int):
        super().__init__(
            f"This model file is too large: uploads can be at most {max_bytes // 2**20} MB here. "
            "Ask the admin to add it to the model folder instead."
        )


class ModelFiles:
    """Uploaded ``.keras`` files by SHA-256 (one copy whoever uploads it) and small JSON records (uploaded
    models, who owns which), in a folder every process of this server reads. ``service.remote`` keeps
    them in Redis too, so Celery workers on other machines find them.

    The files are bounded by bytes (``max_bytes``, ``EXPLAINERS_MODEL_STORE_MB``), least recently used
    out, as the picture store is; a file being read (``using``) stays. An upload whose file went asks to
    be uploaded again, in words."""

    def __init__(self, root: str | os.PathLike, max_bytes: int | None = None):
        self.root = Path(root)
        self.max_bytes = max_bytes or megabytes(os.environ.get(MODEL_STORE_ENV), DEFAULT_MODEL_STORE_MB)
        self._lock = threading.Lock()
        self._in_use: Counter[str] = Counter()  # files being read in this process, never removed meanwhile

    def _folder(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def keep(self, stream: IO[bytes], max_bytes: int) -> str:
        """Copy ``stream`` into the store (at most ``max_bytes``, else TooLarge) and return its SHA-256."""
        digest = hashlib.sha256()
        handle, temporary = tempfile.mkstemp(dir=self._folder("files"), prefix=".upload-")
        size = 0
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
            name = digest.hexdigest()
            target = self.root / "files" / f"{name}.keras"
            if target.exists():  # the same file uploaded before, by anyone: one copy
                os.utime(target)
            else:
                os.replace(temporary, target)
            with self._lock:
                keep = {target.name, *self._in_use}
            bound_folder(self.root / "files", self.max_bytes, STORED_FILE, keep)
            return name
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def path(self, digest: str) -> Path:
        """The local file of an uploaded model; ExplainerError if it is not here (any more)."""
        if not isinstance(digest, str) or not DIGEST_PATTERN.match(digest):
            raise ExplainerError("This uploaded model is unknown here.")
        path = self.root / "files" / f"{digest}.keras"
        if not path.is_file():
            raise ExplainerError("This uploaded model is no longer on the server. Please upload it again.")
        try:
            os.utime(path)  # just used: the last to go when the store is over its bound
        except OSError:
            pass
        return path

    @contextmanager
    def using(self, digest: str) -> Iterator[Path]:
        """The local file of an uploaded model, kept while the ``with`` block reads it."""
        name = f"{digest}.keras"
        with self._lock:
            self._in_use[name] += 1
        try:
            yield self.path(digest)
        finally:
            with self._lock:
                self._in_use[name] -= 1
                if self._in_use[name] <= 0:
                    del self._in_use[name]

    def count(self) -> int:
        """How many model files are stored (two uploads of one file count once)."""
        folder = self.root / "files"
        return sum(1 for path in folder.glob("*.keras")) if folder.is_dir() else 0

    def put_record(self, kind: str, name: str, record: Any) -> None:
        folder = self._folder(kind)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".record-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(temporary, folder / f"{name}.json")

    def get_record(self, kind: str, name: str) -> Any:
        try:
            return json.loads((self.root / kind / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def add_owned(self, owner: str, name: str) -> None:
        """Note that ``owner``'s session uploaded model ``name`` (its list of models in the page)."""
        with self._lock:
            names = self.get_record("sessions", owner) or []
            if name not in names:
                self.put_record("sessions", owner, [*names, name][-50:])

    def owned(self, owner: str) -> list[str]:
        return list(self.get_record("sessions", owner) or [])


def check_name_for(entry: OwnModel | None, name: str, owner: str | None) -> OwnModel:
    """``entry`` if ``owner`` may use it; else UnknownNameError (an upload of another session is unknown)."""
    if entry is None or (entry.source == "upload" and owner is not None and entry.owner != owner):
        raise UnknownNameError(f"Unknown model {name!r}. Pick one of the models listed on the page.")
    return entry
