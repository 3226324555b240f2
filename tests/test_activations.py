"""Activations (explainers.feature_maps): channels ranked by Grad-CAM weight × mean activation, worked
out on paper for a tiny network whose weights are set by hand."""

import numpy as np
import pytest

import explainers
from explainers.errors import ParameterError

# the picture is pure red: after /255 every pixel is (1, 0, 0), so channel k of a 1×1 convolution
# without bias is KERNEL[0, k] everywhere, and its mean activation is that number
KERNEL = np.array([[1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0], [0, 0, 0, 0]], np.float32)
# through global average pooling of a 4×4 map, d(logit 0)/dA_k(i, j) = HEAD[k, 0] / 16: the Grad-CAM weights
HEAD = np.array([[4.0, 0], [-1.0, 0], [1.0, 0], [0.5, 0]], np.float32) * 16
MEANS = np.array([1.0, 2.0, 3.0, 4.0])
WEIGHTS = np.array([4.0, -1.0, 1.0, 0.5])  # contributions: 4, -2, 3, 2


@pytest.fixture(scope="module")
def hand_model():
    from explainers._tf import keras
    from explainers.labels import Labels
    from explainers.models import ExplainableModel

    inputs = keras.Input((4, 4, 3))
    features = keras.layers.Conv2D(4, 1, use_bias=False, name="features")(inputs)
    logits = keras.layers.Dense(2, use_bias=False, name="logits")(keras.layers.GlobalAveragePooling2D()(features))
    net = keras.Model(inputs, logits)
    net.get_layer("features").set_weights([KERNEL[None, None]])
    net.get_layer("logits").set_weights([HEAD])
    return ExplainableModel(
        net, "hand", labels=Labels.from_names(["red", "other"]), preprocess=lambda x: x / 255.0, title="hand"
    )


RED = np.zeros((4, 4, 3), np.uint8) + np.array([255, 0, 0], np.uint8)


def test_contribution_order_matches_the_hand_computation(hand_model):
    found = explainers.activations(hand_model, RED, "features", top=16, target=0)
    assert found.channels.tolist() == [0, 2, 3, 1]  # contributions 4, 3, 2, -2
    np.testing.assert_allclose(found.means, MEANS[[0, 2, 3, 1]], rtol=1e-5)
    np.testing.assert_allclose(found.weights, WEIGHTS[[0, 2, 3, 1]], rtol=1e-5)
    np.testing.assert_allclose(found.contributions, [4.0, 3.0, 2.0, -2.0], rtol=1e-5)
    assert found.maps.shape == (4, 4, 4)
    np.testing.assert_allclose(found.maps[1], np.full((4, 4), 3.0), rtol=1e-5)  # channel 2's map
    assert (found.target, found.label, found.count, found.pages) == (0, "red", 4, 1)


def test_activation_order_puts_the_most_active_first(hand_model):
    found = explainers.activations(hand_model, RED, "features", target=0, order="activation")
    assert found.channels.tolist() == [3, 2, 1, 0]
    np.testing.assert_allclose(found.means, [4.0, 3.0, 2.0, 1.0], rtol=1e-5)


def test_all_channels_come_in_pages_in_the_layers_order(hand_model):
    first = explainers.activations(hand_model, RED, "features", top=3, target=0, order="index")
    second = explainers.activations(hand_model, RED, "features", top=3, target=0, order="index", page=1)
    assert (first.channels.tolist(), second.channels.tolist()) == ([0, 1, 2], [3])
    assert first.pages == second.pages == 2 and second.page == 1
    past = explainers.activations(hand_model, RED, "features", top=3, target=0, order="index", page=9)
    assert past.page == 1 and past.channels.tolist() == [3]  # a page past the end shows the last one


@pytest.mark.parametrize("settings", [{"order": "loudest"}, {"top": 0}, {"top": 1000}, {"page": -1}, {"top": "many"}])
def test_bad_settings_are_refused_in_words(hand_model, settings):
    with pytest.raises(ParameterError, match="must"):
        explainers.activations(hand_model, RED, "features", **settings)
