"""A classroom on one machine: N simulated students against gunicorn on loopback.

    .venv/bin/python benchmarks/load.py [--students 30] [--images 5] [--method grad_cam] [--rounds 2]
    .venv/bin/python benchmarks/load.py --coalesce [--students 30] [--rounds 2] [--out docs/benchmarks.md]

Starts gunicorn (random weights, the local backend) on a free loopback port, waits for /readyz, then
each student, all at once, uploads one of ``--images`` shared pictures and asks for a map through the
HTTP API, ``--rounds`` times. Prints errors (must be 0), p50/p95 latency, the cache hit rate reported
by /readyz, and the peak memory of the server processes. A benchmark, not a test: run it by hand.

``--coalesce``: many users, one batch (``service.coalesce``). Two servers, one coalescing requests
(``EXPLAINERS_COALESCE_MS``, default) and one not (``0``); every student uploads a picture of its own
(new ones every round: nothing comes from the cache) and asks for Grad-CAM and vanilla gradient at once,
as the page's two cards do. After an untimed round on each, the servers take turns (on, off, off, on,
...) so a change in the machine's load hits both alike; maps per second and latencies per setting.
Then the passes alone, in this process: one Grad-CAM + vanilla-gradient pass over batches of 1, 2, 4,
8 and 16 pictures, seconds per picture (what batching gains, the figure to size a GPU's batches by).
Both parts run with ``EXPLAINERS_JIT`` = ``--jit`` (default 0: graph mode, which the server's timing
picks for VGG16 on this CPU; XLA would compile once per batch size). The tables go into ``--out``.
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


def start_server(extra: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """gunicorn (one worker, random weights, the local backend) on a free loopback port, its own data folder;
    ``extra``: more environment variables. Returns the process and its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "EXPLAINERS_WEIGHTS": "random",
        "EXPLAINERS_DATA_DIR": tempfile.mkdtemp(prefix="saliency-load-"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_WORKERS": "1",
        **extra,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "app:server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return server, f"http://127.0.0.1:{port}"


def wait_ready(base: str, limit: float = 300.0) -> float:
    """Wait until ``base``'s /readyz answers 200; returns when the wait began (SystemExit after ``limit`` s)."""
    started = time.time()
    while time.time() - started < limit:
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return started
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become ready")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coalesce", action="store_true", help="coalescing on against off (see above)")
    parser.add_argument("--jit", default="0", choices=["0", "1"], help="--coalesce: EXPLAINERS_JIT everywhere")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"), help="--coalesce: markdown ('' = none)")
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
    if args.coalesce:
        from coalescing import run as run_coalescing  # benchmarks/coalescing.py

        run_coalescing(args)
        return

    server, base = start_server({"WEB_THREADS": "32"})
    try:
        started = wait_ready(base)
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
        stop(server)


if __name__ == "__main__":
    main()
