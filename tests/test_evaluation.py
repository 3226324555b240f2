"""Trust scores for maps: localization, similarity, deletion/insertion, sanity checks, stability.

Answers come from hand-made maps and masks, or from the tiny models of conftest.py whose maps are
known on paper (the linear model's gradient is its weights; the region model only looks at REGION).
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from conftest import REGION, ROOT, mass_inside_region
from explainers import explain
from explainers.api import logits_of
from explainers.engine import engine_for
from explainers.errors import ExplainerError, ImageError, NotApplicableError, UnknownNameError
from explainers.evaluation import (
    box_mask,
    cascading_randomization,
    energy_in_mask,
    faithfulness,
    fill_image,
    map_peak,
    perturbed_image,
    perturbed_images,
    pixel_order,
    pointing_game,
    random_logit,
    random_map_auc,
    randomizable_copy,
    randomize_layer,
    rank_correlation,
    scale_box,
    ssim,
    stability,
    weighted_layers,
)
from explainers.ops import softmax


@pytest.fixture(scope="module")
def picture():
    return np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def picture16():
    return np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)


def region_mask():
    mask = np.zeros((16, 16), bool)
    mask[REGION] = True
    return mask


# ---- localization ----------------------------------------------------------------------------------
def test_pointing_game_hits_only_when_the_peak_is_on_the_object():
    heatmap = np.zeros((10, 10))
    heatmap[2, 5] = 1.0
    on, off = np.zeros((10, 10), bool), np.zeros((10, 10), bool)
    on[1:4, 4:7] = True
    off[6:, :] = True
    assert pointing_game(heatmap, on) is True
    assert pointing_game(heatmap, off) is False


def test_pointing_game_tolerance_is_a_distance_in_pixels():
    heatmap = np.zeros((10, 10))
    heatmap[2, 5] = 1.0
    mask = np.zeros((10, 10), bool)
    mask[2, 8] = True  # three pixels to the right of the peak
    assert not pointing_game(heatmap, mask, tolerance=2)
    assert pointing_game(heatmap, mask, tolerance=3)
    mask = np.zeros((10, 10), bool)
    mask[5, 9] = True  # 3 down, 4 right: 5 px away
    assert not pointing_game(heatmap, mask, tolerance=4.9) and pointing_game(heatmap, mask, tolerance=5)


def test_ties_take_the_first_maximum_in_reading_order():
    heatmap = np.zeros((6, 6))
    heatmap[4, 1] = heatmap[1, 4] = 2.0
    assert map_peak(heatmap) == (1, 4)
    assert map_peak(np.ones((6, 6))) == (0, 0)
    corner = np.zeros((6, 6), bool)
    corner[0, 0] = True
    assert pointing_game(np.ones((6, 6)), corner) and not pointing_game(np.ones((6, 6)), ~corner)


def test_a_mask_of_another_size_is_resized_nearest():
    heatmap = np.zeros((8, 8))
    heatmap[3, 3] = 1.0
    small = np.zeros((4, 4), bool)
    small[:2, :2] = True  # the top-left quarter, i.e. rows and columns 0-3 of the map
    assert pointing_game(heatmap, small)
    heatmap = np.zeros((8, 8))
    heatmap[4, 4] = 1.0
    assert not pointing_game(heatmap, small)
    assert energy_in_mask(np.ones((8, 8)), small) == pytest.approx(0.25)


def test_energy_in_mask_is_the_share_of_positive_mass_inside():
    heatmap = np.full((4, 4), -5.0)  # negative values do not count
    heatmap[0, :] = 3.0  # inside: 4 × 3 = 12
    heatmap[3, :] = 1.0  # outside: 4 × 1 = 4
    mask = np.zeros((4, 4), bool)
    mask[:2] = True
    assert energy_in_mask(heatmap, mask) == pytest.approx(12 / 16)
    assert energy_in_mask(-np.ones((4, 4)), mask) == 0.0
    assert energy_in_mask(np.zeros((4, 4)), mask) == 0.0


def test_region_model_maps_point_at_the_region(region_model, region_picture):
    heatmap = explain(region_model, region_picture, "grad_cam", target=0).heatmap
    assert pointing_game(heatmap, region_mask())
    assert energy_in_mask(heatmap, region_mask()) == pytest.approx(mass_inside_region(heatmap))
    drawn = box_mask((16, 16), (9, 8, 3, 2))  # the box a person drags around the region, bottom-right first
    np.testing.assert_array_equal(drawn, region_mask())
    assert energy_in_mask(heatmap, drawn) > 0.9


def test_box_mask_corners_rounding_and_clipping():
    expected = np.zeros((5, 6), bool)
    expected[2, 1:4] = True
    np.testing.assert_array_equal(box_mask((5, 6), (1, 2, 4, 3)), expected)
    np.testing.assert_array_equal(box_mask((5, 6, 3), (4, 3, 1, 2)), expected)  # any corner order
    np.testing.assert_array_equal(box_mask((5, 6), (0.6, 2.4, 3.6, 2.6)), expected)  # nearest pixel edge
    clipped = box_mask((5, 6), (-10, -10, 2, 2))
    assert clipped.sum() == 4 and clipped[:2, :2].all()
    assert box_mask((5, 6), (-1, -1, 100, 100)).all()
    with pytest.raises(ExplainerError, match=r"covers no pixel.*\(7, 7, 9, 9\)"):
        box_mask((5, 6), (7, 7, 9, 9))
    with pytest.raises(ExplainerError, match="four numbers"):
        box_mask((5, 6), (1, 2, 3))


def test_scale_box_maps_a_box_on_the_photo_onto_the_model_input():
    photo = (480, 640, 3)
    assert scale_box((320, 240, 640, 480), photo, (224, 224)) == pytest.approx((112, 112, 224, 224))
    assert scale_box((64, 48, 128, 96), photo, (224, 224, 3)) == pytest.approx((22.4, 22.4, 44.8, 44.8))
    mask = box_mask((224, 224), scale_box((0, 0, 320, 480), photo, (224, 224)))
    assert mask[:, :112].all() and not mask[:, 112:].any()


def test_localization_errors_echo_what_was_received():
    heatmap = np.zeros((4, 4))
    with pytest.raises(ExplainerError, match=r"mask is empty.*\(4, 4\)"):
        pointing_game(heatmap, np.zeros((4, 4)))
    with pytest.raises(ExplainerError, match=r"mask must be a 2-D.*\(4, 4, 3\)"):
        energy_in_mask(heatmap, np.ones((4, 4, 3)))
    with pytest.raises(ExplainerError, match=r"tolerance.*-1"):
        pointing_game(heatmap, np.ones((4, 4)), tolerance=-1)
    with pytest.raises(ExplainerError, match=r"heatmap must be a 2-D.*\(4,\)"):
        pointing_game(np.zeros(4), np.ones((4, 4)))


# ---- similarity ------------------------------------------------------------------------------------
def test_rank_correlation_known_values():
    heatmap = np.random.default_rng(0).normal(size=(12, 12))
    assert rank_correlation(heatmap, heatmap) == pytest.approx(1.0)
    assert rank_correlation(heatmap, -heatmap) == pytest.approx(-1.0)
    assert rank_correlation(heatmap, np.exp(3 * heatmap) + 7) == pytest.approx(1.0)  # any increasing transform
    assert rank_correlation(heatmap, -heatmap, absolute=True) == pytest.approx(1.0)
    # Spearman by hand: ranks differ by 1 at two of four pixels, so ρ = 1 − 6 × 2 / (4 × 15) = 0.8
    assert rank_correlation([[1, 2], [3, 4]], [[1, 2], [4, 3]]) == pytest.approx(0.8)


def test_constant_maps_correlate_zero_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rank_correlation(np.zeros((8, 8)), np.random.default_rng(1).random((8, 8))) == 0.0
        assert rank_correlation(np.ones((8, 8)), np.ones((8, 8))) == 0.0


def test_ssim_compares_shapes_not_scales():
    heatmap = np.random.default_rng(2).random((16, 16))
    assert ssim(heatmap, heatmap) == pytest.approx(1.0)
    assert ssim(heatmap, 40 * heatmap - 3) == pytest.approx(1.0)  # each map is scaled by its own min/max
    assert ssim(heatmap, np.random.default_rng(3).random((16, 16))) < 0.3
    assert ssim(heatmap, -heatmap, absolute=True) == pytest.approx(1.0)
    assert ssim(heatmap, -heatmap) < 0
    with pytest.raises(ExplainerError, match=r"3 × 3.*\(2, 5\)"):
        ssim(np.zeros((2, 5)), np.zeros((2, 5)))


def test_maps_of_different_sizes_are_compared_after_resizing():
    small = np.arange(16, dtype=float).reshape(4, 4)
    import cv2

    big = cv2.resize(small.astype(np.float32), (8, 8), interpolation=cv2.INTER_LINEAR)
    assert rank_correlation(big, small) == pytest.approx(1.0)
    assert ssim(big, small) == pytest.approx(1.0)


# ---- deletion and insertion ------------------------------------------------------------------------
def contribution(model, picture, target, fill):
    """The linear model's per-pixel contribution to the target logit, relative to the fill picture:
    Σ_c W[pixel, c, target] × (x − fill) / 255 (deleting a pixel lowers the logit by exactly this)."""
    weights = model.keras.get_layer("logits").get_weights()[0].reshape(8, 8, 3, -1)[..., target]
    return (weights * (picture.astype(float) - fill_image(picture, fill)) / 255).sum(axis=-1)


@pytest.mark.parametrize("fill", ["grey", "mean"])
def test_a_faithful_map_deletes_the_class_faster_than_reversed_or_random_maps(linear_model, picture, fill):
    target = int(np.argmax(logits_of(linear_model, picture)))
    good = contribution(linear_model, picture, target, fill)
    deletion = faithfulness(linear_model, picture, good, target, "deletion", fill=fill)
    reversed_ = faithfulness(linear_model, picture, -good, target, "deletion", fill=fill)
    chance = random_map_auc(linear_model, picture, target, "deletion", fill=fill, n=5)
    assert deletion.auc < chance.aucs.min() and deletion.auc < reversed_.auc
    assert chance.aucs.min() < reversed_.auc
    insertion = faithfulness(linear_model, picture, good, target, "insertion", fill=fill)
    assert insertion.auc > random_map_auc(linear_model, picture, target, "insertion", fill=fill, n=5).aucs.max()
    assert insertion.auc > faithfulness(linear_model, picture, -good, target, "insertion", fill=fill).auc


def test_curve_ends_are_the_picture_and_the_fill(linear_model, picture):
    target = 1
    heatmap = np.random.default_rng(4).random((8, 8))
    original = softmax(logits_of(linear_model, picture))[target]
    for fill in ("grey", "blur"):
        filled = softmax(logits_of(linear_model, fill_image(picture, fill)))[target]
        deletion = faithfulness(linear_model, picture, heatmap, target, "deletion", steps=10, fill=fill)
        insertion = faithfulness(linear_model, picture, heatmap, target, "insertion", steps=10, fill=fill)
        np.testing.assert_allclose(deletion.fractions, np.linspace(0, 1, 11))
        assert deletion.probabilities[0] == pytest.approx(original, rel=1e-5)
        assert deletion.probabilities[-1] == pytest.approx(filled, rel=1e-5)
        assert insertion.probabilities[0] == pytest.approx(filled, rel=1e-5)
        assert insertion.probabilities[-1] == pytest.approx(original, rel=1e-5)
        assert deletion.auc == pytest.approx(np.trapezoid(deletion.probabilities, deletion.fractions))
    assert (deletion.mode, deletion.fill, deletion.target, deletion.label) == ("deletion", "blur", 1, "class 1")


def test_default_fill_and_target(linear_model, picture):
    heatmap = np.random.default_rng(5).random((8, 8))
    assert faithfulness(linear_model, picture, heatmap, steps=2).fill == "blur"
    insertion = faithfulness(linear_model, picture, heatmap, mode="insertion", steps=2)
    assert insertion.fill == "blur"
    assert insertion.target == int(np.argmax(logits_of(linear_model, picture)))  # top-1 of the whole picture


def test_perturbed_image_is_the_picture_the_model_got(linear_model, picture):
    heatmap = np.random.default_rng(6).normal(size=(8, 8))
    curve = faithfulness(linear_model, picture, heatmap, 0, "deletion", steps=8, fill="mean")
    batch = perturbed_images(picture, heatmap, curve.fractions, "deletion", "mean")
    for k in (0, 3, 8):
        shown = perturbed_image(picture, heatmap, curve.fractions[k], "deletion", "mean")
        assert shown.dtype == np.uint8 and shown.shape == picture.shape
        np.testing.assert_array_equal(shown, batch[k])
        assert logits_of(linear_model, shown)[0] == pytest.approx(curve.logits[k], rel=1e-5, abs=1e-5)


def test_deletion_replaces_exactly_the_top_pixels(picture):
    heatmap = np.arange(64, dtype=float).reshape(8, 8)  # the bottom-right pixel is the most important
    deleted = perturbed_image(picture, heatmap, 0.25, "deletion", "grey")
    changed = np.zeros((8, 8), bool)
    changed.flat[pixel_order(heatmap)[:16]] = True
    np.testing.assert_array_equal(changed[6:], True)  # round(0.25 × 64) = 16 pixels: the last two rows
    np.testing.assert_array_equal(deleted[changed], 128)
    np.testing.assert_array_equal(deleted[~changed], picture[~changed])
    revealed = perturbed_image(picture, heatmap, 0.25, "insertion", "grey")
    np.testing.assert_array_equal(revealed[changed], picture[changed])
    np.testing.assert_array_equal(revealed[~changed], 128)


def test_ties_are_broken_by_the_seed_not_by_position():
    flat = np.zeros((8, 8))
    first, again, other = pixel_order(flat, seed=0), pixel_order(flat, seed=0), pixel_order(flat, seed=1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.array_equal(np.sort(first[:32]), np.arange(32))  # not simply the top half first
    ranked = np.zeros((8, 8))
    ranked[5, 5], ranked[0, 0] = 2.0, 1.0
    assert list(pixel_order(ranked, seed=3)[:2]) == [45, 0]  # distinct values keep their order


def test_a_heatmap_of_another_size_is_resized(linear_model, picture):
    import cv2

    small = np.random.default_rng(7).random((4, 4)).astype(np.float32)
    big = cv2.resize(small, (8, 8), interpolation=cv2.INTER_LINEAR)
    a = faithfulness(linear_model, picture, small, 0, steps=4)
    b = faithfulness(linear_model, picture, big, 0, steps=4)
    np.testing.assert_allclose(a.probabilities, b.probabilities)


def test_the_whole_curve_is_one_batch(linear_model, picture, monkeypatch):
    from explainers import batching

    monkeypatch.setattr(batching, "CPU_FORWARD_CHUNK", 8)  # small enough that the chunking shows
    calls = []
    engine = engine_for(linear_model)
    original_run = engine.run
    monkeypatch.setattr(
        engine,
        "run",
        lambda key, inputs, targets, batched=False: (
            calls.append(len(inputs)) or original_run(key, inputs, targets, batched)
        ),
    )
    faithfulness(linear_model, picture, np.ones((8, 8)), 0, steps=10)
    assert calls == [8, 3]  # 11 pictures in full chunks, not one call per picture


def test_faithfulness_errors_echo_what_was_received(linear_model, picture):
    heatmap = np.ones((8, 8))
    with pytest.raises(ExplainerError, match="steps.*Received: 1"):
        faithfulness(linear_model, picture, heatmap, steps=1)
    with pytest.raises(ExplainerError, match="fill.*'pink'"):
        faithfulness(linear_model, picture, heatmap, fill="pink")
    with pytest.raises(ExplainerError, match="mode.*'remove'"):
        perturbed_image(picture, heatmap, 0.5, mode="remove")
    with pytest.raises(ExplainerError, match="between 0 and 1.*1.5"):
        perturbed_image(picture, heatmap, 1.5)
    with pytest.raises(UnknownNameError, match="no class number 7"):
        faithfulness(linear_model, picture, heatmap, target=7)
    with pytest.raises(ImageError):
        faithfulness(linear_model, picture.astype(np.float32), heatmap)
    with pytest.raises(ExplainerError, match="n must be.*0"):
        random_map_auc(linear_model, picture, n=0)


# ---- sanity checks ---------------------------------------------------------------------------------
def test_cascading_randomization_leaves_the_shared_model_alone(tiny_cnn, picture16):
    before = [w.copy() for w in tiny_cnn.keras.get_weights()]
    heatmap_before = explain(tiny_cnn, picture16, "grad_cam").heatmap
    fractions = []
    result = cascading_randomization(tiny_cnn, picture16, "grad_cam", progress=fractions.append)
    for old, new in zip(before, tiny_cnn.keras.get_weights()):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_array_equal(explain(tiny_cnn, picture16, "grad_cam").heatmap, heatmap_before)
    assert result.layers == weighted_layers(tiny_cnn.keras) == ["logits", "conv2", "conv1"]
    assert result.target == int(np.argmax(logits_of(tiny_cnn, picture16))) and result.layer == "conv2"
    np.testing.assert_array_equal(result.original, heatmap_before)
    assert np.all(np.diff(fractions) > 0) and fractions[-1] == 1.0 and len(fractions) == 4
    assert all(-1 <= r <= 1 for r in result.rank_correlations) and len(result.ssims) == 3
    assert not np.allclose(result.steps[0].heatmap, result.original)  # the top layer alone changes the map
    assert result.steps[0].rank_correlation < 0.9


@pytest.mark.parametrize("method", ["grad_cam", "vanilla_gradient"])
def test_randomized_maps_differ_from_the_original(gap_model, picture, method):
    result = cascading_randomization(gap_model, picture, method, seed=1)
    assert result.layers == ["logits", "features"]
    for step in result.steps:
        assert not np.allclose(step.heatmap, result.original)
    again = cascading_randomization(gap_model, picture, method, seed=1)
    np.testing.assert_array_equal(again.steps[-1].heatmap, result.steps[-1].heatmap)  # seeded


def test_a_copy_changes_in_place_without_retracing(tiny_cnn, picture16):
    copy = randomizable_copy(tiny_cnn)
    target = int(np.argmax(logits_of(tiny_cnn, picture16)))
    first = explain(copy, picture16, "vanilla_gradient", target=target).heatmap
    np.testing.assert_allclose(
        first, explain(tiny_cnn, picture16, "vanilla_gradient", target=target).heatmap, rtol=1e-5, atol=1e-7
    )
    randomize_layer(copy.keras.get_layer("conv1"), seed=0)
    changed = explain(copy, picture16, "vanilla_gradient", target=target).heatmap
    assert rank_correlation(first, changed) < 0.9
    assert set(engine_for(copy).trace_count.values()) == {1}


def test_randomize_layer_draws_from_the_layers_initializers(linear_model):
    copy = randomizable_copy(linear_model)
    layer = copy.keras.get_layer("logits")
    randomize_layer(layer, seed=5)
    kernel, bias = layer.get_weights()
    limit = np.sqrt(6 / (8 * 8 * 3 + 3))  # Glorot uniform: ±sqrt(6 / (fan_in + fan_out))
    assert np.abs(kernel).max() <= limit and kernel.std() == pytest.approx(limit / np.sqrt(3), rel=0.1)
    np.testing.assert_array_equal(bias, 0)
    randomize_layer(layer, seed=5)
    np.testing.assert_array_equal(layer.get_weights()[0], kernel)


def test_a_few_layers_give_a_coarser_but_still_cumulative_cascade(tiny_cnn, picture16):
    full = cascading_randomization(tiny_cnn, picture16, "vanilla_gradient", seed=2)
    coarse = cascading_randomization(tiny_cnn, picture16, "vanilla_gradient", seed=2, layers=["conv1", "logits"])
    assert coarse.layers == ["logits", "conv1"]  # top down, whatever the order given
    np.testing.assert_allclose(coarse.steps[-1].heatmap, full.steps[-1].heatmap, rtol=1e-5, atol=1e-8)
    with pytest.raises(UnknownNameError, match=r"'gap'"):
        cascading_randomization(tiny_cnn, picture16, "vanilla_gradient", layers=["gap"])


def test_cascading_randomization_can_be_cancelled(tiny_cnn, picture16):
    class Cancelled(Exception):
        pass

    def progress(fraction):
        if fraction > 0.5:
            raise Cancelled

    with pytest.raises(Cancelled):
        cascading_randomization(tiny_cnn, picture16, "grad_cam", progress=progress)


def test_random_logit_explains_another_class_chosen_by_the_seed(linear_model, picture):
    target = int(np.argmax(logits_of(linear_model, picture)))
    result = random_logit(linear_model, picture, "vanilla_gradient", seed=3)
    assert result.target == target and result.random_class != target
    assert random_logit(linear_model, picture, "vanilla_gradient", seed=3).random_class == result.random_class
    drawn = {random_logit(linear_model, picture, "vanilla_gradient", target=0, seed=s).random_class for s in range(12)}
    assert drawn == {1, 2}
    # the linear model's vanilla gradient for class c is max over colours of |W[:, c]| / 255
    weights = linear_model.keras.get_layer("logits").get_weights()[0].reshape(8, 8, 3, 3)
    expected = np.abs(weights[..., result.random_class]).max(axis=-1)
    assert rank_correlation(result.heatmap, expected) == pytest.approx(1.0)
    assert result.rank_correlation == pytest.approx(rank_correlation(result.original, expected, absolute=True))


# ---- stability -------------------------------------------------------------------------------------
def test_stability_refuses_deterministic_methods(tiny_cnn, picture16):
    with pytest.raises(NotApplicableError, match="Grad-CAM is deterministic"):
        stability(tiny_cnn, picture16, "grad_cam")
    with pytest.raises(ExplainerError, match=r"two different seeds.*\[1, 1\]"):
        stability(tiny_cnn, picture16, "smoothgrad", seeds=[1, 1])
    with pytest.raises(ExplainerError, match="n must be.*Received: 1"):
        stability(tiny_cnn, picture16, "smoothgrad", n=1)


def test_stability_is_repeatable_and_bounded(tiny_cnn, picture16):
    params = {"n_samples": 2, "seed": 99}  # the seed in params is replaced by each seed
    first = stability(tiny_cnn, picture16, "smoothgrad", n=3, params=params)
    again = stability(tiny_cnn, picture16, "smoothgrad", seeds=[0, 1, 2], params=params)
    assert first.seeds == [0, 1, 2]
    np.testing.assert_array_equal(first.maps, again.maps)
    assert first.agreement == again.agreement and -1 <= first.agreement <= 1
    assert first.maps.shape == (3, 16, 16) and np.all(first.std >= 0)
    np.testing.assert_allclose(first.mean, first.maps.mean(axis=0), rtol=1e-6)
    for heatmap in first.maps:  # each map divided by its own 99th percentile of |values|
        assert np.percentile(np.abs(heatmap), 99) == pytest.approx(1.0, rel=1e-4)
    assert first.std.max() > 0  # two noisy samples: the seed matters


def test_without_noise_every_seed_gives_the_same_map(tiny_cnn, picture16):
    result = stability(tiny_cnn, picture16, "smoothgrad", n=3, params={"n_samples": 2, "noise": 0.0})
    np.testing.assert_allclose(result.std, 0, atol=1e-6)
    assert result.agreement == pytest.approx(1.0)


def test_rise_stability_on_the_region_model(region_model, region_picture):
    result = stability(region_model, region_picture, "rise", n=2, target=0, params={"n_masks": 64, "cells": 4})
    assert result.target == 0 and 0 < result.agreement <= 1


def test_importing_the_scores_does_not_import_tensorflow_or_dash():
    code = (
        "import sys, explainers.evaluation as e, numpy as np; e.pointing_game(np.eye(4), np.eye(4)); "
        "print('tensorflow' in sys.modules, 'dash' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
