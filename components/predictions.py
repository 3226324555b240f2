"""Piece 4: the top-5 predictions as a bar chart, one per model; clicking a class (its name or its bar) makes
it the class that model explains. A class picked outside the top 5 is said under the bars with its
probability and rank."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html, no_update

from components import card_views
from components.common import client_id, error_alert, service
from components.figures import message_figure, predictions_figure
from components.registry import callback
from service import WeightsError, class_name, counterpart_class, describe_error, model_title

CLICK_HINT = "Click a class (its name or its bar) to explain it."


def layout() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("What the model thinks it sees", id="predictions-title", className="step-title"),
                dcc.Loading(
                    dcc.Graph(
                        id="predictions",
                        figure=message_figure("Predictions appear here.", 220),
                        config={"displayModeBar": False},
                    ),
                    type="dot",
                ),
                html.Div(CLICK_HINT, className="hint"),
                card_views.contrast_picker(),
                dcc.Store(id="compare-target"),  # a class picked on the second model's chart, else None
                html.Div(
                    [
                        html.H3(id="compare-predictions-title", className="step-title mt-3"),
                        dcc.Loading(
                            dcc.Graph(
                                id="compare-predictions",
                                figure=message_figure("Predictions appear here.", 220),
                                config={"displayModeBar": False},
                            ),
                            type="dot",
                        ),
                        html.Div(id="compare-predictions-hint", className="hint"),
                    ],
                    id="compare-predictions-box",
                    hidden=True,
                ),
            ]
        ),
        className="step",
    )


def _figure(svc, key: str, model: str, weights, predictions, target):
    """The top-5 chart with ``target`` highlighted, or said under the bars with its standing if it is not there."""
    picked = None
    if target is not None and target not in {row[0] for row in predictions}:
        found = svc.class_standing(key, model, target, weights)
        picked = (class_name(model, target), *(found or (None, None)))
    return predictions_figure(predictions, target, picked)


def _clicked(click) -> int | None:
    """The class a click on the chart (a bar or a class name) chose; None for anything else."""
    points = (click or {}).get("points") or [{}]
    chosen = points[0].get("customdata") if isinstance(points[0], dict) else None
    return chosen if isinstance(chosen, int) and not isinstance(chosen, bool) and 0 <= chosen < 1000 else None


@callback(
    Output("predictions", "figure"),
    Output("target", "value"),
    Output("alerts", "children", allow_duplicate=True),
    Output("footer-device", "children"),
    Input("image", "data"),
    Input("model", "value"),
    Input("weights", "value"),
    Input("predictions", "clickData"),
    Input("target", "value"),
    prevent_initial_call=True,
)
def update_predictions(image, model, weights, click, target):
    trigger = ctx.triggered_id
    if not image or not model:
        return message_figure("Predictions appear here.", 220), no_update, no_update, no_update
    svc = service()
    try:
        predictions = svc.predict(image["key"], model, weights)
    except Exception as error:  # noqa: BLE001 - plain words in an alert, never a traceback
        return message_figure("No predictions: see the message above.", 220), None, error_alert(error), no_update
    device = f"Computing on: {svc.device}"
    if trigger == "predictions":
        chosen = _clicked(click)
        if chosen is not None:
            return predictions_figure(predictions, chosen), chosen, no_update, device
        return no_update, no_update, no_update, device
    if trigger == "target":
        shown = target if isinstance(target, int) else predictions[0][0]
        try:
            return _figure(svc, image["key"], model, weights, predictions, shown), no_update, no_update, device
        except Exception:  # noqa: BLE001 - a forged class number: highlight nothing
            return predictions_figure(predictions, None), no_update, no_update, device
    return predictions_figure(predictions, predictions[0][0]), predictions[0][0], None, device


@callback(
    Output("predictions-title", "children"),
    Output("compare-predictions-title", "children"),
    Output("compare-predictions-hint", "children"),
    Output("compare-predictions-box", "hidden"),
    Input("model", "value"),
    Input("compare-model", "value"),
)
def titles(model, compare):
    """Each chart names its model once a second one is compared."""
    names = {m["name"]: m["title"] for m in service().models(client_id())}
    if compare not in names or compare == model:
        return "What the model thinks it sees", "", "", True
    return (
        f"What {names.get(model, 'the model')} thinks it sees",
        f"What {names[compare]} thinks it sees",
        f"{CLICK_HINT} {names[compare]}'s cards follow it.",
        False,
    )


@callback(
    Output("compare-predictions", "figure"),
    Output("compare-target", "data"),
    Input("image", "data"),
    Input("compare-model", "value"),
    Input("compare-weights", "value"),
    Input("model", "value"),
    Input("target", "value"),
    Input("compare-predictions", "clickData"),
    State("compare-target", "data"),
    prevent_initial_call=True,
)
def update_compare_predictions(image, compare, weights, model, target, click, picked):
    """The second model's top 5, its class highlighted: the first model's class where it knows it, else its
    own top class, or the class clicked on this chart (until the first model's class changes)."""
    empty = message_figure("Predictions appear here.", 220)
    if not image or not compare or compare == model:
        return empty, None
    svc = service()
    try:
        predictions = svc.predict(image["key"], compare, weights)
        if ctx.triggered_id == "compare-predictions":
            chosen = _clicked(click)
            if chosen is None:
                return no_update, no_update
            return _figure(svc, image["key"], compare, weights, predictions, chosen), chosen
        if ctx.triggered_id == "compare-weights" and isinstance(picked, int):
            return _figure(svc, image["key"], compare, weights, predictions, picked), no_update
        choice = counterpart_class(model, target, compare)
        shown = choice.target if choice.target is not None else predictions[0][0]
        return _figure(svc, image["key"], compare, weights, predictions, shown), None
    except WeightsError:  # the command that fixes it is in the Model panel, under the second model
        return message_figure(
            f"No predictions: {model_title(compare)}'s ImageNet weights are missing.<br>"
            "The Model panel says how to fix it (under “Compare with a second model”).",
            220,
        ), None
    except Exception as error:  # noqa: BLE001 - plain words, never a traceback
        return message_figure(f"No predictions from {model_title(compare)}:<br>{describe_error(error)[:80]}", 220), None
