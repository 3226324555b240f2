"""Piece 5: the class to explain, a searchable list of the model's classes (all 1000 ImageNet classes:
"cat", "banana" and "281" all work; the Shapes demo's seven); default = the top-1 prediction."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update

from components.common import service
from components.registry import callback


def layout(labels: list[dict]) -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.H2("3 · Class to explain", className="step-title"),
        dcc.Dropdown(id="target", options=labels, value=None, placeholder="type to search: cat, banana, 281…",
                     searchable=True, clearable=True, optionHeight=32, maxHeight=320),
        html.Div("Empty = the model's top prediction.", className="hint"),
    ]), className="step")


@callback(
    Output("target", "options"),
    Output("target", "value", allow_duplicate=True),
    Input("model", "value"),
    State("target", "options"),
    prevent_initial_call=True,
)
def follow_model(model, old_options):
    """Another model may have other classes: list its own and go back to its top prediction (a class
    picked among the same 1000 ImageNet classes stays picked)."""
    try:
        options = service().labels(model)
    except Exception:  # noqa: BLE001 - an unknown model name from the browser: keep the list as it is
        return no_update, no_update
    if isinstance(old_options, list) and len(old_options) == len(options):
        return no_update, no_update
    return options, None
