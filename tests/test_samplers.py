"""The samplers: antithetic noise pairs cancel exactly; quasi-random points and masks repeat with a seed,
differ with another, and spread more evenly than independent draws."""

import numpy as np
import pytest

from explainers.methods.rise import random_masks
from explainers.samplers import gaussian_noise, uniform_points


def test_antithetic_pairs_sum_to_zero_and_plain_is_the_old_draw():
    noise = gaussian_noise(np.random.default_rng(0), 9, (4, 5, 3), "antithetic")
    assert noise.shape == (9, 4, 5, 3) and noise.dtype == np.float32
    np.testing.assert_array_equal(noise[0::2][:4] + noise[1::2], 0.0)  # every pair: ε and −ε
    assert not np.allclose(noise[0], noise[2])  # the pairs themselves differ
    plain = gaussian_noise(np.random.default_rng(0), 9, (4, 5, 3), "plain")
    np.testing.assert_array_equal(plain, np.random.default_rng(0).standard_normal((9, 4, 5, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="unknown noise sampler"):
        gaussian_noise(np.random.default_rng(0), 2, (1,), "sobol")


@pytest.mark.parametrize("sampler", ["plain", "sobol"])
def test_points_repeat_with_a_seed_and_differ_with_another(sampler):
    first, again, other = (uniform_points(100, 7, sampler, seed) for seed in (3, 3, 4))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert first.shape == (100, 7) and 0 <= first.min() and first.max() < 1


def test_sobol_points_cover_the_cube_more_evenly_than_independent_ones():
    """Of 256 points, each of the 16 bins of a coordinate should hold 16: Sobol holds exactly that."""
    for seed in range(3):
        sobol = uniform_points(256, 10, "sobol", seed)
        counts = np.stack([np.bincount((sobol[:, d] * 16).astype(int), minlength=16) for d in range(10)])
        np.testing.assert_array_equal(counts, 16)
    plain = uniform_points(256, 10, "plain", 0)
    assert any(np.bincount((plain[:, d] * 16).astype(int), minlength=16).std() > 1 for d in range(10))


def test_quasi_random_masks_repeat_with_a_seed_and_differ_with_another():
    first, again, other = (random_masks(32, (24, 24), cells=4, keep=0.5, seed=s, sampler="sobol") for s in (1, 1, 2))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert 0.0 <= first.min() and first.max() <= 1.0 and abs(first.mean() - 0.5) < 0.1


@pytest.mark.parametrize(
    "name, sampler",
    [("rise", "sobol"), ("lime", "sobol"), ("expected_gradients", "stratified"), ("smoothgrad", "antithetic")],
)
def test_the_better_samplers_are_repeatable_through_the_api(name, sampler, relu_model, rng_image):
    from explainers import explain

    image = rng_image(seed=6)
    noise = {"noise": 1.0} if name == "smoothgrad" else {}  # small noise leaves this model's ReLUs as they are
    maps = [explain(relu_model, image, name, target=0, sampler=sampler, seed=s, **noise).heatmap for s in (5, 5, 6)]
    np.testing.assert_array_equal(maps[0], maps[1])
    assert not np.array_equal(maps[0], maps[2])
