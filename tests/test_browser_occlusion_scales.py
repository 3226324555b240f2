"""Occlusion's thorough effort on the page: three scales in stable mode (the page's default), and the card
says how it stopped, in a real headless Chromium on the Shapes demo."""

from __future__ import annotations

import pytest

from test_browser import _card_state, _dom_id, _wait
from test_browser_effort import _add_card, shapes_page  # noqa: F401 - the fixture, shared

pytestmark = [pytest.mark.browser, pytest.mark.slow]

THOROUGH = {"patch": 64, "stride": 64, "scales": 3}


def test_thorough_occlusion_runs_its_scales_until_stable_and_says_how_it_stopped(shapes_page):  # noqa: F811
    dash_duo, app = shapes_page
    svc = app.server.extensions["saliency_service"]
    card = "a-occlusion"
    _add_card(dash_duo, "Occlusion", card)
    dash_duo.driver.execute_script("document.querySelector('.examples:not([hidden]) button.example').click();")
    _wait(lambda: _card_state(dash_duo, card).get("ready"), message="the occlusion map at standard effort")
    dash_duo.driver.execute_script(
        "document.getElementById(arguments[0]).querySelector('input[value=thorough]').click();",
        _dom_id(card, "card-effort"),
    )
    key = dash_duo.find_element("#original-image").get_attribute("src").split("/image/")[1].split("/")[0]

    def cached() -> bool:
        return svc.explain(key, "shapes", "occlusion", params={"until": "stable", **THOROUGH}).cached

    _wait(cached, timeout=60, message="the card to compute three scales in stable mode")

    def said() -> str:  # textContent: the card's words may sit in a folded part of the card
        return dash_duo.driver.execute_script(
            "const e = document.getElementById(arguments[0]); return e ? e.textContent : '';",
            _dom_id(card, "card-info"),
        )

    _wait(
        lambda: any(words in said() for words in (" 2 scales, ", " 3 scales, ")),
        timeout=30,
        message="how the scales stopped, on the card",
    )
    assert "Stable after" in said() or "Stopped at the scales budget" in said()
    assert dash_duo.get_logs() in ([], None)
