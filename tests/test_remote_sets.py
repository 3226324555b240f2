"""A set on real Celery workers: a redis-server and two workers started here (tests/test_remote.py's
way); the set's pictures are shared among the workers, and the web side reads every result from Redis;
a worker killed mid-picture loses only that picture's job, which is queued again once."""

from __future__ import annotations

import time

import pytest

from explainers.sets.demo import demo_zip
from tests.test_remote import redis_url  # noqa: F401 - the module's redis-server
from tests.test_remote import worker as first_worker  # noqa: F401 - one Celery worker

pytestmark = pytest.mark.slow

second_worker = pytest.fixture(scope="module")(first_worker.__wrapped__)
lone_worker = pytest.fixture(first_worker.__wrapped__)  # started cold for one test, stopped after it


def _finish(svc, set_id, timeout=400.0):
    deadline = time.monotonic() + timeout
    while not (status := svc.sets.status(set_id, "alice"))["finished"]:
        assert not status["errors"], status["errors"]
        assert time.monotonic() < deadline, "the set did not finish on the workers"
        time.sleep(0.5)
    return status


def test_a_worker_killed_mid_picture_loses_only_that_picture_which_is_computed_again(
    redis_url,  # noqa: F811
    lone_worker,
    tmp_path,
    monkeypatch,
):
    """Runs first, on its own cold worker: its first picture waits for the model to load, so it is caught running."""
    import psutil

    from service import ExplainerService

    monkeypatch.setenv("EXPLAINER_SET_CHUNK", "1")
    svc = ExplainerService(tmp_path, weights="random", backend="celery", redis_url=redis_url)
    try:
        set_id = svc.sets.start(
            [("set.zip", demo_zip("shapes", 4, seed=3))], "shapes", weights="random", client="alice"
        )
        first = svc.jobs.get(svc.sets.record(set_id, "alice")["jobs"][0], client="alice")
        deadline = time.monotonic() + 120
        while first.snapshot()["status"] != "running":
            assert time.monotonic() < deadline and not first.done, "the first picture never started"
            time.sleep(0.02)
        for child in psutil.Process(lone_worker.pid).children():
            child.kill()
        status = _finish(svc, set_id)
        assert status["done"] == 4 and status["errors"] == []
        assert [row["name"] for row in status["rows"] if row["retried"]] == ["picture_00.png"]
    finally:
        svc.jobs.close()


def test_two_workers_share_the_pictures_of_a_set(redis_url, first_worker, second_worker, tmp_path, monkeypatch):  # noqa: F811
    from service import ExplainerService
    from service.sets import _picture_key

    monkeypatch.setenv("EXPLAINER_SET_CHUNK", "1")
    svc = ExplainerService(tmp_path, weights="random", backend="celery", redis_url=redis_url)
    try:
        set_id = svc.sets.start([("set.zip", demo_zip("shapes", 8))], "shapes", weights="random", client="alice")
        _finish(svc, set_id)
        record = svc.sets.record(set_id, "alice")
        processes = {svc.cache.get(_picture_key(svc, record, p))["process"] for p in record["pictures"]}
        assert len(processes) >= 2, "one worker took every picture"
    finally:
        svc.jobs.close()
