"""Expected gradients on a linear model: the average of (x − x′)·w over the sampled baselines."""

import numpy as np

from explainers import explain
from explainers.api import logits_of
from explainers.methods.expected_gradients import background_pictures, blurred_copies


def test_linear_model_expected_gradients_add_up(linear_model, rng_image):
    image = rng_image(seed=7)
    e = explain(linear_model, image, "expected_gradients", target=2, n_samples=40, seed=1)
    pool = [*background_pictures(8), *blurred_copies(image.astype(np.float32))]
    assert e.meta["background"] == len(pool) == 6  # the four example photos (at 8 × 8) and two blurs
    # for a linear model each sample's attributions add up exactly to f(x) − f(x′) (completeness), so
    # their average lies between the smallest and largest of those differences over the background
    f_x = logits_of(linear_model, image)[2]
    differences = [f_x - linear_model.keras(linear_model.preprocess(b[None])).numpy()[0, 2] for b in pool]
    assert min(differences) - 1e-3 <= e.attributions.sum() <= max(differences) + 1e-3
    assert not np.isclose(min(differences), max(differences))


def test_same_seed_same_map(relu_model, rng_image):
    image = rng_image(seed=8)
    runs = [explain(relu_model, image, "expected_gradients", n_samples=8, seed=s).heatmap for s in (3, 3, 4)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
