"""Where jobs run, chosen by name.

``local``: worker threads in this process, pictures and results in its data folder (the embedded
default, no other service). ``celery``: Celery workers reached through Redis, which also holds the
pictures and the results every process shares (see ``service.remote`` and ``service.worker``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from service.coalesce import worker_threads
from service.jobs import Job, JobBook, JobRunner
from service.store import ImageStore

#: computes one request in a local worker thread: the service's dispatch on the request's kind
RunRequest = Callable[[Mapping[str, Any], Job], Any]


@dataclass
class Backend:
    """What a backend gives the service."""

    jobs: JobBook
    images: ImageStore | None  # None: the service keeps the pictures in its own data folder
    shared_cache: Any  # None: the service's own disk cache; else a get/set store every process reads
    device: str  # what /readyz names as the computing device until a model is loaded in this process
    model_files: Any = None  # None: uploaded models in the service's data folder; else a store every process reads


def local(run: RunRequest, *, workers: int, max_queue: int, redis_url: str | None) -> Backend:
    express = worker_threads()  # with coalescing, enough threads for one-pass maps to gather into a batch
    return Backend(
        JobRunner(workers=workers, max_queue=max_queue, run=run, express=express), None, None, "not started yet"
    )


def celery(run: RunRequest, *, workers: int, max_queue: int, redis_url: str | None) -> Backend:
    from service import remote  # Celery and redis, imported only when this backend is chosen

    url = redis_url or remote.redis_url()
    return Backend(
        remote.CeleryJobs(url, max_queue=max_queue),
        remote.RedisImageStore(url),
        remote.RedisStore(url),
        "Celery workers",
        remote.RedisModelFiles(url, remote.local_model_folder()),
    )


BACKENDS: dict[str, Callable[..., Backend]] = {"local": local, "celery": celery}


def make_backend(
    name: str, run: RunRequest, *, workers: int = 2, max_queue: int = 60, redis_url: str | None = None
) -> Backend:
    """The backend called ``name`` (a key of ``BACKENDS``); ``run`` is used by backends computing here."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be {' or '.join(map(repr, BACKENDS))}. Received: {name!r}.")
    return BACKENDS[name](run, workers=workers, max_queue=max_queue, redis_url=redis_url)
