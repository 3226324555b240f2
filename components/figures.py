"""Pure figure builders: arrays and settings in, Plotly figures out (no Dash, no TensorFlow)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

COLORMAPS = {"viridis": "Viridis", "inferno": "Inferno", "jet": "Jet", "gray": "gray"}
DIVERGING = "RdBu_r"  # blue = against the class, red = for it
OVERLAY_HEIGHT = 300
CARD_WIDTH = 380  # typical width of a card's figure in pixels, to size its height to the picture


def overlay_figure(image_src: str, levels: np.ndarray, *, colormap: str = "viridis", signed: bool = False,
                   opacity: float = 0.5, title: str = "") -> go.Figure:
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
    heatmap = go.Heatmap(z=levels, zmin=0, zmax=255, colorscale=colorscale, opacity=float(opacity),
                         hoverinfo="skip", showscale=True,
                         colorbar=dict(orientation="h", x=0.5, xanchor="center", y=-0.03, yanchor="top",
                                       thickness=10, len=1.0, outlinewidth=0, showticklabels=False, ticks=""))
    figure = go.Figure(heatmap)
    for x, anchor, text in ((0.0, "left", ends[0]), (1.0, "right", ends[1])):  # the colour bar's ends, in words
        figure.add_annotation(text=text, x=x, xanchor=anchor, y=0, yanchor="top", yshift=-24, xref="paper",
                              yref="paper", showarrow=False, font=dict(size=12, color="#52606d"))
    figure.add_layout_image(source=image_src, xref="x", yref="y", x=-0.5, y=-0.5, sizex=width, sizey=height,
                            sizing="stretch", layer="below", xanchor="left", yanchor="top")
    figure.update_xaxes(visible=False, range=[-0.5, width - 0.5], constrain="domain")
    figure.update_yaxes(visible=False, range=[height - 0.5, -0.5], scaleanchor="x", constrain="domain")
    picture_height = CARD_WIDTH * height / width
    figure.update_layout(margin=dict(l=0, r=0, t=24 if title else 0, b=54),
                         height=int(min(520, max(200, picture_height + 54 + (24 if title else 0)))),
                         title=dict(text=title, font=dict(size=13), x=0.01) if title else None,
                         paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", dragmode=False)
    return figure


def predictions_figure(predictions: Sequence[tuple[int, str, float]], target: int | None = None) -> go.Figure:
    """Top-k classes as horizontal bars, most probable on top; the target's bar is highlighted."""
    rows = list(predictions)[::-1]
    labels = [f"{name} ({index})" for index, name, _ in rows]
    colours = ["#d9480f" if index == target else "#4263eb" for index, _, _ in rows]
    bars = go.Bar(x=[p * 100 for _, _, p in rows], y=labels, orientation="h", marker_color=colours,
                  customdata=[index for index, _, _ in rows], text=[f"{p:.1%}" for _, _, p in rows],
                  textposition="auto", hovertemplate="%{y}: %{x:.1f}%<extra>click to explain this class</extra>")
    figure = go.Figure(bars)
    top = max(p for _, _, p in rows) * 100 if rows else 100
    figure.update_layout(margin=dict(l=0, r=10, t=8, b=30), height=220, xaxis_title="probability (%)",
                         xaxis=dict(range=[0, min(100, max(1.0, top * 1.25))], fixedrange=True), yaxis=dict(fixedrange=True, automargin=True),
                         paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", clickmode="event")
    return figure


def message_figure(message: str, height: int = OVERLAY_HEIGHT) -> go.Figure:
    """An empty figure that says something (waiting for a picture, an error...)."""
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                          font=dict(size=14, color="#555"))
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(margin=dict(l=0, r=0, t=0, b=0), height=height, paper_bgcolor="rgba(0,0,0,0)",
                         plot_bgcolor="rgba(0,0,0,0)")
    return figure
