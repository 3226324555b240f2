"""The familiarity check (explainers.familiarity): the distance arithmetic on hand-made numbers, then
the shipped Shapes record on real pictures, and the calibration script's false-alarm rate."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explainers import familiarity, shapes

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "assets" / "examples"


# ---- the arithmetic (numpy only) ------------------------------------------------------------------
def _gaussian_features(n: int, seed: int) -> np.ndarray:
    """Non-negative 'pooled features' whose log1p is a correlated Gaussian in 3 dimensions."""
    rng = np.random.default_rng(seed)
    mixing = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.1, 0.2, 0.3]])
    return np.expm1(1.0 + rng.standard_normal((n, 3)) @ mixing.T * 0.3)


def test_distance_is_the_mahalanobis_distance_of_log_features():
    train = _gaussian_features(4000, 0)
    stats = familiarity.fit(train, "gap", shrinkage=0.0)
    logged = np.log1p(train)
    inverse = np.linalg.inv(np.cov(logged, rowvar=False))
    probe = _gaussian_features(5, 1)
    centred = np.log1p(probe) - logged.mean(axis=0)
    expected = np.sqrt(np.einsum("ij,jk,ik->i", centred, inverse, centred))
    np.testing.assert_allclose(stats.distances(probe), expected, rtol=2e-3)  # kept in float32, as shipped
    assert stats.distances(np.expm1(logged.mean(axis=0))[None])[0] == pytest.approx(0.0, abs=1e-3)


def test_threshold_and_false_alarm_rate_on_the_same_kind_and_far_away():
    stats = familiarity.fit(_gaussian_features(4000, 0), "gap")
    stats = familiarity.calibrate(stats, _gaussian_features(2000, 1), percentile=99.0)
    assert familiarity.false_alarm_rate(stats, _gaussian_features(4000, 2)) == pytest.approx(0.01, abs=0.006)
    far = _gaussian_features(50, 3) * 20  # the same shape of cloud, far from the training one
    assert not stats.familiar(far).any()


def test_record_round_trip_keeps_the_numbers():
    stats = familiarity.calibrate(familiarity.fit(_gaussian_features(500, 0), "gap"), _gaussian_features(200, 1), 95)
    back = familiarity.Familiarity.from_record(stats.to_record())
    probe = _gaussian_features(20, 4)
    np.testing.assert_allclose(back.distances(probe), stats.distances(probe), rtol=1e-5)
    assert back.layer == "gap" and back.threshold == pytest.approx(stats.threshold, rel=1e-5)


def test_models_without_a_record_make_no_claim():
    assert familiarity.for_model("vgg16") is None and familiarity.for_model("no such model") is None
    record = shapes.familiarity_record()
    assert record["threshold"] > 0 and 0 < record["false_alarm_rate"] < 0.05
    assert shapes.info()["test_accuracy"] > 0.95  # the training record's fields are still there


# ---- the shipped Shapes record on real pictures -----------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    from explainers.models import load_model

    return load_model("shapes")


def _picture(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_every_shipped_shapes_example_is_familiar(trained):
    paths = [p for p in sorted((EXAMPLES / "shapes").glob("*.png")) if not p.name.endswith(".mask.png")]
    assert len(paths) == len(shapes.CLASSES)
    for path in paths:
        found = familiarity.check(trained, _picture(path))
        assert found["familiar"], (path.name, found)


def test_photos_and_photo_like_pictures_are_flagged(trained):
    photos = sorted(EXAMPLES.glob("*.jpg"))
    assert len(photos) >= 3
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (200, 300, 3)).astype(np.uint8)  # a fine texture
    for name, picture in [*[(p.name, _picture(p)) for p in photos], ("noise", noise)]:
        found = familiarity.check(trained, picture)
        assert not found["familiar"], (name, found)
        assert found["distance"] > found["threshold"]


def test_random_weights_make_no_claim():
    from explainers.models import load_model

    assert familiarity.check(load_model("shapes", weights=None), _picture(EXAMPLES / "coffee.jpg")) is None


def test_the_script_reproduces_the_recorded_false_alarm_rate(trained):
    spec = importlib.util.spec_from_file_location("calibrate", ROOT / "scripts" / "calibrate_shapes_familiarity.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    record = shapes.familiarity_record()
    count = 400  # the first pictures of the recorded false-alarm set: their rate is within chance of the record's
    rate = script.measured_false_alarm_rate(
        trained, familiarity.for_model("shapes"), record["pictures"]["false_alarms"]["seed"], count
    )
    recorded = record["false_alarm_rate"]
    assert abs(rate - recorded) <= 3 * np.sqrt(recorded * (1 - recorded) / count) + 1 / count


def test_the_service_answers_whether_a_picture_is_of_the_model_kind(tmp_path):
    import json

    from service import ExplainerService
    from service.wire import from_wire, to_wire

    svc = ExplainerService(tmp_path, weights="imagenet")
    star = svc.add_image((EXAMPLES / "shapes" / "star.png").read_bytes())
    coffee = svc.add_image((EXAMPLES / "coffee.jpg").read_bytes())
    found = svc.familiarity(coffee, "shapes")
    assert found["familiar"] is False and found["classes"] == list(shapes.CLASSES)
    assert found["threshold"] == pytest.approx(shapes.familiarity_record()["threshold"])
    assert svc.familiarity(star, "shapes")["familiar"] is True
    assert svc.familiarity(coffee, "shapes") == found  # from the cache, the same answer
    assert from_wire(json.loads(json.dumps(to_wire(found)))) == found  # travels to a Celery worker and back
    assert svc.familiarity(coffee, "vgg16") is None  # no record: no claim (and no model loaded for it)
    assert svc.familiarity(coffee, "shapes", weights="random") is None
