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

from components import card_views, effort
from components.common import client_id, service
from components.figures import add_points, message_figure, overlay_figure
from components.long_job import LongJob, stopped_words
from components.page_state import Page
from components.registry import callback, clientside_callback
from components.trust_panel import trust_button
from service import DEFAULT_METHODS, ClassChoice, WeightsError, describe_error, model_title

# a card's progress, Cancel and poll; its request waits 3 s for the map before showing them
LONG_JOB = LongJob("card", "card", poll_ms=700, inline_wait=3.0, stopped="Stopped.")
WAITING_FOR_PICTURE = "Waiting for a picture…"


def layout(methods: list[dict]) -> dbc.Card:
    options = [{"label": m["title"], "value": m["name"]} for m in methods]
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("5 · Methods to compare", className="step-title"),
                dcc.Dropdown(
                    id="methods",
                    options=options,
                    value=list(DEFAULT_METHODS),
                    multi=True,
                    placeholder="pick one or more methods",
                ),
            ]
        ),
        className="step",
    )


def card_id(slot: str, method: str) -> str:
    return f"{slot}-{method}"


def card(method: dict, slot: str, badge: str, paired: bool = False, placeholder: str = WAITING_FOR_PICTURE) -> dbc.Col:
    """One method's card for the model of ``slot``; ``paired`` (compare mode): two cards a row, model A's
    card beside model B's card of the same method. ``placeholder``: what the card says before its map."""
    cid = card_id(slot, method["name"])
    note = None if method["uses_layer"] else html.Div("Ignores the layer picker.", className="note")
    return dbc.Col(
        dbc.Card(
            [
                dbc.CardHeader(
                    [html.Span(method["title"], className="method-title"), html.Span(badge, className="model-badge")]
                ),
                dbc.CardBody(
                    [
                        dcc.Store(id={"type": "card-spec", "card": cid}, data={"method": method["name"], "slot": slot}),
                        dcc.Loading(
                            dcc.Graph(
                                id={"type": "card-graph", "card": cid},
                                figure=message_figure(placeholder),
                                config={"displayModeBar": False},
                                responsive=True,
                            ),  # see graph_fit
                            type="circle",
                            delay_show=150,
                        ),
                        *LONG_JOB.layout(cid),
                        html.P(method["description"], className="description"),
                        note,
                        *card_views.layout(method, cid),
                        *effort.layout(method, cid),
                        html.Div(id={"type": "card-info", "card": cid}, className="card-info"),
                        html.Label("Opacity", className="hint"),
                        dcc.Slider(
                            id={"type": "card-opacity", "card": cid},
                            min=0,
                            max=1,
                            step=0.05,
                            value=0.5,
                            marks=None,
                            tooltip={"placement": "bottom"},
                            className="card-opacity",
                        ),
                        html.Div(
                            [
                                html.A(
                                    "Download PNG",
                                    id={"type": "card-download", "card": cid},
                                    className="download",
                                    href=None,
                                    download="",
                                ),
                                trust_button(cid),
                            ],
                            className="card-links",
                        ),
                    ]
                ),
            ],
            className="method-card",
            id={"type": "card", "card": cid},
        ),
        xs=12,
        md=6,
        xl=6 if paired else 4,
    )


@callback(
    Output("cards", "children"),
    Input("methods", "value"),
    Input("model", "value"),
    Input("compare-model", "value"),
    State("image", "data"),
)
def build_cards(selected, model, compare, image=None):
    svc = service()
    known = {m["name"]: m for m in svc.methods()}
    titles = {m["name"]: m["title"] for m in svc.models(client_id())}
    chosen = [name for name in (selected or []) if name in known]
    if not chosen:
        return [dbc.Col(html.Div("Pick at least one method above.", className="hint p-3"))]
    slots = [("a", model)] + ([("b", compare)] if compare and compare in titles and compare != model else [])
    return [
        card(
            known[name], slot, titles.get(which, ""), paired=len(slots) > 1, placeholder=_placeholder(svc, image, which)
        )
        for name in chosen
        for slot, which in slots
    ]


def _placeholder(svc, image, model) -> str:
    """What a card says before its map: the picture is missing, or the model is loading on its first use
    (the cards wait for the predictions, which wait for the model)."""
    if not image:
        return WAITING_FOR_PICTURE
    return svc.loading_message(model) or "Computing this map…"


@callback(
    Output({"type": "card-graph", "card": ALL}, "figure", allow_duplicate=True),
    Input("image", "data"),
    State({"type": "card-spec", "card": ALL}, "data"),
    State("model", "value"),
    State("compare-model", "value"),
    prevent_initial_call=True,
)
def say_model_loading(image, specs, model, compare):
    """A new picture on a model's first use: every card says the model is loading (it may take a minute),
    not "Waiting for a picture…"; once the model is resident the cards fill in as usual."""
    svc = service()
    answers = []
    for spec in specs or []:
        which = compare if isinstance(spec, dict) and spec.get("slot") == "b" else model
        message = svc.loading_message(which) if image else None
        answers.append(message_figure(message) if message else no_update)
    return answers


def _outputs(allow_duplicate: bool = False) -> list[Output]:
    """The card's own outputs (figure, info, download link), then the long-job widget's."""
    own = [
        Output({"type": kind, "card": MATCH}, prop, allow_duplicate=allow_duplicate)
        for kind, prop in (("card-graph", "figure"), ("card-info", "children"), ("card-download", "href"))
    ]
    return own + LONG_JOB.outputs(allow_duplicate)


def _answer(figure=no_update, info=no_update, href=no_update, widget: tuple | None = None) -> tuple:
    """A full set of card outputs, unchanged where not given."""
    return (figure, info, href, *(widget or LONG_JOB.unchanged()))


def _with_source(params: dict | None, source: str | None) -> dict | None:
    """The card's settings with the "From:" choice (methods without that setting never get it)."""
    return {**(params or {}), "source": source} if source else params


def _waiting() -> tuple:
    return _answer(message_figure(WAITING_FOR_PICTURE), "", None)


@callback(
    *_outputs(),
    Input("page", "data"),
    State({"type": "card-spec", "card": MATCH}, "data"),
    State({"type": "card-opacity", "card": MATCH}, "value"),
    LONG_JOB.job_state(),
    State("methods", "value"),
    LONG_JOB.again_input(),
    effort.settings_input(),
    *card_views.inputs(),
)
def render_card(
    page_data,
    spec,
    opacity,
    previous_job,
    selected=None,
    _again=None,
    settings=None,
    view=None,
    contrast=None,
    source=None,
    layer_override=None,
):
    page = Page.from_store(page_data)
    if not page.image_key or not isinstance(spec, dict):
        return _waiting()
    if card_views.waiting_for_contrast(view, contrast):
        return _answer(message_figure("Pick a class under “Contrast with…” by the top-5 chart."), "", None)
    extra = card_views.request(view, contrast, source, layer_override)
    which = page.model_for(spec.get("slot"))
    if not which:
        return _answer()
    extra, lacking = card_views.on_model(page, spec.get("slot"), extra)
    if lacking:
        return _answer(message_figure(lacking), "", None)
    svc = service()
    slot = spec.get("slot")
    try:
        job = svc.request_map(
            page.image_key,
            which,
            spec.get("method"),
            target=page.class_for(slot).target,
            layer=extra.get("layer") or page.layer_for(slot),
            weights=page.weights_for(slot),
            session=page.session_id,
            params=_with_source(effort.params(settings), extra.get("source")),
            together=selected if isinstance(selected, list) else (),
            client=client_id(),
            contrast=extra.get("contrast"),
            top_k=extra.get("top_k"),
        )
    except Exception as error:  # noqa: BLE001 - shown on the card in plain words
        job = None
        failure = _answer(*_failure(error, which, slot), widget=LONG_JOB.ended())
    if previous_job != getattr(job, "id", None):  # a newer request for this card supersedes the old one
        LONG_JOB.withdraw(previous_job, "A newer request for this card replaced this one.")
    if job is None:
        return failure
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
    job = LONG_JOB.lookup(job_id)
    if job is None:
        return _answer(
            info=html.Div(
                "This map's job is gone (the server restarted?). Change a setting to compute it again.",
                className="card-error",
            ),
            widget=LONG_JOB.ended(),
        )
    if job.stopped_for(client_id()) is not None:
        return _stopped(job, page, spec, opacity)
    if not job.done:
        return _answer(_partial(job, page, spec, opacity), widget=LONG_JOB.running(job))
    return _finished(job, page, spec, opacity)


def _stopped(job, page: Page, spec: dict, opacity) -> tuple:
    """A map stopped for this browser (its Cancel, or its deadline): the partial map stays, with where it
    stopped and Run again."""
    words = stopped_words(job, client_id())
    figure = _partial(job, page, spec, opacity, title=f"partial map — {words[:1].lower()}{words[1:]}")
    if figure is no_update:
        figure = message_figure(words)
    return _answer(figure, "", None, widget=LONG_JOB.stopped_at(words))


def _partial(job, page: Page, spec: dict, opacity, title: str | None = None):
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
    return overlay_figure(
        f"/image/{page.image_key}/display.jpg",
        levels,
        colormap=page.colormap or "viridis",
        signed=signed,
        opacity=opacity if opacity is not None else 0.5,
        title=title or partial_title(job.progress),
    )


def partial_title(progress: float) -> str:
    """The title of a partial map: short enough for the narrowest card (a projector's two columns)."""
    return f"partial map · {progress:.0%} done, sharpening"


def _percentile(page: Page) -> float:
    return min(100.0, max(50.0, float(page.percentile or 99)))


def _failure(error: BaseException, model: str | None = None, slot: str | None = None) -> tuple:
    """(figure, info, href) of a card without a map, saying why in plain words."""
    if isinstance(error, WeightsError):  # the full message (file, size, command) is in the model panel
        where = "under “Compare with a second model”" if slot == "b" else "under the model"
        text = (
            f"No map: {model_title(model)}'s ImageNet weights are missing. "
            f"The Model panel says how to fix it ({where})."
        )
    else:
        text = describe_error(error)
    return message_figure("No map for this card."), html.Div(text, className="card-error", role="alert"), None


def _finished(job, page: Page, spec: dict, opacity) -> tuple:
    """The outputs of a card whose job has ended: its map, or its error in plain words (or where it stopped)."""
    if job.stopped_for(client_id()) is not None:
        return _stopped(job, page, spec, opacity)
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
        return _answer(*_failure(error, page.model_for(spec.get("slot")), spec.get("slot")), widget=LONG_JOB.ended())
    if result.meta.get("empty"):  # nothing to draw: a flat overlay and colour bar would look like a finding
        return _answer(
            message_figure("Empty map"),
            [html.Div(_empty_text(result), className="card-empty"), *_info(result)],
            None,
            widget=LONG_JOB.ended(),
        )
    signed = result.signed and mode == "signed"
    figure = overlay_figure(
        f"/image/{key}/display.jpg",
        levels,
        colormap=page.colormap or "viridis",
        signed=signed,
        opacity=opacity if opacity is not None else 0.5,
    )
    if result.meta.get("points"):  # a method that finds points (CNN Fixations) gets them drawn as dots
        add_points(figure, result.meta["points"], result.meta["points_size"], levels.shape)
    slot = spec.get("slot")
    href = _download_href(page, slot, spec.get("method"), result, percentile, opacity)
    choice = page.class_for(slot) if page.compare and page.compare != page.model else None
    info = [*_info(result, choice), *card_views.top_k_row(page, slot, result, opacity)]
    return _answer(figure, info, href, widget=LONG_JOB.ended())


def _empty_text(result) -> str:
    """What a card says instead of an all-zero (or constant) map."""
    if result.layer:
        return "No position at this layer raises the class score — common at the first layers; try a later one."
    return "This map is empty: every pixel got the same value, so it shows nothing about this picture."


def _shared_scale(svc, page: Page, method, percentile) -> float:
    """One scale for the same method on both models: the larger of the two maps' own scales."""
    results = [
        svc.explain(
            page.image_key,
            page.model_for(slot),
            method,
            target=page.class_for(slot).target,
            layer=page.layer_for(slot),
            weights=page.weights_for(slot),
        )
        for slot in ("a", "b")
    ]
    return max(svc.scale_of(result, page.mode or "absolute", percentile) for result in results)


def _info(result, choice: ClassChoice | None = None) -> list:
    """The card's words under its map: the class (and, comparing models, why this class), layer, timing, notes."""
    timing = "from the cache" if result.cached else f"computed in {result.seconds:.2f} s"
    why = []
    if choice is not None and choice.reason:
        why = [html.Div(f"Class: {choice.describe(result.label)}", className="class-reason")]
    parts = [
        *card_views.title_line(result),
        *why,
        html.Span(f"{result.label} (class {result.target})", className="nowrap"),
        html.Span(f" · layer {result.layer}" if result.layer else "", className="nowrap"),
        html.Span(f" · {timing}", className="nowrap"),
    ]
    for note in result.meta.get("notes", []):
        parts.append(html.Div(note, className="note"))
    if result.meta.get("random_weights"):
        parts.append(html.Div("random weights: this map is meaningless", className="note"))
    return parts


def _download_href(page: Page, slot, method, result, percentile, opacity) -> str:
    query = {
        "image": page.image_key,
        "model": page.model_for(slot),
        "method": method,
        "target": result.target,
        "layer": result.layer or "",
        "weights": page.weights_for(slot) or "",
        "colormap": page.colormap or "viridis",
        "mode": page.mode or "absolute",
        "percentile": percentile,
        "opacity": opacity if opacity is not None else 0.5,
        **{name: result.meta[name] for name in ("contrast", "source") if result.meta.get(name) is not None},
        **({"top_k": len(result.meta["top_k_row"])} if result.meta.get("top_k_row") else {}),
    }
    return "/download/card.png?" + urlencode(query)


# ---- browser-only updates: no request reaches the server ------------------------------------------
# Opacity rule: the global slider sets every card's slider (and new cards start at it); a card's own slider then
# decides that card until the global one moves again. Every figure that arrives takes its card's slider value.
clientside_callback(
    """
    function(opacity, figure) {
        if (!figure || !figure.data || !figure.data.length || opacity === null || opacity === undefined
                || figure.data[0].opacity === opacity) { return window.dash_clientside.no_update; }
        const data = figure.data.slice();
        data[0] = Object.assign({}, data[0], {opacity: opacity});
        return Object.assign({}, figure, {data: data});
    }
    """,
    Output({"type": "card-graph", "card": MATCH}, "figure", allow_duplicate=True),
    Input({"type": "card-opacity", "card": MATCH}, "value"),
    Input({"type": "card-graph", "card": MATCH}, "figure"),
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
    function(opacity, _cards, ids, own) {
        if (opacity === null || opacity === undefined) { return window.dash_clientside.no_update; }
        const triggered = (window.dash_clientside.callback_context.triggered || []).map(t => t.prop_id);
        const rebuilt = triggered.length && triggered.every(id => id.startsWith("cards."));
        return ids.map(id => rebuilt && own && own[id.card] !== undefined ? own[id.card] : opacity);
    }
    """,
    Output({"type": "card-opacity", "card": ALL}, "value"),
    Input("opacity-all", "value"),
    Input("cards", "children"),
    State({"type": "card-opacity", "card": ALL}, "id"),
    State("opacity-own", "data"),
    prevent_initial_call=True,
)

clientside_callback(  # remember which cards a person set apart from the global slider (cleared when it moves)
    """
    function(values, ids, global, own) {
        const kept = Object.assign({}, own || {});
        ids.forEach((id, i) => {
            if (values[i] === global) { delete kept[id.card]; } else { kept[id.card] = values[i]; }
        });
        return kept;
    }
    """,
    Output("opacity-own", "data"),
    Input({"type": "card-opacity", "card": ALL}, "value"),
    State({"type": "card-opacity", "card": ALL}, "id"),
    State("opacity-all", "value"),
    State("opacity-own", "data"),
    prevent_initial_call=True,
)


# the "download all" links are plain strings built in the browser (so the opacity slider stays local)
clientside_callback(
    """
    function(page, methods, opacity, contrast, views, ids, sources, layers) {
        if (!page || !page.image || !methods || !methods.length || !page.model) { return [null, null, null]; }
        const cards = {};  // the report shows each of the model's cards as it is: its view, source and layer
        (ids || []).forEach(function(id, i) {
            if (!id || typeof id.card !== "string" || id.card.slice(0, 2) !== "a-") { return; }
            cards[id.card.slice(2)] = {view: views[i] || "one", source: sources[i] || "pixels", layer: layers[i] || ""};
        });
        const target = page.target;
        const query = new URLSearchParams({
            image: page.image.key, methods: methods.join(","), model: page.model,
            compare: page.compare && page.compare !== page.model ? page.compare : "", weights: page.weights || "",
            compare_weights: page.compare_weights || "",
            compare_target: page.compare_target === null || page.compare_target === undefined
                ? "" : String(page.compare_target),
            target: target === null || target === undefined ? "" : String(target), layer: page.layer || "",
            colormap: page.colormap || "viridis", mode: page.mode || "absolute",
            percentile: String(page.percentile || 99),
            opacity: String(opacity === null || opacity === undefined ? 0.5 : opacity),
            contrast: contrast === null || contrast === undefined ? "" : String(contrast)
        }).toString();
        const report = query + "&" + new URLSearchParams({views: JSON.stringify(cards)}).toString();
        return ["/download/grid.png?" + query, "/download/params.json?" + query, "/download/report.html?" + report];
    }
    """,
    Output("download-grid", "href"),
    Output("download-params", "href"),
    Output("download-report", "href"),
    Input("page", "data"),
    Input("methods", "value"),
    Input("opacity-all", "value"),
    Input("contrast-with", "value"),
    *card_views.report_inputs(),
)
