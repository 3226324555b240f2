"""Command line: ``python -m explainers explain|models|labels|fetch-weights``.

Errors print one plain line on stderr and exit with status 1 (2 for a malformed command line).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from explainers.errors import ExplainerError


def _parser() -> argparse.ArgumentParser:
    from explainers.models import MODELS

    parser = argparse.ArgumentParser(prog="python -m explainers", description="Saliency maps for ImageNet CNNs.")
    commands = parser.add_subparsers(dest="command", required=True)

    ex = commands.add_parser("explain", help="compute a saliency map for a picture and save it as an overlay")
    ex.add_argument("image", help="a JPEG, PNG, WebP or GIF file")
    ex.add_argument("--model", default="vgg16", help=f"one of {', '.join(MODELS)} (default vgg16)")
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

    md = commands.add_parser("models", help="list the models, their layers and the state of their weights")
    md.add_argument("--weights-dir", default=None)
    md.add_argument("--layers", action="store_true", help="list every pickable layer with its size")
    md.add_argument("--probe", action="store_true", help="check whether the weights server can be reached")

    lb = commands.add_parser("labels", help="search the 1000 ImageNet classes")
    lb.add_argument("query", nargs="?", default="", help="part of a name, or a class number")
    lb.add_argument("--limit", type=int, default=20)

    fw = commands.add_parser("fetch-weights", help="download ImageNet weights into Keras's cache")
    fw.add_argument("--model", action="append", default=None, help="a model (repeatable); default: all three")
    return parser


def _explain(args) -> int:
    import numpy as np

    from explainers.api import explain
    from explainers.images import decode
    from explainers.models import load_model
    from explainers.render import encode_png, overlay

    path = Path(args.image)
    if not path.is_file():
        raise ExplainerError(f"There is no file at {str(path)!r}.")
    image = decode(path.read_bytes())
    params = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            raise ExplainerError(f"A setting must look like NAME=VALUE. Received: {item!r}.")
        params[name.strip()] = value.strip()
    if not 0.0 <= args.opacity <= 1.0:
        raise ExplainerError(f"--opacity must be between 0 and 1. Received: {args.opacity}.")
    model = load_model(args.model, weights=args.weights, weights_dir=args.weights_dir)
    result = explain(model, image, method=args.method, target=args.target, layer=args.layer, **params)
    from explainers.api import heatmap_to_image_size

    picture = overlay(image, heatmap_to_image_size(result.heatmap, image.shape), opacity=args.opacity,
                      colormap=args.colormap, signed=result.signed)
    Path(args.out).write_bytes(encode_png(picture))
    if args.npy:
        np.save(args.npy, result.heatmap)
    warning = "  (random weights: the map is meaningless)" if model.random_weights else ""
    print(f"{result.method} on {model.title}, class {result.target} ({result.label}), "
          f"layer {result.layer or '-'}, {result.seconds:.2f} s -> {args.out}{warning}")
    for note in result.meta.get("notes", []):
        print(f"note: {note}")
    return 0


def _models(args) -> int:
    from explainers import weights as weights_mod
    from explainers.methods import METHODS
    from explainers.models import MODELS

    for name, spec in MODELS.items():
        state = weights_mod.status(name, args.weights_dir, probe=args.probe)
        print(f"{name:13s} {spec.title:12s} input {spec.input_size}×{spec.input_size}  "
              f"default layer {spec.default_layer:17s} weights: {state.message}")
        if args.layers:
            from explainers.models import load_model

            model = load_model(name, weights=None)
            for info in model.layers:
                print(f"    {info.display}")
    print("methods: " + ", ".join(METHODS))
    return 0


def _labels(args) -> int:
    from explainers.labels import search_labels

    found = search_labels(args.query, limit=max(1, args.limit))
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
        spec = weights_mod.IMAGENET_WEIGHTS[name]
        print(f"{name}: {spec.filename} (about {spec.size_mb} MB)", flush=True)
        print(f"    saved at {weights_mod.fetch(name)}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"explain": _explain, "models": _models, "labels": _labels, "fetch-weights": _fetch}
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
