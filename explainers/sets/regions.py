"""Match a set's ``labels.csv``, ``boxes.csv`` and ``masks/`` to its pictures: each picture's true class
(checked against the model's classes) and its object region as a boolean mask of the picture's size.
A row or mask that cannot be used is listed by name with the reason; the picture is then scored without
it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from explainers.errors import ExplainerError, ImageError
from explainers.images import decode
from explainers.labels import Labels
from explainers.sets.reading import PictureSet, Problem, SetPicture


@dataclass
class Truth:
    """What the set says of its pictures: true class index and object region, by picture name."""

    labels: dict[str, int]
    boxes: dict[str, tuple[float, float, float, float]]
    masks: dict[str, bytes]
    problems: list[Problem]

    def region(self, picture: SetPicture) -> np.ndarray | None:
        """The object's pixels (bool, picture height × width) from its mask or box, else None."""
        from explainers.evaluation.localization import box_mask

        if picture.name in self.masks:
            return decode(self.masks[picture.name]).max(axis=2) > 0
        if picture.name in self.boxes:
            return box_mask((picture.height, picture.width), self.boxes[picture.name])
        return None


def _skip_header(rows: list[list[str]]) -> list[list[str]]:
    """The rows without their header line (one whose first cell is "file", "name", ...)."""
    if rows and rows[0] and rows[0][0].strip().lower() in {"file", "filename", "name", "picture", "image"}:
        return rows[1:]
    return rows


def _finder(pictures: list[SetPicture]):
    """file name in a CSV -> the picture's name: the exact relative path, else a unique base name."""
    exact = {p.name: p.name for p in pictures}
    by_base: dict[str, list[str]] = {}
    for p in pictures:
        by_base.setdefault(PurePosixPath(p.name).name, []).append(p.name)

    def find(text: str) -> str | None:
        text = text.strip().replace("\\", "/")
        if text in exact:
            return text
        found = by_base.get(PurePosixPath(text).name, [])
        return found[0] if len(found) == 1 else None

    return find


def match_truth(picture_set: PictureSet, labels: Labels) -> Truth:
    """Check the set's CSV rows and masks against its pictures and the model's ``labels``."""
    problems: list[Problem] = []
    find = _finder(picture_set.pictures)
    sizes = {p.name: (p.width, p.height) for p in picture_set.pictures}
    true_labels: dict[str, int] = {}
    for number, row in enumerate(_skip_header(picture_set.labels_rows or []), 1):
        entry = f"labels.csv, row {number}"
        if len(row) < 2:
            problems.append(Problem(entry, "a row needs two cells: the file name and its class"))
            continue
        name = find(row[0])
        if name is None:
            problems.append(Problem(entry, f"no picture in the set is called {row[0].strip()!r}"))
            continue
        try:
            true_labels[name] = labels.resolve(row[1].strip())
        except ExplainerError as error:
            problems.append(Problem(entry, f"{row[0].strip()}: {error}"))
    boxes: dict[str, tuple[float, float, float, float]] = {}
    for number, row in enumerate(_skip_header(picture_set.boxes_rows or []), 1):
        entry = f"boxes.csv, row {number}"
        name = find(row[0]) if row else None
        if name is None:
            problems.append(Problem(entry, f"no picture in the set is called {(row or [''])[0].strip()!r}"))
            continue
        try:
            box = tuple(float(v) for v in row[1:5])
        except ValueError:
            box = ()
        if len(box) != 4 or not all(math.isfinite(v) for v in box):
            problems.append(Problem(entry, f"{name}: a box is four numbers x0, y0, x1, y1 in pixels"))
            continue
        width, height = sizes[name]
        x0, y0, x1, y1 = box
        if min(x0, x1) < 0 or min(y0, y1) < 0 or max(x0, x1) > width or max(y0, y1) > height:
            problems.append(Problem(entry, f"{name}: the box {box} lies outside the {width}×{height} picture"))
            continue
        if abs(x1 - x0) < 1 or abs(y1 - y0) < 1:
            problems.append(Problem(entry, f"{name}: the box covers no pixel"))
            continue
        boxes[name] = box
    masks: dict[str, bytes] = {}
    stems = {PurePosixPath(p.name).stem: p.name for p in picture_set.pictures}
    for stem, data in picture_set.masks.items():
        entry = f"masks/{stem}.png"
        name = stems.get(stem)
        if name is None:
            problems.append(Problem(entry, "no picture in the set has this name"))
            continue
        try:
            mask = decode(data)
        except ImageError as error:
            problems.append(Problem(entry, str(error)))
            continue
        if (mask.shape[1], mask.shape[0]) != sizes[name]:
            width, height = sizes[name]
            problems.append(
                Problem(entry, f"the mask is {mask.shape[1]}×{mask.shape[0]}, its picture {width}×{height}")
            )
            continue
        masks[name] = data
    return Truth(true_labels, boxes, masks, problems)
