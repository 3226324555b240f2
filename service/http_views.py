"""The HTTP API of the layer views (service.views), added to the API's blueprint by service.http:

    POST /api/v1/activations   the picture as /api/v1/explain takes it; fields model, weights, target, layer,
                               order (contribution, activation or index), top (1-64), page -> JSON: the channels
                               with their mean activation, weight and contribution, and the page as a PNG
    POST /api/v1/sweep         the picture; fields model, weights, target, method (a CAM: default grad_cam)
                               -> JSON: the blocks, their resolutions, and the strip as a PNG

Both wait for their answer (cached like the maps: the same request again is answered from the cache).
Anything the client sends wrong is a 4xx with {"error": "<plain sentence>"}, as for the maps.
"""

from __future__ import annotations

import base64
from typing import Any

import flask
import numpy as np

from service.errors import describe_error
from service.http_status import refusal
from service.uploads import uploaded_bytes
from service.views import activations_image, png, request_activations, request_sweep, sweep_image, wait

#: the numbers of each view's result the answer carries (its maps travel as the picture)
ACTIVATION_FIELDS = ("model", "layer", "target", "label", "order", "page", "pages", "count", "resolution")
SWEEP_FIELDS = ("method", "model", "layers", "resolutions", "target", "label", "seconds")


def _plain(value: Any) -> Any:
    """A result's value as JSON takes it (numpy numbers and arrays to Python's)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def activations_json(found: dict[str, Any]) -> dict[str, Any]:
    """A page of channels as JSON: its facts and one entry per channel."""
    channels = [
        {"channel": int(c), "mean_activation": float(m), "weight": float(w), "contribution": float(x)}
        for c, m, w, x in zip(found["channels"], found["means"], found["weights"], found["contributions"], strict=True)
    ]
    return {**{name: _plain(found[name]) for name in ACTIVATION_FIELDS}, "channels": channels}


def sweep_json(found: dict[str, Any]) -> dict[str, Any]:
    """A layer sweep as JSON: its blocks, first to last, and their resolutions."""
    return {name: _plain(found[name]) for name in SWEEP_FIELDS}


def register(api: flask.Blueprint, service, caller, error) -> None:
    """Add the layer views' routes to ``api``; ``service()``, ``caller()`` and ``error(message, status)`` are http's."""

    def answer(start, describe, draw):
        svc, form, client = service(), flask.request.values, caller()
        try:
            data = uploaded_bytes(flask.request, svc.max_upload_bytes)
            if data is None:
                return error("Send the picture as a multipart file field named 'image'.", 400)
            key = svc.add_image(data)
            found = wait(svc, start(svc, key, form, client), client)
            picture = png(draw(svc, key, found))
        except Exception as problem:  # noqa: BLE001 - a view that failed says so in words, never a traceback
            known = refusal(problem)
            if known is None:
                return error(describe_error(problem), 500)
            status, headers = known
            return error(str(problem), status, **headers)
        return flask.jsonify(
            {
                **describe(found),
                "random_weights": bool(found.get("random_weights")),
                "png_base64": base64.b64encode(picture).decode(),
            }
        )

    def common(form) -> dict[str, Any]:
        return {
            "model": form.get("model", "vgg16"),
            "weights": form.get("weights") or None,
            "target": form.get("target") or None,
        }

    @api.route("/api/v1/activations", methods=["POST"])
    def activations():
        def start(svc, key, form, client):
            options = {"layer": form.get("layer") or None, "order": form.get("order", "contribution")}
            options |= {"top": form.get("top", 16), "page": form.get("page", 0)}
            args = common(form)
            return request_activations(svc, key, args.pop("model"), client=client, **args, **options)

        return answer(start, activations_json, activations_image)

    @api.route("/api/v1/sweep", methods=["POST"])
    def sweep():
        def start(svc, key, form, client):
            args = common(form)
            model = args.pop("model")
            return request_sweep(svc, key, model, client=client, method=form.get("method", "grad_cam"), **args)

        return answer(start, sweep_json, sweep_image)
