"""Piece 7: how maps are drawn (colour map, signed or absolute, clipping, shared scale, opacity).
Changing these never recomputes a map: the server redraws from its cache, and opacity changes
happen in the browser alone."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html


def layout() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("Display", className="step-title"),
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                html.Label("Colours", htmlFor="colormap", className="hint"),
                                dcc.Dropdown(
                                    id="colormap",
                                    value="viridis",
                                    clearable=False,
                                    searchable=False,
                                    options=[
                                        {"label": "viridis (colour-blind safe)", "value": "viridis"},
                                        {"label": "inferno", "value": "inferno"},
                                        {"label": "jet", "value": "jet"},
                                        {"label": "gray", "value": "gray"},
                                    ],
                                ),
                            ],
                            width=12,
                        ),
                        dbc.Col(
                            [
                                html.Label("Clip at", htmlFor="percentile", className="hint"),
                                dcc.Dropdown(
                                    id="percentile",
                                    value=99,
                                    clearable=False,
                                    searchable=False,
                                    options=[
                                        {"label": "99th percentile", "value": 99},
                                        {"label": "95th percentile", "value": 95},
                                        {"label": "99.9th percentile", "value": 99.9},
                                        {"label": "no clipping", "value": 100},
                                    ],
                                ),
                            ],
                            width=12,
                        ),
                    ],
                    className="g-2",
                ),
                dbc.RadioItems(
                    id="mode",
                    value="absolute",
                    inline=True,
                    className="mt-2",
                    options=[
                        {"label": "absolute", "value": "absolute"},
                        {"label": "signed (for / against)", "value": "signed"},
                    ],
                ),
                dbc.RadioItems(
                    id="scale",
                    value="own",
                    inline=True,
                    options=[
                        {"label": "each map its own scale", "value": "own"},
                        {"label": "shared scale across models", "value": "shared"},
                    ],
                ),
                html.Label("Opacity of all maps", htmlFor="opacity-all", className="hint mt-2"),
                dcc.Slider(
                    id="opacity-all",
                    min=0,
                    max=1,
                    step=0.05,
                    value=0.5,
                    marks={0: "0", 0.5: "0.5", 1: "1"},
                    tooltip={"placement": "bottom"},
                ),
                dcc.Store(id="opacity-own", data={}),  # {card: opacity} of cards whose own slider differs from this one
            ]
        ),
        className="step",
    )
