"""One's own Keras models (explainers.own_models, keras_graph, own_preprocessing): tiny models built here,
saved as .keras, loaded back; Grad-CAM and the vanilla gradient against references written by hand with
tf.GradientTape on the original model; every bad file refused in words."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from explainers import METHODS, ModelFileError, NotApplicableError, explain
from explainers.methods import get_method
from explainers.own_models import (
    PREPROCESSING,
    cam_applicable,
    check_keras_file,
    from_keras,
    load_keras_bytes,
    load_keras_model,
    parse_labels,
    recommended_layer,
)
from explainers.own_preprocessing import NamedPreprocessing
from explainers.passes import Passes


@pytest.fixture(scope="module")
def keras():
    from explainers._tf import keras

    return keras


def _conv(keras, filters, name, **kw):
    return keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=name, **kw)


# ---- the models: (build function, labels, preprocessing, recommended layer, what is explained) --------
def functional(keras):
    inputs = keras.Input((10, 10, 3))
    x = _conv(keras, 4, "c1")(inputs)
    x = _conv(keras, 5, "c2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x))


def sequential(keras):
    return keras.Sequential(
        [
            keras.Input((10, 10, 3)),
            _conv(keras, 4, "c1"),
            keras.layers.MaxPooling2D(name="pool"),
            _conv(keras, 5, "c2"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(3, name="head"),
        ]
    )


def _base(keras, shape=(12, 12, 3)):
    """A small stand-in for a keras.applications network (what transfer learning nests)."""
    inputs = keras.Input(shape)
    x = _conv(keras, 4, "b1")(inputs)
    x = keras.layers.BatchNormalization(name="b_norm")(x)
    x = _conv(keras, 6, "b2")(x)
    return keras.Model(inputs, x, name="base")


def nested_sequential(keras):
    """The transfer-learning pattern: augmentation, rescaling, a base network, a new softmax head."""
    return keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            keras.layers.RandomFlip("horizontal", name="flip"),
            keras.layers.Rescaling(1 / 127.5, offset=-1, name="scale"),
            _base(keras),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dropout(0.5, name="drop"),
            keras.layers.Dense(4, activation="softmax", name="head"),
        ]
    )


def nested_functional(keras):
    """Keras's transfer-learning guide's way: the base called with training=False inside a functional model."""
    base = _base(keras)
    inputs = keras.Input((12, 12, 3))
    x = base(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="head")(x))


def softmax_layer(keras):
    inputs = keras.Input((10, 10, 3))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(_conv(keras, 4, "c1")(inputs))
    return keras.Model(inputs, keras.layers.Softmax(name="probabilities")(keras.layers.Dense(3, name="head")(x)))


def sigmoid_multilabel(keras):
    inputs = keras.Input((10, 10, 3))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(_conv(keras, 4, "c1")(inputs))
    return keras.Model(inputs, keras.layers.Dense(3, activation="sigmoid", name="head")(x))


def binary(keras):
    inputs = keras.Input((10, 10, 3))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(_conv(keras, 4, "c1")(inputs))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="head")(x))


def non_square(keras):
    inputs = keras.Input((8, 14, 3))
    x = _conv(keras, 4, "c1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = _conv(keras, 4, "c2")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(keras.layers.GlobalAveragePooling2D()(x)))


def grayscale(keras):
    return keras.Sequential(
        [
            keras.Input((12, 8, 1)),
            _conv(keras, 4, "c1"),
            _conv(keras, 4, "c2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ]
    )


def rescaling_inside(keras):
    inputs = keras.Input((10, 10, 3))
    x = keras.layers.Rescaling(1 / 255, name="scale")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(_conv(keras, 4, "c1")(x))
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x))


CASES = {
    "functional": (functional, ["a", "b", "c"], "unit", "c2", "the logits"),
    "sequential": (sequential, None, "tf", "c2", "the logits"),
    "nested_sequential": (nested_sequential, ["w", "x", "y", "z"], "none", "b2", "the score before softmax"),
    "nested_functional": (nested_functional, None, "none", "b2", "the score before softmax"),
    "softmax_layer": (softmax_layer, None, "caffe", "c1", "the score before softmax"),
    "sigmoid_multilabel": (sigmoid_multilabel, ["p", "q", "r"], "torch", "c1", "the score before sigmoid"),
    "binary": (binary, ["cat"], "unit", "c1", "the score before sigmoid"),
    "non_square": (non_square, None, "unit", "c2", "the logits"),
    "grayscale": (grayscale, None, "tf", "c2", "the score before softmax"),
    "rescaling_inside": (rescaling_inside, None, "none", "c1", "the logits"),
}


def _flat_layers(keras, model):
    """The original model's layers in order, inner models opened (every test model is a chain)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _flat_layers(keras, layer)
        elif type(layer).__name__ != "InputLayer":
            yield layer


def _reference(keras, original, inputs, layer_name, target):
    """(Grad-CAM at ``layer_name``, d score/d input) by hand: the original's layers run in turn under a
    GradientTape; the score is the last layer's pre-activation (one unit z: class 1 is z/2, class 0 −z/2)."""
    from explainers._tf import tf

    layers = list(_flat_layers(keras, original))
    x = tf.constant(inputs)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        h, activations = x, None
        for layer in layers:
            if isinstance(layer, keras.layers.Softmax):
                break
            if layer is layers[-1] and isinstance(layer, keras.layers.Dense):
                h = tf.matmul(h, layer.kernel) + layer.bias  # the score before its activation
            else:
                h = layer(h, training=False)
            if layer.name == layer_name:
                activations = h
                tape.watch(activations)
        score = h[:, target] if h.shape[-1] > 1 else h[:, 0] * (0.5 if target == 1 else -0.5)
        score = tf.reduce_sum(score)
    weights = tf.reduce_mean(tape.gradient(score, activations), axis=(1, 2))
    cam = tf.nn.relu(tf.einsum("nhwk,nk->nhw", activations, weights)).numpy()
    return cam, tape.gradient(score, x).numpy()


def _save(model, folder: Path, name="model.keras") -> Path:
    path = folder / name
    model.save(path)
    return path


@pytest.fixture
def photo():
    return np.random.default_rng(5).integers(0, 256, (30, 40, 3), dtype=np.uint8)


@pytest.mark.parametrize("case", list(CASES))
def test_loaded_model_matches_hand_written_gradcam_and_gradient(case, keras, tmp_path, photo):
    build, labels, preprocessing, recommended, explaining = CASES[case]
    keras.utils.set_random_seed(3)
    original = build(keras)
    model = load_keras_model(_save(original, tmp_path), labels=labels, preprocessing=preprocessing)
    assert model.default_layer == recommended and recommended_layer(model.keras) == recommended
    assert model.explaining.startswith(explaining)
    assert model.input_shape == tuple(original.input_shape[1:3]) and model.channels == original.input_shape[3]
    assert model.weights_id.startswith("keras:")
    reason = cam_applicable(model)
    if reason is None:
        get_method("cam")().check_applicable(model)
    else:
        with pytest.raises(NotApplicableError):
            get_method("cam")().check_applicable(model)
    pictures = model.prepare(photo)[None]
    inputs = model.preprocess(pictures)
    assert inputs.shape == (1, *model.input_shape, model.channels)
    for layer in (info.name for info in model.layers):
        for target in range(len(model.labels)):
            passes = Passes(model, inputs, np.array([target], np.int32), pictures=pictures)
            cam = get_method("grad_cam")().compute(passes, layer).heatmap[0]
            reference, gradient = _reference(keras, original, inputs, layer, target)
            np.testing.assert_allclose(cam, reference[0], rtol=1e-4, atol=1e-6)
        vanilla = get_method("vanilla_gradient")().compute(passes, layer).attributions[0]
        np.testing.assert_allclose(vanilla, gradient[0], rtol=1e-4, atol=1e-7)


def test_every_inner_layer_of_a_nested_model_can_be_picked(keras):
    keras.utils.set_random_seed(0)
    model = from_keras(nested_sequential(keras))
    names = [info.name for info in model.layers]
    assert names == ["scale", "b1", "b_norm", "b2"]  # the augmentation is gone: it does nothing at inference
    assert not {"flip", "drop"} & {layer.name for layer in model.keras.layers}


def test_softmax_is_stripped_sharing_the_trained_scores(keras, photo):
    keras.utils.set_random_seed(1)
    original = nested_functional(keras)
    model = from_keras(original, preprocessing="none")
    x = model.preprocess(model.prepare(photo)[None])
    logits = model.keras(x).numpy()
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(), original(x).numpy(), rtol=1e-5)


def test_binary_model_is_two_classes_not_x_and_x(keras, photo):
    keras.utils.set_random_seed(2)
    original = binary(keras)
    model = from_keras(original, labels=["cat"])
    assert model.labels.names == ["not cat", "cat"]
    x = model.preprocess(model.prepare(photo)[None])
    logits = model.keras(x).numpy()[0]
    assert logits[0] == pytest.approx(-logits[1])
    probability = original(x).numpy()[0, 0]
    assert np.exp(logits[1]) / np.exp(logits).sum() == pytest.approx(probability, rel=1e-5)
    assert from_keras(original).labels.names == ["class 0", "class 1"]
    assert from_keras(original, labels=["dog", "cat"]).labels.names == ["dog", "cat"]


def test_given_model_is_not_changed(keras):
    keras.utils.set_random_seed(4)
    original = sigmoid_multilabel(keras)
    from_keras(original)
    assert original.get_layer("head").activation is keras.activations.sigmoid
    assert len(original.layers) == 4


def test_cam_is_offered_only_for_a_pooling_head(keras):
    keras.utils.set_random_seed(0)
    assert cam_applicable(from_keras(functional(keras))) is None
    assert cam_applicable(from_keras(nested_sequential(keras))) is None  # dropout between pooling and dense
    assert "Flatten" in cam_applicable(from_keras(sequential(keras)))
    assert cam_applicable(from_keras(binary(keras))) is None  # one unit shown as two classes
    model = from_keras(functional(keras), labels=["a", "b", "c"])
    explain(model, np.zeros((10, 10, 3), np.uint8), "cam")


def test_batch_size_none_and_fixed_batch_both_load(keras):
    inputs = keras.Input((10, 10, 3), batch_size=1)
    x = keras.layers.GlobalAveragePooling2D()(_conv(keras, 2, "c1")(inputs))
    model = from_keras(keras.Model(inputs, keras.layers.Dense(2)(x)))
    assert model.keras.input_shape[0] is None
    assert explain(model, np.zeros((10, 10, 3), np.uint8), "grad_cam").heatmap.shape == (10, 10)


# ---- every method on a non-square grey model ----------------------------------------------------
@pytest.fixture(scope="module")
def grey_wide(keras):
    keras.utils.set_random_seed(7)
    inputs = keras.Input((12, 20, 1))
    x = _conv(keras, 4, "c1")(inputs)
    x = _conv(keras, 4, "c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return from_keras(keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x)), preprocessing="tf")


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_on_a_non_square_grey_model(name, grey_wide, photo):
    params = dict(METHODS[name].quick)
    e = explain(grey_wide, photo, name, target=2, **params)
    assert e.heatmap.shape == (12, 20) and np.isfinite(e.heatmap).all()
    if e.attributions is not None:
        assert e.attributions.shape == (12, 20, 1)


def test_the_layer_views_on_a_non_square_grey_model(grey_wide, photo):
    from explainers import activations, sweep

    strip = sweep(grey_wide, photo, target=2)
    assert strip.heatmaps.shape[1:] == (12, 20) and np.isfinite(strip.heatmaps).all()
    page = activations(grey_wide, photo, "c2", top=4, target=2)
    assert len(page.channels) == 4


# ---- preprocessing and labels (no model) --------------------------------------------------------
def test_preprocessing_by_name_on_paper():
    red = np.array([[[[255, 0, 0]]]], np.float32)
    np.testing.assert_allclose(NamedPreprocessing("caffe")(red)[0, 0, 0], [-103.939, -116.779, 255 - 123.68], 1e-5)
    np.testing.assert_allclose(NamedPreprocessing("tf")(red)[0, 0, 0], [1, -1, -1])
    np.testing.assert_allclose(
        NamedPreprocessing("torch")(red)[0, 0, 0], [(1 - 0.485) / 0.229, -0.456 / 0.224, -0.406 / 0.225], 1e-5
    )
    np.testing.assert_allclose(NamedPreprocessing("unit")(red)[0, 0, 0], [1, 0, 0])
    np.testing.assert_allclose(NamedPreprocessing("none")(red)[0, 0, 0], [255, 0, 0])
    grey = NamedPreprocessing("unit", channels=1)(red)
    assert grey.shape == (1, 1, 1, 1) and grey[0, 0, 0, 0] == pytest.approx(0.299)
    assert set(PREPROCESSING) == {"caffe", "tf", "torch", "unit", "none"}
    assert all(sentence.endswith(".") for sentence in PREPROCESSING.values())


def test_labels_from_text_json_list_and_none(tmp_path):
    assert parse_labels(b"cat\n\n dog \n", 2).names == ["cat", "dog"]
    assert parse_labels('["cat", "dog"]', 2).names == ["cat", "dog"]
    assert parse_labels(b'{"1": "dog", "0": "cat"}', 2).names == ["cat", "dog"]
    assert parse_labels(None, 3).names == ["class 0", "class 1", "class 2"]
    assert parse_labels({"1": "dog", 0: "cat"}, 2).names == ["cat", "dog"]
    path = tmp_path / "labels.txt"
    path.write_text("a\nb\nc\n")
    assert parse_labels(path, 3).names == ["a", "b", "c"]
    assert parse_labels(str(path), 3).names == ["a", "b", "c"]
    with pytest.raises(ModelFileError, match="has 2 names but the model has 3 outputs"):
        parse_labels(b"cat\ndog\n", 3)
    with pytest.raises(ModelFileError, match="without gaps"):
        parse_labels({0: "cat", 2: "dog"}, 2)
    with pytest.raises(ModelFileError, match="without gaps"):
        parse_labels('{"0": "cat", "2": "dog"}', 2)


# ---- bad input ----------------------------------------------------------------------------------
def _left_behind() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("explainers-*")}


def test_not_a_zip(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"hello, this is not a model" * 10)
    with pytest.raises(ModelFileError, match="not a .keras file"):
        load_keras_model(path)


def test_truncated_file_and_nothing_left_behind(keras, tmp_path):
    from explainers import models

    data = _save(functional(keras), tmp_path).read_bytes()
    before, resident = _left_behind(), models.loaded_models()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a .keras file|damaged"):
        models.load_model(cut)
    with pytest.raises(ModelFileError):
        load_keras_bytes(data[: len(data) // 2])
    assert _left_behind() == before and models.loaded_models() == resident


def test_zip_bomb_is_refused_before_unpacking(tmp_path):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", b"\0" * 5_000_000)
    assert path.stat().st_size < 100_000
    with pytest.raises(ModelFileError, match="zip bomb"):
        check_keras_file(path, max_bytes=200_000)


def test_path_tricks_are_refused(tmp_path):
    for name in ("../evil.json", "/etc/evil", "a/../../b"):
        path = tmp_path / "tricky.keras"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{}")
            archive.writestr(name, "x")
        with pytest.raises(ModelFileError, match="unsafe path"):
            check_keras_file(path)


def test_file_over_the_size_limit_is_refused_before_reading(keras, tmp_path):
    path = _save(functional(keras), tmp_path)
    with pytest.raises(ModelFileError, match="the limit is"):
        load_keras_model(path, max_bytes=1000)
    with pytest.raises(ModelFileError, match="the limit is"):
        load_keras_bytes(b"\0" * 2000, max_bytes=1000)


def _rewrite_config(source: Path, target: Path, change) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for member in old.infolist():
            data = old.read(member.filename)
            if member.filename == "config.json":
                data = json.dumps(change(json.loads(data))).encode()
            new.writestr(member, data)
    return target


def test_unknown_layer_in_config(keras, tmp_path):
    path = _save(sequential(keras), tmp_path)

    def rename(config):
        config["config"]["layers"][1]["class_name"] = "FancyConv2D"
        return config

    bad = _rewrite_config(path, tmp_path / "unknown.keras", rename)
    with pytest.raises(ModelFileError, match="layer type this program does not know.*FancyConv2D"):
        load_keras_model(bad)


def test_lambda_layer_is_refused_in_safe_mode(keras, tmp_path):
    inputs = keras.Input((10, 10, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(_conv(keras, 2, "c1")(x))
    path = _save(keras.Model(inputs, keras.layers.Dense(2)(x)), tmp_path)
    message = "This model contains a Lambda layer, which could run arbitrary code"
    with pytest.raises(ModelFileError, match=message):
        load_keras_model(path)
    with pytest.raises(ModelFileError, match=message):  # Keras's own safe mode, behind the zip check
        from explainers.own_models import _keras_load

        _keras_load(path, safe_mode=True)
    trusted = load_keras_model(path, safe_mode=False)  # an admin's folder model may allow it
    assert "double" in [layer.name for layer in trusted.keras.layers]
    assert explain(trusted, np.zeros((32, 32, 3), np.uint8), "grad_cam").heatmap.shape == (10, 10)


def test_h5_weights_only_says_what_to_upload(keras, tmp_path):
    path = tmp_path / "model.weights.h5"
    functional(keras).save_weights(path)
    with pytest.raises(ModelFileError, match=r"HDF5.*model.save\('my_model.keras'\)"):
        load_keras_model(path)


def test_labels_count_differs_from_outputs(keras, tmp_path):
    with pytest.raises(ModelFileError, match="has 2 names but the model has 3 outputs"):
        load_keras_model(_save(functional(keras), tmp_path), labels=["a", "b"])


def test_model_without_image_shaped_layer(keras):
    inputs = keras.Input((6, 6, 3))
    with pytest.raises(ModelFileError, match="no image-shaped layer"):
        from_keras(keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs))))


def test_vector_input_is_not_a_picture(keras):
    inputs = keras.Input((10,))
    with pytest.raises(ModelFileError, match="vector of 10 numbers, not a picture"):
        from_keras(keras.Model(inputs, keras.layers.Dense(2)(inputs)))


def test_video_model_is_refused(keras, tmp_path):
    inputs = keras.Input((4, 8, 8, 3))
    x = keras.layers.GlobalAveragePooling3D()(keras.layers.Conv3D(2, 3, padding="same")(inputs))
    with pytest.raises(ModelFileError, match="video or a 3-D volume"):
        load_keras_model(_save(keras.Model(inputs, keras.layers.Dense(2)(x)), tmp_path))


# ---- ways in ------------------------------------------------------------------------------------
def test_load_model_takes_a_keras_path(keras, tmp_path):
    from explainers.models import load_model

    path = _save(functional(keras), tmp_path)
    model = load_model(str(path), labels=["a", "b", "c"], preprocessing="tf")
    assert model.labels.names == ["a", "b", "c"] and model.preprocessing == "tf"
    assert load_model(str(path), labels=["a", "b", "c"], preprocessing="tf") is model  # cached


def test_cli_explains_with_an_own_model(keras, tmp_path, capsys):
    from PIL import Image

    from explainers.__main__ import main

    path = _save(grayscale(keras), tmp_path)
    (tmp_path / "labels.txt").write_text("left\nright\n")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(tmp_path / "p.png")
    out = tmp_path / "overlay.png"
    argv = ["explain", str(tmp_path / "p.png"), "--model", str(path), "--labels", str(tmp_path / "labels.txt")]
    assert main([*argv, "--preprocessing", "tf", "--out", str(out), "--target", "right"]) == 0
    assert out.is_file() and "class 1 (right)" in capsys.readouterr().out
    assert main([*argv, "--preprocessing", "sepia"]) == 1
    assert "Unknown preprocessing 'sepia'" in capsys.readouterr().err


def test_randomizable_copy_of_an_own_model_gives_the_same_scores(keras, photo):
    from explainers.model_copies import randomizable_copy

    keras.utils.set_random_seed(6)
    model = from_keras(binary(keras), labels=["cat"])
    copy = randomizable_copy(model)
    x = model.preprocess(model.prepare(photo)[None])
    np.testing.assert_allclose(copy.keras(x).numpy(), model.keras(x).numpy(), rtol=1e-6)
    assert copy.input_shape == model.input_shape


def test_adapted_normalization_inside_keeps_its_statistics(keras, tmp_path):
    keras.utils.set_random_seed(8)
    norm = keras.layers.Normalization(name="norm")
    norm.adapt(np.random.default_rng(0).uniform(0, 255, (20, 10, 10, 3)).astype("float32"))
    inputs = keras.Input((10, 10, 3))
    x = keras.layers.GlobalAveragePooling2D()(_conv(keras, 3, "c1")(norm(inputs)))
    original = keras.Model(inputs, keras.layers.Dense(2)(x))
    model = load_keras_model(_save(original, tmp_path), preprocessing="none")
    pixels = np.random.default_rng(1).uniform(0, 255, (2, 10, 10, 3)).astype("float32")
    np.testing.assert_allclose(model.keras(pixels).numpy(), original(pixels).numpy(), rtol=1e-5, atol=1e-6)


def test_trust_checks_on_a_non_square_grey_model(grey_wide, photo):
    from explainers.evaluation.faithfulness import faithfulness, random_map_auc
    from explainers.evaluation.sanity import cascading_randomization, random_logit
    from explainers.evaluation.stability import stability

    heatmap = explain(grey_wide, photo, "grad_cam", target=1).heatmap
    assert np.isfinite(faithfulness(grey_wide, photo, heatmap, target=1, steps=4).auc)
    assert np.isfinite(random_map_auc(grey_wide, photo, target=1, steps=4, n=2).mean)
    assert cascading_randomization(grey_wide, photo, "grad_cam", target=1).steps
    random_logit(grey_wide, photo, "grad_cam", target=1)
    stability(grey_wide, photo, "smoothgrad", n=2, target=1, params={"n_samples": 4})


def test_subclassed_model_is_refused_in_words(keras):
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3)
            self.pool = keras.layers.GlobalAveragePooling2D()
            self.head = keras.layers.Dense(2)

        def call(self, x):
            return self.head(self.pool(self.conv(x)))

    inputs = keras.Input((10, 10, 3))
    outer = keras.Model(inputs, Tiny()(inputs))
    with pytest.raises(ModelFileError, match="subclassed Keras model"):
        from_keras(outer)


def test_describe_is_plain_json(keras):
    from explainers.own_models import describe

    keras.utils.set_random_seed(0)
    facts = describe(from_keras(sequential(keras), labels=["a", "b", "c"], preprocessing="tf", title="Mine"))
    assert json.loads(json.dumps(facts)) == facts
    assert facts["title"] == "Mine" and facts["input_shape"] == [10, 10] and facts["default_layer"] == "c2"
    assert facts["preprocessing_words"] == PREPROCESSING["tf"] and "Flatten" in facts["cam_not_applicable"]


def test_cam_on_a_binary_model_splits_the_one_unit(keras, photo):
    """CAM of "cat" is Σₖ (wₖ/2)·Aₖ and of "not cat" Σₖ (−wₖ/2)·Aₖ, w the single unit's dense weights."""
    keras.utils.set_random_seed(9)
    original = binary(keras)
    model = from_keras(original, labels=["cat"])
    assert cam_applicable(model) is None
    pictures = model.prepare(photo)[None]
    inputs = model.preprocess(pictures)
    activations = original.get_layer("c1")(inputs).numpy()
    weights = original.get_layer("head").kernel.numpy()[:, 0]
    for target, sign in ((1, 0.5), (0, -0.5)):
        passes = Passes(model, inputs, np.array([target], np.int32), pictures=pictures)
        cam = get_method("cam")(relu=False).compute(passes, "c1").heatmap[0]
        np.testing.assert_allclose(cam, np.einsum("hwk,k->hw", activations[0], sign * weights), rtol=1e-4, atol=1e-6)


def test_a_file_stored_under_its_hash_loads_and_leaves_no_copy(keras, tmp_path):
    stored = tmp_path / "0f3a9c"  # an upload kept by content hash, without the .keras ending
    stored.write_bytes(_save(functional(keras), tmp_path).read_bytes())
    before = _left_behind()
    assert load_keras_model(stored).weights_id.startswith("keras:")
    assert _left_behind() == before


@pytest.mark.parametrize("ending", ["softmax", "sigmoid"])
def test_separate_activation_layer_is_taken_off(keras, ending, photo):
    keras.utils.set_random_seed(10)
    inputs = keras.Input((10, 10, 3))
    x = keras.layers.GlobalAveragePooling2D()(_conv(keras, 3, "c1")(inputs))
    scores = keras.layers.Dense(3, name="head")(x)
    original = keras.Model(inputs, keras.layers.Activation(ending, name="probabilities")(scores))
    model = from_keras(original)
    assert model.explaining == f"the score before {ending}"
    x = model.preprocess(model.prepare(photo)[None])
    np.testing.assert_allclose(model.keras(x).numpy(), keras.Model(inputs, scores)(x).numpy(), rtol=1e-5)


@pytest.mark.slow
def test_keras_applications_base_nested_in_a_sequential(keras, photo):
    """The transfer-learning pattern with a real architecture (MobileNetV2, random weights, 32 × 48):
    Grad-CAM on a layer deep inside the base equals the reference taken through the base itself."""
    from explainers._tf import tf

    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(input_shape=(32, 48, 3), weights=None, include_top=False, alpha=0.35)
    original = keras.Sequential(
        [
            keras.Input((32, 48, 3)),
            keras.layers.RandomFlip(),
            base,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model = from_keras(original, preprocessing="tf")
    assert model.default_layer == "block_13_pad"  # the last one at 2 × 2 or more (2 × 3 here)
    pictures = model.prepare(photo)[None]
    inputs = model.preprocess(pictures)
    layer = "block_5_project_BN"
    inner = keras.Model(base.inputs, [base.get_layer(layer).output, base.output])
    dense = original.layers[-1]
    with tf.GradientTape() as tape:
        activations, features = inner(inputs, training=False)
        scores = tf.matmul(tf.reduce_mean(features, axis=(1, 2)), dense.kernel) + dense.bias
        score = tf.reduce_sum(scores[:, 2])
    weights = tf.reduce_mean(tape.gradient(score, activations), axis=(1, 2))
    reference = tf.nn.relu(tf.einsum("nhwk,nk->nhw", activations, weights)).numpy()[0]
    cam = get_method("grad_cam")().compute(Passes(model, inputs, np.array([2], np.int32), pictures=pictures), layer)
    assert reference.max() > 0
    np.testing.assert_allclose(cam.heatmap[0], reference, rtol=1e-3, atol=1e-4 * reference.max())


def test_the_picture_as_a_grey_model_sees_it(grey_wide, photo):
    seen = grey_wide.as_seen(photo)
    assert seen.shape == (12, 20, 3) and seen.dtype == np.uint8
    assert (seen[..., 0] == seen[..., 1]).all() and (seen[..., 1] == seen[..., 2]).all()
    expected = grey_wide.prepare(photo).astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.abs(seen[..., 0] - expected).max() <= 0.5 + 1e-3
