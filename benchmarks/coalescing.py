"""``benchmarks/load.py --coalesce``: many users, one batch, against one pass per request (see load.py).

Two parts, both printed as markdown and written into ``--out`` between this script's markers (a run
replaces its own section and leaves the rest of the document alone):

1. Two gunicorn servers, coalescing on (``EXPLAINERS_COALESCE_MS`` at its default) and off (``0``).
   Every student uploads a picture of its own and asks for Grad-CAM and vanilla gradient at once (two
   HTTP requests, as the page's two cards); the rounds alternate between the servers.
2. The passes alone: Grad-CAM's and vanilla gradient's shared pass over batches of 1, 2, 4, 8, 16.
"""

from __future__ import annotations

import io
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from comparison.machine import commit_id, cpu_name, uptime
from load import start_server, stop, wait_ready

METHODS = ("grad_cam", "vanilla_gradient")
BATCH_SIZES = (1, 2, 4, 8, 16)
BEGIN = "<!-- begin: benchmarks/load.py --coalesce -->"
END = "<!-- end: benchmarks/load.py --coalesce -->"


def photo(seed: int) -> bytes:
    """A JPEG of its own for each (round, student): no two requests share a picture, nothing is cached."""
    pixels = np.random.default_rng(seed).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def classroom(base: str, students: int, seed: int, model: str = "vgg16") -> tuple[float, list[float], list[str]]:
    """Every student at once: two requests each (the two cards). Returns wall seconds, latencies, errors."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    photos = [photo(seed * 1000 + student) for student in range(students)]

    def ask(job: tuple[int, str]) -> None:
        student, method = job
        began = time.perf_counter()
        try:
            response = requests.post(
                f"{base}/api/v1/explain",
                timeout=600,
                files={"image": (f"student{student}.jpg", photos[student], "image/jpeg")},
                data={"model": model, "method": method},
                headers={"X-API-Key": f"student-{student}"},
            )
            error = None if response.status_code == 200 else f"{response.status_code}: {response.text[:120]}"
        except requests.RequestException as failure:
            error = str(failure)[:120]
        with lock:
            latencies.append(time.perf_counter() - began)
            if error:
                errors.append(error)

    jobs = [(student, method) for student in range(students) for method in METHODS]
    began = time.perf_counter()
    with ThreadPoolExecutor(len(jobs)) as pool:
        list(pool.map(ask, jobs))
    return time.perf_counter() - began, latencies, errors


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered))) - 1))]


def serve(args) -> tuple[list[str], dict]:
    """Part 1: the two servers, alternated. Returns the table's lines and the coalescing stats."""
    common = {
        "WEB_THREADS": str(len(METHODS) * args.students + 8),
        "EXPLAINERS_JIT": args.jit,
        "EXPLAINERS_MODEL": args.model,  # the model warmed up at start
        # each student its own API key: the per-client queue (EXPLAINERS_CLIENT_QUEUE) counts per student, as
        # per browser, not per loopback address
        "EXPLAINERS_API_KEYS": ",".join(f"student-{student}" for student in range(args.students)),
    }
    servers = {
        "on": start_server({**common, "EXPLAINERS_COALESCE_MS": os.environ.get("EXPLAINERS_COALESCE_MS", "")}),
        "off": start_server({**common, "EXPLAINERS_COALESCE_MS": "0"}),
    }
    results: dict[str, list[tuple[float, list[float], list[str]]]] = {"on": [], "off": []}
    try:
        for name, (_server, base) in servers.items():
            started = wait_ready(base, 600)
            while time.time() - started < 600:  # the multi-pass warm-up, after ready, must not compete
                if requests.get(f"{base}/readyz", timeout=10).json().get("batches") in {"ready", "failed"}:
                    break
                time.sleep(1.0)
            print(f"coalescing {name}: ready and warm after {time.time() - started:.1f} s", flush=True)
        # untimed, a whole class: each kind of pass a batch may need (one card's, both cards' of a picture) is
        # traced on its first use, which must not fall into a timed round of one setting only
        for name, (_server, base) in servers.items():
            classroom(base, args.students, seed=900 + len(name), model=args.model)
        order = ["on", "off", "off", "on"] * args.rounds  # ABBA: a drift in the machine's load hits both alike
        order = order[: 2 * args.rounds]
        for index, name in enumerate(order):
            wall, latencies, errors = classroom(servers[name][1], args.students, seed=index + 1, model=args.model)
            results[name].append((wall, latencies, errors))
            maps = len(latencies) - len(errors)
            print(
                f"round {index + 1} coalescing {name}: {maps / wall:.2f} maps/s, "
                f"p95 {percentile(latencies, 0.95):.2f} s,"
                f" {len(errors)} errors",
                flush=True,
            )
        stats = requests.get(f"{servers['on'][1]}/readyz", timeout=10).json().get("coalescing", {})
    finally:
        for server, _base in servers.values():
            stop(server)
    lines = [
        "| coalescing | rounds | maps | errors | maps per second | p50 s | p95 s | max s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rates = {}
    for name in ("on", "off"):
        runs = results[name]
        latencies = [value for _wall, values, _errors in runs for value in values]
        errors = sum(len(found) for _wall, _values, found in runs)
        maps = len(latencies) - errors
        rates[name] = statistics.median([(len(v) - len(e)) / wall for wall, v, e in runs])
        setting = (
            f"on ({stats.get('window_ms')} ms, at most {stats.get('max_batch')})"
            if name == "on"
            else "off (`EXPLAINERS_COALESCE_MS=0`)"
        )
        lines.append(
            f"| {setting} | {len(runs)} | {maps} | {errors} | {rates[name]:.2f} | {statistics.median(latencies):.2f} "
            f"| {percentile(latencies, 0.95):.2f} | {max(latencies):.2f} |"
        )
    lines += [
        "",
        f"On ÷ off: **{rates['on'] / rates['off']:.2f}×** the maps per second (medians of the rounds); the "
        f"coalescing server computed {stats.get('batches')} batches of {stats.get('mean_batch')} requests "
        f"({stats.get('mean_pictures')} pictures) on average (its /readyz, warm-up round included): a picture's "
        "requests share one row of a batch, so one pass serves both of a student's maps, which the server "
        "without coalescing computes in two passes (Grad-CAM's to the layer, the gradient's to the input).",
    ]
    return lines, stats


def pass_gains(name: str, jit: str, repeat: int = 2) -> list[str]:
    """Part 2: one Grad-CAM + vanilla-gradient pass over each batch size, seconds per picture."""
    os.environ["EXPLAINERS_JIT"] = jit
    from explainers.engine import engine_for
    from explainers.models import load_model
    from explainers.passes import PassKey

    model = load_model(name, weights=None)
    engine = engine_for(model)
    key = PassKey(model.default_layer, layer_grads=True, input_grads=True)  # the page's shared pass
    rng = np.random.default_rng(0)
    batches = {
        size: model.preprocess(rng.integers(0, 256, (size, model.input_size, model.input_size, 3)).astype(np.float32))
        for size in BATCH_SIZES
    }
    seconds: dict[int, list[float]] = {size: [] for size in BATCH_SIZES}
    for size, inputs in batches.items():  # untimed: traces (and XLA's compile per batch size)
        engine.run(key, inputs, np.full(size, -1, np.int32))
    for _ in range(repeat):  # sizes take turns, so the machine's load changes hit them alike
        for size, inputs in batches.items():
            began = time.perf_counter()
            engine.run(key, inputs, np.full(size, -1, np.int32))
            seconds[size].append(time.perf_counter() - began)
    one = statistics.median(seconds[1])
    lines = [
        "| pictures per batch | seconds per batch | seconds per picture | pictures per second "
        "| gain over one at a time |",
        "|---:|---:|---:|---:|---:|",
    ]
    for size in BATCH_SIZES:
        batch = statistics.median(seconds[size])
        lines.append(f"| {size} | {batch:.2f} | {batch / size:.3f} | {size / batch:.2f} | {one * size / batch:.2f}× |")
    mode = "XLA" if engine.jit(batched=False) else "graph mode"
    lines += [
        "",
        f"({model.title}, layer {model.default_layer}, {mode}; median of {repeat} runs per size, taking turns.)",
    ]
    return lines


def write_section(path: Path, text: str) -> None:
    """Put ``text`` between this script's markers in ``path`` (replacing an earlier run's), else at its end."""
    document = path.read_text(encoding="utf-8") if path.is_file() else ""
    block = f"{BEGIN}\n{text.rstrip()}\n{END}"
    if BEGIN in document and END in document:
        head, _, rest = document.partition(BEGIN)
        document = head + block + rest.partition(END)[2]
    else:
        document = document.rstrip() + "\n\n" + block + "\n"
    path.write_text(document, encoding="utf-8")


def run(args) -> None:
    began, load_before = time.time(), uptime()
    served, _stats = serve(args)
    gains = pass_gains(args.model, args.jit)
    minutes = (time.time() - began) / 60
    where = (
        f"{os.cpu_count()} CPU cores ({cpu_name()}), no GPU; load (`uptime`) at the start `{load_before}`, "
        f"at the end `{uptime()}`"
    )
    text = "\n".join(
        [
            "## Many users, one batch: coalescing one-pass requests",
            "",
            f"Generated by `.venv/bin/python benchmarks/load.py --coalesce --model {args.model} "
            f"--students {args.students} --rounds {args.rounds}` (do not edit by hand, run it again) "
            f"on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
            f"at commit {commit_id()}; it took {minutes:.0f} min. {where}. The machine was shared with "
            "other jobs: the rounds alternate between the settings so a change in load hits both alike.",
            "",
            f"{args.students} students at once, each uploading a picture of its own (new pictures every round: "
            f"nothing from the cache) and asking for Grad-CAM and vanilla gradient on {args.model} (random weights) "
            "through the HTTP API at the same moment; two gunicorn servers (1 worker each, the local backend, "
            f"`EXPLAINERS_JIT={args.jit}`), one coalescing and one not, taking turns round by round after an "
            "untimed round each. Maps per second: the round's maps over its wall time (median of "
            "the rounds); "
            "latencies: every request's, from sending the upload to its answer.",
            "",
            *served,
            "",
            "What batching gains on the passes alone (this process, no server): Grad-CAM's and vanilla "
            "gradient's shared pass (one forward pass, one backward pass to the layer and the input) over "
            "batches of pictures; the gain is the seconds of that many one-picture passes over the batch's.",
            "",
            *gains,
        ]
    )
    print("\n" + text)
    if args.out:
        write_section(Path(args.out), text)
        print(f"\nwrote {args.out}")
