"""Stable mode (``until="stable"``): the stopping rule on hand-made maps, then on models whose map is
known on paper (a linear model's SmoothGrad is its weights at every sample: stable at once)."""

import itertools

import numpy as np
import pytest

from explainers import explain
from explainers.convergence import StopRule, describe, display_map, rank_agreement, run_until_stable
from explainers.methods.base import Attribution


def test_rank_agreement_on_maps_known_on_paper():
    ramp = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    assert rank_agreement(ramp, ramp) == pytest.approx(1.0)
    assert rank_agreement(ramp, -ramp) == pytest.approx(-1.0)
    assert rank_agreement(ramp, ramp**3) == pytest.approx(1.0)  # ranks only: any increasing change agrees
    assert rank_agreement(np.zeros((8, 8)), np.zeros((8, 8))) == 1.0
    assert rank_agreement(np.zeros((8, 8)), ramp[:8, :8]) == 0.0
    assert display_map(ramp).shape == (32, 32)
    np.testing.assert_allclose(display_map(ramp)[0, 0], ramp[:2, :2].mean())  # average-pooled


def _steps(maps, chunk=4):
    """(samples so far, Attribution) for each map in turn."""
    for i, heatmap in enumerate(maps, start=1):
        yield i * chunk, Attribution(np.asarray(heatmap, np.float32))


def test_an_unchanging_map_stops_after_patience_chunks_in_a_row():
    same = itertools.repeat(np.arange(16.0).reshape(4, 4))
    for patience in (1, 2, 3):
        _, meta = run_until_stable(_steps(same), StopRule(patience=patience, max_samples=400))
        assert meta["stopped"] == "stable" and meta["chunks"] == patience + 1 and meta["samples"] == 4 * (patience + 1)
        assert meta["rho"] == pytest.approx(1.0)


def test_a_map_that_keeps_changing_stops_at_the_sample_budget_never_past_it():
    rng = np.random.default_rng(0)
    noise = (rng.random((8, 8)) for _ in itertools.count())
    result, meta = run_until_stable(_steps(noise, chunk=4), StopRule(max_samples=40))
    assert meta == {**meta, "stopped": "budget", "budget": "samples", "samples": 40, "chunks": 10}
    assert "budget" in describe(meta) and "40 samples" in describe(meta)


def test_the_seconds_budget_is_not_overrun_by_starting_a_chunk_that_would_end_past_it():
    now = [0.0]
    rng = np.random.default_rng(1)

    def slow_steps():
        for i in itertools.count(1):
            now[0] += 1.0  # every chunk takes one second
            yield i, Attribution(rng.random((8, 8)).astype(np.float32))

    _, meta = run_until_stable(slow_steps(), StopRule(max_seconds=3.5), clock=lambda: now[0])
    assert meta["stopped"] == "budget" and meta["budget"] == "seconds"
    assert meta["chunks"] == 3 and meta["seconds"] <= 3.5


def test_a_methods_own_condition_must_hold_too():
    same = itertools.repeat(np.ones((4, 4)))
    results = (Attribution(h, None, {"ok": i >= 5}) for i, h in enumerate(same))
    numbered = ((i + 1, r) for i, r in enumerate(results))
    result, meta = run_until_stable(numbered, StopRule(max_samples=100), done=lambda r: r.meta["ok"])
    assert meta["stopped"] == "stable" and meta["samples"] == 6


@pytest.mark.parametrize("name", ["smoothgrad", "squaregrad", "vargrad"])
def test_stable_mode_stops_at_once_on_a_linear_model_and_later_on_a_nonlinear_one(
    name, linear_model, tiny_cnn, rng_image
):
    settings = {"until": "stable", "n_samples": 64, "noise": 0.5, "seed": 3}
    easy = explain(linear_model, rng_image(seed=2), name, target=1, **settings)
    # the fewest: 1 + patience chunks, the first ones smaller (2, 2 and 4 samples)
    assert easy.meta["stopped"] == "stable" and easy.meta["samples"] == 2 + 2 + 4 and easy.meta["chunks"] == 3
    hard = explain(tiny_cnn, rng_image(16, 16, seed=4), name, target=0, **settings)
    assert hard.meta["samples"] > easy.meta["samples"] and hard.meta["samples"] <= 64
    assert any(note.startswith(("Stable after", "Stopped at")) for note in hard.meta["notes"])


def test_stable_mode_ends_on_the_map_it_shows_last(relu_model, rng_image):
    previews = []
    e = explain(
        relu_model, rng_image(seed=4), "smoothgrad", target=0, until="stable", n_samples=32, preview=previews.append
    )
    assert len(previews) == e.meta["chunks"]
    np.testing.assert_array_equal(previews[-1], e.heatmap)


def _turning(turns, first=100, chunk=4):
    """Maps cos(θ)·A + sin(θ)·B, θ growing by ``turns[i]`` radians at chunk i: any two agree at about
    cos(their angle apart), so a map that turns by 0.1 a chunk agrees with the previous one at ρ ≈ 0.995."""
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((2, 32, 32))
    angles = np.cumsum(turns)
    for i, angle in enumerate(angles):
        yield first + i * chunk, Attribution((np.cos(angle) * a + np.sin(angle) * b).astype(np.float32))


def test_a_map_that_keeps_turning_slowly_is_not_stable_however_alike_its_last_two_maps():
    """Four more samples barely move a 100-sample map even when it keeps changing: the map is compared
    with the one at least a sixteenth of its samples earlier (2 chunks back at 100 samples, ρ ≈ cos 0.2 ≈
    0.98; 4 at 200 samples, ρ ≈ 0.92)."""
    from explainers.convergence import LAG

    _, meta = run_until_stable(_turning([0.1] * 60), StopRule(max_samples=400))
    assert meta["stopped"] == "budget" and meta["rho"] < 0.95
    _, meta = run_until_stable(_turning([0.1] * 60), StopRule(max_samples=400, lag=0.0))  # one chunk back only
    assert meta["stopped"] == "stable" and meta["chunks"] == 3  # the old rule: fooled at once
    _, meta = run_until_stable(_turning([0.1] * 10 + [0.0] * 50), StopRule(max_samples=400))
    # its last turn comes at 136 samples: it stops once that map is a sixteenth back, give or take two chunks
    assert meta["stopped"] == "stable" and 136 < meta["samples"] <= 136 / (1 - LAG) + 2 * 4


def test_ranks_share_their_average_when_tied():
    from explainers.convergence import ranks

    np.testing.assert_array_equal(ranks(np.array([3.0, 1, 2, 2, 5, 1, 1])), [6, 2, 4.5, 4.5, 7, 2, 2])


@pytest.fixture(scope="module")
def square_model():
    """logits = W · vec(x²) (x = pixels / 255): the gradient 2·W·x is linear in x, so SmoothGrad's map
    converges to the vanilla gradient's exactly (the noise has mean zero), while each noisy copy's
    gradient is off by 2·W·ε: a map that is noisy at first, whose limit is known on paper."""
    from explainers._tf import keras
    from explainers.labels import Labels
    from explainers.models import ExplainableModel

    rng = np.random.default_rng(5)
    inputs = keras.Input((16, 16, 3))
    squares = keras.layers.Multiply(name="squares")([inputs, inputs])
    logits = keras.layers.Dense(2, use_bias=False, name="logits")(keras.layers.Flatten()(squares))
    net = keras.Model(inputs, logits)
    net.get_layer("logits").set_weights([rng.normal(size=(16 * 16 * 3, 2)).astype("float32")])
    labels = Labels.from_names(["class 0", "class 1"])
    return ExplainableModel(net, "square", labels=labels, preprocess=lambda x: x / 255.0, title="square")


def test_stable_mode_stops_before_a_generous_budget_on_a_map_that_is_done(square_model, rng_image):
    """The stop means the map is done: with room to spare it stops by itself, on a map that agrees with the
    limit known on paper about as well as a fixed count four times larger; a budget too small for that
    ends it at the budget instead (why the quality benchmark gives stable mode a reference run's count)."""
    picture = rng_image(16, 16, seed=6)
    limit = explain(square_model, picture, "vanilla_gradient", target=0).heatmap
    settings = {"until": "stable", "noise": 1.0, "seed": 1, "sampler": "plain"}  # antithetic pairs: exact at once
    small = explain(square_model, picture, "smoothgrad", target=0, n_samples=16, **settings)
    assert small.meta["stopped"] == "budget" and small.meta["samples"] == 16
    assert rank_agreement(small.heatmap, limit) < 0.9  # not done yet: stopping there would have been wrong
    roomy = explain(square_model, picture, "smoothgrad", target=0, n_samples=1024, **settings)
    assert roomy.meta["stopped"] == "stable" and roomy.meta["samples"] <= 128
    assert rank_agreement(roomy.heatmap, limit) >= 0.93


@pytest.mark.parametrize(
    ("total", "chunk", "first"), [(32, 8, 2), (256, 64, 16), (16, 4, 2), (7, 1, 1), (5, 3, 2), (48, 12, 2)]
)
def test_the_first_chunks_are_smaller_so_a_first_map_shows_sooner(total, chunk, first):
    from explainers.convergence import chunk_bounds

    bounds = list(chunk_bounds(total, chunk))
    assert bounds[0][0] == 0 and bounds[-1][1] == total
    assert all(stop == next_start for (_, stop), (next_start, _) in zip(bounds, bounds[1:]))  # no gap, no overlap
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) <= chunk and sizes[0] == first
    if chunk % 2 == 0:
        assert all(size % 2 == 0 for size in sizes)  # antithetic pairs stay whole


def test_the_chunks_start_at_a_quarter_and_double_to_their_size():
    from explainers.convergence import chunk_bounds

    assert [stop for _, stop in chunk_bounds(32, 8)] == [2, 4, 8, 16, 24, 32]
    assert [stop for _, stop in chunk_bounds(48, 12)] == [2, 4, 8, 16, 28, 40, 48]  # 12 // 4 = 3: even, 2


def test_a_chunk_that_would_end_past_the_seconds_budget_is_not_started_when_its_size_is_known():
    """One second per sample, chunks of 2, 2, 4, 8: after 4 samples (4 s) the next chunk of 4 would end
    at 8 s, past a budget of 7. Guessing from the last two chunks (2, 2) would have started it."""
    now = [0.0]

    def steps():
        samples = 0
        for size in (2, 2, 4, 8):
            now[0] += size
            samples += size
            yield samples, Attribution(np.random.default_rng(samples).standard_normal((8, 8)).astype(np.float32))

    rule = StopRule(max_samples=16, max_seconds=7.0)
    _, meta = run_until_stable(steps(), rule, clock=lambda: now[0], sizes=[2, 2, 4, 8])
    assert (meta["samples"], meta["stopped"], meta["budget"]) == (4, "budget", "seconds") and now[0] <= 7
    now[0] = 0.0
    _, meta = run_until_stable(steps(), rule, clock=lambda: now[0])  # no schedule: the guess runs over
    assert meta["samples"] == 8 and now[0] > 7
