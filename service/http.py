"""The HTTP API and health endpoints, on the same server as the dashboard.

    GET  /healthz                 alive
    GET  /readyz                  JSON: warm-up state, models loaded, device, queue, cache (503 until warmed up)
    GET  /api/v1/models           models (with layers and weights status) and methods (with settings)
    GET  /api/v1/labels?q=cat     class search
    POST /api/v1/explain          multipart: image file; fields model, method, target, layer, weights,
                                  wait (default true), and the method's settings -> JSON with the heatmap
    GET  /api/v1/jobs/<id>        a job's progress (and its result when done); DELETE cancels it

Anything the client sends wrong gets a 4xx with {"error": "<plain sentence>"}; a full queue gets 503
with Retry-After; nothing a client sends produces a 500.
"""
from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

import flask
import numpy as np
from PIL import Image

from explainers.errors import ExplainerError, UnknownNameError
from explainers.render import map_scale
from service.errors import describe_error
from service.jobs import BusyError, Job
from service.results import MapResult

if TYPE_CHECKING:  # pragma: no cover - for annotations only: the app hands the service to the routes
    from service.core import ExplainerService

RESERVED_FIELDS = {"model", "method", "target", "layer", "weights", "wait", "image"}
WAIT_MARGIN = 30.0  # seconds a waiting request gives a job beyond its deadline (it may queue first)


def longest_wait() -> float:
    """The longest an API request may wait for its answer: the reverse proxy's read timeout is sized from it."""
    from explainers.methods import METHODS

    return max(method.deadline for method in METHODS.values()) + WAIT_MARGIN


def _service() -> ExplainerService:
    return flask.current_app.extensions["saliency_service"]


def _error(message: str, status: int, **headers: str) -> flask.Response:
    response = flask.jsonify({"error": message})
    response.status_code = status
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _heatmap_png(result: MapResult) -> dict[str, Any]:
    """The map as an 8-bit grayscale PNG (base64) with the scale needed to read it back."""
    values = result.heatmap.astype(np.float64)
    scale = map_scale(values, 99.0) or 1.0
    if result.signed:
        levels = np.clip(values / scale, -1, 1) * 127.5 + 127.5
        encoding = "signed: value = (level - 127.5) / 127.5 * scale"
    else:
        levels = np.clip(values / scale, 0, 1) * 255
        encoding = "value = level / 255 * scale"
    buffer = io.BytesIO()
    Image.fromarray(np.round(levels).astype(np.uint8), mode="L").save(buffer, "PNG")
    return {"png_base64": base64.b64encode(buffer.getvalue()).decode(), "shape": list(result.heatmap.shape),
            "scale": scale, "encoding": encoding, "min": float(values.min()), "max": float(values.max())}


def _result_json(result: MapResult) -> dict[str, Any]:
    return {"model": result.model, "method": result.method, "target": result.target, "label": result.label,
            "layer": result.layer, "params": result.params, "seconds": round(result.seconds, 4),
            "cached": result.cached, "signed": result.signed, "notes": result.meta.get("notes", []),
            "heatmap": _heatmap_png(result)}


def _job_json(job: Job) -> dict[str, Any]:
    body = job.snapshot()
    if job.status == "done" and isinstance(job.result, MapResult):
        body["result"] = _result_json(job.result)
    return body


def create_blueprint() -> flask.Blueprint:
    api = flask.Blueprint("api", __name__)

    @api.route("/readyz")
    def readyz():
        health = _service().health()
        status = 503 if health["status"] in {"not started", "warming up", "degraded"} else 200
        response = flask.jsonify(health)
        response.status_code = status
        return response

    @api.route("/api/v1/models")
    def models():
        svc = _service()
        statuses = svc.weights_status()
        listed = []
        for model in svc.models():
            state = statuses[model["name"]]
            listed.append({**model, "layers": [layer["name"] for layer in svc.layers(model["name"])],
                           "weights": {"state": state.state, "message": state.message}})
        methods = [{**m, "settings": svc.method_settings(m["name"])} for m in svc.methods()]
        return flask.jsonify({"models": listed, "methods": methods, "device": svc.device,
                              "default_weights": svc.default_weights})

    @api.route("/api/v1/labels")
    def labels():
        query = flask.request.args.get("q", "")
        try:
            limit = min(1000, max(1, int(flask.request.args.get("limit", 20))))
        except ValueError:
            return _error("limit must be a whole number.", 400)
        model = flask.request.args.get("model", "vgg16")
        try:
            found = _service().search_labels(query[:100], limit, model)
        except ExplainerError as error:
            return _error(str(error), 400)
        return flask.jsonify({"query": query[:100], "model": model[:40], "labels": found})

    @api.route("/api/v1/explain", methods=["POST"])
    def explain():
        svc = _service()
        form = flask.request.form
        upload = flask.request.files.get("image")
        if upload is None:
            return _error("Send the picture as a multipart file field named 'image'.", 400)
        try:
            key = svc.add_image(upload.read(svc.max_upload_bytes + 1))
            params = {name: value for name, value in form.items() if name not in RESERVED_FIELDS}
            job = svc.request_map(key, form.get("model", "vgg16"), form.get("method", "grad_cam"),
                                  target=form.get("target") or None, layer=form.get("layer") or None,
                                  weights=form.get("weights") or None, params=params)
        except BusyError as error:
            return _error(str(error), 503, **{"Retry-After": str(error.retry_after)})
        except ExplainerError as error:
            return _error(str(error), 400)
        if form.get("wait", "true").strip().lower() in {"false", "0", "no"}:
            body = _job_json(job)
            body["status_url"] = f"/api/v1/jobs/{job.id}"
            return flask.jsonify(body), 202
        if not job.wait(job.deadline + WAIT_MARGIN):
            svc.jobs.cancel(job.id, "Stopped: no answer in time.")
            return _error("This took too long and was stopped. Please try again.", 504)
        if job.error is not None:
            status = 400 if isinstance(job.error, ExplainerError) else 500
            return _error(describe_error(job.error), status)
        return flask.jsonify(_result_json(job.result))

    @api.route("/api/v1/jobs/<job_id>", methods=["GET", "DELETE"])
    def job_status(job_id: str):
        svc = _service()
        job = svc.jobs.get(job_id)
        if job is None:
            return _error("There is no such job (it may have finished long ago).", 404)
        if flask.request.method == "DELETE":
            svc.jobs.cancel(job_id, "Stopped by the client.")
            job.wait(2.0)
        return flask.jsonify(_job_json(job))

    @api.errorhandler(UnknownNameError)
    def unknown(error):
        return _error(str(error), 400)

    return api
