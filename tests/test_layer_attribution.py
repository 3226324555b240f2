"""Attribution at a picked layer (``source="layer"``): gradient × activation equals a GradientTape
reference, integrated gradients at a layer add up to f(x; a) − f(x; a′) there, and the rest of the
network run from a layer's activations gives the model's own logits, also where a shortcut skips it."""

import numpy as np
import pytest

from explainers import explain
from explainers.api import logits_of


def _tape_reference(model, image, layer, target):
    """Σ over channels of activation × d logit[target] / d activation, straight from a GradientTape."""
    from explainers._tf import keras, tf

    net = model.keras
    probe = keras.Model(net.inputs, [net.get_layer(layer).output, net.outputs[0]])
    x = tf.convert_to_tensor(model.preprocess(model.prepare(image)[None].astype(np.float32)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        activations, logits = probe(x, training=False)
        score = logits[0, target]
    gradients = tape.gradient(score, activations)
    return (activations * gradients).numpy().sum(axis=-1)[0]


@pytest.fixture(scope="module")
def residual_model():
    """conv a -> conv b (the layer) -> add(a, b) -> ReLU -> GAP -> dense: the shortcut skips ``b``."""
    from explainers._tf import keras
    from tests.conftest import _tiny_model

    keras.utils.set_random_seed(7)
    inputs = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="a")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="b")(a)
    joined = keras.layers.ReLU(name="joined")(keras.layers.Add(name="add")([a, b]))
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(
        keras.layers.Conv2D(4, 3, padding="same", name="c")(joined)
    )
    logits = keras.layers.Dense(3, name="logits")(pooled)
    return _tiny_model(keras.Model(inputs, logits), "residual", 3, default_layer="b")


def test_gradient_times_activation_equals_a_tape_reference(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=3)
    e = explain(tiny_cnn, image, "gradient_x_input", target=2, layer="conv1", source="layer")
    reference = _tape_reference(tiny_cnn, image, "conv1", 2)  # conv1 is 16 × 16: no resizing in between
    np.testing.assert_allclose(e.heatmap, reference, rtol=1e-4, atol=1e-6)
    assert e.layer == "conv1" and e.meta["source"] == "layer" and e.attributions is None


def test_pixels_and_layer_are_different_settings(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=3)
    pixels = explain(tiny_cnn, image, "gradient_x_input", target=2, layer="conv1")
    assert pixels.layer is None and pixels.attributions is not None
    layer = explain(tiny_cnn, image, "gradient_x_input", target=2, layer="conv1", source="layer")
    assert not np.allclose(pixels.heatmap, layer.heatmap)


@pytest.mark.parametrize("layer", ["conv1", "pool1"])
def test_integrated_gradients_at_a_layer_are_complete_there(tiny_cnn, rng_image, layer):
    image = rng_image(16, 16, seed=4)
    e = explain(tiny_cnn, image, "integrated_gradients", target=1, layer=layer, source="layer", steps=64)
    assert e.layer == layer
    assert e.meta["completeness_error"] < 0.02
    # a plain chain: replacing the layer's output by the black picture's is running the black picture
    black = np.zeros_like(image)
    expected = logits_of(tiny_cnn, image)[1] - logits_of(tiny_cnn, black)[1]
    np.testing.assert_allclose(e.meta["score_difference"], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(e.heatmap.sum() * 0, 0)  # finite


def test_integrated_gradients_at_a_skipped_layer_are_complete_at_that_layer(residual_model, rng_image):
    image = rng_image(seed=5)
    e = explain(residual_model, image, "integrated_gradients", target=0, layer="b", source="layer", steps=64)
    assert e.meta["completeness_error"] < 0.02
    # the shortcut keeps the picture's own values: f(x; a′) is not the black picture's score
    black_difference = logits_of(residual_model, image)[0] - logits_of(residual_model, np.zeros_like(image))[0]
    assert not np.isclose(e.meta["score_difference"], black_difference, rtol=1e-3)


def test_the_rest_of_the_network_gives_the_models_own_logits(residual_model, rng_image):
    from explainers._tf import keras
    from explainers.layer_attribution import rest_of_network

    image = rng_image(seed=6)
    net = residual_model.keras
    x = residual_model.preprocess(residual_model.prepare(image)[None].astype(np.float32)).astype(np.float32)
    own = keras.Model(net.inputs, net.get_layer("b").output)([x]).numpy()
    logits, gradients = rest_of_network(residual_model, "b")(x, own, np.array([0], np.int32))
    np.testing.assert_allclose(logits.numpy()[0], logits_of(residual_model, image), rtol=1e-5, atol=1e-5)
    assert gradients.shape == own.shape
    changed, _ = rest_of_network(residual_model, "b")(x, own * 0, np.array([0], np.int32))
    assert not np.allclose(changed.numpy(), logits.numpy())


def test_smoothgrad_at_a_layer_without_noise_is_its_base_at_the_layer(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=7)
    smooth = explain(
        tiny_cnn,
        image,
        "smoothgrad",
        target=3,
        layer="pool1",
        source="layer",
        noise=0.0,
        n_samples=2,
        base="gradient_x_input",
    )
    single = explain(tiny_cnn, image, "gradient_x_input", target=3, layer="pool1", source="layer")
    np.testing.assert_allclose(smooth.heatmap, single.heatmap, rtol=1e-4, atol=1e-6)
    assert smooth.layer == "pool1"


def test_expected_gradients_at_a_layer_run_and_name_the_layer(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=8)
    e = explain(tiny_cnn, image, "expected_gradients", target=0, layer="pool1", source="layer", n_samples=8)
    assert e.heatmap.shape == (16, 16) and np.isfinite(e.heatmap).all()
    assert e.layer == "pool1" and e.meta["source_layer"] == "pool1"


def test_a_wrong_source_is_refused_in_words(tiny_cnn, rng_image):
    from explainers.errors import ParameterError

    with pytest.raises(ParameterError, match="pixels, layer"):
        explain(tiny_cnn, rng_image(16, 16), "integrated_gradients", source="neurons")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "layer"),
    [
        ("vgg16", "block2_pool"),  # the seed's example: the input of layers[7] (block3_conv1)
        ("resnet50", "conv3_block2_2_conv"),  # inside a block: the block's shortcut skips it
        ("inception_v3", "mixed2"),  # a concatenation read by the next block's four branches
    ],
)
def test_the_rest_of_the_network_on_registry_models(registry_models, rng_image, name, layer):
    from explainers._tf import keras
    from explainers.layer_attribution import rest_of_network

    model = registry_models(name)
    image = rng_image(64, 64, seed=9)
    net = model.keras
    x = model.preprocess(model.prepare(image)[None].astype(np.float32)).astype(np.float32)
    own = keras.Model(net.inputs, net.get_layer(layer).output)([x]).numpy()
    logits, _ = rest_of_network(model, layer)(x, own, np.array([0], np.int32))
    np.testing.assert_allclose(logits.numpy()[0], logits_of(model, image), rtol=1e-3, atol=1e-3)


def test_the_rest_of_the_network_on_shapes(rng_image):
    from explainers._tf import keras
    from explainers.layer_attribution import rest_of_network
    from explainers.models import load_model

    model = load_model("shapes")
    image = rng_image(64, 64, seed=10)
    net, layer = model.keras, model.default_layer
    x = model.preprocess(model.prepare(image)[None].astype(np.float32)).astype(np.float32)
    own = keras.Model(net.inputs, net.get_layer(layer).output)([x]).numpy()
    logits, _ = rest_of_network(model, layer)(x, own, np.array([0], np.int32))
    np.testing.assert_allclose(logits.numpy()[0], logits_of(model, image), rtol=1e-4, atol=1e-4)


def test_the_report_prints_the_layer_views_card(tiny_cnn, rng_image):
    from explainers.report import render_report
    from explainers.view_cards import VIEW_CARDS

    image = rng_image(16, 16, seed=12)
    e = explain(tiny_cnn, image, "gradient_x_input", layer="conv2", source="layer")
    page = render_report(image, [e], model=tiny_cnn)
    assert VIEW_CARDS["layer"].card.computes.replace("'", "&#39;") in page and "conv2" in page


def test_the_seed_example_is_one_click_away():
    from components import card_views
    from explainers.layer_attribution import SEED_EXAMPLE

    button = {"type": "card-seed-example", "card": "a-expected_gradients"}
    assert card_views.seed_example(1, button, {"model": "vgg16"}) == (
        "top_k",
        "layer",
        SEED_EXAMPLE["layer"],
        card_views.SEED_LABEL,
    )
    assert SEED_EXAMPLE == {
        "model": "vgg16",
        "method": "expected_gradients",
        "layer": "block2_pool",
        "settings": {"source": "layer"},
        "top_k": 3,
    }


@pytest.mark.slow
def test_the_seed_example_on_vgg16_is_expected_gradients_from_the_input_of_layer_7(registry_models, rng_image):
    from explainers.top_k import explain_top_k

    model = registry_models("vgg16")
    seventh = model.keras.layers[7]
    assert seventh.name == "block3_conv1" and seventh.input is model.keras.get_layer("block2_pool").output
    row = explain_top_k(
        model, rng_image(64, 64, seed=13), "expected_gradients", k=3, layer="block2_pool", source="layer", n_samples=2
    )
    assert [e.layer for e in row] == ["block2_pool"] * 3 and all(e.heatmap.shape == (224, 224) for e in row)


def test_a_model_is_freed_with_its_layer_and_top_k_functions(rng_image):
    import gc
    import weakref

    from explainers import explain_top_k
    from explainers._tf import keras
    from explainers.labels import Labels
    from explainers.models import ExplainableModel

    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(2, 3, padding="same", name="features")(inputs)
    logits = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(features))
    model = ExplainableModel(
        keras.Model(inputs, logits), "freed", labels=Labels.from_names(["a", "b", "c"]), preprocess=lambda x: x / 255.0
    )
    image = rng_image(seed=14)
    explain(model, image, "integrated_gradients", layer="features", source="layer", steps=2)
    explain_top_k(model, image, "vanilla_gradient", k=2)
    alive = weakref.ref(model.keras)  # what holds the memory: the weights
    del model
    gc.collect()
    assert alive() is None


def test_integrated_gradients_at_a_layer_of_a_sequential_model(rng_image):
    from explainers._tf import keras
    from explainers.labels import Labels
    from explainers.models import ExplainableModel

    keras.utils.set_random_seed(8)
    net = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="first"),
            keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="second"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    model = ExplainableModel(net, "sequential", labels=Labels.from_names(["a", "b"]), preprocess=lambda x: x / 255.0)
    e = explain(model, rng_image(seed=15), "integrated_gradients", target=1, layer="first", source="layer", steps=64)
    assert e.meta["completeness_error"] < 0.02


def test_a_layer_also_called_in_another_graph_can_still_be_replaced():
    """Building another model on a network's layers (a probe, a wrapper) calls them again; that must not
    make a layer look shared inside the network. A layer called twice in the network itself is refused."""
    from explainers._tf import keras
    from explainers.errors import NotApplicableError
    from tests.conftest import _tiny_model

    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")
    pool = keras.layers.MaxPooling2D(name="pool")
    head = keras.layers.Dense(2, name="head")
    net = keras.Model(inputs, head(keras.layers.Flatten()(pool(conv(inputs)))))
    pool(conv(keras.Input((8, 8, 3))))  # the same layers in a second graph
    model = _tiny_model(net, "called_elsewhere", 2)
    image = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    e = explain(model, image, "integrated_gradients", target=1, layer="pool", source="layer", steps=16)
    assert np.isfinite(e.heatmap).all()

    twice_in = keras.Input((8, 8, 3))
    same = keras.layers.Conv2D(3, 1, name="same")
    shared = keras.Model(twice_in, keras.layers.Dense(2)(keras.layers.Flatten()(same(same(twice_in)))))
    with pytest.raises(NotApplicableError, match="used more than once"):
        explain(_tiny_model(shared, "shared", 2), image, "integrated_gradients", layer="same", source="layer", steps=4)


def test_the_seed_example_on_another_model_names_what_it_needs():
    from components.card_views import seed_example

    button = {"type": "card-seed-example", "card": "a-expected_gradients"}
    on_shapes = seed_example(1, button, {"model": "shapes"})
    assert on_shapes[3] == "The seed's example is on VGG16: pick VGG16 as the model first."
    compared = {"type": "card-seed-example", "card": "b-expected_gradients"}
    assert seed_example(1, compared, {"model": "shapes", "compare": "vgg16"})[:3] == ("top_k", "layer", "block2_pool")
