"""The set view: check a model on many pictures at once. Upload many files or one zip (with labels.csv,
boxes.csv, masks/ if any; sent by ``components/set_upload.py``'s route, not a callback) or start a demo set; a progress bar with the time left, cancel and resume;
the mean maps and a summary in words; a table (dash-ag-grid: sort, filter, pages) of every picture with
its map and scores. A click on a row opens that picture in the main view with all its cards."""

from __future__ import annotations

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html, no_update

from components import set_upload
from components.common import alert, client_id, error_alert, service
from components.registry import callback

DEMO_SETS = {
    "set-demo-hans": ("clever_hans", "shapes_clever_hans", "Clever Hans demo set"),
    "set-demo-honest": ("shapes", "shapes", "honest Shapes demo set"),
}
PAGE_SIZE = 20
EMPTY_LINE = "No set yet: drop pictures or one .zip above, or start a demo set."
OUTSIDE_FIRST = [{"colId": "outside", "sort": "desc"}]


def _percent(field: str, heading: str, tip: str) -> dict:
    return {
        "field": field,
        "headerName": heading,
        "headerTooltip": tip,
        "filter": "agNumberColumnFilter",
        "valueFormatter": {"function": "params.value == null ? '' : Math.round(params.value * 100) + ' %'"},
        "width": 120,
    }


COLUMNS = [
    {"field": "picture", "headerName": "picture", "cellRenderer": "SetThumbnail", "width": 84, "sortable": False},
    {"field": "map", "headerName": "map", "cellRenderer": "SetThumbnail", "width": 84, "sortable": False},
    {"field": "name", "headerName": "name", "filter": "agTextColumnFilter", "width": 150},
    {"field": "label", "headerName": "label", "filter": "agTextColumnFilter", "width": 110},
    {"field": "prediction", "headerName": "prediction", "filter": "agTextColumnFilter", "width": 110},
    _percent("confidence", "confidence", "The model's probability for its prediction."),
    {"field": "correct", "headerName": "right?", "width": 90, "filter": True},
    _percent("energy_in_region", "map on the object", "Share of the map on the object (box or mask)."),
    {"field": "pointing_game", "headerName": "peak on object", "width": 110, "filter": True},
    _percent("border_share", "map on the border", "Share of the map on the outer 10 % band of the picture."),
    _percent("concentration", "concentration", "Share of the map in its brightest tenth of pixels."),
    _percent("outside", "looks outside the object", "Off the object (or on the border when no object is given)."),
    {"field": "retried", "headerName": "retried", "headerTooltip": "Its worker stopped; computed again.", "width": 90},
]


def layout(models: list[dict], default_model: str) -> dbc.Card:
    """The set view's card: placed below the main view by components/layout.py."""
    options = [{"label": m["title"], "value": m["name"]} for m in models]
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("A set of pictures", className="step-title"),
                html.P(
                    "Does the model look at the right thing in general? Drop many pictures or one .zip "
                    "(optionally with labels.csv, boxes.csv or a masks/ folder). Each picture gets its Grad-CAM "
                    "map and scores; the mean map shows what sits at the same place in every picture.",
                    className="muted",
                ),
                dbc.Row(
                    [
                        dbc.Col(dcc.Dropdown(id="set-model", options=options, value=default_model, clearable=False)),
                        dbc.Col(
                            [
                                dbc.Button("Clever Hans demo set", id="set-demo-hans", size="sm", className="me-2"),
                                dbc.Button("Honest Shapes demo set", id="set-demo-honest", size="sm", outline=True),
                            ]
                        ),
                    ],
                    className="g-2 mb-2",
                ),
                set_upload.drop_zone(default_model),
                dcc.Store(id="set-uploaded"),  # set by assets/set_upload.js: {"id": ..., "model": ..., "at": ...}
                dcc.Store(id="set-id"),
                dcc.Store(id="set-shown"),
                dcc.Interval(id="set-poll", interval=1000, disabled=True),
                html.Div(id="set-alerts", role="alert"),
                html.Div(
                    [
                        dbc.Progress(id="set-progress", value=0, className="mt-2"),
                        html.Span(id="set-progress-text", className="muted"),
                        dbc.Button("Cancel", id="set-cancel", size="sm", color="secondary", className="ms-2"),
                        dbc.Button("Resume", id="set-resume", size="sm", color="secondary", className="ms-2"),
                    ],
                    id="set-progress-box",
                    hidden=True,
                ),
                html.P(EMPTY_LINE, id="set-empty", className="hint mt-2 mb-0"),
                html.Div(  # hidden until a set is started: an empty table would be a big empty box
                    [
                        html.Ul(id="set-summary", className="mt-2"),
                        html.Div(id="set-means", className="set-means"),
                        dbc.Button(
                            "Sort: looks outside the object first",
                            id="set-sort-outside",
                            size="sm",
                            className="mt-2 mb-2",
                        ),
                        dag.AgGrid(
                            id="set-grid",
                            columnDefs=COLUMNS,
                            rowData=[],
                            defaultColDef={"sortable": True, "resizable": True},
                            dashGridOptions={"pagination": True, "paginationPageSize": PAGE_SIZE, "rowHeight": 56},
                            getRowId="params.data.name",
                            style={"height": "560px"},
                        ),
                    ],
                    id="set-results",
                    hidden=True,
                ),
                html.Ul(id="set-problems", className="muted small"),
            ]
        ),
        className="step set-view",
    )


@callback(
    Output("set-id", "data"),
    Output("set-poll", "disabled"),
    Output("set-shown", "data"),
    Output("set-model", "value"),
    Output("set-alerts", "children"),
    Output("set-results", "hidden"),
    Output("set-empty", "hidden"),
    Input("set-uploaded", "data"),
    Input("set-demo-hans", "n_clicks"),
    Input("set-demo-honest", "n_clicks"),
    prevent_initial_call=True,
)
def on_set(uploaded, _hans, _honest):
    """Follow a set uploaded through ``POST /set-upload`` or start a demo set; its id goes to the page,
    the polling starts."""
    sets = service().sets
    try:
        if ctx.triggered_id in DEMO_SETS:
            kind, model, _title = DEMO_SETS[ctx.triggered_id]
            return sets.start_demo(kind, model, client=client_id()), False, 0, model, None, False, True
        if not isinstance(uploaded, dict) or not isinstance(uploaded.get("id"), str):
            return (no_update,) * 7
        record = sets.record(uploaded["id"], client_id())  # only this session's own set
        return record["id"], False, 0, record["model"], None, False, True
    except Exception as error:  # noqa: BLE001 - shown in plain words, the server stays up
        return (no_update,) * 4 + (error_alert(error, "The set was not started"), no_update, no_update)


@callback(Output("set-upload-model", "children"), Input("set-model", "value"))
def on_model(model):
    """The model a set dropped next is explained with (read by ``assets/set_upload.js``)."""
    return model or ""


@callback(
    Output("set-progress", "value"),
    Output("set-progress-text", "children"),
    Output("set-progress-box", "hidden"),
    Output("set-summary", "children"),
    Output("set-means", "children"),
    Output("set-grid", "rowData"),
    Output("set-problems", "children"),
    Output("set-shown", "data", allow_duplicate=True),
    Output("set-poll", "disabled", allow_duplicate=True),
    Input("set-poll", "n_intervals"),
    State("set-id", "data"),
    State("set-shown", "data"),
    prevent_initial_call=True,
)
def on_poll(_ticks, set_id, shown):
    """Progress every second; the table, mean maps and summary only when more pictures are done."""
    if not set_id:
        return (no_update,) * 8 + (True,)
    try:
        status = service().sets.status(set_id, client_id())
    except Exception as error:  # noqa: BLE001
        return no_update, str(error), False, no_update, no_update, no_update, no_update, no_update, True
    done, total = status["done"], status["total"]
    text = f" {done} of {total} pictures"
    if status["seconds_left"] is not None:
        text += f" · about {max(1, round(status['seconds_left']))} s left"
    if status["stopped"]:
        text += " · stopped (Resume computes the rest)"
    if status["errors"]:
        text += " · failed: " + "; ".join(status["errors"][:2])
    finished = status["finished"] or status["stopped"] or bool(status["errors"])
    progress = (round(100 * done / total), text, False)
    if done == shown and not finished:
        return (*progress, no_update, no_update, no_update, no_update, no_update, False)
    summary = [html.Li(sentence) for sentence in status["sentences"]]
    means = []
    if status["mean_map"]:
        means.append(html.Figure([html.Img(src=status["mean_map"], width=160), html.Figcaption("mean map")]))
        for name, count, uri in status["class_maps"]:
            means.append(html.Figure([html.Img(src=uri, width=80), html.Figcaption(f"{name} ({count})")]))
    problems = [html.Li(f"left out: {entry}: {reason}") for entry, reason in status["problems"]]
    return (*progress, summary, means, status["rows"], problems, done, finished)


@callback(
    Output("set-alerts", "children", allow_duplicate=True),
    Output("set-poll", "disabled", allow_duplicate=True),
    Input("set-cancel", "n_clicks"),
    Input("set-resume", "n_clicks"),
    State("set-id", "data"),
    prevent_initial_call=True,
)
def on_cancel_or_resume(_cancel, _resume, set_id):
    if not set_id:
        return no_update, no_update
    try:
        if ctx.triggered_id == "set-cancel":
            service().sets.cancel(set_id, client_id())
        else:
            service().sets.resume(set_id, client_id())
    except Exception as error:  # noqa: BLE001
        return error_alert(error), no_update
    return None, False


@callback(
    Output("set-grid", "columnState"),
    Input("set-sort-outside", "n_clicks"),
    prevent_initial_call=True,
)
def on_sort_outside(_clicks):
    """One click: the pictures whose map looks most outside the object first."""
    return OUTSIDE_FIRST


@callback(
    Output("image", "data", allow_duplicate=True),
    Output("upload-name", "children", allow_duplicate=True),
    Output("set-alerts", "children", allow_duplicate=True),
    Input("set-grid", "cellClicked"),
    State("set-grid", "virtualRowData"),
    prevent_initial_call=True,
)
def on_row(clicked, rows):
    """Open the clicked picture in the main view (its key is the picture store's; checked there)."""
    if not isinstance(clicked, dict) or not isinstance(rows, list):
        return no_update, no_update, no_update
    index = clicked.get("rowIndex")
    if not isinstance(index, int) or not 0 <= index < len(rows) or not isinstance(rows[index], dict):
        return no_update, no_update, no_update
    row = rows[index]
    key, name = row.get("key"), str(row.get("name", "picture"))[:120]
    if not isinstance(key, str) or not service().images.has(key):
        return no_update, no_update, alert("That picture is no longer stored; start the set again.", "warning")
    return {"key": key, "name": name}, f"Showing: {name} (from the set)", None
