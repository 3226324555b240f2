"""The section under the cards that looks inside the network: the picked layer's activations and the
layer sweep, each in a panel that computes only once it is opened (a classroom's page loads stay cheap).

What the two views share lives here: the section, a view's card in words, the models a view shows
(the main model, and the second one in compare mode), and the view's download link.
"""

from __future__ import annotations

from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.common import client_id, service
from components.page_state import Page
from service import model_title
from service.views import cards, wait

SECTION = "layer-views"  # the accordion; its open item names the view to compute


def about(card: dict) -> html.Details:
    """A view's card in words, folded: what it computes, how to read it, pitfalls, paper."""
    return html.Details(
        [
            html.Summary("About this view"),
            html.P(card["computes"]),
            html.P(["How to read it: ", card["colours"]]),
            html.Ul([html.Li(pitfall) for pitfall in card["pitfalls"]]),
            html.P(["Paper: ", html.A(card["paper"], href=card["paper_url"], target="_blank", rel="noopener")]),
        ],
        className="view-about",
    )


def panel(view: str, choice_id: str, choices: dict[str, str], extra: list, output_id: str) -> html.Div:
    """A view's panel: its card in words, a switch between ``choices`` (value -> words, the first chosen)
    and ``extra`` controls, and where its result goes (``output_id``, with a spinner while it computes)."""
    switch = dbc.RadioItems(
        id=choice_id,
        options=[{"label": words, "value": value} for value, words in choices.items()],
        value=next(iter(choices)),
        inline=True,
    )
    return html.Div(
        [
            about(cards()[view]),
            html.Div([switch, *extra], className="view-controls"),
            dcc.Loading(html.Div(id=output_id), type="circle", delay_show=150),
        ]
    )


def layout(activations_panel, sweep_panel) -> html.Div:
    return html.Div(
        [
            html.H2("Inside the network", className="step-title mt-3"),
            dbc.Accordion(
                [
                    dbc.AccordionItem(
                        activations_panel, title="Activations of the picked layer", item_id="activations"
                    ),
                    dbc.AccordionItem(sweep_panel, title="Layer sweep: one map at every block", item_id="sweep"),
                ],
                id=SECTION,
                start_collapsed=True,
                always_open=True,
            ),
        ],
        className="layer-views",
    )


def is_open(active, view: str) -> bool:
    return view == active or (isinstance(active, list) and view in active)


def slots(page: Page) -> list[str]:
    """The models a view shows: "a", and "b" in compare mode."""
    return ["a", "b"] if page.compare and page.compare != page.model else ["a"]


def heading(page: Page, slot: str, words: str) -> html.H3:
    return html.H3(f"{model_title(page.model_for(slot))} · {words}", className="view-heading")


def download_href(view: str, state: Page, slot: str, **options) -> str:
    target = state.class_for(slot).target
    query = {
        "image": state.image_key,
        "model": state.model_for(slot),
        "weights": state.weights_for(slot) or "",
        "target": "" if target is None else target,
        **options,
    }
    return f"/download/{view}.png?" + urlencode(query)


def result(request, state: Page, slot: str, **options) -> dict:
    """A view's result for the model of ``slot`` (its class, its weights), through the service's jobs."""
    svc = service()
    job = request(
        svc,
        state.image_key,
        state.model_for(slot),
        session=state.session_id,
        client=client_id(),
        target=state.class_for(slot).target,
        weights=state.weights_for(slot),
        **options,
    )
    return wait(svc, job, client_id())


def hint(text: str) -> html.Div:
    return html.Div(text, className="hint p-2")


def tile(tile_id: dict, src: str, lines: list[str], clickable: bool = True) -> html.Button | html.Div:
    """One small map with its words under it; a button where clicking opens it large."""
    children = [html.Img(src=src, alt=lines[0]), *[html.Div(line, className="tile-line") for line in lines]]
    if clickable:
        return html.Button(children, id=tile_id, className="view-tile", n_clicks=0, title="open it large")
    return html.Div(children, id=tile_id, className="view-tile")
