"""Calibrate the Shapes model's familiarity check and write it into explainers/data/shapes.json.

    .venv/bin/python scripts/calibrate_shapes_familiarity.py            # the shipped record came from this

Three sets of generated pictures (``explainers.shapes.generate``), none of them new to the record:
the statistics (mean and shrunk covariance of the log1p of the pooled ``gap`` features) come from the
first pictures of the *training* set the weights were trained on; the threshold is a percentile of the
distances of the *validation* set (held out from training); the false-alarm rate, the share of
pictures of the training kind that the threshold flags as unfamiliar, is measured on the *test* set,
which neither the weights nor the threshold saw. Only the "familiarity" entry of shapes.json changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explainers import familiarity, shapes  # noqa: E402  (no TensorFlow yet)

LAYER = "gap"  # the global average pooling of conv5, right before the logits
PERCENTILE = 99.0


def features(model, seed: int, count: int) -> np.ndarray:
    """Pooled features of pictures 0 .. count - 1 of the generated set ``seed``."""
    return familiarity.pooled_features(model, shapes.generate(count, seed).images, LAYER)


def measured_false_alarm_rate(model, statistics: familiarity.Familiarity, seed: int, count: int) -> float:
    """The share of the first ``count`` pictures of set ``seed`` that ``statistics`` flags."""
    return familiarity.false_alarm_rate(statistics, features(model, seed, count))


def calibrate(
    model, sets: dict[str, dict[str, int]], train: int, calibration: int, alarms: int, percentile: float = PERCENTILE
) -> dict[str, Any]:
    """The "familiarity" record: statistics, threshold, false-alarm rate and how they were made."""
    statistics = familiarity.fit(features(model, sets["train"]["seed"], train), LAYER)
    statistics = familiarity.calibrate(statistics, features(model, sets["val"]["seed"], calibration), percentile)
    # what is shipped is what is measured: the record's own (float32, rounded) numbers decide the rate
    statistics = familiarity.Familiarity.from_record(statistics.to_record())
    rate = measured_false_alarm_rate(model, statistics, sets["test"]["seed"], alarms)
    record = familiarity.Familiarity(
        statistics.layer, statistics.mean, statistics.whitening, statistics.threshold, round(rate, 4)
    ).to_record()
    record.update(
        {
            "percentile": percentile,
            "shrinkage": familiarity.SHRINKAGE,
            "pictures": {
                "statistics": {"seed": sets["train"]["seed"], "size": train},
                "threshold": {"seed": sets["val"]["seed"], "size": calibration},
                "false_alarms": {"seed": sets["test"]["seed"], "size": alarms},
            },
            "command": f"python scripts/calibrate_shapes_familiarity.py --train {train} "
            f"--calibration {calibration} --false-alarms {alarms}",
        }
    )
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=3000, help="training pictures for the statistics (default 3000)")
    parser.add_argument(
        "--calibration", type=int, default=1000, help="validation pictures that set the threshold (default 1000)"
    )
    parser.add_argument(
        "--false-alarms", type=int, default=2000, help="test pictures that measure the false-alarm rate (default 2000)"
    )
    parser.add_argument("--out", type=Path, default=shapes.INFO_PATH, help="the record to update (default shapes.json)")
    args = parser.parse_args(argv)
    info = json.loads(args.out.read_text(encoding="utf-8"))
    from explainers.models import load_model

    model = load_model("shapes")
    record = calibrate(model, info["sets"], args.train, args.calibration, args.false_alarms)
    info["familiarity"] = record
    args.out.write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"threshold {record['threshold']:.3f} (the {PERCENTILE:g}th percentile of {args.calibration} validation "
        f"pictures); false-alarm rate {record['false_alarm_rate']:.2%} on {args.false_alarms} test pictures; "
        f"wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
