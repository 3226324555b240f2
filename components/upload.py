"""Piece 1: the picture. Drag-and-drop or click to upload, or one click on an example photo.

The upload's bytes go to the server once; the page keeps only the picture's key (its content hash),
and the Upload component's contents are cleared right after, so the browser does not hold the bytes.
"""

from __future__ import annotations

from pathlib import Path

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from components.common import alert, error_alert, service
from components.registry import callback
from service.store import MAX_UPLOAD_BYTES, parse_data_url

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "examples"
PHOTOS = {"chelsea": "Cat", "coffee": "Coffee", "astronaut": "Astronaut", "rocket": "Rocket"}
# the Shapes demo's own pictures (scripts/make_shapes_gallery.py), each with its object's true outline
SHAPES = {
    f"shapes/{path.stem}": path.stem.capitalize()
    for path in sorted((EXAMPLES_DIR / "shapes").glob("*.png"))
    if not path.stem.endswith(".mask")
}
EXAMPLES = {**PHOTOS, **SHAPES}


def _file(name: str) -> str:
    return f"{name}.png" if name.startswith("shapes/") else f"{name}.jpg"


def _gallery(examples: dict[str, str], family: str, visible: bool) -> html.Div:
    return html.Div(
        [
            html.Button(
                [html.Img(src=f"/assets/examples/{_file(name)}", alt=title), html.Span(title)],
                id={"type": "example", "name": name},
                className="example",
                n_clicks=0,
                title=title,
            )
            for name, title in examples.items()
        ],
        id={"type": "gallery", "family": family},
        className="examples",
        hidden=not visible,
    )


def gallery_family(models: list[dict], model: str | None) -> str:
    """Which gallery goes with ``model``: the Shapes pictures for every model of the Shapes family (its
    record's ``family``: the honest demo and the Clever Hans one alike), photos for any other."""
    family = next((row.get("family") for row in models if row.get("name") == model), None)
    return "shapes" if family == "shapes" else "photos"


def layout(model: str = "vgg16", models: list[dict] | None = None) -> dbc.Card:
    megabytes = MAX_UPLOAD_BYTES // (1024 * 1024)
    shapes = gallery_family(models or [], model) == "shapes"
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("1 · Picture", className="step-title"),
                dcc.Upload(
                    id="upload",
                    multiple=False,
                    accept="image/*",
                    max_size=MAX_UPLOAD_BYTES,
                    className="upload-zone",
                    className_active="upload-zone active",
                    className_reject="upload-zone reject",
                    children=html.Div(
                        [
                            html.Strong("Drop a photo here"),
                            html.Span(" or click to choose one"),
                            html.Div(f"JPEG, PNG, WebP or GIF, up to {megabytes} MB", className="hint"),
                        ]
                    ),
                ),
                dcc.Store(id="upload-rejected"),  # set from assets/upload_guard.js when a file is too large
                html.Div("…or try an example:", className="hint mt-2"),
                _gallery(PHOTOS, "photos", not shapes),
                _gallery(SHAPES, "shapes", shapes),
                html.Div(id="upload-name", className="hint mt-1"),
            ]
        ),
        className="step",
    )


@callback(
    Output("image", "data"),
    Output("upload", "contents"),
    Output("upload-name", "children"),
    Output("alerts", "children", allow_duplicate=True),
    Input("upload", "contents"),
    State("upload", "filename"),
    State("image", "data"),
    prevent_initial_call=True,
)
def on_upload(contents, filename, current=None):
    """Every choice of a file is taken, the same file too (assets/upload_guard.js lets the browser
    report it again); the status line says when it is the picture already shown."""
    if contents is None:
        return no_update, no_update, no_update, no_update
    name = filename if isinstance(filename, str) else "picture"
    try:
        key = service().add_image(parse_data_url(contents))
    except Exception as error:  # noqa: BLE001 - shown in plain words, the server stays up
        return no_update, None, "", error_alert(error, f"“{name[:80]}” was not used")
    again = isinstance(current, dict) and current.get("key") == key
    status = f"Showing: {name[:80]}" + (" (the same picture, chosen again)" if again else "")
    return {"key": key, "name": name[:120]}, None, status, None


@callback(
    Output("image", "data", allow_duplicate=True),
    Output("upload-name", "children", allow_duplicate=True),
    Output("alerts", "children", allow_duplicate=True),
    Input({"type": "example", "name": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def on_example(clicks):
    if not ctx.triggered_id or not any(clicks):
        return no_update, no_update, no_update
    name = ctx.triggered_id["name"]
    if name not in EXAMPLES:  # the browser can send anything
        return no_update, no_update, alert("That example does not exist.")
    try:
        key = service().add_image((EXAMPLES_DIR / _file(name)).read_bytes())
    except Exception as error:  # noqa: BLE001
        return no_update, no_update, error_alert(error)
    return {"key": key, "name": f"example: {EXAMPLES[name].lower()}"}, f"Showing the example “{EXAMPLES[name]}”", None


@callback(
    Output("alerts", "children", allow_duplicate=True),
    Input("upload-rejected", "data"),
    prevent_initial_call=True,
)
def on_rejected(rejected):
    if not rejected:
        return no_update
    megabytes = MAX_UPLOAD_BYTES // (1024 * 1024)
    size = rejected.get("size") if isinstance(rejected, dict) else None
    actual = f" (this one is {size / (1024 * 1024):.1f} MB)" if isinstance(size, (int, float)) else ""
    return alert(
        f"This file is too large{actual}. Pictures can be at most {megabytes} MB; please choose a smaller one.",
        "warning",
        "Upload refused",
    )


@callback(
    Output({"type": "gallery", "family": ALL}, "hidden"),
    Input("model", "value"),
    State({"type": "gallery", "family": ALL}, "id"),
)
def show_gallery(model, ids):
    """The Shapes models show their own pictures (with known outlines); the ImageNet models show photos."""
    family = gallery_family(service().models(), model)
    return [item["family"] != family for item in ids]
