"""A multi-label model (sigmoid outputs) shows each class's own sigmoid probability, not a softmax over
its scores: in the top-5, the ranking of a class outside it, and the faithfulness curves. The model is
built here so that its scores are its output biases whatever the picture: ln 3, 0, −ln 3, whose
sigmoids are 3/4, 1/2, 1/4 (a softmax would give 9/13, 3/13, 1/13)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import png_bytes

LABELS = ["cat", "dog", "bird"]
SCORES = [math.log(3), 0.0, -math.log(3)]


def constant_scores_model(activation: str, units: int = 3):
    """A CNN whose scores are its final Dense layer's biases (every weight zero), ending in ``activation``."""
    from explainers._tf import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, padding="same", kernel_initializer="zeros", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    dense = keras.layers.Dense(units, activation=activation, kernel_initializer="zeros", name="scores")
    model = keras.Model(inputs, dense(x))
    dense.bias.assign(np.array(SCORES[:units], np.float32))
    return model


@pytest.fixture(scope="module")
def multi_label():
    from explainers.own_models import from_keras

    return from_keras(constant_scores_model("sigmoid"), labels=LABELS, name="tags")


@pytest.fixture(scope="module")
def picture():
    from explainers.images import decode

    return decode(png_bytes(seed=3))


def test_the_top_classes_of_a_multi_label_model_are_its_sigmoids(multi_label, picture):
    from explainers import api

    assert multi_label.output_activation == "sigmoid"
    assert multi_label.explaining == "the score before sigmoid"
    found = api.predict(multi_label, picture)
    assert [(index, label) for index, label, _ in found] == [(0, "cat"), (1, "dog"), (2, "bird")]
    assert [p for _, _, p in found] == pytest.approx([0.75, 0.5, 0.25], abs=1e-6)
    result = api.explain(multi_label, picture, "grad_cam")  # the map's own pass gives the same top-5
    assert [p for _, _, p in result.predictions] == pytest.approx([0.75, 0.5, 0.25], abs=1e-6)


def test_a_softmax_model_still_shows_its_softmax(picture):
    from explainers import api
    from explainers.own_models import from_keras

    model = from_keras(constant_scores_model("softmax"), labels=LABELS, name="pets")
    assert model.output_activation == "softmax"
    assert [p for _, _, p in api.predict(model, picture)] == pytest.approx([9 / 13, 3 / 13, 1 / 13], abs=1e-6)


def test_one_sigmoid_unit_stays_two_classes_that_sum_to_one(picture):
    from explainers import api
    from explainers.own_models import from_keras

    model = from_keras(constant_scores_model("sigmoid", units=1), labels=["cat"], name="cat")
    assert model.output_activation == "softmax"  # its two widened scores' softmax is [1 − σ(z), σ(z)]
    assert [(label, p) for _, label, p in api.predict(model, picture)] == [
        ("cat", pytest.approx(0.75, abs=1e-6)),
        ("not cat", pytest.approx(0.25, abs=1e-6)),
    ]


def test_the_ranking_and_the_faithfulness_curve_use_the_sigmoid(multi_label, picture):
    from explainers import api
    from explainers.evaluation import faithfulness
    from service.classes import picture_probabilities, standing

    api.predict(multi_label, picture)  # leaves the logits in the model's memo, as a map's pass does
    ranking = picture_probabilities(multi_label, picture)
    assert ranking == pytest.approx([0.75, 0.5, 0.25], abs=1e-6)
    assert standing(ranking, 2) == (pytest.approx(0.25, abs=1e-6), 3)
    heatmap = np.random.default_rng(0).random((8, 8))
    curve = faithfulness(multi_label, picture, heatmap, target="dog", steps=4)
    assert curve.probabilities == pytest.approx([0.5] * 5, abs=1e-6)  # the picture does not move its scores


def test_why_a_and_not_b_on_a_multi_label_model_keeps_its_own_top_classes(multi_label, picture):
    """The contrast wrapper shifts every score by score B; the sigmoids shown must still be the model's."""
    from explainers import api

    result = api.explain(multi_label, picture, "grad_cam", target="cat", contrast="bird")
    assert result.meta["contrast_label"] == "bird"
    assert [p for _, _, p in result.predictions] == pytest.approx([0.75, 0.5, 0.25], abs=1e-6)
