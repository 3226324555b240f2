"""Checks that need the real ImageNet weights: run where they are on disk, skipped (saying why) elsewhere."""

from pathlib import Path

import numpy as np
import pytest

from explainers import explain, predict
from explainers import weights as weights_mod
from explainers.images import decode

pytestmark = [pytest.mark.real_weights, pytest.mark.slow]
CHELSEA = Path(__file__).resolve().parent.parent / "assets" / "examples" / "chelsea.jpg"


def _imagenet(name):
    if weights_mod.find_local(name) is None:
        pytest.skip(
            f"{name}'s ImageNet weights are not on this machine (no internet here); "
            f"run 'python -m explainers fetch-weights --model {name}' where there is internet"
        )
    from explainers import load_model

    return load_model(name, weights="imagenet")


@pytest.mark.parametrize("name", ["vgg16", "resnet50", "inception_v3"])
def test_tabby_cat_is_in_the_top5(name):
    model = _imagenet(name)
    top5 = [index for index, _, _ in predict(model, decode(CHELSEA.read_bytes()), top=5)]
    assert 281 in top5 or 282 in top5 or 285 in top5  # tabby, tiger cat, Egyptian cat
    assert 281 in top5 if name == "vgg16" else True


def test_grad_cam_of_the_cat_is_on_the_cat():
    model = _imagenet("vgg16")
    image = decode(CHELSEA.read_bytes())
    heatmap = explain(model, image, "grad_cam", target=281).heatmap
    # Chelsea fills the middle of the photo; the map's mass there beats the outer border strip
    inner = heatmap[40:184, 40:184].mean()
    outer = np.concatenate([heatmap[:20].ravel(), heatmap[-20:].ravel()]).mean()
    assert inner > outer
