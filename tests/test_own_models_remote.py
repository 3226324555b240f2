"""Own models on Celery workers: a folder model is loaded by the worker from the same folder, an uploaded
one travels by its hash through Redis to a worker with a data folder of its own."""

from __future__ import annotations

import io
import os

import pytest

from helpers import png_bytes
from test_own_models_app import CLASSES, tiny_keras
from test_remote import ROOT, redis_url, run_worker  # noqa: F401 - the module's Redis fixture

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    tiny_keras(folder / "pets.keras")
    (folder / "pets.json").write_text('{"title": "Pets", "labels": ["cat", "dog", "bird"]}', encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def own_worker(redis_url, models_folder, tmp_path_factory):  # noqa: F811
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "EXPLAINERS_WARM_UP": "0",
        "EXPLAINERS_MODELS_DIR": str(models_folder),
        "EXPLAINERS_DATA_DIR": str(tmp_path_factory.mktemp("worker")),  # not the web tier's: uploads come by Redis
        "PYTHONPATH": str(ROOT),
    }
    yield from run_worker(redis_url, env)


def test_folder_and_uploaded_models_are_explained_by_a_worker(
    redis_url,  # noqa: F811 - the fixture imported above
    own_worker,
    models_folder,
    tmp_path,
    monkeypatch,
):
    from service import ExplainerService
    from service.own_models import OwnModel, owner_of, upload_name

    monkeypatch.setenv("EXPLAINERS_MODELS_DIR", str(models_folder))
    web = ExplainerService(tmp_path / "web", backend="celery", redis_url=redis_url)
    try:
        key = web.add_image(png_bytes(64, 48, seed=5))
        folder_map = web.explain(key, "pets", "grad_cam", target="bird")
        assert folder_map.label == "bird" and folder_map.heatmap.shape == (12, 16)
        assert web.model_facts("pets")["explaining"] == "the score before softmax"
        upload = tmp_path / "mine.keras"
        tiny_keras(upload, seed=9)
        digest = web.catalogue.files.keep(io.BytesIO(upload.read_bytes()), 10**7)
        owner = owner_of("session:alice")
        entry = OwnModel(
            upload_name(digest, CLASSES, "tf", owner),
            "mine",
            "upload",
            digest=digest,
            labels=CLASSES,
            preprocessing="tf",
            owner=owner,
        )
        facts = web.add_uploaded_model(entry, "session:alice")
        assert facts["default_layer"] == "conv_b"
        uploaded_map = web.explain(key, entry.name, "vanilla_gradient", target="dog", client="session:alice")
        assert uploaded_map.label == "dog" and uploaded_map.heatmap.shape == (12, 16)
        assert entry.name in [m["name"] for m in web.models("session:alice")]
        assert entry.name not in [m["name"] for m in web.models("session:bob")]
    finally:
        web.jobs.close()
