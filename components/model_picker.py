"""Piece 3: the model (VGG16 / ResNet50 / InceptionV3, or the offline Shapes demo), its weights and their
status in words, and an optional second model to compare the same methods across models."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from components import own_model
from components.common import client_id, service
from components.registry import callback

STATUS_WORDS = {"ready": "ready", "download": "downloads on first use", "missing": "weights missing"}
SHAPES_TEXT = (
    "The Shapes demo: a small network trained here to tell {classes} apart. Its weights ship with the "
    "app, so it works offline, and every demo picture comes with the object's true outline, so each "
    "map can be scored (open a card's “Can I trust this map?”)."
)


def plural(noun: str) -> str:
    """An English plural of a class name ("cross" -> "crosses", "circle" -> "circles")."""
    return noun + "es" if noun.endswith(("s", "x", "z", "ch", "sh")) else noun + "s"


def weights_options(allow_random: bool = True) -> list[dict]:
    """Trained or random weights; random shown but not choosable where the admin turned it off."""
    random = (
        {"label": "random weights (testing only)", "value": "random"}
        if allow_random
        else {"label": "random weights (turned off on this server)", "value": "random", "disabled": True}
    )
    return [{"label": "trained weights (real)", "value": "imagenet"}, random]


def layout(models: list[dict], default_model: str, default_weights: str, allow_random: bool = True) -> dbc.Card:
    options = own_model.model_options(models, plain=True)
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("2 · Model", className="step-title"),
                dcc.Dropdown(id="model", options=options, value=default_model, clearable=False, searchable=False),
                dbc.RadioItems(
                    id="weights",
                    value=default_weights,
                    inline=True,
                    className="mt-2",
                    options=weights_options(allow_random),
                ),
                html.Div(id="model-status", className="status mt-1"),
                own_model.layout(),
                html.Label("Compare with a second model", htmlFor="compare-model", className="hint mt-2"),
                dcc.Dropdown(
                    id="compare-model", options=options, value=None, placeholder="no second model", searchable=False
                ),
                html.Div(
                    [
                        dbc.RadioItems(
                            id="compare-weights",
                            value=default_weights,
                            inline=True,
                            className="mt-2",
                            options=weights_options(allow_random),
                        ),
                        html.Div(id="compare-status", className="status mt-1"),
                    ],
                    id="compare-settings",
                    hidden=True,
                ),
            ]
        ),
        className="step",
    )


def random_banner() -> html.Div:
    return html.Div("Random weights — maps are meaningless, for testing only.", className="banner", role="status")


@callback(
    Output("model-status", "children"),
    Output("model", "options"),
    Output("weights-banner", "children"),
    Input("model", "value"),
    Input("weights", "value"),
)
def show_status(model, weights):
    svc = service()
    models = svc.models(client_id())
    own = own_model.describe(svc, model)  # a brought model: its facts in words, whatever the weights choice
    if weights == "random":
        options = own_model.model_options(models, {m["name"]: "random weights" for m in models})
        banner = None if own else random_banner()  # a brought model always runs on its own weights
        text = own or html.Span("Seeded random weights: the predictions and maps say nothing about real pictures.")
        return text, options, banner
    statuses = svc.weights_status()
    options = own_model.model_options(models, {name: STATUS_WORDS[state.state] for name, state in statuses.items()})
    return own or _status_text(svc, model, statuses), options, None


@callback(
    Output("compare-status", "children"),
    Output("compare-settings", "hidden"),
    Input("compare-model", "value"),
    Input("compare-weights", "value"),
    Input("model", "value"),
)
def show_compare_status(compare, weights, model):
    """The second model's own weights choice and their status, shown while a second model is picked."""
    svc = service()
    titles = {m["name"]: m["title"] for m in svc.models(client_id())}
    if compare not in titles or compare == model:
        return "", True
    own = own_model.describe(svc, compare)
    if own is not None:
        return own, False
    if weights == "random":
        return html.Span(f"{titles[compare]}: seeded random weights, its maps are meaningless."), False
    return html.Div([html.Strong(f"{titles[compare]}: "), _status_text(svc, compare, svc.weights_status())]), False


def _status_text(svc, model, statuses):
    """A model's trained weights in words: ready, downloading on first use, or missing (and how to fix it)."""
    models = svc.models()
    state = statuses.get(model)
    if state is None:
        return ""
    if model == "shapes" and state.state == "ready":
        classes = svc.labels("shapes")
        names = [plural(option["label"].split(" · ", 1)[-1]) for option in classes]
        return html.Span(SHAPES_TEXT.format(classes=f"{', '.join(names[:-1])} and {names[-1]}"))
    if model == "shapes":  # its weights ship with the app; missing means the file was deleted
        return html.Span(state.message)
    if state.state == "missing":
        command = f"python -m explainers fetch-weights --model {model}"
        text = html.Div(
            [
                html.Span("The ImageNet weights are not on this computer and it is offline. Fix: run "),
                html.Code(command),
                html.Span(
                    " on a computer with internet (see the README), or switch to random weights to try the page."
                ),
            ]
        )
    elif state.state == "download":
        size = next(m for m in models if m["name"] == model)
        text = html.Span(f"{size['title']}: {state.message}; the first map takes longer.")
    else:
        text = html.Span("ImageNet weights ready.")
    return text
