"""The layer views' downloads: ``/download/activations.png`` (a page of a layer's channels) and
``/download/sweep.png`` (the layer sweep's strip). Every parameter is checked by the service; a bad one
gets a 400 with a plain sentence."""

from __future__ import annotations

import flask

from components.common import SERVICE_KEY
from service import ExplainerError, describe_error
from service.views import activations_image, png, request_activations, request_sweep, sweep_image, wait


def _answer(make, name: str) -> flask.Response:
    try:
        data = png(make())
    except Exception as error:  # noqa: BLE001 - everything becomes a plain message
        status = 400 if isinstance(error, ExplainerError) else 500
        return flask.Response(describe_error(error) + "\n", status=status, mimetype="text/plain")
    return flask.Response(data, mimetype="image/png", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _common(args) -> dict:
    return {
        "model": args.get("model", ""),
        "weights": args.get("weights") or None,
        "target": args.get("target") or None,
    }


def register(server: flask.Flask) -> None:
    @server.route("/download/activations.png")
    def download_activations():
        args = flask.request.args

        def make():
            svc, key = server.extensions[SERVICE_KEY], args.get("image", "")
            options = {"layer": args.get("layer") or None, "order": args.get("order", "contribution")}
            options |= {"top": args.get("top", 16), "page": args.get("page", 0)}
            return activations_image(svc, key, wait(svc, request_activations(svc, key, **_common(args), **options)))

        return _answer(make, "activations.png")

    @server.route("/download/sweep.png")
    def download_sweep():
        args = flask.request.args

        def make():
            svc, key = server.extensions[SERVICE_KEY], args.get("image", "")
            found = wait(svc, request_sweep(svc, key, **_common(args), method=args.get("method", "grad_cam")))
            return sweep_image(svc, key, found)

        return _answer(make, "layer-sweep.png")
