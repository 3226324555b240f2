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


class ImageStore:
    """Pictures by key: ``put(bytes) -> key`` (validated and stored), ``get(key) -> RGB array``."""

    def __init__(self, root: str | os.PathLike | None, memory_items: int = 64):
        self.root = Path(root) if root is not None else None
        if self.root is not None:
            self.root.mkdir(parents=True, exist_ok=True)
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memory_items = memory_items
        self._lock = threading.Lock()

    def put(self, data: bytes) -> str:
        """Validate and keep a picture; returns its key. Raises ImageError for anything unusable."""
        image = decode(data)  # refuses non-pictures, bombs, damaged files, in plain words
        key = hashlib.sha256(data).hexdigest()
        if not self._exists(key):
            self._write(key, data)
        self._remember(key, image)
        return key

    def get(self, key: object) -> np.ndarray:
        """The decoded RGB picture for ``key``; ImageError if the key is malformed or unknown."""
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise ImageError("No picture is selected yet. Upload a picture or pick an example.")
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        data = self._read(key)
        if data is None:
            raise ImageError("This picture is no longer on the server. Please upload it again.")
        image = decode(data)
        self._remember(key, image)
        return image

    def has(self, key: object) -> bool:
        return isinstance(key, str) and bool(KEY_PATTERN.match(key)) and self._exists(key)

    # ---- where the bytes live (a folder here; Redis in service.remote) -------------------------
    def _exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def _write(self, key: str, data: bytes) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, self.root / key)  # atomic: readers never see half a file

    def _read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except OSError:
            return None

    def _remember(self, key: str, image: np.ndarray) -> None:
        image.setflags(write=False)  # shared between requests: nobody may change it in place
        with self._lock:
            self._memory[key] = image
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)
