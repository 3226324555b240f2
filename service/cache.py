"""Results by key: a bounded in-memory LRU in front of a bounded disk cache (``diskcache``, 2 GB by
default) that survives restarts and is shared by every process on the machine.

A cache that cannot be written (read-only folder, full disk) never stops a map from being computed:
it logs one warning and works from memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import diskcache

log = logging.getLogger(__name__)


def key_text(key: Any) -> str:
    """A short, stable text for a key (tuples and the lists JSON turns them into give the same text)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


class ResultCache:
    def __init__(
        self, directory: str | Path | None, memory_items: int = 256, disk_bytes: int = 2 * 1024**3, shared: Any = None
    ):
        """``shared``: instead of a folder, any store with get/set (Redis, in service.remote)."""
        self._memory: OrderedDict[Hashable, Any] = OrderedDict()
        self._items = memory_items
        self._lock = threading.Lock()
        self.hits = self.misses = self.disk_hits = 0
        self.disk = None
        self.disk_warning = ""
        if shared is not None:
            self.disk = shared
        elif directory is not None:
            try:
                self.disk = diskcache.Cache(
                    str(directory), size_limit=disk_bytes, eviction_policy="least-recently-used"
                )
            except Exception as error:  # noqa: BLE001 - unusable folder: memory only
                self._disk_failed(error)

    def get(self, key: Hashable) -> Any:
        key = key_text(key)
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                self.hits += 1
                return self._memory[key]
        value = None
        if self.disk is not None:
            try:
                value = self.disk.get(key)
            except Exception as error:  # noqa: BLE001
                self._disk_failed(error)
        with self._lock:
            if value is None:
                self.misses += 1
                return None
            self.hits += 1
            self.disk_hits += 1
        self._remember(key, value)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        key = key_text(key)
        self._remember(key, value)
        if self.disk is not None:
            try:
                self.disk.set(key, value)
            except Exception as error:  # noqa: BLE001 - e.g. a read-only folder
                self._disk_failed(error)

    def _remember(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._memory[key] = value
            self._memory.move_to_end(key)
            while len(self._memory) > self._items:
                self._memory.popitem(last=False)

    def _disk_failed(self, error: BaseException) -> None:
        if not self.disk_warning:
            self.disk_warning = f"the disk cache is not usable ({type(error).__name__}: {error}); using memory only"
            log.warning(self.disk_warning)

    def stats(self) -> dict[str, Any]:
        total = self.hits + self.misses
        disk_items = None
        if self.disk is not None:
            try:
                disk_items = len(self.disk)
            except Exception:  # noqa: BLE001
                disk_items = None
        return {
            "hits": self.hits,
            "misses": self.misses,
            "disk_hits": self.disk_hits,
            "hit_rate": round(self.hits / total, 3) if total else None,
            "memory_items": len(self._memory),
            "disk_items": disk_items,
            "warning": self.disk_warning or None,
        }
