"""Your own model in the page: upload a ``.keras`` file with its labels, pick how it expects its pixels,
and explain it like the built-in models; what the page knows about it is said under the model picker.

The file goes to a plain Flask route (``POST /model-upload``), not through ``dcc.Upload``: a Dash upload
reads the whole file into the browser as base64 and sends it inside one callback's JSON (a 300 MB model
would be 400 MB of JSON held by the browser and the server, with no progress on the way). The route
refuses a body over the limit from its Content-Length before reading a byte, streams the file to disk
while hashing it, and answers JSON; ``assets/model_upload.js`` sends it with a progress bar (bytes sent,
then "loading the model") and tells the page the new model's name (``own-model-added``).
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

import flask
from dash import Input, Output, dcc, html, no_update

from components.common import SERVICE_KEY, client_id, service
from components.registry import callback
from service import ExplainerError, describe_error
from service.own_models import (
    LABELS_MAX_BYTES,
    PREPROCESSING_CHOICES,
    OwnModel,
    TooLarge,
    owner_of,
    parse_label_names,
    preprocessing_words,
    upload_allowed,
    upload_limit_bytes,
    upload_name,
)
from service.security import without_paths

UPLOAD_URL = "/model-upload"
FORM_ALLOWANCE = 64 * 1024  # the multipart form around the two files and the preprocessing field
OFF_MESSAGE = "Uploading models is turned off on this server. Ask the admin to add yours to the model folder."


def layout() -> html.Details:
    """The upload form's place: ``assets/model_upload.js`` builds the file pickers inside it."""
    if not upload_allowed():
        return html.Details(
            [html.Summary("Your own model"), html.Div(OFF_MESSAGE, className="hint")], className="own-model mt-2"
        )
    limit = upload_limit_bytes()
    try:
        words = preprocessing_words()
    except ImportError:  # the explainers' own-model support is missing: list the names alone
        words = {name: name for name in PREPROCESSING_CHOICES}
    return html.Details(
        [
            html.Summary("Your own model (.keras)"),
            html.Div(
                id="own-model-form",
                className="own-model-form",
                **{
                    "data-url": UPLOAD_URL,
                    "data-limit": str(limit),
                    "data-choices": json.dumps(
                        [[name, f"{name}: {SHORT_WORDS.get(name, name)}", text] for name, text in words.items()]
                    ),
                },
            ),
            html.Div(
                f"A Keras 3 file saved with model.save('name.keras'), up to {limit // 2**20} MB; labels: a .txt "
                "file (one class name a line) or .json, or none for class 0, 1, … Only you see it.",
                className="hint",
            ),
            dcc.Store(id="own-model-added"),  # set by assets/model_upload.js: {"name": ..., "at": ...}
        ],
        id="own-model",
        className="own-model mt-2",
    )


#: a few words per preprocessing for the list; its whole sentence (explainers' PREPROCESSING) is shown below it
SHORT_WORDS = {
    "unit": "pixels 0…1",
    "tf": "pixels −1…1",
    "caffe": "VGG/ResNet style (BGR, mean subtracted)",
    "torch": "PyTorch style (ImageNet mean and std)",
    "none": "pixels 0–255 as they are",
}


def _answer(body: dict[str, Any], status: int) -> flask.Response:
    if "error" in body:
        body["error"] = without_paths(body["error"])
    response = flask.jsonify(body)
    response.status_code = status
    return response


def upload_body_limit() -> int:
    """The largest request body ``POST /model-upload`` reads: the model file, a labels file and the form
    (the reverse proxy's limit for that address, deploy/nginx_conf.py, is the same)."""
    return upload_limit_bytes() + LABELS_MAX_BYTES + FORM_ALLOWANCE


def receive_model() -> flask.Response:
    """``POST /model-upload`` (multipart: ``model``, optional ``labels``, ``preprocessing``): keep the file
    once by its hash, build the model once to check it, and note it as this browser session's own."""
    if not upload_allowed():
        return _answer({"error": OFF_MESSAGE}, 403)
    limit = upload_limit_bytes()
    allowance = upload_body_limit()
    too_large = TooLarge(limit)
    if flask.request.content_length is not None and flask.request.content_length > allowance:
        return _answer({"error": str(too_large)}, 413)  # refused before a byte of the body is read
    flask.request.max_content_length = allowance  # a body without Content-Length is cut off here too
    svc = flask.current_app.extensions[SERVICE_KEY]
    created = None
    try:
        upload = flask.request.files.get("model")
        if upload is None or not upload.filename:
            return _answer({"error": "Choose a .keras model file to upload."}, 400)
        preprocessing = flask.request.form.get("preprocessing", "unit")
        if preprocessing not in PREPROCESSING_CHOICES:
            return _answer(
                {"error": f"Pick how the model expects its pixels: one of {', '.join(PREPROCESSING_CHOICES)}."}, 400
            )
        labels = None
        labels_file = flask.request.files.get("labels")
        if labels_file is not None and labels_file.filename:
            labels = parse_label_names(labels_file.stream.read(LABELS_MAX_BYTES + 1), labels_file.filename)
        before = svc.catalogue.files.count()
        digest = svc.catalogue.files.keep(upload.stream, limit)
        created = digest if svc.catalogue.files.count() > before else None
        client = client_id()
        owner = owner_of(client)
        title = PurePath(upload.filename.replace("\\", "/")).stem[:60] or "my model"
        entry = OwnModel(
            upload_name(digest, labels, preprocessing, owner),
            title,
            "upload",
            digest=digest,
            labels=labels,
            preprocessing=preprocessing,
            owner=owner,
            file_name=PurePath(upload.filename.replace("\\", "/")).name[:100],
        )
        facts = svc.add_uploaded_model(entry, client)
    except TooLarge as error:
        return _answer({"error": str(error)}, 413)
    except ExplainerError as error:
        _forget(svc, created)
        return _answer({"error": str(error)}, 400)
    except Exception as error:  # noqa: BLE001 - a broken upload (a cut connection, a body over the limit)
        _forget(svc, created)
        status = getattr(error, "code", None)
        if status == 413:
            return _answer({"error": str(too_large)}, 413)
        return _answer({"error": describe_error(error)}, 400 if isinstance(status, int) else 500)
    return _answer(
        {
            "model": entry.name,
            "title": entry.title,
            "explaining": facts.get("explaining"),
            "cam": facts.get("cam"),
            "layers": len(facts.get("layers", [])),
            "classes": len(facts.get("labels", [])),
        },
        200,
    )


def _forget(svc, digest: str | None) -> None:
    """Remove a file this upload stored and that turned out unusable (nobody else had uploaded it)."""
    if digest:
        try:
            svc.catalogue.files.path(digest).unlink()
        except (ExplainerError, OSError):
            pass


def register(server: flask.Flask) -> None:
    server.add_url_rule(UPLOAD_URL, "model_upload", receive_model, methods=["POST"])


@callback(
    Output("model", "value", allow_duplicate=True),
    Output("model", "options", allow_duplicate=True),
    Output("compare-model", "options", allow_duplicate=True),
    Input("own-model-added", "data"),
    prevent_initial_call=True,
)
def pick_uploaded(added):
    """The model just uploaded, listed (for this session only) and picked."""
    if not isinstance(added, dict) or not isinstance(added.get("name"), str):
        return no_update, no_update, no_update
    svc = service()
    models = svc.models(client_id())
    if added["name"] not in {m["name"] for m in models}:
        return no_update, no_update, no_update
    return added["name"], model_options(models), model_options(models, plain=True)


OWN_FAMILIES = ("folder", "upload", "notebook")  # where a brought model comes from (service.catalogue)
HIDDEN = {"display": "none"}


def model_options(models: list[dict], statuses: dict | None = None, plain: bool = False) -> list[dict]:
    """Dropdown options: a built-in model with its weights status, a brought one with where it comes from
    (a broken folder model shown, not pickable, with its problem)."""
    options = []
    for m in models:
        if m["family"] in OWN_FAMILIES:
            where = {"folder": "model folder", "upload": "your upload", "notebook": "your notebook"}[m["family"]]
            if m.get("problem"):
                options.append({"label": f"{m['title']} · cannot be used", "value": m["name"], "disabled": True})
            else:
                options.append({"label": m["title"] if plain else f"{m['title']} · {where}", "value": m["name"]})
        elif plain or statuses is None:
            options.append({"label": m["title"], "value": m["name"]})
        else:
            options.append({"label": f"{m['title']} · {statuses[m['name']]}", "value": m["name"]})
    return options


def describe(svc, model: str) -> html.Div | None:
    """A brought model's facts in words (what is explained, its input, CAM), or its problem; None for a
    built-in model."""
    row = next((m for m in svc.models(client_id()) if m["name"] == model), None)
    if row is None or row["family"] not in OWN_FAMILIES:
        return None
    if row.get("problem"):
        return html.Div(f"{row['title']} cannot be used: {row['problem']}", className="own-model-problem")
    try:
        facts = svc.model_facts(model, client_id())
    except Exception as error:  # noqa: BLE001 - said in words; the server goes on
        return html.Div(f"{row['title']} cannot be used: {describe_error(error)}", className="own-model-problem")
    explaining = facts.get("explaining") or "the logits (the scores before softmax)"
    parts = [
        html.Span(f"{row['title']}: explaining {explaining}. "),
        html.Span(
            f"Input {facts['input_width']} × {facts['input_height']}"
            f"{', grey' if facts.get('channels') == 1 else ''}; {len(facts.get('layers', []))} layers to pick, "
            f"{facts['default_layer']} recommended. "
        ),
        html.Span("CAM applies." if not facts.get("cam") else f"CAM does not apply: {facts['cam']}"),
    ]
    if row.get("blurb") and row["family"] == "folder":
        parts.insert(0, html.Div(row["blurb"], className="hint"))
    return html.Div(parts, className="own-model-facts")


@callback(
    Output("weights", "style"),
    Output("compare-weights", "style"),
    Input("model", "value"),
    Input("compare-model", "value"),
)
def hide_weights_choice(model, compare):
    """A brought model runs on its own weights: the trained / random choice is hidden while one is picked."""
    own = {m["name"] for m in service().models(client_id()) if m["family"] in OWN_FAMILIES}
    return [HIDDEN if name in own else {} for name in (model, compare)]


@callback(
    Output("compare-model", "options", allow_duplicate=True),
    Input("model", "options"),
    prevent_initial_call=True,
)
def compare_options(_options):
    """The second model's list follows the first's: this session's uploads included."""
    return model_options(service().models(client_id()), plain=True)
