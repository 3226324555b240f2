"""The layer views as jobs: a layer's activations (``explainers.activations``) and the layer sweep
(``explainers.sweep``), validated, cached and queued like the maps.

Both are request kinds of the service's one dispatch (``ExplainerService.HANDLERS``), so they run in a
local worker thread or in a Celery worker alike; their results are plain dicts of names, numbers and
numpy arrays, which the wire format carries as it carries a trust check's result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from explainers.errors import ExplainerError, ParameterError
from explainers.feature_maps import ORDERS, check_paging
from explainers.layer_sweep import sweep_methods
from explainers.versions import MAP_CORE, source_version
from explainers.view_pictures import channel_caption as channel_caption  # the page's words under a channel
from service.catalogue import labels as catalogue_labels
from service.jobs import Job
from service.results import shrink

if TYPE_CHECKING:
    from service.core import ExplainerService

MAP_SIDE = 160  # a view's maps travel at most this many pixels on a side
DEADLINE = 120.0


def _common(svc: ExplainerService, key: str, model: str, weights: str | None, target: Any) -> tuple:
    """(weights, model, target index or None), every name checked against its allow-list."""
    model, weights = svc.names(model, weights)
    target = None if target is None or target == "" else catalogue_labels(model).resolve(target)
    svc.images.get(key)  # refuse an unknown or forged key before queueing anything
    return weights, model, target


def activations_request(
    svc: ExplainerService, key, model, layer=None, target=None, weights=None, order="contribution", top=16, page=0
) -> tuple[tuple, dict[str, Any]]:
    """(cache key, request) of one page of a layer's channels; bad values raise in plain words."""
    weights, model, target = _common(svc, key, model, weights, target)
    layer = svc._check_layer(model, layer)
    if order not in ORDERS:
        raise ParameterError(f"order must be one of {', '.join(ORDERS)}. Received: {order!r}.")
    top, page = check_paging(top, page)
    version = source_version("explainers.feature_maps", *MAP_CORE)
    identity = svc.weights_identity(model, weights)
    cache_key = ("activations", key, model, identity, layer, target, order, top, page, version)
    request = {
        "kind": "activations",
        **{"key": key, "model": model, "weights": weights, "layer": layer, "target": target},
        **{"order": order, "top": top, "page": page},
    }
    return cache_key, request


def sweep_request(
    svc: ExplainerService, key, model, method="grad_cam", target=None, weights=None
) -> tuple[tuple, dict[str, Any]]:
    """(cache key, request) of a layer sweep; bad values raise in plain words."""
    weights, model, target = _common(svc, key, model, weights, target)
    if method not in sweep_methods():
        raise ParameterError(
            f"The layer sweep draws the CAM-family methods: {', '.join(sweep_methods())}. Received: {method!r}."
        )
    version = source_version("explainers.layer_sweep", *MAP_CORE)
    cache_key = ("sweep", key, model, svc.weights_identity(model, weights), method, target, version)
    request = {"kind": "sweep", "key": key, "model": model, "weights": weights, "method": method, "target": target}
    return cache_key, request


def _submit(svc: ExplainerService, made: tuple[tuple, dict], title: str, session=None, client=None) -> Job:
    cache_key, request = made
    cached = svc.cache.get(cache_key)
    if cached is not None:
        return svc.jobs.completed(cache_key, cached, client)
    return svc.jobs.submit(cache_key, request, session=session, deadline=DEADLINE, client=client, title=title)


def request_activations(svc: ExplainerService, key, model, *, session=None, client=None, **options) -> Job:
    """Start (or find in the cache, or join) one page of a layer's channels; see ``activations_request``."""
    return _submit(svc, activations_request(svc, key, model, **options), "the activations", session, client)


def request_sweep(svc: ExplainerService, key, model, *, session=None, client=None, **options) -> Job:
    """Start (or find in the cache, or join) a layer sweep; see ``sweep_request``."""
    return _submit(svc, sweep_request(svc, key, model, **options), "the layer sweep", session, client)


def wait(svc: ExplainerService, job: Job, client=None) -> dict[str, Any]:
    """A view's result, or ExplainerError in plain words."""
    outcome = svc._wait(job, DEADLINE + 30.0, client)
    if isinstance(outcome, Exception):
        raise outcome
    if not isinstance(outcome, dict):
        raise ExplainerError("This view came back damaged. Please try again.")
    return outcome


def compute_activations(
    svc: ExplainerService, request: Mapping[str, Any], progress: Callable | None, cache_key, preview=None
) -> dict[str, Any]:
    """The handler of the "activations" kind: one forward and one backward pass."""
    from explainers.feature_maps import activations

    loaded = svc.load(request["model"], request["weights"])
    found = activations(
        loaded,
        svc.images.get(request["key"]),
        request["layer"],
        top=request["top"],
        target=request["target"],
        order=request["order"],
        page=request["page"],
    )
    value = {
        **{name: getattr(found, name) for name in ("model", "layer", "target", "label", "order", "page", "pages")},
        **{name: getattr(found, name) for name in ("count", "channels", "means", "weights", "contributions")},
        "maps": np.stack([shrink(m, MAP_SIDE) for m in found.maps]) if len(found.maps) else found.maps,
        "resolution": [int(found.maps.shape[1]), int(found.maps.shape[2])],
        "random_weights": loaded.random_weights,
    }
    if cache_key is not None:
        svc.cache.put(cache_key, value)
    return value


def compute_sweep(
    svc: ExplainerService, request: Mapping[str, Any], progress: Callable | None, cache_key, preview=None
) -> dict[str, Any]:
    """The handler of the "sweep" kind: one forward and one backward pass recording every block."""
    from explainers.layer_sweep import sweep

    loaded = svc.load(request["model"], request["weights"])
    found = sweep(loaded, svc.images.get(request["key"]), request["method"], target=request["target"])
    value = {
        "method": found.method,
        "model": found.model,
        "layers": list(found.layers),
        "heatmaps": np.stack([shrink(m, MAP_SIDE) for m in found.heatmaps]),
        "resolutions": [list(r) for r in found.resolutions],
        "target": found.target,
        "label": found.label,
        "seconds": float(found.meta["seconds"]),
        "random_weights": loaded.random_weights,
    }
    if cache_key is not None:
        svc.cache.put(cache_key, value)
    return value


def cards() -> dict[str, dict[str, Any]]:
    """The views' cards in words (what, how to read, pitfalls, paper), as the methods' cards are given."""
    from explainers import feature_maps, layer_sweep

    return {
        "activations": {"title": "Activations", "paper": "Zeiler & Fergus 2014", **feature_maps.CARD.to_dict()},
        "sweep": {"title": "Layer sweep", "paper": "Selvaraju et al. 2017", **layer_sweep.CARD.to_dict()},
    }


def activations_image(svc: ExplainerService, key: str, found: Mapping[str, Any]) -> np.ndarray:
    """A page of channels over the picture the model saw, titled in words (downloads, the report)."""
    from explainers.view_pictures import activations_picture

    title = (
        f"{found['model']} · {found['layer']} · {found['label']} (class {found['target']}) · "
        f"{found['order']} order, page {found['page'] + 1} of {found['pages']}"
    )
    image = svc.model_input(key, found["model"])
    return activations_picture(image, found["maps"], found["channels"], found["means"], found["weights"], title)


def sweep_image(svc: ExplainerService, key: str, found: Mapping[str, Any]) -> np.ndarray:
    """A sweep's strip over the picture the model saw, titled in words (downloads, the report)."""
    from explainers.view_pictures import sweep_picture

    title = f"{found['method']} at every block of {found['model']} · {found['label']} (class {found['target']})"
    image = svc.model_input(key, found["model"])
    return sweep_picture(image, found["heatmaps"], found["layers"], found["resolutions"], title)


def thumbnail(picture: np.ndarray, heatmap: np.ndarray, colormap: str = "viridis", side: int = 112) -> str:
    """A small map over the picture as a PNG data URL, for the page's grids (tiles are images, so a grid
    of 16 stays light)."""
    import base64

    import cv2

    from explainers.render import encode_png, overlay

    height, width = picture.shape[:2]
    factor = side / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
    return "data:image/png;base64," + base64.b64encode(encode_png(overlay(small, heatmap, 0.6, colormap))).decode()


def png(picture: np.ndarray) -> bytes:
    from explainers.render import encode_png

    return encode_png(picture)


def report_figures(svc: ExplainerService, key: str, model: str, target=None, layer=None, weights=None) -> list:
    """The layer views opened on the page for these choices (cached: a report never computes them), as
    (caption with the view's card in words, PNG bytes) for the report's figures."""
    about = cards()
    wanted = [
        ("activations", activations_request(svc, key, model, layer, target, weights), activations_image),
        ("sweep", sweep_request(svc, key, model, target=target, weights=weights), sweep_image),
    ]
    figures = []
    for view, (cache_key, _request), draw in wanted:
        found = svc.cache.get(cache_key)
        if found is None:
            continue
        card = about[view]
        caption = (
            f"{card['title']}: {card['computes']} How to read it: {card['colours']} Pitfalls: "
            f"{' '.join(card['pitfalls'])} Paper: {card['paper']} ({card['paper_url']})."
        )
        figures.append((caption, png(draw(svc, key, found))))
    return figures
