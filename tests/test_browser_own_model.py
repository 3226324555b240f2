"""Your own model in a real headless Chromium: a person uploads a .keras file built here with its labels,
picks how it expects its pixels, watches the progress bar, and gets maps of it; a file that is no model
gets a sentence. Saves screenshots at 1600 × 1200 and 1024 × 768 under tests/artifacts/."""

from __future__ import annotations

import pytest
from selenium.webdriver.support.ui import Select

from tests.test_browser import _DRIVER, _card_state, _info_text, _wait
from tests.test_browser_layout import _screenshot, _viewport
from tests.test_own_models_app import tiny_keras

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(dash_duo, browser_available, tmp_path):
    from app import create_app

    app = create_app({"weights": "imagenet", "model": "shapes", "data_dir": str(tmp_path / "data")})
    dash_duo.start_server(app)
    _DRIVER["driver"] = dash_duo.driver
    dash_duo.wait_for_text_to_equal("h1", "Saliency maps", timeout=30)
    return dash_duo


def test_a_person_uploads_a_keras_model_with_labels_and_gets_maps(page, tmp_path):
    dash_duo = page
    model_file, labels_file, bogus = tmp_path / "pets.keras", tmp_path / "pets.txt", tmp_path / "notes.keras"
    tiny_keras(model_file)
    labels_file.write_text("cat\ndog\nbird\n", encoding="utf-8")
    bogus.write_text("not a model")

    dash_duo.find_element("#own-model summary").click()
    _wait(lambda: dash_duo.driver.find_elements("css selector", "#own-model-file"), message="the upload form")
    dash_duo.find_element("#own-model-file").send_keys(str(bogus))
    dash_duo.find_element("#own-model-send").click()
    _wait(lambda: "zip" in dash_duo.find_element("#own-model-message").text.lower(), message="the refusal")

    dash_duo.find_element("#own-model-file").send_keys(str(model_file))
    dash_duo.find_element("#own-labels-file").send_keys(str(labels_file))
    Select(dash_duo.find_element("#own-preprocessing")).select_by_value("unit")
    dash_duo.find_element("#own-model-send").click()
    _wait(lambda: "Loaded pets" in dash_duo.find_element("#own-model-message").text, message="the loaded model")
    _wait(lambda: "pets" in dash_duo.find_element("#model").text, message="the model picked")
    _wait(
        lambda: "explaining the score before softmax" in dash_duo.find_element("#model-status").text,
        message="the model's facts",
    )
    assert "conv_b recommended" in dash_duo.find_element("#model-status").text
    _wait(lambda: "conv_b" in dash_duo.find_element("#layer").text, message="the recommended layer preselected")

    dash_duo.find_element("button.example").click()
    for card in ("a-grad_cam", "a-vanilla_gradient"):
        _wait(lambda: _card_state(dash_duo, card).get("ready"), message=f"card {card}")
    _wait(lambda: any(name in _info_text(dash_duo, "a-grad_cam") for name in ("cat", "dog", "bird")), message="a class")
    assert "What pets sees (16 × 12" in dash_duo.find_element("#input-caption").text
    page_text = dash_duo.driver.find_element("tag name", "body").text
    assert "Traceback" not in page_text
    _screenshot(dash_duo, "own_model_1600")
    _viewport(dash_duo, 1024, 768)
    _screenshot(dash_duo, "own_model_1024")
