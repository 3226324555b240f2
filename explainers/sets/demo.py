"""Demo sets, drawn on the fly: Shapes pictures (honest) or Clever Hans Shapes pictures (a mark in the
corner gives the class away), zipped with ``labels.csv`` and a mask per picture in ``masks/``, exactly
as a person would bring a set of their own."""

from __future__ import annotations

import io
import zipfile

import numpy as np

from explainers.render import encode_png

DEMO_SETS = ("shapes", "clever_hans")


def demo_pictures(kind: str = "clever_hans", n: int = 24, seed: int | None = None):
    """The pictures, labels and masks of a demo set (``explainers.shapes.Shapes``)."""
    from explainers import clever_hans, shapes

    if kind not in DEMO_SETS:
        raise ValueError(f"kind must be one of {', '.join(DEMO_SETS)}. Received: {kind!r}.")
    seed = clever_hans.DEMO_SEED if seed is None else seed
    return clever_hans.generate(n, seed) if kind == "clever_hans" else shapes.generate(n, seed)


def demo_zip(kind: str = "clever_hans", n: int = 24, seed: int | None = None) -> bytes:
    """A zip of the demo set: ``picture_NN.png``, ``labels.csv`` (by class name) and ``masks/``."""
    made = demo_pictures(kind, n, seed)
    buffer = io.BytesIO()
    lines = ["file,label"]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, (image, name, mask) in enumerate(zip(made.images, made.names, made.masks)):
            file = f"picture_{i:02d}.png"
            archive.writestr(file, encode_png(image))
            archive.writestr(
                f"masks/picture_{i:02d}.png", encode_png(np.repeat(mask[..., None], 3, axis=2).astype(np.uint8) * 255)
            )
            lines.append(f"{file},{name}")
        archive.writestr("labels.csv", "\n".join(lines) + "\n")
    return buffer.getvalue()
