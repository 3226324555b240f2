"""Piece 5: the class to explain, a searchable list of all 1000 ImageNet classes ("cat", "banana" and
"281" all work); default = the top-1 prediction."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html


def layout(labels: list[dict]) -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.H2("3 · Class to explain", className="step-title"),
        dcc.Dropdown(id="target", options=labels, value=None, placeholder="type to search: cat, banana, 281…",
                     searchable=True, clearable=True, optionHeight=32, maxHeight=320),
        html.Div("Empty = the model's top prediction.", className="hint"),
    ]), className="step")
