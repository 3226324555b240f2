"""The first map after an upload: predictions and the Grad-CAM card of the top class, through the
service, as a ratio to one forward + backward pass (to the input) measured in the same run.

    .venv/bin/python benchmarks/first_map.py [--model vgg16] [--repeats 5]

Each repetition uploads a new picture (so nothing is cached), asks for the top-5 as the page does,
then for the Grad-CAM card of the top class (target by number, as the page sends it once the top-5
arrived). Both come out of one job and one pass. "Separately" is the way before: a forward pass for
the predictions, then a Grad-CAM pass. Seeded random weights; warm (traced first); medians.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def picture_bytes(seed: int, size: int = 320) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def median_time(fn, repeats: int) -> float:
    samples = []
    for i in range(repeats):
        started = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from explainers import explain, predict
    from explainers.engine import engine_for
    from explainers.passes import PassKey
    from service import ExplainerService

    svc = ExplainerService(tempfile.mkdtemp(), weights="random")
    model = svc.load(args.model)
    image = np.random.default_rng(0).integers(0, 256, (model.input_size, model.input_size, 3), dtype=np.uint8)
    inputs = model.preprocess(image[None])
    targets = np.array([-1], np.int32)
    full = PassKey(None, input_grads=True)
    engine = engine_for(model)
    engine.run(full, inputs, targets)  # trace
    explain(model, image, "grad_cam")
    predict(model, image)

    def forward_backward(_i):
        engine.run(full, inputs, targets)

    seed = [1000]

    def first_map(_i):
        seed[0] += 1
        key = svc.add_image(picture_bytes(seed[0]))
        top = svc.predict(key, args.model)[0][0]
        svc.explain(key, args.model, "grad_cam", target=top)

    def separately(_i):
        seed[0] += 1
        picture = np.asarray(Image.open(io.BytesIO(picture_bytes(seed[0]))))
        top = predict(model, picture)[0][0]
        explain(model, picture, "grad_cam", target=top)

    first_map(0)  # warm the service path once
    computed_before = svc.jobs.computed
    rows = []
    reference = []
    for name, fn in (
        ("first map through the service (top-5 + Grad-CAM card)", first_map),
        ("the same, predictions and Grad-CAM separately", separately),
    ):
        reference.append(median_time(forward_backward, args.repeats))
        rows.append((name, median_time(fn, args.repeats)))
    reference.append(median_time(forward_backward, args.repeats))
    base = statistics.median(reference)
    jobs = (svc.jobs.computed - computed_before) / args.repeats
    print(f"{args.model}, median of {args.repeats} warm runs; one forward + backward pass: {base * 1000:.0f} ms\n")
    print("| path | seconds | × forward+backward | goal |")
    print("|---|---:|---:|---:|")
    for i, (name, seconds) in enumerate(rows):
        goal = "≤ 1.3" if i == 0 else "—"
        print(f"| {name} | {seconds:.3f} | {seconds / base:.2f} | {goal} |")
    print(f"\njobs computed per upload through the service: {jobs:.1f}")


if __name__ == "__main__":
    main()
