"""The HTTP API of sets of pictures (service.sets), added to the API's blueprint by service.http:

    POST   /api/v1/sets              multipart: one .zip as file field "set", or pictures as file fields
                                     "image" (repeatable); fields model, method, layer, weights -> 202 {id}
    GET    /api/v1/sets/<id>         progress, time left, rows of scores, sentences, mean map (PNG data URL);
                                     ?thumbnails=1 adds each row's picture and map thumbnails
    DELETE /api/v1/sets/<id>         stop its jobs (computed pictures stay cached)
    POST   /api/v1/sets/<id>/resume  compute what is missing

``POST /api/v1/sets`` reads a body up to the set's limit (``EXPLAINER_SET_MAX_MB``), not the app's
small request limit: over it, a 413 in words before the body is read (``service.set_uploads``, as the
page's set upload). A set belongs to its caller; another caller's id is unknown (404). Bad entries of
a set are listed in its ``problems``; a set with nothing usable is a 400 in plain words.
"""

from __future__ import annotations

from typing import Any

import flask

from explainers.errors import ExplainerError
from service.jobs import BusyError, QuotaError
from service.set_uploads import SetTooLarge, set_contents, set_uploads
from service.sets import SetNotFound


def register(api: flask.Blueprint, service, caller, error) -> None:
    """Add the set routes to ``api``; ``service()``, ``caller()`` and ``error(message, status)`` are http's."""

    def guarded(work):
        try:
            return work()
        except SetNotFound as problem:
            return error(str(problem), 404)
        except SetTooLarge as problem:
            return error(str(problem), 413)
        except QuotaError as problem:
            return error(str(problem), 429, **{"Retry-After": str(problem.retry_after)})
        except BusyError as problem:
            return error(str(problem), 503, **{"Retry-After": str(problem.retry_after)})
        except ExplainerError as problem:
            return error(str(problem), 400)

    def status(set_id: str) -> dict[str, Any]:
        body = service().sets.status(set_id, caller())
        if flask.request.args.get("thumbnails", "0") not in {"1", "true", "yes"}:
            body["rows"] = [{k: v for k, v in row.items() if k not in {"picture", "map"}} for row in body["rows"]]
        return body

    @api.route("/api/v1/sets", methods=["POST"])
    def start_set():
        def work():
            uploads = set_uploads(flask.request, ["set", "image"])
            files = [(f.filename or "picture", f) for f in uploads["image"]]
            if uploads["set"]:
                name = uploads["set"][0].filename or ""
                files = [(name if name.lower().endswith(".zip") else "set.zip", uploads["set"][0])]
            if not files:
                return error("Send a .zip as the file field 'set', or pictures as file fields 'image'.", 400)
            svc, form = service(), flask.request.form
            set_id = svc.sets.start(
                set_contents(files),
                form.get("model", "vgg16"),
                form.get("method", "grad_cam"),
                form.get("layer") or None,
                form.get("weights") or None,
                client=caller(),
            )
            return flask.jsonify({"id": set_id, "status_url": f"/api/v1/sets/{set_id}"}), 202

        return guarded(work)

    @api.route("/api/v1/sets/<set_id>", methods=["GET", "DELETE"])
    def set_status(set_id: str):
        def work():
            if flask.request.method == "DELETE":
                service().sets.cancel(set_id, caller())
            return flask.jsonify(status(set_id))

        return guarded(work)

    @api.route("/api/v1/sets/<set_id>/resume", methods=["POST"])
    def resume_set(set_id: str):
        def work():
            service().sets.resume(set_id, caller())
            return flask.jsonify(status(set_id))

        return guarded(work)
