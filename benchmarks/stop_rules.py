"""Which stopping rule stops a sampling method soonest once its map is done: a replay study.

    .venv/bin/python benchmarks/stop_rules.py [--models shapes resnet50] [--methods smoothgrad,rise]
        [--pictures 3] [--write]

Each method runs once per picture in fine chunks up to a budget, never stopping, and keeps every running
map with its time; the reference is two more runs at the budget with other seeds (their mutual ρ is the
floor, as in ``benchmarks/quality.py``). Every candidate rule (``explainers.convergence.StopRule``:
agreement, lag, patience; the chunk size) is then replayed on the recorded maps through the real
``run_until_stable`` with the recorded clock, so a rule is judged by what it would have done: where it
stops (samples, seconds) and whether its map there met the target (ρ with the reference ≥ 0.95 × the
floor). ``--write`` puts the summary into docs/benchmarks.md."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.quality import TARGET_SHARE, page_sampler  # noqa: E402 - after the path is set

#: recorded chunk per method: fine, so coarser chunks can be replayed by skipping maps
FINE = {"rise": 16, "lime": 16}
BUDGET = {
    "shapes": {"grads": 256, "masks": 2048},
    "resnet50": {"grads": 32, "masks": 256},
    "vgg16": {"grads": 32, "masks": 256},
}
CACHE = Path("/tmp/stop_rules_cache")
METHODS = ["smoothgrad", "squaregrad", "vargrad", "expected_gradients", "rise", "lime"]


@dataclass(frozen=True)
class Candidate:
    name: str
    agreement: float
    lag: float
    patience: int
    chunk: int | None = None  # None: the method's own chunk (``SamplingMethod.chunk``); 0: every recorded map
    grow: bool = True  # the first chunks smaller (``chunk_bounds``), or all of ``chunk`` (as before)


CANDIDATES = [
    Candidate("ρ ≥ 0.99 with the map one chunk back, 2 in a row (the issue's words)", 0.99, 0.0, 2),
    *[
        Candidate(f"ρ ≥ 0.99 with the map ≥ {name} of the samples back, 2 in a row", 0.99, lag, 2)
        for name, lag in (("1/32", 1 / 32), ("1/16", 1 / 16), ("1/8", 1 / 8))
    ],
    Candidate("the same, every chunk whole (as before)", 0.99, 1 / 16, 2, grow=False),
    Candidate("ρ ≥ 0.98 with the map one chunk back, 2 in a row", 0.98, 0.0, 2),
    Candidate("ρ ≥ 0.99 with the map one chunk back, 3 in a row", 0.99, 0.0, 3),
    *[
        Candidate(
            f"ρ ≥ {a} with the map at half the samples, {p} in a row{', chunks of 2 (16 masks)' * fine}",
            a,
            0.5,
            p,
            0 if fine else None,
        )
        for fine in (False, True)
        for a in (0.95, 0.96, 0.97)
        for p in (1, 2)
    ],
]


def is_default(candidate: Candidate) -> bool:
    from explainers.convergence import StopRule

    rule = StopRule()
    same = (candidate.agreement, candidate.lag, candidate.patience) == (rule.agreement, rule.lag, rule.patience)
    return same and candidate.chunk is None and candidate.grow


def record(model, photo, method: str, budget: int, target: int, seed: int, fine: int, key: str = ""):
    """Running maps [(samples, seconds, map)] of one never-stopping stable run in chunks of ``fine``
    (kept in ``CACHE`` by ``key``, so more candidates can be replayed without running the model again)."""
    from explainers.methods import METHODS as REGISTRY

    # the sampler and the chunk schedule (growing first chunks) are part of what was recorded
    cached = CACHE / f"{key}-{method}-{page_sampler(method)}-grown-{budget}-{seed}-{fine}.npz"
    if key and cached.exists():
        data = np.load(cached)
        return list(zip(data["samples"].tolist(), data["seconds"].tolist(), data["maps"])), REGISTRY[method].chunk
    recording, own = _record(model, photo, method, budget, target, seed, fine)
    if key:
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(
            cached,
            samples=[r[0] for r in recording],
            seconds=[r[1] for r in recording],
            maps=np.stack([r[2] for r in recording]),
        )
    return recording, own


def _record(model, photo, method: str, budget: int, target: int, seed: int, fine: int):
    from explainers import explain
    from explainers.convergence import chunk_bounds, stable_chunk
    from explainers.methods import METHODS as REGISTRY

    cls = REGISTRY[method]
    sampler = page_sampler(method)  # what the page runs
    shown: list[tuple[float, np.ndarray]] = []
    began = time.perf_counter()
    own = cls.chunk
    cls.chunk = fine
    try:
        setting = cls.budget
        explain(
            model,
            photo,
            method,
            target=target,
            **{setting: budget},
            seed=seed,
            sampler=sampler,
            until="stable",
            agreement=1.0,
            patience=10,
            max_seconds=3600.0,
            preview=lambda heatmap: shown.append((time.perf_counter() - began, np.array(heatmap))),
        )
    finally:
        cls.chunk = own
    stops = [stop for _, stop in chunk_bounds(budget, stable_chunk(fine, budget))]
    assert len(shown) == len(stops), f"{method}: {len(shown)} maps for {len(stops)} chunks"
    return [(stop, seconds, heatmap) for stop, (seconds, heatmap) in zip(stops, shown)], own


def replay(recording, candidate: Candidate, own_chunk: int, budget: int):
    """Where ``candidate`` stops on ``recording``: (samples, seconds, map, how it stopped, the maps it
    was shown)."""
    from explainers.convergence import StopRule, chunk_bounds, run_until_stable, stable_chunk

    chunk = own_chunk if candidate.chunk is None else candidate.chunk
    if chunk:  # the maps the method's own chunks would have shown (one that was not recorded is skipped)
        chunk = stable_chunk(chunk, budget)
        grown = {stop for _, stop in chunk_bounds(budget, chunk)}
        bounds = grown if candidate.grow else {*range(chunk, budget, chunk), budget}
        kept = [item for item in recording if item[0] in bounds]
    else:
        kept = recording
    now = [0.0]

    def steps():
        for samples, seconds, heatmap in kept:
            now[0] = seconds
            yield samples, (seconds, heatmap)

    rule = StopRule(candidate.agreement, candidate.patience, budget, None, lag=candidate.lag)
    (seconds, heatmap), meta = run_until_stable(steps(), rule, heatmap_of=lambda r: r[1], clock=lambda: now[0])
    return meta["samples"], seconds, heatmap, meta["stopped"], kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["shapes", "resnet50"])
    parser.add_argument("--methods", help="comma-separated (default: the six sampling methods)")
    parser.add_argument("--pictures", type=int, default=3, help="Shapes pictures (big models: the cat only)")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    from explainers import explain, load_model
    from explainers.convergence import rank_agreement
    from explainers.images import decode

    methods = args.methods.split(",") if args.methods else METHODS
    results: dict[str, list] = {c.name: [] for c in CANDIDATES}
    began = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for name in args.models:
        model = load_model(name) if name == "shapes" else load_model(name, weights=None)
        if name == "shapes":
            files = sorted((ROOT / "assets" / "examples" / "shapes").glob("[!.]*[!k].png"))[: args.pictures]
        else:
            files = [ROOT / "assets" / "examples" / "chelsea.jpg"]
        for path in files:
            photo = decode(path.read_bytes())
            target = int(explain(model, photo, "vanilla_gradient").target)
            for method in methods:
                kind = "masks" if method in ("rise", "lime") else "grads"
                budget = BUDGET[name][kind]
                fine = FINE.get(method, 2)
                key = f"{name}-{path.stem}"
                one, _ = record(model, photo, method, budget, target, 101, fine, key)
                two, _ = record(model, photo, method, budget, target, 202, fine, key)
                reference, floor = (one[-1][2] + two[-1][2]) / 2, rank_agreement(one[-1][2], two[-1][2])
                recording, own = record(model, photo, method, budget, target, 0, fine, key)
                goal = TARGET_SHARE * floor
                first = next((r for r in recording if rank_agreement(r[2], reference) >= goal), None)
                for candidate in CANDIDATES:
                    samples, seconds, heatmap, stopped, kept = replay(recording, candidate, own, budget)
                    ratio = rank_agreement(heatmap, reference) / floor
                    # the maps a person saw: those up to where the rule stopped
                    seen = [r for r in kept if r[0] <= samples]
                    shown = next((r for r in seen if rank_agreement(r[2], reference) >= goal), None)
                    results[candidate.name].append(
                        {
                            "case": f"{name} {path.stem} {method}",
                            "samples": samples,
                            "seconds": seconds,
                            "met": ratio >= TARGET_SHARE,
                            "ratio": ratio,
                            "stopped": stopped,
                            "first": None if first is None else first[0],
                            "shown": None if shown is None else shown[1],
                            "budget": budget,
                        }
                    )
                line = "; ".join(
                    f"{c.name}: {results[c.name][-1]['samples']}{'' if results[c.name][-1]['met'] else ' (not met)'}"
                    for c in CANDIDATES
                    if is_default(c) or c is CANDIDATES[0]
                )
                first_met = first[0] if first else "never"
                print(f"{name} {path.stem} {method}: floor {floor:.2f}, first met at {first_met}; {line}", flush=True)
    table = summary(results)
    print(table)
    if args.write:
        from benchmarks.doc_table import replace_section

        command = (
            f"`.venv/bin/python benchmarks/stop_rules.py --models {' '.join(args.models)} "
            f"--pictures {args.pictures}{f' --methods {args.methods}' if args.methods else ''} --write`"
        )
        replace_section(ROOT / "docs" / "benchmarks.md", "stop-rules", f"Run {began} with {command}.\n\n{table}")


def summary(results: dict[str, list]) -> str:
    """One row per candidate: how often it stopped by itself, how often its map met the target where it
    stopped (of the cases whose recording met it at all), its samples over the fewest that met the
    target, its total seconds over the default rule's, and how soon a map it showed met the target
    (over the cases where both it and the default showed one)."""
    default = next(c.name for c in CANDIDATES if is_default(c))
    base = sum(case["seconds"] for case in results[default]) or 1.0
    rows = [
        "| rule | stopped by itself | its map met the target where it stopped | samples ÷ the fewest that met "
        "the target (median) | samples ÷ budget (median) | seconds ÷ the default's (all cases) "
        "| a shown map met the target | seconds until then ÷ the default's (cases both met) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, cases in results.items():
        if not cases:
            continue
        meetable = [c for c in cases if c["first"]]
        over = [c["samples"] / c["first"] for c in meetable]
        both = [(c["shown"], d["shown"]) for c, d in zip(cases, results[default]) if c["shown"] and d["shown"]]
        rows.append(
            f"| {name}{' (**default**)' if name == default else ''} | "
            f"{sum(c['stopped'] == 'stable' for c in cases)} of {len(cases)} | "
            f"{sum(c['met'] for c in meetable)} of {len(meetable)} | "
            f"{np.median(over) if over else float('nan'):.2f} | "
            f"{np.median([c['samples'] / c['budget'] for c in cases]):.2f} | "
            f"{sum(c['seconds'] for c in cases) / base:.2f} | "
            f"{sum(bool(c['shown']) for c in cases)} of {len(cases)} | "
            f"{sum(a for a, _ in both) / (sum(b for _, b in both) or 1.0):.2f} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
