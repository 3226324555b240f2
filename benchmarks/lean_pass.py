"""DeconvNet's pass over one picture without its logits (``PassKey.logits=False``, ``Engine.lean``)
against the same pass with them, alternated in one process.

    .venv/bin/python benchmarks/lean_pass.py --model resnet50

Under DeconvNet's rule a ReLU's backward pass never reads its forward input, so a pass that returns
only the input gradients of a given class needs the forward pass only where max pooling keeps its
switches; TensorFlow drops the rest when the pass's shapes are fixed and nothing else is returned.
Seeded random weights (timings do not depend on weight values), the cat photo, class 281, through the
public ``explain``; the one-picture passes are first tuned as the server does at start (XLA or graph
mode). Each way runs twice untimed, then the two take turns (the order flipping every round) for
``--repeat`` rounds; prints every call's seconds, the medians, their ratio and the largest difference
between the two ways' maps (relative to the map's largest value). The lean call returns its top-5
unread, as the benchmark against the peers does (read, it costs one forward pass).
"""

from __future__ import annotations

import argparse

import numpy as np

from ab import alternate, cat_photo, print_table, tuned_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    from explainers import explain
    from explainers.engine import Engine

    model = tuned_model(args.model)
    photo = cat_photo()
    lean = Engine.lean

    def call(way: str):
        Engine.lean = lean if way == "lean" else (lambda self, key: False)
        try:
            return explain(model, photo, "deconvnet", target=281)
        finally:
            Engine.lean = lean

    ways = ("lean", "with logits")
    times = alternate(call, ways, args.repeat)
    a, b = call("lean").heatmap, call("with logits").heatmap
    difference = float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-30))
    medians = print_table(f"DeconvNet on {args.model}, median of {args.repeat} alternated calls", "pass", times, {})
    print(
        f"\nlean ÷ with logits: {medians['lean'] / medians['with logits']:.2f}; largest map difference: {difference:.1e}"
    )


if __name__ == "__main__":
    main()
