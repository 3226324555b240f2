"""What issue 6 promises on the trained Shapes demo model, on generated pictures (seeded): Grad-CAM
finds the object, survives the sanity checks where guided backprop does not (Adebayo et al. 2018's
finding, reproduced), and the gradient maps delete the class faster than random maps do."""

import numpy as np
import pytest

from explainers import scorecard

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shapes_model():
    from explainers.models import load_model

    return load_model("shapes")  # the trained weights shipped in explainers/data


def test_grad_cam_points_at_the_object(shapes_model):
    found = scorecard.evaluate(shapes_model, "grad_cam", n=100, faithfulness=False)
    summary = found["summary"]
    assert summary["accuracy"] >= 0.95
    assert summary["pointing_game"] >= 0.9
    assert summary["energy_in_mask"] > 2 * summary["object_area"]  # far more of the map on the object than chance


def test_cascading_randomization_separates_grad_cam_from_guided_backprop(shapes_model):
    grad_cam = scorecard.sanity(shapes_model, "grad_cam", n=3)
    guided = scorecard.sanity(shapes_model, "guided_backprop", n=3)
    grad_cam_curve = np.array([row["rank_correlation"] for row in grad_cam["randomized_top_down"]])
    guided_curve = np.array([row["rank_correlation"] for row in guided["randomized_top_down"]])
    assert grad_cam_curve[-1] < 0.3  # every layer random: Grad-CAM's map is unrelated to the original
    # guided backprop keeps resembling its original map along the cascade (it shows the picture's edges)
    assert guided_curve.mean() > grad_cam_curve.mean() + 0.3
    assert (guided_curve > grad_cam_curve).all()


@pytest.mark.parametrize("method", ["grad_cam", "vanilla_gradient", "integrated_gradients"])
def test_deletion_removes_the_class_faster_than_random_maps(shapes_model, method):
    found = scorecard.evaluate(shapes_model, method, n=20, steps=10)
    summary = found["summary"]
    assert summary["deletion_auc"] < summary["deletion_auc_random"]
    wins = np.mean([p["deletion_auc"] < p["deletion_auc_random"] for p in found["pictures"]])
    assert wins >= 0.7  # not an average carried by a few pictures
