"""SHAP's Partition explainer: its values add up to the score change (efficiency), sit on the region the
class depends on, repeat exactly, and a server without the optional ``shap`` package says so in words."""

import sys

import numpy as np
import pytest

from conftest import REGION, mass_inside_region
from explainers import NotApplicableError, explain
from explainers.api import logits_of
from service.estimates import work_done

pytest.importorskip("shap", reason="the optional extra (requirements-extra.txt) is not installed")


def test_values_add_up_to_the_change_in_the_score(region_model, region_picture):
    e = explain(region_model, region_picture, "shap_partition", target=0, max_evals=200)
    logits = logits_of(region_model, region_picture)
    # Owen values are efficient: base (everything hidden) + Σ values = the score of the full picture
    assert e.meta["full_value"] == pytest.approx(float(logits[0]), rel=1e-4, abs=1e-4)
    assert e.heatmap.sum() == pytest.approx(float(logits[0]) - e.meta["base_value"], rel=1e-3, abs=1e-4)
    assert e.signed and e.meta["evaluations"] >= 200


def test_shap_finds_the_region(region_model, region_picture):
    e = explain(region_model, region_picture, "shap_partition", target=0, max_evals=300)
    assert mass_inside_region(e.heatmap) > 0.6  # the region is 14 % of the picture
    outside = np.ones((16, 16), bool)
    outside[REGION] = False
    assert e.heatmap[REGION].mean() > 5 * np.abs(e.heatmap[outside]).mean()


def test_same_settings_same_map(region_model, region_picture):
    first = explain(region_model, region_picture, "shap_partition", max_evals=64, masker="blur").heatmap
    again = explain(region_model, region_picture, "shap_partition", max_evals=64, masker="blur").heatmap
    np.testing.assert_array_equal(first, again)


def test_progress_grows_to_the_end(region_model, region_picture):
    seen = []
    explain(region_model, region_picture, "shap_partition", max_evals=128, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 2


def test_without_the_package_it_says_how_to_install(region_model, region_picture, monkeypatch):
    monkeypatch.setitem(sys.modules, "shap", None)  # import shap -> ImportError
    with pytest.raises(NotApplicableError, match="requirements-extra.txt"):
        explain(region_model, region_picture, "shap_partition")


def test_stable_mode_deepens_the_split_reusing_every_scored_copy(region_model, region_picture):
    e = explain(region_model, region_picture, "shap_partition", target=0, max_evals=256, until="stable")
    assert e.meta["samples"] <= 256 and e.meta["stopped"] in {"stable", "budget"}
    levels = [64, 128, 256][: e.meta["chunks"]]
    assert e.meta["evaluations"] < sum(levels) + 2 * len(levels)  # a deeper level re-scores no copy
    assert mass_inside_region(e.heatmap) > 0.6
    # the time estimates learn from the copies really scored, not from the levels' nominal counts
    assert work_done((256 + 2, 0), e.meta, 256) == (e.meta["evaluations"], 0)
