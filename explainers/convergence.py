"""Stop a sampling method when its map stops changing, as a person would see it.

A sampling method (SmoothGrad, RISE, LIME, expected gradients, ...) converges to its own map as the
samples grow; a fixed count is either wasted (the map stopped changing long ago) or too small. In
``until="stable"`` mode the method runs in chunks and hands each running map to ``run_until_stable``,
which stops when the map, average-pooled to the card's display grid (32 × 32: finer ranks are mostly
noise), has a Spearman rank correlation ≥ ``agreement`` with the map one chunk earlier (or further back:
at least ``lag`` of the samples, so the rule asks as much at 5000 samples as at 50), ``patience``
chunks in a row, or when the budget of samples or seconds is spent.

Plain numpy (OpenCV for pooling), no TensorFlow: the stopping rule is tested on hand-made maps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

#: the card's display grid: maps are compared as a person sees them, average-pooled to this many cells a side
DISPLAY_GRID = 32
#: how a map ends: its map stopped changing, or a budget (samples or seconds) was spent first
STOPPED = ("stable", "budget")
#: a map is compared with the one at least this share of its samples earlier: 8 more samples barely move a
#: 400-sample map even when it is far from done, so "one chunk earlier" alone gets ever easier to agree with.
#: A sixteenth, not an eighth: replayed on recorded runs its maps were as good where it stopped, and an
#: eighth took up to twice the samples (benchmarks/stop_rules.py, docs/benchmarks.md)
LAG = 1 / 16


def display_map(heatmap: np.ndarray, grid: int = DISPLAY_GRID) -> np.ndarray:
    """``heatmap`` (h, w) average-pooled to at most ``grid`` × ``grid`` cells (area interpolation)."""
    import cv2

    heatmap = np.asarray(heatmap, np.float32)
    height, width = heatmap.shape
    if height <= grid and width <= grid:
        return heatmap
    return cv2.resize(heatmap, (min(grid, width), min(grid, height)), interpolation=cv2.INTER_AREA)


def rank_agreement(first: np.ndarray, second: np.ndarray, grid: int = DISPLAY_GRID) -> float:
    """Spearman's ρ between two maps pooled to the display grid: 1 when they rank the cells alike.

    Two flat maps agree (1.0); a flat map and a varied one do not (0.0), as no ranking is shared.
    """
    a, b = display_map(first, grid).ravel(), display_map(second, grid).ravel()
    flat_a, flat_b = bool(np.ptp(a) == 0), bool(np.ptp(b) == 0)
    if flat_a or flat_b:
        return 1.0 if flat_a and flat_b else 0.0
    ra, rb = ranks(a) - (len(a) + 1) / 2, ranks(b) - (len(b) + 1) / 2
    return float(np.dot(ra, rb) / math.sqrt(float(np.dot(ra, ra)) * float(np.dot(rb, rb))))


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values`` (1-D), tied values sharing their average rank (as Spearman's ρ needs:
    LIME's patches make many equal cells)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)  # the rank of each distinct value's last copy
    return (last - (counts - 1) / 2.0)[inverse]


def chunk_bounds(total: int, chunk: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive chunks of ``range(total)``: two of a quarter of ``chunk`` (at least 2),
    then doubling up to ``chunk`` (8: 2, 2, 4, 8, 8, ...), so the first partial map shows after a quarter
    of the wait; sizes stay even when ``chunk`` is (antithetic pairs stay whole)."""
    chunk = max(1, int(chunk))
    size = min(chunk, max(2, chunk // 4 // 2 * 2))
    start, first = 0, True
    while start < total:
        stop = min(total, start + size)
        yield start, stop
        start = stop
        if not first:
            size = min(chunk, size * 2)
        first = False


def stable_chunk(chunk: int, total: int) -> int:
    """A method's chunk for a budget of ``total`` samples: at most a quarter of it (four chunks at least)
    and even, at least 2 (antithetic pairs stay whole)."""
    return max(2, min(chunk, total // 4)) // 2 * 2


def sub_span(span: tuple[float, float], start: int, stop: int, total: int) -> tuple[float, float]:
    """The share of the progress ``span`` that samples start..stop of ``total`` report in."""
    width = span[1] - span[0]
    return span[0] + width * start / total, span[0] + width * stop / total


@dataclass(frozen=True)
class StopRule:
    """When to stop: ``agreement`` (ρ with the map one chunk earlier, or the latest one at least ``lag`` of
    the samples earlier) reached ``patience`` chunks in a row, or ``max_samples`` samples, or
    ``max_seconds`` seconds (a chunk is not started if, at the last chunk's speed, it would end past that)."""

    agreement: float = 0.99
    patience: int = 2
    max_samples: int | None = None
    max_seconds: float | None = None
    grid: int = DISPLAY_GRID
    lag: float = LAG


def describe(meta: dict[str, Any], unit: str = "samples") -> str:
    """The card's line: "stable after 24 samples, 4.1 s", or which budget ended it first."""
    done = f"{meta['samples']} {unit}, {meta['seconds']:.1f} s"
    if meta["stopped"] == "stable":
        return f"Stable after {done}."
    rho = meta.get("rho")
    agreement = f" (its last two maps agreed at ρ = {rho:.3f})" if rho is not None else ""
    budget = unit if meta["budget"] == "samples" else "time"
    return f"Stopped at the {budget} budget before the map was stable: {done}{agreement}."


def lagged(earlier: list[tuple[int, np.ndarray]], cutoff: float) -> int:
    """Index of the latest of ``earlier`` (samples, map) taken at ≤ ``cutoff`` samples (the first if none is)."""
    return max((i for i, (samples, _) in enumerate(earlier) if samples <= cutoff), default=0)


def run_until_stable(
    steps: Iterable[tuple[int, Any]],
    rule: StopRule,
    heatmap_of: Callable[[Any], np.ndarray] = lambda result: result.heatmap,
    done: Callable[[Any], bool] = lambda result: True,
    on_step: Callable[[Any], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sizes: list[int] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Pull (samples so far, running result) from ``steps`` until the rule says stop; return the last
    result and what happened (``stopped``: "stable" or "budget", ``budget``: "samples" or "seconds",
    ``samples``, ``seconds``, ``rho``: the last agreement, ``chunks``).

    ``steps`` is lazy: each item is computed only when pulled, so stopping early saves its work.
    ``done(result)``: a method's own condition that must also hold (integrated gradients: completeness).
    ``sizes``: the chunks' sizes in samples when the method knows them (``chunk_bounds``), so the next
    chunk's seconds are this one's per sample times its size; else chunks are taken to grow as they grew.
    """
    began = clock()
    result = None
    earlier: list[tuple[int, np.ndarray]] = []  # (samples, map on the display grid) of the chunks so far
    streak, rho, samples, chunks, next_chunk = 0, None, 0, 0, 0.0
    last = 0  # the last chunk's size, for the next one's when no schedule is known
    iterator = iter(steps)
    stopped, budget = "budget", "samples"
    while True:
        if rule.max_samples is not None and samples >= rule.max_samples:
            break
        elapsed = clock() - began
        if chunks and rule.max_seconds is not None and elapsed + next_chunk > rule.max_seconds:
            budget = "seconds"
            break
        chunk_began = clock()
        try:
            before, (samples, result) = samples, next(iterator)
        except StopIteration:
            break
        took, size = clock() - chunk_began, max(1, samples - before)
        if sizes is not None and chunks + 1 < len(sizes):  # seconds the next chunk should take
            next_chunk = took / size * sizes[chunks + 1]
        else:
            next_chunk = took * (size / last if last else 1.0)
        last = size
        chunks += 1
        if on_step is not None:
            on_step(result)
        heatmap = display_map(np.asarray(heatmap_of(result)), rule.grid)
        if earlier:
            back = lagged(earlier, samples * (1.0 - rule.lag))
            del earlier[:back]  # the cut-off only grows: older maps are never compared again
            rho = rank_agreement(earlier[0][1], heatmap, rule.grid)
            streak = streak + 1 if rho >= rule.agreement else 0
        earlier.append((samples, heatmap))
        if streak >= rule.patience and done(result):
            stopped = "stable"
            break
    if result is None:
        raise ValueError("a sampling method gave no chunk to run")
    meta = {
        "stopped": stopped,
        "samples": int(samples),
        "seconds": round(clock() - began, 3),
        "rho": None if rho is None else round(rho, 4),
        "chunks": chunks,
    }
    if stopped == "budget":
        meta["budget"] = budget
    return result, meta


__all__ = [
    "DISPLAY_GRID",
    "LAG",
    "STOPPED",
    "StopRule",
    "chunk_bounds",
    "describe",
    "display_map",
    "rank_agreement",
    "run_until_stable",
    "stable_chunk",
    "sub_span",
]
