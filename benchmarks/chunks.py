"""One method's time at several CPU chunk sizes, alternated in one run: the numbers behind
``CPU_CHUNK`` and ``CPU_FORWARD_CHUNK`` (explainers/batching.py).

    .venv/bin/python benchmarks/chunks.py --model vgg16 --method score_cam_fast --chunks 8,16,32
    .venv/bin/python benchmarks/chunks.py --model inception_v3 --method occlusion --chunks 8,16 --param patch=32

Seeded random weights (timings do not depend on weight values), the cat photo, class 281, through
the public ``explain``; the model's gradient batches are first set to XLA or graph mode, whichever
runs a chunk faster, as the server does at start. Each chunk size runs once untimed, then the sizes
take turns for ``--repeat`` rounds; prints every call's seconds, the median, and its ratio to the
first size's median.
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
    parser.add_argument("--method", default="score_cam_fast")
    parser.add_argument("--chunks", default="8,16,32")
    parser.add_argument("--param", action="append", default=[], help="NAME=INT, a method setting")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from explainers import batching, explain, load_model
    from explainers.compile_policy import GRADIENT_BATCHES
    from explainers.engine import engine_for
    from explainers.images import decode

    params = {name: int(value) for name, value in (p.split("=", 1) for p in args.param)}
    sizes = [int(s) for s in args.chunks.split(",")]
    model = load_model(args.model, weights=None)
    engine = engine_for(model)
    tuned = engine.tune_batches(batching.CPU_CHUNK)  # XLA or graph mode for gradient batches, as the server does
    if tuned:
        print(
            f"a chunk of {batching.CPU_CHUNK} gradients: XLA {tuned[True]:.2f} s, graph mode {tuned[False]:.2f} s; "
            f"kept {'XLA' if engine.policy.xla[GRADIENT_BATCHES] else 'graph mode'}"
        )
    photo = decode((ROOT / "assets" / "examples" / "chelsea.jpg").read_bytes())

    def call(size: int) -> float:
        batching.CPU_CHUNK = batching.CPU_FORWARD_CHUNK = size
        started = time.perf_counter()
        explain(model, photo, args.method, target=281, **params)
        return time.perf_counter() - started

    for size in sizes:
        call(size)  # warm: traces, compiles per batch shape
    times: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(args.repeat):
        for size in sizes:
            times[size].append(call(size))
    first = statistics.median(times[sizes[0]])
    print(f"{args.method} {params or ''} on {args.model}, median of {args.repeat} alternated calls\n")
    print("| chunk | calls (s) | median (s) | ÷ first |")
    print("|---:|---|---:|---:|")
    for size in sizes:
        median = statistics.median(times[size])
        print(f"| {size} | {', '.join(f'{t:.2f}' for t in times[size])} | {median:.2f} | {median / first:.2f} |")


if __name__ == "__main__":
    main()
