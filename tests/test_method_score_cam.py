"""Score-CAM weights the channel that shows the region; the fast variant keeps the strongest channels."""

import numpy as np

from conftest import mass_inside_region
from explainers import explain


def test_score_cam_finds_the_region(region_model, region_picture):
    e = explain(region_model, region_picture, "score_cam", target=0, layer="features")
    assert mass_inside_region(e.heatmap) > 0.9 and e.meta["channels"] == 2


def test_fast_variant_with_all_channels_equals_score_cam(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=6)
    full = explain(tiny_cnn, image, "score_cam", layer="conv2")
    fast = explain(tiny_cnn, image, "score_cam_fast", layer="conv2", top_k=8)
    np.testing.assert_allclose(fast.heatmap, full.heatmap, rtol=1e-4, atol=1e-7)
    assert explain(tiny_cnn, image, "score_cam_fast", layer="conv2", top_k=2).meta["channels"] == 2
