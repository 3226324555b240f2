"""CNN Fixations (explainers/fixations.py, explainers/methods/cnn_fixations.py): tiny networks with weights
set by hand whose fixations are derived on paper, a refused layer, and the Shapes model end to end."""

import dataclasses
import re

import numpy as np
import pytest

from explainers import NotApplicableError, explain
from explainers.fixations import backtrack, plan_for
from explainers.methods import get_method


def _fixations(net, picture, target, limit=500):
    plan = plan_for(net)
    activations, logits = plan.record(picture[None].astype("float32"))
    points, scores, _ = backtrack(plan, {t: v[0] for t, v in activations.items()}, target, limit)
    return points.tolist(), scores.tolist(), logits[0]


def _set(layer, *arrays):
    layer.set_weights([np.asarray(a, "float32") for a in arrays])


@pytest.fixture(scope="module")
def chain():
    """x (4×4×1) -> conv1 (1×1, 2 filters, ReLU) -> 2×2 max pooling -> conv2 (2×2 valid, 2 filters, ReLU)
    -> flatten -> dense (3 classes); no biases.

    x = [[ 1, 2, 0, 0],      conv1: c0 = relu(x), c1 = relu(-x)
         [ 0, 3, 0,-4],      pool:  p0 = [[3, 0], [0, 5]]   (3 from x(1,1), 5 from x(2,2))
         [-1, 0, 5, 0],             p1 = [[0, 4], [2, 0]]   (4 from x(1,3) = -4, 2 from x(3,1) = -2)
         [ 0,-2, 0, 1]]
    conv2 filter 0: w(c0) = [[1, 0], [0, 1]], w(c1) = [[0, 1], [1, 0]]
        contributions 3, 5 (p0) and 4, 2 (p1): d0 = 14, largest 5 at p0(1,1)
    conv2 filter 1: w(c0) = [[-1, 0], [0, 0]], w(c1) = [[0, 2], [0, 0]]
        contributions -3 (p0(0,0)) and 8 (p1(0,1)): d1 = 5, largest 8 at p1(0,1)
    dense columns: class 0 [1, -1] (logit 9), class 1 [0, 1] (5), class 2 [1, 1] (19)
    """
    from explainers._tf import keras

    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(2, 1, activation="relu", use_bias=False, name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(2, 2, activation="relu", use_bias=False, name="conv2")(x)
    logits = keras.layers.Dense(3, use_bias=False, name="logits")(keras.layers.Flatten()(x))
    net = keras.Model(inputs, logits)
    _set(net.get_layer("conv1"), [[[[1, -1]]]])
    conv2 = np.zeros((2, 2, 2, 2))
    conv2[0, 0, 0, 0] = conv2[1, 1, 0, 0] = conv2[0, 1, 1, 0] = conv2[1, 0, 1, 0] = 1
    conv2[0, 0, 0, 1], conv2[0, 1, 1, 1] = -1, 2
    _set(net.get_layer("conv2"), conv2)
    _set(net.get_layer("logits"), [[1, 0, 1], [-1, 1, 1]])
    picture = np.array([[1, 2, 0, 0], [0, 3, 0, -4], [-1, 0, 5, 0], [0, -2, 0, 1]], "float32")[..., None]
    return net, picture


def test_chain_fixations_found_on_paper(chain):
    net, picture = chain
    # class 0: d0·1 = 14 kept, d1·(-1) = -5 dropped; conv2 -> p0(1,1) (5); pool -> c0(2,2); conv1 -> x(2,2) (5·1)
    points, scores, logits = _fixations(net, picture, 0)
    np.testing.assert_allclose(logits, [9, 5, 19])
    assert points == [[2, 2]] and scores == [5.0]
    # class 1: d0·0 = 0 dropped, d1·1 = 5 kept; conv2 -> p1(0,1) (8); pool -> c1(1,3); conv1 -> x(1,3) (-4·-1 = 4)
    assert _fixations(net, picture, 1)[:2] == ([[1, 3]], [4.0])
    # class 2: both kept, so both points, the larger contribution first
    assert _fixations(net, picture, 2)[:2] == ([[2, 2], [1, 3]], [5.0, 4.0])


def test_the_cap_keeps_the_largest_contributions(chain):
    net, picture = chain
    # class 2 with one neuron per layer: of d0 (14) and d1 (5) only d0 goes on
    assert _fixations(net, picture, 2, limit=1)[0] == [[2, 2]]


def test_residual_block_found_on_paper():
    """s = x + conv(x), conv 3×3 "same" with w[0,0] = 1 (reads x(y-1, x-1)) and w[2,2] = -1 (reads x(y+1, x+1)).

    x = [[2, 0, 0], [0, 1, 0], [0, 0, -3]]:  b(1,1) = 2·1 + (-3)·(-1) = 5 (largest: x(2,2), 3); s(1,1) = 1 + 5 = 6
                                             b(2,2) = 1·1 (x(1,1)) = 1;                       s(2,2) = -3 + 1 = -2
    dense: class 0 reads s(1,1) with weight 1, class 1 reads s(2,2) with weight -1 (others 0): logits 6 and 2.
    class 0: shortcut x(1,1) = 1 > 0 kept, branch b(1,1) = 5 > 0 kept -> x(2,2): points x(2,2) (3), x(1,1) (1).
    class 1: s(2,2)·(-1) = 2 > 0 kept; shortcut x(2,2) = -3 dropped, branch b(2,2) = 1 kept -> the one point x(1,1).
    """
    from explainers._tf import keras

    inputs = keras.Input((3, 3, 1))
    branch = keras.layers.Conv2D(1, 3, padding="same", use_bias=False, name="branch")(inputs)
    added = keras.layers.Add(name="add")([inputs, branch])
    logits = keras.layers.Dense(2, use_bias=False, name="logits")(keras.layers.Flatten()(added))
    net = keras.Model(inputs, logits)
    kernel = np.zeros((3, 3, 1, 1))
    kernel[0, 0], kernel[2, 2] = 1, -1
    _set(net.get_layer("branch"), kernel)
    dense = np.zeros((9, 2))
    dense[4, 0], dense[8, 1] = 1, -1
    _set(net.get_layer("logits"), dense)
    picture = np.array([[2, 0, 0], [0, 1, 0], [0, 0, -3]], "float32")[..., None]
    points, scores, logits = _fixations(net, picture, 0)
    np.testing.assert_allclose(logits, [6, 2])
    assert points == [[2, 2], [1, 1]] and scores == [3.0, 1.0]
    assert _fixations(net, picture, 1)[:2] == ([[1, 1]], [1.0])


def test_concatenation_found_on_paper():
    """x (2×2×1) -> a = relu(x) and b = relu(-x) (1×1 convolutions) -> concatenate [a, b] -> global average
    pooling -> dense (identity): class 0 reads channel a, class 1 channel b.

    x = [[1, -2], [3, 0]]: a = [[1, 0], [3, 0]], b = [[0, 2], [0, 0]]
    class 0: channel 0 of the concatenation is branch a; its positive positions (1,0) (3/4) and (0,0) (1/4);
             branch a's 1×1 convolution keeps x there, contributing 3·1 and 1·1.
    class 1: channel 1 is branch b, channel 0 of it: (0,1) (2/4); x(0,1) contributes -2·-1 = 2.
    """
    from explainers._tf import keras

    inputs = keras.Input((2, 2, 1))
    a = keras.layers.Conv2D(1, 1, activation="relu", use_bias=False, name="a")(inputs)
    b = keras.layers.Conv2D(1, 1, activation="relu", use_bias=False, name="b")(inputs)
    joined = keras.layers.Concatenate(name="join")([a, b])
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(joined)
    logits = keras.layers.Dense(2, use_bias=False, name="logits")(pooled)
    net = keras.Model(inputs, logits)
    _set(net.get_layer("a"), [[[[1]]]])
    _set(net.get_layer("b"), [[[[-1]]]])
    _set(net.get_layer("logits"), np.eye(2))
    picture = np.array([[1, -2], [3, 0]], "float32")[..., None]
    points, scores, logits = _fixations(net, picture, 0)
    np.testing.assert_allclose(logits, [1, 0.5])
    assert points == [[1, 0], [0, 0]]
    np.testing.assert_allclose(scores, [3, 1])
    points, scores, _ = _fixations(net, picture, 1)
    assert points == [[0, 1]]
    np.testing.assert_allclose(scores, [2])


def test_an_unsupported_layer_is_refused_in_plain_words():
    from explainers._tf import keras
    from explainers.labels import Labels
    from explainers.models import ExplainableModel

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.UpSampling2D(name="bigger")(x)
    logits = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    model = ExplainableModel(
        keras.Model(inputs, logits), "upsampling", labels=Labels.from_names(["a", "b"]), preprocess=lambda p: p / 255
    )
    picture = np.zeros((8, 8, 3), np.uint8)
    get_method("cnn_fixations")().warm_up(model)  # a server's warm-up passes over it quietly
    with pytest.raises(
        NotApplicableError, match=r"CNN Fixations is not supported for layer bigger \(type UpSampling2D\)"
    ):
        explain(model, picture, "cnn_fixations")


@pytest.fixture(scope="module")
def shapes_model():
    from explainers.models import load_model

    return load_model("shapes")


def test_shapes_end_to_end(shapes_model):
    """On the trained Shapes model the fixations lie on the picture, the map is their blurred density, and
    they crowd near the object more than its share of the picture would give by chance."""
    from scipy.ndimage import binary_dilation

    from explainers import shapes
    from explainers.methods.cnn_fixations import density

    near, area = [], []
    for index in range(4):
        picture, label, mask = shapes.render(99, index)
        e = explain(shapes_model, picture, "cnn_fixations")
        points = np.array(e.meta["points"])
        assert e.meta["points_size"] == [128, 128] and e.heatmap.shape == (128, 128)
        assert len(points) > 0 and points.min() >= 0 and points.max() < 128
        assert e.target == e.predictions[0][0]
        np.testing.assert_allclose(e.heatmap, density(points, (128, 128), 0.02 * 128), atol=1e-6)
        around = binary_dilation(mask, iterations=6)
        near.append(around[points[:, 0], points[:, 1]].mean())
        area.append(around.mean())
    assert np.mean(near) > 2 * np.mean(area), (near, area)


def test_a_chosen_class_and_the_blur_setting(shapes_model):
    from explainers import shapes

    picture, _, _ = shapes.render(99, 0)
    sharp = explain(shapes_model, picture, "cnn_fixations", target=3, blur=0.0)
    assert sharp.target == 3
    rows, cols = np.array(sharp.meta["points"]).T
    assert (sharp.heatmap[rows, cols] == 1).all() and sharp.heatmap.sum() == len(rows)  # no blur: the dots


def test_dense_rule_keeps_every_positive_product():
    """a = [2, -1, 0, 3], kept outputs 0 and 1 of W = [[1, -1], [-2, 0], [5, 5], [-1, -1]]:
    products a·W = [[2, -2], [2, 0], [0, 0], [-3, -3]] -> inputs 0 (2) and 1 (2: -1 × -2); never 2 (a = 0) nor 3."""
    from explainers.fixations import dense

    kernel = np.array([[1, -1, 9], [-2, 0, 9], [5, 5, 9], [-1, -1, 9]], "float32")
    index, score = dense(np.array([2, -1, 0, 3], "float32"), kernel, (np.array([0, 1]), np.ones(2)))
    assert index.tolist() == [0, 1] and score.tolist() == [2.0, 2.0]


# ---- the points on the card, in the downloads and in the report ---------------------------------------
def test_the_card_draws_the_points_over_the_map():
    """Points of a 128 grid on a 256-pixel display: pixel (r, c)'s centre (r + 0.5)·2 - 0.5."""
    from components.figures import add_points, overlay_figure

    figure = overlay_figure("/picture.png", np.zeros((256, 256), np.uint8))
    add_points(figure, [[0, 0], [10, 127]], [128, 128], (256, 256))
    assert figure.data[0].type == "heatmap"  # the opacity slider changes the first trace: still the map
    dots = figure.data[-1]
    assert dots.type == "scatter" and dots.mode == "markers"
    assert list(dots.x) == [0.5, 254.5] and list(dots.y) == [0.5, 20.5]


def test_the_service_downloads_and_report_carry_the_points(tmp_path, tiny_cnn, rng_image):
    """The service keeps the points in its result (through the wire format too), the downloaded picture
    shows them as dots, and the report shows the map with its dots and the method's card."""
    from app import create_app
    from components.common import SERVICE_KEY
    from explainers import shapes
    from explainers.render import encode_png
    from explainers.report import render_report
    from service.wire import decode, encode

    app = create_app({"weights": "imagenet", "model": "shapes", "data_dir": str(tmp_path / "data")})
    svc = app.server.extensions[SERVICE_KEY]
    key = svc.add_image(encode_png(shapes.render(99, 0)[0]))
    result = svc.explain(key, "shapes", "cnn_fixations")
    assert result.meta["points"] and result.meta["points_size"] == [128, 128]
    assert decode(encode(result)).meta["points"] == result.meta["points"]
    with_dots = svc.overlay(key, result, opacity=0.0)
    without = svc.overlay(key, dataclasses.replace(result, meta={}), opacity=0.0)
    row, col = result.meta["points"][0]
    assert (with_dots[row, col] == 255).all() and not (with_dots == without).all()
    answer = app.server.test_client().get(f"/download/card.png?image={key}&model=shapes&method=cnn_fixations")
    assert answer.status_code == 200 and answer.mimetype == "image/png"

    e = explain(tiny_cnn, rng_image(16, 16, seed=3), "cnn_fixations", target=1)
    page = render_report(rng_image(16, 16, seed=3), {"cnn_fixations": e}, model="tiny_cnn")
    assert "CNN Fixations" in page and "arxiv.org/abs/1708.06670" in page
    plain = render_report(rng_image(16, 16, seed=3), {"cnn_fixations": dataclasses.replace(e, meta={})}, model="m")
    pictures = [re.findall(r'src="(data:image/png;base64,[^"]+)"', html) for html in (page, plain)]
    assert pictures[0][0] == pictures[1][0] and pictures[0][1] != pictures[1][1]  # the photo alike, the map dotted


def test_the_command_line_draws_the_points(tmp_path, capsys):
    """``explain --method cnn_fixations`` finds the method through the registry and dots its overlay."""
    from PIL import Image

    from explainers import shapes
    from explainers.__main__ import main

    photo, out = tmp_path / "star.png", tmp_path / "overlay.png"
    Image.fromarray(shapes.render(99, 0)[0]).save(photo)
    arguments = ["explain", str(photo), "--model", "shapes", "--method", "cnn_fixations", "--opacity", "0"]
    assert main([*arguments, "--out", str(out)]) == 0
    assert "cnn_fixations on Shapes" in capsys.readouterr().out
    dotted = np.asarray(Image.open(out).convert("RGB"))  # with the map invisible, only the dots change the photo
    assert dotted.shape == (128, 128, 3) and (dotted != shapes.render(99, 0)[0]).any(axis=-1).sum() > 20


def test_average_pooling_and_coordinate_shifts_on_paper():
    """Average pooling 3×3, stride 1, "same" on a = [[1, -1], [2, 0]]: output (0,0)'s window covers all four
    inputs (padding is not counted: n = 4), shares a/4 = [1/4, -1/4, 2/4, 0] -> (0,0) (1/4) and (1,0) (2/4).
    Zero padding of 1: output (0,0) is padding (dropped), (1,2) is input (0,1); cropping of 1: (0,0) is (1,1)."""
    from explainers.fixations import Step, pool, shift

    a = np.array([[1, -1], [2, 0]], "float32")[..., None]
    step = Step("avg_pool", "pool", (0,), 1, window=(3, 3), pads=(1, 1))
    index, score = pool(a, step, (2, 2, 1), (np.array([0]), np.ones(1)))
    assert index.tolist() == [0, 2] and score.tolist() == [0.25, 0.5]
    index, _ = shift((2, 2, 1), (4, 4, 1), (1, 1), (np.array([0, 6]), np.ones(2)))  # flat 6 = (1, 2, 0)
    assert index.tolist() == [1]
    index, _ = shift((4, 4, 1), (2, 2, 1), (-1, -1), (np.array([0]), np.ones(1)))
    assert index.tolist() == [5]  # (1, 1) of the 4 × 4 input


def test_the_http_api_answers_the_points(tmp_path):
    from app import create_app
    from explainers import shapes
    from explainers.render import encode_png

    app = create_app({"weights": "imagenet", "model": "shapes", "data_dir": str(tmp_path / "data")})
    answer = app.server.test_client().post(
        "/api/v1/explain?model=shapes&method=cnn_fixations&weights=imagenet",
        data=encode_png(shapes.render(99, 0)[0]),
        content_type="image/png",
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["points_size"] == [128, 128] and body["points"] and all(len(p) == 2 for p in body["points"])
    assert (
        "points"
        not in app.server.test_client()
        .post(  # a map without points answers none
            "/api/v1/explain?model=shapes&method=grad_cam&weights=imagenet",
            data=encode_png(shapes.render(99, 0)[0]),
            content_type="image/png",
        )
        .get_json()
    )


TRAVERSED = {  # each architecture's own kinds of layer that some kept neurons go through
    "vgg16": {"Dense", "Flatten", "MaxPooling2D"},
    "resnet50": {"Add", "ZeroPadding2D", "BatchNormalization"},
    "inception_v3": {"Concatenate", "AveragePooling2D", "GlobalAveragePooling2D"},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TRAVERSED))
def test_the_imagenet_architectures_are_traced_to_the_picture(name, registry_models, rng_image):
    """Through VGG16's plain chain, ResNet50's additions and padding, InceptionV3's concatenations and
    average pooling: every layer on the way keeps some neurons and the fixations land on the picture."""
    model = registry_models(name)
    e = explain(model, rng_image(180, 260, seed=1), "cnn_fixations", target=281)
    points, side = np.array(e.meta["points"]), model.input_size
    assert len(points) > 10 and points.min() >= 0 and points.max() < side
    assert e.meta["points_size"] == [side, side] and e.heatmap.shape == (side, side)
    first_conv = next(layer.name for layer in model.keras.layers if type(layer).__name__ == "Conv2D")
    assert e.meta["kept_per_layer"][first_conv] > 0
    kinds = {type(model.keras.get_layer(layer)).__name__ for layer, count in e.meta["kept_per_layer"].items() if count}
    assert TRAVERSED[name] <= kinds
