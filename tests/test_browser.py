"""The dashboard in a real headless Chromium, as a person would use it (random weights: CI has no
ImageNet weights). Saves a full-page screenshot to tests/artifacts/dashboard.png."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from selenium.common.exceptions import ElementClickInterceptedException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WAIT = 120  # first maps include building VGG16 and tracing its passes on a 2-core CPU


def _dom_id(card: str, kind: str) -> str:
    return json.dumps({"card": card, "type": kind}, separators=(",", ":"))


def _card_state(dash_duo, card: str) -> dict:
    """What the card's Plotly figure shows right now, read from the browser."""
    return dash_duo.driver.execute_script(
        """
        const root = document.getElementById(arguments[0]);
        const plot = root && root.querySelector('.js-plotly-plot');
        if (!plot || !plot.data || !plot.data.length) { return {ready: false}; }
        return {ready: plot.data[0].type === 'heatmap', opacity: plot.data[0].opacity};
        """,
        _dom_id(card, "card-graph"),
    )


_DRIVER = {}


def _wait(condition, timeout=WAIT, message="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    page = _DRIVER["driver"].find_element(By.TAG_NAME, "body").text if "driver" in _DRIVER else ""
    raise AssertionError(f"timed out waiting for {message}; the page says:\n{page[:1500]}")


def _info_text(dash_duo, card: str) -> str:
    return dash_duo.driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.innerText : '';", _dom_id(card, "card-info")
    )


def _pick(dash_duo, dropdown_id: str, text: str) -> None:
    """Type into a searchable dcc.Dropdown and choose the first match, as a person would."""

    def search_box():
        trigger = dash_duo.find_element(f"#{dropdown_id}")
        if trigger.get_attribute("data-state") != "open":
            # the page reflows while cards fill in: bring the dropdown into view each try, and try again
            # when a card that just grew covers it at the moment of the click
            dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", trigger)
            try:
                trigger.click()
            except ElementClickInterceptedException:
                return None
            time.sleep(0.3)
            return None
        return dash_duo.driver.execute_script(
            "const popup = document.getElementById(arguments[0].getAttribute('aria-controls'));"
            "return popup && popup.querySelector('.dash-dropdown-search');",
            trigger,
        )

    box = _wait(search_box, timeout=10, message=f"the search box of #{dropdown_id}")
    box.click()
    box.send_keys(text)
    time.sleep(0.5)
    box.send_keys(Keys.ENTER)


def _quiet(requests: list, seconds: float = 2.0, timeout: float = WAIT) -> None:
    """Wait until the page has sent no request for ``seconds``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen = len(requests)
        time.sleep(seconds)
        if len(requests) == seen:
            return
    raise AssertionError("the page never stopped sending requests")


def _press(dash_duo, slider_thumb, key, times: int) -> None:
    """Move a slider with the keyboard, as a person can: focus its thumb, press an arrow key."""
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", slider_thumb
    )
    for _ in range(times):
        dash_duo.driver.switch_to.active_element.send_keys(key)
        time.sleep(0.1)


@pytest.fixture
def dashboard(dash_duo, browser_available, tmp_path):
    from app import create_app

    app = create_app({"weights": "random", "data_dir": str(tmp_path / "data")})
    requests: list[str] = []

    @app.server.before_request
    def count_requests():
        import flask

        requests.append(flask.request.path)

    dash_duo.start_server(app)
    _DRIVER["driver"] = dash_duo.driver
    dash_duo.wait_for_text_to_equal("h1", "Saliency maps", timeout=30)
    return dash_duo, requests


def test_a_person_compares_maps_without_reading_anything(dashboard, tmp_path):
    dash_duo, requests = dashboard
    dash_duo.wait_for_contains_text("#weights-banner", "Random weights", timeout=30)  # said honestly

    # load an example -> the top-5 appears and the class defaults to the top prediction
    dash_duo.find_element("button.example").click()
    _wait(
        lambda: dash_duo.driver.execute_script(
            "const p = document.querySelector('#predictions .js-plotly-plot');"
            "return p && p.data && p.data.length && p.data[0].type === 'bar' && p.data[0].y.length === 5;"
        ),
        message="the top-5 bar chart",
    )
    assert dash_duo.find_element("#original-image").get_attribute("src").endswith("/display.jpg")
    assert "What VGG16 sees (224 × 224" in dash_duo.find_element("#input-caption").text

    # at least three heatmap cards render (the default methods)
    from service import DEFAULT_METHODS

    for card in (f"a-{method}" for method in DEFAULT_METHODS):
        _wait(lambda: _card_state(dash_duo, card).get("ready"), message=f"card {card}")

    # pick a class by typing in the search -> the cards explain that class
    _pick(dash_duo, "target", "banana")
    _wait(lambda: "banana (class 954)" in _info_text(dash_duo, "a-grad_cam"), message="Grad-CAM for banana")

    # change the layer -> Grad-CAM follows it
    _pick(dash_duo, "layer", "block4_conv3")
    _wait(lambda: "layer block4_conv3" in _info_text(dash_duo, "a-grad_cam"), message="Grad-CAM at block4_conv3")
    _wait(lambda: _card_state(dash_duo, "a-grad_cam").get("ready"), message="the redrawn Grad-CAM card")
    _wait(lambda: "layer block4_conv3" in _info_text(dash_duo, "a-guided_grad_cam"), message="every card redrawn")
    _quiet(requests)  # no callback (nor progress poll) still in flight before we count requests

    # move one card's opacity slider: the overlay changes, no request reaches the server
    before_opacity = _card_state(dash_duo, "a-grad_cam")["opacity"]
    before_requests = len(requests)
    handle = dash_duo.driver.execute_script(
        "return document.getElementById(arguments[0]).querySelector('[role=slider]');",
        _dom_id("a-grad_cam", "card-opacity"),
    )
    _press(dash_duo, handle, Keys.ARROW_RIGHT, 4)
    _wait(
        lambda: _card_state(dash_duo, "a-grad_cam")["opacity"] != before_opacity,
        timeout=10,
        message="the overlay's opacity to change",
    )
    after_opacity = _card_state(dash_duo, "a-grad_cam")["opacity"]
    assert after_opacity == pytest.approx(before_opacity + 0.2)
    time.sleep(1.0)
    assert requests[before_requests:] == [], "moving an opacity slider must not reach the server"

    # the slider for all cards moves every card's overlay, still without a request
    global_handle = dash_duo.find_element("#opacity-all [role=slider]")
    _press(dash_duo, global_handle, Keys.ARROW_LEFT, 6)
    _wait(
        lambda: _card_state(dash_duo, "a-vanilla_gradient")["opacity"] == pytest.approx(0.2),
        timeout=10,
        message="every card to follow the global slider",
    )
    assert _card_state(dash_duo, "a-grad_cam")["opacity"] == pytest.approx(0.2)
    time.sleep(1.0)
    assert not [path for path in requests[before_requests:] if path.startswith("/_dash")]

    # upload something that is not a picture -> a plain alert, and the page keeps working
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("this is not a picture")
    dash_duo.find_element("#upload input[type=file]").send_keys(str(bogus))
    _wait(
        lambda: "not a supported picture" in dash_duo.find_element("#alerts").text,
        timeout=30,
        message="the bad-upload alert",
    )
    page = dash_duo.driver.find_element(By.TAG_NAME, "body").text
    assert "Traceback" not in page and "Error" not in page.split("not a supported picture")[0][-200:]
    assert _card_state(dash_duo, "a-grad_cam").get("ready")  # the maps are still there

    ARTIFACTS.mkdir(exist_ok=True)
    height = dash_duo.driver.execute_script("return document.body.scrollHeight")
    dash_duo.driver.set_window_size(1600, max(1200, height + 40))
    time.sleep(0.5)
    dash_duo.driver.save_screenshot(str(ARTIFACTS / "dashboard.png"))
    assert dash_duo.get_logs() in ([], None)  # no errors in the browser console


@pytest.fixture
def shapes_dashboard(dash_duo, browser_available, tmp_path):
    from app import create_app

    app = create_app({"weights": "random", "model": "shapes", "data_dir": str(tmp_path / "data")})
    dash_duo.start_server(app)
    _DRIVER["driver"] = dash_duo.driver
    dash_duo.wait_for_text_to_equal("h1", "Saliency maps", timeout=30)
    return dash_duo


def _click_text(dash_duo, selector: str, text: str) -> None:
    """Click the visible element matching ``selector`` whose text is ``text``."""

    def find():
        for element in dash_duo.driver.find_elements(By.CSS_SELECTOR, selector):
            if element.is_displayed() and element.text.strip() == text:
                return element
        return None

    element = _wait(find, timeout=20, message=f"{selector} saying {text!r}")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def test_a_teacher_asks_whether_a_map_can_be_trusted(shapes_dashboard):
    dash_duo = shapes_dashboard
    # the Shapes demo shows its own gallery; a demo picture comes with its true outline
    _click_text(dash_duo, ".examples:not([hidden]) button.example", "Star")
    _wait(lambda: _card_state(dash_duo, "a-grad_cam").get("ready"), message="the Grad-CAM card")
    dash_duo.driver.execute_script(
        "document.getElementById(arguments[0]).click();", _dom_id("a-grad_cam", "card-trust")
    )
    _wait(lambda: "Pitfalls" in dash_duo.find_element("#trust-modal").text, timeout=20, message="the method card")
    assert "Selvaraju" in dash_duo.find_element("#trust-modal").text

    _click_text(dash_duo, "#trust-modal .nav-link", "Where it looks")
    _wait(
        lambda: "Against the true outline" in dash_duo.find_element("#trust-where-info").text,
        timeout=30,
        message="the localization score",
    )

    _click_text(dash_duo, "#trust-modal .nav-link", "Faithfulness")
    _click_text(dash_duo, "#trust-modal button", "Draw the deletion and insertion curves")
    _wait(
        lambda: dash_duo.driver.execute_script(
            "const root = document.getElementById(arguments[0]);"
            "const plot = root && root.querySelector('.js-plotly-plot');"
            "return plot && plot.data && plot.data.length === 2 && plot.data[0].x.length === 21;",
            json.dumps({"check": "faithfulness", "type": "trust-figure"}, separators=(",", ":")),
        ),
        message="the deletion and insertion curves",
    )
    text = dash_duo.find_element("#trust-modal").text
    assert "Deletion: area" in text and "Insertion: area" in text and "random maps" in text
    # the scrubber shows the model's input with 20 % of its pixels deleted
    _wait(
        lambda: dash_duo.driver.execute_script(
            "const img = document.getElementById('trust-k-image');"
            "return img && img.complete && img.naturalWidth === 128 && img.src.includes('k=20');"
        ),
        timeout=30,
        message="the picture at 20 % deleted",
    )

    ARTIFACTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(ARTIFACTS / "trust_panel.png"))
    assert "Traceback" not in dash_duo.driver.find_element(By.TAG_NAME, "body").text
    assert dash_duo.get_logs() in ([], None)
