"""Piece 6: the layer to explain, each shown with its resolution; default = the recommended layer."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html, no_update

from components.common import service
from components.registry import callback


def layout() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("4 · Layer", className="step-title"),
                dcc.Dropdown(id="layer", clearable=False, searchable=True, optionHeight=30, maxHeight=320),
                html.Div(
                    "Later layers: coarser maps of whole objects. Earlier layers: finer, more about edges.",
                    className="hint",
                ),
            ]
        ),
        className="step",
    )


@callback(Output("layer", "options"), Output("layer", "value"), Input("model", "value"))
def layer_options(model):
    if not model:
        return [], None
    svc = service()
    try:
        layers = svc.layers(model)
        default = next(m["default_layer"] for m in svc.models() if m["name"] == model)
    except Exception:  # noqa: BLE001 - a forged model name: leave the picker as it is
        return no_update, no_update
    options = [
        {"label": (f"{row['label']} (recommended)" if row["name"] == default else row["label"]), "value": row["name"]}
        for row in layers
    ]
    return options, default
