"""Put a generated table into a document between two marker comments (made on the first run), so a
benchmark script owns its section of docs/benchmarks.md and a rerun replaces it."""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, name: str, text: str) -> None:
    """``text`` between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``path`` (appended if absent)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    document = path.read_text(encoding="utf-8")
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in document and end in document:
        before, rest = document.split(start, 1)
        document = before + block + rest.split(end, 1)[1]
    else:
        document = document.rstrip() + "\n\n" + block + "\n"
    path.write_text(document, encoding="utf-8")
