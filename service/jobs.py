"""A bounded job queue with progress, cancel, deadlines, owners and fair shares.

Every computation that touches TensorFlow goes through a ``JobRunner``: a few worker threads in this
process (TensorFlow already uses every core inside one op, so more threads would only interleave), a
queue of at most ``max_queue`` waiting jobs (beyond it ``BusyError`` answers at once with a
retry-after, never a hang), and identical requests merged into one job ("single flight").

Cheap work never waits behind expensive work: one-pass maps go ahead of multi-pass ones in the queue,
and an extra "express" worker takes one-pass work only. A session's *expensive* jobs run one at a
time, so one student cannot take every worker; jobs of different sessions interleave.

A job belongs to the clients that asked for it (a browser's session cookie, an API caller): only they
can see it, and a client's cancel withdraws only its own interest; the computation stops when nobody
waits for it any more. Each client may have at most ``client_queue`` jobs of its own waiting
(``QuotaError``), so one client cannot fill the queue. Long work reports progress through
``Job.report`` and stops at the next report after a cancel or when its deadline passes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from explainers.errors import ExplainerError

log = logging.getLogger(__name__)


class BusyError(ExplainerError):
    """Too many jobs are waiting; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class QuotaError(BusyError):
    """This client already has as many jobs waiting as it may; the others are still served."""


class Cancelled(ExplainerError):
    """The job was cancelled (by the person, by a newer request for the same card, or by its deadline)."""


class _Anyone:
    """Who the server itself is, when it looks up or stops a job: it may see and stop every job."""

    def __repr__(self) -> str:
        return "ANYONE"


#: the ``client`` of internal calls: sees every job, and its cancel stops the computation for everyone
ANYONE: Any = _Anyone()


class Job:
    """One computation: its state, progress (0..1), estimated seconds left, and result or error.

    ``expensive``: multi-pass work (the session limit applies to it, and cheap work goes first);
    ``title``: what it computes in words ("SmoothGrad"), for whoever waits behind it; ``stage``: what
    it is doing before its progress starts ("Loading InceptionV3 ..."), empty when nothing to say.
    """

    def __init__(
        self,
        key: Hashable,
        function: Callable[[Job], Any],
        session: str | None,
        deadline: float,
        *,
        client: str | None = None,
        expensive: bool = True,
        title: str = "",
    ):
        self.id = uuid.uuid4().hex
        self.key = key
        self.function = function
        self.session = session
        self.deadline = deadline
        self.expensive = expensive
        self.title = title
        self.stage = ""
        self.creator = client  # the client whose request started it (``shared`` for everyone else)
        self.known: set[str | None] = {client}  # clients that received its id: only they may see it
        self.interested: set[str | None] = {client}  # clients still waiting for it
        self.left: dict[str | None, float] = {}  # clients that withdrew -> the progress when they did
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
            raise Cancelled(
                f"This took longer than the {self.deadline:.0f} s allowed and was stopped. Try fewer samples or steps."
            )

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

    # ---- owners ---------------------------------------------------------------------------------
    def join(self, client: str | None) -> None:
        """``client`` asked for this job (again): it may see it, and it waits for it."""
        self.known.add(client)
        self.interested.add(client)
        self.left.pop(client, None)

    def withdraw(self, client: str | None) -> None:
        """``client`` stops waiting; the progress at that moment is kept for what it shows."""
        if client in self.interested:
            self.interested.discard(client)
            self.left[client] = self.progress

    def shared_with(self, client: str | None) -> bool:
        """True when ``client`` joined a job that someone else's request started."""
        return client is not ANYONE and client != self.creator

    def stopped_for(self, client: str | None) -> float | None:
        """The progress at which the computation stopped for ``client`` (its own cancel, or everyone's),
        or None while it still runs (or finished) for it."""
        if client in self.left:
            return self.left[client]
        if self.status == "cancelled":
            return self.progress
        return None

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "progress": round(self.progress, 3),
            "eta": None if self.eta is None else round(self.eta, 1),
            "stage": self.stage or None,
            "error": None if self.error is None else str(self.error),
        }


#: what a job computes: a request (a dict naming its ``kind``, as a Celery worker would get it), or, for
#: work that never leaves this process, a function of the job
Work = Mapping[str, Any] | Callable[[Job], Any]


def client_queue_default() -> int:
    """How many jobs of its own one client may have waiting (``EXPLAINERS_CLIENT_QUEUE``, default 12)."""
    try:
        return max(1, int(os.environ.get("EXPLAINERS_CLIENT_QUEUE", "12")))
    except ValueError:
        return 12


class JobBook:
    """Jobs by id, recent finished ones kept for polling, and who owns them: what every backend shares.

    Every backend takes work the same way, ``submit(key, request, session=..., deadline=..., client=...)``:
    identical keys share one job ("single flight", the client joins it), a full queue raises BusyError,
    a client over its share QuotaError, and the job is returned at once. ``get`` and ``cancel`` with a
    ``client`` see only that client's jobs, and a cancel withdraws only its interest.
    """

    _lock: threading.Condition | threading.Lock
    _jobs: OrderedDict[str, Job]
    _keep: int = 512
    max_queue: int
    client_queue: int = 12

    def submit(
        self,
        key: Hashable,
        work: Work,
        session: str | None = None,
        deadline: float = 120.0,
        *,
        client: str | None = None,
        expensive: bool = True,
        title: str = "",
    ) -> Job:
        raise NotImplementedError

    def cancel(self, job_id: str, reason: str = "Stopped.", client: Any = ANYONE) -> bool:
        """Withdraw ``client``'s interest in a job it received; the computation stops when nobody waits
        any more (at once with ``client=ANYONE``). False for a job unknown to the client, or ended."""
        job = self.get(job_id, client)
        if job is None or job.done:
            return False
        with self._lock:
            if client is not ANYONE:
                job.withdraw(client)
                if job.interested:  # others still wait: it goes on for them
                    return True
        self._stop(job, reason)
        return True

    def _stop(self, job: Job, reason: str) -> None:
        """Stop the computation itself (nobody waits for it any more)."""
        raise NotImplementedError

    def waiting(self, job: Job) -> str:
        """What a queued job waits for, in words ("waiting behind SmoothGrad, about 40 s"); "" otherwise."""
        return "waiting for a free worker…" if job.status == "queued" else ""

    def _check_quota(self, client: str | None, retry: int) -> None:
        """Refuse a client that already has ``client_queue`` jobs of its own waiting (caller holds the lock)."""
        if client is None or client is ANYONE:
            return
        own = sum(1 for job in self._jobs.values() if job.creator == client and job.status == "queued" and not job.done)
        if own >= self.client_queue:
            raise QuotaError(
                f"You already have {own} maps waiting, the most one person may have at once. "
                f"Please wait for them (about {retry} s) before asking for more.",
                retry,
            )

    def queue_length(self) -> int:
        raise NotImplementedError

    def running(self) -> int:
        raise NotImplementedError

    def readiness(self, status: str, errors: list[str]) -> tuple[str, list[str]]:
        """What /readyz says, given the warm-up ``status`` and ``errors`` of the models in this process
        (where this book's jobs run, those are the answer)."""
        return status, errors

    def completed(self, key: Hashable, result: Any, client: str | None = None) -> Job:
        """A job that is already done (a cache hit), so callers handle every answer the same way."""
        job = Job(key, lambda _job: result, None, 0.0, client=client, expensive=False)
        job._finish("done", result)
        with self._lock:
            self._remember(job)
        return job

    def get(self, job_id: str, client: Any = ANYONE) -> Job | None:
        """The job ``job_id``, if ``client`` received it (every job for ``ANYONE``); else None."""
        with self._lock:
            job = self._jobs.get(job_id) if isinstance(job_id, str) else None
        if job is None or client is ANYONE or client in job.known:
            return job
        return None

    def _remember(self, job: Job) -> None:
        self._jobs[job.id] = job
        while len(self._jobs) > self._keep:
            oldest_id, oldest = next(iter(self._jobs.items()))
            if not oldest.done:
                break
            del self._jobs[oldest_id]


class JobRunner(JobBook):
    """Worker threads over a bounded, session-fair queue, cheap work first."""

    def __init__(
        self,
        workers: int = 2,
        max_queue: int = 60,
        keep_finished: int = 512,
        run: Callable[[Mapping[str, Any], Job], Any] | None = None,
        express: int = 1,
        client_queue: int | None = None,
    ):
        """``run(request, job)`` computes a submitted request in a worker thread (the service's dispatch on
        the request's kind); functions of the job need none. ``express``: extra workers that take cheap
        (one-pass) work only, so a quick map never waits for a slow one to end. ``client_queue``: how many
        jobs of its own one client may have waiting (default: ``EXPLAINERS_CLIENT_QUEUE``)."""
        self.run = run
        self.workers = max(1, int(workers))
        self.express = max(0, int(express))
        self.max_queue = max(1, int(max_queue))
        self.client_queue = client_queue_default() if client_queue is None else max(1, int(client_queue))
        self._queue: list[Job] = []
        self._active: dict[Hashable, Job] = {}  # key -> queued or running job (single flight)
        self._running_sessions: set[str] = set()  # sessions with an expensive job running
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
            for i in range(self.express):
                threading.Thread(target=self._work, args=(True,), name=f"explainer-express-{i}", daemon=True).start()

    def submit(
        self,
        key: Hashable,
        work: Work,
        session: str | None = None,
        deadline: float = 120.0,
        *,
        client: str | None = None,
        expensive: bool = True,
        title: str = "",
    ) -> Job:
        function = work if callable(work) else self._runner_of(work)
        self._ensure_workers()
        with self._lock:
            existing = self._active.get(key)
            if existing is not None and not existing.cancelled:
                existing.join(client)
                return existing
            waiting = len(self._queue)
            if waiting >= self.max_queue:
                retry = self.retry_after()
                raise BusyError(
                    f"The server is busy ({waiting} maps are waiting). Please try again in about {retry} s.", retry
                )
            self._check_quota(client, self.retry_after())
            job = Job(key, function, session, deadline, client=client, expensive=expensive, title=title)
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

    def _stop(self, job: Job, reason: str) -> None:
        job.cancel(reason)
        with self._lock:
            if job in self._queue:  # not started yet: finish it now
                self._queue.remove(job)
                self._forget_active(job)
                job._finish("cancelled", error=Cancelled(reason))
            self._lock.notify_all()

    def queue_length(self) -> int:
        with self._lock:
            return len(self._queue)

    def running(self) -> int:
        with self._lock:
            return sum(1 for job in self._active.values() if job.status == "running")

    def retry_after(self) -> int:
        average = sum(self._seconds) / len(self._seconds)
        return max(1, int(round(average * (len(self._queue) + 1) / self.workers)))

    def waiting(self, job: Job) -> str:
        """What a queued job waits behind, in words, with a rough time: the session's own expensive job
        (one at a time per session), else the jobs on the workers and those ahead of it in the queue."""
        with self._lock:
            if job.status != "queued" or job.done or job not in self._queue:
                return ""
            running = [other for other in self._active.values() if other.status == "running"]
            if job.expensive and job.session is not None and job.session in self._running_sessions:
                blockers = [other for other in running if other.session == job.session and other.expensive]
            else:
                blockers = running
            ahead = [other for other in self._queue[: self._queue.index(job)] if not other.expensive or job.expensive]
            average = sum(self._seconds) / len(self._seconds)
        lefts = [self._left(other, average) for other in blockers]
        seconds = (min(lefts) if lefts else 0.0) + average * len(ahead) / self.workers
        titles = list(dict.fromkeys(other.title for other in blockers if other.title))
        behind = f"waiting behind {' and '.join(titles[:2])}" if titles else "waiting for a free worker"
        return f"{behind}, about {max(1, round(seconds))} s"

    @staticmethod
    def _left(job: Job, average: float) -> float:
        """Seconds a running job probably still needs: its own estimate, else the recent average."""
        if job.eta is not None:
            return job.eta
        elapsed = time.monotonic() - job.started if job.started is not None else 0.0
        return max(1.0, average - elapsed)

    # ---- internals ----------------------------------------------------------------------------
    def _forget_active(self, job: Job) -> None:
        if self._active.get(job.key) is job:
            del self._active[job.key]

    def _startable(self, job: Job, express: bool) -> bool:
        if not job.expensive:
            return True
        return not express and (job.session is None or job.session not in self._running_sessions)

    def _next(self, express: bool) -> Job:
        """The next job this worker may take: cheap ones first (in order), then expensive ones whose
        session has none running; express workers take cheap ones only."""
        with self._lock:
            while True:
                found = next((job for job in self._queue if not job.expensive), None) or next(
                    (job for job in self._queue if self._startable(job, express)), None
                )
                if found is not None:
                    self._queue.remove(found)
                    if found.expensive and found.session is not None:
                        self._running_sessions.add(found.session)
                    found.status = "running"
                    found.started = time.monotonic()
                    return found
                self._lock.wait()

    def _work(self, express: bool = False) -> None:
        while True:
            job = self._next(express)
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
                if job.session is not None and job.expensive:
                    self._running_sessions.discard(job.session)
                self._forget_active(job)
                self._lock.notify_all()
