"""A set's files in the page: one ``.zip`` or many pictures, sent to a plain Flask route (``POST
/set-upload``) with a progress bar, not through ``dcc.Upload`` (a Dash upload travels as base64 inside
one callback's JSON and is capped by the page's request limit, far below a set's 200 MB).

The route refuses a body over the set's limit (``EXPLAINER_SET_MAX_MB`` and its form) from its
Content-Length before reading a byte, and cuts off one without it at the same size; the multipart
parser keeps large files on disk while reading. Then the set starts as any other (``service.sets``)
and the route answers JSON with its id, which ``assets/set_upload.js`` hands to the page
(``set-uploaded``); a set that cannot start is a plain message, never a 500.
"""

from __future__ import annotations

import flask
from dash import html

from components.common import SERVICE_KEY, client_id
from service import ExplainerError, describe_error
from service.security import without_paths
from service.sets import SetRuns

UPLOAD_URL = "/set-upload"
PART_ALLOWANCE = 1024  # the multipart headers around each file
FORM_ALLOWANCE = 64 * 1024  # the model field and the form's own boundaries


def body_limit() -> int:
    """The largest request body ``POST /set-upload`` reads: the set's bytes, each file's part, the form."""
    return SetRuns.max_bytes() + PART_ALLOWANCE * SetRuns.max_files() + FORM_ALLOWANCE


def too_large_message() -> str:
    megabytes = SetRuns.max_bytes() >> 20
    return f"This set is too large: a set can be at most {megabytes} MB here. Please send fewer or smaller pictures."


def _answer(body: dict, status: int) -> flask.Response:
    if "error" in body:
        body["error"] = without_paths(body["error"])
    response = flask.jsonify(body)
    response.status_code = status
    return response


def receive_set() -> flask.Response:
    """``POST /set-upload`` (multipart: ``files``, repeatable: one .zip or pictures; ``model``): start the
    set for this browser session and answer ``{"id": ..., "model": ...}``."""
    allowance = body_limit()
    if flask.request.content_length is not None and flask.request.content_length > allowance:
        return _answer({"error": too_large_message()}, 413)  # refused before a byte of the body is read
    flask.request.max_content_length = allowance  # a body without Content-Length is cut off here too
    svc = flask.current_app.extensions[SERVICE_KEY]
    try:
        uploads = [f for f in flask.request.files.getlist("files") if f.filename]
        if not uploads:
            return _answer({"error": "Choose one .zip or some pictures first."}, 400)
        limit = svc.sets.max_bytes()
        files = [(upload.filename, upload.stream.read(limit + 1)) for upload in uploads]
        model = flask.request.form.get("model") or "shapes"
        set_id = svc.sets.start(files, model, client=client_id())
    except ExplainerError as error:
        return _answer({"error": str(error)}, 400)
    except Exception as error:  # noqa: BLE001 - a cut connection, a body over the limit, a broken form
        status = getattr(error, "code", None)
        if status == 413:
            return _answer({"error": too_large_message()}, 413)
        return _answer({"error": describe_error(error)}, 400 if isinstance(status, int) else 500)
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
