"""Is a picture of the kind a model was trained on? A distance to the training pictures' features.

A classifier answers every picture with one of its classes, and its softmax confidence says nothing
about whether the picture belongs there: the Shapes demo calls a coffee cup "crescent" at 99.6 %.
What does tell is where the picture's features lie. For a model that ships the statistics of its
training pictures (their globally pooled last-convolution features: mean and shrunk covariance, after
``log1p``, which makes the rectified features closer to Gaussian), a picture is *familiar* when the
Mahalanobis distance of its own pooled features to that mean stays within a threshold. The threshold is
calibrated on held-out pictures of the training kind (a high percentile of their distances), and the
rate at which it wrongly flags yet other held-out pictures (its false-alarm rate) is measured and kept
beside it (``scripts/calibrate_shapes_familiarity.py`` writes both into ``explainers/data/shapes.json``).

The arithmetic here is plain numpy; ``pooled_features`` runs the model's forward pass to the pooling
layer through its engine (TensorFlow is imported by the engine, not here).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from explainers.pass_keys import TOP1, PassKey

if TYPE_CHECKING:  # pragma: no cover
    from explainers.models import ExplainableModel

SHRINKAGE = 0.01  # share of the mean variance added to the covariance's diagonal: a stable inverse
CHUNK = 256  # pictures per forward pass when features of many pictures are computed


@dataclass(frozen=True)
class Familiarity:
    """The training pictures' feature statistics at ``layer`` and the calibrated threshold.

    ``distances(features)`` is ``|whitening @ (log1p(features) - mean)|``: with ``whitening`` the
    transposed Cholesky factor of the inverse shrunk covariance, that is the Mahalanobis distance.
    """

    layer: str
    mean: np.ndarray  # (d,) float32
    whitening: np.ndarray  # (d, d) float32
    threshold: float = float("inf")
    false_alarm_rate: float | None = None

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distances of rows of pooled ``features`` (n, d) to the training pictures'."""
        centred = np.log1p(np.maximum(np.asarray(features, np.float64), 0.0)) - self.mean
        return np.linalg.norm(centred @ self.whitening.astype(np.float64).T, axis=1)

    def familiar(self, features: np.ndarray) -> np.ndarray:
        """True where a picture's features lie within the threshold."""
        return self.distances(features) <= self.threshold

    def to_record(self) -> dict[str, Any]:
        """The statistics as JSON-ready data (the matrix as base64 float32, little-endian, row-major)."""
        return {
            "layer": self.layer,
            "distance": "mahalanobis of log1p(pooled features)",
            "mean": [round(float(v), 7) for v in self.mean],
            "whitening": {
                "dtype": "<f4",
                "shape": list(self.whitening.shape),
                "base64": base64.b64encode(self.whitening.astype("<f4").tobytes()).decode("ascii"),
            },
            "threshold": round(float(self.threshold), 5),
            "false_alarm_rate": self.false_alarm_rate,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Familiarity:
        matrix = record["whitening"]
        whitening = np.frombuffer(base64.b64decode(matrix["base64"]), dtype=matrix["dtype"])
        return cls(
            layer=str(record["layer"]),
            mean=np.asarray(record["mean"], np.float32),
            whitening=whitening.reshape(matrix["shape"]).astype(np.float32),
            threshold=float(record.get("threshold", float("inf"))),
            false_alarm_rate=record.get("false_alarm_rate"),
        )


def fit(features: np.ndarray, layer: str, shrinkage: float = SHRINKAGE) -> Familiarity:
    """The statistics of the training pictures' pooled ``features`` (n, d), not yet calibrated."""
    logged = np.log1p(np.maximum(np.asarray(features, np.float64), 0.0))
    mean = logged.mean(axis=0)
    covariance = np.cov(logged, rowvar=False)
    covariance += shrinkage * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    lower = np.linalg.cholesky(np.linalg.inv(covariance))  # inverse = L Lᵀ, so dᵀ·inverse·d = |Lᵀ d|²
    return Familiarity(layer, mean.astype(np.float32), lower.T.astype(np.float32))


def calibrate(statistics: Familiarity, held_out: np.ndarray, percentile: float) -> Familiarity:
    """The same statistics with the threshold at ``percentile`` of held-out pictures' distances."""
    threshold = float(np.percentile(statistics.distances(held_out), percentile))
    return Familiarity(statistics.layer, statistics.mean, statistics.whitening, threshold)


def false_alarm_rate(statistics: Familiarity, held_out: np.ndarray) -> float:
    """The share of pictures of the training kind (other held-out ones) that the threshold flags."""
    return float((~statistics.familiar(held_out)).mean())


def pooled_features(model: ExplainableModel, images: np.ndarray, layer: str) -> np.ndarray:
    """The output of ``layer`` (a global pooling: (n, d)) for RGB uint8 pictures at the model's input size,
    from the model's own forward pass (``explainers.engine``), in chunks."""
    from explainers.engine import engine_for  # imports TensorFlow

    engine = engine_for(model)
    images = np.asarray(images)
    parts = []
    for start in range(0, len(images), CHUNK):
        inputs = model.preprocess(images[start : start + CHUNK])
        found = engine.run(PassKey(layer), inputs, np.full(len(inputs), TOP1, np.int32))
        parts.append(np.asarray(found.activations, np.float32).reshape(len(inputs), -1))
    return np.concatenate(parts)


@functools.cache
def for_model(name: str) -> Familiarity | None:
    """The shipped familiarity statistics of registry model ``name``, or None: a model without them
    (the ImageNet models) makes no claim about which pictures it knows."""
    from explainers.models import MODELS

    spec = MODELS.get(name)
    if spec is None or name != "shapes":  # the statistics are the honest Shapes model's
        return None
    from explainers import shapes

    record = shapes.familiarity_record()
    return None if record is None else Familiarity.from_record(record)


def check(model: ExplainableModel, image: np.ndarray) -> dict[str, Any] | None:
    """Whether one picture (RGB uint8, any size) looks like ``model``'s training pictures: ``{"familiar",
    "distance", "threshold", "false_alarm_rate"}``, or None for a model without statistics or with random
    weights (statistics of trained features say nothing about random ones)."""
    statistics = for_model(model.name)
    if statistics is None or model.random_weights:
        return None
    features = pooled_features(model, model.prepare(image)[None], statistics.layer)
    distance = float(statistics.distances(features)[0])
    return {
        "familiar": distance <= statistics.threshold,
        "distance": distance,
        "threshold": statistics.threshold,
        "false_alarm_rate": statistics.false_alarm_rate,
    }
