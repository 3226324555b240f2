"""Integrated gradients' completeness error by quadrature rule and step count, per architecture.

    .venv/bin/python benchmarks/ig_completeness.py [--models vgg16 resnet50 inception_v3] [--steps 16 32 64]

Seeded random weights, the example cat photo, the model's top-1 class. Prints a markdown table of
|Σ attributions − (f(x) − f(x′))| / |f(x) − f(x′)| (0 in theory) and the seconds each took.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vgg16", "resnet50", "inception_v3"])
    parser.add_argument("--steps", nargs="+", type=int, default=[16, 32, 64])
    args = parser.parse_args()

    from explainers import explain, load_model
    from explainers.images import decode
    from explainers.methods.integrated_gradients import QUADRATURES

    cat = decode((ROOT / "assets" / "examples" / "chelsea.jpg").read_bytes())
    steps = " / ".join(map(str, args.steps))
    print(f"completeness error (and seconds), steps {steps}, cat photo, top-1 class, random weights\n")
    print("| model | " + " | ".join(QUADRATURES) + " |")
    print("|---|" + "---|" * len(QUADRATURES))
    for name in args.models:
        model = load_model(name, weights=None)
        cells = []
        for rule in QUADRATURES:
            runs = [explain(model, cat, "integrated_gradients", steps=n, quadrature=rule) for n in args.steps]
            cells.append(" / ".join(f"{e.meta['completeness_error']:.2%} ({e.seconds:.0f} s)" for e in runs))
        print(f"| {model.title} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
