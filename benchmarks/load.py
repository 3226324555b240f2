"""A classroom on one machine: N simulated students against gunicorn on loopback.

    .venv/bin/python benchmarks/load.py [--students 30] [--images 5] [--method grad_cam] [--rounds 2]

Starts gunicorn (random weights, the local backend) on a free loopback port, waits for /readyz, then
each student, all at once, uploads one of ``--images`` shared pictures and asks for a map through the
HTTP API, ``--rounds`` times. Prints errors (must be 0), p50/p95 latency, the cache hit rate reported
by /readyz, and the peak memory of the server processes. A benchmark, not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psutil
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pictures(count: int) -> list[bytes]:
    out = []
    for seed in range(count):
        buffer = io.BytesIO()
        pixels = np.random.default_rng(seed).integers(0, 256, (300, 400, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


class MemoryWatch(threading.Thread):
    """Samples the resident memory of a process and its children until stopped."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root, self.peak, self.running = psutil.Process(pid), 0, True

    def run(self) -> None:
        while self.running:
            try:
                processes = [self.root, *self.root.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in processes))
            except psutil.Error:
                pass
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--method", default="grad_cam")
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--after-batches",
        action="store_true",
        help="start the students once /readyz says the multi-pass batches are warm too",
    )
    args = parser.parse_args()

    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="saliency-load-")
    env = {
        **os.environ,
        "EXPLAINERS_WEIGHTS": "random",
        "EXPLAINERS_DATA_DIR": data_dir,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_WORKERS": "1",
        "WEB_THREADS": "32",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "app:server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.time()
        while time.time() - started < 300:
            try:
                if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("the server did not become ready")
        print(f"server ready after {time.time() - started:.1f} s (warm-up included)")
        if args.after_batches:  # a class starts minutes after the server: its multi-pass warm-up is over
            while time.time() - started < 600:
                if requests.get(f"{base}/readyz", timeout=5).json().get("batches") in {"ready", "failed"}:
                    break
                time.sleep(0.5)
            print(f"multi-pass batches warmed after {time.time() - started:.1f} s")
        warm_jobs = requests.get(f"{base}/readyz", timeout=5).json()["computed"] or 0
        watch = MemoryWatch(server.pid)
        watch.start()
        photos = pictures(args.images)
        latencies, errors = [], []

        def student(index: int) -> None:
            photo = photos[index % len(photos)]
            for _ in range(args.rounds):
                began = time.perf_counter()
                try:
                    response = requests.post(
                        f"{base}/api/v1/explain",
                        timeout=300,
                        files={"image": (f"student{index}.jpg", photo, "image/jpeg")},
                        data={"model": args.model, "method": args.method},
                    )
                    if response.status_code != 200:
                        errors.append(f"{response.status_code}: {response.text[:120]}")
                except requests.RequestException as error:
                    errors.append(str(error)[:120])
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        with ThreadPoolExecutor(args.students) as pool:
            list(pool.map(student, range(args.students)))
        wall = time.perf_counter() - began
        watch.running = False
        health = requests.get(f"{base}/readyz", timeout=5).json()
        ordered = sorted(latencies)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
        print(
            f"\n{args.students} students × {args.rounds} requests, {args.images} shared pictures, "
            f"{args.method} on {args.model} (random weights), CPU, gunicorn 1 worker × 32 threads\n"
        )
        print(
            "| requests | errors | p50 s | p95 s | max s | wall s | maps computed | cache hit rate "
            "| peak memory (server) |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        computed = health["computed"] - warm_jobs
        print(
            f"| {len(latencies)} | {len(errors)} | {statistics.median(ordered):.2f} | {p95:.2f} | {ordered[-1]:.2f} "
            f"| {wall:.1f} | {computed} | {health['cache']['hit_rate']} | {watch.peak / 2**20:.0f} MiB |"
        )
        print(
            "\n(the hit rate counts lookups: a request that joins a map already being computed is a miss "
            "that costs no extra computation; 'maps computed' counts the computations)"
        )
        for error in errors[:5]:
            print("error:", error)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
