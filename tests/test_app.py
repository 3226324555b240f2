"""The web app without a browser: factory, routes, limits, and callbacks called directly."""

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import png_bytes, text_of

ROOT = Path(__file__).resolve().parent.parent


def _triggered_by(prop_id: str) -> None:
    """Give a callback called directly the context Dash would give it (which input fired)."""
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": None}]))


def _page(key: str, model: str, weights: str, **more) -> dict:
    """The page state (components/page_state.py) as the browser sends it: one picture on one model."""
    return {
        "image": {"key": key},
        "model": model,
        "compare": None,
        "weights": weights,
        "target": None,
        "layer": None,
        "colormap": "viridis",
        "mode": "absolute",
        "percentile": 99,
        "scale": "own",
        **more,
    }


def test_importing_the_app_does_not_import_tensorflow():
    code = "import sys, app; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_components_never_import_tensorflow_or_explainers():
    for path in (ROOT / "components").glob("*.py"):
        source = path.read_text()
        for forbidden in ("import tensorflow", "import keras", "from explainers", "import explainers"):
            assert forbidden not in source, f"{path.name} imports {forbidden.split()[-1]}"


def test_each_app_has_its_own_service(tmp_path):
    from app import create_app
    from components.common import SERVICE_KEY

    one, two = create_app({"data_dir": str(tmp_path / "a")}), create_app({"data_dir": str(tmp_path / "b")})
    assert one.server.extensions[SERVICE_KEY] is not two.server.extensions[SERVICE_KEY]
    assert one.config.suppress_callback_exceptions and not one._dev_tools.ui  # no debug UI unless asked
    # every app gets every callback (dash.callback's global list would go to the first app only)
    for app in (one, two):
        with app.server.test_client() as client:
            client.get("/")
    assert len(one.callback_map) == len(two.callback_map) >= 12


def test_the_page_starts_with_the_one_list_of_default_methods(app):
    import explainers.api
    import service
    from components.method_cards import layout

    assert service.DEFAULT_METHODS is explainers.api.DEFAULT_METHODS  # defined once, read through the service
    assert service.DEFAULT_METHODS == ("grad_cam", "guided_grad_cam", "vanilla_gradient")  # as the README says
    with app.server.test_request_context():
        dropdown = layout([{"name": "grad_cam", "title": "Grad-CAM"}]).children.children[1]
    assert dropdown.id == "methods" and dropdown.value == list(service.DEFAULT_METHODS)


def test_cards_and_trust_checks_share_the_one_long_job_widget():
    from components import method_cards, trust_panel
    from components.long_job import PARTS, LongJob

    card, check = method_cards.LONG_JOB, trust_panel.LONG_JOB
    assert isinstance(card, LongJob) and isinstance(check, LongJob)
    assert card.id("progress", "a-grad_cam") == {"type": "card-progress", "card": "a-grad_cam"}
    assert check.id("cancel", "sanity") == {"type": "trust-cancel", "check": "sanity"}
    shapes = [[type(part).__name__ for part in widget.layout("x")] for widget in (card, check)]
    assert shapes[0] == shapes[1] == ["Div", "Store", "Interval"]  # the same parts, the same look
    assert [o.component_property for o in card.outputs()] == [prop for _, prop in PARTS]


def test_a_huge_post_to_dash_is_refused_before_dash_sees_it(client):
    body = b"x" * (50 * 1024 * 1024)
    response = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert response.status_code == 413
    assert b"at most 10 MB" in response.data and b"Traceback" not in response.data


def test_page_and_static_pieces(client):
    page = client.get("/")
    assert page.status_code == 200 and b"/vendor/bootstrap.min.css" in page.data
    assert b"upload_guard.js" in page.data and b"style.css" in page.data
    css = client.get("/vendor/bootstrap.min.css")
    assert css.status_code == 200 and b"Bootstrap" in css.data[:200]
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_pictures_by_key(app, client):
    from components.common import SERVICE_KEY

    key = app.server.extensions[SERVICE_KEY].add_image(png_bytes(300, 200))
    shown = client.get(f"/image/{key}/display.jpg")
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(shown.data)).size == (300, 200)
    model_input = client.get(f"/image/{key}/input/inception_v3.png")
    assert Image.open(io.BytesIO(model_input.data)).size == (299, 299)
    for url in (
        "/image/..%5C..%5Cetc/display.jpg",
        "/image/.../display.jpg",
        f"/image/{'0' * 64}/display.jpg",
        f"/image/{key}/input/alexnet.png",
        "/image/<script>/display.jpg",
    ):
        response = client.get(url)
        assert response.status_code == 404 and b"Traceback" not in response.data


@pytest.mark.slow
def test_downloads_carry_their_parameters(app, client):
    from components.common import SERVICE_KEY

    key = app.server.extensions[SERVICE_KEY].add_image(png_bytes(120, 80))
    card = client.get(f"/download/card.png?image={key}&model=vgg16&method=grad_cam&target=281&opacity=0.7")
    assert card.status_code == 200 and card.mimetype == "image/png"
    assert 'filename="grad_cam-vgg16-281-tabby_cat-block5_conv3.png"' in card.headers["Content-Disposition"]
    picture = Image.open(io.BytesIO(card.data))
    assert picture.size[0] == 360 and picture.size[1] > 240  # enlarged 3 × for its legend, titled above and below
    assert picture.text["Title"] == "Grad-CAM — VGG16 — tabby cat"
    described = json.loads(picture.text["saliency"])
    assert described["target"] == 281 and described["layer"] == "block5_conv3"
    assert described["display"]["opacity"] == 0.7 and "keras" in described["versions"]
    grid = client.get(f"/download/grid.png?image={key}&model=vgg16&compare=resnet50&methods=grad_cam,vanilla_gradient")
    width, height = Image.open(io.BytesIO(grid.data)).size
    assert grid.status_code == 200 and width == 2 * 360 + 16 and height > 2 * 360  # methods in rows, models paired
    params = client.get(f"/download/params.json?image={key}&model=vgg16&methods=grad_cam,vanilla_gradient&target=3")
    rows = params.get_json()
    assert [r["method"] for r in rows] == ["grad_cam", "vanilla_gradient"] and {r["target"] for r in rows} == {3}


def test_forged_download_parameters_get_plain_answers(app, client):
    from components.common import SERVICE_KEY

    key = app.server.extensions[SERVICE_KEY].add_image(png_bytes())
    cases = [
        f"/download/card.png?image={key}&model=alexnet&method=grad_cam",
        f"/download/card.png?image={key}&model=vgg16&method=os.system",
        "/download/card.png?image=../../x&model=vgg16&method=grad_cam",
        f"/download/card.png?image={key}&model=vgg16&method=grad_cam&opacity=lots",
        f"/download/grid.png?image={key}&model=vgg16&methods=",
        "/download/params.json",
    ]
    for url in cases:
        response = client.get(url)
        assert response.status_code == 400, url
        assert response.mimetype == "text/plain" and b"Traceback" not in response.data


def test_upload_callback(app):
    from components.upload import on_upload

    with app.server.test_request_context():
        good = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
        image, contents, name, alert = on_upload(good, "cat<script>.png")
        assert len(image["key"]) == 64 and contents is None and alert is None  # bytes not kept in the page
        assert image["name"] == "cat<script>.png"  # shown as text by Dash (escaped), never used as a path
        for bad, phrase in (
            ("data:image/png;base64,QUJD", "not a supported picture"),
            ("data:text/html;base64," + base64.b64encode(b"<svg><script/></svg>").decode(), "not a supported picture"),
            ({"not": "a string"}, "did not arrive as a file"),
        ):
            image, contents, _, alert = on_upload(bad, "x.jpg")
            assert image is not None and contents is None  # no_update for the picture, upload cleared
            assert phrase in text_of(alert), text_of(alert)


def test_every_model_of_the_shapes_family_shows_the_shapes_gallery(app):
    """Decided by the model's record (its family), not by its name: the Clever Hans model too."""
    from components.upload import layout, show_gallery

    ids = [{"type": "gallery", "family": "photos"}, {"type": "gallery", "family": "shapes"}]
    with app.server.test_request_context():
        assert show_gallery("shapes_clever_hans", ids) == [True, False]
        assert show_gallery("shapes", ids) == [True, False]
        assert show_gallery("vgg16", ids) == [False, True]
        models = app.server.extensions["saliency_service"].models()
    hidden, todo = {}, [layout("shapes_clever_hans", models)]
    while todo:  # every gallery in the card, wherever it sits
        node = todo.pop()
        if isinstance(getattr(node, "id", None), dict) and node.id.get("type") == "gallery":
            hidden[node.id["family"]] = node.hidden
        children = getattr(node, "children", None)
        todo += children if isinstance(children, list) else [children] if children is not None else []
    assert hidden == {"photos": True, "shapes": False}


def test_card_callback_shows_plain_errors(app):
    from components.common import SERVICE_KEY
    from components.method_cards import build_cards, render_card

    with app.server.test_request_context():
        svc = app.server.extensions[SERVICE_KEY]
        key = svc.add_image(png_bytes())
        svc.load("vgg16", "random")  # loaded beforehand: the card must answer within its inline wait on a busy machine
        cards = build_cards(["grad_cam", "cam", "bogus"], "vgg16", "resnet50")
        assert len(cards) == 4  # 2 methods × 2 models; the forged name is ignored
        page = _page(key, "vgg16", "random", session="s")
        figure, info, href, *_ = render_card(page, {"method": "cam", "slot": "a"}, 0.5, None)
        assert "CAM does not apply to VGG16" in text_of(info) and href is None
        figure, info, href, *_ = render_card({**page, "target": 5000}, {"method": "grad_cam", "slot": "a"}, 0.5, None)
        assert "There is no class number 5000" in text_of(info)


def test_layer_and_status_callbacks(app):
    from components.layer_picker import layer_options
    from components.model_picker import show_status

    with app.server.test_request_context():
        options, value = layer_options("inception_v3")
        assert value == "mixed10" and options[-1]["label"].startswith("mixed10 · 8×8")
        assert "(recommended)" in next(o["label"] for o in options if o["value"] == "mixed10")
        text, model_options, banner = show_status("vgg16", "random")
        assert "meaningless" in text_of(banner) and all("random" in o["label"] for o in model_options)


def test_missing_weights_are_explained_once_not_on_every_card(tmp_path, monkeypatch):
    from app import create_app
    from components.common import SERVICE_KEY
    from components.method_cards import render_card
    from components.model_picker import show_status
    from components.predictions import update_predictions

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("EXPLAINERS_OFFLINE", "1")
    app = create_app({"weights": "imagenet", "data_dir": str(tmp_path / "data")})
    with app.server.test_request_context():
        key = app.server.extensions[SERVICE_KEY].add_image(png_bytes())
        _triggered_by("image.data")
        _, target, alert, _ = update_predictions({"key": key}, "resnet50", "imagenet", None, None)
        assert target is None and "fetch-weights --model resnet50" in text_of(alert) and "98 MB" in text_of(alert)
        _, info, href, *_ = render_card(
            _page(key, "resnet50", "imagenet", session="s"), {"method": "grad_cam", "slot": "a"}, 0.5, None
        )
        assert "weights are missing" in text_of(info) and "Model panel" in text_of(info) and href is None
        status, options, banner = show_status("resnet50", "imagenet")
        assert "python -m explainers fetch-weights --model resnet50" in text_of(status) and banner is None
        assert "ResNet50 · weights missing" in [o["label"] for o in options]


@pytest.mark.slow
def test_predictions_callback_sets_and_follows_the_class(app):
    from dash import no_update

    from components.common import SERVICE_KEY
    from components.predictions import update_predictions

    with app.server.test_request_context():
        key = app.server.extensions[SERVICE_KEY].add_image(png_bytes(90, 70, seed=5))
        _triggered_by("image.data")
        figure, target, alert, device = update_predictions({"key": key}, "vgg16", "random", None, None)
        classes = list(figure.data[0].customdata)
        assert len(classes) == 5 and target == classes[-1] and alert is None and device == "Computing on: CPU"
        second = classes[-2]
        _triggered_by("predictions.clickData")
        figure, target, _, _ = update_predictions(
            {"key": key}, "vgg16", "random", {"points": [{"customdata": second}]}, classes[-1]
        )
        colours = list(figure.data[0].marker.color)
        assert target == second and colours[-2] != colours[-1]  # the clicked bar is now the highlighted one
        _triggered_by("predictions.clickData")  # a forged click changes nothing
        assert (
            update_predictions({"key": key}, "vgg16", "random", {"points": [{"customdata": "1; drop"}]}, second)[1]
            is no_update
        )
        _triggered_by("target.value")  # a class picked in the search box is highlighted if it is in the top 5
        figure, target, _, _ = update_predictions({"key": key}, "vgg16", "random", None, classes[0])
        assert target is no_update and list(figure.data[0].marker.color)[0] != list(figure.data[0].marker.color)[-1]


@pytest.mark.slow
def test_long_maps_show_progress_then_fill_in_and_can_be_cancelled(app, monkeypatch):
    import time

    import components.method_cards as cards
    from components.common import SERVICE_KEY
    from components.long_job import HIDDEN, SHOWN

    monkeypatch.setattr(cards.LONG_JOB, "inline_wait", 0.0)  # treat every map as a long one
    svc = app.server.extensions[SERVICE_KEY]
    with app.server.test_request_context():
        key = svc.add_image(png_bytes(60, 40, seed=9))
        page = _page(key, "vgg16", "random", target=17, session="session-1")
        spec = {"method": "layer_cam", "slot": "a"}
        answer = cards.render_card(page, spec, 0.5, None)
        figure, info, href, job_id, poll_disabled, box, value, label, *_ = answer
        assert isinstance(job_id, str) and poll_disabled is False and box == SHOWN
        for _ in range(200):
            answer = cards.poll_card(1, page, spec, 0.5, job_id)
            if answer[4] is True:
                break
            time.sleep(0.1)
        figure, info, href, job, poll_disabled, box, *_ = answer
        assert figure.data[0].type == "heatmap" and "(class 17)" in text_of(info) and href.startswith("/download/")
        assert job is None and box == HIDDEN

        def slow(job):
            while True:
                time.sleep(0.02)
                job.report(0.5)

        from components.common import client_id

        long_job = svc.jobs.submit("slow-test-job", slow, client=client_id())
        for _ in range(500):  # until it has reported (the machine may be busy)
            if long_job.progress > 0:
                break
            time.sleep(0.02)
        progress = cards.poll_card(1, page, spec, 0.5, long_job.id)
        assert progress[6] == 50 and "50%" in progress[7] and progress[0] is cards.no_update
        cards.LONG_JOB.cancel(1, long_job.id)
        assert long_job.wait(10)
        stopped = cards.poll_card(2, page, spec, 0.5, long_job.id)
        assert "Stopped at 50%" in stopped[8] and stopped[4] is True and stopped[11] == SHOWN  # Run again
        gone = cards.poll_card(3, page, spec, 0.5, "no-such-job")
        assert "gone" in text_of(gone[1]) and gone[4] is True


@pytest.mark.slow
def test_an_exif_rotated_photo_and_its_map_line_up(app, client):
    """A phone photo stored sideways with orientation 6: what is shown and what is explained agree."""
    from components.common import SERVICE_KEY

    stored = np.zeros((40, 80, 3), np.uint8)
    stored[:, :40] = 255  # left half white as stored; after rotating 90° clockwise it is the top half
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(stored).save(buffer, "JPEG", exif=exif.tobytes(), quality=95)
    svc = app.server.extensions[SERVICE_KEY]
    key = svc.add_image(buffer.getvalue())
    shown = Image.open(io.BytesIO(client.get(f"/image/{key}/display.jpg").data))
    assert shown.size == (40, 80)  # upright: 40 wide, 80 tall
    upright = np.asarray(shown)
    assert upright[:40].mean() > 200 and upright[40:].mean() < 50  # white on top, as the camera saw it
    result = svc.explain(key, "vgg16", "gradient_x_input", target=1)
    levels, _ = svc.display_levels(key, result)
    assert levels.shape == (80, 40)  # the map is drawn over the upright picture, cell for cell
    download = Image.open(
        io.BytesIO(client.get(f"/download/card.png?image={key}&model=vgg16&method=gradient_x_input&target=1").data)
    )
    assert download.size[0] == 360 and download.size[1] > 2 * 360  # upright (enlarged 9 × for its legend)


def _sanity_result(last: float, other: float) -> dict:
    tile = np.zeros((4, 4), np.float32)
    return {
        "check": "sanity",
        "original": tile,
        "weighted_layers": 3,
        "steps": [{"layer": "conv1", "heatmap": tile, "rank_correlation": last, "ssim": 0.1}],
        "random_logit": {"label": "heart", "heatmap": tile, "rank_correlation": other},
    }


def test_the_trust_panel_words_the_verdicts_the_service_returns():
    from components.trust_panel import render_faithfulness, render_sanity, render_stability
    from service.trust import verdict

    assert verdict("sanity", _sanity_result(0.29, 0.6)) == {
        "verdict": "pass",
        "score": 0.29,
        "threshold": 0.3,
        "fail_above": 0.5,
        "random_class": {"verdict": "fail", "score": 0.6, "threshold": 0.5},
    }
    assert [verdict("sanity", _sanity_result(last, 0.0))["verdict"] for last in (0.29, 0.3, 0.5, 0.51)] == [
        "pass",
        "unclear",
        "unclear",
        "fail",
    ]
    words, _ = render_sanity(_sanity_result(0.29, 0.6))
    assert text_of(words[0]).startswith("Passes") and "(rank correlation 0.29)" in text_of(words[0])
    assert "hardly depends on the class" in text_of(words[1])
    words, _ = render_sanity(_sanity_result(0.51, 0.5))
    assert text_of(words[0]).startswith("Warning") and "does depend on the class" in text_of(words[1])

    curve = {"fractions": [0.0, 0.5, 1.0], "probabilities": [0.9, 0.4, 0.1], "fill": "blur"}
    faithful = {
        "check": "faithfulness",
        "label": "star",
        "target": 3,
        "deletion": {**curve, "auc": 0.20, "random_auc": 0.30, "random_std": 0.02},  # beyond 2 × 0.02
        "insertion": {**curve, "auc": 0.31, "random_auc": 0.30, "random_std": 0.02},
    }  # within it
    said = verdict("faithfulness", faithful)
    assert (said["deletion"]["verdict"], said["insertion"]["verdict"]) == ("better", "chance")
    assert said["deletion"]["margin"] == pytest.approx(0.04) and said["deletion"]["lower_is_better"] is True
    lines, _ = render_faithfulness(faithful)
    assert text_of(lines[0]).endswith("—  better than random maps") and "no better than random maps" in text_of(
        lines[1]
    )

    for agreement, level, words in (
        (0.95, "high", "very repeatable"),
        (0.9, "medium", "fairly repeatable"),
        (0.7, "low", "not repeatable"),
    ):
        stable = {
            "check": "stability",
            "seeds": [0, 1],
            "maps": [np.zeros((4, 4))] * 2,
            "mean": np.zeros((4, 4)),
            "std": np.zeros((4, 4)),
            "agreement": agreement,
        }
        assert verdict("stability", stable)["verdict"] == level
        assert words in text_of(render_stability(stable)[0])

    found = {"pointing_game": True, "energy_in_mask": 0.4, "area": 0.4}
    assert verdict("localization", found) == {
        "verdict": "hit",
        "energy": {"verdict": "chance", "score": 0.4, "threshold": 0.4},
    }


def test_the_scrubber_picture_says_what_is_wrong_with_each_request(client):
    svc = client.application.extensions["saliency_service"]
    key = svc.add_image((ROOT / "assets" / "examples" / "shapes" / "star.png").read_bytes())
    good = {"image": key, "model": "shapes", "method": "grad_cam", "weights": "random", "mode": "deletion", "k": "20"}
    cases = [
        ({"image": "0" * 64}, "no longer on the server"),
        ({"image": "../etc/passwd"}, "No picture is selected"),
        ({"mode": "sideways"}, "mode must be 'deletion' or 'insertion'. Received: 'sideways'"),
        ({"k": "lots"}, "k must be a number from 0 to 100"),
        ({"k": "150"}, "Received: '150'"),
        ({"k": "nan"}, "k must be a number from 0 to 100"),
        ({"method": "nope"}, "Unknown method"),
        ({"model": "nope"}, "Unknown model"),
        ({"percentile": "high"}, "percentile must be a number"),
    ]
    for change, phrase in cases:
        response = client.get("/trust/perturbed.png", query_string={**good, **change})
        text = response.get_data(as_text=True)
        assert response.status_code == 400 and phrase in text, (change, response.status_code, text)
        if "k" not in change:
            assert "k must" not in text, (change, text)
    assert client.get("/trust/perturbed.png", query_string=good).status_code == 200


def test_random_weights_turned_off_by_the_admin_cannot_be_chosen_on_the_page(tmp_path, monkeypatch):
    from app import create_app

    def weights_choices(app):
        found = []

        def walk(node):
            if isinstance(node, (list, tuple)):
                for child in node:
                    walk(child)
                return
            if getattr(node, "id", None) in ("weights", "compare-weights"):
                found.append(node.options)
            walk(getattr(node, "children", None) or [])

        walk(app.layout() if callable(app.layout) else app.layout)
        return found

    monkeypatch.setenv("EXPLAINERS_ALLOW_RANDOM", "0")
    found = weights_choices(create_app({"data_dir": str(tmp_path / "off"), "weights": "imagenet"}))
    assert len(found) == 2
    assert all(option.get("disabled") for options in found for option in options if option["value"] == "random")
    monkeypatch.setenv("EXPLAINERS_ALLOW_RANDOM", "1")
    found = weights_choices(create_app({"data_dir": str(tmp_path / "on"), "weights": "imagenet"}))
    assert len(found) == 2 and not any(option.get("disabled") for options in found for option in options)
