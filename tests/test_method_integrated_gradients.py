"""Integrated gradients: exact completeness on a linear model, quadrature rules that integrate what
they should, and on the real architectures (random weights) ≤ 5 % completeness error at the default
step count, shrinking as steps grow."""

import math
from pathlib import Path

import numpy as np
import pytest

from explainers import explain
from explainers.engine import engine_for
from explainers.images import decode
from explainers.methods.integrated_gradients import BASELINES, QUADRATURES, baseline_pictures
from explainers.models import ExplainableModel
from explainers.ops import NestedPath, quadrature
from explainers.passes import LogitsMemo

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


def test_gauss_lobatto_is_the_textbook_rule():
    """Four points on [−1, 1]: ±1 and ±1/√5 with weights 1/6 and 5/6; n points integrate every polynomial
    of degree ≤ 2n − 3 exactly (on [0, 1], where ∫ αᵏ = 1/(k + 1)) and not t²ⁿ⁻² (on [−1, 1])."""
    from explainers.ops import gauss_lobatto

    nodes, weights = gauss_lobatto(4)
    np.testing.assert_allclose(nodes, [-1, -1 / np.sqrt(5), 1 / np.sqrt(5), 1], atol=1e-15)
    np.testing.assert_allclose(weights, [1 / 6, 5 / 6, 5 / 6, 1 / 6], atol=1e-15)
    for points in (2, 4, 16, 300):
        nodes, weights = quadrature("gauss_lobatto", points)
        assert nodes[0] == 0 and nodes[-1] == 1  # the path's ends are among the nodes
        for degree in range(0, 2 * points - 2):
            assert abs(weights @ nodes**degree - 1 / (degree + 1)) < 1e-12, (points, degree)
        if points <= 16:  # (for hundreds of points the miss is below rounding)
            symmetric, even = gauss_lobatto(points)
            assert abs(even @ symmetric ** (2 * points - 2) - 2 / (2 * points - 1)) > 1e-10
    assert quadrature("gauss_lobatto", 1) == (np.array([0.5]), np.array([1.0]))


def _recording(model, monkeypatch):
    calls = []
    original = engine_for(model).run

    def run(key, inputs, targets, batched=False):
        calls.append((batched, len(inputs)))
        return original(key, inputs, targets, batched=batched)

    monkeypatch.setattr(engine_for(model), "run", run)
    return calls


def test_end_point_rules_take_both_scores_and_the_predictions_from_the_path(linear_model, rng_image, monkeypatch):
    """With nodes at α = 0 and 1, the path's own passes give f(x′), f(x) and the top-5: no other pass."""
    image = rng_image(seed=5)
    calls = _recording(linear_model, monkeypatch)
    e = explain(linear_model, image, "integrated_gradients", target=1, steps=5, quadrature="gauss_lobatto")
    assert calls == [(True, 5)]
    assert e.meta["completeness_error"] < 1e-4
    logits = engine_for(linear_model).forward(linear_model.preprocess(linear_model.prepare(image)[None]))[0]
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert [p[0] for p in e.predictions] == list(np.argsort(-logits))
    np.testing.assert_allclose([p[2] for p in e.predictions], np.sort(probabilities)[::-1], rtol=1e-5)
    assert (
        abs(
            e.meta["score_difference"]
            - (
                logits[1]
                - engine_for(linear_model).forward(linear_model.preprocess(np.zeros((1, 8, 8, 3), np.float32)))[0, 1]
            )
        )
        < 1e-4
    )

    calls.clear()  # Gauss–Legendre has no end nodes: the picture and the baseline need passes of their own
    monkeypatch.setattr(linear_model, "logits_memo", LogitsMemo())  # neither the black baseline nor the photo seen
    legendre = explain(linear_model, image, "integrated_gradients", target=1, steps=5, quadrature="gauss_legendre")
    assert sorted(calls) == [(False, 1), (True, 1), (True, 5)]
    assert legendre.predictions == e.predictions or np.allclose(
        [p[2] for p in legendre.predictions], [p[2] for p in e.predictions], rtol=1e-5
    )

    calls.clear()  # the same photo again (as after the upload's pass): f(x) and f(x′) are both recalled
    again = explain(linear_model, image, "integrated_gradients", target=1, steps=5, quadrature="gauss_legendre")
    assert calls == [(True, 5)]
    assert again.meta["score_difference"] == legendre.meta["score_difference"]
    assert again.predictions == legendre.predictions

    calls.clear()  # the black baseline is the same for every photo: its forward pass ran once for the model
    other = explain(
        linear_model, rng_image(seed=6), "integrated_gradients", target=1, steps=5, quadrature="gauss_legendre"
    )
    assert sorted(calls) == [(False, 1), (True, 5)]
    fresh = ExplainableModel(
        linear_model.keras, "no memo", labels=linear_model.labels, preprocess=linear_model.preprocess, memo_logits=False
    )
    alone = explain(fresh, rng_image(seed=6), "integrated_gradients", target=1, steps=5, quadrature="gauss_legendre")
    assert other.meta["score_difference"] == pytest.approx(alone.meta["score_difference"], rel=1e-5, abs=1e-6)
    assert other.meta["completeness_error"] < 1e-4

    calls.clear()  # "top-1" of a new photo must be known before the path: that one forward pass stays
    new = rng_image(seed=8)
    top = explain(linear_model, new, "integrated_gradients", steps=5, quadrature="gauss_lobatto")
    assert calls == [(False, 1), (True, 5)]
    assert top.target == int(
        np.argmax(engine_for(linear_model).forward(linear_model.preprocess(linear_model.prepare(new)[None]))[0])
    )
    calls.clear()  # of a photo seen before, the memo tells
    top = explain(linear_model, image, "integrated_gradients", steps=5, quadrature="gauss_lobatto")
    assert calls == [(True, 5)] and top.target == int(np.argmax(logits))


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


def test_nested_path_reuses_every_node_and_converges_on_known_integrals():
    """∫₀¹ of 1 + α is 1.5 exactly at every level; ∫₀¹ e^{3α} = (e³ − 1) / 3 gets closer as nodes double."""
    line, curve, seen = NestedPath(), NestedPath(), set()
    errors = []
    for level in range(2, 8):
        nodes = line.next_nodes()
        assert not seen & set(nodes.tolist()) and len(seen) + len(nodes) == 2**level - 1  # only new nodes
        seen |= set(nodes.tolist())
        line.add((1 + nodes)[:, None])
        curve.add(np.exp(3 * curve.next_nodes())[:, None])
        assert line.mean()[0] == pytest.approx(1.5, abs=1e-12) and line.evaluations == 2**level - 1
        errors.append(abs(curve.mean()[0] - (np.exp(3) - 1) / 3))
    assert all(b < a / 3 for a, b in zip(errors, errors[1:])) and errors[-1] < 1e-3


def test_adaptive_steps_stop_early_when_the_parts_add_up(linear_model, rng_image):
    """A linear model's path gradient is constant: complete and stable at the fewest levels (7, 15)."""
    e = explain(linear_model, rng_image(seed=1), "integrated_gradients", target=0, until="stable", steps=256)
    assert e.meta["steps"] == 15 and e.meta["completeness_error"] < 1e-4 and e.meta["budget_reached"] is False
    assert any(note.startswith("Completeness error") for note in e.meta["notes"])
    # two agreeing levels in a row need 31 steps: with 20 it stops at 15, as 31 would pass the budget
    capped = explain(linear_model, rng_image(seed=1), "integrated_gradients", until="stable", steps=20, patience=2)
    assert capped.meta["steps"] == 15 and capped.meta["budget_reached"] is True
    tiny = explain(linear_model, rng_image(seed=1), "integrated_gradients", until="stable", steps=4).meta
    assert tiny["steps"] == 4 and tiny["budget_reached"] is True  # too few for a level: the fixed rule


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg16", "resnet50", "inception_v3"])
def test_adaptive_steps_meet_one_percent_or_say_the_budget_was_reached(name, registry_models):
    model = registry_models(name)
    side = model.input_size
    picture = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    meta = explain(model, picture, "integrated_gradients", until="stable", steps=63).meta
    assert meta["steps"] <= 63 and math.isfinite(meta["completeness_error"])
    assert meta["completeness_error"] <= 0.01 or meta["budget_reached"], meta
    assert any(f"{100 * meta['completeness_error']:.2f} %" in note for note in meta["notes"])
