"""Piece 4: the top-5 predictions as a bar chart; clicking a bar makes that class the target."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, ctx, dcc, html, no_update

from components.common import error_alert, service
from components.figures import message_figure, predictions_figure
from components.registry import callback


def layout() -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.H2("What the model thinks it sees", className="step-title"),
        dcc.Loading(dcc.Graph(id="predictions", figure=message_figure("Predictions appear here.", 220),
                              config={"displayModeBar": False}), type="dot"),
        html.Div("Click a bar to explain that class.", className="hint"),
    ]), className="step")


@callback(
    Output("predictions", "figure"),
    Output("target", "value"),
    Output("alerts", "children", allow_duplicate=True),
    Output("footer-device", "children"),
    Input("image", "data"), Input("model", "value"), Input("weights", "value"),
    Input("predictions", "clickData"), Input("target", "value"),
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
        point = (click or {}).get("points", [{}])[0]
        chosen = point.get("customdata")
        if isinstance(chosen, int) and 0 <= chosen < 1000:
            return predictions_figure(predictions, chosen), chosen, no_update, device
        return no_update, no_update, no_update, device
    if trigger == "target":
        shown = target if target is not None else predictions[0][0]
        return predictions_figure(predictions, shown), no_update, no_update, device
    return predictions_figure(predictions, predictions[0][0]), predictions[0][0], None, device
