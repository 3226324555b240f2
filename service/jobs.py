"""A bounded job queue with progress, cancel, deadlines and one running job per browser session.

Every computation that touches TensorFlow goes through a ``JobRunner``: a few worker threads in this
process (TensorFlow already uses every core inside one op, so more threads would only interleave), a
queue of at most ``max_queue`` waiting jobs (beyond it ``BusyError`` answers at once with a
retry-after, never a hang), and identical requests merged into one job ("single flight"). A session's
jobs run one at a time, so one student cannot take every worker; jobs of different sessions
interleave. Long work reports progress through ``Job.report`` and stops at the next report after a
cancel or when its deadline passes.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any, Callable, Hashable, Mapping

from explainers.errors import ExplainerError

log = logging.getLogger(__name__)


class BusyError(ExplainerError):
    """Too many jobs are waiting; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class Cancelled(ExplainerError):
    """The job was cancelled (by the person, by a newer request for the same card, or by its deadline)."""


class Job:
    """One computation: its state, progress (0..1), estimated seconds left, and result or error."""

    def __init__(self, key: Hashable, function: Callable[["Job"], Any], session: str | None, deadline: float):
        self.id = uuid.uuid4().hex
        self.key = key
        self.function = function
        self.session = session
        self.deadline = deadline
        self.status = "queued"  # queued | running | done | failed | cancelled
        self.progress = 0.0
        self.eta: float | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.created = time.monotonic()
        self.started: float | None = None
        self.finished: float | None = None
        self._cancel = threading.Event()
        self._done = threading.Event()
        self.cancel_reason = ""
        self.partial: Any = None  # the latest partial result of long work (a running-average map), if any

    # ---- for the work itself ------------------------------------------------------------------
    def report(self, fraction: float) -> None:
        """Record progress and stop here if the job was cancelled or ran out of time."""
        self.progress = min(1.0, max(self.progress, float(fraction)))
        if self.started is not None and self.progress > 0:
            elapsed = time.monotonic() - self.started
            self.eta = elapsed * (1.0 - self.progress) / self.progress
        self.check()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled(self.cancel_reason or "Stopped.")
        if self.started is not None and time.monotonic() - self.started > self.deadline:
            raise Cancelled(f"This took longer than the {self.deadline:.0f} s allowed and was stopped. "
                            f"Try fewer samples or steps.")

    # ---- for whoever waits --------------------------------------------------------------------
    def cancel(self, reason: str = "Stopped.") -> None:
        self.cancel_reason = reason
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def outcome(self) -> Any:
        """The result, or the job's error raised again."""
        if self.error is not None:
            raise self.error
        return self.result

    def _finish(self, status: str, result: Any = None, error: BaseException | None = None) -> None:
        self.status, self.result, self.error = status, result, error
        self.finished = time.monotonic()
        if status == "done":
            self.progress = 1.0
            self.eta = 0.0
        self._done.set()

    def snapshot(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "progress": round(self.progress, 3),
                "eta": None if self.eta is None else round(self.eta, 1),
                "error": None if self.error is None else str(self.error)}


#: what a job computes: a request (a dict naming its ``kind``, as a Celery worker would get it), or, for
#: work that never leaves this process, a function of the job
Work = Mapping[str, Any] | Callable[[Job], Any]


class JobBook:
    """Jobs by id, recent finished ones kept for polling: what every backend shares.

    Every backend takes work the same way, ``submit(key, request, session=..., deadline=...)``: identical
    keys share one job ("single flight"), a full queue raises BusyError, and the job is returned at once.
    """

    _lock: threading.Condition | threading.Lock
    _jobs: OrderedDict[str, Job]
    _keep: int = 512
    max_queue: int

    def submit(self, key: Hashable, work: Work, session: str | None = None, deadline: float = 120.0) -> Job:
        raise NotImplementedError

    def cancel(self, job_id: str, reason: str = "Stopped.") -> bool:
        raise NotImplementedError

    def queue_length(self) -> int:
        raise NotImplementedError

    def running(self) -> int:
        raise NotImplementedError

    def readiness(self, status: str, errors: list[str]) -> tuple[str, list[str]]:
        """What /readyz says, given the warm-up ``status`` and ``errors`` of the models in this process
        (where this book's jobs run, those are the answer)."""
        return status, errors

    def completed(self, key: Hashable, result: Any) -> Job:
        """A job that is already done (a cache hit), so callers handle every answer the same way."""
        job = Job(key, lambda _job: result, None, 0.0)
        job._finish("done", result)
        with self._lock:
            self._remember(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id) if isinstance(job_id, str) else None

    def _remember(self, job: Job) -> None:
        self._jobs[job.id] = job
        while len(self._jobs) > self._keep:
            oldest_id, oldest = next(iter(self._jobs.items()))
            if not oldest.done:
                break
            del self._jobs[oldest_id]


class JobRunner(JobBook):
    """Worker threads over a bounded, session-fair queue."""

    def __init__(self, workers: int = 2, max_queue: int = 60, keep_finished: int = 512,
                 run: Callable[[Mapping[str, Any], Job], Any] | None = None):
        """``run(request, job)`` computes a submitted request in a worker thread (the service's dispatch on
        the request's kind); functions of the job need none."""
        self.run = run
        self.workers = max(1, int(workers))
        self.max_queue = max(1, int(max_queue))
        self._queue: list[Job] = []
        self._active: dict[Hashable, Job] = {}  # key -> queued or running job (single flight)
        self._running_sessions: set[str] = set()
        self._jobs: OrderedDict[str, Job] = OrderedDict()  # id -> job, recent ones kept for polling
        self._keep = keep_finished
        self._lock = threading.Condition()
        self._seconds = [1.0]  # recent job durations, for retry-after estimates
        self._pid: int | None = None  # the process whose worker threads are running
        self.computed = 0  # jobs that ran to an end (done, failed or cancelled), for /readyz

    def _ensure_workers(self) -> None:
        """Start the worker threads on first use, and again in a forked child (threads do not survive
        a fork: a runner built in gunicorn's master must not leave its workers without threads)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            for i in range(self.workers):
                threading.Thread(target=self._work, name=f"explainer-{i}", daemon=True).start()

    def submit(self, key: Hashable, work: Work, session: str | None = None, deadline: float = 120.0) -> Job:
        function = work if callable(work) else self._runner_of(work)
        self._ensure_workers()
        with self._lock:
            existing = self._active.get(key)
            if existing is not None and not existing.cancelled:
                return existing
            waiting = len(self._queue)
            if waiting >= self.max_queue:
                retry = self.retry_after()
                raise BusyError(f"The server is busy ({waiting} maps are waiting). Please try again in about "
                                f"{retry} s.", retry)
            job = Job(key, function, session, deadline)
            self._queue.append(job)
            self._active[key] = job
            self._remember(job)
            self._lock.notify_all()
            return job

    def _runner_of(self, request: Mapping[str, Any]) -> Callable[[Job], Any]:
        if self.run is None:
            raise TypeError("this JobRunner runs functions only: build it with run=... to submit requests")
        run = self.run
        return lambda job: run(request, job)

    def cancel(self, job_id: str, reason: str = "Stopped.") -> bool:
        job = self.get(job_id)
        if job is None or job.done:
            return False
        job.cancel(reason)
        with self._lock:
            if job in self._queue:  # not started yet: finish it now
                self._queue.remove(job)
                self._forget_active(job)
                job._finish("cancelled", error=Cancelled(reason))
            self._lock.notify_all()
        return True

    def queue_length(self) -> int:
        with self._lock:
            return len(self._queue)

    def running(self) -> int:
        with self._lock:
            return sum(1 for job in self._active.values() if job.status == "running")

    def retry_after(self) -> int:
        average = sum(self._seconds) / len(self._seconds)
        return max(1, int(round(average * (len(self._queue) + 1) / self.workers)))

    # ---- internals ----------------------------------------------------------------------------
    def _forget_active(self, job: Job) -> None:
        if self._active.get(job.key) is job:
            del self._active[job.key]

    def _next(self) -> Job:
        with self._lock:
            while True:
                for job in self._queue:
                    if job.session is None or job.session not in self._running_sessions:
                        self._queue.remove(job)
                        if job.session is not None:
                            self._running_sessions.add(job.session)
                        job.status = "running"
                        job.started = time.monotonic()
                        return job
                self._lock.wait()

    def _work(self) -> None:
        while True:
            job = self._next()
            try:
                job.check()
                result = job.function(job)
            except Cancelled as error:
                job._finish("cancelled", error=error)
            except BaseException as error:  # noqa: BLE001 - handed to whoever waits, in plain words there
                if not isinstance(error, ExplainerError):
                    log.exception("job %s failed", job.key)
                job._finish("failed", error=error)
            else:
                job._finish("done", result)
            with self._lock:
                self.computed += 1
                self._seconds = (self._seconds + [job.finished - job.started])[-20:]
                if job.session is not None:
                    self._running_sessions.discard(job.session)
                self._forget_active(job)
                self._lock.notify_all()
