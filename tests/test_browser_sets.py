"""The set view in a real headless Chromium: upload a zip (through its own route, with a progress bar) of 12 generated Shapes pictures (with labels
and masks), wait for the table, sort it by "looks outside the object" in one click, open a row in the
main view. Before any set, the view is one short line, not an empty table (screenshots in tests/artifacts/)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from explainers.sets.demo import demo_zip
from tests.test_browser import _wait
from tests.test_browser_compare import offline_shapes  # noqa: F401, F811 - the page on the Shapes demo
from tests.test_browser_layout import _screenshot, _viewport

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCROLL_TO = "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});"


def _column(dash_duo, field: str) -> list[str]:
    """The cells of one column as the grid shows them, top to bottom."""
    return dash_duo.driver.execute_script(
        "const rows = Array.from(document.querySelectorAll('#set-grid .ag-row'));"
        "rows.sort(function(a, b) { return a.getAttribute('aria-rowindex') - b.getAttribute('aria-rowindex'); });"
        "const field = arguments[0];"
        "return rows.map(function(r) { const c = r.querySelector('[col-id=\"' + field + '\"]');"
        "  return c ? c.textContent.trim() : null; });",
        field,
    )


def test_upload_a_zip_and_sort_by_looking_outside(offline_shapes, tmp_path):  # noqa: F811
    dash_duo = offline_shapes
    source = tmp_path / "shapes_set.zip"
    source.write_bytes(demo_zip("shapes", 12))
    upload = dash_duo.find_element("#set-upload input[type=file]")  # built by assets/set_upload.js
    upload.send_keys(str(source))
    # sent to POST /set-upload (the set's limit, not the page's), not through a Dash callback
    _wait(lambda: "Uploaded shapes_set.zip" in dash_duo.find_element("#set-upload-message").text, 60, "the upload")
    _wait(lambda: "12 of 12 pictures" in dash_duo.find_element("#set-progress-text").text, 240, "the whole set")
    _wait(lambda: len([c for c in _column(dash_duo, "name") if c]) >= 12, 30, "12 rows in the table")
    assert "pictures with a marked object" in dash_duo.find_element("#set-summary").text
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, "#set-means img")
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, "#set-grid img[src^='data:image/png']")

    button = dash_duo.find_element("#set-sort-outside")
    dash_duo.driver.execute_script(SCROLL_TO, button)
    button.click()

    def sorted_outside():
        cells = [c for c in _column(dash_duo, "outside") if c]
        values = [int(c.rstrip(" %")) for c in cells]
        return len(values) >= 12 and values == sorted(values, reverse=True) and values[0] > values[-1]

    _wait(sorted_outside, 20, "the table sorted by 'looks outside the object'")
    first = _column(dash_duo, "name")[0]
    dash_duo.driver.execute_script(SCROLL_TO, dash_duo.find_element("#set-grid"))
    dash_duo.driver.execute_script(
        "const rows = Array.from(document.querySelectorAll('#set-grid .ag-row'));"
        "rows.sort(function(a, b) { return a.getAttribute('aria-rowindex') - b.getAttribute('aria-rowindex'); });"
        "rows[0].querySelector('[col-id=\"name\"]').click();"
    )
    _wait(lambda: first in dash_duo.find_element("#upload-name").text, 60, "the clicked picture in the main view")


@pytest.mark.parametrize("width, height", [(1600, 1200), (1024, 768)])
def test_the_set_view_before_any_set_is_one_short_line(offline_shapes, width, height):  # noqa: F811
    dash_duo = offline_shapes
    _viewport(dash_duo, width, height)
    card = dash_duo.find_element(".set-view")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'start', behavior: 'instant'});", card)
    _wait(lambda: dash_duo.find_element("#set-upload input[type=file]"), 20, "the drop area")
    empty = dash_duo.find_element("#set-empty")
    assert empty.is_displayed() and "drop pictures or one .zip" in empty.text
    assert not dash_duo.find_element("#set-results").is_displayed()
    assert not dash_duo.find_element("#set-grid").is_displayed()
    box = card.rect
    _screenshot(dash_duo, f"set_view_empty_{width}x{height}")
    assert box["height"] < 0.45 * height, f"the empty set view is {box['height']:.0f} px tall"
