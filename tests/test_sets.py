"""Explaining and scoring a set (explainers/sets/compute.py, scores.py, summary.py): batched maps equal
single-picture maps, the scores are right on maps whose answer is known, the summary says it in words."""

from __future__ import annotations

import numpy as np
import pytest

from explainers.sets import SetSummary, iter_set, match_truth, read_zip, score_picture
from explainers.sets.demo import demo_zip
from explainers.sets.scores import border_band, border_share, concentration, peak_place


@pytest.fixture(scope="module")
def shapes_model():
    from explainers.models import load_model

    return load_model("shapes")


def test_border_share_and_concentration_on_maps_known_on_paper():
    flat = np.ones((100, 100))
    assert border_share(flat) == pytest.approx(0.36)  # 1 - 0.8²
    assert concentration(flat) == pytest.approx(0.1)
    corner = np.zeros((100, 100))
    corner[:5, :5] = 1.0
    assert border_share(corner) == 1.0 and concentration(corner) == 1.0
    assert peak_place(corner) == "top-left corner" and peak_place(np.pad(np.ones((2, 2)), 4)) == "centre"
    assert border_share(np.zeros((10, 10))) == 0.0 and concentration(-flat) == 0.0
    assert border_band((10, 10)).sum() == 100 - 64


def test_region_scores_use_the_object_and_outside_is_one_minus_energy():
    heatmap = np.zeros((8, 8), np.float32)
    heatmap[2, 2], heatmap[6, 6] = 3.0, 1.0
    region = np.zeros((16, 16), bool)
    region[4:6, 4:6] = True  # (2, 2) on the map, at half the picture's size
    from explainers.labels import Labels

    labels = Labels.from_names(["a", "b"])
    scores = score_picture("p.png", heatmap, [(1, "b", 0.9), (0, "a", 0.1)], labels, 0, region, "mask")
    assert scores.energy_in_region == pytest.approx(0.75) and scores.outside == pytest.approx(0.25)
    assert scores.pointing_game is True and scores.correct is False and scores.label == "a"
    plain = score_picture("p.png", heatmap, [(1, "b", 0.9)], labels)
    assert plain.energy_in_region is None and plain.outside == plain.border_share


def test_twelve_pictures_in_batches_score_as_each_picture_alone(shapes_model):
    """The batched passes give every picture the map and top-5 that ``explain`` gives it alone."""
    from explainers.api import explain
    from explainers.images import decode

    picture_set = read_zip(demo_zip("shapes", 12))
    truth = match_truth(picture_set, shapes_model.labels)
    assert len(picture_set) == 12 and len(truth.labels) == 12 and len(truth.masks) == 12 and not truth.problems
    results = list(iter_set(shapes_model, picture_set, truth, batch_size=5))
    assert [r.scores.name for r in results] == [p.name for p in picture_set.pictures]
    for picture, result in zip(picture_set.pictures, results):
        alone = explain(shapes_model, decode(picture.data), "grad_cam")
        np.testing.assert_allclose(result.heatmap, alone.heatmap, rtol=1e-4, atol=1e-6 * alone.heatmap.max())
        assert result.scores.top5[0][0] == alone.predictions[0][0]
        single = score_picture(
            picture.name,
            alone.heatmap,
            alone.predictions,
            shapes_model.labels,
            truth.labels[picture.name],
            truth.region(picture),
            "mask",
        )
        for key in ("energy_in_region", "border_share", "concentration", "confidence"):
            assert getattr(result.scores, key) == pytest.approx(getattr(single, key), abs=1e-4), key
        assert result.scores.pointing_game == single.pointing_game and result.scores.correct == single.correct


def test_the_summary_counts_and_words(shapes_model):
    picture_set = read_zip(demo_zip("shapes", 6))
    truth = match_truth(picture_set, shapes_model.labels)
    summary = SetSummary()
    for result in iter_set(shapes_model, picture_set, truth, batch_size=6):
        summary.add(result)
    assert summary.mean_map.shape == (128, 128) and summary.mean_map.sum() == pytest.approx(1.0, rel=1e-4)
    assert sum(count for count, _ in summary.class_maps().values()) == 6
    text = " ".join(summary.sentences())
    assert "labelled pictures" in text and "of 6 pictures with a marked object" in text
