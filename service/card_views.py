"""The service side of the views on a card: "why A and not B" (``contrast``), the top k classes
(``top_k``) and attributions taken at the picked layer (the ``source`` setting). Plain data in and out,
no TensorFlow at import; ``service.core`` wires these in with a few lines.

A top-k request is one job: its k maps come from one batched pass (``explainers.top_k``), each is
cached under the key of the single map of its class, and the job's result is the first class's map
with the row's classes in its meta, so the card reads the other k − 1 maps from the cache.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from explainers.contrast import check_contrast
from explainers.errors import ExplainerError, ParameterError
from explainers.layer_attribution import SEED_EXAMPLE, from_layer
from explainers.methods import get_method
from explainers.top_k import DEFAULT_K, NOT_WITH_CONTRAST, check_k
from service.catalogue import labels as model_labels
from service.classes import matching_class

REPORT_VIEWS_CHARS = 4000  # the longest text of the cards' views a report reads
#: what the map results of a view carry from an Explanation's meta to the card and the report
VIEW_META = ("contrast", "contrast_label", "title", "source", "source_layer", "top_k", "rank")


def clean_view(model: str, method: str, target: int | None, contrast: Any, top_k: Any) -> tuple[int | None, int | None]:
    """(contrast class index or None, k or None) checked in words, as a request may send anything: k from 1
    to 10 (1 is the single map), a known class to contrast with other than the target (the top class where
    none was picked and the top class is known), and not both."""
    top_k = None if top_k is None or top_k == "" else check_k(top_k)
    if contrast is not None and contrast != "":
        if top_k is not None:
            raise ParameterError(NOT_WITH_CONTRAST)
        labels = model_labels(model)
        contrast = labels.resolve(contrast)
        cls = get_method(method)
        check_contrast(cls.name, cls.title, target, contrast, labels[contrast].name)
    else:
        contrast = None
    return contrast, (None if top_k == 1 else top_k)


def contrast_for(model: str, contrast: Any, other: str | None) -> Any:
    """The class B that ``other`` (a compared model) contrasts with when ``model`` contrasts with ``contrast``:
    a class belongs to a model, so B is ``other``'s index of the same class, or None where ``other`` does not
    know it. An unknown ``contrast`` comes back as given, for the request to refuse in words."""
    if contrast is None or contrast == "" or not other or other == model:
        return contrast
    try:
        source = model_labels(model)
        return matching_class(source, source.resolve(contrast), model_labels(other))
    except ExplainerError:
        return contrast


def accepts_contrast(method: str) -> bool:
    """True if ``method`` can explain "why A and not B" (it reads the class score)."""
    from explainers.contrast import REFUSED

    return get_method(method).name not in REFUSED


def uses_layer(method_cls: type, settings: Mapping[str, Any]) -> bool:
    """True if the map depends on the picked layer (the cache key then holds it)."""
    return bool(method_cls.uses_layer or from_layer(settings))


def key_extras(contrast: int | None, top_k: int | None) -> tuple:
    """What a view adds to a map's cache key (nothing for the plain map, so its key stays as it was)."""
    return ((("contrast", contrast),) if contrast is not None else ()) + ((("top_k", top_k),) if top_k else ())


def compute_top_k(
    loaded,
    image,
    request: Mapping[str, Any],
    progress: Callable[[float], None] | None,
    keep: Callable[[Any, Any], None],
):
    """The top-k row of ``request``: ``keep(explanation, target)`` caches each class's map; returns the
    first class's Explanation with the row's classes (target, label) in ``meta["top_k_row"]``."""
    from explainers.top_k import explain_top_k

    row = explain_top_k(
        loaded,
        image,
        get_method(request["method"])(**request["settings"]),
        k=request["top_k"],
        layer=request["layer"],
        progress=progress,
    )
    for explanation in row:  # each kept as its class's plain map: without the row's rank, as if asked alone
        alone = replace(explanation, meta={k: v for k, v in explanation.meta.items() if k not in ("top_k", "rank")})
        keep(alone, alone.target)
        if explanation is row[0]:
            keep(alone, None)  # the top class asked as "the top class" (its key once the predictions are known)
    first = row[0]
    first.meta["top_k_row"] = [[e.target, e.label] for e in row]
    return first


def report_views(text: Any) -> dict[str, dict[str, Any]]:
    """The page's cards' views for its report, sent as JSON ``{method: {"view": "one"|"top_k"|"contrast",
    "source": "pixels"|"layer", "layer": name}}`` (the model's cards only): kept to what a view can be,
    every name then checked by the service. Empty text: no views known (every card as its plain map)."""
    if text is None or text == "":
        return {}
    try:
        found = json.loads(str(text)[:REPORT_VIEWS_CHARS])
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise ParameterError("The cards' views sent with the report could not be read: expected a JSON object.")
    views = {}
    for method, view in list(found.items())[:24]:
        if isinstance(method, str) and isinstance(view, dict):
            layer = view.get("layer")
            views[method] = {
                "view": view.get("view") if view.get("view") in ("one", "top_k", "contrast") else "one",
                "source": "layer" if view.get("source") == "layer" else "pixels",
                "layer": layer[:200] if isinstance(layer, str) and layer else None,
            }
    return views


def report_maps(svc, key: str, model: str, method: str, view: Mapping[str, Any] | None, **common: Any) -> list:
    """A card's maps for the report, as its card shows them: its one map (of "why A and not B" where the
    card shows that view, or where no view is known and ``common`` has a contrast), or its top-k row, each
    class's map with its rank. ``common``: target, layer, weights, contrast."""
    if view is not None:
        common = {
            **common,
            "contrast": common.get("contrast") if view["view"] == "contrast" else None,
            "layer": view["layer"] or common.get("layer"),
            "params": {"source": "layer"} if view["source"] == "layer" else None,
        }
    top_k = DEFAULT_K if view is not None and view["view"] == "top_k" else None
    first = svc.explain(key, model, method, **common, top_k=top_k)  # a top-k view has no contrast (see above)
    row = first.meta.get("top_k_row")
    if not row:
        return [first]
    found = [first] + [svc.explain(key, model, method, **{**common, "target": t, "contrast": None}) for t, _ in row[1:]]
    return [replace(m, meta={**m.meta, "top_k": len(row), "rank": rank}) for rank, m in enumerate(found, 1)]


def view_cards(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The cards of the views a map was computed in (title, paper and the card's texts), for the page."""
    from explainers.view_cards import VIEW_CARDS, views_of

    return [
        {
            "name": name,
            "title": VIEW_CARDS[name].title,
            "paper": VIEW_CARDS[name].paper,
            **VIEW_CARDS[name].card.to_dict(),
        }
        for name in views_of(meta)
    ]


def view_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The view's entries of an Explanation's meta, for the MapResult."""
    found = {name: meta[name] for name in VIEW_META if name in meta}
    if "top_k_row" in meta:
        found["top_k_row"] = meta["top_k_row"]
    return found


__all__ = [
    "SEED_EXAMPLE",
    "VIEW_META",
    "accepts_contrast",
    "clean_view",
    "compute_top_k",
    "contrast_for",
    "key_extras",
    "report_maps",
    "report_views",
    "uses_layer",
    "view_cards",
    "view_meta",
]
