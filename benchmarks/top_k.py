"""The top k classes' maps from one Jacobian pass (``explain_top_k``) against one map (``explain``),
alternated in one process, for Grad-CAM and vanilla gradient.

    .venv/bin/python benchmarks/top_k.py --model vgg16 --k 3

Seeded random weights (timings do not depend on weight values), the cat photo, through the public API;
the one-picture passes are first tuned as the server does at start (XLA or graph mode). For each method
the two calls run twice untimed, then take turns (the order flipping every round) for ``--repeat``
rounds; prints every call's seconds, the medians and their ratio (the goal: k = 3 at most 1.5 × one map).
"""

from __future__ import annotations

import argparse

from ab import alternate, cat_photo, print_table, tuned_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--methods", default="grad_cam,vanilla_gradient")
    args = parser.parse_args()

    from explainers import explain, explain_top_k

    model = tuned_model(args.model)
    photo = cat_photo()
    ratios = {}
    for method in args.methods.split(","):

        def call(way: str, method=method):
            if way == "one map":
                return explain(model, photo, method, target=281).heatmap
            return [e.heatmap for e in explain_top_k(model, photo, method, k=args.k)]

        ways = ("one map", f"top {args.k}")
        times = alternate(call, ways, args.repeat)
        medians = print_table(f"{method} on {args.model}, median of {args.repeat} alternated calls", "call", times, {})
        ratios[method] = medians[ways[1]] / medians[ways[0]]
        print()
    for method, ratio in ratios.items():
        print(f"{method}: top {args.k} ÷ one map = {ratio:.2f}")


if __name__ == "__main__":
    main()
