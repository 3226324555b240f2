"""Seconds until a sampling method's map is as good as it gets: ours in stable mode with the sampler
the page runs (the better one, but plain noise for SmoothGrad's family), ours at fixed counts (better
and plain sampler), and the peers at fixed counts.

    .venv-peers/bin/python benchmarks/quality.py [--models shapes vgg16] [--methods smoothgrad,rise]
        [--largest-samples 8] [--largest-masks 64] [--factor 4] [--quick] [--write]

Agreement is Spearman's ρ between two maps average-pooled to 32 × 32 (``explainers.convergence``). A
method's reference is two runs at ``--factor`` × its largest count with different seeds; their mutual
ρ is its noise floor, and a map "has converged" when ρ(map, reference) ≥ 0.95 × floor. Fixed counts
are tried in a doubling schedule; the table gives the smallest count that reaches the target and its
seconds (a peer's schedule goes on to half its reference count, so a slow peer gets a figure, not a bound). Stable mode is one run with a reference run's count as its budget (room to stop by itself):
its samples, seconds, how it stopped, and when the partial map a person sees first met the target.
Top-10 % IoU: the overlap of the two maps' top 10 % cells. Each peer is measured against its own
reference. Models have **random weights** except the Shapes demo (no ImageNet weights can be
downloaded here). ``--write`` puts each model's table into its own section of docs/benchmarks.md
(one per model and ``--methods`` subset), so a big model can be measured a few methods at a time."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_SHARE = 0.95  # of the noise floor


@dataclass
class Plan:
    """One method's counts: the doubling schedule, its setting name, and the peers that have it."""

    method: str
    setting: str
    counts: list[int]
    peers: dict[str, Any] = field(default_factory=dict)  # peer name -> builder(setup, count, seed) -> call
    seeded: bool = True  # False: a method without randomness (occlusion's scales), so no seed nor sampler
    settings: dict[str, Any] = field(default_factory=dict)  # the method's other settings for every run


def top_overlap(first: np.ndarray, second: np.ndarray, share: float = 0.1) -> float:
    """IoU of the two maps' top ``share`` cells on the 32 × 32 display grid."""
    from explainers.convergence import display_map

    a, b = display_map(first).ravel(), display_map(second).ravel()
    k = max(1, int(round(share * a.size)))
    top_a, top_b = set(np.argsort(-a)[:k]), set(np.argsort(-b)[:k])
    return len(top_a & top_b) / len(top_a | top_b)


def as_map(output: Any) -> np.ndarray:
    """A peer's output as one (H, W) map (colour channels summed)."""
    values = np.squeeze(np.asarray(output, np.float32))
    return values.sum(axis=-1) if values.ndim == 3 else values


# ---- peers: each call returns one map; seeds through TensorFlow's global seed -----------------------
def xplique(cls: str, count_name: str, probabilities: bool = False, **settings: Any):
    def build(setup, count: int, seed: int):
        import xplique.attributions as attributions

        from explainers._tf import tf

        model = setup["probabilities"] if probabilities else setup["keras"]
        values = {k: (v(setup) if callable(v) else v) for k, v in settings.items()}
        explainer = getattr(attributions, cls)(model, **{count_name: count}, **values)

        def call():
            tf.random.set_seed(seed)
            np.random.seed(seed)
            return as_map(explainer.explain(setup["inputs"], setup["onehot"]).numpy())

        return call

    return build


def tf_keras_vis_smoothgrad(setup, count: int, seed: int):
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.utils.scores import CategoricalScore

    from explainers._tf import tf

    saliency = Saliency(setup["keras"], clone=False)
    score = CategoricalScore([setup["target"]])

    def call():
        tf.random.set_seed(seed)
        np.random.seed(seed)
        return as_map(saliency(score, setup["inputs"], smooth_samples=count, smooth_noise=0.15))

    return call


def slic_mapping(setup):
    from skimage.segmentation import slic

    from explainers._tf import tf

    def mapping(inp):
        values = inp.numpy().astype(np.float64)
        values = (values - values.min()) / max(float(values.max() - values.min()), 1e-12)
        return tf.cast(slic(values, n_segments=50, compactness=10, start_label=0, channel_axis=-1), tf.int32)

    return mapping


def plans(
    quick: bool, model: str, methods: list[str] | None = None, largest: dict[str, int] | None = None
) -> list[Plan]:
    """What is measured on ``model``: ``methods`` (default: every sampling method on Shapes; SmoothGrad only
    on the big models with ``--quick``, as their references alone cost hundreds of passes). ``largest``:
    the largest count per kind ("grads", "masks") of the doubling schedule, to keep a big model's run short."""
    noise = lambda setup: 0.15 * setup["input_range"]  # noqa: E731 - a per-model setting
    small = model == "shapes"
    largest = largest or {}
    grads = doubling(2, largest.get("grads") or ((32 if quick else 64) if small else (16 if quick else 32)))
    masks = doubling(32, largest.get("masks") or (256 if quick else 512))
    every = [
        Plan(
            "smoothgrad",
            "n_samples",
            grads,
            {
                "Xplique": xplique("SmoothGrad", "nb_samples", noise=noise, batch_size=16),
                "tf-keras-vis": tf_keras_vis_smoothgrad,
            },
        ),
        Plan("squaregrad", "n_samples", grads, {"Xplique": xplique("SquareGrad", "nb_samples", noise=noise)}),
        Plan("vargrad", "n_samples", grads, {"Xplique": xplique("VarGrad", "nb_samples", noise=noise)}),
        Plan("expected_gradients", "n_samples", grads),
        Plan(
            "rise",
            "n_masks",
            masks,
            {"Xplique": xplique("Rise", "nb_samples", True, grid_size=7, preservation_probability=0.5, batch_size=32)},
        ),
        Plan(
            "lime",
            "n_samples",
            masks,
            {"Xplique": xplique("Lime", "nb_samples", True, map_to_interpret_space=slic_mapping, batch_size=32)},
        ),
        # not random: its "reference" is its most scales (a floor of 1), its counts fewer scales
        Plan("occlusion", "scales", [1, 2, 4], seeded=False, settings={"patch": 64, "stride": 64}),
    ]
    if methods:
        unknown = set(methods) - {plan.method for plan in every}
        if unknown:
            raise SystemExit(f"no such sampling method here: {', '.join(sorted(unknown))}")
        return [plan for plan in every if plan.method in methods]
    if small:
        return every
    return every[:1] if quick else every[:4]


def doubling(first: int, largest: int) -> list[int]:
    """first, 2 × first, ... up to ``largest``."""
    counts = [first]
    while counts[-1] * 2 <= largest:
        counts.append(counts[-1] * 2)
    return counts


def measure(call) -> tuple[np.ndarray, float]:
    began = time.perf_counter()
    heatmap = call()
    return heatmap, time.perf_counter() - began


def converge(run, counts: list[int], reference: np.ndarray, target: float):
    """The smallest count of the doubling schedule whose map reaches ``target``: (count, seconds, ρ, IoU)
    or (None, seconds of the largest, its ρ, IoU) when none does."""
    from explainers.convergence import rank_agreement

    for count in counts:
        heatmap, seconds = measure(lambda: run(count))
        rho = rank_agreement(heatmap, reference)
        if rho >= target:
            return count, seconds, rho, top_overlap(heatmap, reference)
    return None, seconds, rho, top_overlap(heatmap, reference)


def reference_of(run, count: int) -> tuple[np.ndarray, float]:
    """The reference map (mean of two seeds' maps at ``count``) and the noise floor (their mutual ρ)."""
    from explainers.convergence import rank_agreement

    first, second = run(count, 101), run(count, 202)
    return (first + second) / 2, rank_agreement(first, second)


def cell(found: tuple, floor: float) -> str:
    """A ``converge`` result in words."""
    count, seconds, rho, iou = found
    reached = f"{count}, {seconds:.1f} s" if count is not None else f"not reached ({seconds:.1f} s at the largest)"
    return f"{reached}; ρ/floor {rho / floor:.2f}, IoU {iou:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["shapes", "resnet50", "vgg16"])
    parser.add_argument("--methods", help="a comma-separated subset, e.g. smoothgrad,rise (default: see plans)")
    parser.add_argument("--largest-samples", type=int, help="the largest fixed count of the gradient methods")
    parser.add_argument("--largest-masks", type=int, help="the largest fixed count of RISE and LIME")
    parser.add_argument(
        "--factor", type=int, help="the reference runs' count over the largest (default 8, 4 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="smaller counts; SmoothGrad only on the big models")
    parser.add_argument("--no-peers", action="store_true", help="ours only")
    parser.add_argument("--write", action="store_true", help="write each model's table into docs/benchmarks.md")
    args = parser.parse_args()

    from explainers import explain, load_model
    from explainers.images import decode

    factor = args.factor or (4 if args.quick else 8)
    peer_error = None
    if not args.no_peers:
        try:
            import tf_keras_vis  # noqa: F401
            import xplique.attributions  # noqa: F401
        except Exception as error:  # noqa: BLE001 - any import failure: said in the table instead
            peer_error = f"not measured here: the peers do not import ({type(error).__name__}: {error})"
    else:
        peer_error = "not measured here: run without --no-peers in .venv-peers (benchmarks/setup_peers.sh)"
    photo = decode((ROOT / "assets" / "examples" / "chelsea.jpg").read_bytes())
    methods = [name.strip() for name in args.methods.split(",")] if args.methods else None
    largest = {"grads": args.largest_samples, "masks": args.largest_masks}
    for name in args.models:
        run = {"began": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "clock": time.perf_counter()}
        run["load"] = uptime()
        print(f"{name}: load at the start {run['load']}", flush=True)
        small = name == "shapes"
        model = load_model(name) if small else load_model(name, weights=None)
        target = int(explain(model, photo, "vanilla_gradient").target)
        setup = {"keras": model.keras, "target": target, "input_range": model.input_range()}
        setup["inputs"] = model.preprocess(model.prepare(photo)[None])
        setup["onehot"] = np.eye(len(model.labels), dtype=np.float32)[[target]]
        if peer_error is None:
            from explainers._tf import keras

            setup["probabilities"] = keras.Model(model.keras.inputs, keras.layers.Softmax()(model.keras.output))
        rows = []
        for plan in plans(args.quick, name, methods, largest):

            def ours(count, seed=0, sampler="plain", **more):
                randomness = {"seed": seed, "sampler": sampler} if plan.seeded else {}
                settings = {plan.setting: count, **randomness, **plan.settings, **more}
                return explain(model, photo, plan.method, target=target, **settings)

            better = better_sampler(plan.method)
            budget = factor * plan.counts[-1]  # stable mode may use as many samples as one reference run
            reference, floor = reference_of(lambda c, s: ours(c, s, better).heatmap, budget)
            goal = TARGET_SHARE * floor
            fixed_better = converge(lambda c: ours(c, 0, better).heatmap, plan.counts, reference, goal)
            fixed_plain = converge(lambda c: ours(c, 0, "plain").heatmap, plan.counts, reference, goal)
            # after the fixed counts, so its chunk sizes are compiled already, as on a server that has run a while
            # the sampler the page runs: the better one, except SmoothGrad's family, where antithetic pairs
            # measured no better than plain noise and plain is the default
            page = page_sampler(plan.method)
            stable = run_stable(lambda **more: ours(budget, 0, page, **more), reference, goal)
            peers = [] if peer_error else measure_peers(plan, setup, budget)
            row = (
                f"| {plan.method} | {floor:.2f} | {stable_cell(stable, floor)} | {cell(fixed_better, floor)} | "
                f"{cell(fixed_plain, floor)} | {peer_cells(plan, peers, peer_error)} | {ratio_cells(stable, peers)} |"
            )
            print(row, flush=True)
            rows.append(row)
            if args.write:  # after every row, so a long run that is stopped keeps what it measured
                write(args, name, model.title, run, factor, rows)
        run["load_after"] = uptime()
        print(write(args, name, model.title, run, factor, rows, to_docs=args.write))


def uptime() -> str:
    """The load averages over 1, 5 and 15 minutes: the machine is shared, so each table says how busy it was."""
    import os

    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def run_stable(run, reference: np.ndarray, goal: float) -> dict[str, Any]:
    """One ``until="stable"`` run: its samples, seconds, how it stopped, its map's ρ and IoU with the
    reference, and when the map a person sees (each chunk's partial map) first met the target."""
    from explainers.convergence import rank_agreement

    shown: list[tuple[float, np.ndarray]] = []
    began = time.perf_counter()
    result = run(
        until="stable",
        max_seconds=3600.0,
        preview=lambda heatmap: shown.append((time.perf_counter() - began, np.array(heatmap))),
    )
    seconds = time.perf_counter() - began
    met = next((i for i, (_, heatmap) in enumerate(shown) if rank_agreement(heatmap, reference) >= goal), None)
    return {
        "samples": result.meta["samples"],
        "stopped": result.meta["stopped"],
        "seconds": seconds,
        "rho": rank_agreement(result.heatmap, reference),
        "iou": top_overlap(result.heatmap, reference),
        "met": None if met is None else (met + 1, len(shown), shown[met][0]),
    }


def stable_cell(stable: dict[str, Any], floor: float) -> str:
    """A ``run_stable`` result in words."""
    if stable["met"] is None:
        shown = "its shown map never met the target"
    else:
        chunk, chunks, seconds = stable["met"]
        shown = f"its shown map met the target at chunk {chunk} of {chunks}, {seconds:.1f} s"
    return (
        f"{stable['samples']}, {stable['seconds']:.1f} s ({stable['stopped']}); {shown}; "
        f"ρ/floor {stable['rho'] / floor:.2f}, IoU {stable['iou']:.2f}"
    )


def measure_peers(plan: Plan, setup: dict[str, Any], count: int) -> list[tuple[str, Any, float | None]]:
    """Each peer that has the method: (name, ``converge`` result or the error in words, its noise floor),
    against its own reference (two runs at ``count`` with other seeds)."""
    peers = []
    for peer, build in plan.peers.items():
        try:
            reference, floor = reference_of(lambda c, s, b=build: b(setup, c, s)(), count)
            # past our largest count up to half a reference run, so a slow peer gets a figure, not a bound
            counts = doubling(plan.counts[0], max(plan.counts[-1], count // 2))
            found = converge(lambda c, b=build: b(setup, c, 0)(), counts, reference, TARGET_SHARE * floor)
            peers.append((peer, found, floor))
        except Exception as error:  # noqa: BLE001 - a peer that fails gets its error in its cell
            peers.append((peer, f"failed: {type(error).__name__}: {str(error)[:80]}", None))
    return peers


def peer_cells(plan: Plan, peers: list, peer_error: str | None) -> str:
    if not plan.peers:
        return "no peer has it"
    if peer_error is not None:
        return peer_error
    return "; ".join(
        f"{peer}: {cell(found, floor)}" if isinstance(found, tuple) else f"{peer}: {found}"
        for peer, found, floor in peers
    )


def ratio_cells(stable: dict[str, Any], peers: list) -> str:
    """The fastest peer's seconds to the target, and ours over it: when stable mode stopped, and when its
    shown map first met the target. A peer that never met it within its counts gives a bound ("<")."""
    runs = [found for _, found, _ in peers if isinstance(found, tuple)]
    if not runs:
        return "no peer | – | –"
    reached = [found[1] for found in runs if found[0] is not None]
    if reached:
        fastest, bound, said = min(reached), "", f"{min(reached):.1f} s"
    else:  # no peer met it: it would need more than its largest run took
        fastest, bound = max(found[1] for found in runs), "< "
        said = f"not met ({fastest:.1f} s at the largest)"
    if stable["met"] is None:
        return f"{said} | ours not met | ours not met"
    stopped = f"{bound}{stable['seconds'] / fastest:.2f}" + (" (budget)" if stable["stopped"] == "budget" else "")
    return f"{said} | {stopped} | {bound}{stable['met'][2] / fastest:.2f}"


def write(args, name: str, title: str, run: dict[str, Any], factor: int, rows: list[str], to_docs: bool = True) -> str:
    """One model's table (with how it was made) as markdown, also put into its section of
    docs/benchmarks.md (``section``) if ``to_docs``."""
    from benchmarks.doc_table import replace_section

    minutes = (time.perf_counter() - run["clock"]) / 60
    flags = "".join(
        f" {flag} {value}"
        for flag, value in (
            ("--methods", args.methods),
            ("--largest-samples", args.largest_samples),
            ("--largest-masks", args.largest_masks),
            ("--factor", args.factor),
        )
        if value
    )
    flags += " --quick" if args.quick else ""
    load = f"load {run['load']}" + (f" at the start, {run['load_after']} at the end" if "load_after" in run else "")
    weights = "shipped weights" if name == "shapes" else "random weights"
    text = "\n".join(
        [
            f"**{title}** ({weights}). Run {run['began']} with `.venv-peers/bin/python benchmarks/quality.py "
            f"--models {name}{flags} --write`: {minutes:.0f} min, {load} (1 / 5 / 15 min; 2 cores, shared). "
            f"Reference: two runs at {factor}× the largest count; stable mode's budget: that count too.",
            "",
            "| method | noise floor ρ | ours, stable (the page's sampler) | ours, fixed count, better sampler "
            "| ours, fixed count, plain sampler | peers (own reference, fixed counts) | fastest peer to the target "
            "| ours stopped ÷ fastest peer | ours shown map met the target ÷ fastest peer |",
            "|---|---:|---|---|---|---|---|---:|---:|",
            *rows,
        ]
    )
    if to_docs:
        replace_section(ROOT / "docs" / "benchmarks.md", section(name, args.methods), text)
    return text


def section(model: str, methods: str | None) -> str:
    """The docs section a run owns: one per model and subset of methods, so runs of subsets add up."""
    return "-".join(["quality", model, *(methods.replace(" ", "").split(",") if methods else [])])


def page_sampler(method: str) -> str:
    """The method's default sampler (what the page runs); plain if it has no sampler."""
    from explainers.methods import METHODS

    sampler = METHODS[method].params.get("sampler")
    return "plain" if sampler is None else sampler.default


def better_sampler(method: str) -> str:
    """The method's sampler other than plain (antithetic, sobol or stratified); plain if it has no sampler."""
    from explainers.methods import METHODS

    sampler = METHODS[method].params.get("sampler")
    return "plain" if sampler is None else [choice for choice in sampler.choices if choice != "plain"][0]


if __name__ == "__main__":
    main()
