"""A set on real Celery workers: a redis-server and two workers started here (tests/test_remote.py's
way); the set's pictures are shared among the workers, and the web side reads every result from Redis."""

from __future__ import annotations

import time

import pytest

from explainers.sets.demo import demo_zip
from tests.test_remote import redis_url  # noqa: F401 - the module's redis-server
from tests.test_remote import worker as first_worker  # noqa: F401 - one Celery worker

pytestmark = pytest.mark.slow

second_worker = pytest.fixture(scope="module")(first_worker.__wrapped__)


def test_two_workers_share_the_pictures_of_a_set(redis_url, first_worker, second_worker, tmp_path, monkeypatch):  # noqa: F811
    from service import ExplainerService
    from service.sets import _picture_key

    monkeypatch.setenv("EXPLAINER_SET_CHUNK", "1")
    svc = ExplainerService(tmp_path, weights="random", backend="celery", redis_url=redis_url)
    try:
        set_id = svc.sets.start([("set.zip", demo_zip("shapes", 8))], "shapes", weights="random", client="alice")
        deadline = time.monotonic() + 400
        while not (status := svc.sets.status(set_id, "alice", with_rows=False))["finished"]:
            assert not status["errors"], status["errors"]
            assert time.monotonic() < deadline, "the set did not finish on the workers"
            time.sleep(0.5)
        record = svc.sets.record(set_id, "alice")
        processes = {svc.cache.get(_picture_key(svc, record, p))["process"] for p in record["pictures"]}
        assert len(processes) >= 2, "one worker took every picture"
    finally:
        svc.jobs.close()
