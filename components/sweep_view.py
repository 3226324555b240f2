"""The layer sweep view: one map (Grad-CAM by default) at every block of the network, as one strip from
the first block to the last, for the main model and, in compare mode, the second one."""

from __future__ import annotations

from dash import Input, Output, html, no_update

from components import layer_views
from components.common import service
from components.page_state import Page
from components.registry import callback
from service import describe_error
from service.results import is_empty
from service.views import request_sweep, thumbnail

METHOD_WORDS = {"grad_cam": "Grad-CAM", "grad_cam_plus_plus": "Grad-CAM++", "layer_cam": "Layer-CAM"}


def layout() -> html.Div:
    return layer_views.panel("sweep", "sweep-method", METHOD_WORDS, [], "sweep-strips")


def _strip(page: Page, slot: str, found: dict, colormap: str) -> html.Div:
    picture = service().model_input(page.image_key, page.model_for(slot))
    tiles = [
        layer_views.tile(
            {"type": "sweep-tile", "slot": slot, "index": i},
            thumbnail(picture, heatmap, colormap, side=160),
            [
                layer,
                f"{resolution[0]}×{resolution[1]}",
                *(["empty: nothing here raises the class"] if is_empty(heatmap) else []),
            ],
            clickable=False,
        )
        for i, (heatmap, layer, resolution) in enumerate(
            zip(found["heatmaps"], found["layers"], found["resolutions"], strict=True)
        )
    ]
    words = (
        f"{METHOD_WORDS.get(found['method'], found['method'])} at {len(tiles)} blocks, first to last · for "
        f"{found['label']} (class {found['target']})"
        + (" · random weights: meaningless" if found.get("random_weights") else "")
    )
    href = layer_views.download_href("sweep", page, slot, method=found["method"])
    return html.Div(
        [
            layer_views.heading(page, slot, words),
            html.Div(tiles, className="view-strip"),
            html.A(
                "Download this strip (PNG)", href=href, download="", className="download", id=f"sweep-download-{slot}"
            ),
        ],
        className="view-block",
    )


@callback(
    Output("sweep-strips", "children"),
    Input("page", "data"),
    Input(layer_views.SECTION, "active_item"),
    Input("sweep-method", "value"),
)
def show_strips(page_data, active, method):
    page = Page.from_store(page_data)
    if not layer_views.is_open(active, "sweep"):
        return no_update
    if not page.image_key or not page.model:
        return layer_views.hint("Upload a picture first.")
    blocks = []
    for slot in layer_views.slots(page):
        try:
            method = method if method in METHOD_WORDS else "grad_cam"
            found = layer_views.result(request_sweep, page, slot, method=method)
            blocks.append(_strip(page, slot, found, page.colormap or "viridis"))
        except Exception as error:  # noqa: BLE001 - shown in words, never a traceback
            blocks.append(html.Div(describe_error(error), className="card-error", role="alert"))
    return blocks
