"""Guided Grad-CAM is guided backprop times the upsampled Grad-CAM map."""

import numpy as np

from explainers import explain
from explainers.methods.base import upsample


def test_guided_grad_cam_is_the_product(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=11)
    guided = explain(tiny_cnn, image, "guided_backprop", target=1).attributions
    grad_cam = explain(tiny_cnn, image, "grad_cam", target=1, layer="conv2")
    product = explain(tiny_cnn, image, "guided_grad_cam", target=1, layer="conv2")
    assert grad_cam.meta["layer_resolution"] == [8, 8]
    coarse = upsample(_layer_map(tiny_cnn, image), 16)[0]
    np.testing.assert_allclose(product.attributions, guided * coarse[..., None], rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(product.heatmap, np.abs(product.attributions).max(-1), rtol=1e-6)


def _layer_map(model, image):
    from explainers.methods.grad_cam import GradCam
    from explainers.passes import Passes

    passes = Passes(model, model.preprocess(image[None]), np.array([1], np.int32))
    return GradCam().compute(passes, "conv2").heatmap
