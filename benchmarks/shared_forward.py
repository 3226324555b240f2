"""The default view (Grad-CAM, guided Grad-CAM, vanilla gradient, gradient × input) with the guided
backward pass built on the plain pass's forward pass (``PassKey.also``) against a guided pass of its
own, alternated in one process.

    .venv/bin/python benchmarks/shared_forward.py --model vgg16

Seeded random weights (timings do not depend on weight values), the cat photo, class 281, through
the public ``explain_all``. The one-picture passes are first tuned as the server does at start
(XLA or graph mode, ``Engine.tune_passes``). Each way runs twice untimed, then the two take turns
(the order flipping every round) for ``--repeat`` rounds; prints every call's seconds, the medians,
their ratio, and the largest difference between the two ways' maps (relative to each map's largest
value).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_VIEW = ["grad_cam", "guided_grad_cam", "vanilla_gradient", "gradient_x_input"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from explainers import explain_all, load_model
    from explainers.engine import Engine
    from explainers.images import decode

    model = load_model(args.model, weights=None)
    tuned = model.engine.tune_passes()
    if tuned:
        print(f"one-picture passes: XLA {tuned[True]:.3f} s, graph mode {tuned[False]:.3f} s; kept "
              f"{'XLA' if model.engine.jit_compile else 'graph mode'}")
    photo = decode((ROOT / "assets" / "examples" / "chelsea.jpg").read_bytes())
    sharing = Engine.shares_forward

    def call(way: str):
        Engine.shares_forward = sharing if way == "shared" else (lambda self, rules: False)
        try:
            started = time.perf_counter()
            maps = explain_all(model, photo, DEFAULT_VIEW, target=281)
            return time.perf_counter() - started, maps
        finally:
            Engine.shares_forward = sharing

    ways = ("shared", "separate")
    for way in ways:
        call(way)
        call(way)
    times: dict[str, list[float]] = {way: [] for way in ways}
    for round_ in range(args.repeat):
        for way in ways if round_ % 2 == 0 else ways[::-1]:
            times[way].append(call(way)[0])
    shared, separate = call("shared")[1], call("separate")[1]
    difference = max(float(np.abs(shared[m].heatmap - separate[m].heatmap).max()
                           / max(float(np.abs(separate[m].heatmap).max()), 1e-30)) for m in DEFAULT_VIEW)
    medians = {way: statistics.median(times[way]) for way in ways}
    print(f"default view on {args.model}, median of {args.repeat} alternated calls\n")
    print("| guided backward pass | calls (s) | median (s) |")
    print("|---|---|---:|")
    labels = {"shared": "on the plain pass's forward pass", "separate": "a pass of its own"}
    for way in ways:
        print(f"| {labels[way]} | {', '.join(f'{t:.2f}' for t in times[way])} | {medians[way]:.3f} |")
    print(f"\nshared ÷ separate: {medians['shared'] / medians['separate']:.2f}; largest map difference: {difference:.1e}")


if __name__ == "__main__":
    main()
