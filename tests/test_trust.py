"""The trust checks as service jobs, the routes behind the trust panel, and the report download
(the Shapes model with seeded random weights: small and fast; scores on the trained model are in
tests/test_shapes_trust.py)."""

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explainers.errors import ExplainerError, NotApplicableError, UnknownNameError
from helpers import png_bytes
from service import ExplainerService
from service.trust import checkpoints, localization
from service.wire import from_wire, to_wire

GALLERY = Path(__file__).resolve().parent.parent / "assets" / "examples" / "shapes"


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    return ExplainerService(tmp_path_factory.mktemp("trust"), weights="random")


@pytest.fixture(scope="module")
def star(svc):
    return svc.add_image((GALLERY / "star.png").read_bytes())


def test_sanity_check_randomizes_top_down_and_is_cached(svc, star):
    job = svc.request_check("sanity", star, "shapes", "grad_cam", target=3)
    assert job.wait(120), job.status
    result = job.outcome()
    from explainers.evaluation import weighted_layers

    order = weighted_layers(svc.load("shapes").keras)  # every layer with weights, the logits first
    assert order[0] == "logits" and order[-1] == "conv1"
    assert [step["layer"] for step in result["steps"]] == checkpoints(order)
    assert result["weighted_layers"] == len(order) and result["target"] == 3 and result["label"] == "star"
    for step in result["steps"]:
        assert -1 <= step["rank_correlation"] <= 1 and step["heatmap"].shape == (96, 96)
    assert result["random_logit"]["class"] != 3 and result["original"].shape == (96, 96)
    again = svc.request_check("sanity", star, "shapes", "grad_cam", target="star")
    assert again.done and again.outcome() is not None  # the same check, from the cache
    assert svc.cached_check("sanity", star, "shapes", "grad_cam", target=3)["steps"][0]["layer"] == "logits"
    assert svc.cached_check("sanity", star, "shapes", "vanilla_gradient", target=3) is None  # never computes


def test_faithfulness_check_gives_both_curves_against_random_maps(svc, star):
    result = _wait(svc.request_check("faithfulness", star, "shapes", "vanilla_gradient"))
    for mode in ("deletion", "insertion"):
        curve = result[mode]
        assert len(curve["fractions"]) == 21 and curve["fractions"][0] == 0 and curve["fractions"][-1] == 1
        assert 0 <= curve["auc"] <= 1 and 0 <= curve["random_auc"] <= 1
    assert result["deletion"]["fill"] == "blur" and result["insertion"]["fill"] == "blur"


def test_stability_needs_a_seeded_method_and_repeats(svc, star):
    with pytest.raises(NotApplicableError, match="deterministic"):
        _wait(svc.request_check("stability", star, "shapes", "grad_cam"))
    result = _wait(svc.request_check("stability", star, "shapes", "rise", params={"n_masks": 16}, options={"runs": 3}))
    assert result["seeds"] == [0, 1, 2] and len(result["maps"]) == 3 and -1 <= result["agreement"] <= 1
    assert result["std"].min() >= 0


def test_checks_refuse_bad_requests_in_plain_words(svc, star):
    with pytest.raises(UnknownNameError, match="Unknown check 'bogus'"):
        svc.request_check("bogus", star, "shapes", "grad_cam")
    with pytest.raises(ExplainerError, match="2 to 10 times"):
        svc.request_check("stability", star, "shapes", "rise", options={"runs": 1000})
    with pytest.raises(UnknownNameError):
        svc.request_check("sanity", star, "shapes", "grad_cam", layer="block5_conv3")


def test_checkpoints_spread_over_deep_models():
    order = [f"layer{i}" for i in range(107)]
    picked = checkpoints(order, most=9)
    assert len(picked) == 9 and picked[0] == "layer0" and picked[-1] == "layer106"
    assert picked == sorted(picked, key=order.index)
    assert checkpoints(order[:5]) == order[:5]


def test_check_results_survive_the_trip_to_a_worker_and_back(svc, star):
    result = _wait(svc.request_check("sanity", star, "shapes", "grad_cam", target=3))
    back = from_wire(json.loads(json.dumps(to_wire(result))))
    np.testing.assert_array_equal(back["steps"][2]["heatmap"], result["steps"][2]["heatmap"])
    assert back["random_logit"]["label"] == result["random_logit"]["label"]


def test_gallery_pictures_know_their_outline(svc, star):
    truth = svc.ground_truth(star)
    expected = np.asarray(Image.open(GALLERY / "star.mask.png")) > 127
    np.testing.assert_array_equal(truth, expected)
    assert svc.ground_truth(svc.add_image(png_bytes())) is None


def test_localization_scores_a_map_against_an_outline_or_a_box():
    from service.results import MapResult

    heatmap = np.zeros((100, 100), np.float32)
    heatmap[10:20, 10:20] = 1.0  # all the mass in one square; the peak at its top-left corner
    result = MapResult("m", "shapes", heatmap, 0, "circle", None, 0.1, False, {})
    outline = np.zeros((100, 100), bool)
    outline[10:20, 10:30] = True
    found = localization(result, truth=outline)
    assert found["pointing_game"] and found["energy_in_mask"] == pytest.approx(1.0) and found["area"] == 0.02
    # a box drawn on a 200 × 200 display of the picture, around the right half of the square only
    box = localization(result, box=(30, 20, 40, 40), box_shape=(200, 200))
    assert box["energy_in_mask"] == pytest.approx(0.5, abs=0.06)
    far = localization(result, box=(120, 120, 180, 180), box_shape=(200, 200))
    assert not far["pointing_game"] and far["energy_in_mask"] == 0
    with pytest.raises(ExplainerError, match="Draw a box"):
        localization(result)


def test_scrubber_picture_and_report_routes(client):
    svc = client.application.extensions["saliency_service"]
    key = svc.add_image((GALLERY / "circle.png").read_bytes())
    query = f"image={key}&model=shapes&method=grad_cam&weights=random"
    response = client.get(f"/trust/perturbed.png?{query}&mode=deletion&k=50")
    assert response.status_code == 200 and response.mimetype == "image/png"
    deleted = np.asarray(Image.open(io.BytesIO(response.data)))
    from explainers.evaluation import perturbed_image

    heatmap = svc.explain(key, "shapes", "grad_cam", weights="random").heatmap
    expected = perturbed_image(svc.model_input(key, "shapes"), heatmap, 0.5, "deletion")
    np.testing.assert_array_equal(deleted, expected)  # the picture the deletion curve scores at 50 %
    assert (deleted != svc.model_input(key, "shapes")).any(axis=-1).mean() > 0.2
    assert client.get(f"/trust/perturbed.png?{query}&k=lots").status_code == 400
    assert client.get(f"/trust/perturbed.png?{query}&mode=sideways").status_code == 400

    report = client.get(
        f"/download/report.html?{query[: -len('&method=grad_cam&weights=random')]}"
        f"&methods=grad_cam,vanilla_gradient&weights=random&name=circle.png"
    )
    assert report.status_code == 200 and "attachment" in report.headers["Content-Disposition"]
    text = report.data.decode()
    assert "Grad-CAM" in text and "Vanilla gradient" in text and "meaningless" in text
    assert len(re.findall(r"<img ", text)) >= 3  # the picture and one map per method
    assert "Pointing game" in text or "pointing game" in text  # the circle's outline is known: scored
    empty = client.get(f"/download/report.html?image={key}&model=shapes&methods=")
    assert empty.status_code == 400 and "nothing to report" in empty.data.decode()


def _wait(job, timeout=180):
    assert job.wait(timeout), job.status
    return job.outcome()


# ---- the sanity verdict says what is true for the case ---------------------------------------------
def _sanity_result(last: float, other: float = 0.1, **case) -> dict:
    """A sanity check's numbers as compute_check returns them (maps left out: the verdict reads none)."""
    return {
        "steps": [{"layer": "logits", "rank_correlation": 0.9}, {"layer": "conv1", "rank_correlation": last}],
        "random_logit": {"rank_correlation": other},
        **case,
    }


def test_sanity_verdict_on_learned_weights_is_pass_fail_or_unclear():
    from service.trust import verdict

    assert verdict("sanity", _sanity_result(0.1))["verdict"] == "pass"
    assert verdict("sanity", _sanity_result(0.4))["verdict"] == "unclear"
    assert verdict("sanity", _sanity_result(0.8, other=0.9))["verdict"] == "fail"
    assert verdict("sanity", _sanity_result(0.8, other=0.9))["random_class"]["verdict"] == "fail"
    learned = verdict("sanity", _sanity_result(0.1, random_weights=False, original_empty=False))
    assert learned["verdict"] == "pass" and "reason" not in learned


@pytest.mark.parametrize(
    "case, reason",
    [
        ({"random_weights": True}, "random_weights"),
        ({"original_empty": True}, "empty_map"),
        ({"random_weights": True, "original_empty": True}, "random_weights"),
    ],
)
def test_sanity_verdict_is_meaningless_for_random_weights_or_an_empty_map(case, reason):
    from service.trust import verdict

    said = verdict("sanity", _sanity_result(0.1, other=0.9, **case))  # numbers that would pass on learned weights
    assert said["verdict"] == "meaningless" and said["reason"] == reason
    assert said["random_class"]["verdict"] == "meaningless"
    assert said["score"] == pytest.approx(0.1)  # the numbers are still reported


def test_sanity_check_records_random_weights_and_an_empty_original(svc, star):
    result = _wait(svc.request_check("sanity", star, "shapes", "grad_cam", target=3))
    assert result["random_weights"] is True  # this module's service has random weights
    assert result["original_empty"] == (float(np.ptp(result["original"])) == 0.0)


def test_empty_maps_are_marked_by_the_service(svc, star):
    from service.results import is_empty

    assert is_empty(np.zeros((4, 4))) and is_empty(np.full((4, 4), 3.0)) and not is_empty(np.eye(4))
    assert is_empty(np.full((4, 4), 1e-3) + np.eye(4) * 1e-12)  # constant up to rounding
    result = svc.explain(star, "shapes", "grad_cam", target=3)
    assert result.meta["empty"] == is_empty(result.heatmap)
