"""Pure figure builders: arrays and settings in, Plotly figures out (no Dash, no TensorFlow)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

COLORMAPS = {"viridis": "Viridis", "inferno": "Inferno", "jet": "Jet", "gray": "gray"}
DIVERGING = "RdBu_r"  # blue = against the class, red = for it
OVERLAY_HEIGHT = 300
CARD_WIDTH = 380  # typical width of a card's figure in pixels, to size its height to the picture


def overlay_figure(
    image_src: str,
    levels: np.ndarray,
    *,
    colormap: str = "viridis",
    signed: bool = False,
    opacity: float = 0.5,
    title: str = "",
) -> go.Figure:
    """The picture (by URL) with a heatmap layer over it; ``levels`` is uint8 (H, W) at display size.

    One figure: a layout image for the photo and a heatmap trace for the map, so the opacity of the
    map can be changed in the browser without a new figure from the server.
    """
    height, width = levels.shape
    if signed:
        ends = ("← against the class", "for the class →")
        colorscale = DIVERGING
    else:
        ends = ("← less important", "more important →")
        colorscale = COLORMAPS.get(colormap, "Viridis")
    # colour bar under the picture, so the picture gets the card's whole width
    heatmap = go.Heatmap(
        z=levels,
        zmin=0,
        zmax=255,
        colorscale=colorscale,
        opacity=float(opacity),
        hoverinfo="skip",
        showscale=True,
        colorbar=dict(
            orientation="h",
            x=0.5,
            xanchor="center",
            y=-0.03,
            yanchor="top",
            thickness=10,
            len=1.0,
            outlinewidth=0,
            showticklabels=False,
            ticks="",
        ),
    )
    figure = go.Figure(heatmap)
    for x, anchor, text in ((0.0, "left", ends[0]), (1.0, "right", ends[1])):  # the colour bar's ends, in words
        figure.add_annotation(
            text=text,
            x=x,
            xanchor=anchor,
            y=0,
            yanchor="top",
            yshift=-24,
            xref="paper",
            yref="paper",
            showarrow=False,
            font=dict(size=12, color="#52606d"),
        )
    figure.add_layout_image(
        source=image_src,
        xref="x",
        yref="y",
        x=-0.5,
        y=-0.5,
        sizex=width,
        sizey=height,
        sizing="stretch",
        layer="below",
        xanchor="left",
        yanchor="top",
    )
    figure.update_xaxes(visible=False, range=[-0.5, width - 0.5], constrain="domain")
    figure.update_yaxes(visible=False, range=[height - 0.5, -0.5], scaleanchor="x", constrain="domain")
    picture_height = CARD_WIDTH * height / width
    figure.update_layout(
        margin=dict(l=0, r=0, t=24 if title else 0, b=54),
        height=int(min(520, max(200, picture_height + 54 + (24 if title else 0)))),
        title=dict(text=title, font=dict(size=13), x=0.01) if title else None,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        dragmode=False,
    )
    return figure


NAME_SHARE = 0.45  # of the top-5 chart's width: the class names, which are clickable like the bars
MIN_BAR_SHARE = 0.03  # of the bars' width: the least a bar is drawn, so that even a 0.0 % bar shows


def predictions_figure(
    predictions: Sequence[tuple[int, str, float]],
    target: int | None = None,
    picked: tuple[str, float | None, int | None] | None = None,
) -> go.Figure:
    """Top-k classes as horizontal bars, most probable on top; the target's bar is highlighted.

    Each row is clickable over its whole width, its class name included: an invisible "row" trace spans the
    name and the bar (Plotly finds the clicked bar by position, so an invisible bar still takes clicks), and
    the visible bars are never narrower than ``MIN_BAR_SHARE``. ``picked``: (name, probability, rank) of a
    target outside the top k, said in words under the bars (probability and rank None where unknown).
    """
    rows = list(predictions)[::-1]
    labels = [f"{name} ({index})" for index, name, _ in rows]
    classes = [index for index, _, _ in rows]
    colours = ["#d9480f" if index == target else "#4263eb" for index in classes]
    top = max(p for _, _, p in rows) * 100 if rows else 100
    span = min(100, max(1.0, top * 1.25))
    names = span * NAME_SHARE / (1 - NAME_SHARE)  # the names' part of the x axis, left of zero
    percents = [f"{p:.1%}" for _, _, p in rows]
    bars = go.Bar(
        x=[max(p * 100, span * MIN_BAR_SHARE) for _, _, p in rows],
        y=labels,
        orientation="h",
        marker_color=colours,
        customdata=classes,
        text=percents,
        textposition="outside",
        cliponaxis=False,
        hovertemplate="%{y}: %{text}<extra>click to explain this class</extra>",
        name="probability",
    )
    row = go.Bar(
        # ends a little short of the axis's right end: a bar past it by a rounding error has its text hidden
        x=[names + span * 0.999] * len(rows),
        base=-names,
        y=labels,
        orientation="h",
        customdata=classes,
        marker=dict(color="rgba(0,0,0,0)"),
        text=labels,
        textposition="inside",
        insidetextanchor="start",
        textfont=dict(color=["#d9480f" if index == target else "#1f2933" for index in classes], size=13),
        constraintext="none",
        hovertemplate="%{y}<extra>click to explain this class</extra>",
        name="class",
    )
    figure = go.Figure([bars, row])
    height = 220
    if picked is not None:
        name, probability, rank = picked
        standing = (
            f" — {probability:.1%}, rank {rank}"
            if probability is not None and rank is not None
            else " — not among the top 5"
        )
        figure.add_annotation(
            text=f"picked: {name}{standing}",
            x=0,
            xanchor="left",
            xref="paper",
            y=0,
            yref="paper",
            yanchor="top",
            yshift=-34,
            showarrow=False,
            font=dict(size=13, color="#d9480f"),
        )
        height += 24
    figure.update_layout(
        margin=dict(l=0, r=52, t=8, b=30 + (24 if picked else 0)),
        height=height,  # r: "100.0%"
        xaxis=dict(range=[-names, span], fixedrange=True, title="probability (%)", tickvals=_ticks(span)),
        yaxis=dict(fixedrange=True, showticklabels=False),
        barmode="overlay",
        showlegend=False,
        uniformtext=dict(minsize=11, mode="show"),
        bargap=0.25,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        clickmode="event",
    )
    return figure


def _ticks(span: float) -> list[float]:
    """Round tick values from 0 to ``span`` (none left of 0, where the class names are)."""
    step = next(step for step in (0.5, 1, 2, 5, 10, 25) if span / step <= 5)
    return [round(step * i, 1) for i in range(int(span // step) + 1)]


MESSAGE_WIDTH = 38  # characters a line: a message fits the narrowest chart (a 1024-pixel projector's column)


def wrapped(message: str, width: int = MESSAGE_WIDTH) -> str:
    """``message`` broken into lines (Plotly's <br>) at word boundaries: an annotation never wraps itself,
    so a long sentence ran past the chart's edges and was cut."""
    return "<br>".join(textwrap.wrap(message, width)) or message


def message_figure(message: str, height: int = OVERLAY_HEIGHT) -> go.Figure:
    """An empty figure that says something (waiting for a picture, an error...)."""
    figure = go.Figure()
    figure.add_annotation(
        text=wrapped(message),
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font=dict(size=14, color="#555"),
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(
        margin=dict(l=0, r=0, t=0, b=0), height=height, paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)"
    )
    return figure


def add_outline(
    figure: go.Figure, mask: np.ndarray, name: str = "the object's true outline", colour: str = "#ffffff"
) -> go.Figure:
    """Draw the edge of a boolean ``mask`` (at the figure's display size) as a line over the map."""
    figure.add_trace(
        go.Contour(
            z=np.asarray(mask, np.float32),
            contours=dict(start=0.5, end=0.5, size=1, coloring="none"),
            line=dict(color=colour, width=2),
            showscale=False,
            hoverinfo="skip",
            name=name,
            showlegend=False,
        )
    )
    return figure


MAX_POINTS = 2000  # dots drawn at most (the strongest first): more would hide the picture and slow the browser


def add_points(
    figure: go.Figure,
    points: Sequence[Sequence[float]],
    grid: Sequence[int],
    shape: Sequence[int],
    name: str = "fixations",
) -> go.Figure:
    """Draw ``points`` (row, column) of a ``grid`` (height, width) — a method's points in ``meta`` — as dots
    over an overlay figure whose map is ``shape`` (height, width) display pixels."""
    rows, cols = np.asarray(points, np.float64)[:MAX_POINTS].reshape(-1, 2).T
    scale_y, scale_x = shape[0] / grid[0], shape[1] / grid[1]
    figure.add_trace(
        go.Scatter(
            x=(cols + 0.5) * scale_x - 0.5,
            y=(rows + 0.5) * scale_y - 0.5,
            mode="markers",
            marker=dict(size=5, color="#ffffff", line=dict(color="#212529", width=1)),
            hoverinfo="skip",
            name=name,
            showlegend=False,
        )
    )
    return figure


def add_box(figure: go.Figure, box: Sequence[float], colour: str = "#ff922b") -> go.Figure:
    """Show a drawn box (x0, y0, x1, y1 in display pixels) on an overlay figure."""
    x0, y0, x1, y1 = box
    figure.add_shape(type="rect", x0=x0, y0=y0, x1=x1, y1=y1, line=dict(color=colour, width=3))
    return figure


def strip_figure(
    maps: Sequence[np.ndarray],
    titles: Sequence[str],
    captions: Sequence[str] | None = None,
    colormap: str = "viridis",
    columns: int = 5,
) -> go.Figure:
    """Small maps side by side (each scaled to its own 99th percentile of |values|), titled above and
    captioned below: the sanity-check cascade, or the maps of several seeds."""
    from plotly.subplots import make_subplots

    count = max(1, len(maps))
    columns = min(columns, count)
    rows = (count + columns - 1) // columns
    figure = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=list(titles),
        horizontal_spacing=0.02,
        vertical_spacing=0.12 if rows > 1 else 0.02,
    )
    for i, heatmap in enumerate(maps):
        values = np.abs(np.asarray(heatmap, np.float32))
        scale = float(np.percentile(values, 99)) or float(values.max()) or 1.0
        figure.add_trace(
            go.Heatmap(
                z=np.clip(values / scale, 0, 1),
                zmin=0,
                zmax=1,
                showscale=False,
                colorscale=COLORMAPS.get(colormap, "Viridis"),
                hoverinfo="skip",
            ),
            row=i // columns + 1,
            col=i % columns + 1,
        )
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", constrain="domain")
    for i in range(count):
        axis = "" if i == 0 else str(i + 1)
        figure.update_layout({f"yaxis{axis}": dict(scaleanchor=f"x{axis}")})
    for i, caption in enumerate(captions or []):
        axis = "" if i == 0 else str(i + 1)
        figure.add_annotation(
            text=caption,
            xref=f"x{axis} domain",
            yref=f"y{axis} domain",
            x=0.5,
            y=-0.02,
            yanchor="top",
            showarrow=False,
            font=dict(size=11, color="#334"),
        )
    for annotation in figure.layout.annotations[:count]:
        annotation.font = dict(size=11)
    figure.update_layout(
        height=150 * rows + 40,
        margin=dict(l=4, r=4, t=28, b=24),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def curves_figure(curves: dict, k: float | None = None) -> go.Figure:
    """Deletion and insertion curves (class probability against the share of pixels removed or
    revealed), with each curve's area and the random-map area in the legend; ``k`` marks the scrubber."""
    figure = go.Figure()
    styles = {"deletion": ("#d9480f", "deleted"), "insertion": ("#2b8a3e", "revealed")}
    for mode, (colour, verb) in styles.items():
        curve = curves.get(mode)
        if not curve:
            continue
        x = (np.asarray(curve["fractions"], np.float64) * 100).round(2).tolist()  # plain lists: 21 points
        figure.add_trace(
            go.Scatter(
                x=x,
                y=np.asarray(curve["probabilities"], np.float64).tolist(),
                mode="lines+markers",
                line=dict(color=colour),
                name=f"{mode}: area {curve['auc']:.3f} (random maps {curve['random_auc']:.3f})",
                hovertemplate=f"%{{x:.0f}}% {verb}: probability %{{y:.3f}}<extra>{mode}</extra>",
            )
        )
    if k is not None:
        figure.add_vline(x=float(k), line=dict(color="#495057", dash="dot"))
    figure.update_layout(
        height=300,
        margin=dict(l=50, r=10, t=10, b=40),
        xaxis_title="% of pixels (most important first)",
        yaxis_title="class probability",
        yaxis=dict(rangemode="tozero"),
        legend=dict(orientation="h", y=-0.25),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure
