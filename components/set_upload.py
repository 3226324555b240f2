"""A set's files in the page: one ``.zip`` or many pictures, sent to a plain Flask route (``POST
/set-upload``) with a progress bar, not through ``dcc.Upload`` (a Dash upload travels as base64 inside
one callback's JSON and is capped by the page's request limit, far below a set's 200 MB).

The body is read as the API's sets are (``service.set_uploads``): refused over the set's limit
(``EXPLAINER_SET_MAX_MB`` and its form) from its Content-Length before a byte is read, cut off at the
same size without one, large files kept on disk. Then the set starts as any other (``service.sets``)
and the route answers JSON with its id, which ``assets/set_upload.js`` hands to the page
(``set-uploaded``); a set that cannot start is a plain message, never a 500.
"""

from __future__ import annotations

import flask
from dash import html

from components.common import SERVICE_KEY, client_id
from service import ExplainerError, describe_error
from service.security import without_paths
from service.set_uploads import SetTooLarge, body_limit, set_contents, set_uploads

UPLOAD_URL = "/set-upload"


def _answer(body: dict, status: int) -> flask.Response:
    if "error" in body:
        body["error"] = without_paths(body["error"])
    response = flask.jsonify(body)
    response.status_code = status
    return response


def receive_set() -> flask.Response:
    """``POST /set-upload`` (multipart: ``files``, repeatable: one .zip or pictures; ``model``): start the
    set for this browser session and answer ``{"id": ..., "model": ...}``."""
    svc = flask.current_app.extensions[SERVICE_KEY]
    try:
        uploads = [(f.filename, f) for f in set_uploads(flask.request, ["files"])["files"] if f.filename]
        if not uploads:
            return _answer({"error": "Choose one .zip or some pictures first."}, 400)
        model = flask.request.form.get("model") or "shapes"
        set_id = svc.sets.start(set_contents(uploads), model, client=client_id())
    except SetTooLarge as error:
        return _answer({"error": str(error)}, 413)
    except ExplainerError as error:
        return _answer({"error": str(error)}, 400)
    except Exception as error:  # noqa: BLE001 - a broken form or a store that cannot be written: words, not a trace
        return _answer({"error": describe_error(error)}, 500)
    return _answer({"id": set_id, "model": svc.sets.record(set_id, client_id())["model"]}, 200)


def drop_zone(model: str) -> html.Div:
    """The place ``assets/set_upload.js`` fills: a drop area with a file picker, a progress bar, a message.
    ``set-upload-model`` holds the set's model for the script (a callback keeps it up to date)."""
    return html.Div(
        [html.Span(model, id="set-upload-model", hidden=True)],
        id="set-upload",
        className="upload-zone",
        **{"data-url": UPLOAD_URL, "data-limit": str(body_limit())},
    )


def register(server: flask.Flask) -> None:
    server.add_url_rule(UPLOAD_URL, "set_upload", receive_set, methods=["POST"])
