"""Peak extra memory of every method at its heaviest allowed settings, per model.

    .venv/bin/python benchmarks/memory.py --models shapes
    .venv/bin/python benchmarks/memory.py --models vgg16 --methods rise,lime,occlusion,smoothgrad,integrated_gradients
    .venv/bin/python benchmarks/memory.py --models vgg16,resnet50,inception_v3 --budget 120

The heaviest settings are each setting's allowed maximum (``Param.maximum``: the most masks, samples,
steps), except occlusion's ``patch`` and ``stride``, which take their minimum (the most covered copies);
seeds keep their default.
The ImageNet models run on seeded random weights (memory does not depend on their values); the Shapes
model on its shipped weights.

"Peak extra" is the highest resident memory (RSS, sampled every few milliseconds in a thread) while
the map is made, minus the resident memory just before. Each method first runs until its first chunk
is done ("first chunk": compiling its passes and growing TensorFlow's memory pool to one chunk, which
later requests reuse), then again, measured. A method still running after ``--budget`` seconds is
stopped (through its progress callback) and its row says how far it got: its peak so far is what its
chunks need, since the methods build their samples a chunk at a time.
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1024 * 1024
SMALLER_IS_HEAVIER = {"patch", "stride"}  # occlusion: the smallest squares at the finest step make the most copies


class OutOfTime(Exception):
    """Raised from the progress callback when a method has used its time budget."""


class PeakSampler:
    """The highest resident memory of this process between ``start`` and ``stop``."""

    def __init__(self, every: float = 0.005):
        import psutil

        self.process, self.every = psutil.Process(), every
        self.peak = 0
        self._running = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.peak = self.process.memory_info().rss
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while self._running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.every)

    def stop(self) -> int:
        self._running = False
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        return self.peak


def heaviest_settings(method: type) -> dict:
    """Every capped setting at its most expensive allowed value (see the module docstring)."""
    settings = {}
    for name, param in method.params.items():
        if name == "seed" or isinstance(param.default, bool):
            continue
        if name in SMALLER_IS_HEAVIER and param.minimum is not None:
            settings[name] = type(param.default)(param.minimum)
        elif param.maximum is not None:
            settings[name] = type(param.default)(param.maximum)
    return settings


def run(model, picture, name: str, settings: dict, budget: float) -> tuple[float, float, float]:
    """(peak extra MB, seconds, fraction done) of one run of method ``name``, stopped after ``budget`` s."""
    from explainers import explain

    gc.collect()
    done = {"fraction": 0.0}
    started = time.perf_counter()

    def progress(fraction: float) -> None:
        done["fraction"] = max(done["fraction"], fraction)
        if fraction > 0 and time.perf_counter() - started > budget:  # at least one chunk done
            raise OutOfTime

    sampler = PeakSampler()
    sampler.start()
    before = sampler.peak
    try:
        explain(model, picture, name, progress=progress, **settings)
        done["fraction"] = 1.0
    except OutOfTime:
        pass
    except Exception as error:  # noqa: BLE001 - an ExplainerError wrapping OutOfTime, or a real failure
        if not isinstance(error.__cause__ or error.__context__, OutOfTime) and "OutOfTime" not in repr(error):
            raise
    peak = sampler.stop()
    return (peak - before) / MB, time.perf_counter() - started, done["fraction"]


def measure(model, picture, name: str, budget: float) -> tuple[float, float, float, float, dict]:
    """(first-chunk MB, peak extra MB, seconds, fraction done, settings) of method ``name`` at its heaviest
    settings. The first run stops after its first chunk: it compiles the passes and grows TensorFlow's
    memory pool to one chunk (kept and reused by every later request); the second is the measured one."""
    from explainers.methods import get_method

    settings = heaviest_settings(get_method(name))
    first, _, _ = run(model, picture, name, settings, budget=0.0)
    extra, seconds, fraction = run(model, picture, name, settings, budget)
    return first, extra, seconds, fraction, settings


def main() -> None:
    from explainers.methods import METHODS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="shapes,vgg16,resnet50,inception_v3")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated method names")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per method before it is stopped")
    args = parser.parse_args()

    from explainers import shapes
    from explainers.models import load_model

    print("| model | method | heaviest settings | first chunk MB | peak extra MB | seconds | done |")
    print("|---|---|---|---:|---:|---:|---:|")
    for model_name in [m.strip() for m in args.models.split(",") if m.strip()]:
        model = load_model(model_name, weights="imagenet" if model_name == "shapes" else None)
        picture = shapes.render(seed=1, index=3)[0] if model_name == "shapes" else _photo(model.input_size)
        for name in [m.strip() for m in args.methods.split(",") if m.strip()]:
            first, extra, seconds, fraction, settings = measure(model, picture, name, args.budget)
            shown = ", ".join(f"{key}={value}" for key, value in settings.items()) or "(none capped)"
            print(
                f"| {model_name} | {name} | {shown} | {first:.0f} | {extra:.0f} | {seconds:.1f} | {fraction:.0%} |",
                flush=True,
            )


def _photo(size: int):
    """The cat photo shipped in assets/examples, or seeded noise where it is missing."""
    import numpy as np

    from explainers.images import decode

    path = ROOT / "assets" / "examples" / "chelsea.jpg"
    if path.is_file():
        return decode(path.read_bytes())
    return np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)


if __name__ == "__main__":
    main()
