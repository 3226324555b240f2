"""Occlusion puts the map's mass where the logit's inputs are, and follows its settings."""

import numpy as np

from conftest import mass_inside_region
from explainers import explain
from explainers.api import logits_of
from explainers.methods.occlusion import positions


def test_occlusion_finds_the_region(region_model, region_picture):
    e = explain(region_model, region_picture, "occlusion", target=0, patch=2, stride=2)
    assert mass_inside_region(e.heatmap) > 0.75 and e.meta["patches"] == 64  # the region is 14 % of the area
    far = e.heatmap[12:, 12:]
    assert np.allclose(far, 0, atol=1e-6)  # covering pixels the logit ignores changes nothing


def test_occlusion_drop_is_the_score_difference(linear_model, rng_image):
    """One patch covering the whole picture: the map is f(x) − f(grey picture) everywhere."""
    image = rng_image(seed=3)
    e = explain(linear_model, image, "occlusion", target=1, patch=8, stride=8, fill="grey")
    grey = np.full_like(image, 127)
    expected = logits_of(linear_model, image)[1] - logits_of(linear_model, grey)[1]
    np.testing.assert_allclose(e.heatmap, expected, rtol=2e-2)  # grey 127.5 vs 127 rounds a little


def test_patch_positions_cover_the_border():
    assert positions(224, 32, 32) == [0, 32, 64, 96, 128, 160, 192]
    assert positions(10, 4, 4) == [0, 4, 6]
