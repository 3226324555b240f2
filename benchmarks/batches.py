"""Seconds for a fixed number of samples through one kind of pass, by chunk size, with and without XLA.

    .venv/bin/python benchmarks/batches.py --model resnet50 --jit 1 --chunks 1,4,8,16 [--forward]

The numbers behind ``CPU_CHUNK`` (explainers/batching.py) and ``ModelSpec.jit_batches``: 16 input
gradients (or, with ``--forward``, 32 forward passes) of random pictures, run in chunks of each size
through the engine's batched pass; each chunk size warmed once, then the best of two runs. Run it once
per ``--jit`` value (XLA is chosen when the engine is built). Weights are seeded random (speed does not
depend on their values).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--jit", choices=["0", "1"], default="1", help="XLA off (0) or on (1) for the batches")
    parser.add_argument("--chunks", default="1,4,8,16", help="comma-separated chunk sizes")
    parser.add_argument("--forward", action="store_true", help="forward passes (occlusion, RISE) instead of gradients")
    args = parser.parse_args()
    os.environ["EXPLAINERS_JIT"] = args.jit

    import numpy as np

    from explainers.models import load_model
    from explainers.passes import PassKey

    model = load_model(args.model, weights=None)
    total = 32 if args.forward else 16
    size = model.input_size
    inputs = np.random.default_rng(0).normal(0, 50, (total, size, size, 3)).astype(np.float32)
    targets = np.full(total, 281 % len(model.labels), np.int32)
    key = PassKey() if args.forward else PassKey(None, input_grads=True)
    what = "forward passes" if args.forward else "input gradients"
    print(f"| {model.title}, XLA {'on' if args.jit == '1' else 'off'}: chunk | seconds for {total} {what} |")
    print("|---:|---:|")
    for chunk in [int(c) for c in args.chunks.split(",")]:
        model.engine.run(key, inputs[:chunk], targets[:chunk], batched=True)  # trace / compile this shape
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            for start in range(0, total, chunk):
                model.engine.run(key, inputs[start:start + chunk], targets[start:start + chunk], batched=True)
            runs.append(time.perf_counter() - started)
        print(f"| {chunk} | {min(runs):.2f} |", flush=True)


if __name__ == "__main__":
    main()
