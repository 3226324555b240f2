"""Server time of a repeated request (a cache hit): no TensorFlow work, measured three ways.

    .venv/bin/python benchmarks/cached.py [--repeats 50]

Prints the median and the 95th percentile, in milliseconds, of: the service answering a map it has,
the HTTP API answering it (upload, hashing, lookup and PNG encoding included, through Flask's test
client, so no network), and the dashboard's card callback redrawing it.
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


def timed(fn, repeats: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    from app import create_app
    from components.common import SERVICE_KEY
    from components.method_cards import render_card
    from explainers.engine import engine_for

    app = create_app({"weights": "random", "data_dir": tempfile.mkdtemp(prefix="saliency-cached-")})
    svc = app.server.extensions[SERVICE_KEY]
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(buffer, "JPEG")
    photo = buffer.getvalue()
    key = svc.add_image(photo)
    svc.explain(key, "vgg16", "grad_cam", target=281)  # compute once
    engine = engine_for(svc.load("vgg16"))
    while len(engine.policy.measured) < 2:  # a newly loaded model's passes are timed in the background: let that end
        time.sleep(0.1)
    client = app.server.test_client()

    def api():
        response = client.post(
            "/api/v1/explain",
            content_type="multipart/form-data",
            data={"image": (io.BytesIO(photo), "p.jpg"), "method": "grad_cam", "target": "281"},
        )
        assert response.status_code == 200 and response.get_json()["cached"]

    def card():
        with app.server.test_request_context():
            out = render_card(
                {"key": key},
                "vgg16",
                None,
                "random",
                281,
                None,
                "viridis",
                "absolute",
                99,
                "own",
                {"method": "grad_cam", "slot": "a"},
                0.5,
                None,
                "bench",
            )
            assert out[0].data[0].type == "heatmap"

    rows = [
        ("service: request_map of a cached map", lambda: svc.explain(key, "vgg16", "grad_cam", target=281)),
        ("HTTP API: POST /api/v1/explain, cached (640×480 JPEG upload)", api),
        ("dashboard: a card's callback redrawing a cached map", card),
    ]
    print(f"median and 95th percentile of {args.repeats} repeats, milliseconds of server time\n")
    print("| what | median ms | p95 ms |")
    print("|---|---:|---:|")
    for label, fn in rows:
        median, p95 = timed(fn, args.repeats)
        print(f"| {label} | {median:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
