"""The command line of the layer views: ``python -m explainers activations`` and ``explain --sweep``
(wired into ``explainers.__main__``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from explainers.errors import ExplainerError


def add_activations(commands) -> None:
    """The ``activations`` command: a layer's channels over the picture as one PNG."""
    from explainers.feature_maps import ORDERS

    ac = commands.add_parser("activations", help="a layer's feature maps over the picture, ranked, as one PNG")
    ac.add_argument("image", help="a JPEG, PNG, WebP or GIF file")
    ac.add_argument("--model", default="vgg16")
    ac.add_argument("--layer", default=None, help="layer name (default: the model's recommended layer)")
    ac.add_argument("--top", type=int, default=16, help="channels to show (default 16, at most 64)")
    ac.add_argument("--page", type=int, default=0, help="which page of --top channels (from 0)")
    ac.add_argument("--order", default="contribution", choices=ORDERS, help="default: what adds most to the class")
    ac.add_argument("--target", default=None, help="class number or name (default: top-1)")
    ac.add_argument("--weights", default="imagenet", help="imagenet (default), none (random) or a file path")
    ac.add_argument("--weights-dir", default=None)
    ac.add_argument("--out", default="activations.png", help="where to write the grid PNG")


def add_sweep_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sweep", action="store_true", help="the method (a CAM: default grad_cam) at every block, as one strip"
    )


def _load(args):
    from explainers.images import decode
    from explainers.models import load_model

    path = Path(args.image)
    if not path.is_file():
        raise ExplainerError(f"There is no file at {str(path)!r}.")
    image = decode(path.read_bytes())
    return image, load_model(args.model, weights=args.weights, weights_dir=args.weights_dir)


def _warning(model) -> str:
    return "  (random weights: the maps are meaningless)" if model.random_weights else ""


def activations_command(args) -> int:
    from explainers.feature_maps import activations
    from explainers.render import encode_png
    from explainers.view_pictures import activations_picture

    image, model = _load(args)
    found = activations(model, image, args.layer, args.top, args.target, args.order, args.page)
    title = (
        f"{model.title} · {found.layer} · {found.label} (class {found.target}) · "
        f"{found.order} order, page {found.page + 1} of {found.pages}"
    )
    picture = activations_picture(model.prepare(image), found.maps, found.channels, found.means, found.weights, title)
    Path(args.out).write_bytes(encode_png(picture))
    print(
        f"activations of {found.layer} on {model.title}, class {found.target} ({found.label}): channels "
        f"{', '.join(map(str, found.channels))} of {found.count} -> {args.out}{_warning(model)}"
    )
    return 0


#: the explain flags a sweep has no use for: it draws one class at its own layers, from the pixels' pass
NOT_FOR_SWEEP = {"top_k": "--top-k", "contrast": "--contrast", "layer": "--layer", "source": "--source"}


def sweep_command(args) -> int:
    given = [flag for name, flag in NOT_FOR_SWEEP.items() if getattr(args, name, None) is not None]
    if given:
        raise ExplainerError(
            f"--sweep draws one class at every block of the network, so it does not take {', '.join(given)}. "
            "Drop them, or leave out --sweep."
        )
    from explainers.layer_sweep import sweep
    from explainers.render import encode_png
    from explainers.view_pictures import sweep_picture

    image, model = _load(args)
    found = sweep(model, image, args.method, target=args.target)
    title = f"{found.method} at every block of {model.title} · {found.label} (class {found.target})"
    picture = sweep_picture(model.prepare(image), found.heatmaps, found.layers, found.resolutions, title, args.opacity)
    Path(args.out).write_bytes(encode_png(picture))
    print(
        f"{found.method} sweep on {model.title}, class {found.target} ({found.label}), layers "
        f"{', '.join(found.layers)}, {found.meta['seconds']:.2f} s -> {args.out}{_warning(model)}"
    )
    return 0
