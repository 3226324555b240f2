"""Graphs that keep their shape when the window is resized (a laptop plugged into a projector).

A responsive Plotly graph fills its container on every resize; a container whose height comes from its
content has none to fill, so after the first resize the plot collapsed to zero height and its picture
spilled over the text below. Here each such graph's container gets a definite height, in the browser,
whenever its figure changes: the height the figure asks for, or for a picture with a map over it (a card)
the picture's own proportions at the card's current width (CSS container units), so a narrower card gets
a shorter figure instead of empty bands above and below the picture.
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


MAX_PICTURE_HEIGHT = 560  # px: a tall picture on a wide screen still leaves the card's text in view
# the picture's height over its width (from the axes' ranges) times the container's width, plus the margins
FIT_PICTURE = """
function(figure) {
    // A figure can be drawn while its card is still hidden behind the loading spinner, at the height the
    // container had before: once the graph shows, redraw it at its container's height (a few tries).
    function refitWhenShown(id) {
        const domId = typeof id === "string" ? id : JSON.stringify(
            Object.keys(id).sort().reduce((sorted, key) => Object.assign(sorted, {[key]: id[key]}), {}));
        let tries = 0;
        const check = () => {
            const root = document.getElementById(domId);
            const graph = root && root.querySelector(".js-plotly-plot");
            const box = graph && graph.getBoundingClientRect();
            if (graph && graph._fullLayout && box.height > 0 && graph.offsetParent !== null
                    && getComputedStyle(graph).visibility !== "hidden") {
                if (Math.abs(graph._fullLayout.height - box.height) > 1) { window.Plotly.Plots.resize(graph); }
                else if (tries > 2) { return; }
            }
            if (++tries < 60) { setTimeout(check, 250); }
        };
        setTimeout(check, 100);
    }
    const layout = figure && figure.layout;
    if (!layout || !layout.height) { return window.dash_clientside.no_update; }
    const x = layout.xaxis && layout.xaxis.range, y = layout.yaxis && layout.yaxis.range;
    if (!layout.images || !layout.images.length || !x || !y || x[1] === x[0]) {
        return {height: layout.height + "px", width: "100%"};
    }
    refitWhenShown(window.dash_clientside.callback_context.outputs_list.id);
    const ratio = Math.abs(y[1] - y[0]) / Math.abs(x[1] - x[0]);
    const margin = layout.margin || {};
    const extra = (margin.t || 0) + (margin.b || 0);
    return {height: "min(MAX_HEIGHTpx, calc(" + ratio + " * 100cqw + " + extra + "px))", width: "100%"};
}
""".replace("MAX_HEIGHT", str(MAX_PICTURE_HEIGHT))


def follow_figure_height(graph_id: str | dict) -> None:
    """Give the container of ``graph_id`` (a plain or pattern-matching id) the height of its figure."""
    clientside_callback(FIT_HEIGHT, Output(graph_id, "style"), Input(graph_id, "figure"))


def follow_picture(graph_id: str | dict) -> None:
    """Give the container of ``graph_id`` the height of its figure's picture at the width it has now; the
    graph must be inside a CSS size container (``container-type: inline-size``) and be responsive."""
    clientside_callback(FIT_PICTURE, Output(graph_id, "style"), Input(graph_id, "figure"))


# the graphs of the page whose figures set their own height
follow_picture({"type": "card-graph", "card": MATCH})
follow_figure_height({"type": "trust-figure", "check": MATCH})
follow_figure_height("trust-where-graph")
