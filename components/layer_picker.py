"""Piece 6: the layer to explain, each shown with its resolution; default = the recommended layer."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html, no_update

from components.common import client_id, service
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
        facts = svc.model_facts(model, client_id())  # a brought model's: found when it was built
        layers, default = facts["layers"], facts["default_layer"]
    except Exception:  # noqa: BLE001 - a forged model name, or a model that cannot be built: said by its status
        return no_update, no_update
    options = [
        {"label": (f"{row['label']} (recommended)" if row["name"] == default else row["label"]), "value": row["name"]}
        for row in layers
    ]
    return options, default
