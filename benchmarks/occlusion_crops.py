"""Occlusion with the first layers on crops around each patch (explainers/locality.py) against full passes.

    .venv/bin/python benchmarks/occlusion_crops.py [--models vgg16 resnet50 inception_v3] [--repeats 3]

Prints a markdown table per model and setting: the layer the crops stop at, the crop size and the
estimated cost (a fraction of a full pass per covered copy), then the median seconds of ``--repeats``
warm runs with crops and with full passes, alternated in one process, their ratio, and the largest
difference between the two maps relative to the map's largest value. Weights are seeded random.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETTINGS = [(32, 32), (112, 112), (16, 16)]  # the goal's setting, the quick preview's, a fine map


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vgg16", "resnet50", "inception_v3"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np

    from explainers import explain, load_model
    from explainers.engine import engine_for
    from explainers.images import decode
    from explainers.methods.occlusion import positions

    image = decode((ROOT / "assets" / "examples" / "chelsea.jpg").read_bytes())
    print(f"median of {args.repeats} warm runs each, crops and full passes alternated; seeded random weights\n")
    print(
        "| model | patch / stride | patches | crops stop after | crop | est. cost | crops s | full s | ratio |"
        " max map diff |"
    )
    print("|---|---|---:|---|---|---:|---:|---:|---:|---:|")
    for name in args.models:
        model = load_model(name, weights=None)
        picture = model.prepare(image)
        engine = engine_for(model)
        for patch, stride in SETTINGS:
            starts = positions(model.input_size, patch, stride)
            plan = engine.local_plan((patch, patch), starts, starts)
            times = {True: [], False: []}
            maps = {}

            def run(local: bool) -> None:
                engine.reuse_layers = local
                started = time.perf_counter()
                maps[local] = explain(model, picture, "occlusion", target=281, patch=patch, stride=stride).heatmap
                times[local].append(time.perf_counter() - started)

            for local in (True, False):  # warm: trace once each
                run(local)
                times[local].clear()
            for _ in range(args.repeats):
                for local in (True, False):
                    run(local)
            engine.reuse_layers = True
            crops, full = statistics.median(times[True]), statistics.median(times[False])
            diff = float(np.abs(maps[True] - maps[False]).max() / max(np.abs(maps[False]).max(), 1e-30))
            where = (
                f"{plan.layer} | {plan.crop[0]}×{plan.crop[1]} | {plan.cost:.2f}"
                if plan
                else "— (full passes are as cheap) | — | 1.00"
            )
            print(
                f"| {model.title} | {patch} / {stride} | {len(starts) ** 2} | {where} | {crops:.2f} | {full:.2f} |"
                f" {crops / full:.2f} | {diff:.0e} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
