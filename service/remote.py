"""Scale-out, the web tier's side: Celery workers with Redis as broker, picture store and result cache.

    EXPLAINER_BACKEND=celery REDIS_URL=redis://host:6379/0 gunicorn app:server      # web tier, no TensorFlow
    REDIS_URL=... celery -A service.worker worker --concurrency 1 --prefetch-multiplier 1   # one per GPU

The web tier validates a request, looks in the shared cache, and otherwise sends the request (a plain
dict) to a worker (``service.worker``), which runs it with its resident model, reports progress through
the task's state, checks a cancel flag in Redis at every progress report, and puts the result in the
shared cache. Tasks are acknowledged late with prefetch 1, so a worker takes one job at a time; a
worker that dies mid-job fails that job cleanly ("try again"; a set queues its pictures once more,
service/sets.py), and the others go on.

When Redis cannot be reached the web tier answers within about two seconds with a plain message, and
/readyz says "degraded". This module needs neither the service nor TensorFlow.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import redis
from celery import Celery
from celery.exceptions import WorkerLostError

from explainers.errors import ExplainerError
from service.errors import ServiceUnavailableError, WorkerStopped
from service.jobs import BusyError, Cancelled, Job, JobBook, Work, client_queue_default
from service.own_models import ModelFiles
from service.store import ImageStore
from service.wire import WireFormatError, decode, encode, from_wire

PREFIX = "saliency:"
QUEUE = "saliency"
TASK = "saliency.compute"  # the worker's task (service.worker), sent by name: the web tier never imports it
UNREACHABLE = "The computing service cannot be reached right now. Please try again in a minute."
FAILED = "Something went wrong on the server while computing this. Please try again."

log = logging.getLogger(__name__)


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def make_celery(url: str | None = None) -> Celery:
    url = url or redis_url()
    app = Celery("saliency", broker=url, backend=url)
    timeouts = {"socket_connect_timeout": 1, "socket_timeout": 5}
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_reject_on_worker_lost=False,
        task_track_started=True,
        task_default_queue=QUEUE,
        result_expires=3600,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={**timeouts, "max_retries": 1},
        redis_socket_connect_timeout=1,
        redis_socket_timeout=5,
        result_backend_transport_options=timeouts,
        worker_hijack_root_logger=False,
    )
    return app


def connect(url: str) -> redis.Redis:
    """A Redis connection that gives up quickly when the server is away."""
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


class RedisStore:
    """get/set of results in Redis with a time to live: the shared level of ResultCache.

    Values are written in service.wire's typed JSON, never pickled: an entry that is not in that format
    (damaged, from another version, or forged by whoever reached Redis) is logged and read as missing."""

    def __init__(self, url: str, ttl: int = 7 * 24 * 3600):
        self.client, self.ttl = connect(url), ttl

    def get(self, key: str) -> Any:
        data = self.client.get(PREFIX + "result:" + key)
        if data is None:
            return None
        try:
            return decode(data)
        except WireFormatError as error:
            log.warning("refused the Redis entry %sresult:%s (%s); it counts as missing", PREFIX, key, error)
            return None

    def set(self, key: str, value: Any) -> None:
        self.client.set(PREFIX + "result:" + key, encode(value), ex=self.ttl)

    def __len__(self) -> int:
        return sum(1 for _ in self.client.scan_iter(PREFIX + "result:*", count=1000))


class RedisImageStore(ImageStore):
    """Pictures in Redis, so every worker on every machine can read what the web tier received."""

    def __init__(self, url: str, ttl: int = 2 * 24 * 3600, memory_items: int = 64):
        super().__init__(None, memory_items)
        self.client, self.ttl = connect(url), ttl

    def _exists(self, key: str) -> bool:
        return bool(self._call(self.client.exists, PREFIX + "image:" + key))

    def _write(self, key: str, data: bytes) -> None:
        self._call(self.client.set, PREFIX + "image:" + key, data, ex=self.ttl)

    def _read(self, key: str) -> bytes | None:
        return self._call(self.client.get, PREFIX + "image:" + key)

    @staticmethod
    def _call(operation, *args, **kwargs):
        try:
            return operation(*args, **kwargs)
        except redis.RedisError:
            raise ServiceUnavailableError(UNREACHABLE) from None


class RedisModelFiles(ModelFiles):
    """Uploaded model files and their records in Redis as well as in a local folder, so a Celery worker on
    another machine finds an upload by its hash: it copies the file from Redis on first use."""

    def __init__(self, url: str, root, ttl: int = 7 * 24 * 3600):
        super().__init__(root)
        self.client, self.ttl = connect(url), ttl

    def keep(self, stream, max_bytes: int) -> str:
        digest = super().keep(stream, max_bytes)
        key = PREFIX + "modelfile:" + digest
        if not RedisImageStore._call(self.client.exists, key):
            RedisImageStore._call(self.client.set, key, super().path(digest).read_bytes(), ex=self.ttl)
        return digest

    def path(self, digest: str):
        try:
            return super().path(digest)
        except ExplainerError:
            data = RedisImageStore._call(self.client.get, PREFIX + "modelfile:" + str(digest))
            if data is None:
                raise
            super().keep(io.BytesIO(data), len(data))
            return super().path(digest)

    def count(self) -> int:
        return sum(1 for _ in self.client.scan_iter(PREFIX + "modelfile:*", count=1000))

    def put_record(self, kind: str, name: str, record: Any) -> None:
        RedisImageStore._call(self.client.set, f"{PREFIX}model:{kind}:{name}", json.dumps(record), ex=self.ttl)

    def get_record(self, kind: str, name: str) -> Any:
        data = RedisImageStore._call(self.client.get, f"{PREFIX}model:{kind}:{name}")
        try:
            return None if data is None else json.loads(data)
        except ValueError:
            return None

    def add_owned(self, owner: str, name: str) -> None:
        RedisImageStore._call(self.client.sadd, f"{PREFIX}model:owned:{owner}", name)
        self.client.expire(f"{PREFIX}model:owned:{owner}", self.ttl)

    def owned(self, owner: str) -> list[str]:
        found = RedisImageStore._call(self.client.smembers, f"{PREFIX}model:owned:{owner}") or ()
        return sorted(name.decode() if isinstance(name, bytes) else name for name in found)


def local_model_folder():
    """Where this process keeps its copies of uploaded model files (Keras opens files, not Redis values)."""
    from pathlib import Path

    base = os.environ.get("EXPLAINERS_DATA_DIR") or Path.home() / ".cache" / "saliency"
    return Path(base) / "models"


def received(info: Any) -> Any:
    """A worker's answer (service.wire): the result, or the error it reported; an answer in any other
    format is logged and becomes a plain failure."""
    try:
        return from_wire(info)
    except WireFormatError as error:
        log.warning("refused a worker's answer (%s)", error)
        return ExplainerError(FAILED)


class RemoteJob(Job):
    """A Job whose work runs in a Celery worker; state, progress and result come from the task."""

    def __init__(
        self,
        key: Hashable,
        task_id: str,
        deadline: float,
        jobs: CeleryJobs,
        *,
        client: str | None = None,
        expensive: bool = True,
        title: str = "",
    ):
        super().__init__(key, lambda job: None, None, deadline, client=client, expensive=expensive, title=title)
        self.id = task_id
        self._jobs = jobs
        self._result = jobs.celery.AsyncResult(task_id)

    def _refresh(self) -> None:
        if self.done or self._result is None:
            return
        try:
            state, info = self._result.state, self._result.info
        except Exception:  # noqa: BLE001 - Redis went away while we waited
            self._finish("failed", error=ServiceUnavailableError(UNREACHABLE))
            return
        if state in {"STARTED", "PROGRESS"}:
            self.status = "running"
            if self.started is None:
                self.started = time.monotonic()
            if isinstance(info, dict) and "progress" in info:
                self.progress = float(info["progress"])
                self.eta = info.get("eta")
        elif state == "SUCCESS":
            outcome = received(info)
            if isinstance(outcome, ExplainerError):
                self._finish("cancelled" if isinstance(outcome, Cancelled) else "failed", error=outcome)
            else:
                self._finish("done", outcome)
        elif state == "FAILURE":
            if isinstance(info, WorkerLostError) or "WorkerLost" in type(info).__name__:  # not the client's fault
                error = WorkerStopped("The worker computing this map stopped unexpectedly. Please try again.")
            else:
                error = ExplainerError(FAILED)
            self._finish("failed", error=error)
        elif state == "REVOKED":
            self._finish("cancelled", error=Cancelled(self.cancel_reason or "Stopped."))

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._refresh()
            if self.done:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self, reason: str = "Stopped.") -> None:
        super().cancel(reason)
        try:
            self._jobs.redis.set(PREFIX + "cancel:" + self.id, reason, ex=3600)
            self._result.revoke()  # a job still waiting in the queue is dropped before it starts
        except Exception:  # noqa: BLE001 - best effort; the deadline still stops it
            pass

    def snapshot(self) -> dict[str, Any]:
        self._refresh()
        return super().snapshot()


class CeleryJobs(JobBook):
    """The JobRunner interface (submit, get, cancel, queue_length...) over Celery tasks."""

    def __init__(self, url: str, max_queue: int = 60, client_queue: int | None = None):
        self.url = url
        self.celery = make_celery(url)
        self.redis = connect(url)
        self.max_queue = max_queue
        self.client_queue = client_queue_default() if client_queue is None else max(1, int(client_queue))
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._active: dict[Hashable, RemoteJob] = {}
        self._lock = threading.Lock()

    def reachable(self) -> bool:
        try:
            return bool(self.redis.ping())
        except Exception:  # noqa: BLE001
            return False

    def readiness(self, status: str, errors: list[str]) -> tuple[str, list[str]]:
        """The web tier has no model to warm (the workers warm their own): ready while Redis answers."""
        if not self.reachable():
            return "degraded", [*errors, "Redis (the queue to the workers) cannot be reached."]
        return "ready", errors

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
        """Send a request to the workers (``session`` is not used: each worker takes one job at a time);
        an identical request still waiting or running is joined by ``client`` instead."""
        if callable(work):
            raise ExplainerError("the Celery backend runs requests, not local functions")
        with self._lock:
            existing = self._active.get(key)
            if existing is not None and not existing.done and not existing.cancelled:
                existing.join(client)
                return existing
        with self._lock:
            mine = [job for job in self._jobs.values() if job.creator == client and job.status == "queued"]
        for job in mine:  # their state lives in Redis: look before counting them as waiting
            job.snapshot()
        try:
            waiting = self.redis.llen(QUEUE)
        except Exception:  # noqa: BLE001 - Redis is down: say so at once
            raise ServiceUnavailableError(UNREACHABLE) from None
        if waiting >= self.max_queue:
            retry = max(1, int(waiting * 2))
            raise BusyError(
                f"The server is busy ({waiting} maps are waiting). Please try again in about {retry} s.", retry
            )
        with self._lock:
            self._check_quota(client, max(1, int(waiting * 2)))
        try:
            sent = self.celery.send_task(TASK, args=[dict(work), list(key)], queue=QUEUE)
        except Exception:  # noqa: BLE001
            raise ServiceUnavailableError(UNREACHABLE) from None
        job = RemoteJob(key, sent.id, deadline, self, client=client, expensive=expensive, title=title)
        with self._lock:
            self._remember(job)
            self._active = {k: j for k, j in self._active.items() if not j.done}
            self._active[key] = job
        return job

    def _stop(self, job: Job, reason: str) -> None:
        job.cancel(reason)  # a flag in Redis the worker reads at its next progress report

    def waiting(self, job: Job) -> str:
        job.snapshot()
        if job.status != "queued" or job.done:
            return ""
        waiting = self.queue_length()
        ahead = f" ({waiting} waiting)" if waiting > 0 else ""
        return f"waiting for a free worker{ahead}, about {max(1, waiting * 2)} s"

    def queue_length(self) -> int:
        try:
            return int(self.redis.llen(QUEUE))
        except Exception:  # noqa: BLE001
            return -1

    def running(self) -> int:
        with self._lock:
            return sum(1 for job in self._active.values() if not job.done and job.status == "running")

    def close(self) -> None:
        """Let go of every task result now (while Redis is still there to say goodbye to)."""
        with self._lock:
            for job in self._jobs.values():
                if isinstance(job, RemoteJob):
                    job._result = None
            self._jobs.clear()
            self._active.clear()
        gc.collect()
        self.celery.close()
