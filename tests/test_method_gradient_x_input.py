"""Gradient × input on a linear model is weights × (preprocessed) input; it sums to the logit − bias."""

import numpy as np

from explainers import explain
from explainers.api import logits_of


def test_gradient_times_input_of_a_linear_model(linear_model, rng_image):
    image = rng_image(seed=1)
    kernel, bias = (w.numpy() for w in linear_model.keras.get_layer("logits").weights)
    x = image.astype(np.float32) / 255.0
    e = explain(linear_model, image, "gradient_x_input", target=2)
    np.testing.assert_allclose(e.attributions, kernel[:, 2].reshape(8, 8, 3) * x, rtol=1e-5, atol=1e-6)
    assert e.signed and e.heatmap.min() < 0 < e.heatmap.max()
    # for a linear model, the attributions add up to the logit without its bias (completeness)
    np.testing.assert_allclose(e.heatmap.sum(), logits_of(linear_model, image)[2] - bias[2], rtol=1e-4)
