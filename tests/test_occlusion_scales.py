"""Occlusion at several scales (``scales``) and its stable mode: each scale's map is known on paper for a
model whose score is a weighted sum of pixels, so the mean over scales is too."""

import numpy as np
import pytest

from explainers import explain
from explainers.methods.occlusion import Occlusion, scale_plan

PIXEL = (5, 6)  # the one pixel the "pixel" model's class-0 score reads


def _linear(weights: np.ndarray, name: str):
    """A model whose class-0 logit is Σ weights · pixels / 255 (red channel), class 1 its negative."""
    from conftest import _tiny_model
    from explainers._tf import keras

    size = len(weights)
    inputs = keras.Input((size, size, 3))
    pixels = keras.layers.Identity(name="pixels")(inputs)  # a layer with an image-shaped output, to pick
    logits = keras.layers.Dense(2, use_bias=False, name="logits")(keras.layers.Flatten()(pixels))
    net = keras.Model(inputs, logits)
    kernel = np.zeros((size, size, 3, 2), "float32")
    kernel[..., 0, 0], kernel[..., 0, 1] = weights, -weights
    net.get_layer("logits").set_weights([kernel.reshape(size * size * 3, 2)])
    return _tiny_model(net, name, 2)


@pytest.fixture(scope="module")
def pixel_model():
    weights = np.zeros((8, 8), "float32")
    weights[PIXEL] = 1.0
    return _linear(weights, "pixel")


QUADRANT = (slice(8, 16), slice(8, 16))  # the 8 × 8 block of a 16 × 16 picture the "quadrant" model sums


@pytest.fixture(scope="module")
def quadrant_model():
    weights = np.zeros((16, 16), "float32")
    weights[QUADRANT] = 1.0
    return _linear(weights, "quadrant")


def test_scales_halve_the_patch_and_the_stride_down_to_two_pixels():
    assert scale_plan(32, 16, 1) == [(32, 16)]
    assert scale_plan(64, 64, 3) == [(64, 64), (32, 32), (16, 16)]
    assert scale_plan(8, 3, 5) == [(8, 3), (4, 1), (2, 1)]  # a 1-pixel square is no scale: three fit


def test_the_map_is_the_mean_of_each_scales_map_known_on_paper(pixel_model, rng_image):
    """Only squares over PIXEL change the score, each by (x − 127.5) / 255 =: d. With 4-pixel squares at
    stride 4 that is d on PIXEL's 4 × 4 block, with 2-pixel ones d on its 2 × 2 block; their mean is d on the
    2 × 2 block, d / 2 on the rest of the 4 × 4 block, 0 elsewhere."""
    picture = rng_image(seed=1)
    d = (float(picture[PIXEL][0]) - 127.5) / 255
    expected = np.zeros((8, 8))
    expected[4:8, 4:8] = d / 2
    expected[4:6, 6:8] = d
    e = explain(pixel_model, picture, "occlusion", target=0, patch=4, stride=4, scales=2)
    np.testing.assert_allclose(e.heatmap, expected, atol=1e-5)
    assert e.meta["scales"] == 2 and e.meta["patches"] == 4 + 16
    one = explain(pixel_model, picture, "occlusion", target=0, patch=4, stride=4)
    assert one.meta == {**one.meta, "scales": 1, "patches": 4} and "stopped" not in one.meta


def test_one_scale_gives_exactly_the_map_it_gave_before_in_either_mode(tiny_cnn, rng_image):
    """``scales=1`` is the single-scale occlusion: its map, bit for bit, whatever ``until`` says."""
    picture = rng_image(seed=2)
    plain = explain(tiny_cnn, picture, "occlusion", target=1, patch=3, stride=2)
    for settings in ({"scales": 1}, {"scales": 1, "until": "stable"}):
        e = explain(tiny_cnn, picture, "occlusion", target=1, patch=3, stride=2, **settings)
        assert np.array_equal(e.heatmap, plain.heatmap) and e.heatmap.dtype == plain.heatmap.dtype


def test_stable_mode_stops_once_a_finer_scale_changes_nothing(quadrant_model, linear_model, rng_image):
    """The quadrant model on a picture white (1.0 after /255) inside QUADRANT: covering a square drops the
    score by 0.5 (white to grey) per pixel of QUADRANT it hides, exactly in floats. 8-pixel squares give 32
    on QUADRANT, 4-pixel ones 8, 2-pixel ones 2, and 0 elsewhere: every scale ranks the pixels alike, so
    it is stable after the second scale, its map (32 + 8) / 2. A linear model with random weights on a noisy
    picture sums different random terms in each square of each scale: it runs to the budget."""
    settings = {"target": 0, "patch": 8, "stride": 8, "scales": 3, "until": "stable"}
    picture = rng_image(16, 16, seed=2)
    picture[QUADRANT] = 255
    easy = explain(quadrant_model, picture, "occlusion", **settings)
    assert easy.meta == {**easy.meta, "stopped": "stable", "samples": 2, "scales": 2, "patches": 4 + 16}
    assert easy.meta["notes"][-1].startswith("Stable after 2 scales")
    expected = np.zeros((16, 16))
    expected[QUADRANT] = 20.0
    np.testing.assert_array_equal(easy.heatmap, expected)
    hard = explain(linear_model, rng_image(seed=3), "occlusion", **settings)
    assert hard.meta == {**hard.meta, "stopped": "budget", "budget": "samples", "samples": 3, "scales": 3}
    assert hard.meta["rho"] < 0.99 and hard.meta["patches"] == 1 + 4 + 16
    counted = explain(linear_model, rng_image(seed=3), "occlusion", **{**settings, "until": "count"})
    np.testing.assert_array_equal(hard.heatmap, counted.heatmap)  # stable mode ran every scale: the same map


def test_a_scale_that_would_end_past_the_seconds_budget_is_not_started(pixel_model, rng_image, monkeypatch):
    import explainers.methods.occlusion as occlusion

    class Clock:
        """Each reading one second after the last: the first scale seems to take a second or more."""

        now = 0.0

        @classmethod
        def monotonic(cls) -> float:
            cls.now += 1.0
            return cls.now

    monkeypatch.setattr(occlusion, "time", Clock)
    settings = {"target": 0, "patch": 4, "stride": 4, "scales": 2, "until": "stable", "max_seconds": 0.5}
    e = explain(pixel_model, rng_image(seed=4), "occlusion", **settings)
    assert e.meta == {**e.meta, "stopped": "budget", "budget": "seconds", "samples": 1, "scales": 1}
    assert "time budget" in e.meta["notes"][-1]


def test_progress_and_partial_maps_advance_across_the_scales(pixel_model, rng_image):
    progress, previews = [], []
    e = explain(
        pixel_model,
        rng_image(seed=5),
        "occlusion",
        target=0,
        patch=4,
        stride=2,
        scales=2,
        progress=progress.append,
        preview=previews.append,
    )
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    assert progress[0] == pytest.approx(9 / 58)  # the first scale's share: its 9 of the 9 + 49 squares
    np.testing.assert_allclose(previews[-1], e.heatmap, atol=1e-6)


def test_more_scales_are_more_work_and_the_thorough_effort_uses_three():
    assert Occlusion(patch=64, stride=64, scales=3).work(224) == (16 + 49 + 196, 0)
    assert Occlusion(**Occlusion.efforts["thorough"]).settings["scales"] == 3


def test_a_run_stopped_after_two_of_three_scales_counts_the_squares_it_ran(rng_image):
    """At 224 px, 64-, 32- and 16-pixel squares are 16, 49 and 196 of them. A model summing the block
    [128:, 128:] of a picture white there sees every scale rank the pixels alike (the block's squares are
    aligned at every scale), so stable mode stops after two: 16 + 49 squares ran, not two thirds of 261,
    and the speed learnt from them is the seconds per square it really took."""
    from service.estimates import SpeedLog, work_done

    weights = np.zeros((224, 224), "float32")
    weights[128:, 128:] = 1.0
    picture = rng_image(224, 224, seed=6)
    picture[128:, 128:] = 255
    method = Occlusion(patch=64, stride=64, scales=3, until="stable")
    e = explain(_linear(weights, "block"), picture, method, target=0)
    assert e.meta == {**e.meta, "stopped": "stable", "scales": 2, "patches": 16 + 49}
    planned = method.work(224)
    assert planned == (16 + 49 + 196, 0) and work_done(planned, e.meta, 3) == (16 + 49, 0)
    log = SpeedLog()
    log.record("block", "occlusion", work_done(planned, e.meta, 3), 6.5)  # 0.1 s per square
    assert log.estimate("block", "occlusion", planned).seconds == pytest.approx(26.1)
