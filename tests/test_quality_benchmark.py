"""The quality benchmark's bookkeeping (benchmarks/quality.py): which counts and methods a run measures,
which docs section it owns, and how its ratio to the fastest peer is said. Pure Python, no model."""

import pytest

from benchmarks.quality import doubling, plans, ratio_cells, section


def test_a_big_model_is_measured_a_few_methods_at_a_time_with_smaller_counts():
    assert doubling(2, 8) == [2, 4, 8] and doubling(32, 100) == [32, 64]
    (rise,) = plans(False, "vgg16", ["rise"], {"masks": 64})
    assert rise.method == "rise" and rise.counts == [32, 64] and "Xplique" in rise.peers
    assert [plan.method for plan in plans(True, "vgg16")] == ["smoothgrad"]
    with pytest.raises(SystemExit, match="grad_cam"):
        plans(False, "shapes", ["grad_cam"])
    (occlusion,) = plans(False, "shapes", ["occlusion"])
    assert occlusion.setting == "scales" and not occlusion.seeded and not occlusion.peers
    assert section("vgg16", "smoothgrad, rise") == "quality-vgg16-smoothgrad-rise"
    assert section("shapes", None) == "quality-shapes"


def test_ours_over_the_fastest_peer_that_met_the_target_or_a_bound_when_none_did():
    stable = {"seconds": 2.0, "stopped": "stable", "met": (2, 4, 1.0)}
    met = [("A", (8, 4.0, 0.9, 0.5), 0.9), ("B", (16, 8.0, 0.9, 0.5), 0.9), ("C", "failed: boom", None)]
    assert ratio_cells(stable, met) == "4.0 s | 0.50 | 0.25"
    never = [("A", (None, 10.0, 0.5, 0.2), 0.9)]
    assert ratio_cells(stable, never) == "not met (10.0 s at the largest) | < 0.20 | < 0.10"
    assert ratio_cells({**stable, "stopped": "budget"}, met).split(" | ")[1] == "0.50 (budget)"
    assert ratio_cells({**stable, "met": None}, met).endswith("ours not met | ours not met")
    assert ratio_cells(stable, []) == "no peer | – | –"


def test_a_stopping_rule_is_replayed_on_the_maps_its_own_chunks_would_have_shown():
    """benchmarks/stop_rules.py: a recording in chunks of 2 replayed for a rule with chunks of 8 sees
    only every fourth map, and stops where ``run_until_stable`` would on those maps."""
    import numpy as np

    from benchmarks.stop_rules import Candidate, is_default, replay

    rng = np.random.default_rng(3)
    settled = rng.standard_normal((32, 32))
    # a map that is noise until 40 samples, then the same map ever after
    recording = [(n, n / 10, settled if n >= 40 else rng.standard_normal((32, 32))) for n in range(2, 130, 2)]
    samples, seconds, heatmap, stopped, kept = replay(recording, Candidate("x", 0.99, 0.0, 2, grow=False), 8, 128)
    assert (samples, stopped) == (56, "stable") and seconds == 5.6 and heatmap is settled  # 40, 48, 56
    assert [item[0] for item in kept[:3]] == [8, 16, 24]
    *_, kept = replay(recording, Candidate("x", 0.99, 0.0, 2), 8, 128)
    assert [item[0] for item in kept[:5]] == [2, 4, 8, 16, 24]  # the first chunks smaller
    samples, *_ = replay(recording, Candidate("fine", 0.99, 0.0, 2, chunk=0), 8, 128)
    assert samples == 44  # 40, 42, 44 in chunks of 2
    assert is_default(Candidate("d", 0.99, 1 / 16, 2)) and not is_default(Candidate("d", 0.99, 1 / 8, 2))
