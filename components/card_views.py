"""What a method card shows besides the plain map (issue 24): the map of "why A and not B", a row of the
top 3 classes' maps, and, for the methods that can, attributions taken at the picked layer instead of
the pixels. Each card has a view choice ("This class", "Top 3 classes", "Why A and not B") and, where
the method has it, "From: the pixels / the picked layer"; the class B is picked once, under the top-5
chart ("Contrast with…"), which turns the cards to that view. The expected gradients card has the
seed's example as one click: from VGG16's block2_pool (the input of its 7th layer), top 3 classes.
Each view's card text (what, how to read, pitfalls, paper) comes from the service (``view_cards``).
"""

from __future__ import annotations

import base64
from typing import Any

from dash import ALL, MATCH, Input, Output, State, dcc, html, no_update

from components.common import service
from components.page_state import Page
from components.registry import callback
from service import class_name, model_title
from service.card_views import SEED_EXAMPLE, contrast_for, view_cards

VIEWS = {"one": "This class", "top_k": "Top 3 classes", "contrast": "Why A and not B"}
TOP_K = 3
SOURCES = {"pixels": "the pixels", "layer": "the picked layer"}
#: the seed's example: expected gradients from the input of VGG16's 7th layer (layers[7] is block3_conv1)
SEED_LAYER = SEED_EXAMPLE["layer"]
SEED_MODEL = SEED_EXAMPLE["model"]
SEED_LABEL = f"Seed's example: from VGG16's {SEED_LAYER}, top 3"
ROW_SIDE = 160  # each map of a top-k row, at most this many pixels on a side


def _id(part: str, card: Any = MATCH) -> dict:
    return {"type": f"card-{part}", "card": card}


def contrast_picker() -> html.Div:
    """Under the top-5 chart: the class B of "why A and not B" (the cards then show that view)."""
    return html.Div(
        [
            html.Label("Contrast with… (why A and not B)", htmlFor="contrast-with", className="hint"),
            dcc.Dropdown(id="contrast-with", options=[], placeholder="a second class"),
        ],
        className="contrast-picker",
    )


def layout(method: dict, card: str) -> list:
    """The card's view choice, its "From:" choice (hidden for methods without it), the seed's example
    (expected gradients only) and where a view's card text and a top-k row go."""
    has_source = "source" in (method.get("settings") or service().method_settings(method["name"]))
    preset = (
        html.Button(
            SEED_LABEL,
            id=_id("seed-example", card),
            className="btn btn-link btn-sm p-0 seed-example",
            title="Expected gradients from the input of VGG16's 7th layer (block3_conv1), for the top 3 classes",
        )
        if method["name"] == "expected_gradients"
        else html.Span(id=_id("seed-example", card), hidden=True)
    )
    return [
        dcc.RadioItems(
            id=_id("view", card),
            options=[{"label": label, "value": value} for value, label in VIEWS.items()],
            value="one",
            inline=True,
            className="card-view",
            inputClassName="me-1",
            labelClassName="me-3",
        ),
        html.Div(
            [
                html.Span("From: ", className="hint"),
                dcc.RadioItems(
                    id=_id("source", card),
                    options=[{"label": label, "value": value} for value, label in SOURCES.items()],
                    value="pixels",
                    inline=True,
                    inputClassName="me-1",
                    labelClassName="me-3",
                ),
            ],
            className="card-source",
            hidden=not has_source,
        ),
        preset,
        dcc.Store(id=_id("layer-override", card)),
    ]


def inputs() -> list[Input]:
    """The view's inputs of the card's map callback, in the order ``request`` takes them."""
    return [
        Input(_id("view"), "value"),
        Input("contrast-with", "value"),
        Input(_id("source"), "value"),
        Input(_id("layer-override"), "data"),
    ]


def report_inputs() -> list[Input]:
    """Every card's view, its id, source and layer: what the report link needs to show each card as it is."""
    return [
        Input(_id("view", ALL), "value"),
        Input(_id("view", ALL), "id"),
        Input(_id("source", ALL), "value"),
        Input(_id("layer-override", ALL), "data"),
    ]


def request(view: Any, contrast: Any, source: Any, layer_override: Any) -> dict[str, Any]:
    """What the view adds to the card's request (the service checks every value): contrast, top_k, the
    source setting and a layer."""
    extra: dict[str, Any] = {}
    if view == "contrast" and contrast not in (None, ""):
        extra["contrast"] = contrast
    if view == "top_k":
        extra["top_k"] = TOP_K
    if source == "layer":
        extra["source"] = "layer"
    if isinstance(layer_override, str) and layer_override:
        extra["layer"] = layer_override
    return extra


def on_model(page: Page, slot: str | None, extra: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The view's request for the card of ``slot``: the second model contrasts with its own number of the
    class B picked on the first model's chart; (request, None), or (request, why it cannot) when it lacks B."""
    if slot != "b" or extra.get("contrast") is None:
        return extra, None
    mine = contrast_for(page.model, extra["contrast"], page.model_for(slot))
    if mine is None:
        return extra, (
            f"{model_title(page.model_for(slot))} does not know “{class_name(page.model, extra['contrast'])}”, "
            "so this card cannot show why A and not B."
        )
    return {**extra, "contrast": mine}, None


def waiting_for_contrast(view: Any, contrast: Any) -> bool:
    """True if the card shows "why A and not B" but no class B is picked yet."""
    return view == "contrast" and contrast in (None, "")


def title_line(result) -> list:
    """The card's first line for a view: "why tabby and not tiger cat", "from the layer block2_pool"."""
    lines = []
    if result.meta.get("title"):
        lines.append(html.Div(result.meta["title"], className="view-title"))
    if result.meta.get("source") == "layer":
        lines.append(html.Div(f"from the layer {result.layer}, not the pixels", className="view-title"))
    for card in view_cards(result.meta):
        lines.append(
            html.Details(
                [
                    html.Summary(f"About this view: {card['title']}", className="hint"),
                    html.P(card["computes"]),
                    html.P(card["colours"]),
                    html.Ul([html.Li(pitfall) for pitfall in card["pitfalls"]]),
                    html.A(card["paper"], href=card["paper_url"], target="_blank", rel="noopener noreferrer"),
                ],
                className="view-card",
            )
        )
    return lines


def top_k_row(page: Page, slot: str | None, result, opacity: float | None) -> list:
    """The row of the top k classes' maps (each from the cache, where the row's job put it)."""
    row = result.meta.get("top_k_row")
    if not row:
        return []
    svc = service()
    tiles = []
    for target, label in row:
        try:
            found = svc.explain(
                page.image_key,
                page.model_for(slot),
                result.method,
                target=target,
                layer=result.layer,
                weights=page.weights_for(slot),
                params=result.params or None,
            )
            picture = svc.overlay(
                page.image_key,
                found,
                colormap=page.colormap or "viridis",
                opacity=opacity if opacity is not None else 0.5,
                mode=page.mode or "absolute",
                max_side=ROW_SIDE,
            )
        except Exception:  # noqa: BLE001 - a missing tile says so; the card's own map still shows
            tiles.append(html.Div(f"{label}: no map", className="top-k-tile"))
            continue
        source = "data:image/png;base64," + base64.b64encode(_png(picture)).decode("ascii")
        tiles.append(
            html.Figure(
                [html.Img(src=source, alt=f"{result.method} map for {label}"), html.Figcaption(f"{label} ({target})")],
                className="top-k-tile",
            )
        )
    return [html.Div(f"Top {len(row)} classes", className="hint"), html.Div(tiles, className="top-k-row")]


def _png(picture) -> bytes:
    """PNG bytes of an RGB uint8 picture."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "PNG")
    return buffer.getvalue()


@callback(
    Output("contrast-with", "options"),
    Output("contrast-with", "value"),
    Input("page", "data"),
    State("contrast-with", "value"),
)
def contrast_options(page_data, current):
    """The top-5 classes of the picture as the "Contrast with…" choices (the first model's)."""
    page = Page.from_store(page_data)
    if not page.image_key or not page.model:
        return [], None
    try:
        top = service().predict(page.image_key, page.model, page.weights)
    except Exception:  # noqa: BLE001 - no choices; the predictions panel says why in words
        return [], None
    options = [{"label": f"{label} ({index})", "value": int(index)} for index, label, _ in top]
    keep = current if current in {option["value"] for option in options} else None
    return options, keep


@callback(
    Output({"type": "card-view", "card": ALL}, "value"),
    Input("contrast-with", "value"),
    State({"type": "card-view", "card": ALL}, "value"),
    prevent_initial_call=True,
)
def show_contrast(contrast, views):
    """Picking a class B under the top-5 chart turns every card to "why A and not B"; clearing it, back."""
    if contrast in (None, ""):
        return ["one" if view == "contrast" else no_update for view in views]
    return ["contrast"] * len(views)


@callback(
    Output(_id("view"), "value", allow_duplicate=True),
    Output(_id("source"), "value"),
    Output(_id("layer-override"), "data"),
    Output(_id("seed-example"), "children"),
    Input(_id("seed-example"), "n_clicks"),
    State(_id("seed-example"), "id"),
    State("page", "data"),
    prevent_initial_call=True,
)
def seed_example(clicks, button, page_data):
    """One click: expected gradients from VGG16's block2_pool, for the top 3 classes; on another model
    the button says what it needs instead of asking for a layer that model lacks."""
    if not clicks:
        return no_update, no_update, no_update, no_update
    slot = str((button or {}).get("card", "")).split("-", 1)[0]
    if Page.from_store(page_data).model_for(slot) != SEED_MODEL:
        return no_update, no_update, no_update, "The seed's example is on VGG16: pick VGG16 as the model first."
    return "top_k", "layer", SEED_LAYER, SEED_LABEL
