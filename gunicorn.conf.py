"""gunicorn settings: `gunicorn app:server` (the Dockerfile's entrypoint) reads this file.

The app is imported once in the master (preload: TensorFlow is not imported there) and each worker
forks from it; TensorFlow loads inside each worker, on its warm-up or first request. gthread workers:
Dash callbacks block while a map computes, so each worker serves several requests at once with threads.
Threads mostly wait (on a job, or on Redis) rather than compute, so there are several per core; in
production nginx sits in front (deploy/), so a slow or stalled client never holds one of them.
"""

import os


def cores() -> int:
    """The cores this process may run on (a container's CPU set, not the whole machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8050')}"
workers = int(os.environ.get("WEB_WORKERS", "1"))  # each local-backend worker holds its own models
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or max(8, 4 * cores()))
preload_app = True
timeout = 300  # a cold first map (model build + tracing) can take a while on a CPU
graceful_timeout = 30
accesslog = "-"


def post_fork(server, worker):
    """Import TensorFlow and warm the default model in each worker, before its threads serve (never in the
    master, which must not import TensorFlow)."""
    if os.environ.get("EXPLAINER_BACKEND", "local") == "local":
        from service import preload

        preload.import_model_libraries()
    if os.environ.get("EXPLAINERS_WARM_UP", "1") != "0" and os.environ.get("EXPLAINER_BACKEND", "local") == "local":
        from app import DEFAULTS
        from app import server as flask_server
        from components.common import SERVICE_KEY

        service = flask_server.extensions[SERVICE_KEY]
        service.warm_up(DEFAULTS["model"] or service.default_model(), background=True)
