"""RISE puts most of its mass on the region the class depends on; same seed, same map."""

import numpy as np

from conftest import REGION, mass_inside_region
from explainers import explain
from explainers.methods.rise import random_masks


def test_rise_finds_the_region(region_model, region_picture):
    e = explain(region_model, region_picture, "rise", target=0, n_masks=2000, cells=4)
    # a RISE map sits on a floor (the class's average probability under masks): measure what rises above it
    assert mass_inside_region(e.heatmap - e.heatmap.mean()) > 0.5  # the region is 14 % of the picture
    outside = np.ones((16, 16), bool)
    outside[REGION] = False
    assert e.heatmap[REGION].min() > np.percentile(e.heatmap[outside], 75)


def test_rise_is_repeatable_with_a_seed(region_model, region_picture):
    first = explain(region_model, region_picture, "rise", n_masks=64, seed=3).heatmap
    again = explain(region_model, region_picture, "rise", n_masks=64, seed=3).heatmap
    other = explain(region_model, region_picture, "rise", n_masks=64, seed=4).heatmap
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_masks_are_smooth_and_keep_about_the_asked_fraction():
    masks = random_masks(200, (32, 32), cells=4, keep=0.3, seed=0)
    assert masks.shape == (200, 32, 32) and 0 <= masks.min() and masks.max() <= 1
    assert abs(masks.mean() - 0.3) < 0.05
