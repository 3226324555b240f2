"""Warm times of the multi-pass methods at the settings the speed goals name, VGG16 224×224, batch 1.

    .venv/bin/python benchmarks/multipass.py [--model vgg16] [--repeats 3]

Prints a markdown table: median seconds of ``--repeats`` warm runs (each setting run once first, so
tracing and XLA compiles are not counted) and the same as a ratio to a graph-mode forward pass
measured in the same run. Peer libraries are not installed here, so no peer column.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from explainers import explain, load_model
    from explainers._tf import tf
    from explainers.compile_policy import GRADIENT_BATCHES
    from explainers.engine import engine_for
    from explainers.images import decode

    model = load_model(args.model, weights=None)
    cat = model.prepare(decode((ROOT / "assets" / "examples" / "chelsea.jpg").read_bytes()))
    graph_forward = tf.function(lambda x: model.keras(x, training=False))
    inputs = tf.constant(model.preprocess(cat[None]))
    rows = [
        ("SmoothGrad, 16 samples", "smoothgrad", {"n_samples": 16}),
        ("integrated gradients, 16 steps (Gauss–Legendre)", "integrated_gradients", {"steps": 16}),
        ("integrated gradients, 32 steps (the default)", "integrated_gradients", {}),
        ("occlusion, 32-px patches, stride 32", "occlusion", {"patch": 32, "stride": 32}),
        ("Score-CAM (fast), top 32 channels", "score_cam_fast", {}),
        ("RISE, 500 masks", "rise", {}),
        ("LIME, 256 samples", "lime", {}),
    ]

    def timed(fn) -> float:
        fn()
        samples = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    forward = timed(lambda: graph_forward(inputs).numpy())
    xla = engine_for(model).policy.xla[GRADIENT_BATCHES]
    print(
        f"{model.title}, {model.input_size}×{model.input_size}, batch 1, {model.device}, XLA "
        f"{'on' if xla else 'off'} for the samples' batches, median of {args.repeats} warm runs; "
        f"forward pass = {forward * 1000:.0f} ms\n"
    )
    print("| method and settings | seconds | × forward |")
    print("|---|---:|---:|")
    for label, method, settings in rows:
        seconds = timed(lambda: explain(model, cat, method, target=281, **settings))
        print(f"| {label} | {seconds:.1f} | {seconds / forward:.0f} |", flush=True)


if __name__ == "__main__":
    main()
