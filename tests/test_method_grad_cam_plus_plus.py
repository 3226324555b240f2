"""Grad-CAM++ on a GAP + dense network, where every gradient of channel k is the constant w_k / (h·w)."""

import numpy as np

from explainers import explain
from test_method_cam import _features


def test_grad_cam_plus_plus_closed_form(gap_model, rng_image):
    image = rng_image(seed=9)
    features = _features(gap_model, image).astype(np.float64)
    kernel = gap_model.keras.get_layer("logits").kernel.numpy().astype(np.float64)
    target = 2
    g = kernel[:, target] / 64.0  # the gradient, equal at all 64 positions
    total = features.sum(axis=(0, 1))
    alpha = g**2 / (2 * g**2 + total * g**3)  # Chattopadhay et al. eq. 19 with a constant gradient
    weights = 64 * alpha * np.maximum(g, 0)
    expected = np.maximum(features @ weights, 0)
    e = explain(gap_model, image, "grad_cam_plus_plus", target=target)
    np.testing.assert_allclose(e.heatmap, expected, rtol=1e-3, atol=1e-6)
    assert expected.max() > 0
