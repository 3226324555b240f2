"""The HTTP API and health endpoints, through Flask's test client (bad input never gives a 500)."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from helpers import png_bytes


def _explain(client, data: bytes | None, name="photo.png", **fields):
    form = {k: str(v) for k, v in fields.items()}
    if data is not None:
        form["image"] = (io.BytesIO(data), name)
    return client.post("/api/v1/explain", data=form, content_type="multipart/form-data")


def test_models_and_labels(client):
    body = client.get("/api/v1/models").get_json()
    assert [m["name"] for m in body["models"]] == ["vgg16", "resnet50", "inception_v3", "shapes", "shapes_clever_hans"]
    assert "block5_conv3" in body["models"][0]["layers"]
    grad_cam = next(m for m in body["methods"] if m["name"] == "grad_cam")
    assert grad_cam["settings"]["relu"]["default"] is True
    labels = client.get("/api/v1/labels?q=tabby").get_json()["labels"]
    assert labels[0] == {"index": 281, "name": "tabby cat", "synonyms": ["tabby", "tabby cat"]}
    assert client.get("/api/v1/labels?q=cat&limit=x").status_code == 400
    shapes = client.get("/api/v1/labels?q=cres&model=shapes").get_json()["labels"]
    assert shapes == [{"index": 5, "name": "crescent", "synonyms": ["crescent"]}]
    unknown = client.get("/api/v1/labels?q=cat&model=nope")
    assert unknown.status_code == 400 and "Unknown model" in unknown.get_json()["error"]


@pytest.mark.slow
def test_explain_returns_the_heatmap_and_then_answers_from_the_cache(client):
    first = _explain(client, png_bytes(), model="vgg16", method="grad_cam", target="tabby")
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["target"] == 281 and body["label"] == "tabby cat" and body["cached"] is False
    heatmap = Image.open(io.BytesIO(__import__("base64").b64decode(body["heatmap"]["png_base64"])))
    assert heatmap.size == (224, 224) and heatmap.mode == "L" and body["heatmap"]["scale"] > 0
    again = _explain(client, png_bytes(), model="vgg16", method="grad_cam", target="281").get_json()
    assert again["cached"] is True and again["heatmap"] == body["heatmap"]


@pytest.mark.slow
def test_jobs_can_be_followed_and_cancelled(client):
    started = _explain(client, png_bytes(seed=2), model="vgg16", method="vanilla_gradient", wait="false")
    assert started.status_code == 202
    url = started.get_json()["status_url"]
    for _ in range(200):
        state = client.get(url).get_json()
        if state["status"] == "done":
            break
        __import__("time").sleep(0.1)
    assert state["status"] == "done" and state["result"]["method"] == "vanilla_gradient"
    assert client.get("/api/v1/jobs/nope").status_code == 404
    assert client.delete(url).get_json()["status"] == "done"  # too late to cancel: nothing changes


def _png_with_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_bad_input_gets_plain_4xx_answers(client):
    good = png_bytes()
    full = io.BytesIO()
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(full, "JPEG")
    cases = [
        (None, {}, "multipart file field named 'image'"),
        (b"", {}, "empty"),
        (b"\x00\x01" * 500, {}, "not a picture"),
        (full.getvalue()[: len(full.getvalue()) // 2], {}, "damaged"),
        (png_bytes(1, 1), {}, "at least 32"),
        (_png_with_header(50_000, 50_000), {}, "50000 × 50000"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", {}, "not a supported"),
        (good, {"model": "alexnet"}, "Unknown model"),
        (good, {"method": "__import__('os')"}, "Unknown method"),
        (good, {"layer": "../../etc"}, "no layer called"),
        (good, {"target": "not a class"}, "No class is called"),
        (good, {"target": "1000"}, "numbered 0 to 999"),
        (good, {"weights": "/etc/passwd"}, "Unknown weights"),
        (good, {"method": "grad_cam", "relu": "perhaps"}, "must be a bool"),
        (good, {"method": "grad_cam", "bogus": "1"}, "has no setting 'bogus'"),
    ]
    for data, fields, phrase in cases:
        response = _explain(client, data, **fields)
        body = response.get_json()
        assert response.status_code == 400, (fields, response.status_code, body)
        assert phrase in body["error"], (phrase, body)
        assert "Traceback" not in json.dumps(body)
    assert client.get("/healthz").status_code == 200  # still alive


def test_cam_on_vgg16_is_a_plain_400(client):
    response = _explain(client, png_bytes(), model="vgg16", method="cam")
    assert response.status_code == 400 and "CAM does not apply to VGG16" in response.get_json()["error"]


def test_huge_upload_to_the_api_is_413_json(client):
    response = client.post(
        "/api/v1/explain",
        data={"image": (io.BytesIO(b"x" * (20 * 1024 * 1024)), "big.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413 and "at most 10 MB" in response.get_json()["error"]


def test_busy_server_answers_503_with_retry_after(app, client):
    import threading

    from components.common import SERVICE_KEY

    svc = app.server.extensions[SERVICE_KEY]
    release = threading.Event()
    import time

    for name in ("a", "b"):  # both workers busy...
        svc.jobs.submit(name, lambda job: release.wait(10))
    deadline = time.time() + 5
    while svc.jobs.running() < 2 and time.time() < deadline:
        time.sleep(0.01)
    svc.jobs.max_queue = 1
    svc.jobs.submit("c", lambda job: release.wait(10))  # ...and one waiting: the queue is full
    response = _explain(client, png_bytes(), model="vgg16", method="grad_cam")
    release.set()
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
    assert "busy" in response.get_json()["error"]


def test_readyz_is_503_until_warmed_up(app, client):
    from components.common import SERVICE_KEY

    waiting = client.get("/readyz")
    assert waiting.status_code == 503 and waiting.get_json()["status"] == "not started"
    app.server.extensions[SERVICE_KEY].warm_up("vgg16", background=False)
    ready = client.get("/readyz").get_json()
    assert (
        ready["status"] == "ready" and ready["device"] == "CPU" and "vgg16 (random (seed 0))" in ready["models_loaded"]
    )
    assert {"queue", "max_queue", "cache"} <= set(ready)
    assert ready["batches"] == "ready"  # the multi-pass methods' batches were compiled too
    for kind in ("one_picture_passes", "gradient_batches"):  # XLA or graph mode: whichever ran faster here
        timed = ready[kind]
        faster = "xla" if timed["xla_seconds"] <= timed["graph_seconds"] else "graph"
        assert timed["kept"] == faster and min(timed["xla_seconds"], timed["graph_seconds"]) > 0, kind


def _held_service(app):
    """The app's service with its computing replaced by work that runs until released (or cancelled), so
    jobs stay in flight as long as a test needs them."""
    import threading

    from components.common import SERVICE_KEY

    svc = app.server.extensions[SERVICE_KEY]
    release = threading.Event()

    def hold(request, job):
        while not release.wait(0.01):
            job.report(0.25)

    svc.jobs.run = hold
    return svc, release


def _as(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_jobs_belong_to_their_callers_and_a_cancel_withdraws_only_ones_own(app, client):
    svc, release = _held_service(app)
    ask = dict(model="shapes", method="smoothgrad", weights="random", wait="false")
    data = png_bytes(seed=11)
    first = client.post("/api/v1/explain", data={**ask, "image": (io.BytesIO(data), "a.png")}, **_as("10.0.0.1"))
    second = client.post("/api/v1/explain", data={**ask, "image": (io.BytesIO(data), "a.png")}, **_as("10.0.0.2"))
    assert first.status_code == second.status_code == 202
    job_id = first.get_json()["id"]
    assert second.get_json()["id"] == job_id  # identical requests share one job...
    assert first.get_json()["shared"] is False and second.get_json()["shared"] is True  # ...and say so
    url = f"/api/v1/jobs/{job_id}"
    for method in (client.get, client.delete):  # an id this caller never received is unknown to it
        stranger = method(url, **_as("10.0.0.3"))
        assert stranger.status_code == 404 and "no such job" in stranger.get_json()["error"]
    withdrawn = client.delete(url, **_as("10.0.0.2"))
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "cancelled"
    owner = client.get(url, **_as("10.0.0.1")).get_json()
    assert owner["status"] in {"queued", "running"} and owner["error"] is None  # it goes on for the first
    assert not svc.jobs.get(job_id).cancelled
    last = client.delete(url, **_as("10.0.0.1"))
    assert last.get_json()["status"] == "cancelled" and svc.jobs.get(job_id).cancelled  # nobody waits: stopped
    release.set()


def test_one_caller_gets_429_at_its_quota_while_others_are_served(app, client):
    svc, release = _held_service(app)
    svc.jobs.client_queue = 2
    accepted, refused = [], None
    for target in range(7):  # distinct requests, so none joins another
        response = _explain(
            client,
            png_bytes(seed=12),
            model="shapes",
            method="smoothgrad",
            weights="random",
            target=target,
            wait="false",
        )
        if response.status_code == 429:
            refused = response
            break
        assert response.status_code == 202, response.get_json()
        accepted.append(response.get_json()["id"])
    assert refused is not None and len(accepted) <= svc.jobs.workers + svc.jobs.express + 2
    assert int(refused.headers["Retry-After"]) >= 1
    assert "maps waiting" in refused.get_json()["error"] and "Traceback" not in refused.get_data(as_text=True)
    other = client.post(
        "/api/v1/explain",
        data={
            "image": (io.BytesIO(png_bytes(seed=13)), "b.png"),
            "model": "shapes",
            "method": "smoothgrad",
            "weights": "random",
            "wait": "false",
        },
        **_as("10.0.0.9"),
    )
    assert other.status_code == 202  # another caller is still served
    release.set()


def test_an_api_key_the_server_knows_names_the_caller_a_made_up_one_does_not(app):
    from service.http import caller

    app.server.config["API_KEYS"] = {"classroom-key"}
    for headers, expected in (
        ({"X-API-Key": "classroom-key"}, "key:"),
        ({"X-API-Key": "made-up"}, "ip:10.1.1.1"),
        ({}, "ip:10.1.1.1"),
    ):
        with app.server.test_request_context(
            "/api/v1/explain", headers=headers, environ_base={"REMOTE_ADDR": "10.1.1.1"}
        ):
            assert caller().startswith(expected), (headers, caller())


def test_capped_settings_are_named_in_notes(client):
    """Settings beyond their range are clamped and the answer says so, setting by setting: also when the
    map comes from the cache or from a job started without waiting; settings within range give no note."""
    fields = dict(model="shapes", method="smoothgrad", n_samples="1e9", seed=str(2**64))
    first = _explain(client, png_bytes(seed=5), **fields)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["params"]["n_samples"] == 256 and body["params"]["seed"] == 2**31 - 1
    assert "n_samples was 1000000000; the largest allowed is 256, so that was used." in body["notes"]
    assert f"seed was {2**64}; the largest allowed is {2**31 - 1}, so that was used." in body["notes"]
    again = _explain(client, png_bytes(seed=5), **fields).get_json()
    assert again["cached"] is True and again["notes"] == body["notes"]
    started = _explain(client, png_bytes(seed=5), **fields, wait="false").get_json()
    assert started["notes"] == body["notes"]
    within = _explain(
        client, png_bytes(seed=5), model="shapes", method="smoothgrad", n_samples="256", seed=str(2**31 - 1)
    ).get_json()
    assert within["cached"] is True and not [note for note in within["notes"] if "allowed" in note]


def _stored_pictures(app) -> list:
    from components.common import SERVICE_KEY

    folder = app.server.extensions[SERVICE_KEY].images.root
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def _over_the_limit_png() -> bytes:
    """A genuine PNG of noise, padded with junk after its end to just over 10 MB (decoders stop at IEND)."""
    picture = np.random.default_rng(7).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "PNG")
    return buffer.getvalue() + b"\0" * (11 * 1024 * 1024 - len(buffer.getvalue()))


def test_an_upload_over_the_limit_is_413_however_it_is_sent_and_nothing_is_stored(app, client):
    import base64

    data = _over_the_limit_png()
    data_url = "data:image/png;base64," + base64.b64encode(data).decode()
    answers = {
        "multipart file": _explain(client, data, model="shapes", method="grad_cam"),
        "raw body": client.post("/api/v1/explain?model=shapes&method=grad_cam", data=data, content_type="image/png"),
        "data URL field": client.post(
            "/api/v1/explain", data={"image": data_url, "model": "shapes"}, content_type="multipart/form-data"
        ),
    }
    for way, response in answers.items():
        assert response.status_code == 413, (way, response.status_code, response.get_json())
        assert "too large" in response.get_json()["error"] and "10 MB" in response.get_json()["error"], way
    assert _stored_pictures(app) == []  # refused before anything was decoded or written
    assert app.server.config["MAX_CONTENT_LENGTH"] is not None


def test_an_upload_within_the_limit_is_read_whole_however_it_is_sent(app, client):
    import base64
    import hashlib

    picture = png_bytes(40, 40, seed=4) + b"\0" * (2 * 1024 * 1024)  # junk after the end: stored as sent, never cut
    data_url = "data:image/png;base64," + base64.b64encode(picture).decode()
    for response in (
        client.post("/api/v1/explain?model=alexnet", data=picture, content_type="image/png"),
        client.post(
            "/api/v1/explain", data={"image": data_url, "model": "alexnet"}, content_type="multipart/form-data"
        ),
        _explain(client, picture, model="alexnet"),
    ):
        assert response.status_code == 400 and "Unknown model" in response.get_json()["error"]  # got past the picture
    assert _stored_pictures(app) == [hashlib.sha256(picture).hexdigest()]
    damaged = client.post(
        "/api/v1/explain", data={"image": "data:image/png;base64,%%%"}, content_type="multipart/form-data"
    )
    assert damaged.status_code == 400 and "damaged" in damaged.get_json()["error"]


def test_unknown_api_paths_and_methods_answer_json_not_the_page(client):
    for method, path, status in (
        ("GET", "/api/v1/nope", 404),
        ("GET", "/api/v2/models", 404),
        ("POST", "/api/v1/jobs/x/y", 404),
        ("GET", "/api/v1/explain", 404),
        ("PUT", "/api/v1/models", 404),
    ):
        response = client.open(path, method=method)
        assert response.status_code == status, (method, path, response.status_code)
        assert response.mimetype == "application/json" and response.get_json()["error"], (method, path)
    assert client.get("/some/page/path").mimetype == "text/html"  # the page's own paths are still the page


def test_redis_down_is_503_with_retry_after_and_readyz_says_degraded(tmp_path):
    import socket

    from app import create_app

    with socket.socket() as probe:  # a port nobody listens on: Redis is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(
        {
            "weights": "random",
            "data_dir": str(tmp_path),
            "backend": "celery",
            "redis_url": f"redis://127.0.0.1:{port}/0",
        }
    )
    client = app.server.test_client()
    response = _explain(client, png_bytes(), model="shapes", method="grad_cam")
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1, response.get_json()
    assert "cannot be reached" in response.get_json()["error"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["status"] == "degraded"


def test_a_lost_worker_is_503_with_retry_after(app, client, monkeypatch):
    from types import SimpleNamespace

    from celery.exceptions import WorkerLostError

    from components.common import SERVICE_KEY
    from service.remote import RemoteJob

    lost = SimpleNamespace(state="FAILURE", info=WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL)."))
    jobs = SimpleNamespace(celery=SimpleNamespace(AsyncResult=lambda task_id: lost))
    job = RemoteJob(("key",), "task-1", 60.0, jobs)
    assert job.wait(1.0) and job.status == "failed"
    svc = app.server.extensions[SERVICE_KEY]
    monkeypatch.setattr(svc, "request_map", lambda *args, **kwargs: job)
    response = _explain(client, png_bytes(), model="shapes", method="grad_cam")
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
    assert "stopped unexpectedly" in response.get_json()["error"]


def test_the_client_behind_a_trusted_proxy_is_named_by_it_and_no_one_else_can_claim_an_address(tmp_path):
    from app import create_app
    from service.http import caller

    forwarded = {"X-Forwarded-For": "10.9.9.9"}
    for proxies, expected in ((0, "ip:127.0.0.1"), (1, "ip:10.9.9.9")):
        app = create_app({"data_dir": str(tmp_path / str(proxies)), "weights": "random", "trusted_proxies": proxies})
        seen = []
        app.server.add_url_rule("/api/v1/whoami", "whoami", lambda: seen.append(caller()) or "ok")
        app.server.test_client().get("/api/v1/whoami", headers=forwarded, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert seen == [expected]


def test_top_k_answers_every_class_of_the_row_with_its_own_heatmap(client):
    first = _explain(client, png_bytes(seed=5), model="shapes", method="vanilla_gradient", top_classes="3")
    assert first.status_code == 200, first.get_json()
    row = first.get_json()["top_classes"]
    assert [entry["rank"] for entry in row] == [1, 2, 3] and len({entry["target"] for entry in row}) == 3
    for entry in row:  # each map is the one the same class asked alone gets
        alone = _explain(client, png_bytes(seed=5), model="shapes", method="vanilla_gradient", target=entry["target"])
        assert alone.get_json()["cached"] is True and alone.get_json()["heatmap"] == entry["heatmap"]
    assert first.get_json()["heatmap"] == row[0]["heatmap"]


def test_contrast_over_http_names_both_classes(client):
    answer = _explain(client, png_bytes(seed=5), model="shapes", method="grad_cam", target="1", contrast="crescent")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["target"] == 1 and body["contrast"] == 5 and body["contrast_label"] == "crescent"
    assert "crescent" in body["title"] and "top_classes" not in body


def test_contrast_with_the_top_class_and_no_class_picked_is_a_plain_400(app, client):
    from components.common import SERVICE_KEY
    from explainers import predict
    from explainers.images import decode

    data = png_bytes(seed=8)
    top = predict(app.server.extensions[SERVICE_KEY].load("shapes", None), decode(data))[0][0]  # nothing cached
    for _ in range(2):  # the job finds the top class; then the known predictions refuse it at once
        answer = _explain(client, data, model="shapes", method="vanilla_gradient", contrast=str(top))
        assert answer.status_code == 400 and "Class A and class B are the same" in answer.get_json()["error"]
        assert _explain(client, data, model="shapes", method="vanilla_gradient").get_json()["target"] == top


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"top_classes": "0"}, "between 1 and 10. Received: 0"),
        ({"top_classes": "11"}, "between 1 and 10. Received: 11"),
        ({"top_classes": "three"}, "whole number"),
        ({"target": "1", "contrast": "no such class"}, "no such class"),
        ({"target": "1", "contrast": "1"}, "Class A and class B are the same (square, class 1): pick two different"),
        ({"top_classes": "3", "contrast": "crescent"}, "not both at once"),
        ({"method": "rise", "contrast": "crescent"}, "cannot explain 'why one class and not another'"),
    ],
)
def test_bad_top_k_and_contrast_are_plain_400s(client, fields, words):
    answer = _explain(client, png_bytes(seed=6), model="shapes", **{"method": "grad_cam", **fields})
    assert answer.status_code == 400 and words in answer.get_json()["error"], answer.get_json()


def test_score_cam_fast_keeps_its_own_top_k_setting(client):
    answer = _explain(client, png_bytes(seed=7), model="shapes", method="score_cam_fast", top_k="4")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["params"]["top_k"] == 4 and "top_classes" not in answer.get_json()


def test_the_layer_views_over_http_answer_their_numbers_and_picture(client):
    import base64

    found = client.post(
        "/api/v1/activations",
        data={"image": (io.BytesIO(png_bytes(seed=9)), "p.png"), "model": "shapes", "layer": "conv4", "top": "4"},
        content_type="multipart/form-data",
    )
    assert found.status_code == 200, found.get_json()
    body = found.get_json()
    assert body["layer"] == "conv4" and body["order"] == "contribution" and len(body["channels"]) == 4
    contributions = [channel["contribution"] for channel in body["channels"]]
    assert contributions == sorted(contributions, reverse=True)
    assert Image.open(io.BytesIO(base64.b64decode(body["png_base64"]))).format == "PNG"
    strip = client.post(
        "/api/v1/sweep",
        data={"image": (io.BytesIO(png_bytes(seed=9)), "p.png"), "model": "shapes", "target": "crescent"},
        content_type="multipart/form-data",
    ).get_json()
    assert strip["method"] == "grad_cam" and strip["target"] == 5 and strip["layers"][-1] == "conv5"
    assert len(strip["resolutions"]) == len(strip["layers"]) and strip["png_base64"]


@pytest.mark.parametrize(
    ("path", "fields", "words"),
    [
        ("/api/v1/activations", {"order": "loudest"}, "order must be one of"),
        ("/api/v1/activations", {"top": "0"}, "top must be between 1 and 64"),
        ("/api/v1/activations", {"layer": "nope"}, "nope"),
        ("/api/v1/sweep", {"method": "lime"}, "CAM-family"),
        ("/api/v1/sweep", {"target": "no such class"}, "no such class"),
    ],
)
def test_bad_layer_view_requests_are_plain_400s(client, path, fields, words):
    form = {"image": (io.BytesIO(png_bytes(seed=9)), "p.png"), "model": "shapes", **fields}
    answer = client.post(path, data=form, content_type="multipart/form-data")
    assert answer.status_code == 400 and words in answer.get_json()["error"], answer.get_json()
    assert client.post(path, data={"model": "shapes"}).status_code == 400  # no picture
