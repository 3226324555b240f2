"""Integrated gradients: exact completeness on a linear model, quadrature rules that integrate what
they should, and on the real architectures (random weights) ≤ 5 % completeness error at the default
step count, shrinking as steps grow."""
from pathlib import Path

import numpy as np
import pytest

from explainers import explain
from explainers.images import decode
from explainers.methods.integrated_gradients import BASELINES, QUADRATURES, baseline_pictures, quadrature

CAT = Path(__file__).resolve().parent.parent / "assets" / "examples" / "chelsea.jpg"


@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize("rule", QUADRATURES)
def test_linear_model_completeness_is_exact(linear_model, rng_image, baseline, rule):
    image = rng_image(seed=12)
    e = explain(linear_model, image, "integrated_gradients", target=0, steps=3, baseline=baseline, quadrature=rule)
    assert e.meta["completeness_error"] < 1e-4 and e.signed
    if baseline == "black":  # x′ = 0, so the attributions are x · w (the gradient is w everywhere)
        w = linear_model.keras.get_layer("logits").kernel.numpy()[:, 0].reshape(8, 8, 3)
        np.testing.assert_allclose(e.attributions, image / 255.0 * w, rtol=1e-4, atol=1e-6)


def test_quadrature_rules():
    for rule in QUADRATURES:
        nodes, weights = quadrature(rule, 7)
        assert len(nodes) == 7 and abs(weights.sum() - 1) < 1e-12 and nodes.min() >= 0 and nodes.max() <= 1
    nodes, weights = quadrature("gauss_legendre", 4)  # exact for polynomials up to degree 7
    assert abs(weights @ nodes**7 - 1 / 8) < 1e-12
    nodes, weights = quadrature("riemann_left", 4)
    assert abs(weights @ nodes - 1 / 2) > 0.1  # the left sum is biased on a slope; that is why it is not the default


def test_baselines_are_what_their_names_say():
    picture = np.random.default_rng(0).integers(0, 256, (20, 30, 3)).astype(np.uint8)
    assert baseline_pictures(picture, "black", 0)[0].max() == 0
    assert baseline_pictures(picture, "white", 0)[0].min() == 255
    assert baseline_pictures(picture, "blur", 0)[0].std() < picture.std()
    assert len(baseline_pictures(picture, "average", 0)) == 4


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg16", "resnet50", "inception_v3"])
def test_completeness_on_the_real_architectures(name, registry_models):
    model = registry_models(name)
    cat = decode(CAT.read_bytes())
    default = explain(model, cat, "integrated_gradients", target=281)
    assert default.params["steps"] == 32 and default.params["quadrature"] == "gauss_legendre"
    assert default.meta["completeness_error"] <= 0.05, default.meta
    few = explain(model, cat, "integrated_gradients", target=281, steps=8).meta["completeness_error"]
    many = explain(model, cat, "integrated_gradients", target=281, steps=64).meta["completeness_error"]
    assert many < few / 3  # and it keeps falling as steps grow
