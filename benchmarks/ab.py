"""Shared plumbing of the A/B scripts (``shared_forward.py``, ``lean_pass.py``): a seeded random-weight
model whose one-picture passes are tuned as the server does at start, and two ways of one call
timed in turns in one process, so a change in the machine's load hits both alike."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def tuned_model(name: str):
    """``load_model(name, weights=None)`` (timings do not depend on weight values) with its one-picture
    passes set to XLA or graph mode, whichever runs faster here (``Engine.tune_passes``)."""
    from explainers import load_model
    from explainers.compile_policy import ONE_PICTURE
    from explainers.engine import engine_for

    model = load_model(name, weights=None)
    engine = engine_for(model)
    tuned = engine.tune_passes()
    if tuned:
        print(
            f"one-picture passes: XLA {tuned[True]:.3f} s, graph mode {tuned[False]:.3f} s; kept "
            f"{'XLA' if engine.policy.xla[ONE_PICTURE] else 'graph mode'}"
        )
    return model


def cat_photo():
    """The cat photo every benchmark explains, decoded as the server decodes uploads."""
    from explainers.images import decode

    return decode((ROOT / "assets" / "examples" / "chelsea.jpg").read_bytes())


def alternate(call: Callable[[str], Any], ways: tuple[str, ...], repeat: int) -> dict[str, list[float]]:
    """Seconds of ``call(way)`` for each way: each runs twice untimed (tracing), then they take turns,
    the order flipping every round, for ``repeat`` rounds."""
    for way in ways:
        call(way)
        call(way)
    times: dict[str, list[float]] = {way: [] for way in ways}
    for round_ in range(repeat):
        for way in ways if round_ % 2 == 0 else ways[::-1]:
            started = time.perf_counter()
            call(way)
            times[way].append(time.perf_counter() - started)
    return times


def print_table(heading: str, column: str, times: dict[str, list[float]], labels: dict[str, str]) -> dict[str, float]:
    """A markdown table of every call's seconds and the median per way; returns the medians."""
    medians = {way: statistics.median(seconds) for way, seconds in times.items()}
    print(f"{heading}\n")
    print(f"| {column} | calls (s) | median (s) |")
    print("|---|---|---:|")
    for way, seconds in times.items():
        print(f"| {labels.get(way, way)} | {', '.join(f'{t:.2f}' for t in seconds)} | {medians[way]:.3f} |")
    return medians
