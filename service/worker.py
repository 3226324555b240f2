"""Scale-out, the worker's side: the Celery task that runs requests with this process's own service.

    REDIS_URL=redis://host:6379/0 celery -A service.worker worker --concurrency 1 --prefetch-multiplier 1 -Q saliency

Each worker child builds one ``ExplainerService`` (resident models, the shared Redis picture store and
result cache) and runs every request through ``ExplainerService.compute``, the same dispatch on the
request's kind as the local job runner. Progress goes back through the task's state; a cancel flag in
Redis stops the work at its next progress report. Errors travel back as plain messages, not tracebacks.
This is the only module of the scale-out that imports the service; TensorFlow comes with the first model.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from celery.signals import worker_process_init

from explainers.errors import ExplainerError
from service.core import ExplainerService
from service.jobs import Cancelled
from service.remote import (
    PREFIX,
    TASK,
    RedisImageStore,
    RedisModelFiles,
    RedisStore,
    connect,
    local_model_folder,
    make_celery,
    redis_url,
)
from service.wire import to_wire

celery_app = make_celery()

_worker_service: ExplainerService | None = None
_worker_lock = threading.Lock()


@worker_process_init.connect
def _warm_worker(**_kwargs) -> None:
    """Each worker child loads the default model and traces its passes before the first job arrives."""
    if os.environ.get("EXPLAINERS_WARM_UP", "1") != "0":
        service = worker_service()
        service.warm_up(os.environ.get("EXPLAINERS_MODEL") or service.default_model(), background=True)


def worker_service() -> ExplainerService:
    """The worker process's own service (resident models), built on first use inside the worker child."""
    global _worker_service
    with _worker_lock:
        if _worker_service is None:
            url = redis_url()
            _worker_service = ExplainerService(
                images=RedisImageStore(url),
                shared_cache=RedisStore(url),
                model_files=RedisModelFiles(url, local_model_folder()),  # uploads travel by hash through Redis
                weights=os.environ.get("EXPLAINERS_WEIGHTS", "imagenet"),
                weights_dir=os.environ.get("EXPLAINERS_WEIGHTS_DIR") or None,
            )
        return _worker_service


@celery_app.task(name=TASK, bind=True)
def compute_task(self, request: dict[str, Any], cache_key: list) -> Any:
    """Run one request in this worker. Errors travel back as plain messages, not tracebacks."""
    started = time.monotonic()
    flag = PREFIX + "cancel:" + (self.request.id or "")
    svc = worker_service()
    redis = connect(redis_url())

    def progress(fraction: float) -> None:
        if redis.exists(flag):
            raise Cancelled((redis.get(flag) or b"Stopped.").decode())
        elapsed = time.monotonic() - started
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        self.update_state(state="PROGRESS", meta={"progress": fraction, "eta": eta})

    try:
        return to_wire(svc.compute(request, progress, cache_key))
    except ExplainerError as error:  # Cancelled is one: to_wire marks it
        return to_wire(error)
