"""The three ImageNet architectures with seeded random weights: every method, default and early layer."""

import numpy as np
import pytest

from explainers import METHODS, NotApplicableError, UnknownNameError, explain, explain_all
from explainers.models import IMAGENET_MODELS, MODELS

pytestmark = pytest.mark.slow

EARLY = {"vgg16": "block3_conv3", "resnet50": "conv3_block4_out", "inception_v3": "mixed2"}
DEFAULT = {"vgg16": "block5_conv3", "resnet50": "conv5_block3_out", "inception_v3": "mixed10"}
SIZE = {"vgg16": 224, "resnet50": 224, "inception_v3": 299}


@pytest.mark.parametrize("name", IMAGENET_MODELS)
def test_model_facts(name, registry_models):
    model = registry_models(name)
    assert model.input_size == SIZE[name] and model.default_layer == DEFAULT[name]
    assert model.random_weights and len(model.labels) == 1000
    names = [info.name for info in model.layers]
    assert DEFAULT[name] in names and EARLY[name] in names and "input_layer" not in names
    assert all(info.height >= 1 for info in model.layers)
    assert model.keras.layers[-1].activation.__name__ == "linear"  # logits, no softmax
    sizes = [info.height for info in model.layers]
    assert sizes[0] >= sizes[-1]  # spatial size shrinks along the network


@pytest.mark.parametrize("name", IMAGENET_MODELS)
def test_every_method_on_default_and_early_layer(name, registry_models, rng_image):
    model = registry_models(name)
    image = rng_image(180, 260, seed=1)
    # every method, multi-pass ones with their quick settings; Score-CAM over all 512 channels takes
    # minutes on a CPU, so here its fast variant (the same code on fewer channels) stands in for it
    applicable = [m for m in METHODS if not (m == "cam" and name == "vgg16") and m != "score_cam"]
    for layer in (DEFAULT[name], EARLY[name]):
        maps = explain_all(
            model, image, applicable, layer=layer, target=281, params={m: METHODS[m].quick for m in applicable}
        )
        for method, e in maps.items():
            assert e.heatmap.shape == (SIZE[name], SIZE[name]), (method, layer)
            assert np.isfinite(e.heatmap).all(), (method, layer)
            assert np.abs(e.heatmap).max() > 0 or e.meta.get("notes"), (method, layer)  # empty only if said
            assert e.target == 281
            if METHODS[method].uses_layer and method != "cam":
                assert e.layer == layer


def test_cam_on_vgg16_answers_plainly(registry_models, rng_image):
    with pytest.raises(NotApplicableError, match="CAM does not apply to VGG16.*Grad-CAM"):
        explain(registry_models("vgg16"), rng_image(64, 64), "cam")


@pytest.mark.parametrize("name", ["resnet50", "inception_v3"])
def test_cam_uses_the_layer_before_global_pooling(name, registry_models, rng_image):
    e = explain(registry_models(name), rng_image(64, 64), "cam", layer=EARLY[name])
    assert e.layer == DEFAULT[name]


@pytest.mark.parametrize("name", IMAGENET_MODELS)
def test_grad_cam_differs_between_targets(name, registry_models, rng_image):
    model = registry_models(name)
    image = rng_image(224, 224, seed=2)
    first = explain(model, image, "grad_cam", target=1, relu=False).heatmap
    second = explain(model, image, "grad_cam", target=954, relu=False).heatmap
    assert np.corrcoef(first.ravel(), second.ravel())[0, 1] < 0.99


def test_unknown_layer_is_refused_with_suggestions(registry_models, rng_image):
    with pytest.raises(UnknownNameError, match="no layer called 'block5'.*block5_conv3"):
        explain(registry_models("vgg16"), rng_image(64, 64), "grad_cam", layer="block5")


def test_target_by_name(registry_models, rng_image):
    assert explain(registry_models("vgg16"), rng_image(64, 64), "grad_cam", target="tabby").target == 281


@pytest.mark.parametrize("name", list(MODELS))
def test_shipped_layer_lists_match_the_built_models(name, registry_models):
    from explainers.models import static_layers

    assert static_layers(name) == registry_models(name).layers
