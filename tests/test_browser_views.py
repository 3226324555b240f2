"""Issue 24's views on a card, in a real headless Chromium on the Shapes demo: "Contrast with…" under
the top-5 chart turns the cards to "why A and not B" and the card names both classes; "Top 3 classes"
shows a row of three maps."""

from __future__ import annotations

import json
import time
from urllib.parse import unquote

import pytest

from test_browser import _card_state, _info_text, _pick, _wait
from test_browser_effort import shapes_page  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def views_page(shapes_page):  # noqa: F811
    """The Shapes page with an example picture and its Grad-CAM map."""
    dash_duo, app = shapes_page
    dash_duo.driver.execute_script("document.querySelector('.examples:not([hidden]) button.example').click();")
    _wait(lambda: _card_state(dash_duo, "a-grad_cam").get("ready"), message="the Grad-CAM map")
    return dash_duo, app


def _click_option(dash_duo, card: str, value: str) -> None:
    dom_id = json.dumps({"card": card, "type": "card-view"}, separators=(",", ":"))
    dash_duo.driver.execute_script(
        "document.getElementById(arguments[0]).querySelector('input[value=' + arguments[1] + ']').click();",
        dom_id,
        value,
    )


def test_contrast_with_a_second_class_names_both_on_the_card(views_page):
    dash_duo, app = views_page
    svc = app.server.extensions["saliency_service"]
    key = dash_duo.find_element("#original-image").get_attribute("src").split("/image/")[1].split("/")[0]
    (_, first, _), (_, second, _) = svc.predict(key, "shapes")[:2]
    time.sleep(1.0)  # the page settles before the dropdown is clicked
    _pick(dash_duo, "contrast-with", second)
    _wait(
        lambda: f"why {first} and not {second}" in _info_text(dash_duo, "a-grad_cam"),
        message="the card to name both classes",
    )
    assert _card_state(dash_duo, "a-grad_cam").get("ready") or "Empty map" in dash_duo.find_element("body").text
    assert "About this view: Why A and not B" in _info_text(dash_duo, "a-grad_cam")


def test_top_3_classes_show_a_row_of_three_maps(views_page):
    dash_duo, _ = views_page
    _click_option(dash_duo, "a-grad_cam", "top_k")
    _wait(
        lambda: dash_duo.driver.execute_script("return document.querySelectorAll('.top-k-row img').length;") == 3,
        message="a row of three maps",
    )
    assert "Top 3 classes" in _info_text(dash_duo, "a-grad_cam")
    download = dash_duo.driver.execute_script(
        "return document.getElementById(arguments[0]).getAttribute('href');",
        json.dumps({"card": "a-grad_cam", "type": "card-download"}, separators=(",", ":")),
    )
    assert "top_k=3" in download  # the card's download is the whole row
    _wait(
        lambda: (
            '"grad_cam":{"view":"top_k"'
            in unquote(dash_duo.driver.execute_script("return document.getElementById('download-report').href;"))
        ),
        message="the report link to carry the card's view",
    )


def test_the_seed_example_on_another_model_says_it_needs_vgg16(views_page):
    from test_browser import _dom_id
    from test_browser_layout import _set

    dash_duo, _ = views_page
    _set(dash_duo, "methods", {"value": ["grad_cam", "expected_gradients"]})
    button = _dom_id("a-expected_gradients", "card-seed-example")
    _wait(lambda: dash_duo.driver.execute_script("return !!document.getElementById(arguments[0]);", button))
    dash_duo.driver.execute_script("document.getElementById(arguments[0]).click();", button)
    _wait(
        lambda: (
            "pick VGG16"
            in dash_duo.driver.execute_script("return document.getElementById(arguments[0]).textContent;", button)
        ),
        message="the button to say the example needs VGG16",
    )
    view = _dom_id("a-expected_gradients", "card-view")
    checked = "return document.getElementById(arguments[0]).querySelector('input:checked').value;"
    assert dash_duo.driver.execute_script(checked, view) == "one"  # no layer the model lacks was asked for
