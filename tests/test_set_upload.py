"""A set's upload, from the page (components/set_upload.py, ``POST /set-upload``) and from the API
(``POST /api/v1/sets``), both read by service/set_uploads.py: a set far larger than the app's own request
limit is taken (its zip read from disk, not from memory), one over the set's limit is refused (413) from
its Content-Length before it is read or at the limit without one, and nothing is stored; a bad zip or an
empty form is a plain message, never a 500; every other route keeps the app's small request limit."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from explainers.sets.demo import demo_zip
from helpers import WatchedBody, png_bytes
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


# ---- the API's sets, and what both routes share -----------------------------------------------------
BOUNDARY = "setboundary"


def _multipart(field: str, name: str, data: bytes) -> bytes:
    """A form with the model field and one file, as a client writes it on the wire."""
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\nshapes\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def _chunked(client, url: str, body: bytes):
    """The body sent without Content-Length (as with chunked transfer): the server reads it to its end."""
    return client.post(
        url,
        input_stream=io.BytesIO(body),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        environ_overrides={"wsgi.input_terminated": True},  # what gunicorn and werkzeug say for a chunked body
    )


ROUTES = [("/api/v1/sets", "set"), ("/set-upload", "files")]


def test_an_api_set_larger_than_the_request_limit_is_taken_and_its_zip_read_from_disk(web, browser, monkeypatch):
    from explainers.sets import reading

    sources = []
    read_zip = reading.read_zip
    monkeypatch.setattr(reading, "read_zip", lambda source, *args: sources.append(source) or read_zip(source, *args))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
        for i in range(5):  # noise does not compress: 5 pictures of 3 MB each
            zipped.writestr(f"noise{i}.png", png_bytes(1024, 1024, seed=i))
    assert len(archive.getvalue()) > MAX_REQUEST_BYTES
    body = {"model": "shapes", "set": (io.BytesIO(archive.getvalue()), "noise.zip")}
    answer = browser.post("/api/v1/sets", data=body, content_type="multipart/form-data")
    assert answer.status_code == 202, answer.json
    svc = web.server.extensions["saliency_service"]
    record = svc.cache.get(("set", answer.json["id"]))
    assert [p["name"] for p in record["pictures"]] == [f"noise{i}.png" for i in range(5)] and not record["problems"]
    assert len(sources) == 1 and not isinstance(sources[0], bytes)  # the parser's file, not a copy in memory
    svc.sets.cancel(record["id"], record["client"])


def test_an_api_set_over_the_set_limit_is_refused_before_reading_and_nothing_is_stored(web, browser, monkeypatch):
    monkeypatch.setenv("EXPLAINER_SET_MAX_MB", "1")
    body = WatchedBody(_multipart("set", "big.zip", os.urandom(4 << 20)))
    before = _stored(web)
    answer = browser.post(
        "/api/v1/sets",
        input_stream=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        environ_overrides={"CONTENT_LENGTH": str((4 << 20) + 300)},
    )
    assert answer.status_code == 413
    assert answer.json["error"].startswith("This set is too large: a set can be at most 1 MB here.")
    assert not body.was_read and _stored(web) == before


@pytest.mark.parametrize(("url", "field"), ROUTES)
def test_a_set_without_content_length_is_cut_off_at_the_set_limit(web, browser, monkeypatch, url, field):
    monkeypatch.setenv("EXPLAINER_SET_MAX_MB", "1")
    before = _stored(web)
    answer = _chunked(browser, url, _multipart(field, "big.zip", os.urandom(4 << 20)))
    assert answer.status_code == 413 and answer.json["error"].startswith("This set is too large: a set can be at most")
    assert _stored(web) == before
    small = _chunked(browser, url, _multipart(field, "small.zip", demo_zip("shapes", 2)))
    assert small.status_code in {200, 202}, small.json  # the same way under the limit is read in full
    svc = web.server.extensions["saliency_service"]
    assert len(svc.cache.get(("set", small.json["id"]))["pictures"]) == 2


@pytest.mark.parametrize(("url", "field"), ROUTES)
def test_a_bad_zip_is_a_plain_message(browser, url, field):
    answer = browser.post(url, data={"model": "shapes", field: (io.BytesIO(b"PK not a zip"), "evil.zip")})
    assert answer.status_code == 400 and "not a zip archive" in answer.json["error"]


@pytest.mark.parametrize(("url", "field"), ROUTES)
def test_a_set_cut_off_before_its_end_is_a_plain_message(web, browser, url, field):
    before = _stored(web)
    body = _multipart(field, "set.zip", demo_zip("shapes", 2))
    answer = browser.post(
        url,
        input_stream=io.BytesIO(body[: len(body) // 2]),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        environ_overrides={"CONTENT_LENGTH": str(len(body))},  # the client said more than it sent
    )
    assert answer.status_code == 400 and answer.json["error"].startswith("The set did not arrive whole")
    assert _stored(web) == before


@pytest.mark.parametrize(("url", "_field"), ROUTES)
def test_a_large_body_that_is_no_form_is_a_plain_message_not_a_set_too_large(browser, url, _field):
    answer = browser.post(
        url, data=b"x" * (MAX_REQUEST_BYTES + 1), content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )
    assert answer.status_code == 400 and answer.json["error"].startswith("This form cannot be read as a set")


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        ("/api/v1/explain", "image/png"),
        ("/api/v1/activations", "image/png"),
        ("/_dash-update-component", "application/json"),
    ],
)
def test_every_other_route_keeps_the_small_request_limit(browser, url, content_type):
    answer = browser.post(url, data=b"\0" * (MAX_REQUEST_BYTES + 1), content_type=content_type)
    assert answer.status_code == 413
    assert "too large" in (answer.json["error"] if url.startswith("/api/") else answer.get_data(as_text=True))
