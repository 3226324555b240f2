"""One self-contained HTML report of a comparison of saliency maps, for a student to hand in.

``render_report(picture, explanations, ...)`` returns one HTML page that needs nothing else: the CSS is
inline, every picture is an embedded PNG (``data:`` URI) and a Content-Security-Policy forbids loading
anything, so the only web addresses in it are the links to the methods' papers. It holds the picture,
the model and its weights (with a loud warning for random weights), the class explained and the top-5
predictions, then one card per method (the overlay, its settings, time, notes and the method's
plain-language card), optional scores and extra figures, and a footer with versions and all parameters
as JSON. Printing it (or "Save as PDF" in a browser) keeps each card on one page.

Plain numpy/OpenCV like ``explainers.render``: no TensorFlow, no Dash, so a web process can call it.
"""
from __future__ import annotations

import base64
import html
import json
import math
import re
import unicodedata
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from explainers.render import colourise, encode_png, overlay

if TYPE_CHECKING:  # pragma: no cover
    from explainers.api import Explanation

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: the page may load nothing: pictures are data: URIs and the CSS is inline (links still open on a click)
_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

#: known score names -> (what it measures, in plain words; which way is better: "higher", "lower" or "zero")
SCORE_HELP: dict[str, tuple[str, str]] = {
    "pointing_game": ("Does the map's strongest point fall on the object? 1 is a hit, 0 a miss (over several "
                      "pictures: the share of hits). Higher is better.", "higher"),
    "energy_in_mask": ("The share of the map's positive weight that lies on the object, from 0 to 1. Higher is "
                       "better.", "higher"),
    "deletion_auc": ("Remove pixels from the picture, most important first, and follow the class probability: the "
                     "area under that curve. A quick fall means the map found what the model needs, so lower is "
                     "better.", "lower"),
    "insertion_auc": ("Put pixels back onto a blank picture, most important first, and follow the class "
                      "probability: the area under that curve. A quick rise means the map found what the model "
                      "needs, so higher is better.", "higher"),
    "sanity_rank_correlation": ("How similar the map stays when the model's weights are replaced by random ones "
                                "(rank correlation, 1 = identical). A map that explains the model must change, so "
                                "closer to 0 is better.", "zero"),
    "rank_correlation": ("How alike this map and a comparison map rank the pixels (Spearman, 1 = the same order). "
                         "In a sanity check (random weights, another class) closer to 0 is better.", "zero"),
    "ssim": ("Structural similarity of this map and a comparison map (1 = identical). In a sanity check (random "
             "weights, another class) lower is better.", "lower"),
    "stability": ("How much the map stays the same from one random seed to the next (1 = identical). Higher is "
                  "better.", "higher"),
    "completeness_error": ("How far the attributions' sum is from the change in the class score (integrated "
                           "gradients); 0 in theory. Lower is better.", "lower"),
}
_SCORE_KEYWORDS = (("deletion", "deletion_auc"), ("insertion", "insertion_auc"), ("pointing", "pointing_game"),
                   ("energy", "energy_in_mask"), ("ssim", "ssim"), ("sanity", "sanity_rank_correlation"),
                   ("randomi", "sanity_rank_correlation"), ("rank_corr", "rank_correlation"),
                   ("spearman", "rank_correlation"), ("stabil", "stability"), ("agreement", "stability"),
                   ("completeness", "completeness_error"))


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
    parts = ["saliency", _slug(name) or "model", _slug(label) or "class",
             f"{count}-method" + ("" if count == 1 else "s")]
    if created is not None:
        parts.append(created.strftime("%Y%m%d-%H%M"))
    return "_".join(parts) + ".html"


def _slug(text: Any, limit: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")


def render_report_bytes(*args: Any, **kwargs: Any) -> bytes:
    """``render_report`` encoded as UTF-8, ready to save or send as a download."""
    return render_report(*args, **kwargs).encode("utf-8")


def render_report(picture: np.ndarray,
                  explanations: Mapping[str, "Explanation | BaseException"] | Iterable["Explanation"],
                  *, model: Any = None, weights: str | None = None, random_weights: bool | None = None,
                  title: str = "Saliency maps", picture_name: str | None = None, created: datetime | None = None,
                  scores: Mapping[str, Mapping[str, Any]] | None = None,
                  images: Sequence[tuple[str, bytes]] = (), versions: Mapping[str, str] | None = None,
                  parameters: Mapping[str, Any] | None = None, colormap: str = "viridis", opacity: float = 0.5,
                  percentile: float = 99.0, max_side: int = 512) -> str:
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
    created = created or datetime.now(timezone.utc)
    model_title = str(getattr(model, "title", None) or model or first.model)
    model_name = str(getattr(model, "name", None) or model or first.model)
    weights = str(weights or getattr(model, "weights", None) or first.meta.get("weights") or "not stated")
    if random_weights is None:
        random_weights = bool(getattr(model, "random_weights", False)) or weights.lower().startswith("random")
    layers = list(dict.fromkeys(e.layer for e in maps if e.layer))
    input_shape = tuple(int(n) for n in np.shape(first.heatmap)[:2])

    from explainers.methods import METHODS

    sections = [
        _header(title, created, picture_name),
        _warning() if random_weights else "",
        _overview(picture, picture_name, input_shape, model_title, weights, first, layers),
        _methods(entries, picture, METHODS, colormap, opacity, percentile, first.target),
        _scores(scores, entries, METHODS) if scores else "",
        _figures(images) if images else "",
        _footer(versions or {}, _parameters(title, created, picture_name, picture, model_name, weights,
                                            random_weights, first, layers, entries, colormap, opacity,
                                            percentile, parameters)),
    ]
    body = "\n".join(s for s in sections if s)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_POLICY}\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_e(title)} · {_e(first.label)} · {_e(model_title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


# ---- pieces of the page ---------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


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


def _png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _img(picture: np.ndarray, alt: str, css: str = "") -> str:
    height, width = picture.shape[:2]
    return (f'<img src="{_png_uri(encode_png(picture))}" width="{width}" height="{height}" alt="{_e(alt)}"'
            + (f' class="{css}"' if css else "") + ">")


def _header(title: str, created: datetime, picture_name: str | None) -> str:
    when = created.strftime("%Y-%m-%d %H:%M") + (f" {created.tzname()}" if created.tzinfo else "")
    about = f" · picture <code>{_e(picture_name)}</code>" if picture_name else ""
    return (f'<header><h1>{_e(title)}</h1><p class="muted">Made on <time datetime="{_e(created.isoformat())}">'
            f"{_e(when)}</time>{about}</p>"
            '<p class="muted noprint">To make a PDF, print this page and choose “Save as PDF”.</p></header>')


def _warning() -> str:
    return ('<div class="warning" role="alert"><strong>⚠ Random weights: these maps are meaningless.</strong> '
            "The model was never trained, so its predictions and every map below come from random numbers, not "
            "from anything it learnt. Use trained (ImageNet) weights before drawing any conclusion.</div>")


def _overview(picture, picture_name, input_shape, model_title, weights, first, layers) -> str:
    height, width = picture.shape[:2]
    rows = [("Model", _e(model_title)), ("Weights", _e(weights)),
            ("Class explained", f"<strong>{first.target} · {_e(first.label)}</strong>"),
            ("Layer", _e(", ".join(layers)) + ' <span class="muted">(methods on the pixels ignore it)</span>'
             if layers else "none (these methods work on the pixels)")]
    rows.append(("Model input", f"{input_shape[1]} × {input_shape[0]} pixels (the picture is squashed to it)"))
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    predictions = "".join(
        f"<tr{_EXPLAINED if int(index) == first.target else ''}><td>{int(index)}</td>"
        f"<td>{_e(label)}</td><td class=\"num\">{100 * float(p):.1f} %</td>"
        f'<td><span class="bar" style="width:{max(0.0, min(1.0, float(p))) * 100:.1f}%"></span></td></tr>'
        for index, label, p in first.predictions)
    caption = _e(picture_name) if picture_name else "The picture"
    return (f'<section class="overview"><figure class="picture">{_img(picture, "the picture that was explained")}'
            f"<figcaption>{caption} ({width} × {height} shown)</figcaption></figure>"
            f'<div><table class="facts">{table}</table>'
            f"<h2>Top-5 predictions</h2><table class=\"predictions\"><thead><tr><th>#</th><th>class</th>"
            f"<th>probability</th><th></th></tr></thead><tbody>{predictions}</tbody></table></div></section>")


_EXPLAINED = ' class="explained"'


def _legend(signed: bool, colormap: str, percentile: float) -> str:
    unit = np.linspace(0.0, 1.0, 9)
    if signed:
        colours = colourise(unit[None], "diverging" if colormap == "viridis" else colormap).reshape(-1, 3)
        words = ("against the class", "0", "for the class")
    else:
        colours = colourise(unit[None], colormap).reshape(-1, 3)
        words = ("nothing", "", "strongest")
    stops = ", ".join(f"rgb({r},{g},{b}) {100 * u:.0f}%" for (r, g, b), u in zip(colours.tolist(), unit))
    return (f'<div class="legend"><div class="ramp" style="background:linear-gradient(to right, {stops})"></div>'
            f"<div class=\"ends\"><span>{words[0]}</span><span>{words[1]}</span><span>{words[2]}</span></div>"
            f'<p class="muted small">Full colour at the {_e(format_score(percentile))}th percentile of '
            f"{'|values|' if signed else 'the map'}{'' if signed else ' (size only)'}.</p></div>")


def _notes(e) -> list[str]:
    meta = e.meta or {}
    notes = [str(n) for n in meta.get("notes", [])]
    error = meta.get("completeness_error")
    if isinstance(error, (int, float)) and math.isfinite(error):
        advice = " (above 5 %: more steps would make the parts add up better)" if error > 0.05 else ""
        notes.append(f"Completeness error {100 * error:.2f} %: how far the attributions' sum is from the change in "
                     f"the class score{advice}.")
    r2 = meta.get("r2")
    if isinstance(r2, (int, float)) and math.isfinite(r2):
        notes.append(f"The linear model fits the network's answers with R² = {r2:.2f} (1 is a perfect fit).")
    resolution = meta.get("layer_resolution")
    if resolution and len(resolution) == 2:
        notes.append(f"Computed on a {resolution[0]}×{resolution[1]} grid, stretched over the picture.")
    if not np.any(np.asarray(e.heatmap)):
        notes.append("The map is empty (all zero).")
    return notes


def _card_html(card, paper: str) -> str:
    if card is None:
        return '<p class="muted">No method card yet.</p>'
    pitfalls = "".join(f"<li>{_e(p)}</li>" for p in card.pitfalls)
    url = str(card.paper_url)
    link = (f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(paper or url)}</a>' if url.startswith("https://")
            else _e(paper or url))
    return (f'<div class="card"><p><b>What it computes.</b> {_e(card.computes)}</p>'
            f"<p><b>How to read the colours.</b> {_e(card.colours)}</p>"
            f"<p><b>Good for.</b> {_e(card.good_for)}</p>"
            f"<p><b>Watch out.</b></p><ul>{pitfalls}</ul><p class=\"paper\">Paper: {link}</p></div>")


def _settings(params: Mapping[str, Any]) -> str:
    if not params:
        return "none"
    return ", ".join(f"<code>{_e(k)} = {_e(v)}</code>" for k, v in params.items())


def _methods(entries, picture, methods, colormap, opacity, percentile, target) -> str:
    cards = []
    for name, e in entries:
        cls = methods.get(name if isinstance(e, BaseException) else e.method)
        title = getattr(cls, "title", None) or name
        card = getattr(cls, "card", None)
        paper = getattr(cls, "paper", "")
        if isinstance(e, BaseException):
            cards.append(f'<article class="method"><h3>{_e(title)}</h3><p class="error">Not computed: {_e(e)}</p>'
                         f"{_card_html(card, paper)}</article>")
            continue
        heatmap = np.asarray(e.heatmap, np.float32)
        shown = overlay(picture, heatmap if e.signed else np.abs(heatmap), opacity=opacity, colormap=colormap,
                        percentile=percentile, signed=e.signed)
        facts = [("Settings", _settings(e.params)),
                 ("Layer", _e(e.layer) if e.layer else "none (works on the pixels)"),
                 ("Time", f"{float(e.seconds):.2f} s")]
        if e.target != target:
            facts.insert(0, ("Class", f"{e.target} · {_e(e.label)}"))
        notes = _notes(e)
        if notes:
            facts.append(("Notes", "<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"))
        rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
        cards.append(f'<article class="method"><h3>{_e(title)}</h3>'
                     f"{_img(shown, f'{title} map over the picture', 'map')}"
                     f"{_legend(e.signed, colormap, percentile)}<table class=\"facts\">{rows}</table>"
                     f"{_card_html(card, paper)}</article>")
    return f'<section><h2>Maps</h2><div class="methods">{"".join(cards)}</div></section>'


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


def _scores(scores, entries, methods) -> str:
    order = [name for name, _ in entries if name in scores] + [name for name in scores
                                                               if name not in dict(entries)]
    columns = list(dict.fromkeys(key for name in order for key in scores[name]))
    helps = {column: score_help(column) for column in columns}
    best = {column: _best([scores[name].get(column) for name in order], (helps[column] or (None, None))[1])
            for column in columns}
    head = "".join(f"<th>{_e(column)}</th>" for column in columns)
    rows = []
    for row, name in enumerate(order):
        title = getattr(methods.get(name), "title", None) or name
        cells = []
        for column in columns:
            text = _e(format_score(scores[name].get(column)))
            cells.append(f'<td class="num best">{text} ★</td>' if row in best[column]
                         else f'<td class="num">{text}</td>')
        rows.append(f"<tr><th>{_e(title)}</th>{''.join(cells)}</tr>")
    explained = "".join(f"<dt>{_e(column)}</dt><dd>{_e(helps[column][0] if helps[column] else 'No description.')}"
                        "</dd>" for column in columns)
    return (f'<section class="scores"><h2>Scores</h2><table><thead><tr><th>method</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table><p class=\"muted small\">★ the best value of a column whose "
            f"better direction is known.</p><dl>{explained}</dl></section>")


def _figures(images: Sequence[tuple[str, bytes]]) -> str:
    figures = []
    for caption, png in images:
        png = bytes(png)
        if not png.startswith(PNG_SIGNATURE):
            raise ValueError(f"The figure {caption!r} is not a PNG picture; give its PNG bytes.")
        figures.append(f'<figure class="extra"><img src="{_png_uri(png)}" alt="{_e(caption)}">'
                       f"<figcaption>{_e(caption)}</figcaption></figure>")
    return f'<section><h2>More figures</h2>{"".join(figures)}</section>'


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _parameters(title, created, picture_name, picture, model_name, weights, random_weights, first, layers,
                entries, colormap, opacity, percentile, extra) -> dict[str, Any]:
    methods = {}
    for name, e in entries:
        if isinstance(e, BaseException):
            methods[name] = {"error": str(e)}
        else:
            methods[name] = {"params": e.params, "layer": e.layer, "target": e.target, "seconds": round(e.seconds, 3)}
    data = {"title": title, "created": created.isoformat(), "picture": picture_name,
            "picture_shown": list(picture.shape[:2]), "model": model_name, "weights": weights,
            "random_weights": random_weights, "target": first.target, "label": first.label, "layers": layers,
            "display": {"colormap": colormap, "opacity": opacity, "percentile": percentile}, "methods": methods}
    data.update(dict(extra or {}))
    return data


def _footer(versions: Mapping[str, str], parameters: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in versions.items())
    text = json.dumps(parameters, indent=2, ensure_ascii=False, default=_json_default)
    table = f'<table class="facts">{rows}</table>' if rows else ""
    return f"<footer><h2>Versions and parameters</h2>{table}<pre>{_e(text)}</pre></footer>"


_CSS = """
:root { --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --warn: #b42318; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       max-width: 1200px; margin: 24px auto; padding: 0 16px;
       -webkit-print-color-adjust: exact; print-color-adjust: exact; }
h1 { margin: 0 0 4px; } h2 { margin: 24px 0 8px; font-size: 1.2em; } h3 { margin: 0 0 8px; }
.muted { color: var(--muted); } .small { font-size: 0.85em; margin: 2px 0; }
.warning { border: 3px solid var(--warn); background: #fef3f2; color: var(--warn); padding: 12px 16px;
           margin: 16px 0; font-size: 1.1em; border-radius: 6px; }
.overview { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
figure { margin: 0; } figcaption { color: var(--muted); font-size: 0.9em; }
img { max-width: 100%; height: auto; display: block; }
.picture img { width: 320px; max-width: 100%; border-radius: 4px; }
table { border-collapse: collapse; } th, td { text-align: left; padding: 3px 8px; vertical-align: top; }
.facts th { color: var(--muted); font-weight: 600; white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.predictions td, .predictions th, .scores td, .scores th { border-bottom: 1px solid var(--line); }
.predictions tr.explained { font-weight: 700; }
.bar { display: inline-block; height: 10px; background: #3e7cb1; min-width: 1px; }
.predictions td:last-child { width: 140px; }
.methods { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 16px; }
.method { border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
.method .map { width: 100%; border-radius: 4px; }
.legend { margin: 6px 0; } .ramp { height: 10px; border-radius: 2px; }
.ends { display: flex; justify-content: space-between; font-size: 0.8em; color: var(--muted); }
.card { border-top: 1px solid var(--line); margin-top: 8px; font-size: 0.92em; }
.card p { margin: 6px 0; } .card ul, .facts ul { margin: 2px 0; padding-left: 18px; }
.error { color: var(--warn); }
.best { font-weight: 700; }
dt { font-weight: 600; margin-top: 6px; } dd { margin: 0 0 0 16px; color: var(--muted); }
.extra { margin: 12px 0; }
pre { background: #f5f7fa; padding: 8px; overflow-x: auto; font-size: 0.8em; white-space: pre-wrap; }
footer { border-top: 1px solid var(--line); margin-top: 24px; }
@page { size: A4; margin: 14mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  .noprint { display: none; }
  .methods { display: block; }
  .method, figure, tr, .warning, .overview, .scores table { break-inside: avoid; page-break-inside: avoid; }
  .method { margin-bottom: 10px; }
  .method .map { max-width: 60%; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  a { color: inherit; }
}
"""
