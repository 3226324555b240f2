"""Layer-CAM weights each position by its own positive gradient: ReLU(Σₖ ReLU(gₖ)·Aₖ)."""

import numpy as np

from explainers import explain


def test_layer_cam_on_a_linear_model(linear_model, rng_image):
    image = rng_image(seed=10)
    kernel = linear_model.keras.get_layer("logits").kernel.numpy()
    x = image.astype(np.float32) / 255.0
    g = kernel[:, 0].reshape(8, 8, 3)  # per-position gradient at the identity layer
    e = explain(linear_model, image, "layer_cam", target=0, layer="pixels")
    np.testing.assert_allclose(e.heatmap, np.maximum((np.maximum(g, 0) * x).sum(-1), 0), rtol=1e-4, atol=1e-6)
    grad_cam = explain(linear_model, image, "grad_cam", target=0, layer="pixels").heatmap
    assert not np.allclose(e.heatmap, grad_cam)
