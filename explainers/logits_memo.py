"""A model's memo of logits it has computed, recalled by the input's content (plain numpy)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np


class LogitsMemo:
    """The logits of inputs already seen, recalled by their content.

    Two kinds of input recur. A few are the same whatever the photo: integrated gradients' black and
    white baselines, Score-CAM's black picture; with a memo their forward pass runs once per model
    instead of once per request. And the photo itself: the upload's pass computes its logits, and a
    later request on the same photo (integrated gradients' f(x), a card's top-5) recalls them instead
    of running its own forward pass. Rows are keyed by a hash of their bytes, so a row is recalled
    only if it is bit for bit the same input. At most ``size`` rows are kept (the least recently used
    go first; a row is 4 kB for 1000 classes). A model whose weights change in place (the trust
    checks' randomized copy) must not keep one: its logits would be stale.
    """

    def __init__(self, size: int = 256):
        self.size = size
        self._rows: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(row: np.ndarray) -> bytes:
        row = np.ascontiguousarray(row, np.float32)
        digest = hashlib.blake2b(str(row.shape).encode(), digest_size=16)
        digest.update(row.tobytes())
        return digest.digest()

    def _found(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        with self._lock:
            found = {key: self._rows[key] for key in keys if key in self._rows}
            for key in found:
                self._rows.move_to_end(key)
        return found

    def remember(self, inputs: np.ndarray, logits: np.ndarray) -> None:
        """Keep ``logits[i]`` as the logits of ``inputs[i]``."""
        self._store([self.key(row) for row in inputs], logits)

    def _store(self, keys: list[bytes], logits: np.ndarray) -> None:
        with self._lock:
            for key, value in zip(keys, logits):
                self._rows[key] = np.array(value, np.float32, copy=True)
                self._rows.move_to_end(key)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)

    def recall(self, inputs: np.ndarray) -> np.ndarray | None:
        """The logits of every row of ``inputs`` if all are known, else None."""
        keys = [self.key(row) for row in inputs]
        found = self._found(keys)
        return np.stack([found[key] for key in keys]) if len(found) == len(set(keys)) else None

    def logits(self, inputs: np.ndarray, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The logits of each row of ``inputs``: recalled, or from ``compute(rows)`` for the rows not
        seen before (one call for all of them)."""
        keys = [self.key(row) for row in inputs]
        found = self._found(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            fresh = np.asarray(compute(np.asarray(inputs)[missing]))
            self._store([keys[i] for i in missing], fresh)
            found.update((keys[i], np.asarray(value, np.float32)) for i, value in zip(missing, fresh))
        return np.stack([found[key] for key in keys])

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)
