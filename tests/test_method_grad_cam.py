"""Grad-CAM equals CAM up to scale on a GAP + dense network (Selvaraju et al. 2017, section 3.1)."""

import numpy as np

from explainers import explain


def test_grad_cam_equals_cam_up_to_scale(gap_model, rng_image):
    image = rng_image(seed=7)
    for target in range(4):
        cam = explain(gap_model, image, "cam", target=target, relu=False).heatmap
        grad_cam = explain(gap_model, image, "grad_cam", target=target, relu=False).heatmap
        # d(logit)/dA_k(i,j) = w_k / (h·w) at every position, so Grad-CAM's weights are CAM's / 64
        np.testing.assert_allclose(grad_cam * 64, cam, rtol=1e-4, atol=1e-5)


def test_grad_cam_on_an_identity_layer_of_a_linear_model(linear_model, rng_image):
    image = rng_image(seed=8)
    kernel = linear_model.keras.get_layer("logits").kernel.numpy()
    x = image.astype(np.float32) / 255.0
    e = explain(linear_model, image, "grad_cam", target=1, layer="pixels")
    alpha = kernel[:, 1].reshape(8, 8, 3).mean(axis=(0, 1))
    np.testing.assert_allclose(e.heatmap, np.maximum(x @ alpha, 0), rtol=1e-4, atol=1e-6)
    assert e.layer == "pixels" and e.attributions is None
