"""CNN Fixations' time per map on every registry model, next to one vanilla-gradient map.

    .venv/bin/python benchmarks/cnn_fixations.py [--repeat 3] [--max-neurons 500]

Seeded random weights for the ImageNet models (``weights=None``: the time does not depend on the weight
values, the number of fixations does), the shipped weights for Shapes; the cat photo; the top-1 class,
through the public ``explain``. The first call of each model (which builds the recording model) is
timed apart; then ``--repeat`` calls, median. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time

from ab import cat_photo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-neurons", type=int, default=500)
    parser.add_argument("--models", default="shapes,vgg16,resnet50,inception_v3")
    args = parser.parse_args()

    from explainers import explain
    from explainers.models import load_model

    photo = cat_photo()
    print("| model | first map (s) | later maps, median (s) | fixations | vanilla gradient, median (s) |")
    print("|---|---:|---:|---:|---:|")
    for name in args.models.split(","):
        model = load_model(name, weights="imagenet" if name == "shapes" else None, seed=0)

        def seconds(method: str, **settings) -> tuple[float, object]:
            started = time.perf_counter()
            e = explain(model, photo, method, **settings)
            return time.perf_counter() - started, e

        first, e = seconds("cnn_fixations", max_neurons=args.max_neurons)
        later = [seconds("cnn_fixations", max_neurons=args.max_neurons)[0] for _ in range(args.repeat)]
        seconds("vanilla_gradient")
        gradient = [seconds("vanilla_gradient")[0] for _ in range(args.repeat)]
        print(
            f"| {name} | {first:.2f} | {statistics.median(later):.2f} | {len(e.meta['points'])} "
            f"| {statistics.median(gradient):.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
