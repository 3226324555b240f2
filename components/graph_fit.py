"""Graphs that keep their shape when the window is resized (a laptop plugged into a projector).

A responsive Plotly graph fills its container on every resize; a container whose height comes from its
content has none to fill, so after the first resize the plot collapsed to zero height and its picture
spilled over the text below. Here each such graph's container gets the height its figure asks for, in
the browser, whenever the figure changes: the width follows the window, the height stays definite.
"""
from __future__ import annotations

from dash import MATCH, Input, Output

from components.registry import clientside_callback

FIT_HEIGHT = """
function(figure) {
    const height = figure && figure.layout && figure.layout.height;
    if (!height) { return window.dash_clientside.no_update; }
    return {height: height + "px", width: "100%"};
}
"""


def follow_figure_height(graph_id: str | dict) -> None:
    """Give the container of ``graph_id`` (a plain or pattern-matching id) the height of its figure."""
    clientside_callback(FIT_HEIGHT, Output(graph_id, "style"), Input(graph_id, "figure"))


# the graphs of the page whose figures set their own height
follow_figure_height({"type": "card-graph", "card": MATCH})
follow_figure_height({"type": "trust-figure", "check": MATCH})
follow_figure_height("trust-where-graph")
