"""One self-contained HTML report of a comparison of saliency maps, for a student to hand in.

``render_report(picture, explanations, ...)`` returns one HTML page that needs nothing else: the CSS is
inline, every picture is an embedded PNG (``data:`` URI) and a Content-Security-Policy forbids loading
anything, so the only web addresses in it are the links to the methods' papers. It holds the picture,
the model and its weights (with a loud warning for random weights), the class explained and the top-5
predictions, then one card per method (the overlay, its settings, time, notes and the method's
plain-language card), optional scores and extra figures, and a footer with versions and all parameters
as JSON. Printing it (or "Save as PDF" in a browser) keeps each card on one page.

The page is the Jinja2 template ``explainers/templates/report.html.j2`` (with ``report.css``); this module
computes what it shows. Plain numpy/OpenCV like ``explainers.render``: no TensorFlow, no Dash, so a web process can call it.
"""

from __future__ import annotations

import base64
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
from markupsafe import Markup

from explainers.render import colourise, draw_points, encode_png, overlay

if TYPE_CHECKING:  # pragma: no cover
    from explainers.api import Explanation

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: the page's markup and CSS (templates/report.html.j2, report.css); autoescape on, so every value is escaped
#: unless built as Markup here
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

#: known score names -> (what it measures, in plain words; which way is better: "higher", "lower" or "zero")
SCORE_HELP: dict[str, tuple[str, str]] = {
    "pointing_game": (
        "Does the map's strongest point fall on the object? 1 is a hit, 0 a miss (over several "
        "pictures: the share of hits). Higher is better.",
        "higher",
    ),
    "energy_in_mask": (
        "The share of the map's positive weight that lies on the object, from 0 to 1. Higher is better.",
        "higher",
    ),
    "deletion_auc": (
        "Remove pixels from the picture, most important first, and follow the class probability: the "
        "area under that curve. A quick fall means the map found what the model needs, so lower is "
        "better.",
        "lower",
    ),
    "insertion_auc": (
        "Put pixels back onto a blank picture, most important first, and follow the class "
        "probability: the area under that curve. A quick rise means the map found what the model "
        "needs, so higher is better.",
        "higher",
    ),
    "sanity_rank_correlation": (
        "How similar the map stays when the model's weights are replaced by random ones "
        "(rank correlation, 1 = identical). A map that explains the model must change, so "
        "closer to 0 is better.",
        "zero",
    ),
    "rank_correlation": (
        "How alike this map and a comparison map rank the pixels (Spearman, 1 = the same order). "
        "In a sanity check (random weights, another class) closer to 0 is better.",
        "zero",
    ),
    "ssim": (
        "Structural similarity of this map and a comparison map (1 = identical). In a sanity check (random "
        "weights, another class) lower is better.",
        "lower",
    ),
    "stability": (
        "How much the map stays the same from one random seed to the next (1 = identical). Higher is better.",
        "higher",
    ),
    "completeness_error": (
        "How far the attributions' sum is from the change in the class score (integrated "
        "gradients); 0 in theory. Lower is better.",
        "lower",
    ),
}
_SCORE_KEYWORDS = (
    ("deletion", "deletion_auc"),
    ("insertion", "insertion_auc"),
    ("pointing", "pointing_game"),
    ("energy", "energy_in_mask"),
    ("ssim", "ssim"),
    ("sanity", "sanity_rank_correlation"),
    ("randomi", "sanity_rank_correlation"),
    ("rank_corr", "rank_correlation"),
    ("spearman", "rank_correlation"),
    ("stabil", "stability"),
    ("agreement", "stability"),
    ("completeness", "completeness_error"),
)


def score_help(name: str) -> tuple[str, str] | None:
    """(plain explanation, better direction) for a known score name such as "Deletion AUC", else None."""
    key = re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")
    if key in SCORE_HELP:
        return SCORE_HELP[key]
    for word, known in _SCORE_KEYWORDS:
        if word in key:
            return SCORE_HELP[known]
    return None


def format_score(value: Any) -> str:
    """A score as the report prints it: 3 significant digits, yes/no for booleans, "n/a" for missing."""
    if value is None:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "n/a"
    if number != 0 and (abs(number) >= 10_000 or abs(number) < 0.001):
        return f"{number:.2e}"
    return f"{number:.3g}" if abs(number) < 1000 else f"{number:,.0f}"


def report_filename(model: Any, label: str, method_count: int, created: datetime | None = None) -> str:
    """A safe file name for the report, e.g. ``saliency_vgg16_tabby-cat_3-methods.html``.

    Only ASCII letters, digits, ``-``, ``_`` and ``.``; ``model`` may be a name or a model object.
    ``created`` adds a date and time, so several reports of the same picture do not overwrite each other.
    """
    name = getattr(model, "name", model)
    count = max(0, int(method_count))
    parts = [
        "saliency",
        _slug(name) or "model",
        _slug(label) or "class",
        f"{count}-method" + ("" if count == 1 else "s"),
    ]
    if created is not None:
        parts.append(created.strftime("%Y%m%d-%H%M"))
    return "_".join(parts) + ".html"


def _slug(text: Any, limit: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")


def render_report_bytes(*args: Any, **kwargs: Any) -> bytes:
    """``render_report`` encoded as UTF-8, ready to save or send as a download."""
    return render_report(*args, **kwargs).encode("utf-8")


def render_report(
    picture: np.ndarray,
    explanations: Mapping[str, Explanation | BaseException] | Iterable[Explanation],
    *,
    model: Any = None,
    weights: str | None = None,
    random_weights: bool | None = None,
    title: str = "Saliency maps",
    picture_name: str | None = None,
    created: datetime | None = None,
    scores: Mapping[str, Mapping[str, Any]] | None = None,
    images: Sequence[tuple[str, bytes]] = (),
    versions: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    colormap: str = "viridis",
    opacity: float = 0.5,
    percentile: float = 99.0,
    max_side: int = 512,
) -> str:
    """One self-contained HTML page comparing ``explanations`` of ``picture``.

    ``picture``: the RGB uint8 (H, W, 3) picture that was explained (any size; shown at most ``max_side``
    pixels on its longer side, with each map laid over it). ``explanations``: ``Explanation`` objects
    (from ``explain``/``explain_all``), or a dict name -> Explanation or error (``explain_all(...,
    on_error="return")``), in display order. ``model``: a name, or the model object (its title, weights
    and random-weights flag are read); ``weights``/``random_weights`` override what is read from the model
    or the explanations. ``scores``: {method name: {score name: value}}, e.g. deletion and insertion AUC.
    ``images``: extra figures as (caption, PNG bytes). ``versions``: {package: version} for the footer.
    ``parameters``: extra entries for the parameters JSON. Display: ``colormap`` for unsigned maps
    (signed ones use blue–red), ``opacity`` and ``percentile`` as in ``explainers.render.overlay``.
    Every given string is escaped, so labels and file names cannot inject markup.
    """
    entries = _entries(explanations)
    maps = [e for _, e in entries if not isinstance(e, BaseException)]
    if not maps:
        raise ValueError("A report needs at least one computed map; every method given failed.")
    first = maps[0]
    picture = _shrink(_rgb(picture), max_side)
    created = created or datetime.now(UTC)
    # a name given as text has no attributes to read (str.title is a method, not the model's title)
    about = None if isinstance(model, str) else model
    model_title = str(getattr(about, "title", None) or model or first.model)
    model_name = str(getattr(about, "name", None) or model or first.model)
    weights = str(weights or getattr(about, "weights", None) or first.meta.get("weights") or "not stated")
    if random_weights is None:
        random_weights = bool(getattr(about, "random_weights", False)) or weights.lower().startswith("random")
    layers = list(dict.fromkeys(e.layer for e in maps if e.layer))
    input_shape = tuple(int(n) for n in np.shape(first.heatmap)[:2])

    from explainers.methods import METHODS

    recorded = _parameters(
        title,
        created,
        picture_name,
        picture,
        model_name,
        weights,
        random_weights,
        first,
        layers,
        entries,
        colormap,
        opacity,
        percentile,
        parameters,
    )
    when = created.strftime("%Y-%m-%d %H:%M") + (f" {created.tzname()}" if created.tzinfo else "")
    return _TEMPLATES.get_template("report.html.j2").render(
        title=title,
        label=first.label,
        target=first.target,
        model_title=model_title,
        weights=weights,
        created_iso=created.isoformat(),
        when=when,
        picture_name=picture_name,
        random_weights=random_weights,
        layers=layers,
        overview=_overview(picture, input_shape, first),
        methods=[
            _method(name, e, picture, METHODS, colormap, opacity, percentile, first.target) for name, e in entries
        ],
        scores=_scores(scores, entries, METHODS) if scores else None,
        figures=[_figure(caption, png) for caption, png in images],
        versions=versions or {},
        parameters_json=json.dumps(recorded, indent=2, ensure_ascii=False, default=_json_default),
    )


# ---- what the template shows: plain values it escapes, and Markup only for the pictures' data: URIs ----


def _entries(explanations) -> list[tuple[str, Any]]:
    if isinstance(explanations, Mapping):
        return [(str(name), value) for name, value in explanations.items()]
    return [(e.method, e) for e in explanations]


def _rgb(picture: np.ndarray) -> np.ndarray:
    picture = np.asarray(picture)
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=-1)
    if picture.ndim != 3 or picture.shape[-1] not in (3, 4):
        raise ValueError(f"The picture must be an RGB array (H, W, 3). Received shape {picture.shape}.")
    picture = picture[..., :3]
    if picture.dtype != np.uint8:
        picture = np.clip(np.round(picture.astype(np.float64)), 0, 255).astype(np.uint8)
    return picture


def _shrink(picture: np.ndarray, max_side: int) -> np.ndarray:
    import cv2

    height, width = picture.shape[:2]
    scale = max(1, int(max_side)) / max(height, width)
    if scale >= 1:
        return picture
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA)


def _png_uri(png: bytes) -> Markup:
    # base64 letters, digits, "+", "/" and "=" only: nothing in it could be markup, so it skips escaping
    return Markup("data:image/png;base64," + base64.b64encode(png).decode("ascii"))


def _picture(picture: np.ndarray) -> dict[str, Any]:
    height, width = picture.shape[:2]
    return {"src": _png_uri(encode_png(picture)), "width": width, "height": height}


def _overview(picture: np.ndarray, input_shape: tuple[int, ...], first) -> dict[str, Any]:
    predictions = [
        {
            "index": int(index),
            "label": label,
            "explained": int(index) == first.target,
            "percent": f"{100 * float(p):.1f}",
            "bar": f"{max(0.0, min(1.0, float(p))) * 100:.1f}",
        }
        for index, label, p in first.predictions
    ]
    return {
        "picture": _picture(picture),
        "input_height": input_shape[0],
        "input_width": input_shape[1],
        "predictions": predictions,
    }


def _legend(signed: bool, colormap: str, percentile: float) -> dict[str, Any]:
    unit = np.linspace(0.0, 1.0, 9)
    if signed:
        colours = colourise(unit[None], "diverging" if colormap == "viridis" else colormap).reshape(-1, 3)
        words = ("against the class", "0", "for the class")
    else:
        colours = colourise(unit[None], colormap).reshape(-1, 3)
        words = ("nothing", "", "strongest")
    stops = ", ".join(f"rgb({r},{g},{b}) {100 * u:.0f}%" for (r, g, b), u in zip(colours.tolist(), unit))
    return {"signed": signed, "stops": stops, "words": words, "percentile": format_score(percentile)}


def _notes(e) -> list[str]:
    meta = e.meta or {}
    notes = [str(n) for n in meta.get("notes", [])]
    error = meta.get("completeness_error")
    if isinstance(error, (int, float)) and math.isfinite(error):
        advice = " (above 5 %: more steps would make the parts add up better)" if error > 0.05 else ""
        notes.append(
            f"Completeness error {100 * error:.2f} %: how far the attributions' sum is from the change in "
            f"the class score{advice}."
        )
    r2 = meta.get("r2")
    if isinstance(r2, (int, float)) and math.isfinite(r2):
        notes.append(f"The linear model fits the network's answers with R² = {r2:.2f} (1 is a perfect fit).")
    resolution = meta.get("layer_resolution")
    if resolution and len(resolution) == 2:
        notes.append(f"Computed on a {resolution[0]}×{resolution[1]} grid, stretched over the picture.")
    if not np.any(np.asarray(e.heatmap)):
        notes.append("The map is empty (all zero).")
    return notes


def _method_card(cls, card=None) -> dict[str, Any]:
    card = card or getattr(cls, "card", None)
    if card is None:
        return {"missing": True}
    url = str(card.paper_url)
    return {
        "missing": False,
        "computes": card.computes,
        "colours": card.colours,
        "good_for": card.good_for,
        "pitfalls": list(card.pitfalls),
        "paper": getattr(cls, "paper", "") or url,
        "paper_url": url,
        "paper_link": url.startswith("https://"),
    }


def _method(
    name: str, e, picture: np.ndarray, methods, colormap: str, opacity: float, percentile: float, target: int
) -> dict[str, Any]:
    """One method's card: its map over the picture and its facts, or the error that stopped it."""
    cls = methods.get(name if isinstance(e, BaseException) else e.method)
    shown = {"title": getattr(cls, "title", None) or name, "card": _method_card(cls), "error": None, **_views({})}
    if isinstance(e, BaseException):
        return {**shown, "error": str(e)}
    heatmap = np.asarray(e.heatmap, np.float32)
    coloured = overlay(
        picture,
        heatmap if e.signed else np.abs(heatmap),
        opacity=opacity,
        colormap=colormap,
        percentile=percentile,
        signed=e.signed,
    )
    if (e.meta or {}).get("points"):  # a method's points (CNN Fixations) as dots, as its card shows them
        coloured = draw_points(coloured, e.meta["points"], e.meta["points_size"])
    return {
        **shown,
        "map": _picture(coloured),
        "legend": _legend(e.signed, colormap, percentile),
        "other_class": e.target != target,
        "target": e.target,
        "label": e.label,
        "settings": list((e.params or {}).items()),
        "layer": e.layer,
        "seconds": f"{float(e.seconds):.2f}",
        "notes": _notes(e),
        **_views(e.meta or {}),
    }


def _views(meta: dict[str, Any]) -> dict[str, Any]:
    """A map's views (issue 24): its title in words ("why tabby and not tiger cat") and each view's card."""
    from explainers.view_cards import VIEW_CARDS, views_of

    views = [VIEW_CARDS[name] for name in views_of(meta)]
    return {
        "view_title": meta.get("title") or (f"rank {meta['rank']}" if meta.get("rank") else None),
        "views": [{"title": view.title, "card": _method_card(view, view.card)} for view in views],
    }


def _best(values: list[Any], direction: str | None) -> set[int]:
    numbers = {}
    for i, value in enumerate(values):
        if isinstance(value, (bool, np.bool_)) or value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            numbers[i] = abs(number) if direction == "zero" else number
    if direction is None or len(numbers) < 2:
        return set()
    target = max(numbers.values()) if direction == "higher" else min(numbers.values())
    return {i for i, n in numbers.items() if n == target}


def _scores(scores, entries, methods) -> dict[str, Any]:
    order = [name for name, _ in entries if name in scores] + [name for name in scores if name not in dict(entries)]
    columns = list(dict.fromkeys(key for name in order for key in scores[name]))
    helps = {column: score_help(column) for column in columns}
    best = {
        column: _best([scores[name].get(column) for name in order], (helps[column] or (None, None))[1])
        for column in columns
    }
    rows = [
        {
            "title": getattr(methods.get(name), "title", None) or name,
            "cells": [
                {"text": format_score(scores[name].get(column)), "best": row in best[column]} for column in columns
            ],
        }
        for row, name in enumerate(order)
    ]
    return {
        "columns": [
            {"name": column, "help": helps[column][0] if helps[column] else "No description."} for column in columns
        ],
        "rows": rows,
    }


def _figure(caption: str, png: bytes) -> dict[str, Any]:
    png = bytes(png)
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError(f"The figure {caption!r} is not a PNG picture; give its PNG bytes.")
    return {"caption": caption, "src": _png_uri(png)}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _parameters(
    title,
    created,
    picture_name,
    picture,
    model_name,
    weights,
    random_weights,
    first,
    layers,
    entries,
    colormap,
    opacity,
    percentile,
    extra,
) -> dict[str, Any]:
    methods = {}
    for name, e in entries:
        if isinstance(e, BaseException):
            methods[name] = {"error": str(e)}
        else:
            methods[name] = {"params": e.params, "layer": e.layer, "target": e.target, "seconds": round(e.seconds, 3)}
    data = {
        "title": title,
        "created": created.isoformat(),
        "picture": picture_name,
        "picture_shown": list(picture.shape[:2]),
        "model": model_name,
        "weights": weights,
        "random_weights": random_weights,
        "target": first.target,
        "label": first.label,
        "layers": layers,
        "display": {"colormap": colormap, "opacity": opacity, "percentile": percentile},
        "methods": methods,
    }
    data.update(dict(extra or {}))
    return data
