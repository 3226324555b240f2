"""The layer sweep (explainers.layer_sweep): every block's map from one recording pass equals the method
at that layer computed on its own; which layers are the blocks of each model."""

import dash
import numpy as np
import pytest

import explainers
from explainers import explain
from explainers.errors import ParameterError
from explainers.layer_sweep import NAMED_BLOCKS, sweep_layers

INCEPTION_BLOCKS = [f"mixed{i}" for i in range(11)]


def test_every_map_of_the_sweep_equals_grad_cam_at_that_layer(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=3)
    found = explainers.sweep(tiny_cnn, image, target=2)
    assert found.layers == ["conv1", "conv2"]  # conv1 is the last layer at 16×16; conv2 the last layer
    assert found.heatmaps.shape == (2, 16, 16) and found.resolutions == [(16, 16), (8, 8)]
    assert found.target == 2
    for layer, heatmap in zip(found.layers, found.heatmaps, strict=True):
        alone = explain(tiny_cnn, image, "grad_cam", target=2, layer=layer).heatmap
        np.testing.assert_allclose(heatmap, alone, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", ["grad_cam_plus_plus", "layer_cam"])
def test_other_cam_methods_sweep_too(tiny_cnn, rng_image, method):
    image = rng_image(16, 16, seed=4)
    found = explainers.sweep(tiny_cnn, image, method=method)
    alone = explain(tiny_cnn, image, method, layer="conv2").heatmap
    np.testing.assert_allclose(found.heatmaps[-1], alone, rtol=1e-4, atol=1e-6)
    assert found.method == method


def test_the_top_class_is_explained_by_default(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=5)
    found = explainers.sweep(tiny_cnn, image)
    assert found.target == explainers.predict(tiny_cnn, image, top=1)[0][0]


def test_a_method_without_layer_gradients_is_refused_in_words(tiny_cnn, rng_image):
    with pytest.raises(ParameterError, match="CAM-family"):
        explainers.sweep(tiny_cnn, rng_image(16, 16), method="occlusion")


def test_block_lists_of_the_registry_models_from_their_shipped_layer_lists():
    assert sweep_layers("vgg16") == list(NAMED_BLOCKS["vgg16"])
    assert sweep_layers("resnet50") == ["conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"]
    assert sweep_layers("inception_v3") == INCEPTION_BLOCKS
    assert sweep_layers("shapes") == ["bn1", "bn2", "conv5"]  # 64², 32², 16²: the last layer at each size


def test_shapes_blocks_of_the_built_model_and_its_sweep():
    model = explainers.load_model("shapes")
    assert sweep_layers(model) == ["bn1", "bn2", "conv5"]
    image = np.zeros((128, 128, 3), np.uint8)
    image[32:96, 32:96] = 255
    found = explainers.sweep(model, image)
    np.testing.assert_allclose(found.heatmaps[-1], explain(model, image, "grad_cam", layer="conv5").heatmap, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "blocks"),
    [
        ("vgg16", list(NAMED_BLOCKS["vgg16"])),
        ("resnet50", list(NAMED_BLOCKS["resnet50"])),
        ("inception_v3", INCEPTION_BLOCKS),
    ],
)
def test_block_lists_of_the_built_registry_models(registry_models, name, blocks):
    assert sweep_layers(registry_models(name)) == blocks


def test_the_service_computes_caches_and_carries_a_sweep(tmp_path):
    from helpers import png_bytes
    from service import ExplainerService
    from service.views import request_sweep, wait
    from service.wire import decode, encode

    svc = ExplainerService(tmp_path, weights="random")
    key = svc.add_image(png_bytes())
    found = wait(svc, request_sweep(svc, key, "shapes", target=2))
    assert found["layers"] == ["bn1", "bn2", "conv5"] and found["heatmaps"].shape == (3, 128, 128)
    assert found["target"] == 2 and found["resolutions"] == [[64, 64], [32, 32], [16, 16]]
    assert request_sweep(svc, key, "shapes", target=2).done  # from the cache
    np.testing.assert_array_equal(decode(encode(found))["heatmaps"], found["heatmaps"])
    with pytest.raises(ParameterError, match="CAM-family"):
        request_sweep(svc, key, "shapes", method="lime")


def test_the_command_line_writes_the_strip(tmp_path, capsys):
    from explainers.__main__ import main
    from helpers import png_bytes

    picture = tmp_path / "pic.png"
    picture.write_bytes(png_bytes(128, 128))
    out = tmp_path / "sweep.png"
    assert main(["explain", str(picture), "--model", "shapes", "--sweep", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG" and "layers bn1, bn2, conv5" in capsys.readouterr().out


def test_the_report_holds_the_views_opened_on_the_page(tmp_path):
    from helpers import png_bytes
    from service import ExplainerService
    from service.trust import report_html
    from service.views import request_activations, request_sweep, wait

    svc = ExplainerService(tmp_path, weights="random")
    key = svc.add_image(png_bytes())
    before, _ = report_html(svc, key, "shapes", ["grad_cam"], weights="random")
    assert "Layer sweep:" not in before  # not opened: a report never computes a view
    wait(svc, request_sweep(svc, key, "shapes", weights="random"))
    wait(svc, request_activations(svc, key, "shapes", weights="random"))
    after, _ = report_html(svc, key, "shapes", ["grad_cam"], weights="random")
    assert "Layer sweep: Draws the same map" in after and "Selvaraju et al. 2017" in after
    assert "Activations: Shows what single channels" in after and "Zeiler &amp; Fergus 2014" in after


@pytest.mark.slow
def test_both_views_show_the_second_model_in_compare_mode(tmp_path):
    from app import create_app
    from components.activations_view import show_grids
    from components.common import service
    from components.sweep_view import show_strips
    from helpers import png_bytes, text_of

    app = create_app({"weights": "random", "data_dir": str(tmp_path / "web")})
    with app.server.test_request_context("/"):
        key = service().add_image(png_bytes())
        page = {"image": {"key": key}, "model": "shapes", "compare": "vgg16", "weights": "random", "layer": "conv4"}
        grids, pages, _ = show_grids(page, ["activations"], "contribution", 0)
        strips = show_strips(page, ["sweep"], "grad_cam")
        closed = show_strips(page, ["activations"], "grad_cam")
    words = [text_of(block) for block in grids]
    assert len(words) == 2 and "Shapes" in words[0] and "conv4 (64 channels)" in words[0]
    assert "VGG16" in words[1] and "block5_conv3 (512 channels)" in words[1]  # the second model: its default layer
    assert pages == "page 1 of 32"  # the larger of the two layers' page counts
    strip_words = [text_of(block) for block in strips]
    assert "bn1" in strip_words[0] and "block1_conv2" in strip_words[1] and "block5_conv3" in strip_words[1]
    assert closed is dash.no_update  # a closed panel computes nothing


def test_the_command_line_refuses_what_a_sweep_cannot_use(tmp_path, capsys):
    from explainers.__main__ import main

    argv = ["explain", str(tmp_path / "no-need-to-read.png"), "--model", "shapes", "--sweep"]
    assert main([*argv, "--top-k", "3", "--layer", "conv5"]) == 1
    assert "does not take --top-k, --layer." in capsys.readouterr().err
    assert main([*argv, "--contrast", "0,1"]) == 1
    assert "does not take --contrast." in capsys.readouterr().err
