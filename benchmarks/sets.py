"""A set against single requests, and a set on 1 against 2 Celery workers: pictures per second.

    .venv/bin/python benchmarks/sets.py [--pictures 100] [--model vgg16] [--method grad_cam] [--chunk 8]
                                        [--rounds 2] [--no-celery]

First half, on one local server: N single uploads through /api/v1/explain, one after the other, against
N pictures as sets through /api/v1/sets (batched passes, one job per --chunk pictures). Second half, with
a redis-server and two Celery workers started here: N pictures as sets with one worker consuming (the
other told to stop taking jobs) against the same with both. Each comparison is split into --rounds
rounds of N / rounds pictures, alternated A B B A ..., so a change of the shared machine's load hits both
sides; every round uses its own random pictures, so none finds another's results in the cache. Models
are loaded and their passes traced (every worker's too) before anything is timed. Random weights: speed
does not depend on their values. Prints the load (uptime) at the start and the end.

The goal (issue 25): the set at least 1.5 times as many pictures per second as single requests.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORKERS = ("w1@bench", "w2@bench")


def pictures(count: int, seed: int, side: int = 256) -> list[bytes]:
    """Random-noise JPEGs, each different."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def zipped(datas: list[bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i, data in enumerate(datas):
            archive.writestr(f"p{i:03d}.jpg", data)
    return buffer.getvalue()


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def alternate(rounds: int, sides: dict[str, Callable[[int], float]]) -> dict[str, float]:
    """Run each side once per round, in the order A B, then B A, ...; the seconds each side took in all."""
    names, total = list(sides), dict.fromkeys(sides, 0.0)
    for number in range(rounds):
        for name in names if number % 2 == 0 else names[::-1]:
            total[name] += sides[name](number)
            print(f"  round {number + 1}: {name} done", flush=True)
    return total


def finish(svc, set_id: str, client: str) -> dict:
    while not (status := svc.sets.status(set_id, client, with_rows=False))["finished"]:
        if status["errors"]:
            raise SystemExit(f"the set failed: {status['errors']}")
        time.sleep(0.2)
    return status


def local_half(args, per_round: int) -> dict[str, float]:
    """Single uploads against sets, both through the HTTP API of one local server."""
    from app import create_app

    app = create_app({"weights": "random", "model": args.model, "data_dir": tempfile.mkdtemp(prefix="sets-bench-")})
    client = app.server.test_client()
    fields = {"model": args.model, "method": args.method, "weights": "random"}
    warm = pictures(args.chunk + 1, seed=99)  # trace the one-picture and the batched passes first
    client.post("/api/v1/explain", data={**fields, "image": (io.BytesIO(warm[0]), "w.jpg")})
    svc = app.server.extensions["saliency_service"]
    finish(svc, svc.sets.start(zipped_files(warm[1:]), args.model, args.method, weights="random", client="b"), "b")

    def singles(number: int) -> float:
        datas = pictures(per_round, seed=1000 + number)
        started = time.perf_counter()
        for i, data in enumerate(datas):
            answer = client.post("/api/v1/explain", data={**fields, "image": (io.BytesIO(data), f"{i}.jpg")})
            assert answer.status_code == 200, answer.json
        return time.perf_counter() - started

    def one_set(number: int) -> float:
        body = zipped(pictures(per_round, seed=2000 + number))
        started = time.perf_counter()
        answer = client.post("/api/v1/sets", data={**fields, "set": (io.BytesIO(body), "set.zip")})
        assert answer.status_code == 202, answer.json
        while not (status := client.get(answer.json["status_url"]).json)["finished"]:
            assert not status["errors"], status["errors"]
            time.sleep(0.2)
        return time.perf_counter() - started

    return alternate(
        args.rounds, {"single requests (/api/v1/explain)": singles, "one set per round (/api/v1/sets)": one_set}
    )


def zipped_files(datas: list[bytes]) -> list[tuple[str, bytes]]:
    return [("set.zip", zipped(datas))]


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("the Celery rows need redis-server (apt-get install redis-server), or pass --no-celery")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    for _ in range(100):
        try:
            redis.Redis(port=port).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


def start_worker(name: str, url: str, folder: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "REDIS_URL": url,
        "EXPLAINERS_WEIGHTS": "random",
        "EXPLAINERS_WARM_UP": "0",
        "EXPLAINERS_DATA_DIR": str(folder / name.split("@")[0]),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "celery", "-A", "service.worker", "worker", "--pool", "prefork", "-n", name]
    command += ["--concurrency", "1", "--prefetch-multiplier", "1", "-Q", "saliency", "--loglevel", "warning"]
    command += ["--without-gossip", "--without-mingle"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def celery_half(args, per_round: int) -> dict[str, float]:
    """Sets on one Celery worker against the same on two (the second told to stop and resume consuming)."""
    from service import ExplainerService
    from service.remote import QUEUE, make_celery
    from service.sets import _picture_key

    folder = Path(tempfile.mkdtemp(prefix="sets-bench-celery-"))
    redis_server, url = start_redis(folder)
    workers = [start_worker(name, url, folder) for name in WORKERS]
    svc = ExplainerService(folder / "web", weights="random", backend="celery", redis_url=url)
    control = make_celery(url).control
    try:
        while len(control.ping(timeout=1.0) or []) < len(WORKERS):
            time.sleep(0.5)
        processes: set[int] = set()
        for seed in range(3000, 3010):  # warm both workers: stop once each has computed a picture
            warm = pictures(4 * args.chunk, seed=seed)
            set_id = svc.sets.start(zipped_files(warm), args.model, args.method, weights="random", client="b")
            finish(svc, set_id, "b")
            record = svc.sets.record(set_id, "b")
            processes |= {svc.cache.get(_picture_key(svc, record, p))["process"] for p in record["pictures"]}
            if len(processes) >= len(WORKERS):
                break

        def on_workers(count: int) -> Callable[[int], float]:
            def run(number: int) -> float:
                for name in WORKERS[count:]:
                    control.cancel_consumer(QUEUE, destination=[name], reply=True)
                for name in WORKERS[:count]:
                    control.add_consumer(QUEUE, destination=[name], reply=True)
                datas = pictures(per_round, seed=4000 + 10 * count + number)
                started = time.perf_counter()
                set_id = svc.sets.start(zipped_files(datas), args.model, args.method, weights="random", client="b")
                finish(svc, set_id, "b")
                seconds = time.perf_counter() - started
                record = svc.sets.record(set_id, "b")
                took = {svc.cache.get(_picture_key(svc, record, p))["process"] for p in record["pictures"]}
                print(f"  ({len(took)} worker process(es) took pictures)", flush=True)
                return seconds

            return run

        return alternate(
            args.rounds, {"one set, 1 Celery worker": on_workers(1), "one set, 2 Celery workers": on_workers(2)}
        )
    finally:
        svc.jobs.close()
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        redis_server.terminate()
        redis_server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pictures", "--n", type=int, default=100, help="pictures on each side of a comparison")
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--method", default="grad_cam")
    parser.add_argument("--chunk", type=int, default=8, help="pictures per job of a set (EXPLAINER_SET_CHUNK)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds each comparison is split into, alternated")
    parser.add_argument("--no-celery", action="store_true", help="skip the rows with 1 and 2 Celery workers")
    args = parser.parse_args()
    os.environ["EXPLAINER_SET_CHUNK"] = str(args.chunk)
    os.environ.setdefault("EXPLAINERS_WARM_UP", "0")
    per_round = max(1, args.pictures // args.rounds)
    count = per_round * args.rounds
    start_load = uptime()
    print(f"load at start: {start_load}", flush=True)
    rows = local_half(args, per_round)
    if not args.no_celery:
        rows |= celery_half(args, per_round)
    print(f"load at end: {uptime()}")
    print(
        f"{count} pictures a side in {args.rounds} alternated rounds, {args.model} (random weights), {args.method}, "
        f"CPU, set jobs of {args.chunk} pictures"
    )
    print("| way | seconds | pictures/s |\n|---|---:|---:|")
    for name, seconds in rows.items():
        print(f"| {name} | {seconds:.1f} | {count / seconds:.2f} |")
    names = list(rows)
    print(f"set against single requests: {rows[names[0]] / rows[names[1]]:.2f}x (goal: 1.5x)")
    if len(names) == 4:
        print(f"2 Celery workers against 1: {rows[names[2]] / rows[names[3]]:.2f}x")


if __name__ == "__main__":
    main()
