"""Piece 5: the class to explain, a searchable list of the model's classes (all 1000 ImageNet classes:
"cat", "banana" and "281" all work; the Shapes demo's seven); default = the top-1 prediction."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update

from components.common import service
from components.registry import callback

# words that find a class among the 1000 ImageNet classes; a model without them is shown its own class names
FAMILIAR_WORDS = ("cat", "banana")


def search_hint(labels: list[dict]) -> str:
    """The search box's placeholder, with examples that this model really has (its own class names)."""
    if not labels:
        return "type to search"
    names = [str(option["label"]).split(" · ", 1)[-1] for option in labels]
    examples = [word for word in FAMILIAR_WORDS if any(word in name.lower() for name in names)]
    if len(examples) < len(FAMILIAR_WORDS):
        examples = list(dict.fromkeys([names[0], names[-1]]))
    return f"type to search: {', '.join(examples)}, {labels[len(labels) // 2]['value']}…"


def layout(labels: list[dict]) -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("3 · Class to explain", className="step-title"),
                dcc.Dropdown(
                    id="target",
                    options=labels,
                    value=None,
                    placeholder=search_hint(labels),
                    searchable=True,
                    clearable=True,
                    optionHeight=32,
                    maxHeight=320,
                ),
                html.Div("Empty = the model's top prediction.", className="hint"),
            ]
        ),
        className="step",
    )


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


@callback(
    Output("target", "placeholder"),
    Input("model", "value"),
    prevent_initial_call=True,
)
def follow_model_hint(model):
    """The search hint names classes of the model now picked."""
    try:
        return search_hint(service().labels(model))
    except Exception:  # noqa: BLE001 - an unknown model name from the browser: keep the hint as it is
        return no_update
