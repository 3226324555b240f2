"""Command line: ``python -m explainers explain|activations|evaluate|sanity|batch|models|labels|fetch-weights``.

Errors print one plain line on stderr and exit with status 1 (2 for a malformed command line).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from explainers.errors import ExplainerError


def _parser() -> argparse.ArgumentParser:
    from explainers import views_cli
    from explainers.models import MODELS

    parser = argparse.ArgumentParser(prog="python -m explainers", description="Saliency maps for ImageNet CNNs.")
    commands = parser.add_subparsers(dest="command", required=True)

    ex = commands.add_parser("explain", help="compute a saliency map for a picture and save it as an overlay")
    ex.add_argument("image", help="a JPEG, PNG, WebP or GIF file")
    ex.add_argument("--model", default="vgg16", help=f"one of {', '.join(MODELS)}, or a .keras file (default vgg16)")
    ex.add_argument("--labels", default=None, help="with a .keras model: a .txt (one name a line) or .json file")
    ex.add_argument("--preprocessing", default="unit", help="with a .keras model: caffe, tf, torch, unit or none")
    ex.add_argument("--method", default="grad_cam", help="a method name (see 'models'); default grad_cam")
    ex.add_argument("--target", default=None, help="class number or name, e.g. 281 or tabby (default: top-1)")
    ex.add_argument("--layer", default=None, help="layer name (default: the model's recommended layer)")
    ex.add_argument("--weights", default="imagenet", help="imagenet (default), none (random, for tests) or a file path")
    ex.add_argument("--weights-dir", default=None, help="folder holding ImageNet .h5 files copied by hand")
    ex.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a method setting")
    ex.add_argument("--opacity", type=float, default=0.5, help="heatmap opacity in the overlay (0-1)")
    ex.add_argument("--colormap", default="viridis", help="viridis (default), inferno, jet, gray, cividis")
    ex.add_argument("--out", default="overlay.png", help="where to write the overlay PNG")
    ex.add_argument("--npy", default=None, help="also save the raw heatmap (model input size) as .npy")
    views_cli.add_sweep_flag(ex)
    views_cli.add_activations(commands)
    ex.add_argument("--top-k", type=int, default=None, metavar="K", help="the map for each of the top K classes (1-10)")
    ex.add_argument("--contrast", default=None, metavar="A,B", help="why class A and not class B (logit A - logit B)")
    ex.add_argument(
        "--source", default=None, help="pixels or layer: where the attributions are taken (methods with it)"
    )

    ev = commands.add_parser("evaluate", help="score a method on generated Shapes pictures whose outlines are known")
    ev.add_argument("--model", default="shapes", help="shapes (the only model with known outlines)")
    ev.add_argument("--method", default="grad_cam")
    ev.add_argument("--n", type=int, default=100, help="how many generated pictures (default 100)")
    ev.add_argument("--seed", type=int, default=None, help="which generated set (default: the evaluation set)")
    ev.add_argument("--layer", default=None)
    ev.add_argument("--weights", default="imagenet", help="the trained weights (default), none, or a file path")
    ev.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a method setting")
    ev.add_argument("--steps", type=int, default=20, help="points of the deletion/insertion curves (default 20)")
    ev.add_argument("--no-faithfulness", action="store_true", help="skip the deletion and insertion curves")
    ev.add_argument("--json", default=None, help="also write every score (and each picture's) to this file")

    sn = commands.add_parser("sanity", help="cascading weight randomization and the random-class check")
    sn.add_argument("--model", default="shapes")
    sn.add_argument("--method", default="grad_cam")
    sn.add_argument(
        "--image", action="append", default=None, help="a picture (repeatable); default: generated Shapes pictures"
    )
    sn.add_argument("--n", type=int, default=3, help="how many generated pictures when no --image (default 3)")
    sn.add_argument("--layer", default=None)
    sn.add_argument("--weights", default="imagenet")
    sn.add_argument("--weights-dir", default=None)
    sn.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a method setting")
    sn.add_argument("--json", default=None, help="also write the table to this file")

    from explainers.sets import cli as sets_cli

    sets_cli.add_parser(commands)

    md = commands.add_parser("models", help="list the models, their layers and the state of their weights")
    md.add_argument("--weights-dir", default=None)
    md.add_argument("--layers", action="store_true", help="list every pickable layer with its size")
    md.add_argument("--probe", action="store_true", help="check whether the weights server can be reached")

    lb = commands.add_parser("labels", help="search a model's classes (the 1000 ImageNet classes by default)")
    lb.add_argument("query", nargs="?", default="", help="part of a name, or a class number")
    lb.add_argument("--model", default="vgg16")
    lb.add_argument("--limit", type=int, default=20)

    fw = commands.add_parser("fetch-weights", help="download ImageNet weights into Keras's cache")
    fw.add_argument("--model", action="append", default=None, help="a model (repeatable); default: all three")
    return parser


def _explain(args) -> int:
    import numpy as np

    from explainers.api import explain
    from explainers.images import decode
    from explainers.models import load_model
    from explainers.render import draw_points, encode_png, overlay

    if args.sweep:
        from explainers.views_cli import sweep_command

        return sweep_command(args)
    target, contrast = _contrast(args.target, args.contrast)
    if args.top_k is not None and contrast is not None:
        from explainers.top_k import NOT_WITH_CONTRAST

        raise ExplainerError(NOT_WITH_CONTRAST)
    path = Path(args.image)
    if not path.is_file():
        raise ExplainerError(f"There is no file at {str(path)!r}.")
    image = decode(path.read_bytes())
    params = _params(args.param)
    if not 0.0 <= args.opacity <= 1.0:
        raise ExplainerError(f"--opacity must be between 0 and 1. Received: {args.opacity}.")
    if args.source:
        params["source"] = args.source
    from explainers.models import is_keras_path

    if is_keras_path(args.model):  # one's own model file
        model = load_model(args.model, labels=args.labels, preprocessing=args.preprocessing)
    else:
        model = load_model(args.model, weights=args.weights, weights_dir=args.weights_dir)
    if args.top_k is not None:
        from explainers.top_k import explain_top_k

        results = explain_top_k(model, image, args.method, k=args.top_k, layer=args.layer, **params)
        outs = [Path(args.out).with_stem(f"{Path(args.out).stem}-{e.meta['rank']}") for e in results]
    else:
        results = [explain(model, image, args.method, target=target, layer=args.layer, contrast=contrast, **params)]
        outs = [Path(args.out)]
    from explainers.api import heatmap_to_image_size

    warning = "  (random weights: the map is meaningless)" if model.random_weights else ""
    for result, out in zip(results, outs):
        picture = overlay(
            image,
            heatmap_to_image_size(result.heatmap, image.shape),
            opacity=args.opacity,
            colormap=args.colormap,
            signed=result.signed,
        )
        if result.meta.get("points"):  # a method's points (CNN Fixations) as dots, as its card shows them
            picture = draw_points(picture, result.meta["points"], result.meta["points_size"])
        out.write_bytes(encode_png(picture))
        if args.npy:
            np.save(
                Path(args.npy).with_stem(Path(args.npy).stem + out.stem[len(Path(args.out).stem) :]), result.heatmap
            )
        what = result.meta.get("title", f"class {result.target} ({result.label})")
        print(
            f"{result.method} on {model.title}, {what}, layer {result.layer or '-'}, {result.seconds:.2f} s -> {out}{warning}"
        )
        for note in result.meta.get("notes", []):
            print(f"note: {note}")
    return 0


def _contrast(target: str | None, contrast: str | None) -> tuple[str | None, str | None]:
    """(target, contrast) from ``--target`` and ``--contrast A,B`` (or ``--contrast B`` with ``--target A``)."""
    if contrast is None:
        return target, None
    first, comma, second = contrast.partition(",")
    if not comma:
        return target, first.strip()
    if target is not None and target.strip() != first.strip():
        raise ExplainerError(f"--target {target} and --contrast {contrast} name two different first classes.")
    if not first.strip() or not second.strip():
        raise ExplainerError(f"--contrast must look like A,B (two classes). Received: {contrast!r}.")
    return first.strip(), second.strip()


def _params(items: list[str]) -> dict[str, str]:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ExplainerError(f"A setting must look like NAME=VALUE. Received: {item!r}.")
        params[name.strip()] = value.strip()
    return params


def _progress(fraction: float) -> None:
    print(f"\r  {fraction:4.0%}", end="", file=sys.stderr, flush=True)


def _evaluate(args) -> int:
    from explainers import scorecard
    from explainers.models import load_model

    model = load_model(args.model, weights=args.weights)
    seed = scorecard.EVAL_SEED if args.seed is None else args.seed
    found = scorecard.evaluate(
        model,
        args.method,
        n=args.n,
        seed=seed,
        params=_params(args.param),
        layer=args.layer,
        steps=args.steps,
        faithfulness=not args.no_faithfulness,
        progress=_progress,
    )
    print(file=sys.stderr)
    summary = found["summary"]
    print(f"{args.method} on {model.title}, {found['n']} generated pictures (seed {seed}), {found['seconds']:.1f} s")
    lines = [
        ("accuracy of the model", "accuracy", "higher is better"),
        (f"pointing game (peak within {found['tolerance_px']} px of the object)", "pointing_game", "higher"),
        ("energy in the object's outline", "energy_in_mask", "higher"),
        ("object's share of the picture", "object_area", "energy above this beats chance"),
        ("deletion AUC", "deletion_auc", "lower is better"),
        ("deletion AUC of random maps", "deletion_auc_random", "chance"),
        ("insertion AUC", "insertion_auc", "higher is better"),
        ("insertion AUC of random maps", "insertion_auc_random", "chance"),
    ]
    for title, key, note in lines:
        if key in summary:
            print(f"  {title:52s} {summary[key]:.3f}   ({note})")
    if args.json:
        Path(args.json).write_text(json.dumps(found, indent=2))
        print(f"wrote {args.json}")
    return 0


def _sanity(args) -> int:
    from explainers import scorecard
    from explainers.images import decode
    from explainers.models import load_model

    model = load_model(args.model, weights=args.weights, weights_dir=args.weights_dir)
    images = None
    if args.image:
        images = []
        for name in args.image:
            path = Path(name)
            if not path.is_file():
                raise ExplainerError(f"There is no file at {str(path)!r}.")
            images.append(decode(path.read_bytes()))
    found = scorecard.sanity(
        model, args.method, n=args.n, images=images, params=_params(args.param), layer=args.layer, progress=_progress
    )
    print(file=sys.stderr)
    print(
        f"{args.method} on {model.title}: cascading randomization over {found['pictures']} picture(s), "
        f"{found['seconds']:.1f} s. Similarity to the original map (1 = unchanged; a map that explains the "
        f"model should fall towards 0):"
    )
    print(f"  {'randomized down to':24s} {'rank corr.':>10s} {'SSIM':>7s}")
    for row in found["randomized_top_down"]:
        print(f"  {row['layer']:24s} {row['rank_correlation']:10.3f} {row['ssim']:7.3f}")
    other = found["random_logit"]
    print(f"  random other class:      {other['rank_correlation']:10.3f} {other['ssim']:7.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(found, indent=2))
        print(f"wrote {args.json}")
    return 0


def _models(args) -> int:
    from explainers import weights as weights_mod
    from explainers.methods import METHODS
    from explainers.models import MODELS

    for name, spec in MODELS.items():
        state = weights_mod.status(name, args.weights_dir, probe=args.probe)
        print(
            f"{name:13s} {spec.title:12s} input {spec.input_size}×{spec.input_size}  "
            f"default layer {spec.default_layer:17s} weights: {state.message}"
        )
        if args.layers:
            from explainers.models import load_model

            model = load_model(name, weights=None)
            for info in model.layers:
                print(f"    {info.display}")
    print("methods: " + ", ".join(METHODS))
    return 0


def _labels(args) -> int:
    from explainers.models import model_labels

    found = model_labels(args.model).search(args.query, max(1, args.limit))
    if not found:
        print(f"No class matches {args.query!r}.", file=sys.stderr)
        return 1
    for label in found:
        print(label.display)
    return 0


def _fetch(args) -> int:
    from explainers import weights as weights_mod
    from explainers.models import resolve_model_name

    names = [resolve_model_name(n) for n in (args.model or list(weights_mod.IMAGENET_WEIGHTS))]
    for name in names:
        if name not in weights_mod.IMAGENET_WEIGHTS:
            print(f"{name}: nothing to fetch, its trained weights ship with the app", flush=True)
            continue
        spec = weights_mod.IMAGENET_WEIGHTS[name]
        print(f"{name}: {spec.filename} (about {spec.size_mb} MB)", flush=True)
        print(f"    saved at {weights_mod.fetch(name)}", flush=True)
    return 0


def _batch(args) -> int:
    from explainers.sets import cli as sets_cli

    return sets_cli.run(args)


def main(argv: list[str] | None = None) -> int:
    from explainers import views_cli

    args = _parser().parse_args(argv)
    handlers = {
        "explain": _explain,
        "evaluate": _evaluate,
        "sanity": _sanity,
        "batch": _batch,
        "models": _models,
        "labels": _labels,
        "fetch-weights": _fetch,
        "activations": views_cli.activations_command,
    }
    try:
        return handlers[args.command](args)
    except ExplainerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # unreadable input file, unwritable output path
        print(f"error: {error.strerror or error} ({error.filename or ''})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
