"""The first requests after a start: the real server (``python app.py``) on the Shapes model, hit by 20
concurrent first requests the moment it listens, while its warm-up thread runs. None may answer 500.

Plotly looks pandas up in ``sys.modules`` when it checks or serialises a figure; the warm-up thread
imports pandas (Keras does); a request that came while that import was half done failed with
``partially initialized module 'pandas' has no attribute 'Series'`` and the page stayed blank. On a
busy machine that window is wide; here pandas' own import is made slow (``SLOW_PANDAS``, through
``sitecustomize``) so the window is as wide as on a loaded server, every time. Nothing else changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib import error, request

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
STARTS = 10
CONCURRENT = 20
STAR = ROOT / "assets" / "examples" / "shapes" / "star.png"
NO_ANSWER = -1
# pandas.core.frame is imported halfway through pandas/__init__.py: sleeping before it leaves a
# half-initialised pandas in sys.modules for a few seconds, as a slow disk or a busy CPU would
SLOW_PANDAS = """
import importlib.abc, sys, time


class SlowPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "pandas.core.frame":
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else finder.find_spec(name, path, target)
            if spec is not None:
                run = spec.loader.exec_module
                spec.loader.exec_module = lambda module: (time.sleep(4), run(module))[1]
                return spec
        return None


sys.meta_path.insert(0, SlowPandas())
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _callback_body(dependencies: list[dict], output_has: str, values: dict[str, object]) -> dict:
    """The JSON the browser posts to /_dash-update-component for the callback whose output names ``output_has``."""
    spec = next(d for d in dependencies if output_has in d["output"])
    outputs = []
    for part in spec["output"].strip(".").split("..."):
        component, prop = part.rsplit(".", 1)
        outputs.append({"id": component, "property": prop})
    inputs = [{**item, "value": values.get(f"{item['id']}.{item['property']}")} for item in spec["inputs"]]
    state = [{**item, "value": values.get(f"{item['id']}.{item['property']}")} for item in spec["state"]]
    changed = [key for key in values if any(f"{i['id']}.{i['property']}" == key for i in spec["inputs"])]
    return {"output": spec["output"], "outputs": outputs, "inputs": inputs, "state": state, "changedPropIds": changed}


@pytest.fixture(scope="module")
def first_requests() -> tuple[list, list]:
    """(method, path, JSON body) of the page's first requests: quick ones (the layout, an upload, predictions
    without a picture) and slow ones (predictions for a stored picture: they wait for the model)."""
    from app import create_app

    with create_app({"weights": "random", "model": "shapes"}).server.test_client() as client:
        dependencies = client.get("/_dash-dependencies").get_json()
    picture = STAR.read_bytes()
    key = hashlib.sha256(picture).hexdigest()
    upload = _callback_body(
        dependencies,
        "upload.contents",
        {
            "upload.contents": "data:image/png;base64," + base64.b64encode(picture).decode(),
            "upload.filename": "star.png",
        },
    )
    predict = _callback_body(
        dependencies,
        "predictions.figure",
        {"image.data": {"key": key, "name": "star"}, "model.value": "shapes", "weights.value": "imagenet"},
    )
    nothing = _callback_body(dependencies, "predictions.figure", {"image.data": None, "model.value": "shapes"})
    quick = [("GET", "/_dash-layout", None)] * 10 + [
        ("POST", "/_dash-update-component", json.dumps(body).encode()) for body in [upload] * 5 + [nothing] * 5
    ]
    return quick, [("POST", "/_dash-update-component", json.dumps(predict).encode())] * 2


def _ask(port: int, method: str, path: str, body: bytes | None) -> int:
    asked = request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body,
        method=method,
        headers={"Content-Type": "application/json"} if body else {},
    )
    try:
        with request.urlopen(asked, timeout=180) as answer:
            answer.read()
            return answer.status
    except error.HTTPError as refused:
        return refused.code
    except (TimeoutError, OSError):
        return NO_ANSWER


def _start(port: int, data_dir: Path, hooks: Path) -> subprocess.Popen:
    environment = {
        **os.environ,
        "EXPLAINERS_DATA_DIR": str(data_dir),
        "EXPLAINERS_MODEL": "shapes",
        "EXPLAINER_BACKEND": "local",
        "PYTHONUNBUFFERED": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _listening(port: int, server: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server stopped at start:\n{server.stdout.read()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.05):
                return
        except OSError:
            time.sleep(0.005)
    raise AssertionError("the server never listened")


def _readiness(port: int) -> tuple[int, bool]:
    """/readyz's status code and whether the warm-up has built its model (every import it makes is done)."""
    try:
        with request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=60) as answer:
            return answer.status, bool(json.load(answer)["models_loaded"])
    except error.HTTPError as waiting:  # 503 while warming up: expected
        return 200, bool(json.load(waiting).get("models_loaded"))
    except (TimeoutError, OSError):
        return NO_ANSWER, False


def test_the_first_concurrent_requests_after_a_start_never_fail(tmp_path, first_requests):
    """Ten fresh servers; at each, rounds of 20 concurrent quick requests from the moment it listens until its
    warm-up has loaded the model (as a page opened during a start keeps calling back), beside two requests
    that wait for the model."""
    quick, slow = first_requests
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SLOW_PANDAS)
    key = hashlib.sha256(STAR.read_bytes()).hexdigest()
    failures = []
    for start in range(STARTS):
        data_dir = tmp_path / f"data{start}"
        (data_dir / "images").mkdir(parents=True)
        (data_dir / "images" / key).write_bytes(STAR.read_bytes())  # a picture uploaded before the restart
        port = _free_port()
        server = _start(port, data_dir, hooks)
        statuses: list[int] = []
        try:
            _listening(port, server)
            with ThreadPoolExecutor(CONCURRENT + len(slow)) as pool:
                waiting = [pool.submit(_ask, port, *asked) for asked in slow]
                deadline = time.monotonic() + 240
                while True:
                    statuses += pool.map(lambda asked: _ask(port, *asked), quick)
                    ready_status, loaded = _readiness(port)
                    statuses.append(ready_status)
                    if loaded or time.monotonic() > deadline:
                        break
                statuses += [future.result() for future in waiting]
        finally:
            server.terminate()
            output, _ = server.communicate(timeout=30)
        if any(status >= 500 or status == NO_ANSWER for status in statuses):
            errors = [line for line in output.splitlines() if "Error" in line or "Exception on" in line]
            failures.append((start, statuses, "\n".join(dict.fromkeys(errors))[-3000:]))
    assert not failures, "\n\n".join(
        f"start {n}: {Counter(statuses)} (-1: no answer)\n{output}" for n, statuses, output in failures
    )
