"""Compare mode and the top-5 chart in a real headless Chromium, as a teacher would use them on the Shapes demo
(its trained weights ship with the code; the ImageNet models' weights are absent, as on an offline machine).
Saves screenshots of compare mode at 1600 × 1200 and 1024 × 768 to tests/artifacts/."""

from __future__ import annotations

import re
import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.test_browser import _DRIVER, ARTIFACTS, _card_state, _click_text, _dom_id, _info_text, _pick, _wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# at once, not smoothly (Bootstrap scrolls smoothly, and a click meanwhile lands where the element was)
SCROLL_TO = "arguments[0].scrollIntoView({block: arguments[1], behavior: 'instant'});"


@pytest.fixture
def offline_shapes(dash_duo, browser_available, tmp_path, monkeypatch):
    """The page on the Shapes demo with trained weights; no ImageNet weights on this computer, none to fetch."""
    from app import create_app

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("EXPLAINERS_OFFLINE", "1")
    app = create_app({"weights": "imagenet", "model": "shapes", "data_dir": str(tmp_path / "data")})
    dash_duo.start_server(app)
    _DRIVER["driver"] = dash_duo.driver
    dash_duo.wait_for_text_to_equal("h1", "Saliency maps", timeout=30)
    return dash_duo


def _choose(dash_duo, dropdown_id: str, text: str) -> None:
    """Open a dcc.Dropdown without a search box and click the option starting with ``text``."""

    def option():
        trigger = dash_duo.find_element(f"#{dropdown_id}")
        if trigger.get_attribute("data-state") != "open":
            dash_duo.driver.execute_script(SCROLL_TO, trigger, "center")
            trigger.click()
            time.sleep(0.3)
            return None
        return dash_duo.driver.execute_script(
            "const popup = document.getElementById(arguments[0].getAttribute('aria-controls'));"
            "const wanted = arguments[1];"
            "return popup && Array.from(popup.querySelectorAll('.dash-dropdown-option'))"
            "  .find(function(o) { return o.innerText.trim().startsWith(wanted); });",
            trigger,
            text,
        )

    _wait(option, timeout=10, message=f"the option {text!r} of #{dropdown_id}").click()


def _chart(dash_duo, graph_id: str) -> dict:
    """The top-5 chart as drawn: its classes, the drawn width of each bar, where each class name is."""
    return dash_duo.driver.execute_script(
        """
        const plot = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        if (!plot || !plot.data || !plot.data.length || plot.data[0].type !== 'bar') { return null; }
        const bars = plot.querySelectorAll('.barlayer .trace')[0];
        const widths = bars ? Array.from(bars.querySelectorAll('.point path')).map(p => p.getBBox().width) : [];
        const names = Array.from(plot.querySelectorAll('.barlayer text')).map(t => t.textContent);
        const notes = Array.from(plot.querySelectorAll('.annotation-text')).map(t => t.textContent);
        return {classes: plot.data[0].customdata, labels: plot.data[0].y, widths: widths, names: names, notes: notes};
        """,
        graph_id,
    )


def _click_name(dash_duo, graph_id: str, label: str) -> None:
    """Click a class's name (not its bar) on a top-5 chart, where a person's pointer would."""
    name = next(
        element
        for element in dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{graph_id} .barlayer text")
        if element.text == label
    )
    dash_duo.driver.execute_script(SCROLL_TO, name, "center")
    ActionChains(dash_duo.driver).move_to_element(name).click().perform()


def _box(dash_duo, card: str) -> dict:
    return dash_duo.driver.execute_script(
        "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
        "return {left: r.left, top: r.top, width: r.width};",
        _dom_id(card, "card"),
    )


def _screenshot(dash_duo, name: str, element_id: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    dash_duo.driver.execute_script(SCROLL_TO, dash_duo.find_element(f"#{element_id}"), "start")
    time.sleep(0.5)
    dash_duo.driver.save_screenshot(str(ARTIFACTS / name))


def _compare_star_with_vgg16(dash_duo) -> None:
    _click_text(dash_duo, ".examples:not([hidden]) button.example", "Star")
    _wait(lambda: "star (class 3)" in _info_text(dash_duo, "a-grad_cam"), message="Grad-CAM of the star")
    _choose(dash_duo, "compare-model", "VGG16")


def test_each_compared_model_explains_its_own_class_in_paired_cards(offline_shapes):
    dash_duo = offline_shapes
    _compare_star_with_vgg16(dash_duo)
    # VGG16's trained weights are missing: its cards say so, naming the model, and its own weights choice shows
    _wait(
        lambda: "VGG16's ImageNet weights are missing" in _info_text(dash_duo, "b-grad_cam"),
        message="the missing-weights message on VGG16's card",
    )
    assert "under “Compare with a second model”" in _info_text(dash_duo, "b-grad_cam")
    assert "fetch-weights --model vgg16" in dash_duo.find_element("#compare-status").text
    _click_text(dash_duo, "#compare-weights label", "random weights (testing only)")

    # VGG16 does not know "star": it explains its own top class, never its class 3 ("tiger shark")
    _wait(lambda: _card_state(dash_duo, "b-grad_cam").get("ready"), timeout=240, message="VGG16's Grad-CAM card")
    said = _info_text(dash_duo, "b-grad_cam")
    assert "VGG16 does not know “star”; showing its top class: " in said and "tiger shark" not in said
    top = re.search(r"showing its top class: (.+)", said).group(1).strip()
    assert f"{top} (class " in said
    assert "star (class 3)" in _info_text(dash_duo, "a-grad_cam")  # the first model keeps its own class

    # a top-5 chart for each model, the second highlighting the class its cards explain
    chart = _wait(lambda: _chart(dash_duo, "compare-predictions"), message="VGG16's top-5 chart")
    assert (
        len(chart["classes"]) == 5
        and "What VGG16 thinks it sees" in dash_duo.find_element("#compare-predictions-title").text
    )
    assert any(name.startswith(top) for name in chart["names"])
    # a class clicked on VGG16's own chart is the one VGG16's cards explain
    _click_name(dash_duo, "compare-predictions", chart["labels"][-2])
    wanted = f"{chart['labels'][-2].rsplit(' (', 1)[0]} (class {chart['classes'][-2]})"
    _wait(
        lambda: (
            wanted in _info_text(dash_duo, "b-grad_cam")
            and "picked on VGG16's chart" in _info_text(dash_duo, "b-grad_cam")
        ),
        message=f"VGG16's Grad-CAM of {wanted}",
    )
    assert "star (class 3)" in _info_text(dash_duo, "a-grad_cam")

    # cards paired by method: Shapes' card and VGG16's card of one method side by side in one row
    for method in ("grad_cam", "vanilla_gradient"):
        _wait(lambda: _card_state(dash_duo, f"b-{method}").get("ready"), timeout=240, message=f"b-{method}")
        a, b = _box(dash_duo, f"a-{method}"), _box(dash_duo, f"b-{method}")
        assert abs(a["top"] - b["top"]) < 2 and a["left"] < b["left"], (method, a, b)
    assert _box(dash_duo, "a-guided_grad_cam")["top"] > _box(dash_duo, "a-grad_cam")["top"]

    _screenshot(dash_duo, "compare_1600x1200.png", "predictions-title")
    _screenshot(dash_duo, "compare_1600x1200_cards.png", "cards")

    # on a classroom projector: the page opened at 1024 × 768 (maps come from the cache), cards still paired
    dash_duo.driver.set_window_size(1024, 768)
    dash_duo.driver.refresh()
    _compare_star_with_vgg16(dash_duo)
    _click_text(dash_duo, "#compare-weights label", "random weights (testing only)")
    _wait(lambda: _card_state(dash_duo, "b-grad_cam").get("ready"), message="VGG16's Grad-CAM card again")
    a, b = _box(dash_duo, "a-grad_cam"), _box(dash_duo, "b-grad_cam")
    assert abs(a["top"] - b["top"]) < 2 and b["left"] >= a["left"] + a["width"] - 1
    _screenshot(dash_duo, "compare_1024x768.png", "cards")
    assert "Traceback" not in dash_duo.driver.find_element(By.TAG_NAME, "body").text
    assert dash_duo.get_logs() in ([], None)


def test_the_top_five_chart_takes_clicks_on_names_and_says_where_a_picked_class_stands(offline_shapes):
    dash_duo = offline_shapes
    from explainers.shapes import CLASSES

    _click_text(dash_duo, ".examples:not([hidden]) button.example", "Star")
    chart = _wait(lambda: _chart(dash_duo, "predictions"), message="the top-5 chart")
    assert chart["classes"][-1] == 3  # the star on top, confidently: the other classes get tiny probabilities
    assert min(chart["widths"]) >= 5, f"every bar can be seen and clicked: {chart['widths']}"

    # click a class by its name, not its bar: that class is explained
    second = chart["labels"][-2]
    _click_name(dash_duo, "predictions", second)
    wanted = f"{second.rsplit(' (', 1)[0]} (class {chart['classes'][-2]})"
    _wait(lambda: wanted in _info_text(dash_duo, "a-grad_cam"), message=f"Grad-CAM of {wanted}")

    # a class outside the top 5: the chart says its probability and rank
    outside = next(index for index in range(len(CLASSES)) if index not in chart["classes"])
    _pick(dash_duo, "target", CLASSES[outside])
    note = _wait(
        lambda: [n for n in (_chart(dash_duo, "predictions") or {}).get("notes", []) if n.startswith("picked:")],
        timeout=60,
        message="the picked class's standing",
    )[0]
    assert re.fullmatch(rf"picked: {CLASSES[outside]} — \d+\.\d%, rank [67]", note), note
    _wait(
        lambda: f"{CLASSES[outside]} (class {outside})" in _info_text(dash_duo, "a-grad_cam"),
        message="the card explaining the picked class",
    )
    assert dash_duo.get_logs() in ([], None)
