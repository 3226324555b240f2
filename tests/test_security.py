"""Protective headers on every answer, optional API keys, and API answers that never name the server's files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import png_bytes

GALLERY = Path(__file__).resolve().parent.parent / "assets" / "examples" / "shapes"
REQUIRED = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": "same-origin"}


def _policy(response) -> dict[str, str]:
    """The Content-Security-Policy header as {directive: sources}."""
    header = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()}


def _assert_protected(response, what: str) -> None:
    for name, value in REQUIRED.items():
        assert response.headers.get(name) == value, (what, name, response.headers.get(name))
    policy = _policy(response)
    assert policy.get("frame-ancestors") == "'self'", (what, policy)
    assert policy.get("default-src") == "'self'" and policy.get("object-src") == "'none'", (what, policy)
    assert "'unsafe-inline'" not in policy.get("script-src", "'unsafe-inline'"), (what, policy)


def test_every_kind_of_answer_carries_the_protective_headers(client):
    svc = client.application.extensions["saliency_service"]
    key = svc.add_image((GALLERY / "circle.png").read_bytes())
    card = f"image={key}&model=shapes&weights=random"
    answers = {
        "the page": client.get("/"),
        "the layout": client.get("/_dash-layout"),
        "the page's script": client.get("/assets/upload_guard.js"),
        "a picture": client.get(f"/image/{key}/display.jpg"),
        "the API": client.get("/api/v1/models"),
        "an API error": client.get("/api/v1/labels?limit=x"),
        "health": client.get("/healthz"),
        "a card's PNG": client.get(f"/download/card.png?{card}&method=grad_cam"),
        "the parameters": client.get(f"/download/params.json?{card}&methods=grad_cam"),
        "the report": client.get(f"/download/report.html?{card}&methods=grad_cam"),
        "a download error": client.get(f"/download/card.png?{card}&method=nope"),
        "the scrubber": client.get(f"/trust/perturbed.png?{card}&method=grad_cam&k=10"),
    }
    for what, response in answers.items():
        assert response.status_code < 500, (what, response.status_code)
        _assert_protected(response, what)
    assert answers["the report"].status_code == 200 and answers["a card's PNG"].status_code == 200


def test_the_page_policy_allows_exactly_the_pages_own_inline_scripts(app, client):
    page = client.get("/").get_data(as_text=True)
    inline = [
        body
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
        if "src=" not in attributes
        and "application/json" not in attributes
        and body.strip()
        and "Internet Explorer" not in body
    ]  # the IE warning sits in a conditional comment: never runs
    allowed = _policy(client.get("/"))["script-src"].split()
    assert inline and set(app.csp_hashes()) <= set(allowed)
    import base64
    import hashlib

    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed, body[:120]


def test_api_keys_guard_the_api_and_not_the_page(tmp_path):
    from app import create_app

    app = create_app({"weights": "random", "data_dir": str(tmp_path), "api_keys": "alpha-key, beta-key,"})
    client = app.server.test_client()
    refused = client.get("/api/v1/models")
    assert refused.status_code == 401 and "Authorization: Bearer" in refused.get_json()["error"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    for headers in (
        {"Authorization": "Bearer wrong"},
        {"X-API-Key": "alpha"},
        {"Authorization": "Basic alpha-key"},
        {"X-API-Key": ""},
    ):
        assert client.get("/api/v1/models", headers=headers).status_code == 401, headers
    assert client.get("/api/v1/models", headers={"Authorization": "Bearer alpha-key"}).status_code == 200
    assert client.get("/api/v1/labels?q=cat", headers={"X-API-Key": "beta-key"}).status_code == 200
    explain = client.post("/api/v1/explain", data={"model": "shapes"}, content_type="multipart/form-data")
    assert explain.status_code == 401  # refused before the upload is read
    assert client.get("/api/v1/nope").status_code == 401  # no key, no hint about what exists
    # the page and its own callbacks are not the API: browsers keep working without a key
    assert client.get("/").status_code == 200 and client.get("/_dash-layout").status_code == 200
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code in (200, 503)


def test_the_api_is_open_when_no_key_is_set(client):
    assert client.get("/api/v1/models").status_code == 200


def test_api_answers_never_name_the_servers_files_or_user(tmp_path, monkeypatch):
    from app import create_app

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home-of-the-admin"))
    monkeypatch.setenv("EXPLAINERS_OFFLINE", "1")  # the weights are "missing": the message says where they belong
    weights = tmp_path / "private-weights"
    weights.mkdir()
    (weights / "resnet50_weights_tf_dim_ordering_tf_kernels.h5").write_bytes(b"not empty")
    app = create_app({"weights": "random", "data_dir": str(tmp_path / "data"), "weights_dir": str(weights)})
    client = app.server.test_client()
    body = client.get("/api/v1/models").get_json()
    states = {model["name"]: model["weights"] for model in body["models"]}
    assert states["resnet50"]["state"] == "ready" and states["vgg16"]["state"] == "missing"
    assert "on the server" in states["resnet50"]["message"] and "on the server" in states["vgg16"]["message"]
    failed = client.post(
        "/api/v1/explain",
        data={"image": (__import__("io").BytesIO(png_bytes()), "a.png"), "model": "vgg16", "weights": "imagenet"},
        content_type="multipart/form-data",
    )
    assert failed.status_code == 400 and "weights" in failed.get_json()["error"]
    for text in (json.dumps(body), json.dumps(failed.get_json())):
        for secret in (str(tmp_path), "keras-home-of-the-admin", "private-weights", str(Path.home()), "/.keras"):
            assert secret not in text, secret
    messages = [model["weights"]["message"] for model in body["models"]] + [failed.get_json()["error"]]
    for message in messages:  # no path at all (a user's name would be in its home folder's path)
        assert not re.search(r"(?<![\w.])/(?!api/)\w", message), message


@pytest.mark.parametrize(
    "text, expected",
    [
        ("belongs in /root/.keras/models or in the folder", "belongs in “models” on the server or in the folder"),
        ("ready (/srv/w/vgg16.h5)", "ready (“vgg16.h5” on the server)"),
        ("lives at ~/weights.h5.", "lives at “weights.h5” on the server."),
        (f"at {Path.home()}.", "at a folder on the server."),
        ("see /api/v1/models, 1/3 and/or 8 × 8", "see /api/v1/models, 1/3 and/or 8 × 8"),
    ],
)
def test_paths_in_messages_become_words(text, expected):
    from service.security import without_paths

    assert without_paths(text) == expected


@pytest.mark.browser
@pytest.mark.slow
def test_the_page_works_under_its_policy_in_a_real_browser(dash_duo, browser_available, tmp_path):
    """Chromium enforces the policy: the page loads, an example's map is drawn, and the console holds no
    CSP violation (nor any other error)."""
    import time

    from selenium.webdriver.common.by import By

    from app import create_app

    app = create_app({"weights": "random", "model": "shapes", "data_dir": str(tmp_path / "data")})
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("h1", "Saliency maps", timeout=60)
    policy = dash_duo.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/').then(r => done(r.headers.get('content-security-policy')));"
    )
    assert "frame-ancestors 'self'" in policy and "'unsafe-eval'" not in policy

    for button in dash_duo.driver.find_elements(By.CSS_SELECTOR, ".examples:not([hidden]) button.example"):
        if button.is_displayed() and button.text.strip() == "Star":
            button.click()
            break
    grad_cam = json.dumps({"card": "a-grad_cam", "type": "card-graph"}, separators=(",", ":"))
    deadline = time.time() + 180
    drawn = False
    while time.time() < deadline and not drawn:
        drawn = dash_duo.driver.execute_script(
            "const root = document.getElementById(arguments[0]);"
            "const plot = root && root.querySelector('.js-plotly-plot');"
            "return !!(plot && plot.data && plot.data.length && plot.data[0].type === 'heatmap'"
            " && plot.querySelector('.heatmaplayer image, .layer-below image'));",
            grad_cam,
        )
        time.sleep(0.5)
    assert drawn, "the Grad-CAM map was not drawn"
    logs = dash_duo.get_logs() or []
    violations = [entry["message"] for entry in logs if "Content Security Policy" in entry["message"]]
    assert not violations, violations
    assert logs == [], logs
