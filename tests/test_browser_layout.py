"""The page in a real headless Chromium at a classroom projector's size (1024 × 768) and a large screen
(1600 × 1200), on the Shapes demo with its own weights: cards that reflow on every resize, nothing wider
than its box, no broken images, texts in the model's own words, opacity that follows one rule and stays in
the browser, and a trust panel that keeps its results. Saves screenshots under tests/artifacts/."""

from __future__ import annotations

import base64
import json
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.test_browser import _DRIVER, ARTIFACTS, _card_state, _click_text, _dom_id, _wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CARDS = ("a-grad_cam", "a-guided_grad_cam", "a-vanilla_gradient")  # the default methods on the Shapes demo


@pytest.fixture
def shapes_page(dash_duo, browser_available, tmp_path):
    """The Shapes demo with its shipped weights (the classroom default); counts the requests it gets."""
    import flask

    from app import create_app

    app = create_app({"weights": "imagenet", "model": "shapes", "data_dir": str(tmp_path / "data")})
    requests: list[str] = []
    app.server.before_request(lambda: requests.append(flask.request.path) and None)
    dash_duo.start_server(app)
    _DRIVER["driver"] = dash_duo.driver
    dash_duo.wait_for_text_to_equal("h1", "Saliency maps", timeout=30)
    return dash_duo, app, requests


def _viewport(dash_duo, width: int, height: int) -> None:
    """Make the page's visible area ``width`` × ``height`` CSS pixels (the window adds its own frame)."""
    driver = dash_duo.driver

    def fitted():  # the frame's size is known only once measured: size the window, measure, correct
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        if inner == [width, height]:
            return True
        outer = driver.get_window_size()
        driver.set_window_size(outer["width"] + width - inner[0], outer["height"] + height - inner[1])
        time.sleep(0.3)
        return False

    _wait(fitted, timeout=20, message=f"a {width} × {height} viewport")
    time.sleep(1.0)  # the resize observers and Plotly's relayout


def _screenshot(dash_duo, name: str) -> None:
    """The visible page (what a projector shows) and the whole page below it, as PNGs in tests/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    shot = dash_duo.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    (ARTIFACTS / f"{name}_full.png").write_bytes(base64.b64decode(shot["data"]))


def _example(dash_duo, name: str = "Star") -> None:
    _click_text(dash_duo, ".examples:not([hidden]) button.example", name)
    for card in CARDS:
        _wait(lambda card=card: _card_state(dash_duo, card).get("ready"), message=f"card {card}")


def _set(dash_duo, component: str | dict, props: dict) -> None:
    """Change a component's props as the page itself would (dash_clientside.set_props)."""
    dash_duo.driver.execute_script("window.dash_clientside.set_props(arguments[0], arguments[1]);", component, props)


CARD_BOXES = """
return [...document.querySelectorAll('.method-card')].map(card => {
    const box = e => { if (!e) { return null; } const r = e.getBoundingClientRect();
                       return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width,
                               height: r.height}; };
    return {card: box(card), body: box(card.querySelector('.card-body')),
            graph: box(card.querySelector('.js-plotly-plot')), svg: box(card.querySelector('.main-svg')),
            text: box(card.querySelector('.description')), picture: box(card.querySelector('.imagelayer image')),
            inner: card.querySelector('.card-body').clientWidth
                   - parseFloat(getComputedStyle(card.querySelector('.card-body')).paddingLeft) * 2};
});
"""


GRAPHS_OUTSIDE = """
return [...document.querySelectorAll('.card .js-plotly-plot')].filter(plot => {
    const svg = plot.querySelector('.main-svg'), body = plot.closest('.card-body');
    if (!svg || !body || !plot.offsetParent) { return false; }
    const a = svg.getBoundingClientRect(), b = body.getBoundingClientRect();
    return a.right > b.right + 1 || a.left < b.left - 1 || a.bottom > b.bottom + 1;
}).map(plot => plot.closest('[id]').id);
"""


def _cards_fit(dash_duo) -> list[str]:
    """What is wrong with the cards' layout right now (empty: every map inside its card, above its text,
    and every other graph inside its card)."""
    wrong = [f"the graph {name} sticks out of its card" for name in dash_duo.driver.execute_script(GRAPHS_OUTSIDE)]
    for i, boxes in enumerate(dash_duo.driver.execute_script(CARD_BOXES)):
        graph, svg, text, body = boxes["graph"], boxes["svg"], boxes["text"], boxes["body"]
        if graph["height"] < 100:
            wrong.append(f"card {i}: the graph's box collapsed to {graph['height']:.0f} px")
        if svg["bottom"] > text["top"] + 1:
            wrong.append(f"card {i}: the map reaches {svg['bottom'] - text['top']:.0f} px into the text below it")
        if svg["right"] > body["right"] + 1 or svg["left"] < body["left"] - 1:
            wrong.append(f"card {i}: the map is wider than its card ({svg['width']:.0f} > {body['width']:.0f} px)")
        if boxes["picture"] and boxes["picture"]["width"] < 0.95 * boxes["inner"]:  # the Shapes pictures are square
            wrong.append(f"card {i}: the picture uses {boxes['picture']['width']:.0f} of {boxes['inner']:.0f} px")
    return wrong


def test_cards_reflow_when_the_window_is_resized(shapes_page):
    dash_duo, _, _ = shapes_page
    _viewport(dash_duo, 1600, 1200)
    _example(dash_duo)
    _wait(lambda: _cards_fit(dash_duo) == [], timeout=10, message=f"the cards to fit: {_cards_fit(dash_duo)}")
    for width, height in ((1280, 800), (1024, 768), (1600, 1200)):  # plugged into a projector, and back
        _viewport(dash_duo, width, height)
        _wait(
            lambda: _cards_fit(dash_duo) == [],
            timeout=10,
            message=f"the cards to reflow at {width} × {height}: {_cards_fit(dash_duo)}",
        )


TOO_WIDE = """
const wrong = [];
document.querySelectorAll('.controls .step').forEach(step => {
    const box = step.getBoundingClientRect();
    step.querySelectorAll('*').forEach(e => {
        const r = e.getBoundingClientRect();
        const style = getComputedStyle(e);
        if (r.width < 2 || r.height < 2 || style.visibility === 'hidden' || style.opacity === '0') { return; }
        if (r.right > box.right + 1 || r.left < box.left - 1) {
            const words = (e.innerText || e.alt || '').slice(0, 30);
            wrong.push(`${e.tagName}.${e.className} "${words}" sticks out of its card`);
        }
    });
});
document.querySelectorAll('.dash-dropdown-value').forEach(e => {
    if (e.scrollWidth > e.clientWidth + 1) { wrong.push(`the dropdown value "${e.innerText}" is cut off`); }
});
if (document.documentElement.scrollWidth > window.innerWidth) { wrong.push('the page scrolls sideways'); }
return wrong;
"""


def test_the_page_is_comfortable_on_a_1024_by_768_projector(shapes_page):
    dash_duo, _, _ = shapes_page
    for width, height in ((1024, 768), (1600, 1200)):
        dash_duo.driver.get(dash_duo.server_url)  # a fresh page at this size
        _viewport(dash_duo, width, height)
        dash_duo.wait_for_text_to_equal("h1", "Saliency maps", timeout=30)
        _example(dash_duo)
        assert dash_duo.driver.execute_script(TOO_WIDE) == [], f"at {width} × {height}"
        controls = dash_duo.driver.execute_script(
            "return document.querySelector('.controls').getBoundingClientRect().width"
        )
        assert controls >= 300, f"the controls column is only {controls:.0f} px wide at {width} × {height}"
        _wait(lambda: _cards_fit(dash_duo) == [], timeout=10, message=f"the cards to fit: {_cards_fit(dash_duo)}")
        _screenshot(dash_duo, f"page_{width}x{height}")

        # compare mode: the second model's cards beside the first's, still inside the page
        _set(dash_duo, "compare-model", {"value": "vgg16"})
        _wait(
            lambda: len(dash_duo.driver.find_elements(By.CSS_SELECTOR, ".method-card")) == 2 * len(CARDS),
            timeout=30,
            message="the compared model's cards",
        )
        time.sleep(2.0)
        assert dash_duo.driver.execute_script(TOO_WIDE) == [], f"compare mode at {width} × {height}"
        _screenshot(dash_duo, f"compare_{width}x{height}")
    assert "Traceback" not in dash_duo.driver.find_element(By.TAG_NAME, "body").text


BROKEN_IMAGES = """
return [...document.images].filter(img => img.offsetWidth > 0 && img.offsetHeight > 0
                                          && (!img.complete || img.naturalWidth === 0))
                           .map(img => img.id || img.alt || img.outerHTML.slice(0, 80));
"""


def test_first_load_has_no_broken_image_and_speaks_the_models_words(shapes_page):
    dash_duo, _, _ = shapes_page
    _viewport(dash_duo, 1600, 1200)
    _wait(lambda: dash_duo.find_element("#model-status").text, timeout=30, message="the model's status")
    _wait(
        lambda: dash_duo.driver.execute_script("return [...document.images].every(img => img.complete);"),
        timeout=20,
        message="the images to load",
    )
    assert dash_duo.driver.execute_script(BROKEN_IMAGES) == []
    assert not dash_duo.find_element(".downloads").is_displayed(), "no stray separators before any map exists"
    _screenshot(dash_duo, "first_load_1600x1200")

    status = dash_duo.find_element("#model-status").text
    assert "crosses" in status and "crosss" not in status, status
    hint = dash_duo.find_element("#target").text
    assert "circle" in hint and "banana" not in hint and "cat" not in hint.split(), hint
    _set(dash_duo, "model", {"value": "vgg16"})  # another model: its own classes in the hint
    _wait(lambda: "banana" in dash_duo.find_element("#target").text, timeout=20, message="VGG16's search hint")


def _number_box(dash_duo, slider_dom_id: str):
    return dash_duo.driver.execute_script(
        "return document.getElementById(arguments[0]).querySelector('input[type=number]');", slider_dom_id
    )


def _type_and_enter(dash_duo, box, value: str) -> None:
    """Type a number in a slider's box and press Enter, as a person does (the box keeps the focus)."""
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();arguments[0].select();", box
    )
    dash_duo.driver.switch_to.active_element.send_keys(value, Keys.ENTER)


def _opacities(dash_duo, cards) -> dict:
    return {card: _card_state(dash_duo, card).get("opacity") for card in cards}


def test_opacity_follows_one_rule_and_stays_in_the_browser(shapes_page):
    dash_duo, _, requests = shapes_page
    _example(dash_duo)
    time.sleep(2.0)
    before = len(requests)

    # the global box: Enter applies it to every card
    _type_and_enter(dash_duo, _number_box(dash_duo, "opacity-all"), "0.2")
    _wait(
        lambda: set(_opacities(dash_duo, CARDS).values()) == {0.2},
        timeout=10,
        message=f"every card at 0.2 after Enter, not {_opacities(dash_duo, CARDS)}",
    )

    # a card's own box overrides that card only
    _type_and_enter(dash_duo, _number_box(dash_duo, _dom_id("a-grad_cam", "card-opacity")), "0.8")
    _wait(
        lambda: _opacities(dash_duo, CARDS) == {"a-grad_cam": 0.8, "a-guided_grad_cam": 0.2, "a-vanilla_gradient": 0.2},
        timeout=10,
        message=f"Grad-CAM alone at 0.8, not {_opacities(dash_duo, CARDS)}",
    )
    time.sleep(1.0)
    assert not [path for path in requests[before:] if path.startswith("/_dash")], "opacity reached the server"

    # a new card starts at the global value; the card set apart keeps its own
    _set(dash_duo, "methods", {"value": ["grad_cam", "guided_grad_cam", "vanilla_gradient", "gradient_x_input"]})
    cards = (*CARDS, "a-gradient_x_input")
    _wait(lambda: _card_state(dash_duo, "a-gradient_x_input").get("ready"), message="the new card's map")
    _wait(
        lambda: (
            _opacities(dash_duo, cards)
            == {"a-grad_cam": 0.8, "a-guided_grad_cam": 0.2, "a-vanilla_gradient": 0.2, "a-gradient_x_input": 0.2}
        ),
        timeout=15,
        message=f"the rule kept after adding a card, not {_opacities(dash_duo, cards)}",
    )
    slider = dash_duo.driver.execute_script(
        "return document.getElementById(arguments[0]).querySelector('[role=slider]').getAttribute('aria-valuenow');",
        _dom_id("a-gradient_x_input", "card-opacity"),
    )
    assert float(slider) == 0.2, "the new card's slider must show what its map shows"

    # the global slider moves again: every card follows, the one set apart too
    _type_and_enter(dash_duo, _number_box(dash_duo, "opacity-all"), "0.7")
    _wait(
        lambda: set(_opacities(dash_duo, cards).values()) == {0.7},
        timeout=10,
        message=f"every card at 0.7, not {_opacities(dash_duo, cards)}",
    )
    assert dash_duo.get_logs() in ([], None)


def test_progress_labels_are_not_cut_off(shapes_page):
    from components.long_job import progress_label

    dash_duo, _, _ = shapes_page
    _viewport(dash_duo, 1024, 768)
    _example(dash_duo)

    class Queued:  # the label of a job still waiting for a worker: the bar is 0 % wide
        status, progress, eta = "queued", 0.0, None

    for value, label in ((0, progress_label(Queued())), (4, "4% · about 95 s left")):
        _set(dash_duo, {"type": "card-progress-box", "card": "a-grad_cam"}, {"style": {"display": "block"}})
        _set(dash_duo, {"type": "card-progress", "card": "a-grad_cam"}, {"value": value, "label": label})
        time.sleep(0.5)
        cut = dash_duo.driver.execute_script(
            """
            const root = document.getElementById(arguments[0]);
            const bar = root.querySelector('.progress-bar');
            const range = document.createRange(); range.selectNodeContents(bar);
            const text = range.getBoundingClientRect(), track = root.getBoundingClientRect();
            const clipped = getComputedStyle(bar).overflow !== 'visible' && bar.scrollWidth > bar.clientWidth + 1;
            return {clipped: clipped, inside: text.left >= track.left - 1 && text.right <= track.right + 1,
                    shown: bar.innerText};
            """,
            _dom_id("a-grad_cam", "card-progress"),
        )
        assert cut == {"clipped": False, "inside": True, "shown": label}, cut


def test_a_partial_maps_title_fits_its_card(shapes_page):
    import numpy as np

    from components.figures import overlay_figure
    from components.method_cards import partial_title

    dash_duo, _, _ = shapes_page
    _viewport(dash_duo, 1024, 768)
    _example(dash_duo)
    figure = overlay_figure(
        "/assets/examples/shapes/star.png", np.zeros((128, 128), np.uint8), title=partial_title(0.4)
    )  # as the card draws it while the samples arrive
    _set(dash_duo, {"type": "card-graph", "card": "a-grad_cam"}, {"figure": json.loads(figure.to_json())})
    _wait(
        lambda: dash_duo.driver.execute_script(
            "const r = document.getElementById(arguments[0]); return !!(r && r.querySelector('.gtitle'));",
            _dom_id("a-grad_cam", "card-graph"),
        ),
        timeout=10,
        message="the partial map's title",
    )
    title, svg = dash_duo.driver.execute_script(
        """
        const root = document.getElementById(arguments[0]);
        const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.right]; };
        return [box(root.querySelector('.gtitle')), box(root.querySelector('.main-svg'))];
        """,
        _dom_id("a-grad_cam", "card-graph"),
    )
    assert svg[0] - 1 <= title[0] and title[1] <= svg[1] + 1, f"the title {title} runs out of the figure {svg}"


def test_the_trust_panel_keeps_its_results_when_reopened(shapes_page):
    dash_duo, app, _ = shapes_page
    from components.common import SERVICE_KEY

    service = app.server.extensions[SERVICE_KEY]
    started = []
    request_check = service.request_check
    service.request_check = lambda *args, **kwargs: started.append(args[0]) or request_check(*args, **kwargs)

    _viewport(dash_duo, 1024, 768)
    _example(dash_duo)
    curves = json.dumps({"check": "faithfulness", "type": "trust-figure"}, separators=(",", ":"))
    drawn = (
        "const root = document.getElementById(arguments[0]);"
        "const plot = root && root.querySelector('.js-plotly-plot');"
        "return !!(plot && plot.data && plot.data.length === 2 && root.offsetHeight > 100);"
    )
    for attempt in range(2):  # opened, computed, closed; then opened again
        dash_duo.driver.execute_script(
            "document.getElementById(arguments[0]).click();", _dom_id("a-grad_cam", "card-trust")
        )
        _wait(lambda: "Pitfalls" in dash_duo.find_element("#trust-modal").text, timeout=20, message="the panel")
        _click_text(dash_duo, "#trust-modal .nav-link", "Faithfulness")
        if attempt == 0:
            _click_text(dash_duo, "#trust-modal button", "Draw the deletion and insertion curves")
        _wait(lambda: dash_duo.driver.execute_script(drawn, curves), message="the deletion and insertion curves")
        # the tab's words are read as shown: they may still be fading in when the curves are drawn
        _wait(
            lambda: "Deletion: area" in dash_duo.find_element("#trust-modal").text,
            timeout=20,
            message="the curves' areas in words",
        )
        if attempt == 0:
            _screenshot(dash_duo, "trust_panel_1024x768")
            _viewport(dash_duo, 1600, 1200)
            _screenshot(dash_duo, "trust_panel_1600x1200")
            dash_duo.find_element("#trust-modal .btn-close").click()
            _wait(
                lambda: not dash_duo.driver.find_elements(By.CSS_SELECTOR, "#trust-modal.show"),
                timeout=10,
                message="the panel to close",
            )
    assert started == ["faithfulness"], "reopening the panel must show the cached result, not compute it again"
    assert dash_duo.get_logs() in ([], None)
