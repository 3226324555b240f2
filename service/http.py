"""The HTTP API and health endpoints, on the same server as the dashboard.

    GET  /healthz                 alive
    GET  /readyz                  JSON: warm-up state, models loaded, device, queue, cache (503 until warmed up)
    GET  /api/v1/models           models (with layers and weights status) and methods (with settings)
    GET  /api/v1/labels?q=cat     class search
    POST /api/v1/explain          multipart: image file (or a data URL in the field, or the raw picture as the
                                  body with the fields in the query); fields model, method, target, layer,
                                  weights, wait (default true), contrast, top_classes, and the method's settings -> JSON
                                  with the heatmap (and, for top_classes, each class's)
    GET  /api/v1/jobs/<id>        a job's progress (and its result when done); DELETE cancels it
    POST /api/v1/activations, /api/v1/sweep   the layer views (service.http_views)

Anything the client sends wrong gets a 4xx with {"error": "<plain sentence>"} (a picture over the limit: 413,
an unknown path under /api/: 404); a full queue, an unreachable Redis or a lost worker get 503 with
Retry-After, a caller with too many maps waiting 429 with Retry-After; nothing a client sends produces a
500. Messages never name the server's files.

Jobs belong to their callers (``caller``: the API key when the server knows it, else the address):
identical requests share one job (``"shared": true`` for those that joined it), a job id a caller
never received is unknown to it (404), and DELETE withdraws only the caller's own interest: the
computation stops when nobody waits for it any more.
"""

from __future__ import annotations

import base64
import hashlib
import io
from typing import TYPE_CHECKING, Any

import flask
import numpy as np
from PIL import Image

from explainers.errors import ExplainerError, UnknownNameError
from explainers.render import map_scale
from service import http_sets, http_views
from service.errors import ServiceUnavailableError, describe_error
from service.http_status import refusal
from service.jobs import BusyError, Job, QuotaError
from service.results import MapResult
from service.security import presented_key, without_paths
from service.uploads import UploadTooLarge, uploaded_bytes

if TYPE_CHECKING:  # pragma: no cover - for annotations only: the app hands the service to the routes
    from service.core import ExplainerService

# the top classes' row is asked as top_classes: top_k is a method setting (Score-CAM (fast)), and settings are fields
RESERVED_FIELDS = {"model", "method", "target", "layer", "weights", "wait", "image", "contrast", "top_classes"}
WAIT_MARGIN = 30.0  # seconds a waiting request gives a job beyond its deadline (it may queue first)


def longest_wait() -> float:
    """The longest an API request may wait for its answer: the reverse proxy's read timeout is sized from it."""
    from explainers.methods import METHODS

    return max(method.deadline for method in METHODS.values()) + WAIT_MARGIN


def _service() -> ExplainerService:
    return flask.current_app.extensions["saliency_service"]


def _error(message: str, status: int, **headers: str) -> flask.Response:
    response = flask.jsonify({"error": without_paths(message)})
    response.status_code = status
    for name, value in headers.items():
        response.headers[name] = value
    return response


def caller() -> str:
    """Who is calling the API, for job ownership and the per-caller quota: its API key (``X-API-Key`` or
    ``Authorization: Bearer``) when the server knows it (``app.config["API_KEYS"]``, where a deployment's keys are kept), else its
    address (a made-up key cannot buy a fresh quota)."""
    key = presented_key(flask.request)
    known = flask.current_app.config.get("API_KEYS") or ()
    if key and key in known:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return "ip:" + (flask.request.remote_addr or "unknown")


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
    return {
        "png_base64": base64.b64encode(buffer.getvalue()).decode(),
        "shape": list(result.heatmap.shape),
        "scale": scale,
        "encoding": encoding,
        "min": float(values.min()),
        "max": float(values.max()),
    }


def _result_json(result: MapResult, notes: list[str] = ()) -> dict[str, Any]:
    """The answer's JSON; ``notes``: this caller's capped settings, named before the map's own notes."""
    notes = [*notes, *(note for note in result.meta.get("notes", []) if note not in notes)]
    return {
        "model": result.model,
        "method": result.method,
        "target": result.target,
        "label": result.label,
        "layer": result.layer,
        "params": result.params,
        "seconds": round(result.seconds, 4),
        "cached": result.cached,
        "signed": result.signed,
        "notes": notes,
        "heatmap": _heatmap_png(result),
        # a method's points (CNN Fixations' fixations): (row, column) on a points_size grid; a view's classes
        **{
            name: result.meta[name]
            for name in ("points", "points_size", "contrast", "contrast_label", "title")
            if name in result.meta
        },
        # a top-k row's classes, most probable first (the waiting answer adds each class's heatmap)
        **(
            {"top_classes": [{"rank": rank, "target": t, "label": label} for rank, (t, label) in enumerate(row, 1)]}
            if (row := result.meta.get("top_k_row"))
            else {}
        ),
    }


def _map_fields(form, target: int, params: dict[str, Any]) -> dict[str, Any]:
    """``map_here``'s arguments for one class of a top-classes row asked with ``form``."""
    return {
        "model": form.get("model", "vgg16"),
        "method": form.get("method", "grad_cam"),
        "target": target,
        "layer": form.get("layer") or None,
        "weights": form.get("weights") or None,
        "params": params,
    }


def _job_json(job: Job, client: str, notes: list[str] = ()) -> dict[str, Any]:
    """A job as ``client`` sees it: stopped once it withdrew, even while it goes on for others."""
    body = job.snapshot()
    body["shared"] = job.shared_with(client)
    if body.get("error"):
        body["error"] = without_paths(body["error"])
    if job.stopped_for(client) is not None and body["status"] != "cancelled":
        body.update(status="cancelled", error="Stopped by the client.")
    elif job.status == "done" and isinstance(job.result, MapResult):
        body["result"] = _result_json(job.result, notes)
    return body


def own_model_json(svc: ExplainerService, model: dict[str, Any]) -> dict[str, Any]:
    """A brought model in the model list: its facts (built once, as a job), or its problem in words."""
    problem = model.get("problem")
    facts: dict[str, Any] = {}
    if not problem:
        try:
            facts = svc.model_facts(model["name"])
        except Exception as error:  # noqa: BLE001 - a model that cannot be built is listed with why, never a 500
            problem = describe_error(error)
    return {
        **model,
        "input_size": facts.get("input_height"),
        "input_width": facts.get("input_width"),
        "default_layer": facts.get("default_layer", model.get("default_layer")),
        "layers": [layer["name"] for layer in facts.get("layers", [])],
        "explaining": facts.get("explaining"),
        "cam": facts.get("cam"),
        "problem": without_paths(problem) if problem else None,
        "weights": {"state": "problem" if problem else "ready", "message": without_paths(problem or "its own file")},
    }


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
            if model["name"] not in statuses:  # a brought model (service.catalogue): its own file
                listed.append(own_model_json(svc, model))
                continue
            state = statuses[model["name"]]
            listed.append(
                {
                    **model,
                    "layers": [layer["name"] for layer in svc.layers(model["name"])],
                    "weights": {"state": state.state, "message": without_paths(state.message)},
                }
            )
        methods = [{**m, "settings": svc.method_settings(m["name"])} for m in svc.methods()]
        return flask.jsonify(
            {"models": listed, "methods": methods, "device": svc.device, "default_weights": svc.default_weights}
        )

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
        form = flask.request.values  # the form's fields, or the query's when the body is the picture itself
        client = caller()
        try:
            data = uploaded_bytes(flask.request, svc.max_upload_bytes)
            if data is None:
                return _error("Send the picture as a multipart file field named 'image'.", 400)
            key = svc.add_image(data)
            params = {name: value for name, value in form.items() if name not in RESERVED_FIELDS}
            job = svc.request_map(
                key,
                form.get("model", "vgg16"),
                form.get("method", "grad_cam"),
                target=form.get("target") or None,
                layer=form.get("layer") or None,
                weights=form.get("weights") or None,
                params=params,
                client=client,
                contrast=form.get("contrast") or None,
                top_k=form.get("top_classes") or None,
            )
            notes = svc.setting_notes(form.get("method", "grad_cam"), params)  # valid: request_map took them
        except (UploadTooLarge, QuotaError, BusyError, ServiceUnavailableError, ExplainerError) as error:
            status, headers = refusal(error)
            return _error(str(error), status, **headers)
        if form.get("wait", "true").strip().lower() in {"false", "0", "no"}:
            body = _job_json(job, client, notes)
            body["status_url"] = f"/api/v1/jobs/{job.id}"
            body["notes"] = notes
            return flask.jsonify(body), 202
        if not job.wait(job.deadline + WAIT_MARGIN):
            svc.jobs.cancel(job.id, "Stopped: no answer in time.", client=client)
            return _error("This took too long and was stopped. Please try again.", 504)
        if isinstance(job.error, ServiceUnavailableError):
            return _error(str(job.error), 503, **{"Retry-After": str(job.error.retry_after)})
        if job.error is not None:
            status = 400 if isinstance(job.error, ExplainerError) else 500
            return _error(describe_error(job.error), status)
        body = {**_result_json(job.result, notes), "shared": job.shared_with(client)}
        for entry in body.get("top_classes", ()):  # the row's other maps: its job cached each as its class's own map
            try:
                found = (
                    job.result
                    if entry["rank"] == 1
                    else svc.map_here(key, **_map_fields(form, entry["target"], params))
                )
            except Exception as error:  # noqa: BLE001 - one missing map of the row is named, never a 500
                entry["error"] = without_paths(describe_error(error))
                continue
            entry["heatmap"] = _heatmap_png(found)
        return flask.jsonify(body)

    @api.route("/api/v1/jobs/<job_id>", methods=["GET", "DELETE"])
    def job_status(job_id: str):
        svc = _service()
        client = caller()
        job = svc.jobs.get(job_id, client)
        if job is None:
            return _error("There is no such job (it may have finished long ago).", 404)
        if flask.request.method == "DELETE" and svc.jobs.cancel(job_id, "Stopped by the client.", client=client):
            if not job.interested:  # the computation itself stops: give it a moment to say so
                job.wait(2.0)
        return flask.jsonify(_job_json(job, client))

    http_sets.register(api, _service, caller, _error)  # sets of pictures: /api/v1/sets
    http_views.register(api, _service, caller, _error)  # the layer views: /api/v1/activations, /api/v1/sweep

    @api.route("/api/<path:_unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown_path(_unknown: str):
        return _error(
            f"Nothing answers {flask.request.method} at this address of the API (docs/serving.md lists its addresses).",
            404,
        )

    @api.errorhandler(UnknownNameError)
    def unknown(error):
        return _error(str(error), 400)

    return api
