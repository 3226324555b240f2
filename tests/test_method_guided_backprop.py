"""Guided backpropagation differs from the plain gradient exactly as its definition says, and never
changes the shared model."""

import numpy as np

from explainers import explain, load_model
from explainers._tf import keras


def _hidden_pre_activation(model, image):
    kernel, bias = (w.numpy() for w in model.keras.get_layer("hidden").weights)
    return image.astype(np.float32).reshape(-1) / 255.0 @ kernel + bias, kernel


def test_guided_gradient_on_a_relu_network(relu_model, rng_image):
    image = rng_image(seed=2)
    pre, w1 = _hidden_pre_activation(relu_model, image)
    w2 = relu_model.keras.get_layer("logits").kernel.numpy()
    on = (pre > 0).astype(np.float32)
    assert 0 < on.sum() < len(on), "the fixture must have hidden units both on and off"
    for target in range(2):
        upstream = w2[:, target]
        vanilla = explain(relu_model, image, "vanilla_gradient", target=target).attributions.reshape(-1)
        guided = explain(relu_model, image, "guided_backprop", target=target).attributions.reshape(-1)
        np.testing.assert_allclose(vanilla, w1 @ (upstream * on), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(guided, w1 @ (np.maximum(upstream, 0) * on), rtol=1e-4, atol=1e-6)
        assert not np.allclose(guided, vanilla)


def test_guided_methods_leave_the_model_unchanged(rng_image):
    """Run the guided passes first, then vanilla; compare with a twin model that never saw them."""
    image = rng_image(32, 32, seed=3)
    twin_a = load_model("resnet50", weights=None, seed=7, cache=False)
    twin_b = load_model("resnet50", weights=None, seed=7, cache=False)
    explain(twin_a, image, "guided_backprop")
    explain(twin_a, image, "deconvnet")
    explain(twin_a, image, "guided_grad_cam")
    after = explain(twin_a, image, "vanilla_gradient", target=3).attributions
    untouched = explain(twin_b, image, "vanilla_gradient", target=3).attributions
    np.testing.assert_allclose(after, untouched, rtol=1e-4, atol=1e-9)
    relus = [layer for layer in twin_a.keras.layers if getattr(layer, "activation", None) is keras.activations.relu]
    assert len(relus) > 40  # every ReLU got its own activation back
