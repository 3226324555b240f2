"""Your own model in the service, the HTTP API and the page's upload route: the admin's model folder
(listed, explained, a broken one listed with its problem), uploads (kept once by hash, private to the
session, refused over the limit before the body is read, refused in words when not a model), and
``dashboard()`` building the page for a notebook's model."""

from __future__ import annotations

import base64
import io
import json
import socket
import zipfile

import numpy as np
import pytest
from PIL import Image

from components.common import CLIENT_COOKIE, client_id
from helpers import WatchedBody, png_bytes

CLASSES = ["cat", "dog", "bird"]


def tiny_keras(path=None, softmax=True, seed=5):
    """A small CNN on 12 × 16 pictures ending in a softmax (what people train), saved to ``path``."""
    from explainers._tf import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax" if softmax else None, name="scores")(x)
    model = keras.Model(inputs, outputs)
    if path is not None:
        model.save(str(path))
    return model


def lambda_keras(path):
    """A model with a Lambda layer (Python code inside): safe mode refuses it."""
    from explainers._tf import keras

    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    x = keras.layers.Conv2D(2, 3, name="conv")(x)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    keras.Model(inputs, outputs).save(str(path))


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "pets.keras"
    tiny_keras(path)
    return path


@pytest.fixture
def folder(tmp_path, keras_file, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "pets.keras").write_bytes(keras_file.read_bytes())
    (folder / "pets.toml").write_text(
        'title = "Pets"\nlabels = "pets.txt"\npreprocessing = "unit"\ndescription = "Three pets."\n', encoding="utf-8"
    )
    (folder / "pets.txt").write_text("\n".join(CLASSES) + "\n", encoding="utf-8")
    (folder / "broken.keras").write_bytes(keras_file.read_bytes())
    (folder / "broken.toml").write_text('labels = "../secret.txt"\n', encoding="utf-8")
    monkeypatch.setenv("EXPLAINERS_MODELS_DIR", str(folder))
    return folder


@pytest.fixture
def web(tmp_path, folder):
    from app import create_app

    return create_app({"weights": "random", "data_dir": str(tmp_path / "web")})


def _client(web):
    """A browser: its first page load gives it its signed session cookie."""
    client = web.server.test_client()
    client.get("/")
    return client


def _explain(client, **fields):
    form = {key: str(value) for key, value in fields.items()}
    form["image"] = (io.BytesIO(png_bytes(seed=3)), "photo.png")
    return client.post("/api/v1/explain", data=form, content_type="multipart/form-data")


# ---- the admin's folder ----------------------------------------------------------------------------
def test_a_folder_model_is_listed_in_the_api_with_its_facts_and_a_broken_one_with_its_problem(web):
    body = web.server.test_client().get("/api/v1/models").get_json()
    names = [model["name"] for model in body["models"]]
    assert names[:4] == ["vgg16", "resnet50", "inception_v3", "shapes"] and "pets" in names and "broken" in names
    pets = next(model for model in body["models"] if model["name"] == "pets")
    assert pets["title"] == "Pets" and pets["family"] == "folder" and pets["problem"] is None
    assert pets["input_size"] == 12 and pets["input_width"] == 16
    assert pets["layers"] == ["conv_a", "conv_b"] and pets["default_layer"] == "conv_b"
    assert pets["explaining"] == "the score before softmax" and pets["cam"] is None
    broken = next(model for model in body["models"] if model["name"] == "broken")
    assert "file name inside the model folder" in broken["problem"] and broken["layers"] == []
    assert "secret" not in json.dumps(body["models"][-1]["weights"])


def test_a_map_of_a_folder_model_through_the_http_api(web):
    client = web.server.test_client()
    answer = _explain(client, model="pets", method="grad_cam", target="dog")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["model"] == "pets" and body["label"] == "dog" and body["target"] == 1 and body["layer"] == "conv_b"
    heatmap = Image.open(io.BytesIO(base64.b64decode(body["heatmap"]["png_base64"])))
    assert heatmap.size == (16, 12)  # the model's own input, width × height
    assert _explain(client, model="pets", method="grad_cam", target="dog").get_json()["cached"] is True
    broken = _explain(client, model="broken", method="grad_cam")
    assert broken.status_code == 400 and "cannot be used" in broken.get_json()["error"]
    labels = client.get("/api/v1/labels?q=bir&model=pets").get_json()["labels"]
    assert labels == [{"index": 2, "name": "bird", "synonyms": []}] or labels[0]["name"] == "bird"


def test_the_folder_model_is_on_the_page_for_everyone(web):
    from components import model_picker

    with web.server.test_request_context("/"):
        options = model_picker.show_status("pets", "imagenet")[1]
        status = model_picker.show_status("pets", "imagenet")[0]
    labels = {option["value"]: option for option in options}
    assert labels["pets"]["label"] == "Pets · model folder"
    assert labels["broken"]["disabled"] is True
    text = json.dumps(status.to_plotly_json(), default=str)
    assert "explaining the score before softmax" in text and "conv_b recommended" in text


def test_a_sidecar_is_read_in_words(tmp_path):
    from service.own_models import read_sidecar

    (tmp_path / "m.keras").write_bytes(b"x")
    cases = {
        'preprocessing = "bgr"\n': "preprocessing must be one of",
        "labels = [1, 2]\n": "list of class names",
        'colour = "red"\n': "unknown keys: colour",
        "title = \n": "not valid TOML",
        "safe_mode = 1\n": "true or false",
        'labels = "/etc/passwd"\n': "without folders",
    }
    for text, expected in cases.items():
        (tmp_path / "m.toml").write_text(text, encoding="utf-8")
        assert expected in read_sidecar(tmp_path / "m.keras").problem, text
    (tmp_path / "m.toml").unlink()
    assert "no sidecar" in read_sidecar(tmp_path / "m.keras").problem
    (tmp_path / "m.json").write_text('{"title": "M", "labels": ["a", "b"], "safe_mode": false}', encoding="utf-8")
    entry = read_sidecar(tmp_path / "m.keras")
    assert entry.problem is None and entry.labels == ["a", "b"] and entry.safe_mode is False
    assert "built-in model" in read_sidecar(tmp_path / "m.keras", {"m"}).problem


# ---- uploads ----------------------------------------------------------------------------------------
def _upload(client, data: bytes, labels: bytes | None = None, name="pets.keras", preprocessing="unit"):
    form = {"model": (io.BytesIO(data), name), "preprocessing": preprocessing}
    if labels is not None:
        form["labels"] = (io.BytesIO(labels), "labels.txt")
    return client.post("/model-upload", data=form, content_type="multipart/form-data")


def test_an_upload_is_kept_once_and_private_to_its_session(web, keras_file):
    svc = web.server.extensions["saliency_service"]
    alice, bob = _client(web), _client(web)
    first = _upload(alice, keras_file.read_bytes(), b"cat\ndog\nbird\n")
    assert first.status_code == 200, first.get_json()
    mine = first.get_json()
    assert mine["classes"] == 3 and mine["layers"] == 2 and mine["explaining"] == "the score before softmax"
    second = _upload(bob, keras_file.read_bytes())
    assert second.status_code == 200, second.get_json()
    assert svc.catalogue.files.count() == 1  # one copy on disk
    assert second.get_json()["model"] != mine["model"]

    # alice sees and explains hers; bob neither sees it listed nor may use it, even knowing its name
    def names_for(client):
        cookie = client.get_cookie(CLIENT_COOKIE).value
        with web.server.test_request_context("/", headers={"Cookie": f"{CLIENT_COOKIE}={cookie}"}):
            return client_id(), [model["name"] for model in svc.models(client_id())]

    alice_id, alice_sees = names_for(alice)
    bob_id, bob_sees = names_for(bob)
    assert mine["model"] in alice_sees and mine["model"] not in bob_sees
    key = svc.add_image(png_bytes(seed=3))
    result = svc.explain(key, mine["model"], "grad_cam", target="bird", client=alice_id)
    assert result.label == "bird" and result.heatmap.shape == (12, 16)
    with pytest.raises(Exception, match="Unknown model"):
        svc.request_map(key, mine["model"], "grad_cam", client=bob_id)


def test_bad_uploads_get_a_sentence_and_the_server_goes_on(web, keras_file, tmp_path):
    client = _client(web)
    not_zip = _upload(client, b"this is not a model at all")
    assert not_zip.status_code == 400 and "zip" in not_zip.get_json()["error"].lower()
    h5 = _upload(client, b"\x89HDF\r\n\x1a\n" + b"\0" * 100, name="weights.h5")
    assert h5.status_code == 400 and "model.save" in h5.get_json()["error"]
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("../../evil.txt", "x")
    tricked = _upload(client, bomb.getvalue())
    assert tricked.status_code == 400 and tricked.get_json()["error"]
    wrong_labels = _upload(client, keras_file.read_bytes(), b"cat\ndog\n")
    assert wrong_labels.status_code == 400 and "2 names but the model has 3 outputs" in wrong_labels.get_json()["error"]
    wrong_pre = _upload(client, keras_file.read_bytes(), preprocessing="bgr")
    assert wrong_pre.status_code == 400 and "expects its pixels" in wrong_pre.get_json()["error"]
    lambda_file = tmp_path / "lambda.keras"
    lambda_keras(lambda_file)
    refused = _upload(client, lambda_file.read_bytes())
    assert refused.status_code == 400 and "Lambda layer" in refused.get_json()["error"]
    missing = client.post("/model-upload", data={}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "Choose a .keras" in missing.get_json()["error"]
    svc = web.server.extensions["saliency_service"]
    assert svc.catalogue.files.count() == 0  # nothing unusable is kept
    assert _upload(client, keras_file.read_bytes()).status_code == 200  # and the server goes on


def test_two_gigabytes_are_refused_before_the_body_is_read(web):
    """A Content-Length of 2 GB with a small body: 413 at once (the body is never read)."""
    body = WatchedBody(b"--x\r\n")
    client = _client(web)
    answer = client.post(
        "/model-upload",
        input_stream=body,
        content_type="multipart/form-data; boundary=x",
        environ_overrides={"CONTENT_LENGTH": str(2 * 1024**3)},  # as the client declares it
    )
    assert answer.status_code == 413 and "at most 300 MB" in answer.get_json()["error"]
    assert not body.was_read


def test_an_upload_over_a_lower_limit_is_refused_and_a_stream_is_cut_off_at_it(web, monkeypatch, keras_file, tmp_path):
    from service.own_models import ModelFiles, TooLarge

    monkeypatch.setenv("EXPLAINERS_MODEL_UPLOAD_MB", "0.005")  # 5 kB: the tiny model is larger
    answer = _upload(_client(web), keras_file.read_bytes())
    assert answer.status_code == 413 and "too large" in answer.get_json()["error"]
    files = ModelFiles(tmp_path / "store")  # a body without Content-Length: read until the limit, then refused
    with pytest.raises(TooLarge):
        files.keep(io.BytesIO(b"x" * 5000), max_bytes=4096)
    assert files.count() == 0 and not list((tmp_path / "store" / "files").iterdir())


def test_uploads_can_be_turned_off(web, monkeypatch, keras_file):
    monkeypatch.setenv("EXPLAINERS_MODEL_UPLOAD", "0")
    answer = _upload(_client(web), keras_file.read_bytes())
    assert answer.status_code == 403 and "turned off" in answer.get_json()["error"]
    from components import own_model

    assert "turned off" in json.dumps(own_model.layout().to_plotly_json(), default=str)


# ---- the notebook ------------------------------------------------------------------------------------
def test_dashboard_builds_the_page_for_a_notebook_model_without_serving():
    from explainers import dashboard

    model = tiny_keras(softmax=False, seed=6)
    app = dashboard(model, labels=CLASSES, preprocessing="unit", title="My pets", run=False)
    svc = app.server.extensions["saliency_service"]
    [row] = [m for m in svc.models() if m["family"] == "notebook"]
    assert row["title"] == "My pets"
    client = app.server.test_client()
    page = client.get("/")
    assert page.status_code == 200
    # Jupyter frames the page from its own address: allowed for local notebooks, still nobody else
    assert "X-Frame-Options" not in page.headers
    assert "frame-ancestors 'self' http://localhost:*" in page.headers["Content-Security-Policy"]
    [picker] = [c for c in app.layout()._traverse() if getattr(c, "id", None) == "model"]
    assert picker.value == row["name"]  # picked on the page
    key = svc.add_image(png_bytes(seed=4))
    result = svc.explain(key, row["name"], "vanilla_gradient", target="bird")
    assert result.label == "bird" and np.isfinite(result.heatmap).all()
    assert svc.model_facts(row["name"])["explaining"] is None  # logits already: nothing adapted


def test_dashboard_outside_a_notebook_serves_and_opens_a_browser(monkeypatch):
    import notebook_app

    opened, served = [], []
    monkeypatch.setattr(notebook_app.webbrowser, "open", lambda url: opened.append(url))
    monkeypatch.setattr("dash.Dash.run", lambda self, **options: served.append(options))
    monkeypatch.setattr(notebook_app, "in_notebook", lambda: False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notebook_app.dashboard(tiny_keras(softmax=False, seed=6), labels=CLASSES, port=port, open_browser_after=0)
    assert served and served[0]["port"] == port and "jupyter_mode" not in served[0]
    assert opened == [f"http://127.0.0.1:{port}/"]
    monkeypatch.setattr(notebook_app, "in_notebook", lambda: True)
    notebook_app.dashboard(tiny_keras(softmax=False, seed=6), labels=CLASSES, port=port)
    assert served[1]["jupyter_mode"] == "inline"


def flat_keras(path):
    """A CNN whose head flattens (no global average pooling): CAM does not apply to it."""
    from explainers._tf import keras

    keras.utils.set_random_seed(7)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    outputs = keras.layers.Dense(2, name="scores")(keras.layers.Flatten()(x))
    keras.Model(inputs, outputs).save(str(path))


def test_every_piece_works_with_a_folder_model(web, folder):
    """Downloads, the grid compared with a built-in model, the report, a trust check, and CAM refused in words
    for a model it does not fit, said on the page and by the API."""
    flat_keras(folder / "flat.keras")
    (folder / "flat.toml").write_text('labels = ["no", "yes"]\n', encoding="utf-8")
    svc = web.server.extensions["saliency_service"]
    svc.catalogue.folder_models(rescan=True)
    client = _client(web)
    key = svc.add_image(png_bytes(seed=3))
    card = client.get(f"/download/card.png?image={key}&model=pets&method=grad_cam&target=2")
    assert card.status_code == 200 and card.data[:8] == b"\x89PNG\r\n\x1a\n"
    grid = client.get(f"/download/grid.png?image={key}&model=pets&compare=shapes&methods=grad_cam")
    assert grid.status_code == 200, grid.data[:200]
    report = client.get(f"/download/report.html?image={key}&model=pets&methods=grad_cam,vanilla_gradient")
    assert report.status_code == 200 and b"Pets" in report.data and b"score before softmax" in report.data
    job = svc.request_check("sanity", key, "pets", "grad_cam", target=1)
    assert job.wait(120) and job.status == "done", job.error
    assert svc.explain(key, "pets", "cam").heatmap.shape == (12, 16)
    refused = _explain(client, model="flat", method="cam")
    assert refused.status_code == 400 and "global average pooling" in refused.get_json()["error"]
    from components import model_picker

    with web.server.test_request_context("/"):
        status = json.dumps(model_picker.show_status("flat", "imagenet")[0].to_plotly_json(), default=str)
    assert "CAM does not apply" in status


def test_the_page_shows_a_grey_model_its_picture_in_grey_at_its_own_size(web, folder):
    from explainers._tf import keras

    keras.utils.set_random_seed(8)
    inputs = keras.Input((20, 10, 1))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    outputs = keras.layers.Dense(2, name="scores")(keras.layers.GlobalAveragePooling2D()(x))
    keras.Model(inputs, outputs).save(str(folder / "grey.keras"))
    (folder / "grey.json").write_text('{"labels": ["dark", "light"], "preprocessing": "unit"}', encoding="utf-8")
    svc = web.server.extensions["saliency_service"]
    svc.catalogue.folder_models(rescan=True)
    key = svc.add_image(png_bytes(seed=3))
    shown = np.asarray(Image.open(io.BytesIO(web.server.test_client().get(f"/image/{key}/input/grey.png").data)))
    assert shown.shape[:2] == (20, 10)
    assert (shown[..., 0] == shown[..., 1]).all() and (shown[..., 1] == shown[..., 2]).all()
    colour = np.asarray(Image.open(io.BytesIO(web.server.test_client().get(f"/image/{key}/input/pets.png").data)))
    assert colour.shape[:2] == (12, 16) and not (colour[..., 0] == colour[..., 1]).all()
