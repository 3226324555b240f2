"""The layer sweep (Grad-CAM at every block from one recording pass) against one Grad-CAM map at the
last block, alternated in one process.

    .venv/bin/python benchmarks/sweep.py --model vgg16

Goal: the VGG16 sweep (five blocks) costs at most 1.5 × one Grad-CAM; also timed: the same maps as one
Grad-CAM call per block. Seeded random weights (timings
do not depend on weight values), the cat photo, class 281, both through the public API
(``explainers.sweep`` and ``explain(..., "grad_cam")``, resizing and preprocessing inside the call);
the one-picture passes are first tuned as the server does at start. Each way runs twice untimed, then
the two take turns (the order flipping every round) for ``--repeat`` rounds; prints every call's
seconds, the medians, their ratio, and the largest difference between the sweep's last map and the
Grad-CAM map (relative to the map's largest value).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from ab import alternate, cat_photo, print_table, tuned_model

GOAL = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from explainers import explain, sweep, sweep_layers

    model = tuned_model(args.model)
    photo = cat_photo()
    blocks = sweep_layers(model)
    calls = {
        "sweep": lambda: sweep(model, photo, target=281),
        "grad_cam": lambda: explain(model, photo, "grad_cam", target=281),
        "separate": lambda: [explain(model, photo, "grad_cam", target=281, layer=layer) for layer in blocks],
    }
    times = alternate(lambda way: calls[way](), tuple(calls), args.repeat)
    found = calls["sweep"]()
    alone = calls["grad_cam"]().heatmap
    difference = float(np.abs(found.heatmaps[-1] - alone).max() / max(float(np.abs(alone).max()), 1e-30))
    labels = {
        "sweep": f"sweep: Grad-CAM at {len(found.layers)} blocks ({', '.join(found.layers)})",
        "grad_cam": f"one Grad-CAM ({found.layers[-1]})",
        "separate": f"{len(blocks)} Grad-CAM calls, one per block",
    }
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPU cores, load "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
    )
    medians = print_table(
        f"Layer sweep on {args.model}, median of {args.repeat} alternated calls", "call", times, labels
    )
    ratio = medians["sweep"] / medians["grad_cam"]
    print(
        f"\nsweep ÷ one Grad-CAM: {ratio:.2f} (goal ≤ {GOAL}: {'met' if ratio <= GOAL else 'NOT met'}); "
        f"sweep ÷ one call per block: {medians['sweep'] / medians['separate']:.2f}; "
        f"largest difference of the last map: {difference:.1e}"
    )


if __name__ == "__main__":
    main()
