"""Plain HTTP routes beside the Dash app: pictures by key (so figures reference URLs instead of
carrying image bytes) and downloads (a card's overlay, all cards as a grid, the parameters as JSON).

Every parameter comes from the client, so each is checked against an allow-list and a bad one gets a
404/400 with a plain sentence, never a traceback.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import flask
import numpy as np
from PIL import Image, PngImagePlugin

from components import view_routes
from components.common import SERVICE_KEY
from service import ExplainerError, counterpart_class, describe_error, model_title
from service.card_views import accepts_contrast, contrast_for, report_views

DISPLAY_IMAGE_SIDE = 640
DOWNLOAD_MAX_SIDE = 2048
GRID_TILE = 360  # pixels on a side of each map in the all-maps PNG
GRID_GAP = 16  # white pixels between its maps
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _service():
    return flask.current_app.extensions[SERVICE_KEY]


def _plain(message: str, status: int) -> flask.Response:
    return flask.Response(message + "\n", status=status, mimetype="text/plain")


def _image_response(image: np.ndarray, fmt: str, max_side: int | None = None, **save) -> flask.Response:
    picture = Image.fromarray(image)
    if max_side and max(picture.size) > max_side:
        picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **save)
    response = flask.Response(buffer.getvalue(), mimetype=f"image/{fmt.lower()}")
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"  # a key names fixed content
    return response


def _card_params(args: Any) -> dict[str, Any]:
    def number(name, default, low, high):
        try:
            value = float(args.get(name, default))
        except (TypeError, ValueError):
            raise ExplainerError(f"{name} must be a number.") from None
        return min(high, max(low, value))

    target = args.get("target") or None
    return {
        "key": args.get("image", ""),
        "model": args.get("model", ""),
        "method": args.get("method", ""),
        "weights": args.get("weights") or None,
        "target": int(target) if target and target.isdigit() else target,
        "layer": args.get("layer") or None,
        "colormap": args.get("colormap", "viridis"),
        "mode": "signed" if args.get("mode") == "signed" else "absolute",
        "percentile": number("percentile", 99.0, 50.0, 100.0),
        "opacity": number("opacity", 0.5, 0.0, 1.0),
        "contrast": args.get("contrast") or None,
        "top_k": args.get("top_k") or None,
        "params": {"source": "layer"} if args.get("source") == "layer" else None,
    }


def _map(p: dict[str, Any]):
    """The map the parameters ask for (with ``top_k``: the row's first, the others then cached)."""
    return _service().explain(
        p["key"],
        p["model"],
        p["method"],
        target=p["target"],
        layer=p["layer"],
        weights=p["weights"],
        params=p.get("params"),
        contrast=p.get("contrast"),
        top_k=p.get("top_k"),
    )


def _overlay(p: dict[str, Any], max_side: int = DOWNLOAD_MAX_SIDE, legend: bool = True):
    """A map over its picture; with ``legend``, titled in words and with its colour bar below it."""
    svc = _service()
    result = _map(p)
    picture = svc.overlay(
        p["key"],
        result,
        colormap=p["colormap"],
        opacity=p["opacity"],
        percentile=p["percentile"],
        mode=p["mode"],
        max_side=max_side,
        legend=_title(result) if legend else None,
    )
    return result, picture


def _top_k_row(p: dict[str, Any]):
    """A top-classes card's download: (the first class's map, every class's map over the picture, titled,
    side by side); the row's job caches each class's map, so the tiles come from the cache."""
    svc = _service()
    first = _map(p)
    tiles = []
    for target, _label in first.meta.get("top_k_row") or [[first.target, first.label]]:
        result, picture = _overlay({**p, "target": target, "top_k": None}, max_side=GRID_TILE, legend=False)
        signed = result.signed and p["mode"] == "signed"
        tiles.append(svc.legend(_fit(picture, GRID_TILE), _title(result), p["colormap"], signed))
    return first, _compose(tiles, len(tiles))


def _title(result) -> str:
    """A map's title in words, as a person reads it: "Grad-CAM — Shapes — star"."""
    svc = _service()
    method = next((m["title"] for m in svc.methods() if m["name"] == result.method), result.method)
    return f"{method} — {model_title(result.model)} — {result.meta.get('title') or result.label}"


def _png(picture: np.ndarray, described: Any, title: str) -> bytes:
    """PNG bytes carrying the parameters (text chunk "saliency", JSON) and the title in words ("Title")."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Title", title)
    info.add_text("saliency", json.dumps(described))
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def _describe(result, p: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": result.model,
        "method": result.method,
        "target": result.target,
        "label": result.label,
        "layer": result.layer,
        "params": result.params,
        "weights": p["weights"] or _service().default_weights,
        "display": {k: p[k] for k in ("colormap", "mode", "percentile", "opacity")},
        "image": p["key"],
        "versions": _service().versions(),
    }


def _filename(*parts: Any) -> str:
    return "-".join(_SAFE.sub("_", str(part)).strip("_") for part in parts if part not in (None, ""))


def register_routes(server: flask.Flask) -> None:
    view_routes.register(server)  # the layer views' downloads

    @server.route("/image/<key>/display.jpg")
    def display_image(key: str):
        try:
            return _image_response(_service().image(key), "JPEG", DISPLAY_IMAGE_SIDE, quality=90)
        except ExplainerError as error:
            return _plain(str(error), 404)

    @server.route("/image/<key>/input/<model>.png")
    def model_input_image(key: str, model: str):
        try:
            return _image_response(_service().model_input(key, model), "PNG")
        except ExplainerError as error:
            return _plain(str(error), 404)

    @server.route("/download/card.png")
    def download_card():
        try:
            p = _card_params(flask.request.args)
            result, picture = _top_k_row(p) if p["top_k"] else _overlay(p)
        except Exception as error:  # noqa: BLE001 - everything becomes a plain message
            return _plain(describe_error(error), 400 if isinstance(error, ExplainerError) else 500)
        row = result.meta.get("top_k_row") if p["top_k"] else None
        described = {**_describe(result, p), **({"top_k": row} if row else {})}
        title = f"{_title(result)} — top {len(row)} classes: {', '.join(label for _, label in row)}" if row else None
        data = _png(picture, described, title or _title(result))
        name = _filename(result.method, result.model, result.target, result.label, result.layer) + ".png"
        return flask.Response(
            data, mimetype="image/png", headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    @server.route("/download/grid.png")
    def download_grid():
        try:
            pictures, described = _grid(flask.request.args)
        except Exception as error:  # noqa: BLE001
            return _plain(describe_error(error), 400 if isinstance(error, ExplainerError) else 500)
        first = described[0]
        data = _png(pictures, described, "; ".join(entry["title"] for entry in described))
        name = _filename("saliency-grid", first["model"], first["target"], first["label"]) + ".png"
        return flask.Response(
            data, mimetype="image/png", headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    @server.route("/trust/perturbed.png")
    def perturbed_picture():
        """The model's input picture with k % of its pixels deleted (or revealed) in the map's order:
        the faithfulness scrubber."""
        try:
            p = _card_params(flask.request.args)
            mode = flask.request.args.get("mode", "deletion")[:40]  # the service says what the modes are
            k = _percent(flask.request.args.get("k", "0"))
            picture = _service().perturbed(
                p["key"],
                p["model"],
                p["method"],
                target=p["target"],
                layer=p["layer"],
                weights=p["weights"],
                mode=mode,
                fraction=k / 100,
            )
        except Exception as error:  # noqa: BLE001 - ExplainerError is a ValueError: each says what is wrong
            return _plain(describe_error(error), 400 if isinstance(error, ExplainerError) else 500)
        return _image_response(picture, "PNG")

    @server.route("/download/report.html")
    def download_report():
        """The one-click report: every card's map, its method card and every score known so far."""
        try:
            html_text, name = _report(flask.request.args)
        except Exception as error:  # noqa: BLE001
            return _plain(describe_error(error), 400 if isinstance(error, ExplainerError) else 500)
        return flask.Response(
            html_text, mimetype="text/html", headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    @server.route("/download/params.json")
    def download_params():
        try:
            _, described = _grid(flask.request.args, render=False)
        except Exception as error:  # noqa: BLE001
            return _plain(describe_error(error), 400 if isinstance(error, ExplainerError) else 500)
        name = _filename("saliency", described[0]["model"], described[0]["target"]) + ".json"
        return flask.Response(
            json.dumps(described, indent=2),
            mimetype="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def _percent(text: str) -> float:
    """k, the share of pixels changed: a number from 0 to 100 (NaN and infinities are not numbers here)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 <= value <= 100.0:
        raise ExplainerError(f"k must be a number from 0 to 100 (a percentage of the pixels). Received: {text[:40]!r}.")
    return value


def _grid(args: Any, render: bool = True):
    """Every (model, method) card of the page: pictures tiled, each titled once in words above it with its colour
    bar below it, and their parameters. Compared models are paired as on the page: model A's map of a method
    beside model B's, each model explaining its own class (service.counterpart_class)."""
    methods = [m for m in args.get("methods", "").split(",") if m][:24]
    model, compare = args.get("model", ""), args.get("compare", "")
    if not methods:
        raise ExplainerError("No method is selected, so there is nothing to download.")
    slots = [{"model": model}]
    if compare and compare != model:
        picked = args.get("compare_target") or ""
        target = (
            int(picked) if picked.isdigit() else counterpart_class(model, _card_params(args)["target"], compare).target
        )
        slots.append(
            {
                "model": compare,
                "layer": None,
                "target": "" if target is None else str(target),
                "weights": args.get("compare_weights") or args.get("weights") or "",
            }
        )
    svc = _service()
    tiles, described = [], []
    for method in methods:
        for slot in slots:
            p = _card_params({**args.to_dict(), **slot, "method": method})
            p["contrast"] = contrast_for(model, p["contrast"], p["model"]) if accepts_contrast(method) else None
            if render:
                result, picture = _overlay(p, max_side=GRID_TILE, legend=False)
                title = _title(result)
                tiles.append(
                    svc.legend(_fit(picture, GRID_TILE), title, p["colormap"], result.signed and p["mode"] == "signed")
                )
            else:
                result = svc.explain(
                    p["key"],
                    p["model"],
                    p["method"],
                    target=p["target"],
                    layer=p["layer"],
                    weights=p["weights"],
                    contrast=p["contrast"],
                )
                title = _title(result)
            described.append({"title": title, **_describe(result, p)})
    if not render:
        return None, described
    return _compose(tiles, len(slots) if len(slots) > 1 else min(3, len(tiles))), described


def _compose(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    """Tiles on a white page, ``columns`` to a row, each row's maps lined up at the bottom."""
    rows = -(-len(tiles) // columns)
    height, width = max(tile.shape[0] for tile in tiles), max(tile.shape[1] for tile in tiles)
    step_y, step_x = height + GRID_GAP, width + GRID_GAP
    grid = np.full((rows * step_y - GRID_GAP, columns * step_x - GRID_GAP, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        top = r * step_y + height - tile.shape[0]  # a one-line title sits lower, so the maps of a row line up
        grid[top : top + tile.shape[0], c * step_x : c * step_x + tile.shape[1]] = tile
    return grid


def _report(args: Any) -> tuple[str, str]:
    from service.trust import report_html

    methods = [m for m in args.get("methods", "").split(",") if m][:24]
    if not methods:
        raise ExplainerError("No method is selected, so there is nothing to report.")
    p = _card_params({**args.to_dict(), "method": methods[0]})
    return report_html(
        _service(),
        p["key"],
        p["model"],
        methods,
        target=p["target"],
        layer=p["layer"],
        weights=p["weights"],
        colormap=p["colormap"],
        opacity=p["opacity"],
        percentile=p["percentile"],
        name=args.get("name") or None,
        contrast=p["contrast"],
        views=report_views(args.get("views")),
    )


def _fit(picture: np.ndarray, side: int) -> np.ndarray:
    """Letterbox a picture into a white side × side tile."""
    import cv2

    factor = side / max(picture.shape[:2])
    resized = cv2.resize(
        picture,
        (max(1, round(picture.shape[1] * factor)), max(1, round(picture.shape[0] * factor))),
        interpolation=cv2.INTER_AREA,
    )
    tile = np.full((side, side, 3), 255, np.uint8)
    top, left = (side - resized.shape[0]) // 2, (side - resized.shape[1]) // 2
    tile[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return tile
