"""SmoothGrad and siblings: on a linear model the gradient is the same at every noisy copy."""

import numpy as np
import pytest

from explainers import explain


def test_on_a_linear_model_noise_changes_nothing(linear_model, rng_image):
    image = rng_image(seed=2)
    w = linear_model.keras.get_layer("logits").kernel.numpy()[:, 1].reshape(8, 8, 3)
    smooth = explain(linear_model, image, "smoothgrad", target=1, n_samples=8, noise=0.3)
    np.testing.assert_allclose(smooth.attributions, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(smooth.heatmap, np.abs(w).max(-1), rtol=1e-5, atol=1e-6)
    square = explain(linear_model, image, "squaregrad", target=1, n_samples=8, noise=0.3)
    np.testing.assert_allclose(square.heatmap, (w**2).sum(-1), rtol=1e-4, atol=1e-7)
    var = explain(linear_model, image, "vargrad", target=1, n_samples=8, noise=0.3)
    assert np.abs(var.heatmap).max() < 1e-9


def test_noise_matters_on_a_relu_network_and_the_seed_repeats_it(relu_model, rng_image):
    image = rng_image(seed=4)
    plain = explain(relu_model, image, "vanilla_gradient", target=0).attributions
    no_noise = explain(relu_model, image, "smoothgrad", target=0, noise=0.0, n_samples=4).attributions
    np.testing.assert_allclose(no_noise, plain, rtol=1e-5, atol=1e-7)
    noisy = [
        explain(relu_model, image, "smoothgrad", target=0, noise=0.5, n_samples=16, seed=s).attributions
        for s in (1, 1, 2)
    ]
    np.testing.assert_array_equal(noisy[0], noisy[1])
    assert not np.allclose(noisy[0], plain) and not np.array_equal(noisy[0], noisy[2])
    assert explain(relu_model, image, "vargrad", noise=0.5, n_samples=16).heatmap.max() > 0


def test_any_gradient_method_can_be_smoothed(relu_model, rng_image):
    image = rng_image(seed=5)
    guided = explain(relu_model, image, "guided_backprop", target=1).attributions
    smoothed = explain(relu_model, image, "smoothgrad", target=1, base="guided_backprop", noise=0.0, n_samples=2)
    np.testing.assert_allclose(smoothed.attributions, guided, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="must be one of"):
        explain(relu_model, image, "smoothgrad", base="cam")


def test_a_million_samples_are_capped(linear_model, rng_image):
    e = explain(linear_model, rng_image(), "smoothgrad", n_samples=1_000_000, noise=0.0)
    assert e.params["n_samples"] == 256 and "largest allowed is 256" in e.meta["notes"][0]
