"""'Why A and not B': a method explains logit A − logit B. For gradients the map is the difference of
the two maps (a gradient is linear); the predictions stay the model's own; methods that read a
probability or one class's weights refuse in words."""

import re

import numpy as np
import pytest

from explainers import explain
from explainers.api import logits_of
from explainers.errors import NotApplicableError, ParameterError


def test_contrast_of_vanilla_gradient_is_the_difference_of_the_two_gradients(relu_model, rng_image):
    image = rng_image(seed=21)
    a = explain(relu_model, image, "vanilla_gradient", target=0)
    b = explain(relu_model, image, "vanilla_gradient", target=1)
    both = explain(relu_model, image, "vanilla_gradient", target=0, contrast=1)
    np.testing.assert_allclose(both.attributions, a.attributions - b.attributions, rtol=1e-5, atol=1e-7)
    assert both.target == 0 and both.meta["contrast"] == 1
    assert both.meta["title"] == "why class 0 and not class 1"


def test_contrast_of_a_linear_model_is_the_difference_of_its_weights(linear_model, rng_image):
    kernel = linear_model.keras.get_layer("logits").weights[0].numpy()
    e = explain(linear_model, rng_image(seed=22), "vanilla_gradient", target=2, contrast=0)
    # the gradient of (w₂ − w₀) · x + (b₂ − b₀) with respect to the preprocessed input x is w₂ − w₀
    np.testing.assert_allclose(e.attributions, (kernel[:, 2] - kernel[:, 0]).reshape(8, 8, 3), rtol=1e-5, atol=1e-6)


def test_contrast_keeps_the_models_own_predictions(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=23)
    plain = explain(tiny_cnn, image, "grad_cam", target=1, relu=False)
    both = explain(tiny_cnn, image, "grad_cam", target=1, contrast=3, relu=False)
    assert [p[0] for p in both.predictions] == [p[0] for p in plain.predictions]
    np.testing.assert_allclose([p[2] for p in both.predictions], [p[2] for p in plain.predictions], rtol=1e-5)
    assert not np.allclose(both.heatmap, plain.heatmap)


def test_contrast_of_integrated_gradients_adds_up_to_the_score_difference(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=24)
    e = explain(tiny_cnn, image, "integrated_gradients", target=0, contrast=2, steps=64)
    logits, black = logits_of(tiny_cnn, image), logits_of(tiny_cnn, np.zeros_like(image))
    expected = (logits[0] - logits[2]) - (black[0] - black[2])
    np.testing.assert_allclose(e.meta["score_difference"], expected, rtol=1e-4, atol=1e-5)
    assert e.meta["completeness_error"] < 0.02


def test_occlusion_explains_the_score_difference(linear_model, rng_image):
    image = rng_image(seed=25)
    a = explain(linear_model, image, "occlusion", target=1)
    b = explain(linear_model, image, "occlusion", target=2)
    both = explain(linear_model, image, "occlusion", target=1, contrast=2)
    np.testing.assert_allclose(both.heatmap, a.heatmap - b.heatmap, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", ["lime", "rise", "score_cam"])
def test_methods_that_read_a_probability_refuse_in_words(tiny_cnn, rng_image, method):
    with pytest.raises(NotApplicableError, match="class probability"):
        explain(tiny_cnn, rng_image(16, 16), method, target=0, contrast=1)


def test_the_same_class_twice_is_refused(tiny_cnn, rng_image):
    with pytest.raises(ParameterError) as error:
        explain(tiny_cnn, rng_image(16, 16), "grad_cam", target=2, contrast="class 2")
    assert str(error.value) == "Class A and class B are the same (class 2): pick two different classes."


def test_contrast_with_the_top_class_when_no_class_is_picked_is_refused(tiny_cnn, rng_image):
    """A is the top class when none is picked: B = the top class would give a map of zeros, so it is refused
    as a picked A = B is; another B still gives a map, of the top class against B."""
    image = rng_image(16, 16, seed=27)
    top = int(np.argmax(logits_of(tiny_cnn, image)))
    with pytest.raises(ParameterError) as error:
        explain(tiny_cnn, image, "grad_cam", contrast=top, relu=False)
    assert str(error.value) == f"Class A and class B are the same (class {top}): pick two different classes."
    other = (top + 1) % 5
    found = explain(tiny_cnn, image, "grad_cam", contrast=other, relu=False)
    assert found.target == top and found.meta["contrast"] == other and np.abs(found.heatmap).max() > 0
    with pytest.raises(NotApplicableError):  # a method that takes no contrast is refused as before
        explain(tiny_cnn, image, "rise", contrast=top)


def _shapes_top_class(data: bytes) -> int:
    from explainers import load_model, predict
    from explainers.images import decode

    return predict(load_model("shapes"), decode(data))[0][0]


def test_the_service_refuses_the_top_class_as_b_with_or_without_known_predictions(tmp_path):
    from explainers.models import model_labels
    from helpers import png_bytes
    from service import ExplainerService

    data = png_bytes(64, 64, seed=6)
    top = _shapes_top_class(data)
    sentence = f"Class A and class B are the same ({model_labels('shapes')[top].name}, class {top})"
    svc = ExplainerService(tmp_path)
    key = svc.add_image(data)
    with pytest.raises(ParameterError, match=re.escape(sentence)):  # predictions unknown: the job finds the top class
        svc.explain(key, "shapes", "grad_cam", contrast=top)
    svc.predict(key, "shapes")
    with pytest.raises(ParameterError, match=re.escape(sentence)):  # known: refused before any job is queued
        svc.request_map(key, "shapes", "grad_cam", contrast=top)


def test_the_card_says_why_when_b_is_the_top_class_and_no_class_is_picked(tmp_path):
    from app import create_app
    from components.common import SERVICE_KEY
    from components.method_cards import render_card
    from helpers import png_bytes, text_of

    data = png_bytes(64, 64, seed=6)
    app = create_app({"weights": "random", "model": "shapes", "data_dir": str(tmp_path / "data")})
    with app.server.test_request_context():
        svc = app.server.extensions[SERVICE_KEY]
        key = svc.add_image(data)
        top = svc.predict(key, "shapes")[0][0]  # the page's top-5 chart, where "contrast with…" is picked
        page = {"image": {"key": key}, "model": "shapes", "target": None, "session": "s", "mode": "absolute"}
        spec = {"method": "grad_cam", "slot": "a"}
        figure, info, href, *_ = render_card(page, spec, 0.5, None, view="contrast", contrast=top)
        assert "Class A and class B are the same" in text_of(info) and "pick two different classes" in text_of(info)
        assert href is None
        figure, info, href, *_ = render_card(page, spec, 0.5, None, view="contrast", contrast=(top + 1) % 5)
        assert "why " in text_of(info) and href


def test_the_cli_names_both_classes(tmp_path, capsys):
    from PIL import Image

    from explainers.__main__ import main
    from explainers.models import model_labels

    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(photo)
    names = [label.name for label in model_labels("shapes")]
    argv = ["explain", str(photo), "--model", "shapes", "--contrast", "0,1", "--out", str(tmp_path / "o.png")]
    assert main(argv) == 0
    assert f"why {names[0]} and not {names[1]}" in capsys.readouterr().out
    assert main([*argv[:-2], "--top-k", "2", "--out", str(tmp_path / "o.png")]) == 1
    assert "not both" in capsys.readouterr().err


def test_the_service_keys_a_contrast_apart_and_names_both_classes(tmp_path):
    from helpers import png_bytes
    from service import ExplainerService

    svc = ExplainerService(tmp_path)
    key = svc.add_image(png_bytes(64, 64, seed=2))
    plain = svc.explain(key, "shapes", "vanilla_gradient", target=0)
    both = svc.explain(key, "shapes", "vanilla_gradient", target=0, contrast=1)
    assert not both.cached and "title" not in plain.meta
    assert both.meta["contrast"] == 1 and both.meta["title"].startswith("why ")
    assert svc.explain(key, "shapes", "vanilla_gradient", target=0, contrast=1).cached
    with pytest.raises(NotApplicableError, match="class probability"):
        svc.request_map(key, "shapes", "rise", target=0, contrast=1)


def test_a_layer_source_keys_the_layer(tmp_path):
    from helpers import png_bytes
    from service import ExplainerService

    svc = ExplainerService(tmp_path)
    key = svc.add_image(png_bytes(64, 64, seed=3))
    layers = [info["name"] for info in svc.layers("shapes")][-2:]
    maps = [
        svc.explain(key, "shapes", "gradient_x_input", target=0, layer=layer, params={"source": "layer"})
        for layer in layers
    ]
    assert [m.layer for m in maps] == layers and not maps[1].cached


def test_the_report_names_both_classes_and_prints_the_views_card(relu_model, rng_image):
    from explainers.report import render_report
    from explainers.view_cards import VIEW_CARDS

    image = rng_image(seed=26)
    e = explain(relu_model, image, "vanilla_gradient", target=0, contrast=1)
    page = render_report(image, [e], model=relu_model)
    assert "why class 0 and not class 1" in page
    assert VIEW_CARDS["contrast"].card.computes.replace("'", "&#39;") in page


def test_the_downloads_carry_the_contrast(tmp_path):
    import io

    from PIL import Image

    from app import create_app
    from components.common import SERVICE_KEY
    from helpers import png_bytes

    app = create_app({"weights": "random", "model": "shapes", "data_dir": str(tmp_path / "data")})
    key = app.server.extensions[SERVICE_KEY].add_image(png_bytes(64, 64, seed=4))
    client = app.server.test_client()
    card = client.get(f"/download/card.png?image={key}&model=shapes&method=vanilla_gradient&target=0&contrast=1")
    assert card.status_code == 200
    assert Image.open(io.BytesIO(card.data)).text["Title"].endswith("why circle and not square")
    report = client.get(f"/download/report.html?image={key}&model=shapes&methods=grad_cam,rise&target=0&contrast=1")
    page = report.get_data(as_text=True)
    assert report.status_code == 200 and "why circle and not square" in page and "RISE" in page


def test_top_classes_with_a_contrast_are_refused_in_the_same_words_everywhere(tmp_path, tiny_cnn, rng_image, capsys):
    from PIL import Image

    from components import card_views
    from explainers import explain_top_k
    from explainers.__main__ import main
    from explainers.top_k import NOT_WITH_CONTRAST
    from helpers import png_bytes
    from service import ExplainerService

    with pytest.raises(ParameterError) as api_error:
        explain_top_k(tiny_cnn, rng_image(16, 16), "grad_cam", k=2, contrast=1)
    svc = ExplainerService(tmp_path)
    key = svc.add_image(png_bytes(64, 64, seed=4))
    with pytest.raises(ParameterError) as service_error:  # even k = 1: both were asked for
        svc.request_map(key, "shapes", "grad_cam", target=0, contrast=1, top_k=1)
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(photo)
    assert main(["explain", str(photo), "--model", "shapes", "--contrast", "0,1", "--top-k", "3"]) == 1
    assert str(api_error.value) == str(service_error.value) == NOT_WITH_CONTRAST
    assert NOT_WITH_CONTRAST in capsys.readouterr().err
    # the page: one view per card, so a picked class B never goes with the top classes' row
    assert card_views.request("top_k", 5, "pixels", None) == {"top_k": card_views.TOP_K}
    assert card_views.request("contrast", 5, "pixels", None) == {"contrast": 5}


def test_a_compared_model_contrasts_with_its_own_number_of_class_b():
    from components.card_views import on_model
    from components.page_state import Page
    from service.card_views import contrast_for

    assert contrast_for("vgg16", "tiger cat", "resnet50") == 282  # the same labels: the same number
    assert contrast_for("shapes", 5, "shapes_clever_hans") == 5
    assert contrast_for("shapes", 5, "vgg16") is None  # VGG16 has no "crescent", and its class 5 is another
    assert contrast_for("shapes", "no such class", "vgg16") == "no such class"  # refused in words by the request
    page = Page.from_store({"model": "shapes", "compare": "vgg16"})
    assert on_model(page, "a", {"contrast": 5}) == ({"contrast": 5}, None)
    extra, lacking = on_model(page, "b", {"contrast": 5})
    assert lacking == "VGG16 does not know “crescent”, so this card cannot show why A and not B."
    both = Page.from_store({"model": "vgg16", "compare": "resnet50"})
    assert on_model(both, "b", {"contrast": 282, "top_k": None}) == ({"contrast": 282, "top_k": None}, None)


@pytest.mark.slow
def test_the_grid_download_does_not_give_the_compared_model_another_class_b(tmp_path):
    import json

    from app import create_app
    from components.common import SERVICE_KEY
    from helpers import png_bytes

    app = create_app({"weights": "random", "model": "shapes", "data_dir": str(tmp_path / "data")})
    key = app.server.extensions[SERVICE_KEY].add_image(png_bytes(64, 64, seed=4))
    for compare, second in (("shapes_clever_hans", "why circle and not crescent"), ("vgg16", None)):
        query = f"image={key}&model=shapes&compare={compare}&methods=vanilla_gradient&target=0&contrast=5"
        answer = app.server.test_client().get(f"/download/params.json?{query}")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        titles = [entry["title"] for entry in json.loads(answer.data)]
        assert titles[0].endswith("why circle and not crescent")
        # VGG16 knows no crescent (its class 5 is another): its plain map, never "and not electric ray"
        assert titles[1].endswith(second) if second else "why" not in titles[1]
