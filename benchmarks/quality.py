"""Seconds until a sampling method's map is as good as it gets: ours in stable mode with the better
sampler, ours at fixed counts (better and plain sampler), and the peers at fixed counts.

    .venv-peers/bin/python benchmarks/quality.py [--quick] [--models shapes resnet50 vgg16] [--write]

Agreement is Spearman's ρ between two maps average-pooled to 32 × 32 (``explainers.convergence``). A
method's reference is two runs at ``REFERENCE`` × its largest count with different seeds; their mutual
ρ is its noise floor, and a map "has converged" when ρ(map, reference) ≥ 0.95 × floor. Fixed counts
are tried in a doubling schedule; the table gives the smallest count that reaches the target and its
seconds. Stable mode is one run: its samples, seconds and whether it reached the target. Top-10 % IoU:
the overlap of the two maps' top 10 % cells. Each peer is measured against its own reference. Models
have **random weights** except the Shapes demo (no ImageNet weights can be downloaded here).
"""

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


def plans(quick: bool, model: str) -> list[Plan]:
    """What is measured on ``model``: every sampling method on Shapes; SmoothGrad on the big models with
    ``--quick`` (their references alone cost hundreds of gradient passes)."""
    noise = lambda setup: 0.15 * setup["input_range"]  # noqa: E731 - a per-model setting
    small = model == "shapes"
    grads = [2, 4, 8, 16, 32] + ([] if quick else [64]) if small else [2, 4, 8, 16] + ([] if quick else [32])
    masks = [32, 64, 128, 256] + ([] if quick else [512])
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
    ]
    if small:
        return every
    return every[:1] if quick else every[:4]


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
    parser.add_argument("--quick", action="store_true", help="SmoothGrad only on the big models, references 4×")
    parser.add_argument("--no-peers", action="store_true", help="ours only")
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()

    from explainers import explain, load_model
    from explainers.convergence import rank_agreement
    from explainers.images import decode

    factor = 4 if args.quick else 8
    peer_error = None
    if not args.no_peers:
        try:
            import tf_keras_vis  # noqa: F401
            import xplique.attributions  # noqa: F401
        except Exception as error:  # noqa: BLE001 - any import failure: said in the table instead
            peer_error = f"not measured here: the peers do not import ({type(error).__name__}: {error})"
    else:
        peer_error = "not measured here: run without --no-peers in .venv-peers (benchmarks/setup_peers.sh)"
    began, clock = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.perf_counter()
    photo = decode((ROOT / "assets" / "examples" / "chelsea.jpg").read_bytes())
    rows = []
    for name in args.models:
        small = name == "shapes"
        model = load_model(name) if small else load_model(name, weights=None)
        target = int(explain(model, photo, "vanilla_gradient").target)
        setup = {"keras": model.keras, "target": target, "input_range": model.input_range()}
        setup["inputs"] = model.preprocess(model.prepare(photo)[None])
        setup["onehot"] = np.eye(len(model.labels), dtype=np.float32)[[target]]
        if peer_error is None:
            from explainers._tf import keras

            setup["probabilities"] = keras.Model(model.keras.inputs, keras.layers.Softmax()(model.keras.output))
        weights = "shipped weights" if name == "shapes" else "random weights"
        for plan in plans(args.quick, name):

            def ours(count, seed=0, sampler="plain", **more):
                settings = {plan.setting: count, "seed": seed, "sampler": sampler, **more}
                return explain(model, photo, plan.method, target=target, **settings).heatmap

            better = better_sampler(plan.method)
            reference, floor = reference_of(lambda c, s: ours(c, s, better), factor * plan.counts[-1])
            goal = TARGET_SHARE * floor
            fixed_better = converge(lambda c: ours(c, 0, better), plan.counts, reference, goal)
            fixed_plain = converge(lambda c: ours(c, 0, "plain"), plan.counts, reference, goal)
            # after the fixed counts, so its chunk sizes are compiled already, as on a server that has run a while
            began_stable = time.perf_counter()
            stable = explain(
                model,
                photo,
                plan.method,
                target=target,
                until="stable",
                sampler=better,
                **{plan.setting: plan.counts[-1]},
            )
            stable_seconds = time.perf_counter() - began_stable
            rho = rank_agreement(stable.heatmap, reference)
            stable_cell = (
                f"{stable.meta['samples']}, {stable_seconds:.1f} s ({stable.meta['stopped']}); "
                f"ρ/floor {rho / floor:.2f}, IoU {top_overlap(stable.heatmap, reference):.2f}"
            )
            peers = []
            skip = "not measured here: --quick measures the peers on Shapes only" if args.quick and not small else None
            for peer, build in plan.peers.items():
                if peer_error is not None or skip:
                    break
                try:
                    peer_reference, peer_floor = reference_of(
                        lambda c, s, b=build: b(setup, c, s)(), factor * plan.counts[-1]
                    )
                    found = converge(
                        lambda c, b=build: b(setup, c, 0)(), plan.counts, peer_reference, TARGET_SHARE * peer_floor
                    )
                    peers.append((peer, found, peer_floor))
                except Exception as error:  # noqa: BLE001 - a peer that fails gets its error in its cell
                    peers.append((peer, f"failed: {type(error).__name__}: {str(error)[:80]}", None))
            if peer_error is not None or skip:
                peer_cells = (peer_error or skip) if plan.peers else "no peer has it"
            else:
                peer_cells = (
                    "; ".join(
                        f"{peer}: {cell(found, peer_floor)}" if isinstance(found, tuple) else f"{peer}: {found}"
                        for peer, found, peer_floor in peers
                    )
                    or "no peer has it"
                )
            row = (
                f"| {model.title} ({weights}) | {plan.method} | {floor:.2f} | {stable_cell} | "
                f"{cell(fixed_better, floor)} | {cell(fixed_plain, floor)} | {peer_cells} |"
            )
            print(row, flush=True)
            rows.append(row)
            if args.write:  # after every row, so a long run that is stopped keeps what it measured
                write(args, began, clock, factor, rows)
    print(write(args, began, clock, factor, rows, to_docs=args.write))


def write(args, began: str, clock: float, factor: int, rows: list[str], to_docs: bool = True) -> str:
    """The table (with how it was made) as markdown, also put into docs/benchmarks.md if ``to_docs``."""
    from benchmarks.doc_table import replace_section

    minutes = (time.perf_counter() - clock) / 60
    flags = " --quick" if args.quick else ""
    text = "\n".join(
        [
            f"Run {began} with `.venv-peers/bin/python benchmarks/quality.py{flags} --models {' '.join(args.models)}"
            f" --write`; it took {minutes:.0f} min on this shared 2-core machine (seconds are from one run under "
            "other work: compare within a row). Cat photo, the model's top-1 class; reference = the mean of two "
            f"runs at {factor}× the largest count (seeds 101, 202), floor = their mutual ρ at 32 × 32, target = "
            f"{TARGET_SHARE} × floor. Counts tried: doubling up to the largest. A cell: samples (masks) to reach "
            "the target and the seconds of that run, then ρ/floor and the top-10 % IoU with the reference. "
            "Stable: `until=\"stable\"` with the largest count as its budget and the better sampler (antithetic "
            "noise, Sobol masks and patterns, stratified baselines), run after the fixed counts so that every "
            "batch size it uses is compiled, as on a server that has been running.",
            "",
            "| model | method | noise floor ρ | ours, stable + better sampler | ours, fixed count, better sampler "
            "| ours, fixed count, plain sampler | peers (own reference, fixed counts) |",
            "|---|---|---:|---|---|---|---|",
            *rows,
        ]
    )
    if to_docs:
        replace_section(ROOT / "docs" / "benchmarks.md", "quality", text)
    return text


def better_sampler(method: str) -> str:
    """The method's sampler other than plain (antithetic, sobol or stratified)."""
    from explainers.methods import METHODS

    return [choice for choice in METHODS[method].params["sampler"].choices if choice != "plain"][0]


if __name__ == "__main__":
    main()
