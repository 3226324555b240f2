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

import numpy as np

from ab import alternate, cat_photo, print_table, tuned_model

DEFAULT_VIEW = ["grad_cam", "guided_grad_cam", "vanilla_gradient", "gradient_x_input"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from explainers import explain_all
    from explainers.engine import Engine

    model = tuned_model(args.model)
    photo = cat_photo()
    sharing = Engine.shares_forward

    def call(way: str):
        Engine.shares_forward = sharing if way == "shared" else (lambda self, rules: False)
        try:
            return explain_all(model, photo, DEFAULT_VIEW, target=281)
        finally:
            Engine.shares_forward = sharing

    ways = ("shared", "separate")
    times = alternate(call, ways, args.repeat)
    shared, separate = call("shared"), call("separate")
    difference = max(
        float(
            np.abs(shared[m].heatmap - separate[m].heatmap).max() / max(float(np.abs(separate[m].heatmap).max()), 1e-30)
        )
        for m in DEFAULT_VIEW
    )
    labels = {"shared": "on the plain pass's forward pass", "separate": "a pass of its own"}
    medians = print_table(
        f"default view on {args.model}, median of {args.repeat} alternated calls", "guided backward pass", times, labels
    )
    print(
        f"\nshared ÷ separate: {medians['shared'] / medians['separate']:.2f}; largest map difference: {difference:.1e}"
    )


if __name__ == "__main__":
    main()
