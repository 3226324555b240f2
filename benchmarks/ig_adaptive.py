"""Adaptive integrated gradients (``until="stable"``): the steps it used and the completeness error it
reached, per architecture, next to the fixed 32-step Gauss–Legendre rule.

    .venv/bin/python benchmarks/ig_adaptive.py [--models vgg16 resnet50 inception_v3] [--budget 127]
        [--seconds 300] [--write]

Seeded random weights (no ImageNet weights on this machine) and a seeded random picture, the model's
top-1 class. ``--write`` puts the table into docs/benchmarks.md (between its ig-adaptive markers).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vgg16", "resnet50", "inception_v3"])
    parser.add_argument("--budget", type=int, default=127, help="most gradient evaluations (steps) per map")
    parser.add_argument("--seconds", type=float, default=300.0, help="most seconds per map")
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()

    import numpy as np

    from benchmarks.doc_table import replace_section
    from explainers import explain, load_model

    picture = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    began = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"Run {began} with `.venv/bin/python benchmarks/ig_adaptive.py --budget {args.budget} "
        f"--seconds {args.seconds:g} --write`: seeded **random weights**, a seeded random picture, the top-1 "
        f"class, black baseline. Adaptive: `until=\"stable\"` (nested open-trapezoid nodes 7, 15, 31, 63, ... "
        f"with one Richardson step, every gradient reused; stops at ≤ 1 % completeness error with a map "
        f"agreeing with the previous level's at ρ ≥ 0.99 (32 × 32), "
        f"or at the budget of {args.budget} steps / {args.seconds:g} s).",
        "",
        "| model | adaptive: steps used | adaptive: completeness error | stopped | seconds | "
        "fixed 32-step Gauss–Legendre: error | seconds |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for name in args.models:
        model = load_model(name, weights=None)
        # the fixed rule first: it compiles the gradient pass both use, which adaptive's seconds should not count
        fixed = explain(model, picture, "integrated_gradients")
        adaptive = explain(
            model, picture, "integrated_gradients", until="stable", steps=args.budget, max_seconds=args.seconds
        )
        meta = adaptive.meta
        reached = "steps" if meta.get("budget") == "samples" else "time"
        stopped = f"budget ({reached})" if meta["budget_reached"] else "≤ 1 % and stable"
        lines.append(
            f"| {model.title} | {meta['steps']} | {meta['completeness_error']:.2%} | {stopped} | "
            f"{adaptive.seconds:.0f} | {fixed.meta['completeness_error']:.2%} | {fixed.seconds:.0f} |"
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section(ROOT / "docs" / "benchmarks.md", "ig-adaptive", text)


if __name__ == "__main__":
    main()
