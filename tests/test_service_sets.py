"""A set as a group of jobs on the service's queue (service/sets.py): 12 generated pictures end to end,
the same scores as each picture's own map, cached pictures never computed again, owners only."""

from __future__ import annotations

import time

import numpy as np
import pytest

from explainers.sets import score_picture
from explainers.sets.demo import demo_zip
from service import ExplainerService
from service.sets import SetNotFound


@pytest.fixture
def svc(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLAINER_SET_CHUNK", "5")
    return ExplainerService(tmp_path)


def _wait(svc, set_id, client, timeout=300.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = svc.sets.status(set_id, client)
        if status["finished"] or status["errors"]:
            return status
        time.sleep(0.2)
    raise AssertionError("the set did not finish in time")


def test_a_set_of_twelve_runs_as_jobs_and_scores_as_single_maps(svc):
    set_id = svc.sets.start([("set.zip", demo_zip("shapes", 12))], "shapes", client="alice")
    record = svc.sets.record(set_id, "alice")
    assert len(record["jobs"]) == 3  # 12 pictures in jobs of 5
    status = _wait(svc, set_id, "alice")
    assert status["errors"] == [] and status["done"] == 12 and len(status["rows"]) == 12
    assert status["mean_map"].startswith("data:image/png;base64,") and status["sentences"]
    first = status["rows"][0]
    assert first["name"] == "picture_00.png" and first["picture"].startswith("data:image/png")
    # the same scores as the single picture's map from the main view
    single = svc.explain(first["key"], "shapes", "grad_cam")
    picture = record["pictures"][0]
    mask = svc.images.get(picture["mask"]).max(axis=2) > 0
    alone = score_picture("p", single.heatmap, single.meta["predictions"], svc.load("shapes").labels, 0, mask, "mask")
    assert first["energy_in_region"] == pytest.approx(alone.energy_in_region, abs=1e-4)
    assert first["border_share"] == pytest.approx(alone.border_share, abs=1e-4)
    assert first["prediction"] == single.label


def test_computed_pictures_are_not_computed_again_and_others_cannot_see_the_set(svc):
    files = [("set.zip", demo_zip("shapes", 3))]
    first = svc.sets.start(files, "shapes", client="alice")
    _wait(svc, first, "alice")
    again = svc.sets.start(files, "shapes", client="alice")
    assert svc.sets.record(again, "alice")["jobs"] == []  # all cached: no job at all
    assert svc.sets.status(again, "alice")["done"] == 3
    with pytest.raises(SetNotFound):
        svc.sets.status(first, "mallory")
    svc.sets.resume(first, "alice")
    assert svc.sets.record(first, "alice")["jobs"] == []


def test_a_set_without_any_usable_picture_says_why(svc):
    from explainers.errors import ExplainerError

    with pytest.raises(ExplainerError, match="no picture that can be read.*notes.txt"):
        svc.sets.start([("notes.txt", b"hello")], "shapes", client="alice")


def test_cancel_stops_waiting_jobs_and_resume_finishes_the_set(svc, monkeypatch):
    monkeypatch.setenv("EXPLAINER_SET_CHUNK", "1")
    set_id = svc.sets.start([("set.zip", demo_zip("shapes", 6, seed=11))], "shapes", client="alice")
    svc.sets.cancel(set_id, "alice")
    status = svc.sets.status(set_id, "alice")
    assert status["done"] < 6 and status["stopped"]
    svc.sets.resume(set_id, "alice")
    assert _wait(svc, set_id, "alice")["done"] == 6
    assert np.isfinite([row["concentration"] for row in svc.sets.status(set_id, "alice")["rows"]]).all()


def test_the_http_api_runs_a_set_of_twelve_and_refuses_bad_input_plainly(client):
    import io

    body = {"model": "shapes", "weights": "imagenet", "set": (io.BytesIO(demo_zip("shapes", 12)), "mine.zip")}
    answer = client.post("/api/v1/sets", data=body, content_type="multipart/form-data")
    assert answer.status_code == 202, answer.json
    url = answer.json["status_url"]
    deadline = time.monotonic() + 300
    while not (status := client.get(url).json)["finished"]:
        assert not status["errors"] and time.monotonic() < deadline
        time.sleep(0.3)
    assert status["done"] == 12 and len(status["rows"]) == 12 and "picture" not in status["rows"][0]
    assert client.get(url + "?thumbnails=1").json["rows"][0]["map"].startswith("data:image/png")
    assert client.post(url + "/resume").status_code == 200
    evil = {"model": "shapes", "set": (io.BytesIO(b"not a zip"), "evil.zip")}
    refused = client.post("/api/v1/sets", data=evil, content_type="multipart/form-data")
    assert refused.status_code == 400 and "not a zip archive" in refused.json["error"]
    assert client.get("/api/v1/sets/" + "0" * 32).status_code == 404
    assert client.post("/api/v1/sets", data={"model": "shapes"}).status_code == 400


class LosingWorkers:
    """The service's job runner, except that a job holding a picture named in ``losses`` is lost with its
    worker (a failed job with ``WorkerStopped``) as many times as ``losses`` says for that picture."""

    def __init__(self, jobs, losses: dict[str, int]):
        from service.jobs import Job

        self.jobs, self.losses, self.lost, self.sent = jobs, dict(losses), {}, []
        self.job_class = Job

    def submit(self, key, request, **options):
        from service.errors import WorkerStopped

        names = [picture["name"] for picture in request["pictures"]]
        self.sent.append(names)
        doomed = [name for name in names if self.losses.get(name, 0) > 0]
        if not doomed:
            return self.jobs.submit(key, request, **options)
        for name in doomed:
            self.losses[name] -= 1
        job = self.job_class(key, lambda job: None, None, 60.0, client=options.get("client"))
        job.status, job.error = "failed", WorkerStopped("The worker computing this map stopped unexpectedly.")
        job._done.set()
        self.lost[job.id] = job
        return job

    def get(self, job_id, client=None):
        return self.lost.get(job_id) or self.jobs.get(job_id, client=client)

    def __getattr__(self, name):
        return getattr(self.jobs, name)


def test_a_picture_lost_with_its_worker_is_queued_again_alone_once(svc):
    svc.jobs = LosingWorkers(svc.jobs, {"picture_01.png": 1})
    set_id = svc.sets.start([("set.zip", demo_zip("shapes", 6, seed=5))], "shapes", client="alice")
    status = _wait(svc, set_id, "alice")
    assert status["errors"] == [] and status["done"] == 6 and status["finished"]
    # the lost job held pictures 00..04; the four others come back each alone, picture 01 too
    assert svc.jobs.sent[1:] == [["picture_05.png"]] + [[f"picture_0{i}.png"] for i in range(5)]
    retried = {row["name"] for row in status["rows"] if row["retried"]}
    assert retried == {f"picture_0{i}.png" for i in range(5)}
    assert len(svc.sets.record(set_id, "alice")["jobs"]) == 2 + 5


def test_a_picture_lost_twice_is_named_in_plain_words_and_the_others_go_on(svc, monkeypatch):
    monkeypatch.setenv("EXPLAINER_SET_CHUNK", "1")
    svc.jobs = LosingWorkers(svc.jobs, {"picture_02.png": 2})
    set_id = svc.sets.start([("set.zip", demo_zip("shapes", 4, seed=6))], "shapes", client="alice")
    deadline = time.monotonic() + 300
    while not (status := svc.sets.status(set_id, "alice"))["finished"]:
        assert time.monotonic() < deadline, "the set did not finish"
        time.sleep(0.2)
    assert status["done"] == 3 and {row["name"] for row in status["rows"]} == {
        "picture_00.png",
        "picture_01.png",
        "picture_03.png",
    }
    assert status["errors"] == []
    assert status["problems"] == [["picture_02.png", "the worker computing this picture stopped twice"]]
    assert svc.jobs.sent.count(["picture_02.png"]) == 2  # queued once more, never a third time
