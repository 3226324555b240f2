"""Vanilla gradient on a linear model is the model's weights (Simonyan et al. 2013)."""

import numpy as np

from explainers import explain
from explainers.api import logits_of


def test_gradient_of_a_linear_model_is_its_weights(linear_model, rng_image):
    image = rng_image()
    kernel = linear_model.keras.get_layer("logits").kernel.numpy()
    for target in range(3):
        e = explain(linear_model, image, "vanilla_gradient", target=target)
        expected = kernel[:, target].reshape(8, 8, 3)
        np.testing.assert_allclose(e.attributions, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(e.heatmap, np.abs(expected).max(axis=-1), rtol=1e-5, atol=1e-6)
        assert e.target == target and e.layer is None


def test_default_target_is_the_top_prediction(linear_model, rng_image):
    image = rng_image(seed=5)
    logits = logits_of(linear_model, image)
    e = explain(linear_model, image, "vanilla_gradient")
    assert e.target == int(np.argmax(logits))
    assert e.predictions[0][0] == e.target
