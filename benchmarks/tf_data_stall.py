"""Xplique's SmoothGrad on VGG16 with tf.data autotuning on and off: the stalls behind compare.py's switch.

    .venv-peers/bin/python benchmarks/tf_data_stall.py [--calls 4] [--samples 16]

Xplique feeds its samples through ``tf.data``. With autotuning on, calls on this 2-core machine often
ended at exactly 2^k × 10 ms (10.24, 20.48, 40.96, 81.92 s); with it off they took their real time.
This prints every call's seconds for each setting, run in one process (off first, then on: turning it
back on is the library's default), and whether each is within 1 % of a 2^k × 10 ms value. Weights
are seeded random; ``compare.py`` turns autotuning off for the peers for this reason (its
``--tf-data-autotune`` keeps it on).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def on_the_grid(seconds: float) -> str:
    """'2^k × 10 ms' if ``seconds`` is within 1 % of one (k ≥ 6), else ''."""
    if seconds < 0.6:
        return ""
    k = round(math.log2(seconds / 0.01))
    return f"2^{k} × 10 ms" if abs(seconds - 0.01 * 2**k) <= 0.01 * seconds else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()

    import numpy as np

    try:
        import xplique  # noqa: F401
    except ImportError:
        sys.exit("Xplique is not installed here: run with .venv-peers/bin/python (bash benchmarks/setup_peers.sh)")
    from explainers import load_model
    from explainers._tf import tf
    from explainers.images import decode

    model = load_model("vgg16", weights=None)
    picture = model.prepare(decode((ROOT / "assets" / "examples" / "chelsea.jpg").read_bytes()))
    inputs = model.preprocess(picture[None])
    one_hot = np.eye(1000, dtype=np.float32)[[281]]
    original = {name: getattr(tf.data.Dataset, name) for name in ("from_tensor_slices", "from_tensors", "range")}

    def autotune(enabled: bool) -> None:
        for name, make in original.items():
            if enabled:
                setattr(tf.data.Dataset, name, staticmethod(make))
                continue

            def without(*a, _make=make, **kw):
                options = tf.data.Options()
                options.autotune.enabled = False
                return _make(*a, **kw).with_options(options)

            setattr(tf.data.Dataset, name, staticmethod(without))

    from xplique.attributions import SmoothGrad

    print(
        f"Xplique SmoothGrad({args.samples} samples) on VGG16 224×224, one process, {args.calls} warm calls "
        f"per setting\n"
    )
    print("| tf.data autotuning | call | seconds | on the 2^k × 10 ms grid |")
    print("|---|---:|---:|---|")
    for enabled in (False, True):
        autotune(enabled)
        explainer = SmoothGrad(model.keras, nb_samples=args.samples, noise=0.2 * model.input_range())
        explainer.explain(inputs, one_hot)  # warm: trace once
        for call in range(1, args.calls + 1):
            started = time.perf_counter()
            explainer.explain(inputs, one_hot)
            seconds = time.perf_counter() - started
            print(f"| {'on' if enabled else 'off'} | {call} | {seconds:.2f} | {on_the_grid(seconds)} |", flush=True)


if __name__ == "__main__":
    main()
