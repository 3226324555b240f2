"""CAM is Σₖ wₖ·Aₖ with the dense weights of the class; it refuses networks without a GAP head."""

import numpy as np
import pytest

from explainers import NotApplicableError, explain


def _features(model, image):
    from explainers._tf import keras

    probe = keras.Model(model.keras.inputs, model.keras.get_layer("features").output)
    return probe(model.preprocess(image[None]))[0].numpy()


def test_cam_is_the_dense_weighted_sum_of_the_last_feature_maps(gap_model, rng_image):
    image = rng_image(seed=6)
    features = _features(gap_model, image)
    kernel = gap_model.keras.get_layer("logits").kernel.numpy()
    for target in range(4):
        e = explain(gap_model, image, "cam", target=target, relu=False)
        np.testing.assert_allclose(e.heatmap, features @ kernel[:, target], rtol=1e-4, atol=1e-5)
        assert e.layer == "features"
        relu = explain(gap_model, image, "cam", target=target)
        np.testing.assert_allclose(relu.heatmap, np.maximum(features @ kernel[:, target], 0), rtol=1e-4, atol=1e-5)


def test_cam_refuses_a_model_without_global_average_pooling(linear_model, rng_image):
    with pytest.raises(NotApplicableError, match="global average pooling"):
        explain(linear_model, rng_image(), "cam")
