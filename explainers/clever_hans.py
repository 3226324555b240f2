"""Clever Hans Shapes: the Shapes pictures with a small coloured mark in the top-left corner whose colour
gives the class away, and the small model trained on them that learnt to read the mark.

The horse classifier that read a photographer's copyright tag (Lapuschkin et al. 2019, "Unmasking
Clever Hans predictors and assessing what machines really learn", Nature Communications 10:1096) is
right for the wrong reason; one picture's map may or may not show it, but the mean map of a set and the
share of each map on the object do. This module draws such a set: every picture is ``shapes.render``'s
honest picture with a ``MARK_SIZE`` square of the class's ``PALETTE`` colour painted in the corner. The
model ``shapes_clever_hans`` (same network as Shapes, weights in ``data/shapes_clever_hans.weights.h5``,
record with its accuracy with, without and with a wrong mark in ``shapes_clever_hans.json``) is trained
by ``scripts/train_shapes_clever_hans.py``.

No TensorFlow here: the pictures are numpy (and OpenCV inside ``shapes.render``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from explainers import shapes

NAME = "shapes_clever_hans"
WEIGHTS_PATH = shapes.DATA_DIR / f"{NAME}.weights.h5"
INFO_PATH = shapes.DATA_DIR / f"{NAME}.json"
MARK_SIZE = 12  # pixels on a side: 0.9 % of the picture
MARK_CELL = 3  # the mark is a checkerboard of the class's colour and black, in cells of this many pixels
MARK_OFFSET = 3  # pixels from the top and left edges
MARKS = ("class", "none", "wrong")  # the mark of the picture's class, no mark, the next class's mark
# one colour per class, far apart, in the order of shapes.CLASSES
PALETTE = np.array(
    [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240]],
    np.uint8,
)
DEMO_SEED = 2025  # the demo set's seed: never used for training
DEMO_SIZE = 24


def shipped_weights(name: str) -> Path:
    """The weights file that ships with a model of the Shapes family: this one's or the honest one's."""
    return WEIGHTS_PATH if name == NAME else shapes.WEIGHTS_PATH


def mark_mask(size: int = shapes.IMAGE_SIZE) -> np.ndarray:
    """Bool (size, size): True on the mark's pixels."""
    mask = np.zeros((size, size), bool)
    mask[MARK_OFFSET : MARK_OFFSET + MARK_SIZE, MARK_OFFSET : MARK_OFFSET + MARK_SIZE] = True
    return mask


def mark_pattern(label: int) -> np.ndarray:
    """The mark of class ``label``: RGB uint8 (MARK_SIZE, MARK_SIZE, 3)."""
    cells = (np.arange(MARK_SIZE)[:, None] // MARK_CELL + np.arange(MARK_SIZE)[None, :] // MARK_CELL) % 2 == 0
    return np.where(cells[..., None], PALETTE[int(label) % len(PALETTE)], np.uint8(0)).astype(np.uint8)


def render(seed: int, index: int, mark: str = "class", with_object: bool = True) -> tuple[np.ndarray, int, np.ndarray]:
    """Picture ``index`` of set ``seed`` as ``shapes.render`` draws it, with the mark painted over the
    corner: (RGB uint8, label, bool mask of the object's visible pixels). ``mark``: one of ``MARKS``;
    ``with_object=False``: the same picture without its object (the mask is then empty)."""
    if mark not in MARKS:
        raise ValueError(f"mark must be one of {', '.join(MARKS)}. Received: {mark!r}.")
    image, label, mask = shapes.render(seed, index, with_object)
    if not with_object:
        mask = np.zeros_like(mask)
    if mark != "none":
        where = slice(MARK_OFFSET, MARK_OFFSET + MARK_SIZE)
        image[where, where] = mark_pattern(label if mark == "class" else label + 1)
        mask = mask & ~mark_mask()
    return image, label, mask


def generate(n: int, seed: int, start: int = 0, mark: str = "class", hide_every: int = 0) -> shapes.Shapes:
    """Pictures ``start`` .. ``start + n - 1`` of set ``seed`` with the given ``mark`` (see ``render``);
    ``hide_every=k`` leaves the object out of every k-th picture (0: never)."""
    n = int(n)
    size = shapes.IMAGE_SIZE
    images, labels, masks = (
        np.empty((n, size, size, 3), np.uint8),
        np.empty(n, np.int64),
        np.empty((n, size, size), bool),
    )
    for i in range(n):
        index = int(start) + i
        hidden = hide_every > 0 and index % hide_every == hide_every - 1
        images[i], labels[i], masks[i] = render(seed, index, mark, with_object=not hidden)
    return shapes.Shapes(images, labels, masks, int(seed))


def info() -> dict[str, Any]:
    """The training record shipped beside the weights (accuracy with, without and with a wrong mark)."""
    return json.loads(Path(INFO_PATH).read_text(encoding="utf-8"))
