"""A long method's effort choice on its card: quick / standard / thorough, the time it should take shown
before it starts, and the method's own settings in a panel that stays folded until opened.

The chosen settings live in the card's ``card-settings`` store, which the card's map callback takes as
an input: a new effort, or a changed setting, computes the card anew (the settings are part of the
cache key, so coming back to an earlier choice answers from the cache). The server validates and caps
every value as for any request; what it capped is said on the card in one muted line per setting.
One-pass cards get the store only (empty), so every card has the same inputs.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import ALL, MATCH, Input, Output, State, ctx, dcc, html, no_update

from components.common import service
from components.page_state import Page
from components.registry import callback
from service import describe_error

EFFORTS = {"quick": "Quick", "standard": "Standard", "thorough": "Thorough"}
DEFAULT_EFFORT = "standard"
#: where the page's default differs from the method's (the API keeps a fixed count, repeatable as in the
#: papers; on the page a sampling map stops once it stops changing, its count then the most it may use)
PAGE_DEFAULTS = {"until": "stable"}


def _id(part: str, card: str | Any = MATCH, **more: Any) -> dict:
    return {"type": f"card-{part}", "card": card, **more}


def settings_input() -> Input:
    """The card's chosen settings, for the card's map callback (None: the method's defaults)."""
    return Input(_id("settings"), "data")


def params(settings: Any) -> dict[str, Any] | None:
    """The settings to send with a card's request, from its store (the browser can send anything: the
    service checks every name and value; an empty box means the default)."""
    if not isinstance(settings, dict):
        return None
    return {str(name): value for name, value in settings.items() if value is not None and value != ""} or None


def layout(method: dict, card: str) -> list:
    """The card's settings store, and for a long method (one with efforts) its effort choice, estimate,
    notes and folded settings panel."""
    efforts = method.get("efforts") or {}
    if not efforts:
        return [dcc.Store(id=_id("settings", card))]
    settings = service().method_settings(method["name"])
    values = {name: PAGE_DEFAULTS.get(name, setting["default"]) for name, setting in settings.items()}
    return [
        html.Div(
            [
                html.Div(
                    [
                        html.Span("Effort", className="hint effort-label"),
                        dbc.RadioItems(
                            id=_id("effort", card),
                            value=DEFAULT_EFFORT,
                            inline=True,
                            className="effort-choice",
                            options=[{"label": label, "value": name} for name, label in EFFORTS.items()],
                        ),
                    ],
                    className="effort-row",
                ),
                html.Div(id=_id("estimate", card), className="hint effort-estimate"),
                html.Div(id=_id("setting-notes", card), className="setting-notes"),
                html.Details(
                    [
                        html.Summary("Settings", className="hint"),
                        *[_field(card, name, setting, values[name]) for name, setting in settings.items()],
                        html.Div(
                            "An empty box means the default; a value out of range is capped (the card says so).",
                            className="hint",
                        ),
                    ],
                    className="card-settings-panel",
                ),
                dcc.Store(id=_id("settings", card), data=values),
            ],
            className="effort",
        )
    ]


def _field(card: str, name: str, setting: dict, value: Any) -> html.Div:
    """One setting (at ``value``): a number box, or a choice; its help line as the label's tooltip and below it."""
    field_id = _id("setting", card, name=name)
    if setting["choices"]:
        control = dcc.Dropdown(
            id=field_id,
            options=[{"label": str(c), "value": c} for c in setting["choices"]],
            value=value,
            clearable=False,
            searchable=False,
            className="setting-choice",
        )
    elif isinstance(setting["default"], bool):
        control = dcc.Dropdown(
            id=field_id,
            options=[{"label": "yes", "value": True}, {"label": "no", "value": False}],
            value=value,
            clearable=False,
            searchable=False,
            className="setting-choice",
        )
    else:
        step = 1 if isinstance(setting["default"], int) else "any"
        control = dcc.Input(
            id=field_id,
            type="number",
            value=value,
            step=step,
            debounce=True,
            className="form-control form-control-sm setting-number",
        )
    limits = [
        f"{word} {value:g}"
        for word, value in (("from", setting["minimum"]), ("to", setting["maximum"]))
        if value is not None
    ]
    return html.Div(
        [
            html.Label(name, title=setting["help"], className="setting-name"),
            control,
            html.Div(setting["help"] + (f" ({' '.join(limits)})" if limits else ""), className="hint"),
        ],
        className="setting-field",
    )


def matching_effort(efforts: dict[str, dict], values: dict[str, Any]) -> str | None:
    """The effort whose settings ``values`` has, or None (the settings were changed by hand)."""
    for name, preset in efforts.items():
        if all(values.get(key) == value for key, value in preset.items()):
            return name
    return None


@callback(
    Output(_id("setting", name=ALL), "value"),
    Output(_id("effort"), "value"),
    Output(_id("settings"), "data"),
    Input(_id("effort"), "value"),
    Input(_id("setting", name=ALL), "value"),
    State(_id("setting", name=ALL), "id"),
    State(_id("spec"), "data"),
    State(_id("settings"), "data"),
    prevent_initial_call=True,
)
def choose(effort, values, ids, spec, current):
    """An effort fills in its settings; a setting changed by hand shows which effort it matches (if any).
    The store changes only when the settings do, so the card computes only then."""
    method = next((m for m in service().methods() if isinstance(spec, dict) and m["name"] == spec.get("method")), None)
    unchanged = [no_update] * len(ids)  # a wildcard output takes one value per box
    if method is None or not method["efforts"]:
        return unchanged, no_update, no_update
    names = [item["name"] for item in ids]
    chosen = dict(zip(names, values))
    boxes = unchanged
    by_effort = isinstance(ctx.triggered_id, dict) and ctx.triggered_id.get("type") == "card-effort"
    if by_effort and effort in method["efforts"]:
        chosen.update(method["efforts"][effort])
        boxes = [chosen[name] for name in names]
        shown = no_update
    else:
        shown = matching_effort(method["efforts"], chosen)
    return boxes, shown, chosen if chosen != current else no_update


@callback(
    Output(_id("estimate"), "children"),
    Output(_id("setting-notes"), "children"),
    Input(_id("settings"), "data"),
    Input("page", "data"),
    State(_id("spec"), "data"),
    State(_id("effort"), "value"),
)
def explain_choice(settings, page_data, spec, effort):
    """Before the map starts: how long it should take on this server, and which settings will be capped."""
    if not isinstance(spec, dict):
        return no_update, no_update
    svc = service()
    method = spec.get("method")
    model = Page.from_store(page_data).model_for(spec.get("slot"))
    chosen = params(settings)
    try:
        notes = svc.setting_notes(method, chosen)
        estimate = svc.estimate(model, method, chosen) if model else None
    except Exception as error:  # noqa: BLE001 - a bad value typed in the panel: said in plain words
        return "", html.Div(describe_error(error), className="setting-note card-error", role="alert")
    said = EFFORTS.get(effort, "Your settings") if isinstance(effort, str) else "Your settings"
    bound = "at most " if (chosen or {}).get("until") == "stable" else ""  # it may stop sooner
    words = f"{said}: {bound}{estimate.words()}" if estimate is not None else ""
    return words, [html.Div(note, className="setting-note") for note in notes]
