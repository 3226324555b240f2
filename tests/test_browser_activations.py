"""The layer views in a real headless Chromium on the Shapes demo (its trained weights ship with the code):
the activations grid (ranked, re-ordered, paged, one channel opened large) and the layer sweep's strip, at
1600 × 1200 and at a projector's 1024 × 768. Saves screenshots under tests/artifacts/."""

from __future__ import annotations

import re

import pytest

from tests.test_browser import _wait
from tests.test_browser_layout import _example, _screenshot, _viewport, shapes_page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TILES = "#act-grids .view-grid .view-tile"
OVERFLOW = """
const box = document.querySelector('.layer-views');
const wide = [...box.querySelectorAll('.view-tile, .view-block, .view-large-card')]
    .filter(e => e.getBoundingClientRect().right > box.getBoundingClientRect().right + 1).length;
return {wide: wide, scroll: box.scrollWidth - box.clientWidth};
"""


def _tiles(dash_duo) -> list[str]:
    """The grid's tiles' words, read in one go (the grid is redrawn while it is read)."""
    return dash_duo.driver.execute_script(f"return [...document.querySelectorAll('{TILES}')].map(t => t.innerText);")


def _press(dash_duo, selector: str, text: str) -> None:
    """Click the element matching ``selector`` whose words start with ``text``, as the page's own click would
    (a spinner over the grid while it redraws would catch a pointer's click)."""
    found = _wait(
        lambda: dash_duo.driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])].find(e => e.innerText.trim().startsWith(arguments[1]));",
            selector,
            text,
        ),
        timeout=20,
        message=f"{selector} saying {text!r}",
    )
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", found)


def _means(texts: list[str]) -> list[float]:
    return [float(re.search(r"mean (\S+)", text).group(1)) for text in texts]


def _grid_says(dash_duo, test) -> list[str]:
    return _wait(
        # every tile drawn with its words: a grid being replaced is read whole or not at all
        lambda: (lambda texts: texts if texts and all("mean " in t for t in texts) and test(texts) else None)(
            _tiles(dash_duo)
        ),
        timeout=60,
        message="the activations grid",
    )


def test_the_activations_grid_and_the_sweep_strip(shapes_page):  # noqa: F811
    dash_duo, _app, _requests = shapes_page
    _viewport(dash_duo, 1600, 1200)
    _example(dash_duo)
    _press(dash_duo, ".layer-views .accordion-button", "Activations of the picked layer")
    ranked = _grid_says(dash_duo, lambda texts: len(texts) == 16)
    assert all("channel" in text and "weight" in text for text in ranked)
    assert "conv5 (64 channels)" in dash_duo.find_element("#act-grids").text

    _press(dash_duo, "#act-order label", "most active")
    active = _grid_says(dash_duo, lambda texts: texts != ranked and len(texts) == 16)
    assert _means(active) == sorted(_means(active), reverse=True)

    _press(dash_duo, "#act-order label", "all channels")
    _grid_says(dash_duo, lambda texts: texts[0].startswith("channel 0"))
    _wait(lambda: dash_duo.find_element("#act-page-text").text == "page 1 of 4", message="page 1 of 4")
    _press(dash_duo, "#act-next", "next")
    second = _grid_says(dash_duo, lambda texts: texts[0].startswith("channel 16"))
    assert second[-1].startswith("channel 31")
    _wait(lambda: dash_duo.find_element("#act-page-text").text == "page 2 of 4", message="page 2 of 4")

    _press(dash_duo, TILES, "channel 18")
    title = _wait(
        lambda: dash_duo.driver.execute_script(
            "const p = document.querySelector('#act-large-graph .js-plotly-plot');"
            "return p && p.data && p.data[0].type === 'heatmap' && p.layout.title.text;"
        ),
        timeout=30,
        message="the channel opened large",
    )
    assert "channel 18" in title
    assert dash_duo.find_element("#act-large-opacity")
    _screenshot(dash_duo, "layer_views_activations_1600")

    _press(dash_duo, ".layer-views .accordion-button", "Layer sweep")
    strip = _wait(
        lambda: dash_duo.driver.execute_script(
            # innerText is empty while the accordion item still opens: wait for every tile's words
            "const t = [...document.querySelectorAll('#sweep-strips .view-tile')].map(t => t.innerText.trim());"
            "return t.length && t.every(Boolean) ? t : null;"
        ),
        timeout=60,
        message="the sweep's strip",
    )
    assert [text.split("\n")[0] for text in strip] == ["bn1", "bn2", "conv5"]
    assert dash_duo.driver.execute_script(OVERFLOW) == {"wide": 0, "scroll": 0}
    dash_duo.driver.execute_script("document.querySelector('#sweep-strips').scrollIntoView({block: 'end'});")
    _screenshot(dash_duo, "layer_views_sweep_1600")

    _viewport(dash_duo, 1024, 768)
    assert dash_duo.driver.execute_script(OVERFLOW) == {"wide": 0, "scroll": 0}
    dash_duo.driver.execute_script("document.querySelector('#act-grids').scrollIntoView({block: 'start'});")
    _screenshot(dash_duo, "layer_views_1024")
