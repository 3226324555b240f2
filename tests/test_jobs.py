"""The job queue: bounded, single flight, one running job per session, cancel, deadlines."""
import threading
import time

import pytest

from explainers.errors import ExplainerError
from service.jobs import BusyError, Cancelled, JobRunner


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
