"""Uploaded pictures, stored once by content hash.

The browser only ever holds a picture's key (the SHA-256 of its bytes); the server keeps the bytes on
disk (so every worker process can read them) and the decoded arrays in a small in-memory LRU. A key is
64 lowercase hex characters and is never mixed with anything the client sent, so it is safe as a file
name. No TensorFlow here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Container
from pathlib import Path

import numpy as np

from explainers.errors import ImageError
from explainers.images import decode

KEY_PATTERN = re.compile(r"^[0-9a-f]{64}$")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MB per picture
# the largest request body: a picture base64-encoded by the page (4/3) and the form around it; Flask and
# the reverse proxy (deploy/nginx.conf) both refuse bodies beyond it
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES * 4 // 3 + 1024 * 1024


def parse_data_url(contents: object, max_bytes: int = MAX_UPLOAD_BYTES) -> bytes:
    """The bytes inside a ``data:...;base64,...`` URL as ``dcc.Upload`` sends it, or ImageError.

    The declared type is not trusted (the bytes are checked by ``decode`` later), only the shape of the
    URL and the base64 are.
    """
    if not isinstance(contents, str):
        raise ImageError("The upload did not arrive as a file. Please choose the picture again.")
    header, comma, payload = contents.partition(",")
    if not comma or not header.startswith("data:"):
        raise ImageError("The upload arrived damaged (it is not a file the browser encoded). Please try again.")
    if ";base64" not in header:
        raise ImageError("The upload arrived in an unexpected encoding. Please choose the picture again.")
    if len(payload) > (max_bytes * 4) // 3 + 8:
        raise ImageError(f"This file is larger than {max_bytes // (1024 * 1024)} MB. Please upload a smaller picture.")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("The upload arrived damaged (its encoding is broken). Please try again.") from None
    if len(data) > max_bytes:
        raise ImageError(f"This file is larger than {max_bytes // (1024 * 1024)} MB. Please upload a smaller picture.")
    return data


PICTURE_CACHE_ENV = "EXPLAINERS_PICTURE_CACHE_MB"  # decoded pictures kept in memory, in MB
PICTURE_STORE_ENV = "EXPLAINERS_PICTURE_STORE_MB"  # uploads kept on disk, in MB
#: the largest side anything reads a picture at (downloads in ExplainerService.overlay; the display and the
#: models need less), so a bigger upload is kept shrunk to it
KEPT_MAX_SIDE = 2048


def megabytes(text: str | None, default: int) -> int:
    """Bytes from a size in MB as written in the environment; ``default`` MB if unset or not a number."""
    try:
        return max(1, int(float(text or default))) * 1024 * 1024
    except ValueError:
        return default * 1024 * 1024


def bound_folder(folder: Path, max_bytes: int, names: re.Pattern, keep: Container[str] = ()) -> list[str]:
    """Remove the least recently used files of ``folder`` whose names match ``names`` (their modification
    time says when they were last used) until those files hold at most ``max_bytes``; the ``keep`` ones
    stay whatever their age. Returns the names removed. Shared by the picture and the model file stores."""
    try:
        entries = [
            (entry.stat().st_mtime, entry.stat().st_size, entry.name)
            for entry in os.scandir(folder)
            if names.match(entry.name)
        ]
    except OSError:
        return []
    total = sum(size for _, size, _ in entries)
    removed = []
    for _, size, name in sorted(entries):
        if total <= max_bytes:
            break
        if name in keep:
            continue
        try:
            (folder / name).unlink()
        except OSError:
            continue
        total -= size
        removed.append(name)
    return removed


def kept_size(image: np.ndarray, max_side: int = KEPT_MAX_SIDE) -> np.ndarray:
    """``image`` shrunk by area averaging so its longer side is at most ``max_side``; unchanged if it fits."""
    height, width = image.shape[:2]
    factor = max_side / max(height, width)
    if factor >= 1.0:
        return image
    import cv2

    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class ImageStore:
    """Pictures by key: ``put(bytes) -> key`` (validated and stored), ``get(key) -> RGB array``.

    Both sides are bounded by bytes, least recently used out: decoded arrays in memory
    (``memory_bytes``, kept at most ``KEPT_MAX_SIDE`` on a side) and the uploaded files on disk
    (``disk_bytes``). When the folder cannot be written (deleted and not re-creatable, a file in its
    place, read-only), new uploads are kept in memory instead and ``problem`` says why (/readyz:
    "degraded"); a request is never failed for it.
    """

    def __init__(
        self,
        root: str | os.PathLike | None,
        memory_items: int | None = None,
        memory_bytes: int | None = None,
        disk_bytes: int | None = None,
    ):
        """``memory_items`` is an extra bound on the number of decoded pictures (None: bytes only)."""
        self.root = Path(root) if root is not None else None
        self.problem: str | None = None  # why the folder cannot be used right now, or None
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memory_items = memory_items
        self.memory_bytes = memory_bytes or megabytes(os.environ.get(PICTURE_CACHE_ENV), 512)
        self.disk_bytes = disk_bytes or megabytes(os.environ.get(PICTURE_STORE_ENV), 2048)
        self._spilled: OrderedDict[str, bytes] = OrderedDict()  # uploads the folder could not take
        self._lock = threading.Lock()
        if self.root is not None:
            self._make_folder()

    def put(self, data: bytes) -> str:
        """Validate and keep a picture; returns its key. Raises ImageError for anything unusable."""
        image = decode(data)  # refuses non-pictures, bombs, damaged files, in plain words
        key = hashlib.sha256(data).hexdigest()
        if not self._exists(key):
            self._keep_bytes(key, data)
        else:
            self._touch(key)
        self._remember(key, image)
        return key

    def get(self, key: object) -> np.ndarray:
        """The decoded RGB picture for ``key`` (at most ``KEPT_MAX_SIDE`` on a side); ImageError if the key
        is malformed or unknown."""
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise ImageError("No picture is selected yet. Upload a picture or pick an example.")
        self._touch(key)
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        data = self._read(key)
        if data is None:
            raise ImageError("This picture is no longer on the server. Please upload it again.")
        return self._remember(key, decode(data))

    def has(self, key: object) -> bool:
        return isinstance(key, str) and bool(KEY_PATTERN.match(key)) and self._exists(key)

    def memory_used(self) -> int:
        """Bytes of decoded pictures held in memory."""
        with self._lock:
            return sum(image.nbytes for image in self._memory.values())

    # ---- where the bytes live (a folder here; Redis in service.remote) -------------------------
    def _exists(self, key: str) -> bool:
        with self._lock:
            if key in self._spilled:
                return True
        return (self.root / key).exists()

    def _write(self, key: str, data: bytes) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, self.root / key)  # atomic: readers never see half a file

    def _read(self, key: str) -> bytes | None:
        with self._lock:
            if key in self._spilled:
                return self._spilled[key]
        try:
            return (self.root / key).read_bytes()
        except OSError:
            return None

    def _touch(self, key: str) -> None:
        """Mark a stored file as just used (its modification time orders the disk's LRU)."""
        if self.root is None:
            return
        try:
            os.utime(self.root / key)
        except OSError:
            pass

    def _make_folder(self) -> bool:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self.problem = f"the picture folder cannot be created ({error.strerror or type(error).__name__})"
            return False
        return True

    def _keep_bytes(self, key: str, data: bytes) -> None:
        """Write an upload to the store; in memory instead if the folder cannot take it."""
        if self.root is None:
            self._write(key, data)
            return
        try:
            self._write(key, data)
        except OSError:
            try:  # the folder was deleted while serving: make it again and retry once
                if not self._make_folder():
                    raise
                self._write(key, data)
            except OSError as error:
                if self.problem is None or "created" not in self.problem:
                    self.problem = f"the picture folder cannot be written ({error.strerror or type(error).__name__})"
                self._spill(key, data)
                return
        self.problem = None
        self._bound_disk(keep=key)

    def _spill(self, key: str, data: bytes) -> None:
        with self._lock:
            self._spilled[key] = data
            self._spilled.move_to_end(key)
            while len(self._spilled) > 1 and sum(map(len, self._spilled.values())) > self.memory_bytes:
                self._spilled.popitem(last=False)

    def _bound_disk(self, keep: str) -> None:
        """Remove the least recently used files until the folder holds at most ``disk_bytes``."""
        for name in bound_folder(self.root, self.disk_bytes, KEY_PATTERN, keep={keep}):
            with self._lock:
                self._memory.pop(name, None)

    def _remember(self, key: str, image: np.ndarray) -> np.ndarray:
        image = kept_size(image)
        image.setflags(write=False)  # shared between requests: nobody may change it in place
        with self._lock:
            self._memory[key] = image
            self._memory.move_to_end(key)
            used = sum(kept.nbytes for kept in self._memory.values())
            while len(self._memory) > 1 and (
                used > self.memory_bytes or (self._memory_items is not None and len(self._memory) > self._memory_items)
            ):
                used -= self._memory.popitem(last=False)[1].nbytes
        return image
