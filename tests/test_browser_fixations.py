"""CNN Fixations' card in a real headless Chromium on the Shapes demo: its fixation points drawn as dots
over the density map, the map still first so the opacity slider works on it."""

from __future__ import annotations

import pytest

from tests.test_browser import _dom_id, _wait
from tests.test_browser_layout import CARDS, _example, _screenshot, _set, shapes_page  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRACES = """
const root = document.getElementById(arguments[0]);
const plot = root && root.querySelector('.js-plotly-plot');
if (!plot || !plot.data || !plot.data.length) { return null; }
const dots = plot.querySelectorAll('.scatterlayer .point').length;  // the markers Plotly drew
return plot.data.map(t => ({type: t.type, mode: t.mode || null, dots: t.type === 'scatter' ? dots : 0}));
"""


def test_the_fixations_card_draws_its_points_as_dots(shapes_page):  # noqa: F811
    dash_duo, _, _ = shapes_page
    _example(dash_duo)
    _set(dash_duo, "methods", {"value": [*(card.split("-", 1)[1] for card in CARDS), "cnn_fixations"]})
    card = _dom_id("a-cnn_fixations", "card-graph")
    traces = _wait(
        lambda: (found := dash_duo.driver.execute_script(TRACES, card)) and len(found) > 1 and found,
        message="the CNN Fixations card with its dots",
    )
    assert traces[0]["type"] == "heatmap"
    dots = [t for t in traces if t["type"] == "scatter" and t["mode"] == "markers"]
    assert len(dots) == 1 and dots[0]["dots"] > 0
    grad_cam = dash_duo.driver.execute_script(TRACES, _dom_id("a-grad_cam", "card-graph"))
    assert not [t for t in grad_cam if t["type"] == "scatter"]  # a method without points gets none
    dash_duo.driver.execute_script(
        "document.getElementById(arguments[0]).scrollIntoView({block: 'center'});", card
    )  # for a person to look at: tests/artifacts/fixations.png
    _screenshot(dash_duo, "fixations")
    assert dash_duo.get_logs() in ([], None)
