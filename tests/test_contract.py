"""Every registered method through the same checks, on a tiny CNN (fast) — a new method file is
picked up here without touching this test."""

import numpy as np
import pytest

from explainers import METHODS, NotApplicableError, ParameterError, explain
from explainers.methods import get_method
from explainers.methods.base import MultiPassMethod
from explainers.passes import Passes

NAMES = list(METHODS)


def test_registry_lists_the_one_pass_methods():
    expected = {
        "vanilla_gradient",
        "gradient_x_input",
        "guided_backprop",
        "deconvnet",
        "cam",
        "grad_cam",
        "grad_cam_plus_plus",
        "layer_cam",
        "guided_grad_cam",
    }
    assert expected <= set(NAMES)
    for cls in METHODS.values():
        assert cls.title and cls.description.endswith(".") and cls.paper
        assert cls.description.count(".") == 1, f"{cls.name}: one plain sentence"


@pytest.mark.parametrize("name", NAMES)
def test_shapes_dtype_and_finiteness(name, tiny_cnn, rng_image):
    e = explain(tiny_cnn, rng_image(40, 24, seed=1), name, target=3)
    assert e.heatmap.shape == (16, 16) and e.heatmap.dtype == np.float32
    assert np.isfinite(e.heatmap).all() and np.abs(e.heatmap).max() > 0
    assert e.target == 3 and e.label == "class 3" and e.method == name
    if e.attributions is not None:
        assert e.attributions.shape == (16, 16, 3) and e.attributions.dtype == np.float32
    if not METHODS[name].signed:
        assert e.heatmap.min() >= 0


@pytest.mark.parametrize("name", NAMES)
def test_batch_of_two_gives_each_image_its_own_map(name, tiny_cnn, rng_image):
    """Computing a batch must give the same maps as computing each image alone."""
    images = np.stack([tiny_cnn.prepare(rng_image(16, 16, seed=s)) for s in (2, 3)])
    inputs = tiny_cnn.preprocess(images)
    method = get_method(name)()
    batch = method.compute(Passes(tiny_cnn, inputs, np.array([1, 4], np.int32), pictures=images), "conv1").heatmap
    for i, target in enumerate((1, 4)):
        single = method.compute(
            Passes(tiny_cnn, inputs[i : i + 1], np.array([target], np.int32), pictures=images[i : i + 1]), "conv1"
        ).heatmap
        np.testing.assert_allclose(batch[i], single[0], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_setting_is_refused_in_plain_words(name, tiny_cnn, rng_image):
    with pytest.raises(ParameterError, match="has no setting 'bogus'"):
        explain(tiny_cnn, rng_image(16, 16), name, bogus=1)


@pytest.mark.parametrize("name", [n for n in NAMES if METHODS[n].uses_layer])
def test_layer_methods_follow_the_picked_layer(name, tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=5)
    early = explain(tiny_cnn, image, name, layer="conv1")
    late = explain(tiny_cnn, image, name, layer="conv2")
    assert early.layer == "conv1" and late.layer == "conv2"
    assert not np.allclose(early.heatmap, late.heatmap)


def test_cam_is_the_only_method_that_needs_a_gap_head(linear_model, rng_image):
    for name in NAMES:
        if name == "cam":
            with pytest.raises(NotApplicableError):
                explain(linear_model, rng_image(), name, layer="pixels")
        else:
            assert explain(linear_model, rng_image(), name, layer="pixels").heatmap.shape == (8, 8)


def test_settings_are_capped_on_the_server_and_say_so():
    from explainers.methods.base import Param

    notes: list[str] = []
    samples = Param(16, "how many noisy copies", minimum=1, maximum=256)
    assert samples.clean("n_samples", 1_000_000, notes) == 256
    assert samples.clean("n_samples", "0", notes) == 1
    assert notes == [
        "n_samples was 1000000; the largest allowed is 256, so that was used.",
        "n_samples was 0; the smallest allowed is 1, so that was used.",
    ]
    for bad in ("many", float("nan"), 2.5, None):
        with pytest.raises(ParameterError, match="must be a int"):
            samples.clean("n_samples", bad, notes)


@pytest.mark.parametrize("name", NAMES)
def test_every_method_has_a_complete_card(name):
    """Each method writes its own plain-language card (an inherited one would describe another method)."""
    from explainers.methods.base import MethodCard

    cls = METHODS[name]
    card = vars(cls).get("card")
    assert isinstance(card, MethodCard), f"{name}: give the class a `card = MethodCard(...)`"
    for field in ("computes", "colours", "paper_url", "good_for"):
        value = getattr(card, field)
        assert isinstance(value, str) and value.strip(), f"{name}: card.{field} is empty"
    assert card.paper_url.startswith("https://") and " " not in card.paper_url
    assert isinstance(card.pitfalls, tuple) and card.pitfalls, f"{name}: at least one pitfall"
    assert all(isinstance(p, str) and p.strip() for p in card.pitfalls)
    assert len(card.computes) <= 400 and len(card.good_for) <= 200, f"{name}: keep the card short"
    assert all(len(p) <= 200 for p in card.pitfalls), f"{name}: one short sentence per pitfall"
    colours = card.colours.lower()
    if cls.signed:
        assert "against" in colours or "negative" in colours, f"{name}: say what the negative values mean"
    else:
        assert "unsigned" in colours, f"{name}: say that the map shows no for/against"


@pytest.mark.parametrize("name", NAMES)
def test_a_method_that_shows_partial_maps_ends_on_its_final_map(name, tiny_cnn, rng_image):
    """Previews are running averages: the last one must be the map itself (nothing lost, nothing extra)."""
    previews: list = []
    e = explain(tiny_cnn, rng_image(16, 16, seed=7), name, target=2, preview=previews.append)
    if previews:
        assert all(p.shape == e.heatmap.shape for p in previews)
        np.testing.assert_allclose(previews[-1], e.heatmap, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "name, settings",
    [
        ("smoothgrad", {"n_samples": 40}),
        ("vargrad", {"n_samples": 40}),
        ("integrated_gradients", {"steps": 40}),
        ("rise", {"n_masks": 40}),
        ("occlusion", {"patch": 4, "stride": 2}),
    ],
)
def test_long_methods_show_a_partial_map_after_each_chunk(name, settings, tiny_cnn, rng_image):
    previews: list = []
    explain(tiny_cnn, rng_image(16, 16, seed=8), name, target=1, preview=previews.append, **settings)
    assert len(previews) >= 3  # 40+ samples in chunks of 16
    if name != "integrated_gradients":  # a tiny model's gradient barely changes along the path: IG's first
        assert not np.allclose(previews[0], previews[-1])  # preview is already right; the others sharpen


def test_methods_share_numerics_through_ops_not_through_each_other():
    """A helper two methods use belongs to neither (``explainers.ops``); a method imports another
    method's module only to compose it (guided Grad-CAM multiplies by Grad-CAM's map)."""
    import ast
    from pathlib import Path

    import explainers.methods

    composed = {("guided_grad_cam", "grad_cam")}
    for path in Path(explainers.methods.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("explainers.methods."):
                other = node.module.rsplit(".", 1)[1]
                assert other == "base" or (path.stem, other) in composed, f"{path.stem} imports from {other}"


LONG = [name for name, cls in METHODS.items() if issubclass(cls, MultiPassMethod) or cls.efforts]


def test_every_multi_pass_method_offers_efforts():
    assert {"smoothgrad", "integrated_gradients", "occlusion", "rise", "lime", "xrai"} <= set(LONG)
    assert all(METHODS[name].efforts for name in LONG), [name for name in LONG if not METHODS[name].efforts]


@pytest.mark.parametrize("name", LONG)
def test_efforts_are_within_the_settings_ranges_and_standard_is_the_default(name):
    cls = METHODS[name]
    assert list(cls.efforts) == ["quick", "standard", "thorough"]
    changed = set(cls.efforts["standard"])
    assert changed and all(set(preset) == changed for preset in cls.efforts.values())
    assert cls.efforts["standard"] == {key: cls.params[key].default for key in changed}
    for preset in cls.efforts.values():
        method = cls(**preset)
        assert method.notes == [] and method.settings == {**method.settings, **preset}  # nothing capped
    # more effort is more work for the model, and the estimate counts it
    work = [sum(cls(**cls.efforts[effort]).work(224)) for effort in ("quick", "standard", "thorough")]
    assert work[0] < work[1] < work[2], work
