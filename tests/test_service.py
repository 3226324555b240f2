"""The explainer service and the picture store (no browser)."""

import base64
import threading
import time

import numpy as np
import pytest

from explainers.errors import ImageError, ParameterError, UnknownNameError
from helpers import png_bytes
from service import ExplainerService, parse_data_url
from service.store import MAX_UPLOAD_BYTES, ImageStore


def _data_url(data: bytes, kind="image/png") -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode()


@pytest.fixture
def svc(tmp_path):
    return ExplainerService(tmp_path, weights="random")


def test_data_urls(tmp_path):
    data = png_bytes()
    assert parse_data_url(_data_url(data)) == data
    assert parse_data_url(_data_url(data, "text/plain")) == data  # the declared type is not trusted
    bad = [
        (None, "did not arrive as a file"),
        (["x"], "did not arrive as a file"),
        ("no comma here", "arrived damaged"),
        ("data:image/png;base64", "arrived damaged"),
        ("data:image/png,plain", "unexpected encoding"),
        ("data:image/png;base64,@@@@", "encoding is broken"),
        ("data:image/png;base64," + "A" * (MAX_UPLOAD_BYTES * 2), "larger than 10 MB"),
    ]
    for contents, phrase in bad:
        with pytest.raises(ImageError, match=phrase):
            parse_data_url(contents)


def test_store_keeps_pictures_by_content_hash(tmp_path):
    store = ImageStore(tmp_path)
    key = store.put(png_bytes())
    assert len(key) == 64 and store.put(png_bytes()) == key and store.has(key)
    assert [p.name for p in tmp_path.iterdir()] == [key]  # stored once, named by the hash only
    fresh = ImageStore(tmp_path)  # another worker process reads it from disk
    np.testing.assert_array_equal(fresh.get(key), store.get(key))
    for forged in ("../etc/passwd", "x" * 64, "", None, 42, key.upper()):
        with pytest.raises(ImageError):
            store.get(forged)
    with pytest.raises(ImageError, match="no longer on the server"):
        store.get("0" * 64)
    with pytest.raises(ImageError):
        store.put(b"not a picture")
    assert len(list(tmp_path.iterdir())) == 1


def test_catalogue_needs_no_model(svc):
    assert [m["name"] for m in svc.models()] == ["vgg16", "resnet50", "inception_v3", "shapes", "shapes_clever_hans"]
    layers = svc.layers("vgg16")
    assert (
        layers[-1]["label"] == "block5_pool · 7×7"
        and {"name": "block5_conv3", "label": "block5_conv3 · 14×14", "height": 14, "width": 14} in layers
    )
    assert {m["name"] for m in svc.methods()} >= {"grad_cam", "vanilla_gradient", "cam"}
    assert svc.labels()[281] == {"label": "281 · tabby cat (tabby)", "value": 281}
    shapes = svc.labels("shapes")
    assert [option["label"] for option in shapes[:2]] == ["0 · circle", "1 · square"] and len(shapes) == 7
    assert [found["name"] for found in svc.search_labels("star", model="shapes")] == ["star"]
    assert [info["name"] for info in svc.layers("shapes")][-1] == "conv5"


@pytest.mark.slow
def test_explain_caches_and_validates(svc):
    key = svc.add_image(png_bytes(80, 60))
    first = svc.explain(key, "vgg16", "grad_cam", target=281)
    again = svc.explain(key, "vgg16", "grad_cam", target="281")
    assert not first.cached and again.cached and again.seconds < 0.05
    np.testing.assert_array_equal(first.heatmap, again.heatmap)
    assert first.target == 281 and first.label == "tabby cat" and first.layer == "block5_conv3"
    other_layer = svc.explain(key, "vgg16", "grad_cam", target=281, layer="block4_conv3")
    assert not other_layer.cached and other_layer.layer == "block4_conv3"
    # vanilla gradient ignores the layer, so a different layer is the same cached result
    svc.explain(key, "vgg16", "vanilla_gradient", target=281, layer="block5_conv3")
    assert svc.explain(key, "vgg16", "vanilla_gradient", target=281, layer="block4_conv3").cached
    with pytest.raises(UnknownNameError, match="no layer called 'nope'"):
        svc.explain(key, "vgg16", "grad_cam", layer="nope")
    with pytest.raises(UnknownNameError, match="Unknown method"):
        svc.explain(key, "vgg16", "rm -rf")
    with pytest.raises(UnknownNameError, match="Unknown model"):
        svc.explain(key, "alexnet", "grad_cam")
    with pytest.raises(UnknownNameError, match="Unknown weights"):
        svc.explain(key, "vgg16", "grad_cam", weights="mine.h5")
    with pytest.raises(ParameterError):
        svc.explain(key, "vgg16", "grad_cam", params={"relu": "maybe"})
    predictions = svc.predict(key, "vgg16")
    assert len(predictions) == 5 and svc.device == "CPU"


@pytest.mark.slow
def test_concurrent_requests_compute_once(svc, monkeypatch):
    import explainers.api as api
    import service.coalesce as coalesce

    key = svc.add_image(png_bytes(70, 50, seed=3))
    calls = []
    real = api.explain

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "explain", counting)
    real_many = coalesce.explain_many  # with coalescing on, one-pass maps are computed there, one call per batch
    monkeypatch.setattr(coalesce, "explain_many", lambda model, asked: calls.extend(asked) or real_many(model, asked))
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(svc.explain(key, "vgg16", "layer_cam", target=7)))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 6
    assert all(np.array_equal(r.heatmap, results[0].heatmap) for r in results)


@pytest.mark.slow
def test_display_levels_and_overlay(svc):
    key = svc.add_image(png_bytes(90, 60, seed=4))
    result = svc.explain(key, "vgg16", "gradient_x_input", target=1)
    levels, scale = svc.display_levels(key, result, mode="signed")
    assert levels.shape == (60, 90) and levels.dtype == np.uint8 and scale > 0
    assert levels.min() < 100 < 155 < levels.max()  # both signs visible around 127.5
    absolute, _ = svc.display_levels(key, result, mode="absolute")
    assert absolute.min() < 30  # |values| start near zero
    picture = svc.overlay(key, result, mode="signed")
    assert picture.shape == (60, 90, 3) and picture.dtype == np.uint8


def test_predictions_and_the_first_map_come_from_one_pass(svc):
    key = svc.add_image(png_bytes(128, 128, seed=3))
    predictions = svc.predict(key, "shapes")
    assert len(predictions) == 5 and svc.jobs.computed == 1
    top = predictions[0][0]
    first = svc.request_map(key, "shapes", "grad_cam")
    named = svc.request_map(key, "shapes", "grad_cam", target=top)  # what the page asks once it knows the top
    assert first.done and named.done and svc.jobs.computed == 1  # both from the cache: no second pass
    assert named.outcome().target == top and named.outcome().cached
    other = svc.request_map(key, "shapes", "grad_cam", target=(top + 1) % 7)
    assert other.wait(60) and other.outcome().target == (top + 1) % 7 and svc.jobs.computed == 2
    # any map's pass also leaves the predictions behind
    fresh = svc.add_image(png_bytes(128, 128, seed=4))
    svc.explain(fresh, "shapes", "vanilla_gradient")
    assert svc.jobs.computed == 3 and svc.request_predictions(fresh, "shapes").done
    assert [row[0] for row in svc.predict(fresh, "shapes")] == [row[0] for row in svc.predict(fresh, "shapes")]
    assert svc.jobs.computed == 3


def test_a_long_map_shows_its_running_average_while_it_computes(svc):
    key = svc.add_image(png_bytes(200, 100, seed=5))
    job = svc.request_map(key, "shapes", "rise", params={"n_masks": 4000})
    deadline = time.monotonic() + 60
    while job.partial is None and not job.done and time.monotonic() < deadline:
        time.sleep(0.05)
    levels = svc.preview_levels(key, job, signed=False)
    job.cancel("test over")
    assert job.partial is not None and job.partial.shape == (128, 128)  # the model's input size (≤ 160)
    assert levels is not None and levels.dtype == np.uint8 and levels.shape == (100, 200)  # at display size
    job.wait(30)
    assert job.status == "cancelled"  # a stopped map keeps its partial map, to show where it stopped
    assert svc.preview_levels(key, job, signed=False) is not None
    job.status = "done"
    assert svc.preview_levels(key, job, signed=False) is None  # a finished job shows its map, not a preview


def test_the_page_one_pass_methods_share_one_job(svc):
    key = svc.add_image(png_bytes(128, 128, seed=6))
    page = ["grad_cam", "guided_grad_cam", "vanilla_gradient", "gradient_x_input", "smoothgrad"]
    first = svc.request_map(key, "shapes", "grad_cam", together=page)
    assert first.wait(60)
    assert svc.jobs.computed == 1
    for name in ("guided_grad_cam", "vanilla_gradient", "gradient_x_input"):  # cached by the first job
        job = svc.request_map(key, "shapes", name, together=page)
        assert job.done and job.outcome().cached and job.outcome().method == name
    from explainers.api import explain

    alone = explain(svc.load("shapes"), svc.image(key), "vanilla_gradient")  # the same map computed on its own
    np.testing.assert_allclose(svc.explain(key, "shapes", "vanilla_gradient").heatmap, alone.heatmap, rtol=1e-5)
    assert not svc.request_map(key, "shapes", "smoothgrad", together=page).done  # multi-pass: its own job


def test_a_map_reuses_the_predictions_known_for_its_picture(svc, monkeypatch):
    """Once the picture's top-5 is known, a method whose passes never see the picture itself (RISE with
    a given class) runs no pass for it, and its result carries those predictions."""
    from explainers import api

    key = svc.add_image(png_bytes(128, 128, seed=7))
    predictions = svc.predict(key, "shapes")
    read = []
    original = api.Explanation.__dict__["predictions"].__get__
    monkeypatch.setattr(
        api._OnFirstRead, "__get__", lambda self, obj, owner=None: read.append(obj) or original(obj, owner)
    )
    result = svc.explain(key, "shapes", "rise", target=predictions[1][0], params={"n_masks": 8})
    assert result.target == predictions[1][0] and not read
    assert [tuple(p) for p in result.meta["predictions"]] == [tuple(p) for p in predictions]


def test_a_model_first_loaded_after_start_gets_its_passes_timed(svc, monkeypatch):
    """Only the default model is tuned by warm_up; another one a person picks is timed with XLA and in
    graph mode in the background, once per process, and keeps whichever ran faster."""
    from explainers.compile_policy import GRADIENT_BATCHES, ONE_PICTURE
    from explainers.engine import Engine, engine_for

    calls = []

    def tune_passes(self, *args, **kwargs):
        calls.append(("passes", self.name))
        self.policy.xla[ONE_PICTURE] = False
        return {True: 2.0, False: 1.0}

    def tune_batches(self, size, *args, **kwargs):
        calls.append(("batches", self.name))
        self.policy.xla[GRADIENT_BATCHES] = True
        return {True: 1.0, False: 3.0}

    monkeypatch.setattr(Engine, "tune_passes", tune_passes)
    monkeypatch.setattr(Engine, "tune_batches", tune_batches)
    monkeypatch.setenv("EXPLAINERS_TUNE_IN_BACKGROUND", "1")  # tests/conftest.py turns it off for the others
    engine_for(svc.load("shapes", tune=False)).policy.measured.clear()  # the model is shared by the test session
    loaded = svc.load("shapes")
    engine = engine_for(loaded)
    deadline = time.time() + 30
    while len(engine.policy.measured) < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert engine.policy.measured == {ONE_PICTURE: {True: 2.0, False: 1.0}, GRADIENT_BATCHES: {True: 1.0, False: 3.0}}
    assert engine.policy.xla[ONE_PICTURE] is False and engine.policy.xla[GRADIENT_BATCHES] is True
    for _ in range(3):
        svc.load("shapes")
    time.sleep(0.2)
    assert calls.count(("passes", loaded.name)) == 1 and calls.count(("batches", loaded.name)) == 1


def test_requests_are_dispatched_by_kind_through_one_table(svc):
    assert set(svc.HANDLERS) == {"map", "check", "familiarity", "activations", "sweep", "facts", "set_chunk"}
    with pytest.raises(UnknownNameError, match="Unknown request kind 'bogus'"):
        svc.compute({"kind": "bogus"})


def test_backends_are_chosen_by_name(tmp_path):
    with pytest.raises(ValueError, match="backend must be 'local' or 'celery'. Received: 'kafka'"):
        ExplainerService(tmp_path, backend="kafka")
    local = ExplainerService(tmp_path, weights="random")
    assert local.health()["backend"] == "local" and local.device == "not started yet"


def test_a_long_method_estimates_its_time_before_starting_and_learns_from_each_map(svc):
    assert svc.estimate("shapes", "grad_cam") is None  # one pass: nothing to choose
    efforts = next(m for m in svc.methods() if m["name"] == "smoothgrad")["efforts"]
    guesses = [svc.estimate("shapes", "smoothgrad", efforts[name]) for name in ("quick", "standard", "thorough")]
    assert not any(guess.measured for guess in guesses) and "first guess" in guesses[0].words()
    assert guesses[0].seconds < guesses[1].seconds < guesses[2].seconds
    key = svc.add_image(png_bytes(seed=7))
    result = svc.explain(key, "shapes", "smoothgrad", params=efforts["quick"])
    measured = svc.estimate("shapes", "smoothgrad", efforts["quick"])
    assert measured.measured and "on this server" in measured.words()
    assert measured.seconds == pytest.approx(result.seconds, rel=1e-6)  # the same work: the time it took
    assert svc.estimate("shapes", "smoothgrad", efforts["thorough"]).seconds == pytest.approx(8 * result.seconds)
    assert svc.estimate("shapes", "rise").measured  # another method on the same model: this server's speed


def test_explain_names_the_capped_settings_in_its_notes(svc):
    key = svc.add_image(png_bytes(seed=8))
    result = svc.explain(key, "shapes", "smoothgrad", params={"n_samples": 1e9, "seed": 2**64})
    assert result.params["n_samples"] == 256
    assert result.meta["notes"][:2] == [
        "n_samples was 1000000000; the largest allowed is 256, so that was used.",
        f"seed was {2**64}; the largest allowed is {2**31 - 1}, so that was used.",
    ]
    again = svc.explain(key, "shapes", "smoothgrad", params={"n_samples": 256, "seed": 2**31 - 1})
    assert again.cached and not again.meta.get("notes")  # the cached map does not carry another caller's notes
