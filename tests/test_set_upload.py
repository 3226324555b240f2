"""The page's set upload route (components/set_upload.py, ``POST /set-upload``): a set far larger than
the page's own request limit is taken, one over the set's limit is refused (413) before it is read and
nothing is stored, a bad zip or an empty form is a plain message, never a 500."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from explainers.sets.demo import demo_zip
from helpers import png_bytes
from service.store import MAX_REQUEST_BYTES


@pytest.fixture
def web(tmp_path):
    from app import create_app

    return create_app({"weights": "random", "data_dir": str(tmp_path / "web"), "model": "shapes"})


@pytest.fixture
def browser(web):
    """A browser: its first page load gives it its signed session cookie."""
    client = web.server.test_client()
    client.get("/")
    return client


def _send(client, files, model="shapes"):
    form = {"model": model, "files": [(io.BytesIO(data), name) for name, data in files]}
    return client.post("/set-upload", data=form, content_type="multipart/form-data")


def _stored(web) -> int:
    """Files written anywhere under the app's data folder."""
    root = web.server.extensions["saliency_service"].images.root
    return sum(len(names) for _dir, _dirs, names in os.walk(root.parent)) if root else 0


def test_a_zip_larger_than_the_page_limit_starts_a_set_of_this_session(web, browser):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
        with zipfile.ZipFile(io.BytesIO(demo_zip("shapes", 3))) as demo:
            for info in demo.infolist():
                zipped.writestr(info.filename, demo.read(info))
        zipped.writestr("padding.bin", os.urandom(MAX_REQUEST_BYTES + (1 << 20)))
    assert len(archive.getvalue()) > MAX_REQUEST_BYTES
    answer = _send(browser, [("big.zip", archive.getvalue())])
    assert answer.status_code == 200, answer.json
    svc = web.server.extensions["saliency_service"]
    record = svc.cache.get(("set", answer.json["id"]))
    assert answer.json["model"] == "shapes" and len(record["pictures"]) == 3 and record["client"]
    assert ["padding.bin"] == [entry for entry, _reason in record["problems"]]
    svc.sets.cancel(record["id"], record["client"])


def test_several_pictures_dropped_at_once_make_one_set(web, browser):
    pictures = [(f"p{i}.png", png_bytes(64, 48, seed=i)) for i in range(3)]
    answer = _send(browser, pictures)
    assert answer.status_code == 200, answer.json
    record = web.server.extensions["saliency_service"].cache.get(("set", answer.json["id"]))
    assert [p["name"] for p in record["pictures"]] == ["p0.png", "p1.png", "p2.png"]


def test_a_set_over_its_limit_is_refused_before_reading_and_nothing_is_stored(web, browser, monkeypatch):
    monkeypatch.setenv("EXPLAINER_SET_MAX_MB", "1")
    before = _stored(web)
    answer = _send(browser, [("big.zip", os.urandom(4 << 20))])
    assert answer.status_code == 413
    assert answer.json["error"].startswith("This set is too large: a set can be at most 1 MB here.")
    assert _stored(web) == before


def test_a_bad_zip_or_an_empty_form_is_a_plain_message(browser):
    bad = _send(browser, [("evil.zip", b"not a zip")])
    assert bad.status_code == 400 and "not a zip archive" in bad.json["error"]
    empty = browser.post("/set-upload", data={"model": "shapes"}, content_type="multipart/form-data")
    assert empty.status_code == 400 and empty.json["error"] == "Choose one .zip or some pictures first."
    unknown = _send(browser, [("p.png", png_bytes(seed=1))], model="no_such_model")
    assert unknown.status_code == 400 and "error" in unknown.json
