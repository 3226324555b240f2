"""LIME's surrogate gives the region's superpixels the weight; same seed, same map."""

import numpy as np

from conftest import mass_inside_region
from explainers import explain
from explainers.methods.lime import weighted_ridge


def test_lime_finds_the_region(region_model, region_picture):
    e = explain(region_model, region_picture, "lime", target=0, n_samples=300, segments=64)
    assert mass_inside_region(e.heatmap) > 0.75 and e.meta["r2"] > 0.5


def test_lime_is_repeatable_with_a_seed(region_model, region_picture):
    runs = [explain(region_model, region_picture, "lime", n_samples=64, seed=s).heatmap for s in (1, 1, 2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_tiny_pictures_get_a_grid_of_patches():
    from explainers.methods.lime import superpixels

    labels = superpixels(np.zeros((16, 16, 3), np.uint8), 16)
    assert labels.max() + 1 == 16 and (labels[:4, :4] == labels[0, 0]).all()


def test_weighted_ridge_recovers_a_linear_rule():
    rng = np.random.default_rng(0)
    features = rng.integers(0, 2, (400, 5)).astype(float)
    targets = features @ np.array([2.0, -1.0, 0.0, 0.5, 3.0]) + 0.7
    coefficients, intercept, r2 = weighted_ridge(features, targets, rng.random(400) + 0.1, alpha=1e-6)
    np.testing.assert_allclose(coefficients, [2.0, -1.0, 0.0, 0.5, 3.0], atol=1e-4)
    assert abs(intercept - 0.7) < 1e-4 and r2 > 0.9999
