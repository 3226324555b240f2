"""The job queue: bounded, single flight, one running job per session, cancel, deadlines."""

import threading
import time

import pytest

from explainers.errors import ExplainerError
from service.jobs import BusyError, Cancelled, JobRunner, QuotaError


def _until(condition, timeout: float = 10.0) -> None:
    """Wait for a condition instead of sleeping a fixed time (the machine may be busy)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _blocker(release: threading.Event, log=None, name=""):
    def run(job):
        if log is not None:
            log.append(("start", name, time.monotonic()))
        release.wait(10)
        if log is not None:
            log.append(("end", name, time.monotonic()))
        return name

    return run


def test_full_queue_answers_busy_at_once():
    runner = JobRunner(workers=1, max_queue=2)
    release = threading.Event()
    running = runner.submit("a", _blocker(release))
    _until(lambda: runner.running() == 1)
    runner.submit("b", _blocker(release))
    runner.submit("c", _blocker(release))
    started = time.monotonic()
    with pytest.raises(BusyError, match=r"busy \(2 maps are waiting\).*try again in about \d+ s") as caught:
        runner.submit("d", _blocker(release))
    assert time.monotonic() - started < 0.5 and caught.value.retry_after >= 1
    release.set()
    assert running.wait(5) and running.outcome() == ""


def test_identical_requests_share_one_job():
    runner = JobRunner(workers=1)
    calls = []
    release = threading.Event()

    def work(job):
        calls.append(1)
        release.wait(5)
        return 42

    first, second = runner.submit("same", work), runner.submit("same", work)
    assert first is second
    release.set()
    assert first.wait(5) and first.outcome() == 42 and calls == [1]


def test_a_session_runs_one_job_at_a_time_others_interleave():
    runner = JobRunner(workers=2)
    log = []
    release = threading.Event()
    jobs = [runner.submit(("s1", i), _blocker(release, log, f"s1-{i}"), session="s1") for i in range(2)]
    other = runner.submit("s2", _blocker(release, log, "s2"), session="s2")
    _until(lambda: len(log) >= 2)
    time.sleep(0.2)  # give a wrongly started third job the chance to show up
    started = {name for kind, name, _ in log if kind == "start"}
    assert started == {"s1-0", "s2"}  # s1's second job waits for its first, s2 does not
    release.set()
    for job in jobs + [other]:
        assert job.wait(5)
    order = [name for kind, name, _ in log if name.startswith("s1")]
    assert order == ["s1-0", "s1-0", "s1-1", "s1-1"]


def test_cancel_queued_and_running_jobs():
    runner = JobRunner(workers=1)
    release = threading.Event()
    busy = runner.submit("busy", _blocker(release))
    queued = runner.submit("queued", _blocker(release))
    assert runner.cancel(queued.id, "Stopped by you.") and queued.wait(1)
    assert queued.status == "cancelled" and "Stopped by you." in str(queued.error)
    release.set()
    busy.wait(5)

    def long_work(job):
        for step in range(1000):
            time.sleep(0.01)
            job.report(step / 1000)
        return "finished"

    running = runner.submit("long", long_work)
    _until(lambda: running.progress > 0)
    assert 0 < running.progress < 1 and running.eta is not None
    runner.cancel(running.id, "A newer request replaced this one.")
    assert running.wait(2) and running.status == "cancelled"
    with pytest.raises(Cancelled, match="newer request"):
        running.outcome()


def test_deadline_stops_long_work():
    runner = JobRunner(workers=1)

    def slow(job):
        while True:
            time.sleep(0.02)
            job.report(0.1)

    job = runner.submit("slow", slow, deadline=0.2)
    assert job.wait(10) and job.status == "cancelled"
    assert "took longer than the 0 s allowed" in str(job.error)


def test_errors_reach_whoever_waits():
    runner = JobRunner(workers=1)

    def broken(job):
        raise ExplainerError("a plain message")

    job = runner.submit("broken", broken)
    assert job.wait(2) and job.status == "failed"
    with pytest.raises(ExplainerError, match="a plain message"):
        job.outcome()
    assert runner.submit("broken", broken) is not job  # a failed job is not reused
    assert runner.get(job.id) is job and runner.get("nope") is None and runner.get(None) is None


def test_requests_run_through_the_runners_dispatch_functions_run_as_they_are():
    seen = []

    def run(request, job):
        seen.append(job.key)
        return request["value"] * 2

    runner = JobRunner(workers=1, run=run)
    job = runner.submit("double", {"kind": "double", "value": 21})
    assert job.wait(5) and job.outcome() == 42 and seen == ["double"]
    assert runner.submit("plain", lambda job: "as is").wait(5)
    with pytest.raises(TypeError, match="run="):
        JobRunner(workers=1).submit("no dispatch", {"kind": "map"})


def _until_cancelled(release: threading.Event):
    """Work that runs until released, stopping at its next report after a cancel."""

    def run(job):
        while not release.wait(0.01):
            job.report(0.4)
        return "finished"

    return run


def test_a_cancel_withdraws_only_the_callers_interest():
    runner = JobRunner(workers=1)
    release = threading.Event()
    first = runner.submit("same", _until_cancelled(release), client="alice")
    joined = runner.submit("same", _until_cancelled(release), client="bob")
    assert joined is first and not first.shared_with("alice") and first.shared_with("bob")
    _until(lambda: first.progress > 0)
    assert runner.get(first.id, "mallory") is None  # an id mallory never received is unknown to her
    assert not runner.cancel(first.id, "Stopped by mallory.", client="mallory")
    assert runner.cancel(first.id, "Stopped by bob.", client="bob")
    time.sleep(0.1)
    assert first.status == "running" and not first.cancelled  # alice still waits: it goes on for her
    assert first.stopped_for("bob") == pytest.approx(0.4) and first.stopped_for("alice") is None
    assert runner.cancel(first.id, "Stopped by alice.", client="alice")  # nobody waits any more: it stops
    assert first.wait(5) and first.status == "cancelled" and "alice" in str(first.error)


def test_a_client_that_asks_again_waits_again():
    runner = JobRunner(workers=1)
    release = threading.Event()
    job = runner.submit("same", _until_cancelled(release), client="alice")
    runner.submit("same", _until_cancelled(release), client="bob")
    runner.cancel(job.id, "Stopped.", client="bob")
    assert runner.submit("same", _until_cancelled(release), client="bob") is job and job.stopped_for("bob") is None
    runner.cancel(job.id, "Stopped.", client="alice")
    assert not job.cancelled  # bob waits again
    release.set()
    assert job.wait(5) and job.outcome() == "finished"


def test_one_client_cannot_fill_the_queue():
    runner = JobRunner(workers=1, express=0, max_queue=60, client_queue=3)
    release = threading.Event()
    runner.submit("running", _blocker(release), client="greedy")
    _until(lambda: runner.running() == 1)
    for i in range(3):
        runner.submit(("greedy", i), _blocker(release), client="greedy")
    with pytest.raises(QuotaError, match=r"already have 3 maps waiting.*about \d+ s") as caught:
        runner.submit(("greedy", 3), _blocker(release), client="greedy")
    assert caught.value.retry_after >= 1
    assert runner.submit("same as the others'", _blocker(release), client="polite").status == "queued"
    assert runner.submit(("greedy", 0), _blocker(release), client="other") is not None  # joining costs no place
    release.set()


def test_the_quota_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("EXPLAINERS_CLIENT_QUEUE", "5")
    assert JobRunner(workers=1).client_queue == 5


def test_cheap_work_never_waits_behind_expensive_work():
    runner = JobRunner(workers=1)
    release = threading.Event()
    slow = runner.submit("smoothgrad", _blocker(release), session="tab", expensive=True, title="SmoothGrad")
    _until(lambda: slow.status == "running")
    later_slow = runner.submit("rise", _blocker(release), session="tab", expensive=True, title="RISE")
    quick = runner.submit("grad_cam", lambda job: "map", session="tab", expensive=False, title="Grad-CAM")
    assert quick.wait(5) and quick.outcome() == "map"  # same tab, the only worker busy: it still ran
    assert slow.status == "running" and later_slow.status == "queued"
    words = runner.waiting(later_slow)
    assert words.startswith("waiting behind SmoothGrad, about ") and words.endswith(" s"), words
    assert runner.waiting(slow) == ""
    release.set()
    assert later_slow.wait(5)


def test_one_pass_jobs_go_ahead_of_multi_pass_ones_in_the_queue():
    runner = JobRunner(workers=1, express=0)
    release = threading.Event()
    order = []
    runner.submit("busy", _blocker(release))
    _until(lambda: runner.running() == 1)
    jobs = [
        runner.submit(name, lambda job, name=name: order.append(name), expensive=expensive)
        for name, expensive in (("occlusion", True), ("gradient", False), ("lime", True), ("grad_cam", False))
    ]
    release.set()
    for job in jobs:
        assert job.wait(5)
    assert order == ["gradient", "grad_cam", "occlusion", "lime"]
