"""The activations view: a grid of the picked layer's channels over the picture, ranked by what they
add to the class (Grad-CAM weight × mean activation), the most active first, or all of them in pages;
click a channel to open it large over the picture, with its own opacity slider."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from components import layer_views
from components.common import service
from components.figures import overlay_figure
from components.page_state import Page
from components.registry import callback, clientside_callback
from service import MapResult, describe_error
from service.views import channel_caption, request_activations, thumbnail

TOP = 16
ORDER_WORDS = {"contribution": "adds most to the class", "activation": "most active", "index": "all channels"}


def layout() -> html.Div:
    pager = html.Div(
        [
            dbc.Button("‹ previous", id="act-prev", size="sm", color="secondary", outline=True),
            html.Span("page 1 of 1", id="act-page-text", className="mx-2 nowrap"),
            dbc.Button("next ›", id="act-next", size="sm", color="secondary", outline=True),
        ],
        className="view-pager",
    )
    return html.Div(
        [
            layer_views.panel("activations", "act-order", ORDER_WORDS, [pager], "act-grids"),
            dcc.Store(id="act-page", data=0),
            dcc.Store(id="act-pages", data=1),
            html.Div(id="act-large", className="view-large"),
        ]
    )


def _result(page: Page, slot: str, order: str, number: int) -> dict:
    order = order if order in ORDER_WORDS else "contribution"
    return layer_views.result(
        request_activations, page, slot, layer=page.layer_for(slot), order=order, top=TOP, page=number or 0
    )


def _grid(page: Page, slot: str, found: dict, colormap: str) -> html.Div:
    picture = service().model_input(page.image_key, page.model_for(slot))
    tiles = [
        layer_views.tile(
            {"type": "act-tile", "slot": slot, "index": i},
            thumbnail(picture, found["maps"][i].clip(min=0), colormap),
            channel_caption(int(c), float(m), float(w)).split(" · "),
        )
        for i, (c, m, w) in enumerate(zip(found["channels"], found["means"], found["weights"], strict=True))
    ]
    words = f"{found['layer']} ({found['count']} channels) · for {found['label']} (class {found['target']})" + (
        " · random weights: meaningless" if found.get("random_weights") else ""
    )
    href = layer_views.download_href(
        "activations", page, slot, layer=found["layer"], order=found["order"], page=found["page"]
    )
    return html.Div(
        [
            layer_views.heading(page, slot, words),
            html.Div(tiles, className="view-grid"),
            html.A("Download this grid (PNG)", href=href, download="", className="download", id=f"act-download-{slot}"),
        ],
        className="view-block",
    )


@callback(
    Output("act-grids", "children"),
    Output("act-page-text", "children"),
    Output("act-pages", "data"),
    Input("page", "data"),
    Input(layer_views.SECTION, "active_item"),
    Input("act-order", "value"),
    Input("act-page", "data"),
)
def show_grids(page_data, active, order, number):
    page = Page.from_store(page_data)
    if not layer_views.is_open(active, "activations"):
        return no_update, no_update, no_update
    if not page.image_key or not page.model:
        return layer_views.hint("Upload a picture first."), "page 1 of 1", 1
    blocks, pages = [], 1
    for slot in layer_views.slots(page):
        try:
            found = _result(page, slot, order, number)
            pages = max(pages, int(found["pages"]))
            blocks.append(_grid(page, slot, found, page.colormap or "viridis"))
        except Exception as error:  # noqa: BLE001 - shown in words, never a traceback
            blocks.append(html.Div(describe_error(error), className="card-error", role="alert"))
    return blocks, f"page {min(number or 0, pages - 1) + 1} of {pages}", pages


@callback(
    Output("act-page", "data"),
    Input("act-prev", "n_clicks"),
    Input("act-next", "n_clicks"),
    Input("act-order", "value"),
    State("act-page", "data"),
    State("act-pages", "data"),
    prevent_initial_call=True,
)
def turn_page(_prev, _next, _order, number, pages):
    number, pages = int(number or 0), max(1, int(pages or 1))
    if ctx.triggered_id == "act-prev":
        return max(0, number - 1)
    if ctx.triggered_id == "act-next":
        return min(pages - 1, number + 1)
    return 0  # another order starts again at its first page


@callback(
    Output("act-large", "children"),
    Input({"type": "act-tile", "slot": ALL, "index": ALL}, "n_clicks"),
    State("page", "data"),
    State("act-order", "value"),
    State("act-page", "data"),
    prevent_initial_call=True,
)
def open_large(clicks, page_data, order, number):
    chosen = ctx.triggered_id
    if not isinstance(chosen, dict) or not any(clicks or []):
        return no_update
    page = Page.from_store(page_data)
    try:
        found = _result(page, chosen["slot"], order, number)
        index = int(chosen["index"])
        result = MapResult(
            "activations",
            found["model"],
            found["maps"][index],
            found["target"],
            found["label"],
            found["layer"],
            0.0,
            False,
            {},
        )
        levels, _ = service().display_levels(page.image_key, result)
    except Exception as error:  # noqa: BLE001
        return html.Div(describe_error(error), className="card-error", role="alert")
    caption = channel_caption(
        int(found["channels"][index]), float(found["means"][index]), float(found["weights"][index])
    )
    figure = overlay_figure(
        f"/image/{page.image_key}/display.jpg",
        levels,
        colormap=page.colormap or "viridis",
        opacity=0.6,
        title=f"{found['layer']} · {caption}",
    )
    return dbc.Card(
        dbc.CardBody(
            [
                dcc.Graph(id="act-large-graph", figure=figure, config={"displayModeBar": False}),
                html.Label("Opacity", className="hint"),
                dcc.Slider(
                    id="act-large-opacity",
                    min=0,
                    max=1,
                    step=0.05,
                    value=0.6,
                    marks=None,
                    tooltip={"placement": "bottom"},
                ),
            ]
        ),
        className="view-large-card",
    )


clientside_callback(  # opacity never leaves the browser
    """
    function(opacity, figure) {
        if (!figure || !figure.data || !figure.data.length) { return window.dash_clientside.no_update; }
        const data = figure.data.slice();
        data[0] = Object.assign({}, data[0], {opacity: opacity});
        return Object.assign({}, figure, {data: data});
    }
    """,
    Output("act-large-graph", "figure", allow_duplicate=True),
    Input("act-large-opacity", "value"),
    State("act-large-graph", "figure"),
    prevent_initial_call=True,
)
