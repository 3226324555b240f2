"""A set's results as files: one self-contained HTML page (summary, mean maps, a table with each picture
and its map) and a CSV with every score. Thumbnails are small PNGs made as the pictures go by
(``thumbnails``), so the page never needs the pictures again."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
from markupsafe import Markup

from explainers.render import colourise, encode_png, normalise, overlay
from explainers.sets.compute import PictureScores
from explainers.sets.reading import Problem
from explainers.sets.summary import SetSummary

THUMBNAIL_SIDE = 96
MEAN_MAP_SIDE = 192
CSV_COLUMNS = tuple(f.name for f in fields(PictureScores))
# the table's columns after the pictures: (field, heading)
TABLE_COLUMNS = (
    ("name", "picture"),
    ("label", "label"),
    ("prediction", "prediction"),
    ("confidence", "confidence"),
    ("correct", "right?"),
    ("energy_in_region", "map on the object"),
    ("pointing_game", "peak on the object"),
    ("border_share", "map on the border"),
    ("concentration", "concentration"),
    ("outside", "looks outside the object"),
    ("deletion_auc", "deletion area"),
)


def _resize(picture: np.ndarray, side: int) -> np.ndarray:
    import cv2

    return cv2.resize(picture, (side, side), interpolation=cv2.INTER_AREA)


def thumbnails(picture: np.ndarray, heatmap: np.ndarray, side: int = THUMBNAIL_SIDE) -> tuple[bytes, bytes]:
    """(picture, map over the picture) as small square PNGs, from the model's input and its map."""
    small = _resize(np.asarray(picture, np.uint8), side)
    return encode_png(small), encode_png(overlay(small, np.asarray(heatmap, np.float32), opacity=0.6))


def map_png(heatmap: np.ndarray, side: int = MEAN_MAP_SIDE) -> bytes:
    """A mean map on its own, coloured (bright = where maps gather)."""
    import cv2

    values = cv2.resize(np.asarray(heatmap, np.float32), (side, side), interpolation=cv2.INTER_NEAREST)
    return encode_png(colourise(normalise(values, 100.0)))


def _uri(png: bytes) -> Markup:
    return Markup("data:image/png;base64," + base64.b64encode(png).decode("ascii"))


def format_value(value: Any) -> str:
    """A score as the table shows it: shares as %, yes/no, blank for "not measured"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.0%}" if 0.0 <= value <= 1.0 else f"{value:.3g}"
    return str(value)


def write_csv(rows: Iterable[PictureScores], handle: Any) -> None:
    """Every score of every picture, one row per picture, to an open text file."""
    writer = csv.DictWriter(handle, CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if value is None else value) for key, value in row.row().items()})


def csv_text(rows: Iterable[PictureScores]) -> str:
    buffer = io.StringIO()
    write_csv(rows, buffer)
    return buffer.getvalue()


def render_set_report(
    summary: SetSummary,
    thumbs: Sequence[tuple[bytes, bytes]],
    *,
    model_title: str,
    method: str,
    set_name: str = "",
    problems: Sequence[Problem] = (),
    random_weights: bool = False,
    created: datetime | None = None,
) -> str:
    """The set's page as one HTML string (pictures inline; it loads nothing). ``thumbs``: one (picture,
    map) PNG pair per row of ``summary``, in the same order. Every string is escaped."""
    from explainers.report import _TEMPLATES

    created = created or datetime.now(UTC)
    mean = summary.mean_map
    rows = [
        {
            "picture": _uri(picture),
            "map": _uri(heat),
            "cells": [format_value(getattr(row, key)) for key, _ in TABLE_COLUMNS],
            "outside": row.outside,
        }
        for row, (picture, heat) in zip(summary.rows, thumbs)
    ]
    return _TEMPLATES.get_template("set_report.html.j2").render(
        title=f"{model_title} on a set of {len(summary.rows)} pictures",
        set_name=set_name,
        model_title=model_title,
        method=method,
        when=created.strftime("%Y-%m-%d %H:%M %Z"),
        sentences=summary.sentences(),
        mean_map=None if mean is None else _uri(map_png(mean)),
        class_maps=[(name, count, _uri(map_png(m, 96))) for name, (count, m) in summary.class_maps().items()],
        headings=[heading for _, heading in TABLE_COLUMNS],
        rows=rows,
        problems=problems,
        random_weights=random_weights,
    )
