"""Shared fixtures: tiny hand-built models whose answers are known on paper, registry models with
seeded random weights (ImageNet weights cannot be downloaded in CI), and seeded test images."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# no background XLA-or-graph timing of models the service loads: it would switch the shared test models'
# compile mode under other tests (tests/test_service.py turns it on for its own test of it)
os.environ["EXPLAINERS_TUNE_IN_BACKGROUND"] = "0"


@pytest.fixture(autouse=True, scope="session")
def _browser_ports():
    """Browser tests' servers get ports of their own per test process (dash.testing counts up from one fixed
    port), so two test runs on one machine do not answer each other's browsers."""
    try:
        from dash.testing.application_runners import BaseDashRunner
    except ImportError:  # dash[testing] absent: no browser tests run
        return
    BaseDashRunner._next_port = 20000 + (os.getpid() % 4000) * 10
    _tolerate_threads_that_ended()


def _tolerate_threads_that_ended() -> None:
    """dash.testing stops a test's server by raising SystemExit in every thread started since, and fails
    the test's teardown ("Invalid thread id") when one of them ended between being listed and being
    stopped, as the service's worker threads do while it shuts down. A thread that is gone needs no stop."""
    import ctypes
    import threading

    from dash.testing.application_runners import KillerThread

    def kill(self) -> None:
        for thread_id in [tid for tid in list(threading._active) if tid not in self._old_threads]:
            stopped = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_long(thread_id), ctypes.py_object(SystemExit))
            if stopped > 1:  # more than one thread state touched: undo, as CPython's docs ask
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_long(thread_id), None)
                raise SystemExit("Stopping a test server's thread failed")

    KillerThread.kill = kill


SIZE = 8  # tiny models take 8 × 8 RGB pictures
_SHARED_MODELS = []  # the session's models: each test starts with their logits memos empty


def _tiny_model(keras_model, name, classes, default_layer=None):
    from explainers.labels import Labels
    from explainers.models import ExplainableModel

    model = ExplainableModel(
        keras_model,
        name,
        labels=Labels.from_names([f"class {i}" for i in range(classes)]),
        preprocess=lambda x: x / 255.0,
        default_layer=default_layer,
        title=name,
    )
    _SHARED_MODELS.append(model)
    return model


@pytest.fixture(autouse=True)
def _forget_logits():
    """A model remembers the logits of photos it has seen (explainers.passes.LogitsMemo): tests that
    count passes must not depend on which tests ran before them with the same seeded picture."""
    for model in _SHARED_MODELS:
        if model.logits_memo is not None:
            model.logits_memo.clear()


@pytest.fixture(scope="session")
def linear_model():
    """logits = W · vec(x/255) + b, behind an identity layer named "pixels" (so a layer can be picked)."""
    from explainers._tf import keras

    rng = np.random.default_rng(1)
    inputs = keras.Input((SIZE, SIZE, 3))
    pixels = keras.layers.Identity(name="pixels")(inputs)
    logits = keras.layers.Dense(3, name="logits")(keras.layers.Flatten()(pixels))
    net = keras.Model(inputs, logits)
    net.get_layer("logits").set_weights(
        [rng.normal(size=(SIZE * SIZE * 3, 3)).astype("float32"), rng.normal(size=3).astype("float32")]
    )
    return _tiny_model(net, "linear", 3)


@pytest.fixture(scope="session")
def gap_model():
    """conv (ReLU) -> global average pooling -> dense: the architecture CAM was defined for."""
    from explainers._tf import keras

    keras.utils.set_random_seed(2)
    inputs = keras.Input((SIZE, SIZE, 3))
    features = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="features")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    logits = keras.layers.Dense(4, name="logits")(pooled)
    return _tiny_model(keras.Model(inputs, logits), "gap", 4, default_layer="features")


@pytest.fixture(scope="session")
def relu_model():
    """x -> dense (ReLU, 6 units) -> dense logits, with weights chosen so some hidden units are off and
    some outgoing weights are negative: vanilla, guided backprop and DeconvNet then all differ."""
    from explainers._tf import keras

    rng = np.random.default_rng(3)
    inputs = keras.Input((SIZE, SIZE, 3))
    pixels = keras.layers.Identity(name="pixels")(inputs)
    hidden = keras.layers.Dense(6, activation="relu", name="hidden")(keras.layers.Flatten()(pixels))
    logits = keras.layers.Dense(2, name="logits")(hidden)
    net = keras.Model(inputs, logits)
    net.get_layer("hidden").set_weights(
        [rng.normal(size=(SIZE * SIZE * 3, 6)).astype("float32") * 0.1, np.array([2, -2, 2, -2, 2, -2], "float32")]
    )
    net.get_layer("logits").set_weights(
        [np.array([[1, -1], [1, 1], [-1, 1], [1, -1], [-2, 1], [0.5, 0.5]], "float32"), np.zeros(2, "float32")]
    )
    return _tiny_model(net, "relu", 2)


@pytest.fixture(scope="session")
def tiny_cnn():
    """A small conv net with two conv blocks and a GAP head, for contract tests of every method."""
    from explainers._tf import keras

    keras.utils.set_random_seed(4)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    logits = keras.layers.Dense(5, name="logits")(x)
    return _tiny_model(keras.Model(inputs, logits), "tiny_cnn", 5, default_layer="conv2")


@pytest.fixture(scope="session")
def rng_image():
    def make(height=SIZE, width=SIZE, seed=0):
        return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)

    return make


@pytest.fixture(scope="session")
def registry_models():
    """The three ImageNet architectures with seeded random weights, built once per test session."""
    from explainers.models import load_model

    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load_model(name, weights=None, seed=0)
            _SHARED_MODELS.append(cache[name])
        return cache[name]

    return get


# ---- browser tests (dash[testing]'s dash_duo on Debian's chromium + chromium-driver) ----------------
CHROMIUM = os.environ.get("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")


def pytest_setup_options():
    """Chrome options for dash_duo: Debian's Chromium, headless, no background network traffic."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--window-size=1600,1200",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(flag)
    return options


@pytest.fixture
def browser_available():
    """Skip (saying why) where Chromium is not installed; in CI a missing browser is a failure."""
    import shutil

    missing = [
        name
        for name, path in (("chromium", CHROMIUM), ("chromedriver", shutil.which("chromedriver")))
        if not path or not os.path.exists(path)
    ]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests need {', '.join(missing)} (apt-get install chromium chromium-driver)")
        pytest.skip(f"{', '.join(missing)} not installed: apt-get install chromium chromium-driver")


@pytest.fixture
def app(tmp_path):
    """A fresh dashboard app on random weights with its own data folder."""
    from app import create_app

    return create_app({"weights": "random", "data_dir": str(tmp_path / "web")})


@pytest.fixture
def client(app):
    return app.server.test_client()


REGION = (slice(2, 8), slice(3, 9))  # rows 2-7, columns 3-8 of a 16 × 16 picture


@pytest.fixture(scope="session")
def region_model():
    """A model whose class-0 logit depends only on the pixels inside REGION (known on paper).

    A 1×1 convolution makes two channels, "bright" = ReLU(mean colour − 0.5) and "dark" =
    ReLU(0.5 − mean colour) (colours scaled to 0..1); a constant mask keeps REGION only; global average
    pooling and a dense layer give logit₀ = 10 × mean(bright in REGION), logit₁ = −logit₀.
    """
    from explainers._tf import keras

    inputs = keras.Input((16, 16, 3))
    features = keras.layers.Conv2D(2, 1, activation="relu", name="features")(inputs)
    mask = np.zeros((1, 16, 16, 1), "float32")
    mask[0, REGION[0], REGION[1], 0] = 1.0
    kept = keras.layers.Lambda(lambda t: t * mask, name="region")(features)
    logits = keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling2D(name="gap")(kept))
    net = keras.Model(inputs, logits)
    net.get_layer("features").set_weights(
        [np.array([[[[1 / 3, -1 / 3]] * 3]], "float32").reshape(1, 1, 3, 2), np.array([-0.5, 0.5], "float32")]
    )
    net.get_layer("logits").set_weights(
        [np.array([[640.0, -640.0], [0.0, 0.0]], "float32") / 36, np.zeros(2, "float32")]
    )
    return _tiny_model(net, "region", 2, default_layer="features")


@pytest.fixture(scope="session")
def region_picture():
    """A dark, noisy 16 × 16 picture with a bright patch exactly on REGION."""
    picture = np.random.default_rng(5).integers(0, 100, (16, 16, 3)).astype(np.uint8)
    picture[REGION] = 220
    return picture


def mass_inside_region(heatmap: np.ndarray) -> float:
    """Share of the map's positive mass that lies inside REGION."""
    positive = np.maximum(np.asarray(heatmap, np.float64), 0)
    return float(positive[REGION].sum() / max(positive.sum(), 1e-12))
