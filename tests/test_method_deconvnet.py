"""DeconvNet passes the positive part of the backward signal, ignoring the forward ReLU mask."""

import numpy as np

from explainers import explain


def test_deconvnet_on_a_relu_network(relu_model, rng_image):
    image = rng_image(seed=4)
    w1 = relu_model.keras.get_layer("hidden").kernel.numpy()
    w2 = relu_model.keras.get_layer("logits").kernel.numpy()
    for target in range(2):
        deconv = explain(relu_model, image, "deconvnet", target=target).attributions.reshape(-1)
        guided = explain(relu_model, image, "guided_backprop", target=target).attributions.reshape(-1)
        np.testing.assert_allclose(deconv, w1 @ np.maximum(w2[:, target], 0), rtol=1e-4, atol=1e-6)
        assert not np.allclose(deconv, guided)  # some positive-weight units are off in the forward pass
