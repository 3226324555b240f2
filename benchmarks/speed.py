"""Speed of the one-pass methods as ratios to a graph-mode forward pass measured in the same run.

    .venv/bin/python benchmarks/speed.py [--model vgg16] [--repeats 7]

Prints a markdown table. Weights are seeded random (speed does not depend on their values). Every
timing is warm (traced and run once first) and the median of ``--repeats`` runs; the reference forward
pass is re-measured between rows and the ratio uses the median of all forward timings, so slow drift of
a shared machine affects both sides alike. Absolute seconds are printed for context only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def timed(fn, repeats: int) -> float:
    fn()  # warm: trace and run once
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--jit",
        choices=["model", "on", "off"],
        default="model",
        help="XLA for the passes: the model's own choice (default), or forced on/off",
    )
    args = parser.parse_args()
    if args.jit != "model":
        os.environ["EXPLAINERS_JIT"] = "1" if args.jit == "on" else "0"

    from explainers import explain, explain_all, load_model
    from explainers._tf import tf
    from explainers.compile_policy import ONE_PICTURE
    from explainers.engine import engine_for

    model = load_model(args.model, weights=None)
    image = np.random.default_rng(0).integers(0, 256, (model.input_size, model.input_size, 3), dtype=np.uint8)
    inputs = tf.constant(model.preprocess(image[None]))
    graph_forward = tf.function(lambda x: model.keras(x, training=False))

    def forward():
        graph_forward(inputs).numpy()

    trio = ["grad_cam", "vanilla_gradient", "gradient_x_input"]
    rows = [
        ("Grad-CAM", lambda: explain(model, image, "grad_cam")),
        ("vanilla gradient", lambda: explain(model, image, "vanilla_gradient")),
        ("gradient × input", lambda: explain(model, image, "gradient_x_input")),
        ("guided backprop", lambda: explain(model, image, "guided_backprop")),
        ("guided Grad-CAM", lambda: explain(model, image, "guided_grad_cam")),
        ("Grad-CAM++", lambda: explain(model, image, "grad_cam_plus_plus")),
        ("explain_all(Grad-CAM, vanilla, grad × input)", lambda: explain_all(model, image, trio)),
        ("the same three as separate explain calls", lambda: [explain(model, image, m) for m in trio]),
    ]
    forwards = [timed(forward, args.repeats)]
    results = []
    for label, fn in rows:
        results.append((label, timed(fn, args.repeats)))
        forwards.append(timed(forward, args.repeats))
    reference = statistics.median(forwards)
    print(
        f"{model.title}, {model.input_size}×{model.input_size}, batch 1, {model.device}, "
        f"XLA {'on' if engine_for(model).policy.xla[ONE_PICTURE] else 'off'}, "
        f"median of {args.repeats} warm runs; graph-mode forward pass = {reference * 1000:.0f} ms\n"
    )
    print("| what | ms | × forward |")
    print("|---|---:|---:|")
    print(f"| forward pass (graph mode, reference) | {reference * 1000:.0f} | 1.00 |")
    for label, seconds in results:
        print(f"| {label} | {seconds * 1000:.0f} | {seconds / reference:.2f} |")


if __name__ == "__main__":
    main()
