"""The page says what is true for the case at hand, in a real headless Chromium: a photo on the Shapes
demo is flagged as not of its kind, an empty map says so in words, and the sanity check gives no verdict
for a model whose weights are random. Screenshots go to tests/artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

import test_browser as page  # its helpers (imported as a module, so its tests are not collected twice)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "examples"
EMPTY_AT_A_LAYER = "No position at this layer raises the class score"


def _start(dash_duo, tmp_path, weights: str):
    from app import create_app

    app = create_app({"weights": weights, "model": "shapes", "data_dir": str(tmp_path / "data")})
    dash_duo.start_server(app)
    dash_duo.driver.set_window_size(1600, 1200)
    page._DRIVER["driver"] = dash_duo.driver
    dash_duo.wait_for_text_to_equal("h1", "Saliency maps", timeout=30)
    return dash_duo


def _note(dash_duo) -> str:
    return dash_duo.find_element("#familiarity-note").text


def test_grad_cam_at_an_early_layer_says_the_map_is_empty(dash_duo, browser_available, tmp_path):
    dash_duo = _start(dash_duo, tmp_path, "imagenet")  # the Shapes demo's own trained weights
    page._click_text(dash_duo, ".examples:not([hidden]) button.example", "Star")
    page._wait(lambda: page._card_state(dash_duo, "a-grad_cam").get("ready"), message="the Grad-CAM card")

    # Grad-CAM of the trained model at conv1 is all zeros on this star: the card says so instead of drawing it
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", dash_duo.find_element("#layer"))
    page._pick(dash_duo, "layer", "conv1")
    page._wait(lambda: EMPTY_AT_A_LAYER in page._info_text(dash_duo, "a-grad_cam"), message="the empty-map sentence")
    assert not page._card_state(dash_duo, "a-grad_cam").get("ready")  # no heatmap drawn as if it meant something

    page.ARTIFACTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(page.ARTIFACTS / "shapes_empty_map.png"))


def test_a_photo_on_the_shapes_demo_gets_a_warning(dash_duo, browser_available, tmp_path):
    dash_duo = _start(dash_duo, tmp_path, "imagenet")
    page._click_text(dash_duo, ".examples:not([hidden]) button.example", "Star")
    page._wait(
        lambda: "looks like the pictures this model was trained on" in _note(dash_duo),
        timeout=60,
        message="the star judged familiar",
    )
    assert "only knows" not in _note(dash_duo)
    # a photo gets the warning next to its (confident, meaningless) prediction
    dash_duo.find_element("#upload input[type=file]").send_keys(str(EXAMPLES / "coffee.jpg"))
    page._wait(lambda: "only knows 7 shapes" in _note(dash_duo), timeout=60, message="the warning on a photo")
    note = _note(dash_duo)
    assert "circle" in note and "heart" in note and "meaningless" in note
    page.ARTIFACTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(page.ARTIFACTS / "shapes_photo_warning.png"))
    assert "Traceback" not in dash_duo.driver.find_element(By.TAG_NAME, "body").text


def test_sanity_check_on_random_weights_gives_no_verdict(dash_duo, browser_available, tmp_path):
    dash_duo = _start(dash_duo, tmp_path, "random")
    page._click_text(dash_duo, ".examples:not([hidden]) button.example", "Star")
    page._wait(lambda: page._card_state(dash_duo, "a-grad_cam").get("ready"), message="the Grad-CAM card")
    assert not _note(dash_duo)  # random weights: no claim about which pictures the model knows
    dash_duo.driver.execute_script(
        "document.getElementById(arguments[0]).click();", page._dom_id("a-grad_cam", "card-trust")
    )
    page._wait(lambda: "Pitfalls" in dash_duo.find_element("#trust-modal").text, timeout=20, message="the panel")
    page._click_text(dash_duo, "#trust-modal .nav-link", "Sanity checks")
    page._click_text(dash_duo, "#trust-modal button", "Run the sanity checks")
    page._wait(
        lambda: "No verdict" in dash_duo.find_element("#trust-modal").text,
        timeout=180,
        message="the sanity check's words",
    )
    text = dash_duo.find_element("#trust-modal").text
    assert "weights are random" in text and "Passes" not in text and "depends on what the model learned" not in text
    dash_duo.driver.save_screenshot(str(page.ARTIFACTS / "trust_panel_random_weights.png"))
