"""Class labels shipped as data, and search over them.

Keras's ``decode_predictions`` downloads its class index on first use and fails offline, so the 1000
ImageNet labels live in ``explainers/data/imagenet_labels.json`` (Keras's index order: 0 tench,
281 tabby, 954 banana), generated once by ``scripts/make_imagenet_labels.py``. No TensorFlow here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from explainers.errors import UnknownNameError

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Label:
    index: int
    name: str
    synonyms: tuple[str, ...]
    wnid: str = ""

    @property
    def display(self) -> str:
        """What a person sees in a picker: ``281 · tabby cat (tabby)``."""
        others = [s for s in self.synonyms if s.lower() != self.name.lower()]
        extra = f" ({', '.join(others)})" if others else ""
        return f"{self.index} · {self.name}{extra}"


class Labels(Sequence[Label]):
    """An ordered list of class labels with case-insensitive search by name, synonym or index."""

    def __init__(self, labels: Sequence[Label]):
        self._labels = tuple(labels)
        for position, label in enumerate(self._labels):
            if label.index != position:
                raise ValueError(f"label {label.name!r} has index {label.index}, expected {position}")

    @classmethod
    def from_names(cls, names: Sequence[str]) -> Labels:
        return cls([Label(i, name, (name,)) for i, name in enumerate(names)])

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index):  # type: ignore[override]
        return self._labels[index]

    @property
    def names(self) -> list[str]:
        return [label.name for label in self._labels]

    @cached_property
    def _haystacks(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(label.name.lower(), tuple(s.lower() for s in label.synonyms)) for label in self._labels]

    def search(self, query: str, limit: int | None = None) -> list[Label]:
        """Labels matching ``query``, best first.

        A number matches that index ("281"); text matches any name or synonym containing it,
        case-insensitively ("cat" finds tabby cat, tiger cat, Persian cat, ...). Ranking: exact name or
        synonym, then names starting with the query, then a word starting with it, then any substring;
        ties keep index order. An empty query returns every label.
        """
        text = str(query).strip().lower()
        if not text:
            found = list(self._labels)
            return found[:limit] if limit else found
        ranked: list[tuple[int, int]] = []
        if text.isdigit() and int(text) < len(self._labels):
            ranked.append((-1, int(text)))
        word_start = re.compile(r"(^|[\s\-_'(])" + re.escape(text))
        for index, (name, synonyms) in enumerate(self._haystacks):
            candidates = (name, *synonyms)
            if any(c == text for c in candidates):
                rank = 0
            elif any(c.startswith(text) for c in candidates):
                rank = 1
            elif any(word_start.search(c) for c in candidates):
                rank = 2
            elif any(text in c for c in candidates):
                rank = 3
            else:
                continue
            ranked.append((rank, index))
        ranked.sort()
        seen: set[int] = set()
        found = []
        for _, index in ranked:
            if index not in seen:
                seen.add(index)
                found.append(self._labels[index])
        return found[:limit] if limit else found

    def resolve(self, value: int | str) -> int:
        """Turn a class index or name ("281", 281, "tabby", "Tabby Cat") into an index.

        Raises UnknownNameError (with a plain message) if nothing or more than one class matches exactly.
        """
        if isinstance(value, bool):
            raise UnknownNameError(f"A class must be a number or a name. Received: {value!r}.")
        if isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
            index = int(value)
            if 0 <= index < len(self._labels):
                return index
            raise UnknownNameError(
                f"There is no class number {index}: classes are numbered 0 to {len(self._labels) - 1}."
            )
        text = str(value).strip().lower()
        exact = [i for i, (name, synonyms) in enumerate(self._haystacks) if text == name or text in synonyms]
        if len(exact) == 1:
            return exact[0]
        if len(exact) > 1:
            options = ", ".join(self._labels[i].display for i in exact[:5])
            raise UnknownNameError(f"{value!r} names more than one class ({options}); use its number instead.")
        close = ", ".join(label.display for label in self.search(text, limit=5))
        hint = f" Closest: {close}." if close else ""
        raise UnknownNameError(f"No class is called {value!r}.{hint}")


def _load_imagenet() -> Labels:
    rows = json.loads((DATA_DIR / "imagenet_labels.json").read_text(encoding="utf-8"))
    return Labels([Label(r["index"], r["name"], tuple(r["synonyms"]), r["wnid"]) for r in rows])


IMAGENET_LABELS = _load_imagenet()


def search_labels(query: str, limit: int | None = None) -> list[Label]:
    """Search the 1000 ImageNet labels (see ``Labels.search``)."""
    return IMAGENET_LABELS.search(query, limit)
