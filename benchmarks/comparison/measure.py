"""Timing the libraries' calls in turns, and the memory each call needed."""

from __future__ import annotations

import gc
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Timing:
    seconds: float
    memory: float  # bytes
    runs: int
    samples: list[float] = field(default_factory=list)


@dataclass
class Failure:
    reason: str


class PeakMemory:
    """Memory a ``with`` block needed: the peak of TensorFlow's CPU tensor pool during it above the pool's
    use at the start (``pool``), and the peak resident set size above the size at the start (``extra``)."""

    def __init__(self, interval: float = 0.002):
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.extra = 0.0
        self.pool = 0.0

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.process.memory_info().rss)

    @staticmethod
    def _pool() -> dict[str, int] | None:
        from explainers._tf import tf

        try:
            return tf.config.experimental.get_memory_info("CPU:0")
        except (ValueError, RuntimeError):  # an allocator without statistics (malloc)
            return None

    def __enter__(self) -> PeakMemory:
        from explainers._tf import tf

        before = self._pool()
        if before is not None:
            tf.config.experimental.reset_memory_stats("CPU:0")
        self.pool_base = before["current"] if before else None
        self.base = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.peak = max(self.peak, self.process.memory_info().rss)
        self._stop.set()
        self._thread.join()
        self.extra = float(self.peak - self.base)
        after = self._pool() if self.pool_base is not None else None
        self.pool = float(after["peak"] - self.pool_base) if after else self.extra


def short(error: BaseException, limit: int = 150) -> str:
    text = " ".join(str(error).split()) or repr(error)
    text = f"{type(error).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


MAX_ROUNDS = 25  # the most rounds --min-seconds adds up to


def measure(
    calls: dict[str, Callable[[], Any] | Failure], repeat: int, log, min_seconds: float = 0.0
) -> dict[str, Timing | Failure]:
    """Warm every call once, then alternate them ``repeat`` times (rotating the order each round), and
    go on for more rounds, all of them still taking turns, while any library has spent less than
    ``min_seconds`` in its timed calls (at most ``MAX_ROUNDS`` in all): a call of 0.15 s varies by a
    third between rounds here, so three of them say little, while twenty-odd cost a few seconds."""
    results: dict[str, Timing | Failure] = {}
    ready: dict[str, Callable[[], Any]] = {}
    for library, call in calls.items():
        if isinstance(call, Failure):
            results[library] = call
            continue
        started = time.perf_counter()
        try:
            call()
        except Exception as error:  # a peer that cannot run this: say why in the table
            results[library] = Failure(short(error))
            log(f"    {library}: failed in its warm-up: {short(error)}")
            continue
        ready[library] = call
        log(f"    {library}: warm-up {time.perf_counter() - started:.1f} s")
    times: dict[str, list[float]] = {library: [] for library in ready}
    memory: dict[str, list[float]] = {library: [] for library in ready}
    names = list(ready)

    def more(round_: int) -> bool:
        if round_ < repeat:
            return True
        running = [library for library in names if library not in results]
        return round_ < MAX_ROUNDS and any(sum(times[library]) < min_seconds for library in running)

    round_ = 0
    while names and more(round_):
        shift = round_ % max(1, len(names))
        round_ += 1
        for library in names[shift:] + names[:shift]:
            if library in results:
                continue
            gc.collect()
            try:
                with PeakMemory() as peak:
                    started = time.perf_counter()
                    ready[library]()
                    seconds = time.perf_counter() - started
            except Exception as error:
                results[library] = Failure(short(error))
                continue
            times[library].append(seconds)
            memory[library].append(peak.pool)
    for library in names:
        if library not in results:
            results[library] = Timing(
                statistics.median(times[library]),
                statistics.median(memory[library]),
                len(times[library]),
                times[library],
            )
            log(f"    {library}: {' '.join(f'{t:.2f}' for t in times[library])} s")
    return results


def fastest_peer(results: dict[str, Timing | Failure]) -> tuple[str, Timing] | None:
    timed = [(library, r) for library, r in results.items() if library != "ours" and isinstance(r, Timing)]
    return min(timed, key=lambda item: item[1].seconds) if timed else None
