"""Piece 9: "Can I trust this map?" — one click from any card opens this panel for that card's map.

Tabs: what the method computes and its pitfalls (its method card); where the map looks, scored against
the object's true outline (Shapes demo pictures) or against a box the person draws first (a classroom
game: guess, then reveal); the sanity checks (Adebayo et al. 2018); faithfulness (deletion and
insertion curves, with a scrubber showing the picture at k % deleted); and stability for methods with
a seed. The long checks are service jobs with a progress bar and Cancel, like the cards' maps.
"""

from __future__ import annotations

from urllib.parse import urlencode

import dash_bootstrap_components as dbc
import numpy as np
from dash import ALL, MATCH, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components.common import client_id, service
from components.figures import add_box, add_outline, curves_figure, message_figure, overlay_figure, strip_figure
from components.long_job import HIDDEN, SHOWN, LongJob, stopped_words
from components.page_state import Page
from components.registry import callback
from service import describe_error
from service.trust import localization, verdict

CHECKS = {
    "sanity": (
        "Sanity checks",
        "Run the sanity checks",
        "A map that explains this model must change when the model's learned weights are replaced by random "
        "ones. Here the weights are randomized layer by layer from the top down, and each new map is "
        "compared with the original (rank correlation and SSIM: 1 = the same, 0 = unrelated). Then the map "
        "for a random other class is compared with this one.",
    ),
    "faithfulness": (
        "Faithfulness",
        "Draw the deletion and insertion curves",
        "Deletion: the pixels this map ranks first are blurred away first; if the map is right, the class "
        "probability falls fast (a small area under the curve). Insertion: starting from a blurred "
        "picture, the top pixels are put back first; the probability should rise fast (a large area). "
        "Random maps give the baseline to beat.",
    ),
    "stability": (
        "Stability",
        "Run it with 5 seeds",
        "This method uses random numbers. It is run five times with different seeds: the spread per pixel "
        "shows what is chance, and the agreement (mean rank correlation between runs) how repeatable "
        "it is.",
    ),
}
# a check's progress, Cancel and poll; a map for "Where it looks" waits as long as a check
LONG_JOB = LongJob(
    "trust", "check", poll_ms=800, inline_wait=2.0, stopped="Stopped. Press the button again to start over."
)


def layout() -> html.Div:
    return html.Div(
        [
            dcc.Store(id="trust-spec"),
            dcc.Store(id="trust-box"),
            dbc.Modal(
                [
                    dbc.ModalHeader(dbc.ModalTitle("Can I trust this map?", id="trust-title")),
                    dbc.ModalBody(
                        dbc.Tabs(
                            [
                                dbc.Tab(
                                    html.Div(id="trust-about", className="p-2"),
                                    label="About this method",
                                    tab_id="about",
                                ),
                                dbc.Tab(_where_tab(), label="Where it looks", tab_id="where"),
                                *[
                                    dbc.Tab(
                                        _check_tab(check),
                                        label=title,
                                        tab_id=check,
                                        id={"type": "trust-tab", "check": check},
                                    )
                                    for check, (title, _, _) in CHECKS.items()
                                ],
                            ],
                            id="trust-tabs",
                            active_tab="about",
                        )
                    ),
                ],
                id="trust-modal",
                size="xl",
                is_open=False,
                scrollable=True,
            ),
        ]
    )


def _where_tab() -> html.Div:
    return html.Div(
        [
            html.P(id="trust-where-hint", className="hint mt-2"),
            dcc.Graph(
                id="trust-where-graph",
                figure=message_figure("Open this panel from a card."),
                config={
                    "displaylogo": False,
                    "responsive": True,
                    "modeBarButtonsToAdd": ["drawrect", "eraseshape"],
                    "modeBarButtonsToRemove": ["zoom2d", "pan2d", "select2d", "lasso2d", "autoScale2d"],
                },
            ),
            dbc.Button("Reveal the map", id="trust-reveal", n_clicks=0, color="primary", size="sm"),
            html.Div(id="trust-where-info", className="mt-2", role="status"),
        ]
    )


def _check_tab(check: str) -> html.Div:
    _, button, explanation = CHECKS[check]
    extra = []
    if check == "faithfulness":
        extra = [
            html.Div(
                [
                    html.Label("Show the picture with this share of pixels", className="hint"),
                    dbc.RadioItems(
                        id="trust-k-mode",
                        value="deletion",
                        inline=True,
                        options=[
                            {"label": "deleted", "value": "deletion"},
                            {"label": "revealed", "value": "insertion"},
                        ],
                    ),
                    dcc.Slider(id="trust-k", min=0, max=100, step=5, value=20, marks={0: "0%", 50: "50%", 100: "100%"}),
                    html.Img(
                        id="trust-k-image",
                        className="scrubber-image",
                        alt="the picture with part of its pixels deleted in the map's order",
                    ),
                ],
                id="trust-scrubber",
                style=HIDDEN,
            )
        ]
    return html.Div(
        [
            html.P(explanation, className="hint mt-2"),
            dbc.Button(button, id={"type": "trust-run", "check": check}, n_clicks=0, color="primary", size="sm"),
            *LONG_JOB.layout(check, progress_class="card-progress mt-2"),
            html.Div(id={"type": "trust-out", "check": check}, className="mt-2", role="status"),
            html.Div(
                dcc.Graph(
                    id={"type": "trust-figure", "check": check}, config={"displayModeBar": False, "responsive": True}
                ),
                id={"type": "trust-figure-box", "check": check},
                style=HIDDEN,
            ),
            *extra,
        ]
    )


def trust_button(card: str) -> dbc.Button:
    return dbc.Button(
        "Can I trust this map?",
        id={"type": "card-trust", "card": card},
        n_clicks=0,
        size="sm",
        color="link",
        className="trust-link",
    )


# ---- opening the panel ----------------------------------------------------------------------------
@callback(
    Output("trust-spec", "data"),
    Output("trust-modal", "is_open"),
    Output("trust-title", "children"),
    Output("trust-about", "children"),
    Output("trust-tabs", "active_tab"),
    Output("trust-reveal", "n_clicks"),
    Output("trust-box", "data"),
    Output({"type": "trust-tab", "check": "stability"}, "disabled"),
    Input({"type": "card-trust", "card": ALL}, "n_clicks"),
    State("page", "data"),
    prevent_initial_call=True,
)
def open_panel(clicks, page_data):
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks or []):
        raise PreventUpdate
    slot, _, method = str(trigger.get("card", "")).partition("-")
    known = {m["name"]: m for m in service().methods()}
    if method not in known or slot not in {"a", "b"}:
        raise PreventUpdate
    info = known[method]
    titles = {m["name"]: m["title"] for m in service().models(client_id())}
    which = Page.from_store(page_data).model_for(slot)
    title = f"Can I trust this map? {info['title']} on {titles.get(which, which)}"
    spec = {"method": method, "slot": slot}
    return spec, True, title, about(info), "about", 0, None, not info.get("seeded")


def about(info: dict) -> list:
    """The method card in plain words."""
    card = info.get("card") or {}
    parts = [html.P(info["description"])]
    if card:
        parts += [
            html.H3("What it computes", className="h6 mt-2"),
            html.P(card["computes"]),
            html.H3("How to read the colours", className="h6"),
            html.P(card["colours"]),
            html.H3("Good for", className="h6"),
            html.P(card["good_for"]),
            html.H3("Pitfalls", className="h6"),
            html.Ul([html.Li(p) for p in card["pitfalls"]]),
            html.P(
                ["Paper: ", html.A(info["paper"], href=card["paper_url"], target="_blank", rel="noopener noreferrer")]
            ),
        ]
    else:
        parts.append(html.P(f"Paper: {info['paper']}"))
    return parts


def _which(spec: dict, page: Page) -> tuple[str | None, str | None]:
    """(model, layer) of the card the panel was opened from."""
    return page.model_for(spec.get("slot")), page.layer_for(spec.get("slot"))


# ---- where the map looks ----------------------------------------------------------------------------
@callback(
    Output("trust-box", "data", allow_duplicate=True),
    Input("trust-where-graph", "relayoutData"),
    State("trust-box", "data"),
    prevent_initial_call=True,
)
def remember_box(relayout, box):
    """The last rectangle drawn on the picture, in display pixels (x0, y0, x1, y1)."""
    if not isinstance(relayout, dict):
        raise PreventUpdate
    shapes = relayout.get("shapes")
    if isinstance(shapes, list):
        rects = [s for s in shapes if isinstance(s, dict) and s.get("type") == "rect"]
        if not rects:
            return None
        shape = rects[-1]
        values = [shape.get(k) for k in ("x0", "y0", "x1", "y1")]
    else:
        edits = {k.split(".")[-1]: v for k, v in relayout.items() if k.startswith("shapes[")}
        if not edits or not isinstance(box, list):
            raise PreventUpdate
        values = [edits.get(k, old) for k, old in zip(("x0", "y0", "x1", "y1"), box)]
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        raise PreventUpdate from None


@callback(
    Output("trust-where-graph", "figure"),
    Output("trust-where-info", "children"),
    Output("trust-where-hint", "children"),
    Output("trust-reveal", "style"),
    Input("trust-spec", "data"),
    Input("trust-reveal", "n_clicks"),
    Input("trust-box", "data"),
    State("page", "data"),
)
def where(spec, reveal, box, page_data):
    page = Page.from_store(page_data)
    key = page.image_key
    if not isinstance(spec, dict) or not key:
        return message_figure("Pick a picture first."), "", "", HIDDEN
    svc = service()
    which, layer_here = _which(spec, page)
    truth = svc.ground_truth(key)
    revealed = truth is not None or bool(reveal)
    hint = (
        "This demo picture comes with the object's true outline (white line): the map is scored against it."
        if truth is not None
        else "A game: where do you think the model looks? Draw a box on the picture (the box tool is in the "
        "graph's top-right corner, or just drag), then press “Reveal the map”."
    )
    shape = svc.display_shape(svc.image(key).shape)
    try:
        job = svc.request_map(
            key,
            which,
            spec["method"],
            target=page.class_for(spec.get("slot")).target,
            layer=layer_here,
            weights=page.weights_for(spec.get("slot")),
            session=page.session_id,
        )
        if not job.wait(LONG_JOB.inline_wait):
            return (
                message_figure("The map is still being computed; open this tab again in a moment."),
                "",
                hint,
                HIDDEN,
            )
        result = job.outcome()
        levels, _ = svc.display_levels(key, result)
    except Exception as error:  # noqa: BLE001 - plain words, the server stays up
        return message_figure("No map to score."), html.Div(describe_error(error), className="card-error"), hint, HIDDEN
    figure = overlay_figure(
        f"/image/{key}/display.jpg", levels, colormap=page.colormap or "viridis", opacity=0.6 if revealed else 0.0
    )
    figure.update_layout(dragmode="drawrect", newshape=dict(line=dict(color="#ff922b", width=3)), height=420)
    lines = []
    if truth is not None:
        add_outline(figure, _resize_mask(truth, shape))
        lines.append(_score_line("the true outline", localization(result, truth=truth)))
    if box:
        add_box(figure, box)
        if revealed:
            lines.append(_score_line("your box", localization(result, box=box, box_shape=shape)))
        else:
            lines.append(html.P("Box drawn. Press “Reveal the map” to see how close you were."))
    elif truth is None and reveal:
        lines.append(html.P("Draw a box first to get a score; the map is shown anyway."))
    return figure, lines, hint, HIDDEN if truth is not None else {}


def _resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)


def _score_line(against: str, scores: dict) -> html.Div:
    said = verdict("localization", scores)
    hit = said["verdict"] == "hit"
    return html.Div(
        [
            html.Strong(f"Against {against}: "),
            html.Span(
                "the map's peak falls inside ✔" if hit else "the map's peak falls outside ✘",
                className="score-hit" if hit else "score-miss",
            ),
            html.Span(
                f" · {scores['energy_in_mask']:.0%} of the map's weight lies inside, which covers "
                f"{scores['area']:.0%} of the picture"
                + (
                    " (better than spread evenly)"
                    if said["energy"]["verdict"] == "better"
                    else " (no better than spread evenly)"
                )
            ),
        ],
        className="score-line",
    )


# ---- the long checks ------------------------------------------------------------------------------
def _check_outputs(allow_duplicate: bool = False) -> list[Output]:
    """The check's own outputs (words, figure, figure box), then the long-job widget's."""
    own = [
        Output({"type": kind, "check": MATCH}, prop, allow_duplicate=allow_duplicate)
        for kind, prop in (("trust-out", "children"), ("trust-figure", "figure"), ("trust-figure-box", "style"))
    ]
    return own + LONG_JOB.outputs(allow_duplicate)


@callback(
    *_check_outputs(),
    Input({"type": "trust-run", "check": MATCH}, "n_clicks"),
    Input("trust-spec", "data"),
    State("page", "data"),
    LONG_JOB.job_state(),
    prevent_initial_call=True,
)
def run_check(clicks, spec, page_data, previous):
    check = ctx.outputs_list[0]["id"]["check"]
    page = Page.from_store(page_data)
    svc = service()
    if isinstance(previous, str):
        LONG_JOB.withdraw(previous, "A newer check replaced this one.")
    if ctx.triggered_id == "trust-spec" or not clicks:  # the panel (re)opened: what was computed before, or nothing
        return _shown_from_cache(check, spec, page)
    if not isinstance(spec, dict) or not page.image_key:
        return "Pick a picture first.", {}, HIDDEN, *LONG_JOB.ended()
    which, layer_here = _which(spec, page)
    try:
        slot = spec.get("slot")
        job = svc.request_check(
            check,
            page.image_key,
            which,
            spec["method"],
            target=page.class_for(slot).target,
            layer=layer_here,
            weights=page.weights_for(slot),
            session=page.session_id,
            client=client_id(),
        )
    except Exception as error:  # noqa: BLE001
        return html.Div(describe_error(error), className="card-error"), {}, HIDDEN, *LONG_JOB.ended()
    if job.wait(LONG_JOB.inline_wait):
        return _check_done(check, job)
    return "", {}, HIDDEN, *LONG_JOB.started(job)


def _shown_from_cache(check: str, spec, page: Page) -> tuple:
    """A check's outputs for a card whose check already ran (cached: shown at once, never recomputed), else
    empty, so reopening the panel keeps its results and another card's are never shown."""
    empty = ("", {}, HIDDEN, *LONG_JOB.ended())
    if not isinstance(spec, dict) or not page.image_key:
        return empty
    which, layer_here = _which(spec, page)
    try:
        slot = spec.get("slot")
        result = service().cached_check(
            check,
            page.image_key,
            which,
            spec.get("method"),
            target=page.class_for(slot).target,
            layer=layer_here,
            weights=page.weights_for(slot),
        )
        if result is None:
            return empty
        text, figure = RENDER[check](result)
    except Exception:  # noqa: BLE001 - a cached result that cannot be shown is simply not shown
        return empty
    return text, figure, SHOWN, *LONG_JOB.ended()


@callback(
    *_check_outputs(allow_duplicate=True),
    LONG_JOB.poll_input(),
    LONG_JOB.job_state(),
    prevent_initial_call=True,
)
def poll_check(_ticks, job_id):
    check = ctx.outputs_list[0]["id"]["check"]
    job = LONG_JOB.lookup(job_id)
    if job is None:
        return "This check's job is gone (the server restarted?). Run it again.", {}, HIDDEN, *LONG_JOB.ended()
    if job.stopped_for(client_id()) is not None:
        return stopped_words(job, client_id()), {}, HIDDEN, *LONG_JOB.ended()
    if not job.done:
        return no_update, no_update, no_update, *LONG_JOB.running(job)
    return _check_done(check, job)


def _check_done(check: str, job) -> tuple:
    try:
        result = job.outcome()
        text, figure = RENDER[check](result)
    except Exception as error:  # noqa: BLE001
        return html.Div(describe_error(error), className="card-error"), {}, HIDDEN, *LONG_JOB.ended()
    return text, figure, SHOWN, *LONG_JOB.ended()


def render_sanity(result: dict) -> tuple[list, object]:
    steps = result["steps"]
    maps = [result["original"], *[s["heatmap"] for s in steps], result["random_logit"]["heatmap"]]
    titles = ["original", *[f"↓ {s['layer']}" for s in steps], f"class: {result['random_logit']['label'][:18]}"]
    captions = [
        "",
        *[f"ρ {s['rank_correlation']:.2f} · SSIM {s['ssim']:.2f}" for s in steps],
        f"ρ {result['random_logit']['rank_correlation']:.2f}",
    ]
    figure = strip_figure(maps, titles, captions, columns=6)
    said = verdict("sanity", result)
    last = said["score"]
    steps_text = (
        f"Weights were randomized in {len(steps)} steps from the top layer down "
        f"({result['weighted_layers']} layers with weights); each title names the lowest layer randomized "
        f"so far. ρ = rank correlation with the original map."
    )
    if said["verdict"] == "meaningless":
        return [
            html.P(MEANINGLESS[said["reason"]], className="score-miss"),
            html.P(steps_text, className="hint"),
        ], figure
    words = {
        "pass": (
            f"Passes: once every weight is random, the map no longer resembles the original (rank "
            f"correlation {last:.2f}). The map depends on what the model learned.",
            "score-hit",
        ),
        "fail": (
            f"Warning: even with every weight random the map still resembles the original (rank correlation "
            f"{last:.2f}). It shows the picture (edges, contrast) more than the model's reasoning — the "
            f"failure Adebayo et al. (2018) found for guided backprop.",
            "score-miss",
        ),
        "unclear": (
            f"Unclear: with every weight random the map keeps some resemblance (rank correlation {last:.2f}).",
            "",
        ),
    }[said["verdict"]]
    other = result["random_logit"]
    class_text = (
        f"The map for a random other class ({other['label']}) has rank correlation "
        f"{other['rank_correlation']:.2f} with this one"
        + (
            ": the map hardly depends on the class asked about."
            if said["random_class"]["verdict"] == "fail"
            else ": the map does depend on the class."
        )
    )
    return [html.P(words[0], className=words[1]), html.P(class_text), html.P(steps_text, className="hint")], figure


# why a sanity check gives no verdict (service.trust.verdict's "reason")
MEANINGLESS = {
    "random_weights": "No verdict: this model's weights are random to begin with, so there is nothing learned for "
    "the randomization to destroy and the check cannot tell anything here. Run it on trained "
    "weights.",
    "empty_map": "No verdict: the map was empty (the same value everywhere) before any weight was randomized, so "
    "the check cannot judge it. Try a later layer or another method.",
}


# how the page words a curve's verdict against random maps (service.trust.verdict decides it)
AGAINST_CHANCE = {
    "better": ("better than random maps", "score-hit"),
    "worse": ("worse than random maps", "score-miss"),
    "chance": ("no better than random maps", "score-miss"),
}


def render_faithfulness(result: dict) -> tuple[list, object]:
    lines = []
    said = verdict("faithfulness", result)
    for mode, better in (("deletion", "lower"), ("insertion", "higher")):
        curve = result[mode]
        words, css = AGAINST_CHANCE[said[mode]["verdict"]]
        lines.append(
            html.P(
                [
                    html.Strong(f"{mode.capitalize()}: "),
                    f"area {curve['auc']:.3f} against {curve['random_auc']:.3f} ± {curve['random_std']:.3f} "
                    f"for random maps ({better} is better) — ",
                    html.Span(words, className=css),
                ]
            )
        )
    fills = {"blur": "a blurred copy of the picture", "grey": "grey", "mean": "the picture's mean colour"}
    lines.append(
        html.P(
            f"Deleted pixels are replaced by {fills.get(result['deletion']['fill'], 'a fill')}; "
            f"insertion starts from {fills.get(result['insertion']['fill'], 'a fill')}. Blur rather "
            f"than grey: grey speckles alone confuse a model, so random maps would look good. "
            f"The class is {result['label']} ({result['target']}).",
            className="hint",
        )
    )
    return lines, curves_figure(result)


def render_stability(result: dict) -> tuple[list, object]:
    maps = [*result["maps"], result["mean"], result["std"]]
    titles = [*[f"seed {s}" for s in result["seeds"]], "mean", "spread (std)"]
    figure = strip_figure(maps, titles, columns=len(maps))
    agreement = result["agreement"]
    words = {"high": "very repeatable", "medium": "fairly repeatable", "low": "not repeatable"}[
        verdict("stability", result)["verdict"]
    ]
    text = [
        html.P(
            f"Agreement between runs: {agreement:.2f} (mean rank correlation; 1 = identical) — {words}. "
            f"Bright pixels in the spread map are the ones chance decides; more samples shrink it."
        )
    ]
    return text, figure


RENDER = {"sanity": render_sanity, "faithfulness": render_faithfulness, "stability": render_stability}


# ---- the scrubber: the picture at k % deleted or revealed --------------------------------------------
@callback(
    Output("trust-k-image", "src"),
    Output("trust-scrubber", "style"),
    Output({"type": "trust-figure", "check": "faithfulness"}, "figure", allow_duplicate=True),
    Input("trust-k", "value"),
    Input("trust-k-mode", "value"),
    Input(LONG_JOB.id("job", "faithfulness"), "data"),
    State({"type": "trust-figure", "check": "faithfulness"}, "figure"),
    State("trust-spec", "data"),
    State("page", "data"),
    prevent_initial_call=True,
)
def scrub(k, mode, job, figure, spec, page_data):
    page = Page.from_store(page_data)
    if job is not None or not isinstance(spec, dict) or not page.image_key or not figure or not figure.get("data"):
        return no_update, HIDDEN, no_update
    which, layer_here = _which(spec, page)
    target = page.class_for(spec.get("slot")).target
    k = min(100, max(0, int(k or 0)))
    query = {
        "image": page.image_key,
        "model": which,
        "method": spec["method"],
        "target": "" if target is None else target,
        "layer": layer_here or "",
        "weights": page.weights_for(spec.get("slot")) or "",
        "mode": mode if mode in {"deletion", "insertion"} else "deletion",
        "k": k,
    }
    shapes = [
        {
            "type": "line",
            "x0": k,
            "x1": k,
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"color": "#495057", "dash": "dot"},
        }
    ]
    figure = {**figure, "layout": {**figure.get("layout", {}), "shapes": shapes}}
    return "/trust/perturbed.png?" + urlencode(query), SHOWN, figure
