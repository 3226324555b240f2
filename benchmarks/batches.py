"""Seconds for a fixed number of samples through one kind of pass, by chunk size, with and without XLA.

    .venv/bin/python benchmarks/batches.py --model resnet50 --jit 1 --chunks 1,4,8,16 [--forward]
    .venv/bin/python benchmarks/batches.py --model vgg16 --alternate --chunks 8 [--forward] [--rounds 5]

The numbers behind ``CPU_CHUNK`` (explainers/batching.py) and the XLA guesses for batches
(``explainers.compile_policy.GUESSES``): 16 input gradients (or, with ``--forward``, 32 forward passes)
run in chunks of each size through the engine's batched pass. Weights are seeded random (speed does not depend on their
values).

- Default mode: random pictures; each chunk size warmed once, then the best of two runs; one run per
  ``--jit`` value (XLA is chosen when the engine is built), so the two settings run minutes apart.
- ``--alternate``: XLA and graph mode in one process, on the model's own kind of input (the cat photo
  under RISE masks for ``--forward``, noisy copies of it for gradients), taking turns for ``--rounds``
  rounds; prints every round and the medians. Rounds that ran slow for both (another job on the
  machine) show as such, which the default mode cannot tell apart from a real difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def alternate(args) -> None:
    import numpy as np

    from explainers.compile_policy import FORWARD_BATCHES, GRADIENT_BATCHES, CompilePolicy
    from explainers.engine import Engine
    from explainers.images import decode
    from explainers.methods.rise import random_masks
    from explainers.models import load_model
    from explainers.passes import PassKey

    model = load_model(args.model, weights=None)
    size, total = model.input_size, 32 if args.forward else 16
    picture = model.prepare(decode((ROOT / "assets" / "examples" / "chelsea.jpg").read_bytes())).astype(np.float32)
    if args.forward:
        inputs = model.preprocess(picture[None] * random_masks(total, (size, size), 7, 0.5, 0)[..., None])
    else:
        noise = np.random.default_rng(0).normal(0, 0.2 * model.input_range(), (total, size, size, 3))
        inputs = (model.preprocess(picture[None]) + noise).astype(np.float32)
    targets = np.full(total, 281 % len(model.labels), np.int32)
    key = PassKey() if args.forward else PassKey(None, input_grads=True)

    def engine(xla: bool) -> Engine:
        policy = CompilePolicy({**CompilePolicy().xla, GRADIENT_BATCHES: xla, FORWARD_BATCHES: xla})
        return Engine(model.keras, model.preprocess, model.default_layer, policy)

    engines = {f"XLA on, chunk {c}": (engine(True), c) for c in args.chunk_list}
    engines.update({f"XLA off, chunk {c}": (engine(False), c) for c in args.chunk_list})

    def once(compiled: Engine, chunk) -> float:
        started = time.perf_counter()
        for start in range(0, total, chunk):
            compiled.run(key, inputs[start : start + chunk], targets[start : start + chunk], batched=True)
        return time.perf_counter() - started

    for compiled, chunk in engines.values():
        once(compiled, chunk)  # trace / compile
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(args.rounds):
        for name, (compiled, chunk) in engines.items():
            times[name].append(once(compiled, chunk))
    what = "forward passes (masked photo)" if args.forward else "input gradients (noisy photo)"
    print(
        f"| {model.title}: {total} {what} | median s | "
        + " | ".join(f"round {i + 1}" for i in range(args.rounds))
        + " |"
    )
    print("|---|---:|" + "---:|" * args.rounds)
    for name, values in times.items():
        print(f"| {name} | {np.median(values):.2f} | " + " | ".join(f"{v:.2f}" for v in values) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--jit", choices=["0", "1"], default="1", help="XLA off (0) or on (1) for the batches")
    parser.add_argument("--chunks", default="1,4,8,16", help="comma-separated chunk sizes")
    parser.add_argument("--forward", action="store_true", help="forward passes (occlusion, RISE) instead of gradients")
    parser.add_argument("--alternate", action="store_true", help="XLA on and off in turns, in one process")
    parser.add_argument("--rounds", type=int, default=5, help="rounds for --alternate")
    args = parser.parse_args()
    args.chunk_list = [int(c) for c in args.chunks.split(",")]
    if args.alternate:
        alternate(args)
        return
    os.environ["EXPLAINERS_JIT"] = args.jit

    import numpy as np

    from explainers.engine import engine_for
    from explainers.models import load_model
    from explainers.passes import PassKey

    model = load_model(args.model, weights=None)
    engine = engine_for(model)
    total = 32 if args.forward else 16
    size = model.input_size
    inputs = np.random.default_rng(0).normal(0, 50, (total, size, size, 3)).astype(np.float32)
    targets = np.full(total, 281 % len(model.labels), np.int32)
    key = PassKey() if args.forward else PassKey(None, input_grads=True)
    what = "forward passes" if args.forward else "input gradients"
    print(f"| {model.title}, XLA {'on' if args.jit == '1' else 'off'}: chunk | seconds for {total} {what} |")
    print("|---:|---:|")
    for chunk in args.chunk_list:
        engine.run(key, inputs[:chunk], targets[:chunk], batched=True)  # trace / compile this shape
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            for start in range(0, total, chunk):
                engine.run(key, inputs[start : start + chunk], targets[start : start + chunk], batched=True)
            runs.append(time.perf_counter() - started)
        print(f"| {chunk} | {min(runs):.2f} |", flush=True)


if __name__ == "__main__":
    main()
