"""Many users, one batch: one-pass map requests for the same model that arrive within a short window
are computed together (``explainers.many_pictures``), the way a model server's dynamic batcher works.

The first request of a model opens a batch and waits ``EXPLAINERS_COALESCE_MS`` (default 15 ms) for
others; a batch closes when that time is up or when it holds ``EXPLAINERS_COALESCE_MAX`` pictures
(default 8), and a model's batches run one at a time: while one computes, the next fills, and it closes
no sooner than one window after the previous one finished, so requests that the end of that batch
frees can join. Whoever opened a batch computes it in its own thread; the others wait in theirs.

Requests for the same picture, class and layer (one person's cards, sent as separate requests) are one
row of a batch: one pass serves them all, which on a CPU saves far more than stacking pictures does
(docs/benchmarks.md). So a batch counts pictures, not requests, and a request whose picture is in a
batch that has not started computing joins that batch, even a full one, instead of paying for its own
pass in the next.

Each request keeps its own progress, cancel and errors: a waiting request checks its own cancel (and
deadline) in its own thread and leaves alone, taken out of its batch if that has not started; a request
whose class, layer or settings are wrong gets its own error; the rest of the batch is not touched. The
window 0 turns coalescing off. It works wherever several requests run ``ExplainerService.compute`` at
once in one process: the local job runner's threads, and a Celery worker child run with a thread pool
(docs/serving.md).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from explainers.many_pictures import PictureRequest, explain_many

WINDOW_ENV = "EXPLAINERS_COALESCE_MS"
MAX_ENV = "EXPLAINERS_COALESCE_MAX"
DEFAULT_WINDOW_MS = 15.0  # a lone request waits this long more: a few percent of a one-pass map on a CPU
DEFAULT_MAX = 8  # every request waits for its whole batch; a larger one gains a CPU little (docs/benchmarks.md)
POLL_SECONDS = 0.2  # how often a waiting request checks its own cancel

Compute = Callable[[list[Any]], Sequence[Any]]


def _setting(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, "").strip() or default))
    except ValueError:
        return default


def window_seconds() -> float:
    """``EXPLAINERS_COALESCE_MS`` in seconds (0: coalescing off)."""
    return _setting(WINDOW_ENV, DEFAULT_WINDOW_MS) / 1000.0


def max_batch() -> int:
    """``EXPLAINERS_COALESCE_MAX``: the most pictures in one batch (at least 1)."""
    return max(1, int(_setting(MAX_ENV, DEFAULT_MAX)))


THREADS_PER_PICTURE = 8  # the computing batch and the filling one hold a few requests per picture each


def worker_threads() -> int:
    """Threads the local job runner needs for one-pass work when coalescing is on (they mostly wait):
    enough for the batch that computes and the one that fills meanwhile, each picture with its few
    requests, so that a picture's requests meet in the coalescer and share a row rather than waiting
    in the job queue. Else the one express worker."""
    return THREADS_PER_PICTURE * max_batch() if window_seconds() > 0 else 1


class _Member:
    """One request in a batch: its item, and its answer once the batch has computed."""

    def __init__(self, item: Any, row: Hashable):
        self.item = item
        self.row = row  # what it is about: requests with the same row share one of the batch's rows
        self.withdrawn = False  # cancelled (or out of time) while waiting: not computed, or its answer dropped
        self.done = False
        self.answer: Any = None


class _Batch:
    def __init__(self, compute: Compute):
        self.compute = compute
        self.members: list[_Member] = []
        self.rows: set[Hashable] = set()  # the pictures (with class and layer) its members ask about
        self.closed = False  # computing or done: nobody joins any more


class Coalescer:
    """Gathers concurrent requests of one ``group`` (a model) into batches; see the module's docstring.

    ``window``: seconds a batch stays open (0: off, each request computes alone at once); ``size``: the
    most requests in one batch; ``slots``: how many batches (of different models) may compute at once.
    """

    def __init__(self, window: float | None = None, size: int | None = None, slots: int = 2):
        self.window = window_seconds() if window is None else max(0.0, float(window))
        self.size = max_batch() if size is None else max(1, int(size))
        self._cond = threading.Condition()
        self._open: dict[Hashable, _Batch] = {}  # group -> the batch that takes new pictures
        self._waiting: dict[Hashable, list[_Batch]] = {}  # group -> batches not yet computing (open or full)
        self._turns: dict[Hashable, threading.Lock] = {}  # one batch of a group computes at a time
        self._slots = threading.BoundedSemaphore(max(1, slots))
        self.sizes: list[int] = []  # recent batches' requests, for /readyz and the load benchmark
        self.pictures: list[int] = []  # and their pictures (rows)

    @property
    def on(self) -> bool:
        return self.window > 0

    def run(
        self,
        group: Hashable,
        item: Any,
        compute: Compute,
        progress: Callable[[float], None] | None = None,
        row: Hashable | None = None,
    ) -> Any:
        """``item``'s answer out of ``compute(items)`` (one answer per item, in order; an answer that is an
        exception is raised to its request alone), computed with the other items of ``group`` that arrive
        within the window. ``progress`` is this request's own (it may raise to stop it: a cancel, a
        deadline); it is called only in this thread, with 0 while waiting and 1 at the end. ``row``: what
        the item is about (a picture, class and layer; None: its own): items with the same row count once
        toward the batch's size, and an item joins a waiting batch that holds its row."""
        if not self.on:
            return _raise_or_return(compute([item])[0], progress)
        member = _Member(item, object() if row is None else row)
        with self._cond:
            waiting = self._waiting.setdefault(group, [])
            batch = next((batch for batch in waiting if member.row in batch.rows), None) or self._open.get(group)
            opener = batch is None
            if opener:
                batch = self._open[group] = _Batch(compute)
                waiting.append(batch)
            batch.members.append(member)
            batch.rows.add(member.row)
            if len(batch.rows) >= self.size and self._open.get(group) is batch:  # full: the next picture opens another
                del self._open[group]
                self._cond.notify_all()
        if opener:
            self._compute(group, batch, member, progress)
        else:
            self._wait(member, progress)
        return _raise_or_return(member.answer, progress)

    def _compute(self, group: Hashable, batch: _Batch, own: _Member, progress) -> None:
        """The opener's part: let the batch fill, take the group's turn, close it and compute it."""
        stopped: BaseException | None = None
        self._fill(batch, time.monotonic() + self.window)
        with self._cond:
            turn = self._turns.setdefault(group, threading.Lock())
        with turn, self._slots:
            # requests freed by the group's previous batch get one window to come back and join
            self._fill(batch, time.monotonic() + self.window)
            try:
                if progress is not None:
                    progress(0.0)
            except BaseException as error:  # noqa: BLE001 - cancelled: still computes the others' maps
                stopped, own.withdrawn = error, True
            with self._cond:
                batch.closed = True
                if self._open.get(group) is batch:
                    del self._open[group]
                self._waiting[group].remove(batch)
                members = [member for member in batch.members if not member.withdrawn]
            try:
                answers = list(batch.compute([member.item for member in members])) if members else []
                if len(answers) != len(members):
                    raise RuntimeError(f"a batch of {len(members)} requests got {len(answers)} answers")
            except BaseException as error:  # noqa: BLE001 - handed to every request of the batch
                answers = [error] * len(members)
            with self._cond:
                for member, answer in zip(members, answers):
                    member.answer = answer
                for member in batch.members:
                    member.done = True
                self.sizes = (self.sizes + [len(members)])[-200:]
                self.pictures = (self.pictures + [len({member.row for member in members})])[-200:]
                self._cond.notify_all()
        if stopped is not None:
            raise stopped

    def _fill(self, batch: _Batch, until: float) -> None:
        """Wait until ``until`` or until the batch is full."""
        with self._cond:
            while len(batch.rows) < self.size and (left := until - time.monotonic()) > 0:
                self._cond.wait(left)

    def _wait(self, member: _Member, progress) -> None:
        """A request that joined: wait for its batch, checking its own cancel between waits."""
        while True:
            with self._cond:
                if not member.done:
                    self._cond.wait(POLL_SECONDS)
                if member.done:
                    return
            try:
                if progress is not None:
                    progress(0.0)
            except BaseException:
                with self._cond:
                    member.withdrawn = True  # left alone; a batch not yet closed does not compute it
                raise

    def stats(self) -> dict[str, Any]:
        """The window, the largest batch (pictures), and the mean requests and pictures of recent batches
        (None before any)."""
        sizes, pictures = list(self.sizes), list(self.pictures)
        return {
            "window_ms": round(self.window * 1000, 1),
            "max_batch": self.size,
            "batches": len(sizes),
            "mean_batch": round(sum(sizes) / len(sizes), 2) if sizes else None,
            "mean_pictures": round(sum(pictures) / len(pictures), 2) if pictures else None,
        }


def _raise_or_return(answer: Any, progress: Callable[[float], None] | None) -> Any:
    if isinstance(answer, BaseException):
        raise answer
    if progress is not None:  # the end, as a request computed alone reports it (a cancel now still stops it)
        progress(1.0)
    return answer


def explain_together(
    coalescer: Coalescer,
    model: Any,
    image: Any,
    methods: Sequence[str],
    target: int | str | None,
    layer: str | None,
    params: Mapping[str, Mapping[str, Any]],
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """``explain_all(model, image, methods, ..., on_error="return")`` of one request, in a batch with the
    other requests for ``model`` that arrive within the window (``explainers.many_pictures``)."""
    request = PictureRequest(image, tuple(methods), target, layer, params)
    row = (hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest(), target, layer)
    return coalescer.run(id(model), request, lambda requests: explain_many(model, requests), progress, row)
