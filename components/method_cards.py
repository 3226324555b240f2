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

from components.common import progress_label, service
from components.figures import message_figure, overlay_figure
from components.registry import callback, clientside_callback
from components.trust_panel import trust_button
from service import WeightsError, describe_error

DEFAULT_METHODS = ["grad_cam", "guided_grad_cam", "vanilla_gradient"]
INLINE_WAIT = 3.0  # seconds a card's request waits for its map before showing progress instead
POLL_MS = 700  # how often a card asks about a long map's progress


def layout(methods: list[dict]) -> dbc.Card:
    options = [{"label": m["title"], "value": m["name"]} for m in methods]
    return dbc.Card(dbc.CardBody([
        html.H2("5 · Methods to compare", className="step-title"),
        dcc.Dropdown(id="methods", options=options, value=DEFAULT_METHODS, multi=True,
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
            dcc.Store(id={"type": "card-job", "card": cid}),
            dcc.Interval(id={"type": "card-poll", "card": cid}, interval=POLL_MS, disabled=True),
            html.Div([
                dbc.Progress(id={"type": "card-progress", "card": cid}, value=0, label="", striped=True,
                             animated=True, className="card-progress"),
                dbc.Button("Cancel", id={"type": "card-cancel", "card": cid}, size="sm", color="secondary",
                           outline=True, className="mt-1"),
            ], id={"type": "card-progress-box", "card": cid}, style={"display": "none"}),
            html.P(method["description"], className="description"),
            note,
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


_CARD_INPUTS = (Input("image", "data"), Input("model", "value"), Input("compare-model", "value"),
                Input("weights", "value"), Input("target", "value"), Input("layer", "value"),
                Input("colormap", "value"), Input("mode", "value"), Input("percentile", "value"),
                Input("scale", "value"))
_CARD_OUTPUTS = ("figure", "info", "href", "job", "poll", "box", "value", "label")


def _outputs(allow_duplicate: bool = False) -> list[Output]:
    targets = [("card-graph", "figure"), ("card-info", "children"), ("card-download", "href"),
               ("card-job", "data"), ("card-poll", "disabled"), ("card-progress-box", "style"),
               ("card-progress", "value"), ("card-progress", "label")]
    return [Output({"type": kind, "card": MATCH}, prop, allow_duplicate=allow_duplicate) for kind, prop in targets]


def _answer(**values) -> tuple:
    """A full set of card outputs, unchanged where not given."""
    return tuple(values.get(name, no_update) for name in _CARD_OUTPUTS)


HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}


@callback(
    *_outputs(),
    *_CARD_INPUTS,
    State({"type": "card-spec", "card": MATCH}, "data"),
    State({"type": "card-opacity", "card": MATCH}, "value"),
    State({"type": "card-job", "card": MATCH}, "data"),
    State("session", "data"),
    State("methods", "value"),
)
def render_card(image, model, compare, weights, target, layer, colormap, mode, percentile, scale, spec, opacity,
                previous_job, session, selected=None):
    if not image or not isinstance(spec, dict):
        return _answer(figure=message_figure("Waiting for a picture…"), info="", href=None)
    which = model if spec.get("slot") == "a" else compare
    if not which:
        return _answer()
    svc = service()
    if isinstance(previous_job, str):  # a newer request for this card supersedes the old one
        svc.jobs.cancel(previous_job, "A newer request for this card replaced this one.")
    try:
        job = svc.request_map(image["key"], which, spec.get("method"), target=target,
                              layer=layer if spec.get("slot") == "a" else None, weights=weights,
                              session=session if isinstance(session, str) else None,
                              together=selected if isinstance(selected, list) else ())
    except Exception as error:  # noqa: BLE001 - shown on the card in plain words
        return _answer(**_failure(error), job=None, poll=True, box=HIDDEN)
    if job.wait(INLINE_WAIT):
        return _finished(job, image, model, compare, weights, target, layer, colormap, mode, percentile, scale,
                         spec, opacity)
    return _answer(figure=message_figure("Computing this map…"), info="", href=None, job=job.id, poll=False,
                   box=SHOWN, value=round(job.progress * 100), label=progress_label(job))


@callback(
    *_outputs(allow_duplicate=True),
    Input({"type": "card-poll", "card": MATCH}, "n_intervals"),
    *[State(i.component_id, i.component_property) for i in _CARD_INPUTS],
    State({"type": "card-spec", "card": MATCH}, "data"),
    State({"type": "card-opacity", "card": MATCH}, "value"),
    State({"type": "card-job", "card": MATCH}, "data"),
    prevent_initial_call=True,
)
def poll_card(_ticks, image, model, compare, weights, target, layer, colormap, mode, percentile, scale, spec,
              opacity, job_id):
    job = service().jobs.get(job_id)
    if job is None:
        return _answer(poll=True, box=HIDDEN, info=html.Div("This map's job is gone (the server restarted?). "
                                                            "Change a setting to compute it again.",
                                                            className="card-error"))
    if not job.done:
        return _answer(value=round(job.progress * 100), label=progress_label(job),
                       **_partial(job, image, spec, colormap, mode, percentile, opacity))
    return _finished(job, image, model, compare, weights, target, layer, colormap, mode, percentile, scale, spec,
                     opacity)


def _partial(job, image, spec, colormap, mode, percentile, opacity) -> dict:
    """The running average of a long map (SmoothGrad, integrated gradients, RISE, occlusion) while it
    sharpens, so something useful shows within seconds; the finished map replaces it."""
    svc = service()
    method = next((m for m in svc.methods() if m["name"] == spec.get("method")), None)
    signed = bool(method and method["signed"]) and mode == "signed"
    try:
        levels = svc.preview_levels(image["key"], job, signed, mode or "absolute",
                                    min(100.0, max(50.0, float(percentile or 99))))
    except Exception:  # noqa: BLE001 - a preview is optional; the progress bar still shows
        return {}
    if levels is None:
        return {}
    figure = overlay_figure(f"/image/{image['key']}/display.jpg", levels, colormap=colormap or "viridis",
                            signed=signed, opacity=opacity if opacity is not None else 0.5,
                            title=f"partial map, {job.progress:.0%} of the samples — it sharpens as they arrive")
    return {"figure": figure}


@callback(
    Output({"type": "card-info", "card": MATCH}, "children", allow_duplicate=True),
    Input({"type": "card-cancel", "card": MATCH}, "n_clicks"),
    State({"type": "card-job", "card": MATCH}, "data"),
    prevent_initial_call=True,
)
def cancel_card(clicks, job_id):
    if clicks and isinstance(job_id, str):
        service().jobs.cancel(job_id, "Stopped. Change a setting, or pick the class again, to compute it anew.")
    return no_update


def _failure(error: BaseException) -> dict:
    if isinstance(error, WeightsError):  # the full message (file, size, command) is in the alert on top
        text = "No map: this model's ImageNet weights are missing. The Model panel says how to fix it."
    else:
        text = describe_error(error)
    return {"figure": message_figure("No map for this card."),
            "info": html.Div(text, className="card-error", role="alert"), "href": None}


def _finished(job, image, model, compare, weights, target, layer, colormap, mode, percentile, scale, spec, opacity):
    """The outputs of a card whose job has ended: its map, or its error in plain words."""
    done = dict(job=None, poll=True, box=HIDDEN)
    svc = service()
    try:
        result = job.outcome()
        percentile = min(100.0, max(50.0, float(percentile or 99)))
        shared = None
        if scale == "shared" and compare and compare != model:
            shared = _shared_scale(svc, image["key"], model, compare, spec.get("method"), target, layer, weights,
                                   mode, percentile)
        levels, _ = svc.display_levels(image["key"], result, mode=mode or "absolute", percentile=percentile,
                                       scale=shared)
    except Exception as error:  # noqa: BLE001
        return _answer(**_failure(error), **done)
    signed = result.signed and mode == "signed"
    figure = overlay_figure(f"/image/{image['key']}/display.jpg", levels, colormap=colormap or "viridis",
                            signed=signed, opacity=opacity if opacity is not None else 0.5)
    which = model if spec.get("slot") == "a" else compare
    href = _download_href(image["key"], which, spec.get("method"), result, weights, colormap, mode, percentile, opacity)
    return _answer(figure=figure, info=_info(result), href=href, **done)


def _shared_scale(svc, key, model, compare, method, target, layer, weights, mode, percentile) -> float:
    """One scale for the same method on both models: the larger of the two maps' own scales."""
    results = [svc.explain(key, which, method, target=target, layer=layer_here, weights=weights)
               for which, layer_here in ((model, layer), (compare, None))]
    return max(svc.scale_of(result, mode or "absolute", percentile) for result in results)


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


def _download_href(key, model, method, result, weights, colormap, mode, percentile, opacity) -> str:
    query = {"image": key, "model": model, "method": method, "target": result.target, "layer": result.layer or "",
             "weights": weights or "", "colormap": colormap or "viridis", "mode": mode or "absolute",
             "percentile": percentile, "opacity": opacity if opacity is not None else 0.5}
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
    function(image, methods, model, compare, weights, target, layer, colormap, mode, percentile, opacity) {
        if (!image || !methods || !methods.length || !model) { return [null, null, null]; }
        const query = new URLSearchParams({
            image: image.key, methods: methods.join(","), model: model,
            compare: compare && compare !== model ? compare : "", weights: weights || "",
            target: target === null || target === undefined ? "" : String(target), layer: layer || "",
            colormap: colormap || "viridis", mode: mode || "absolute", percentile: String(percentile || 99),
            opacity: String(opacity === null || opacity === undefined ? 0.5 : opacity)
        }).toString();
        return ["/download/grid.png?" + query, "/download/params.json?" + query, "/download/report.html?" + query];
    }
    """,
    Output("download-grid", "href"), Output("download-params", "href"), Output("download-report", "href"),
    Input("image", "data"), Input("methods", "value"), Input("model", "value"), Input("compare-model", "value"),
    Input("weights", "value"), Input("target", "value"), Input("layer", "value"), Input("colormap", "value"),
    Input("mode", "value"), Input("percentile", "value"), Input("opacity-all", "value"),
)
