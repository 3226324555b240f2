"""Waiting, stopping and first loads, in a real headless Chromium on the Shapes demo: a card says what
it waits behind, keeps its partial map after Cancel with Run again, and says when a model loads on its
first use. Slow work is held by a gate, so the states last as long as the test needs."""

from __future__ import annotations

import threading
import time

import pytest
from selenium.webdriver.common.keys import Keys

from test_browser import _DRIVER, ARTIFACTS, _dom_id, _wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]
HELD = {"rise": "RISE", "occlusion": "Occlusion"}  # multi-pass methods held at their first progress report


def _text(dash_duo, card: str, kind: str) -> str:
    return dash_duo.driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.textContent : '';", _dom_id(card, kind)
    )


def _visible(dash_duo, card: str, kind: str) -> bool:
    return dash_duo.driver.execute_script(
        "const e = document.getElementById(arguments[0]); return !!e && e.offsetParent !== null;", _dom_id(card, kind)
    )


def _figure(dash_duo, card: str) -> dict:
    return dash_duo.driver.execute_script(
        """
        const root = document.getElementById(arguments[0]);
        const plot = root && root.querySelector('.js-plotly-plot');
        if (!plot || !plot.data) { return {}; }
        const annotations = (plot.layout.annotations || []).map(a => a.text.replace(/<br>/g, ' ')).join(' ');
        const title = plot.layout.title && plot.layout.title.text ? plot.layout.title.text : '';
        return {heatmap: plot.data.length > 0 && plot.data[0].type === 'heatmap', text: annotations, title: title};
        """,
        _dom_id(card, "card-graph"),
    )


def _click_example(dash_duo) -> None:
    """Click the first example picture on show (the Shapes gallery; the photo gallery is hidden)."""
    _wait(
        lambda: dash_duo.driver.execute_script(
            "const b = [...document.querySelectorAll('button.example')].find(e => e.offsetParent !== null);"
            "if (b) { b.click(); } return !!b;"
        ),
        timeout=30,
        message="an example picture",
    )


def _add_method(dash_duo, title: str) -> None:
    """Add a method in the methods list as a person would: open it, type the name, Enter, close it."""
    trigger = dash_duo.find_element("#methods")
    if trigger.get_attribute("data-state") != "open":
        trigger.click()
    box = _wait(
        lambda: dash_duo.driver.execute_script(
            "const popup = document.getElementById(arguments[0].getAttribute('aria-controls'));"
            "return popup && popup.querySelector('.dash-dropdown-search');",
            trigger,
        ),
        timeout=10,
        message="the methods' search box",
    )
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    box.send_keys(title)
    time.sleep(0.5)
    box.send_keys(Keys.ENTER)
    time.sleep(0.3)
    box.send_keys(Keys.ESCAPE)
    _wait(lambda: trigger.get_attribute("data-state") != "open", timeout=10, message="the methods list to close")


@pytest.fixture
def shapes_page(dash_duo, browser_available, tmp_path):
    from app import create_app
    from components.common import SERVICE_KEY
    from explainers.methods import METHODS
    from explainers.versions import method_version

    for method in METHODS.values():  # parsed once here: ast.parse in many request threads at once can fail
        method_version(method)
    app = create_app({"model": "shapes", "data_dir": str(tmp_path / "data")})
    dash_duo.start_server(app)
    dash_duo.driver.set_window_size(1600, 2000)  # every control and card on screen at once
    _DRIVER["driver"] = dash_duo.driver  # a timeout then says what the page showed
    dash_duo.wait_for_text_to_equal("h1", "Saliency maps", timeout=30)
    return dash_duo, app.server.extensions[SERVICE_KEY]


def test_a_model_loading_on_first_use_is_said_on_every_card(shapes_page, monkeypatch):
    import explainers.models as models
    import service.core as core

    dash_duo, _svc = shapes_page
    real, gate = models.load_model, threading.Event()

    def slow_first_load(*args, **kwargs):  # a first load that takes as long as the test looks
        gate.wait(120)
        return real(*args, **kwargs)

    monkeypatch.setattr(models, "load_model", slow_first_load)
    monkeypatch.setattr(core, "load_model", slow_first_load)  # the service's own reference to it
    _click_example(dash_duo)
    try:
        _wait(
            lambda: "Loading Shapes" in _figure(dash_duo, "a-grad_cam").get("text", ""),
            timeout=30,
            message="the card saying the model loads",
        )
        said = _figure(dash_duo, "a-grad_cam")["text"]
        assert "first use" in said and "Waiting for a picture" not in said, said
    finally:
        gate.set()
    _wait(lambda: _figure(dash_duo, "a-grad_cam").get("heatmap"), message="the map once the model is loaded")


def _hold(svc, gate: threading.Event, at_start: bool = False) -> None:
    """The held methods stop at their first progress report after a partial map (``at_start``: before
    they begin) until ``gate`` is set (a cancel still stops them there); everything else computes as
    usual. After a partial map: in stable mode a map is sent after a whole chunk's progress reports."""
    compute = svc.compute

    def held(request, progress=None, cache_key=None, preview=None):
        if request.get("method") not in HELD or progress is None:
            return compute(request, progress, cache_key, preview)
        while at_start and not gate.is_set():
            time.sleep(0.1)
            progress(0.0)  # stops here once cancelled
        previews = []

        def previewing(heatmap) -> None:
            preview(heatmap)
            previews.append(True)

        def report(fraction: float) -> None:
            progress(fraction)  # stops here once cancelled
            while 0 < fraction < 1 and (previews or preview is None) and not gate.is_set():
                time.sleep(0.1)
                progress(fraction)

        return compute(request, report, cache_key, previewing if preview is not None else None)

    svc.compute = held


def test_cards_say_what_they_wait_behind_and_quick_maps_do_not_wait(shapes_page):
    dash_duo, svc = shapes_page
    gate = threading.Event()
    # held from their start: occlusion on Shapes reports progress only when done, so held at its first
    # report it would finish unheld whenever it ran first, and then nothing ever waited
    _hold(svc, gate, at_start=True)
    try:
        for title in HELD.values():
            _add_method(dash_duo, title)
        _click_example(dash_duo)
        # one-pass maps do not wait for the multi-pass ones
        _wait(lambda: _figure(dash_duo, "a-grad_cam").get("heatmap"), message="Grad-CAM's map")

        def waiting_card():
            for name in HELD:
                other = next(t for n, t in HELD.items() if n != name)
                if _text(dash_duo, f"a-{name}", "card-status").startswith(f"Waiting behind {other}, about "):
                    return name
            return None

        waiting = _wait(waiting_card, timeout=60, message="a card saying what it waits behind")
        assert _text(dash_duo, f"a-{waiting}", "card-status").endswith(" s")
        assert not _visible(dash_duo, f"a-{waiting}", "card-progress")  # words, not a label in an empty bar
        assert _figure(dash_duo, "a-grad_cam").get("heatmap")
        ARTIFACTS.mkdir(exist_ok=True)
        dash_duo.driver.save_screenshot(str(ARTIFACTS / "card-waiting.png"))
    finally:
        gate.set()
    _wait(
        lambda: _figure(dash_duo, f"a-{waiting}").get("heatmap") and not _text(dash_duo, f"a-{waiting}", "card-status"),
        message="the waiting card's map once the other is done",
    )


def test_cancel_keeps_the_partial_map_and_run_again_restarts_it(shapes_page):
    dash_duo, svc = shapes_page
    gate = threading.Event()
    _hold(svc, gate)
    try:
        _add_method(dash_duo, "RISE")
        _click_example(dash_duo)
        _wait(lambda: _figure(dash_duo, "a-rise").get("heatmap"), message="RISE's partial map")
        dash_duo.driver.execute_script(
            "document.getElementById(arguments[0]).click();", _dom_id("a-rise", "card-cancel")
        )
        _wait(
            lambda: _text(dash_duo, "a-rise", "card-status").startswith("Stopped at "),
            message="the card saying where it stopped",
        )
        assert _text(dash_duo, "a-rise", "card-status").rstrip(".").endswith("%")
        figure = _figure(dash_duo, "a-rise")
        assert figure["heatmap"] and "partial map" in figure["title"], figure  # the partial map stays
        assert _visible(dash_duo, "a-rise", "card-again") and not _visible(dash_duo, "a-rise", "card-cancel")
        assert not _text(dash_duo, "a-rise", "card-info")  # no red error
        ARTIFACTS.mkdir(exist_ok=True)
        dash_duo.driver.save_screenshot(str(ARTIFACTS / "card-stopped.png"))
        gate.set()
        dash_duo.driver.execute_script(
            "document.getElementById(arguments[0]).click();", _dom_id("a-rise", "card-again")
        )
        _wait(
            lambda: "computed in" in _text(dash_duo, "a-rise", "card-info"),
            timeout=180,
            message="the map computed again after Run again",
        )
        assert "partial" not in _figure(dash_duo, "a-rise")["title"]
        assert not _visible(dash_duo, "a-rise", "card-again")
    finally:
        gate.set()
