"""Piece 2: the uploaded picture beside the exact input the model sees (resized to 224 or 299), and, for
a model that knows which pictures it was trained on (the Shapes demo), a warning when this one is not
of their kind: its prediction is then meaningless, however confident."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, html, no_update

from components.common import client_id, service
from components.registry import callback


def layout() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                html.Img(id="original-image", className="picture", alt="your picture"),
                                html.Div(id="original-caption", className="hint"),
                            ],
                            width=6,
                        ),
                        dbc.Col(
                            [
                                html.Img(id="input-image", className="picture model-input", alt="what the model sees"),
                                html.Div(id="input-caption", className="hint"),
                            ],
                            width=6,
                        ),
                    ],
                    className="g-2",
                ),
                html.Div(id="familiarity-note", role="status"),
            ]
        ),
        className="step",
        id="picture-card",
    )


@callback(
    Output("original-image", "src"),
    Output("original-caption", "children"),
    Output("input-image", "src"),
    Output("input-caption", "children"),
    Input("image", "data"),
    Input("model", "value"),
)
def show_pictures(image, model):
    if not image or not model:
        return None, "No picture yet: upload one or click an example.", None, ""
    svc = service()
    try:
        height, width = svc.image(image["key"]).shape[:2]
    except Exception:  # noqa: BLE001 - the picture is gone or its key is forged
        return no_update, "This picture is no longer on the server; please upload it again.", None, ""
    try:
        info = svc.model_facts(model, client_id())
    except Exception:  # noqa: BLE001 - a forged model name, or one that cannot be built: said by its status
        return f"/image/{image['key']}/display.jpg", f"Your picture ({width} × {height})", None, ""
    size_h, size_w = info["input_height"], info["input_width"]
    shape = "squashed to a square" if size_h == size_w else "squashed to its shape"
    return (
        f"/image/{image['key']}/display.jpg",
        f"Your picture ({width} × {height})",
        f"/image/{image['key']}/input/{model}.png",
        f"What {info['title']} sees ({size_w} × {size_h}, {shape})",
    )


@callback(
    Output("familiarity-note", "children"),
    Input("image", "data"),
    Input("model", "value"),
    Input("weights", "value"),
)
def familiarity_note(image, model, weights):
    """What the model knows, said whenever the picture is not of its kind (no claim for other models)."""
    if not image or not model:
        return None
    try:
        found = service().familiarity(image["key"], model, weights)
    except Exception:  # noqa: BLE001 - the note is optional: the picture and predictions say what went wrong
        return None
    if not found:
        return None
    if found["familiar"]:
        return html.Div("This picture looks like the pictures this model was trained on.", className="hint")
    classes = found["classes"]
    return dbc.Alert(
        [
            html.Strong(
                f"This demo model only knows {len(classes)} shapes ({', '.join(classes)}); "
                "a photo of anything else gets a meaningless answer. "
            ),
            f"This picture looks unlike its training pictures (distance {found['distance']:.1f}, while "
            f"{1 - (found['false_alarm_rate'] or 0):.0%} of its own kind stay under {found['threshold']:.1f}), so its "
            "prediction and the maps say nothing about this picture, however confident they look.",
        ],
        color="warning",
        className="familiarity-warning mt-2 mb-0",
    )
