"""The effort choice of the multi-pass cards and choosing a file again, in a real headless Chromium on
the Shapes demo (its weights ship with the app, so its maps are quick)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.common.keys import Keys

from test_browser import _DRIVER, _card_state, _dom_id, _pick, _wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def shapes_page(dash_duo, browser_available, tmp_path):
    import explainers._tf  # noqa: F401 - TensorFlow imported once here, not by two request threads at once (issue 21)
    from app import create_app

    app = create_app({"weights": "random", "model": "shapes", "data_dir": str(tmp_path / "data")})
    dash_duo.start_server(app)
    _DRIVER["driver"] = dash_duo.driver
    dash_duo.driver.set_window_size(1600, 1200)
    dash_duo.wait_for_text_to_equal("h1", "Saliency maps", timeout=30)
    return dash_duo, app


def _picture_src(dash_duo) -> str:
    return dash_duo.find_element("#original-image").get_attribute("src") or ""


def _choose_file(dash_duo, path) -> None:
    dash_duo.find_element("#upload input[type=file]").send_keys(str(path))


def _write_picture(path, colour) -> None:
    pixels = np.zeros((64, 64, 3), np.uint8)
    pixels[16:48, 16:48] = colour
    Image.fromarray(pixels).save(path)


def test_choosing_the_same_file_again_is_taken_every_time(shapes_page, tmp_path):
    dash_duo, _ = shapes_page
    picture_a = tmp_path / "square.png"
    _write_picture(picture_a, (250, 40, 40))

    _choose_file(dash_duo, picture_a)
    _wait(lambda: "/image/" in _picture_src(dash_duo), message="picture A")
    src_a = _picture_src(dash_duo)
    assert "square.png" in dash_duo.find_element("#upload-name").text

    # an example, then the same file A again: A is shown again
    dash_duo.find_element(".examples:not([hidden]) button.example").click()
    _wait(lambda: _picture_src(dash_duo) not in ("", src_a), message="the example")
    _choose_file(dash_duo, picture_a)
    _wait(lambda: _picture_src(dash_duo) == src_a, timeout=30, message="picture A again, after the example")

    # A twice in a row: still taken, and the status line says so
    _choose_file(dash_duo, picture_a)
    _wait(
        lambda: "again" in dash_duo.find_element("#upload-name").text,
        timeout=30,
        message="the status line to say the same picture was chosen again",
    )
    assert _picture_src(dash_duo) == src_a


def _element(dash_duo, card: str, kind: str, **more: str):
    """A card's element by its pattern-matching id (a JSON id that CSS selectors cannot name), or None."""
    dom_id = json.dumps(dict(sorted({"card": card, "type": kind, **more}.items())), separators=(",", ":"))
    return dash_duo.driver.execute_script("return document.getElementById(arguments[0]);", dom_id)


def _text(dash_duo, card: str, kind: str) -> str:
    return dash_duo.driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.innerText : '';", _dom_id(card, kind)
    )


def _add_card(dash_duo, title: str, card: str) -> None:
    """Add the method called ``title`` to the page and wait for its card's effort choice."""
    time.sleep(1.0)  # the page settles (the first cards fill in) before the dropdown is clicked
    dash_duo.driver.execute_script("document.getElementById('methods').scrollIntoView({block: 'center'});")
    time.sleep(0.5)
    _pick(dash_duo, "methods", title)
    _wait(lambda: _element(dash_duo, card, "card-effort"), message=f"the {title} card")


def _cached(svc, key: str, **settings) -> bool:
    """Whether the SmoothGrad map of ``key`` at these settings was computed (by the card) already."""
    return svc.explain(key, "shapes", "smoothgrad", params={"until": "stable", **settings}).cached


def test_a_long_method_offers_a_choice_of_effort_with_its_time_before_it_starts(shapes_page):
    dash_duo, app = shapes_page
    svc = app.server.extensions["saliency_service"]
    card = "a-smoothgrad"
    _add_card(dash_duo, "SmoothGrad", card)
    # before any picture: the effort choice, standard checked, and a time estimate
    checked = dash_duo.driver.execute_script(
        "return Array.from(document.getElementById(arguments[0]).querySelectorAll('input:checked')).map(e => e.value);",
        _dom_id(card, "card-effort"),
    )
    assert checked == ["standard"]
    _wait(
        lambda: (
            "Standard: " in _text(dash_duo, card, "card-estimate")
            and "first guess" in _text(dash_duo, card, "card-estimate")
        ),
        message="the time estimate",
    )
    panel = dash_duo.driver.execute_script(
        "return document.getElementById(arguments[0]).closest('.effort').querySelector('details.card-settings-panel');",
        _dom_id(card, "card-effort"),
    )
    assert panel.get_attribute("open") is None  # the settings are folded away
    assert not _element(dash_duo, card, "card-setting", name="n_samples").is_displayed()

    dash_duo.driver.execute_script("document.querySelector('.examples:not([hidden]) button.example').click();")
    _wait(lambda: _card_state(dash_duo, card).get("ready"), message="the SmoothGrad map at standard effort")
    key = dash_duo.find_element("#original-image").get_attribute("src").split("/image/")[1].split("/")[0]
    assert _cached(svc, key, n_samples=16)  # the page's default: stable mode, n_samples the most it may use

    def said() -> str:  # textContent: the card's words may sit in a folded part of the card
        return dash_duo.driver.execute_script(
            "const e = document.getElementById(arguments[0]); return e ? e.textContent : '';",
            _dom_id(card, "card-info"),
        )

    _wait(lambda: "Stable after" in said() or "Stopped at the samples budget" in said(), message="how it stopped")

    # Quick: its settings fill in, the card computes anew, and the estimate is now this server's own
    dash_duo.driver.execute_script(
        "document.getElementById(arguments[0]).querySelector('input[value=quick]').click();",
        _dom_id(card, "card-effort"),
    )
    _wait(
        lambda: _element(dash_duo, card, "card-setting", name="n_samples").get_attribute("value") == "8",
        timeout=20,
        message="n_samples to follow the quick effort",
    )
    _wait(lambda: _cached(svc, key, n_samples=8), timeout=60, message="the card to compute at quick effort")
    _wait(
        lambda: (
            "Quick: " in _text(dash_duo, card, "card-estimate")
            and "on this server" in _text(dash_duo, card, "card-estimate")
        ),
        timeout=20,
        message="the measured estimate",
    )

    # a setting typed by hand: no effort matches it any more, the value is capped and the card says so
    dash_duo.driver.execute_script(
        "const s = arguments[0].querySelector('summary');s.scrollIntoView({block: 'center'}); s.click();", panel
    )
    box = _element(dash_duo, card, "card-setting", name="n_samples")
    _wait(box.is_displayed, timeout=10, message="the settings panel to open")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    box.clear()
    box.send_keys("1000", Keys.ENTER)
    _wait(
        lambda: (
            "n_samples was 1000; the largest allowed is 256, so that was used."
            in _text(dash_duo, card, "card-setting-notes")
        ),
        timeout=20,
        message="the capped-setting note on the card",
    )
    checked = dash_duo.driver.execute_script(
        "return document.getElementById(arguments[0]).querySelectorAll('input:checked').length;",
        _dom_id(card, "card-effort"),
    )
    assert checked == 0
    _wait(lambda: _cached(svc, key, n_samples=256), timeout=90, message="the card to compute at the capped value")
    _wait(lambda: _card_state(dash_duo, card).get("ready"), message="the map at the capped value")
    assert dash_duo.get_logs() in ([], None)
