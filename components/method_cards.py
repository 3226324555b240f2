"""Piece 8: the methods, one card each in a responsive grid, side by side.

Every card computes in its own request, so cards fill in as each method finishes (fast ones first),
each with its own spinner. A card holds one figure (the picture as a layout image, the map as a
heatmap trace), a colour bar labelled in words, the method's name and one-sentence description, the
compute time, an opacity slider and a download link. Opacity is changed in the browser only
(clientside callbacks): no request reaches the server and no map is recomputed.
"""
from __future__ import annotations

from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import ALL, MATCH, Input, Output, State, dcc, html, no_update

from components import effort
from components.common import service
from components.figures import message_figure, overlay_figure
from components.long_job import LongJob
from components.page_state import Page
from components.registry import callback, clientside_callback
from components.trust_panel import trust_button
from service import DEFAULT_METHODS, WeightsError, describe_error

# a card's progress, Cancel and poll; its request waits 3 s for the map before showing them
LONG_JOB = LongJob("card", "card", poll_ms=700, inline_wait=3.0,
                   stopped="Stopped. Change a setting, or pick the class again, to compute it anew.")


def layout(methods: list[dict]) -> dbc.Card:
    options = [{"label": m["title"], "value": m["name"]} for m in methods]
    return dbc.Card(dbc.CardBody([
        html.H2("5 · Methods to compare", className="step-title"),
        dcc.Dropdown(id="methods", options=options, value=list(DEFAULT_METHODS), multi=True,
                     placeholder="pick one or more methods"),
    ]), className="step")


def card_id(slot: str, method: str) -> str:
    return f"{slot}-{method}"


def card(method: dict, slot: str, model_title: str) -> dbc.Col:
    cid = card_id(slot, method["name"])
    note = None if method["uses_layer"] else html.Div("Ignores the layer picker.", className="note")
    return dbc.Col(dbc.Card([
        dbc.CardHeader([html.Span(method["title"], className="method-title"),
                        html.Span(model_title, className="model-badge")]),
        dbc.CardBody([
            dcc.Store(id={"type": "card-spec", "card": cid}, data={"method": method["name"], "slot": slot}),
            dcc.Loading(dcc.Graph(id={"type": "card-graph", "card": cid},
                                  figure=message_figure("Waiting for a picture…"),
                                  config={"displayModeBar": False, "responsive": True}),
                        type="circle", delay_show=150),
            *LONG_JOB.layout(cid),
            html.P(method["description"], className="description"),
            note,
            *effort.layout(method, cid),
            html.Div(id={"type": "card-info", "card": cid}, className="card-info"),
            html.Label("Opacity", className="hint"),
            dcc.Slider(id={"type": "card-opacity", "card": cid}, min=0, max=1, step=0.05, value=0.5,
                       marks=None, tooltip={"placement": "bottom"}, className="card-opacity"),
            html.Div([html.A("Download PNG", id={"type": "card-download", "card": cid}, className="download",
                             href=None, download=""),
                      trust_button(cid)], className="card-links"),
        ]),
    ], className="method-card", id={"type": "card", "card": cid}), xs=12, md=6, xl=4)


@callback(
    Output("cards", "children"),
    Input("methods", "value"), Input("model", "value"), Input("compare-model", "value"),
)
def build_cards(selected, model, compare):
    svc = service()
    known = {m["name"]: m for m in svc.methods()}
    titles = {m["name"]: m["title"] for m in svc.models()}
    chosen = [name for name in (selected or []) if name in known]
    if not chosen:
        return [dbc.Col(html.Div("Pick at least one method above.", className="hint p-3"))]
    slots = [("a", model)] + ([("b", compare)] if compare and compare in titles and compare != model else [])
    return [card(known[name], slot, titles.get(which, "")) for name in chosen for slot, which in slots]


def _outputs(allow_duplicate: bool = False) -> list[Output]:
    """The card's own outputs (figure, info, download link), then the long-job widget's."""
    own = [Output({"type": kind, "card": MATCH}, prop, allow_duplicate=allow_duplicate)
           for kind, prop in (("card-graph", "figure"), ("card-info", "children"), ("card-download", "href"))]
    return own + LONG_JOB.outputs(allow_duplicate)


def _answer(figure=no_update, info=no_update, href=no_update, widget: tuple | None = None) -> tuple:
    """A full set of card outputs, unchanged where not given."""
    return (figure, info, href, *(widget or LONG_JOB.unchanged()))


def _waiting() -> tuple:
    return _answer(message_figure("Waiting for a picture…"), "", None)


@callback(
    *_outputs(),
    Input("page", "data"),
    State({"type": "card-spec", "card": MATCH}, "data"),
    State({"type": "card-opacity", "card": MATCH}, "value"),
    LONG_JOB.job_state(),
    State("methods", "value"),
    effort.settings_input(),
)
def render_card(page_data, spec, opacity, previous_job, selected=None, settings=None):
    page = Page.from_store(page_data)
    if not page.image_key or not isinstance(spec, dict):
        return _waiting()
    which = page.model_for(spec.get("slot"))
    if not which:
        return _answer()
    svc = service()
    if isinstance(previous_job, str):  # a newer request for this card supersedes the old one
        svc.jobs.cancel(previous_job, "A newer request for this card replaced this one.")
    try:
        job = svc.request_map(page.image_key, which, spec.get("method"), target=page.target,
                              layer=page.layer_for(spec.get("slot")), weights=page.weights, session=page.session_id,
                              params=effort.params(settings), together=selected if isinstance(selected, list) else ())
    except Exception as error:  # noqa: BLE001 - shown on the card in plain words
        return _answer(*_failure(error), widget=LONG_JOB.ended())
    if job.wait(LONG_JOB.inline_wait):
        return _finished(job, page, spec, opacity)
    return _answer(message_figure("Computing this map…"), "", None, widget=LONG_JOB.started(job))


@callback(
    *_outputs(allow_duplicate=True),
    LONG_JOB.poll_input(),
    State("page", "data"),
    State({"type": "card-spec", "card": MATCH}, "data"),
    State({"type": "card-opacity", "card": MATCH}, "value"),
    LONG_JOB.job_state(),
    prevent_initial_call=True,
)
def poll_card(_ticks, page_data, spec, opacity, job_id):
    page = Page.from_store(page_data)
    job = service().jobs.get(job_id)
    if job is None:
        return _answer(info=html.Div("This map's job is gone (the server restarted?). "
                                     "Change a setting to compute it again.", className="card-error"),
                       widget=LONG_JOB.ended())
    if not job.done:
        return _answer(_partial(job, page, spec, opacity), widget=LONG_JOB.running(job))
    return _finished(job, page, spec, opacity)


def _partial(job, page: Page, spec: dict, opacity):
    """The running average of a long map (SmoothGrad, integrated gradients, RISE, occlusion) while it
    sharpens, so something useful shows within seconds; the finished map replaces it."""
    svc = service()
    method = next((m for m in svc.methods() if m["name"] == spec.get("method")), None)
    signed = bool(method and method["signed"]) and page.mode == "signed"
    try:
        levels = svc.preview_levels(page.image_key, job, signed, page.mode or "absolute", _percentile(page))
    except Exception:  # noqa: BLE001 - a preview is optional; the progress bar still shows
        return no_update
    if levels is None:
        return no_update
    return overlay_figure(f"/image/{page.image_key}/display.jpg", levels, colormap=page.colormap or "viridis",
                          signed=signed, opacity=opacity if opacity is not None else 0.5,
                          title=f"partial map, {job.progress:.0%} of the samples — it sharpens as they arrive")


def _percentile(page: Page) -> float:
    return min(100.0, max(50.0, float(page.percentile or 99)))


def _failure(error: BaseException) -> tuple:
    """(figure, info, href) of a card without a map, saying why in plain words."""
    if isinstance(error, WeightsError):  # the full message (file, size, command) is in the alert on top
        text = "No map: this model's ImageNet weights are missing. The Model panel says how to fix it."
    else:
        text = describe_error(error)
    return message_figure("No map for this card."), html.Div(text, className="card-error", role="alert"), None


def _finished(job, page: Page, spec: dict, opacity) -> tuple:
    """The outputs of a card whose job has ended: its map, or its error in plain words."""
    svc = service()
    key, mode = page.image_key, page.mode
    try:
        result = job.outcome()
        percentile = _percentile(page)
        shared = None
        if page.scale == "shared" and page.compare and page.compare != page.model:
            shared = _shared_scale(svc, page, spec.get("method"), percentile)
        levels, _ = svc.display_levels(key, result, mode=mode or "absolute", percentile=percentile, scale=shared)
    except Exception as error:  # noqa: BLE001
        return _answer(*_failure(error), widget=LONG_JOB.ended())
    signed = result.signed and mode == "signed"
    figure = overlay_figure(f"/image/{key}/display.jpg", levels, colormap=page.colormap or "viridis",
                            signed=signed, opacity=opacity if opacity is not None else 0.5)
    href = _download_href(page, page.model_for(spec.get("slot")), spec.get("method"), result, percentile, opacity)
    return _answer(figure, _info(result), href, widget=LONG_JOB.ended())


def _shared_scale(svc, page: Page, method, percentile) -> float:
    """One scale for the same method on both models: the larger of the two maps' own scales."""
    results = [svc.explain(page.image_key, page.model_for(slot), method, target=page.target,
                           layer=page.layer_for(slot), weights=page.weights) for slot in ("a", "b")]
    return max(svc.scale_of(result, page.mode or "absolute", percentile) for result in results)


def _info(result) -> list:
    timing = "from the cache" if result.cached else f"computed in {result.seconds:.2f} s"
    parts = [html.Span(f"{result.label} (class {result.target})", className="nowrap"),
             html.Span(f" · layer {result.layer}" if result.layer else "", className="nowrap"),
             html.Span(f" · {timing}", className="nowrap")]
    for note in result.meta.get("notes", []):
        parts.append(html.Div(note, className="note"))
    if result.meta.get("random_weights"):
        parts.append(html.Div("random weights: this map is meaningless", className="note"))
    return parts


def _download_href(page: Page, model, method, result, percentile, opacity) -> str:
    query = {"image": page.image_key, "model": model, "method": method, "target": result.target,
             "layer": result.layer or "", "weights": page.weights or "", "colormap": page.colormap or "viridis",
             "mode": page.mode or "absolute", "percentile": percentile,
             "opacity": opacity if opacity is not None else 0.5}
    return "/download/card.png?" + urlencode(query)


# ---- browser-only updates: no request reaches the server ------------------------------------------
clientside_callback(
    """
    function(opacity, figure) {
        if (!figure || !figure.data || !figure.data.length) { return window.dash_clientside.no_update; }
        const data = figure.data.slice();
        data[0] = Object.assign({}, data[0], {opacity: opacity});
        return Object.assign({}, figure, {data: data});
    }
    """,
    Output({"type": "card-graph", "card": MATCH}, "figure", allow_duplicate=True),
    Input({"type": "card-opacity", "card": MATCH}, "value"),
    State({"type": "card-graph", "card": MATCH}, "figure"),
    prevent_initial_call=True,
)

clientside_callback(
    """
    function(opacity, href) {
        if (!href) { return window.dash_clientside.no_update; }
        return href.replace(/([?&]opacity=)[^&]*/, "$1" + opacity);
    }
    """,
    Output({"type": "card-download", "card": MATCH}, "href", allow_duplicate=True),
    Input({"type": "card-opacity", "card": MATCH}, "value"),
    State({"type": "card-download", "card": MATCH}, "href"),
    prevent_initial_call=True,
)

clientside_callback(
    """
    function(opacity, ids) { return ids.map(function() { return opacity; }); }
    """,
    Output({"type": "card-opacity", "card": ALL}, "value"),
    Input("opacity-all", "value"),
    State({"type": "card-opacity", "card": ALL}, "id"),
    prevent_initial_call=True,
)


# the "download all" links are plain strings built in the browser (so the opacity slider stays local)
clientside_callback(
    """
    function(page, methods, opacity) {
        if (!page || !page.image || !methods || !methods.length || !page.model) { return [null, null, null]; }
        const target = page.target;
        const query = new URLSearchParams({
            image: page.image.key, methods: methods.join(","), model: page.model,
            compare: page.compare && page.compare !== page.model ? page.compare : "", weights: page.weights || "",
            target: target === null || target === undefined ? "" : String(target), layer: page.layer || "",
            colormap: page.colormap || "viridis", mode: page.mode || "absolute",
            percentile: String(page.percentile || 99),
            opacity: String(opacity === null || opacity === undefined ? 0.5 : opacity)
        }).toString();
        return ["/download/grid.png?" + query, "/download/params.json?" + query, "/download/report.html?" + query];
    }
    """,
    Output("download-grid", "href"), Output("download-params", "href"), Output("download-report", "href"),
    Input("page", "data"), Input("methods", "value"), Input("opacity-all", "value"),
)
