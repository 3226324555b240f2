"""Methods that read a class probability (LIME, RISE, Score-CAM) read a multi-label model's own sigmoid of
the class, which depends on that class's score alone; a softmax would couple every class.

The model is built here so that class c's score reads only quarter c of the picture: a 1 × 1 convolution
keeps the red channel (A = red / 255, after a ReLU), and the Dense layer's column c sums A over quarter c
with weight 1/4, minus 1. Changing class 1's column must leave class 0's sigmoid, hence its map, as it was;
under a softmax class 0's probability e^z₀ / Σ e^z moves with z₁, and so does its map.
"""

from __future__ import annotations

import numpy as np
import pytest

LABELS = ["top left", "top right", "bottom left"]
SIZE = 8
QUARTERS = [(slice(0, 4), slice(0, 4)), (slice(0, 4), slice(4, 8)), (slice(4, 8), slice(0, 4))]
BIAS = -1.0


def region_scores_model(activation: str, class_1_scale: float = 1.0):
    """The model above, ending in ``activation``; class 1's column and bias are multiplied by ``class_1_scale``."""
    from explainers._tf import keras

    inputs = keras.Input((SIZE, SIZE, 3))
    conv = keras.layers.Conv2D(1, 1, activation="relu", name="conv")
    x = keras.layers.Flatten(name="flat")(conv(inputs))
    dense = keras.layers.Dense(3, activation=activation, name="scores")
    model = keras.Model(inputs, dense(x))
    conv.kernel.assign(np.array([1.0, 0.0, 0.0], np.float32).reshape(1, 1, 3, 1))
    conv.bias.assign(np.zeros(1, np.float32))
    kernel = np.zeros((SIZE, SIZE, 3), np.float32)
    for c, (rows, cols) in enumerate(QUARTERS):
        kernel[rows, cols, c] = 0.25
    bias = np.full(3, BIAS, np.float32)
    kernel[..., 1] *= class_1_scale
    bias[1] = bias[1] * class_1_scale + (class_1_scale - 1.0)  # the bias moves too, not only in proportion
    dense.kernel.assign(kernel.reshape(SIZE * SIZE, 3))
    dense.bias.assign(bias)
    return model


def explainable(activation: str, class_1_scale: float = 1.0):
    from explainers.own_models import from_keras

    keras_model = region_scores_model(activation, class_1_scale)
    return from_keras(keras_model, labels=LABELS, name=f"regions-{activation}-{class_1_scale}")


@pytest.fixture(scope="module")
def picture():
    return np.random.default_rng(8).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_the_probabilities_follow_the_models_own_output():
    from explainers.ops import probabilities

    scores = np.log(np.array([[3.0, 1.0, 1 / 3]], np.float32))
    np.testing.assert_allclose(probabilities(scores, "sigmoid"), [[0.75, 0.5, 0.25]], atol=1e-6)
    np.testing.assert_allclose(probabilities(scores), [[9 / 13, 3 / 13, 1 / 13]], atol=1e-6)
    assert probabilities(scores, "sigmoid").dtype == probabilities(scores).dtype == np.float32


@pytest.mark.parametrize(
    "method, params",
    [("rise", {"n_masks": 32}), ("lime", {"n_samples": 32, "segments": 8}), ("score_cam", {})],
)
def test_a_multi_label_map_of_one_class_ignores_another_classs_weights(picture, method, params):
    from explainers import api

    maps = {}
    for activation in ("sigmoid", "softmax"):
        models = [explainable(activation, scale) for scale in (1.0, 3.0)]
        assert models[0].output_activation == activation
        maps[activation] = [api.explain(m, picture, method, target=0, **params).heatmap for m in models]
    assert np.abs(maps["sigmoid"][0]).max() > 0
    np.testing.assert_allclose(maps["sigmoid"][0], maps["sigmoid"][1], rtol=1e-5, atol=1e-7)
    # the control: a softmax couples the classes, so there the same change moves class 0's map
    assert not np.allclose(maps["softmax"][0], maps["softmax"][1], rtol=1e-3, atol=1e-6)


def test_score_cam_weighs_the_feature_map_by_the_rise_of_the_class_sigmoid(picture):
    """One feature map A: Score-CAM is max(0, A × (σ(z₀ of the picture seen through A) − σ(z₀ of black)))."""
    from explainers import api

    model = explainable("sigmoid")
    found = api.explain(model, picture, "score_cam", target=0, layer="conv").heatmap
    pixels = model.prepare(picture).astype(np.float64)
    a = pixels[..., 0] / 255.0  # the convolution's map: the red channel, scaled to [0, 1] (ReLU keeps it)
    mask = (a - a.min()) / (a.max() - a.min())
    seen = a * mask  # the red channel of the picture seen through the normalised map
    rows, cols = QUARTERS[0]
    rise = sigmoid(0.25 * seen[rows, cols].sum() + BIAS) - sigmoid(BIAS)
    np.testing.assert_allclose(found, np.maximum(a * rise, 0.0), rtol=1e-4, atol=1e-6)
