"""Scale-out: the same service on Celery workers with Redis as broker, picture store and result cache.

    EXPLAINER_BACKEND=celery REDIS_URL=redis://host:6379/0 gunicorn app:server      # web tier, no TensorFlow
    REDIS_URL=... celery -A service.remote worker --concurrency 1 --prefetch-multiplier 1   # one per GPU

The web tier validates a request, looks in the shared cache, and otherwise sends the request (a plain
dict) to a worker; the worker runs ``ExplainerService.compute`` with its resident model, reports
progress through the task's state, checks a cancel flag in Redis at every progress report, and puts
the result in the shared cache. Tasks are acknowledged late with prefetch 1, so a worker takes one job
at a time; a worker that dies mid-job fails that job cleanly ("try again"), and the others go on.

When Redis cannot be reached the web tier answers within about two seconds with a plain message, and
/readyz says "degraded". Nothing here imports TensorFlow in the web tier or in a worker's parent process.
"""
from __future__ import annotations

import base64
import os
import pickle
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Hashable

import numpy as np
from celery import Celery
from celery.exceptions import WorkerLostError
from celery.signals import worker_process_init

from explainers.errors import ExplainerError
from service.jobs import BusyError, Cancelled, Job, JobBook
from service.store import ImageStore

PREFIX = "saliency:"
QUEUE = "saliency"
UNREACHABLE = "The computing service cannot be reached right now. Please try again in a minute."


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def make_celery(url: str | None = None) -> Celery:
    url = url or redis_url()
    app = Celery("saliency", broker=url, backend=url)
    timeouts = {"socket_connect_timeout": 1, "socket_timeout": 5}
    app.conf.update(
        task_acks_late=True, worker_prefetch_multiplier=1, task_reject_on_worker_lost=False,
        task_track_started=True, task_default_queue=QUEUE, result_expires=3600,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        broker_connection_retry_on_startup=True, broker_transport_options={**timeouts, "max_retries": 1},
        redis_socket_connect_timeout=1, redis_socket_timeout=5, result_backend_transport_options=timeouts,
        worker_hijack_root_logger=False,
    )
    return app


celery_app = make_celery()


def _client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


class RedisStore:
    """get/set of pickled values in Redis with a time to live: the shared level of ResultCache.

    Only this project's own processes write these keys (the web tier and the workers)."""

    def __init__(self, url: str, ttl: int = 7 * 24 * 3600):
        self.client, self.ttl = _client(url), ttl

    def get(self, key: str) -> Any:
        data = self.client.get(PREFIX + "result:" + key)
        return None if data is None else pickle.loads(data)

    def set(self, key: str, value: Any) -> None:
        self.client.set(PREFIX + "result:" + key, pickle.dumps(value), ex=self.ttl)

    def __len__(self) -> int:
        return sum(1 for _ in self.client.scan_iter(PREFIX + "result:*", count=1000))


class RedisImageStore(ImageStore):
    """Pictures in Redis, so every worker on every machine can read what the web tier received."""

    def __init__(self, url: str, ttl: int = 2 * 24 * 3600, memory_items: int = 64):
        super().__init__(None, memory_items)
        self.client, self.ttl = _client(url), ttl

    def _exists(self, key: str) -> bool:
        return bool(self._call(self.client.exists, PREFIX + "image:" + key))

    def _write(self, key: str, data: bytes) -> None:
        self._call(self.client.set, PREFIX + "image:" + key, data, ex=self.ttl)

    def _read(self, key: str) -> bytes | None:
        return self._call(self.client.get, PREFIX + "image:" + key)

    @staticmethod
    def _call(operation, *args, **kwargs):
        import redis

        try:
            return operation(*args, **kwargs)
        except redis.RedisError:
            raise ExplainerError(UNREACHABLE) from None


class RemoteJob(Job):
    """A Job whose work runs in a Celery worker; state, progress and result come from the task."""

    def __init__(self, key: Hashable, task_id: str, deadline: float, jobs: "CeleryJobs"):
        super().__init__(key, lambda job: None, None, deadline)
        self.id = task_id
        self._jobs = jobs
        self._result = jobs.celery.AsyncResult(task_id)

    def _refresh(self) -> None:
        if self.done or self._result is None:
            return
        try:
            state, info = self._result.state, self._result.info
        except Exception:  # noqa: BLE001 - Redis went away while we waited
            self._finish("failed", error=ExplainerError(UNREACHABLE))
            return
        if state in {"STARTED", "PROGRESS"}:
            self.status = "running"
            if self.started is None:
                self.started = time.monotonic()
            if isinstance(info, dict) and "progress" in info:
                self.progress = float(info["progress"])
                self.eta = info.get("eta")
        elif state == "SUCCESS":
            if isinstance(info, dict) and "error" in info:
                error = Cancelled(info["error"]) if info.get("cancelled") else ExplainerError(info["error"])
                self._finish("cancelled" if info.get("cancelled") else "failed", error=error)
            else:
                self._finish("done", from_wire(info))
        elif state == "FAILURE":
            if isinstance(info, WorkerLostError) or "WorkerLost" in type(info).__name__:
                message = "The worker computing this map stopped unexpectedly. Please try again."
            else:
                message = "Something went wrong on the server while computing this. Please try again."
            self._finish("failed", error=ExplainerError(message))
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

    def __init__(self, url: str, max_queue: int = 60):
        self.url = url
        self.celery = make_celery(url)
        self.redis = _client(url)
        self.max_queue = max_queue
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._active: dict[Hashable, RemoteJob] = {}
        self._lock = threading.Lock()

    def reachable(self) -> bool:
        try:
            return bool(self.redis.ping())
        except Exception:  # noqa: BLE001
            return False

    def submit_request(self, key: Hashable, request: dict[str, Any], deadline: float) -> Job:
        with self._lock:
            existing = self._active.get(key)
            if existing is not None and not existing.done and not existing.cancelled:
                return existing
        try:
            waiting = self.redis.llen(QUEUE)
        except Exception:  # noqa: BLE001 - Redis is down: say so at once
            raise ExplainerError(UNREACHABLE) from None
        if waiting >= self.max_queue:
            retry = max(1, int(waiting * 2))
            raise BusyError(f"The server is busy ({waiting} maps are waiting). Please try again in about "
                            f"{retry} s.", retry)
        try:
            sent = self.celery.send_task("saliency.compute", args=[request, list(key)], queue=QUEUE)
        except Exception:  # noqa: BLE001
            raise ExplainerError(UNREACHABLE) from None
        job = RemoteJob(key, sent.id, deadline, self)
        with self._lock:
            self._remember(job)
            self._active = {k: j for k, j in self._active.items() if not j.done}
            self._active[key] = job
        return job

    def submit(self, key, function: Callable[[Job], Any], session=None, deadline: float = 120.0) -> Job:
        raise ExplainerError("the Celery backend runs requests, not local functions")

    def cancel(self, job_id: str, reason: str = "Stopped.") -> bool:
        job = self.get(job_id)
        if job is None or job.done:
            return False
        job.cancel(reason)
        return True

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
        import gc

        gc.collect()
        self.celery.close()


# ---- results over JSON (Celery refuses pickle from a worker running as root, and rightly so) --------
def to_wire(value: Any) -> Any:
    from service.core import MapResult

    if isinstance(value, MapResult):
        body = {k: v for k, v in value.__dict__.items() if k != "heatmap"}
        heatmap = np.ascontiguousarray(value.heatmap, np.float32)
        body["heatmap"] = {"b64": base64.b64encode(heatmap.tobytes()).decode(), "shape": list(heatmap.shape)}
        return {"map": body}
    if isinstance(value, dict):  # a trust check (service.trust): numbers, strings and small arrays
        return {"check": _arrays_out(value)}
    return {"predictions": [list(row) for row in value]}


def _arrays_out(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return {"__array__": base64.b64encode(data.tobytes()).decode(), "dtype": str(data.dtype),
                "shape": list(data.shape)}
    if isinstance(value, dict):
        return {str(k): _arrays_out(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_arrays_out(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _arrays_in(value: Any) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            raw = base64.b64decode(value["__array__"])
            return np.frombuffer(raw, np.dtype(value["dtype"])).reshape(value["shape"]).copy()
        return {k: _arrays_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_arrays_in(v) for v in value]
    return value


def from_wire(payload: dict[str, Any]) -> Any:
    from service.core import MapResult

    if "predictions" in payload:
        return [(int(i), str(name), float(p)) for i, name, p in payload["predictions"]]
    if "check" in payload:
        return _arrays_in(payload["check"])
    body = dict(payload["map"])
    raw = body.pop("heatmap")
    heatmap = np.frombuffer(base64.b64decode(raw["b64"]), np.float32).reshape(raw["shape"]).copy()
    return MapResult(heatmap=heatmap, **body)


# ---- the worker side --------------------------------------------------------------------------------
_worker_service = None
_worker_lock = threading.Lock()


@worker_process_init.connect
def _warm_worker(**_kwargs) -> None:
    """Each worker child loads the default model and traces its passes before the first job arrives."""
    if os.environ.get("EXPLAINERS_WARM_UP", "1") != "0":
        service = worker_service()
        service.warm_up(os.environ.get("EXPLAINERS_MODEL") or service.default_model(), background=True)


def worker_service():
    """The worker process's own service (resident models), built on first use inside the worker child."""
    global _worker_service
    with _worker_lock:
        if _worker_service is None:
            from service.core import ExplainerService

            url = redis_url()
            _worker_service = ExplainerService(
                images=RedisImageStore(url), shared_cache=RedisStore(url),
                weights=os.environ.get("EXPLAINERS_WEIGHTS", "imagenet"),
                weights_dir=os.environ.get("EXPLAINERS_WEIGHTS_DIR") or None)
        return _worker_service


@celery_app.task(name="saliency.compute", bind=True)
def compute_task(self, request: dict[str, Any], cache_key: list) -> Any:
    """Run one request in this worker. Errors travel back as plain messages, not tracebacks."""
    started = time.monotonic()
    flag = PREFIX + "cancel:" + (self.request.id or "")
    svc = worker_service()
    redis = _client(redis_url())

    def progress(fraction: float) -> None:
        if redis.exists(flag):
            raise Cancelled((redis.get(flag) or b"Stopped.").decode())
        elapsed = time.monotonic() - started
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        self.update_state(state="PROGRESS", meta={"progress": fraction, "eta": eta})

    try:
        return to_wire(svc.compute(request, progress, cache_key))
    except Cancelled as error:
        return {"error": str(error), "cancelled": True}
    except ExplainerError as error:
        return {"error": str(error)}
