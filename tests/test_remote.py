"""Scale-out for real: a redis-server (with a password, as docker-compose.yml runs it) and a Celery worker
started here, on loopback, with seeded random weights. Jobs end to end, a worker killed mid-job, Redis
down, and a forged entry in Redis that must never be unpickled."""

from __future__ import annotations

import logging
import os
import pickle
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from explainers.errors import ExplainerError
from helpers import png_bytes

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url():
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("the scale-out tests need redis-server (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port, password = _free_port(), secrets.token_hex(16)
    # the password comes on stdin, as a config file, so it never shows in the process list
    process = subprocess.Popen(
        [server, "-", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    process.stdin.write(f"requirepass {password}\n".encode())
    process.stdin.close()
    import redis

    client = redis.Redis(port=port, password=password)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://:{password}@127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


def run_worker(redis_url: str, env: dict) -> Iterator[subprocess.Popen]:
    """A Celery worker process (one prefork child, the saliency queue) with ``env``: yielded once it answers
    a ping, stopped with SIGTERM afterwards (the body of a worker fixture)."""
    command = [sys.executable, "-m", "celery", "-A", "service.worker", "worker", "--pool", "prefork"]
    command += ["--concurrency", "1", "--prefetch-multiplier", "1", "-Q", "saliency", "--loglevel", "warning"]
    command += ["--without-gossip", "--without-mingle"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from service.remote import make_celery

    app = make_celery(redis_url)
    for _ in range(120):
        if app.control.ping(timeout=0.5):
            break
        time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("the Celery worker did not start")
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def worker(redis_url, tmp_path_factory):
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "EXPLAINERS_WEIGHTS": "random",
        "EXPLAINERS_WARM_UP": "0",
        "EXPLAINERS_DATA_DIR": str(tmp_path_factory.mktemp("worker")),
        "PYTHONPATH": str(ROOT),
    }
    yield from run_worker(redis_url, env)


@pytest.fixture
def remote(redis_url, tmp_path):
    from service import ExplainerService

    service = ExplainerService(tmp_path, weights="random", backend="celery", redis_url=redis_url)
    yield service
    service.jobs.close()


def test_a_job_runs_end_to_end_on_a_worker_and_then_comes_from_the_shared_cache(remote, worker, tmp_path):
    from service import ExplainerService

    key = remote.add_image(png_bytes(80, 60, seed=11))
    result = remote.explain(key, "vgg16", "grad_cam", target=281)
    assert result.heatmap.shape == (224, 224) and result.target == 281 and not result.cached
    local = ExplainerService(tmp_path / "local", weights="random").explain(
        key_bytes_service(tmp_path, 11), "vgg16", "grad_cam", target=281
    )
    np.testing.assert_allclose(result.heatmap, local.heatmap, rtol=1e-4, atol=1e-7)
    again = remote.explain(key, "vgg16", "grad_cam", target=281)
    assert again.cached
    predictions = remote.predict(key, "vgg16")
    assert len(predictions) == 5
    assert remote.health()["status"] == "ready" and remote.health()["backend"] == "celery"


def key_bytes_service(tmp_path, seed):
    """The same picture stored in the local service's own store (returns its key)."""
    from service.store import ImageStore

    return ImageStore(tmp_path / "local" / "images").put(png_bytes(80, 60, seed=seed))


def test_a_worker_killed_mid_job_fails_that_job_cleanly_and_others_go_on(remote, worker):
    import psutil

    key = remote.add_image(png_bytes(90, 70, seed=12))
    job = remote.request_map(key, "inception_v3", "guided_backprop")  # a cold model: seconds of work
    for _ in range(400):
        job.wait(0.05)
        if job.status == "running":
            break
    assert job.status == "running"
    children = psutil.Process(worker.pid).children()
    assert children, "the prefork worker has a child process"
    for child in children:
        child.kill()
    assert job.wait(60), "the killed job must end"
    assert job.status == "failed" and "stopped unexpectedly" in str(job.error)
    with pytest.raises(ExplainerError, match="try again"):
        job.outcome()
    after = remote.explain(key, "vgg16", "vanilla_gradient", target=3)  # the worker's new child serves others
    assert after.heatmap.shape == (224, 224)


def test_redis_down_answers_quickly_in_plain_words(tmp_path):
    from service import ExplainerService

    down = ExplainerService(
        tmp_path, weights="random", backend="celery", redis_url=f"redis://127.0.0.1:{_free_port()}/0"
    )
    started = time.monotonic()
    with pytest.raises(ExplainerError, match="cannot be reached"):
        down.add_image(png_bytes())
    assert time.monotonic() - started < 2.0
    health = down.health()
    assert health["status"] == "degraded" and "Redis" in " ".join(health["errors"])


def test_redis_refuses_a_client_without_the_password(redis_url):
    import redis

    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, socket_connect_timeout=1).ping()


class CreatesFile:
    """Unpickling this opens ``path`` for writing, which creates it."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def test_a_forged_pickle_in_redis_is_never_unpickled_by_the_web_tier(remote, tmp_path, caplog):
    from service.cache import key_text
    from service.remote import PREFIX

    key = remote.add_image(png_bytes(80, 60, seed=13))
    cache_key, _request = remote._map_request(key, "vgg16", "grad_cam", 281, None, None, None)
    target = tmp_path / "unpickled"
    remote.cache.disk.client.set(PREFIX + "result:" + key_text(cache_key), pickle.dumps(CreatesFile(target)))
    with caplog.at_level(logging.WARNING, logger="service.remote"):
        assert remote.cache.get(cache_key) is None
    assert not target.exists()
    assert any("refused the Redis entry" in record.getMessage() for record in caplog.records)


def test_celery_jobs_belong_to_their_clients_and_each_has_a_quota(redis_url):
    """The Celery job book keeps the local runner's rules: joined jobs are shared, a cancel withdraws one
    client's interest (the cancel flag is set only when nobody waits), unknown ids stay unknown, and a
    client's own waiting jobs are capped. No worker listens on this database: the jobs stay queued."""
    import redis

    from service.jobs import QuotaError
    from service.remote import PREFIX, CeleryJobs

    url = redis_url.rsplit("/", 1)[0] + "/7"
    jobs = CeleryJobs(url, client_queue=2)
    flags = redis.Redis.from_url(url)
    try:
        request = {"kind": "map", "method": "smoothgrad"}
        first = jobs.submit(("map", 1), request, client="alice")
        joined = jobs.submit(("map", 1), request, client="bob")
        assert joined is first and first.shared_with("bob") and not first.shared_with("alice")
        assert jobs.get(first.id, "mallory") is None and not jobs.cancel(first.id, "Stopped.", client="mallory")
        assert jobs.cancel(first.id, "Stopped by bob.", client="bob")
        assert not flags.exists(PREFIX + "cancel:" + first.id) and first.stopped_for("bob") is not None
        jobs.submit(("map", 2), request, client="alice")
        with pytest.raises(QuotaError, match="maps waiting"):
            jobs.submit(("map", 3), request, client="alice")
        assert jobs.submit(("map", 3), request, client="carol").status == "queued"  # others are served
        assert jobs.cancel(first.id, "Stopped by alice.", client="alice")
        assert flags.get(PREFIX + "cancel:" + first.id) == b"Stopped by alice."  # nobody waits: it stops
    finally:
        flags.flushdb()
        jobs.close()
