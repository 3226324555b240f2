"""Activations (explainers.feature_maps): channels ranked by Grad-CAM weight × mean activation, worked
out on paper for a tiny network whose weights are set by hand."""

import numpy as np
import pytest

import explainers
from explainers.errors import ParameterError

# the picture is pure red: after /255 every pixel is (1, 0, 0), so channel k of a 1×1 convolution
# without bias is KERNEL[0, k] everywhere, and its mean activation is that number
KERNEL = np.array([[1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0], [0, 0, 0, 0]], np.float32)
# through global average pooling of a 4×4 map, d(logit 0)/dA_k(i, j) = HEAD[k, 0] / 16: the Grad-CAM weights
HEAD = np.array([[4.0, 0], [-1.0, 0], [1.0, 0], [0.5, 0]], np.float32) * 16
MEANS = np.array([1.0, 2.0, 3.0, 4.0])
WEIGHTS = np.array([4.0, -1.0, 1.0, 0.5])  # contributions: 4, -2, 3, 2


@pytest.fixture(scope="module")
def hand_model():
    from explainers._tf import keras
    from explainers.labels import Labels
    from explainers.models import ExplainableModel

    inputs = keras.Input((4, 4, 3))
    features = keras.layers.Conv2D(4, 1, use_bias=False, name="features")(inputs)
    logits = keras.layers.Dense(2, use_bias=False, name="logits")(keras.layers.GlobalAveragePooling2D()(features))
    net = keras.Model(inputs, logits)
    net.get_layer("features").set_weights([KERNEL[None, None]])
    net.get_layer("logits").set_weights([HEAD])
    return ExplainableModel(
        net, "hand", labels=Labels.from_names(["red", "other"]), preprocess=lambda x: x / 255.0, title="hand"
    )


RED = np.zeros((4, 4, 3), np.uint8) + np.array([255, 0, 0], np.uint8)


def test_contribution_order_matches_the_hand_computation(hand_model):
    found = explainers.activations(hand_model, RED, "features", top=16, target=0)
    assert found.channels.tolist() == [0, 2, 3, 1]  # contributions 4, 3, 2, -2
    np.testing.assert_allclose(found.means, MEANS[[0, 2, 3, 1]], rtol=1e-5)
    np.testing.assert_allclose(found.weights, WEIGHTS[[0, 2, 3, 1]], rtol=1e-5)
    np.testing.assert_allclose(found.contributions, [4.0, 3.0, 2.0, -2.0], rtol=1e-5)
    assert found.maps.shape == (4, 4, 4)
    np.testing.assert_allclose(found.maps[1], np.full((4, 4), 3.0), rtol=1e-5)  # channel 2's map
    assert (found.target, found.label, found.count, found.pages) == (0, "red", 4, 1)


def test_activation_order_puts_the_most_active_first(hand_model):
    found = explainers.activations(hand_model, RED, "features", target=0, order="activation")
    assert found.channels.tolist() == [3, 2, 1, 0]
    np.testing.assert_allclose(found.means, [4.0, 3.0, 2.0, 1.0], rtol=1e-5)


def test_all_channels_come_in_pages_in_the_layers_order(hand_model):
    first = explainers.activations(hand_model, RED, "features", top=3, target=0, order="index")
    second = explainers.activations(hand_model, RED, "features", top=3, target=0, order="index", page=1)
    assert (first.channels.tolist(), second.channels.tolist()) == ([0, 1, 2], [3])
    assert first.pages == second.pages == 2 and second.page == 1
    past = explainers.activations(hand_model, RED, "features", top=3, target=0, order="index", page=9)
    assert past.page == 1 and past.channels.tolist() == [3]  # a page past the end shows the last one


@pytest.mark.parametrize("settings", [{"order": "loudest"}, {"top": 0}, {"top": 1000}, {"page": -1}, {"top": "many"}])
def test_bad_settings_are_refused_in_words(hand_model, settings):
    with pytest.raises(ParameterError, match="must"):
        explainers.activations(hand_model, RED, "features", **settings)


def test_the_service_computes_caches_and_carries_a_page_of_channels(tmp_path):
    from helpers import png_bytes
    from service import ExplainerService
    from service.views import request_activations, wait
    from service.wire import decode, encode

    svc = ExplainerService(tmp_path, weights="random")
    key = svc.add_image(png_bytes())
    options = {"layer": "conv5", "order": "activation", "top": 8}
    first = wait(svc, request_activations(svc, key, "shapes", **options))
    assert first["layer"] == "conv5" and len(first["channels"]) == 8 and first["maps"].shape == (8, 16, 16)
    assert first["count"] == 64 and first["pages"] == 8 and np.all(np.diff(first["means"]) <= 0)
    again = request_activations(svc, key, "shapes", **options)
    assert again.done and wait(svc, again) is not None  # from the cache: a finished job at once
    back = decode(encode(first))  # the Celery backend's wire format carries it
    np.testing.assert_array_equal(back["maps"], first["maps"])
    assert back["channels"].tolist() == first["channels"].tolist()
    with pytest.raises(ParameterError, match="order"):
        request_activations(svc, key, "shapes", order="<script>")
    with pytest.raises(explainers.UnknownNameError):
        request_activations(svc, key, "shapes", layer="../etc")


def test_the_command_line_writes_the_grid(tmp_path, capsys):
    from explainers.__main__ import main
    from helpers import png_bytes

    picture = tmp_path / "pic.png"
    picture.write_bytes(png_bytes(128, 128))
    out = tmp_path / "grid.png"
    assert (
        main(["activations", str(picture), "--model", "shapes", "--layer", "conv5", "--top", "4", "--out", str(out)])
        == 0
    )
    assert out.read_bytes()[:4] == b"\x89PNG" and "of 64 ->" in capsys.readouterr().out
    assert main(["activations", str(picture), "--model", "shapes", "--top", "500", "--out", str(out)]) == 1
    assert "top must be between 1 and 64" in capsys.readouterr().err


def test_the_download_routes_answer_a_png_or_a_sentence(app, client):
    from components.common import SERVICE_KEY
    from helpers import png_bytes

    key = app.server.extensions[SERVICE_KEY].add_image(png_bytes())
    grid = client.get(f"/download/activations.png?image={key}&model=shapes&layer=conv5&order=activation&top=4")
    assert grid.status_code == 200 and grid.data[:4] == b"\x89PNG"
    strip = client.get(f"/download/sweep.png?image={key}&model=shapes&method=grad_cam")
    assert strip.status_code == 200 and strip.data[:4] == b"\x89PNG"
    for query, words in (
        (f"image={key}&model=shapes&order=loudest", "order must be one of"),
        (f"image={key}&model=shapes&page=-3", "page must be 0 or more"),
        ("image=../../etc/passwd&model=shapes", "picture"),
        (f"image={key}&model=nope", "nope"),
    ):
        answer = client.get("/download/activations.png?" + query)
        assert answer.status_code == 400 and words in answer.get_data(as_text=True), query
    assert client.get(f"/download/sweep.png?image={key}&model=shapes&method=lime").status_code == 400
