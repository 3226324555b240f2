"""Memory stays bounded: a failed model load leaves nothing behind, and a method at its capped settings
builds its perturbed copies a chunk at a time. Resident memory is read with psutil; numpy's allocations
with tracemalloc."""

import gc
import tracemalloc

import numpy as np
import psutil
import pytest

from explainers import WeightsError, explain
from explainers import weights as weights_mod
from explainers.methods import get_method
from explainers.models import load_model

MB = 1024 * 1024


@pytest.fixture(scope="module")
def shapes_model():
    return load_model("shapes")


@pytest.fixture(scope="module")
def shapes_picture():
    from explainers import shapes

    return shapes.render(seed=1, index=3)[0]


def resident() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


@pytest.mark.slow
def test_failed_loads_leave_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv(weights_mod.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.delenv(weights_mod.OFFLINE_ENV, raising=False)
    (tmp_path / "empty").mkdir()

    def fail_once():
        with pytest.raises(WeightsError, match="not on this computer"):
            load_model("vgg16", weights="imagenet", weights_dir=tmp_path / "empty")

    fail_once()  # warm-up: imports and first-use allocations
    before = resident()
    for _ in range(20):
        fail_once()
    assert resident() - before < 100 * MB


@pytest.mark.slow
def test_rise_at_its_cap_builds_its_masked_copies_a_chunk_at_a_time(shapes_model, shapes_picture):
    cap = get_method("rise").params["n_masks"].maximum
    tracemalloc.start()
    try:
        result = explain(shapes_model, shapes_picture, "rise", n_masks=cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.heatmap.shape == shapes_picture.shape[:2] and np.isfinite(result.heatmap).all()
    # all masked copies at once would be cap × 128 × 128 × 3 floats (1.5 GB), several times over
    assert peak < 500 * MB, f"peak {peak / MB:.0f} MB"


class Enough(Exception):
    """Stops a method once its first chunks have run."""


@pytest.mark.slow
@pytest.mark.parametrize(
    "method, settings",
    [
        ("lime", {"n_samples": "maximum", "segments": "maximum"}),
        ("occlusion", {"patch": "minimum", "stride": "minimum"}),  # the most covered copies: one per pixel
        ("rise", {"n_masks": "maximum", "cells": "maximum"}),
        ("expected_gradients", {"n_samples": "maximum", "smoothing": "maximum"}),
    ],
)
def test_heaviest_settings_make_their_samples_a_chunk_at_a_time(shapes_model, shapes_picture, method, settings):
    params = get_method(method).params
    chosen = {name: getattr(params[name], bound) for name, bound in settings.items()}

    def stop_early(fraction: float) -> None:
        if fraction > 0.01:
            raise Enough

    tracemalloc.start()
    try:
        with pytest.raises(Exception) as stopped:
            explain(shapes_model, shapes_picture, method, progress=stop_early, **chosen)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stopped.type is Enough or isinstance(stopped.value.__context__, Enough) or "Enough" in repr(stopped.value)
    # every sample at once would be thousands of 128 × 128 × 3 float copies (gigabytes)
    assert peak < 200 * MB, f"peak {peak / MB:.0f} MB before the first chunks were done"


@pytest.mark.slow
def test_score_cam_makes_its_masked_copies_a_chunk_at_a_time():
    """One masked copy per channel: ResNet50's 2048-channel layer held every copy at once (4.3 GB)."""
    from explainers._tf import keras
    from explainers.labels import Labels
    from explainers.models import ExplainableModel

    keras.utils.set_random_seed(0)
    inputs = keras.Input((128, 128, 3))
    wide = keras.layers.Conv2D(2048, 1, strides=32, activation="relu", name="wide")(inputs)  # 4 x 4 x 2048
    head = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(wide))
    model = ExplainableModel(
        keras.Model(inputs, head), "wide", labels=Labels.from_names(["a", "b"]), preprocess=lambda x: x / 255.0
    )
    picture = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    tracemalloc.start()
    try:
        result = explain(model, picture, "score_cam", layer="wide")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.meta["channels"] == 2048 and np.isfinite(result.heatmap).all()
    # every masked copy at once: 2048 x 128 x 128 x 3 floats (400 MB), several times over
    assert peak < 150 * MB, f"peak {peak / MB:.0f} MB"
