"""The effort choice of the multi-pass cards and choosing a file again, in a real headless Chromium on
the Shapes demo (its weights ship with the app, so its maps are quick)."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.common.by import By

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WAIT = 120


def _dom_id(card: str, kind: str, **more: str) -> str:
    return json.dumps({"card": card, **more, "type": kind}, separators=(",", ":"))


def _wait(dash_duo, condition, timeout=WAIT, message="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    page = dash_duo.driver.find_element(By.TAG_NAME, "body").text
    raise AssertionError(f"timed out waiting for {message}; the page says:\n{page[:1500]}")


@pytest.fixture
def shapes_page(dash_duo, browser_available, tmp_path):
    from app import create_app

    app = create_app({"weights": "random", "model": "shapes", "data_dir": str(tmp_path / "data")})
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("h1", "Saliency maps", timeout=30)
    return dash_duo


def _picture_src(dash_duo) -> str:
    return dash_duo.find_element("#original-image").get_attribute("src") or ""


def _choose_file(dash_duo, path) -> None:
    dash_duo.find_element("#upload input[type=file]").send_keys(str(path))


def _write_picture(path, colour) -> None:
    pixels = np.zeros((64, 64, 3), np.uint8)
    pixels[16:48, 16:48] = colour
    Image.fromarray(pixels).save(path)


def test_choosing_the_same_file_again_is_taken_every_time(shapes_page, tmp_path):
    dash_duo = shapes_page
    picture_a = tmp_path / "square.png"
    _write_picture(picture_a, (250, 40, 40))

    _choose_file(dash_duo, picture_a)
    _wait(dash_duo, lambda: "/image/" in _picture_src(dash_duo), message="picture A")
    src_a = _picture_src(dash_duo)
    assert "square.png" in dash_duo.find_element("#upload-name").text

    # an example, then the same file A again: A is shown again
    dash_duo.find_element(".examples:not([hidden]) button.example").click()
    _wait(dash_duo, lambda: _picture_src(dash_duo) not in ("", src_a), message="the example")
    _choose_file(dash_duo, picture_a)
    _wait(dash_duo, lambda: _picture_src(dash_duo) == src_a, timeout=30, message="picture A again, after the example")

    # A twice in a row: still taken, and the status line says so
    _choose_file(dash_duo, picture_a)
    _wait(dash_duo, lambda: "again" in dash_duo.find_element("#upload-name").text, timeout=30,
          message="the status line to say the same picture was chosen again")
    assert _picture_src(dash_duo) == src_a
