"""A set against single requests: pictures per second for N pictures through the set API (batched passes,
one job per EXPLAINER_SET_CHUNK pictures) and for N single uploads through /api/v1/explain, one after
the other, in one run, on the same server (random weights: speed does not depend on their values).

    .venv/bin/python benchmarks/sets.py [--n 100] [--model vgg16] [--method grad_cam] [--chunk 8]

Both halves use distinct random pictures, so neither finds the other's results in the cache. The model
is loaded and its passes traced before either half is timed. The goal (issue 25): the set at least
1.5 times as many pictures per second as single requests. Celery with 1 vs 2 workers is not measured here.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pictures(count: int, seed: int, side: int = 256) -> list[bytes]:
    """Random-noise JPEGs, each different."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--method", default="grad_cam")
    parser.add_argument("--chunk", type=int, default=8, help="pictures per job of the set (EXPLAINER_SET_CHUNK)")
    args = parser.parse_args()
    os.environ["EXPLAINER_SET_CHUNK"] = str(args.chunk)
    os.environ.setdefault("EXPLAINERS_WARM_UP", "0")

    from app import create_app

    app = create_app({"weights": "random", "model": args.model, "data_dir": tempfile.mkdtemp(prefix="sets-bench-")})
    client = app.server.test_client()
    fields = {"model": args.model, "method": args.method, "weights": "random"}

    warm = pictures(args.chunk + 1, seed=99)  # trace the one-picture and the batched passes first
    client.post("/api/v1/explain", data={**fields, "image": (io.BytesIO(warm[0]), "w.jpg")})
    svc = app.server.extensions["saliency_service"]
    set_id = svc.sets.start(
        [(f"w{i}.jpg", data) for i, data in enumerate(warm[1:])],
        args.model,
        args.method,
        weights="random",
        client="bench",
    )
    while not svc.sets.status(set_id, "bench", with_rows=False)["finished"]:
        time.sleep(0.2)

    singles = pictures(args.n, seed=1)
    started = time.perf_counter()
    for i, data in enumerate(singles):
        answer = client.post("/api/v1/explain", data={**fields, "image": (io.BytesIO(data), f"{i}.jpg")})
        assert answer.status_code == 200, answer.json
    single_seconds = time.perf_counter() - started

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i, data in enumerate(pictures(args.n, seed=2)):
            archive.writestr(f"p{i:03d}.jpg", data)
    started = time.perf_counter()
    answer = client.post("/api/v1/sets", data={**fields, "set": (io.BytesIO(buffer.getvalue()), "set.zip")})
    assert answer.status_code == 202, answer.json
    while not (status := client.get(answer.json["status_url"]).json)["finished"]:
        assert not status["errors"], status["errors"]
        time.sleep(0.2)
    set_seconds = time.perf_counter() - started

    print(f"{args.n} pictures, {args.model} (random weights), {args.method}, set jobs of {args.chunk} pictures")
    print(f"{'way':<34} {'seconds':>8} {'pictures/s':>11}")
    print(f"{'single requests (/api/v1/explain)':<34} {single_seconds:>8.1f} {args.n / single_seconds:>11.2f}")
    print(f"{'one set (/api/v1/sets)':<34} {set_seconds:>8.1f} {args.n / set_seconds:>11.2f}")
    print(f"speed-up: {single_seconds / set_seconds:.2f}x (goal: 1.5x)")


if __name__ == "__main__":
    main()
