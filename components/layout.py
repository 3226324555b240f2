"""The whole page: controls on the left, the picture, predictions and method cards on the right."""

from __future__ import annotations

import uuid

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import (  # noqa: F401
    activations_view,
    class_search,
    display_controls,
    graph_fit,
    layer_picker,
    layer_views,
    method_cards,
    model_picker,
    page_state,
    picture,
    predictions,
    set_view,
    sweep_view,
    trust_panel,
    upload,
)


def build(svc, default_model: str | None = None, session: str | None = None) -> html.Div:
    """The page; ``session`` identifies this browser tab to the job queue (one running job per session)."""
    default_model = default_model or svc.default_model()
    return html.Div(
        [
            dcc.Store(id="image"),  # {"key": sha256, "name": ...}: never the picture's bytes
            dcc.Store(id="session", data=session or uuid.uuid4().hex),
            page_state.layout(),  # every control that decides a map, bundled (components/page_state.py)
            html.Header(
                [
                    html.H1("Saliency maps"),
                    html.P(
                        "Which parts of a picture made the network decide? Upload a photo, pick a model and a class, "
                        "and compare explanations side by side."
                    ),
                ],
                className="app-header",
            ),
            html.Div(model_picker.random_banner() if svc.default_weights == "random" else None, id="weights-banner"),
            html.Div(id="alerts", role="alert", **{"aria-live": "polite"}),
            trust_panel.layout(),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            upload.layout(default_model, svc.models()),
                            model_picker.layout(svc.models(), default_model, svc.default_weights, svc.random_allowed()),
                            class_search.layout(svc.labels(default_model)),
                            layer_picker.layout(),
                            method_cards.layout(svc.methods()),
                            display_controls.layout(),
                        ],
                        xl=3,
                        md=4,
                        className="controls",
                    ),
                    dbc.Col(
                        [
                            dbc.Row(
                                [dbc.Col(picture.layout(), md=6, xl=7), dbc.Col(predictions.layout(), md=6, xl=5)],
                                className="g-3",
                            ),
                            dbc.Row(id="cards", className="g-3 mt-1 cards"),
                            html.Div(
                                [
                                    html.A(
                                        "Download all maps as one PNG",
                                        id="download-grid",
                                        download="",
                                        className="download",
                                    ),
                                    html.Span(" · "),
                                    html.A(
                                        "parameters (JSON)", id="download-params", download="", className="download"
                                    ),
                                    html.Span(" · "),
                                    html.A(
                                        "Report for handing in (HTML: maps, method cards, scores)",
                                        id="download-report",
                                        download="",
                                        className="download",
                                    ),
                                ],
                                className="mt-3 downloads",
                            ),
                            layer_views.layout(activations_view.layout(), sweep_view.layout()),
                        ],
                        xl=9,
                        md=8,
                    ),
                ],
                className="g-3",
            ),
            set_view.layout(svc.models(), default_model),
            html.Footer(
                [
                    html.Span("Computing on: not started yet", id="footer-device"),
                    html.Span(
                        " · maps explain the class score before softmax · see the README for the methods' papers"
                    ),
                ],
                className="app-footer",
            ),
        ],
        className="app container-fluid",
    )
