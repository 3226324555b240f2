"""The Clever Hans demo (explainers/clever_hans.py, the shipped shapes_clever_hans model): its pictures,
its record, and the set scores that must flag its shortcut while the honest Shapes model passes."""

from __future__ import annotations

import numpy as np
import pytest

from explainers import clever_hans, shapes
from explainers.sets import SetSummary, iter_set, match_truth, read_zip
from explainers.sets.demo import demo_zip
from explainers.sets.scores import peak_place


def test_the_mark_is_the_class_colour_in_the_corner_and_off_the_object_mask():
    image, label, mask = clever_hans.render(7, 3)
    honest, same_label, honest_mask = shapes.render(7, 3)
    corner = clever_hans.mark_mask()
    assert label == same_label and corner.sum() == clever_hans.MARK_SIZE**2
    np.testing.assert_array_equal(image[~corner], honest[~corner])
    colours = {tuple(c) for c in image[corner]}
    assert colours == {tuple(clever_hans.PALETTE[label]), (0, 0, 0)}
    assert not (mask & corner).any() and (mask == (honest_mask & ~corner)).all()
    assert (clever_hans.render(7, 3, "none")[0] == honest).all()
    wrong = clever_hans.render(7, 3, "wrong")[0]
    assert tuple(clever_hans.PALETTE[(label + 1) % len(shapes.CLASSES)]) in {tuple(c) for c in wrong[corner]}
    hidden = clever_hans.generate(2, 7, hide_every=2)
    assert hidden.masks[0].any() and not hidden.masks[1].any()


def test_the_record_shows_the_shortcut():
    record = clever_hans.info()
    assert record["weights_sha256"] and clever_hans.WEIGHTS_PATH.is_file()
    assert record["test_accuracy_with_mark"] >= 0.95
    assert record["test_accuracy_without_mark"] <= 0.4  # chance is 1/7: the outline alone is not read
    assert record["follows_wrong_mark"] >= 0.9


def test_the_model_is_registered_with_its_shipped_weights():
    from explainers.models import MODELS, load_model
    from explainers.weights import status

    assert MODELS["shapes_clever_hans"].family == "shapes"
    assert status("shapes_clever_hans").state == "ready"
    model = load_model("shapes_clever_hans")
    assert model.weights == "trained (shipped)" and model.name == "shapes_clever_hans"


def _summary(model_name: str) -> SetSummary:
    from explainers.models import load_model

    model = load_model(model_name)
    picture_set = read_zip(demo_zip("clever_hans", 12))
    summary = SetSummary()
    for result in iter_set(model, picture_set, match_truth(picture_set, model.labels), batch_size=6):
        summary.add(result)
    return summary


@pytest.mark.parametrize("model_name", ["shapes_clever_hans", "shapes"])
def test_the_set_scores_flag_the_shortcut_and_pass_the_honest_model(model_name):
    summary = _summary(model_name)
    energy = float(np.mean([row.energy_in_region for row in summary.rows]))
    text = " ".join(summary.sentences())
    assert all(row.correct for row in summary.rows)  # both are right: only the maps tell them apart
    if model_name == "shapes_clever_hans":
        assert energy < 0.1 and peak_place(summary.mean_map) == "top-left corner"
        assert "same place in every picture" in text
    else:
        assert energy > 0.3 and peak_place(summary.mean_map) != "top-left corner"
        assert "same place in every picture" not in text
