"""Top-k classes: one Jacobian pass gives each of the top k classes the map that a separate
``explain(..., target=class)`` gives, for Grad-CAM, vanilla gradient and gradient × input; other methods
run once per class; k is checked."""

import numpy as np
import pytest

from explainers import explain, explain_top_k
from explainers.api import logits_of
from explainers.errors import ParameterError


@pytest.mark.parametrize("method", ["grad_cam", "vanilla_gradient", "gradient_x_input", "layer_cam"])
def test_top_k_maps_equal_separate_calls(tiny_cnn, rng_image, method):
    image = rng_image(16, 16, seed=11)
    row = explain_top_k(tiny_cnn, image, method, k=3, layer="conv2")
    order = np.argsort(-logits_of(tiny_cnn, image), kind="stable")[:3]
    assert [e.target for e in row] == order.tolist()
    assert [e.meta["rank"] for e in row] == [1, 2, 3]
    for e in row:
        alone = explain(tiny_cnn, image, method, target=e.target, layer="conv2")
        np.testing.assert_allclose(e.heatmap, alone.heatmap, rtol=1e-4, atol=1e-6)
        if alone.attributions is not None:
            np.testing.assert_allclose(e.attributions, alone.attributions, rtol=1e-4, atol=1e-7)
        assert e.label == alone.label and e.predictions == alone.predictions


def test_one_forward_pass_serves_every_class(tiny_cnn, rng_image):
    from explainers.methods import get_method
    from explainers.top_k import top_k_passes

    image = rng_image(16, 16, seed=12)
    found = top_k_passes(tiny_cnn, image, get_method("grad_cam")(), "conv2", 4)
    assert len(found) == 4
    for passes in found:
        get_method("grad_cam")().compute(passes, "conv2")
        assert len(passes.passes_run) == 1  # the Jacobian pass's share, nothing run after it


def test_a_multi_pass_method_runs_once_per_class(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=13)
    row = explain_top_k(tiny_cnn, image, "smoothgrad", k=2, n_samples=2)
    alone = explain(tiny_cnn, image, "smoothgrad", target=row[1].target, n_samples=2)
    np.testing.assert_allclose(row[1].heatmap, alone.heatmap, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("k", [0, 11, "three", 2.5])
def test_k_is_checked_in_words(tiny_cnn, rng_image, k):
    with pytest.raises(ParameterError, match="top classes"):
        explain_top_k(tiny_cnn, rng_image(16, 16), "grad_cam", k=k)


def test_the_cli_writes_one_overlay_per_class(tmp_path, capsys):
    from PIL import Image

    from explainers.__main__ import main

    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "row.png"
    assert main(["explain", str(photo), "--model", "shapes", "--top-k", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("grad_cam on Shapes") == 3
    assert all(Image.open(tmp_path / f"row-{rank}.png").size == (80, 60) for rank in (1, 2, 3))


def test_the_service_caches_each_class_of_the_row_as_its_own_map(tmp_path):
    from helpers import png_bytes
    from service import ExplainerService

    svc = ExplainerService(tmp_path)
    key = svc.add_image(png_bytes(64, 64, seed=1))
    job = svc.request_map(key, "shapes", "grad_cam", top_k=3)
    assert job.wait(120)
    first = job.outcome()
    row = first.meta["top_k_row"]
    assert len(row) == 3 and first.target == row[0][0]
    for target, label in row[1:]:
        again = svc.request_map(key, "shapes", "grad_cam", target=target)
        assert again.done and again.outcome().cached and again.outcome().label == label
        assert "top_k" not in again.outcome().meta  # kept as its class's plain map: no row's card on it
    with pytest.raises(ParameterError, match="between 1 and 10"):
        svc.request_map(key, "shapes", "grad_cam", top_k=12)


def test_the_report_shows_each_card_as_it_is_a_top_classes_card_with_its_row(tmp_path):
    import json
    from urllib.parse import quote

    from app import create_app
    from components.common import SERVICE_KEY
    from helpers import png_bytes

    app = create_app({"weights": "random", "model": "shapes", "data_dir": str(tmp_path / "data")})
    svc = app.server.extensions[SERVICE_KEY]
    key = svc.add_image(png_bytes(64, 64, seed=8))
    client = app.server.test_client()
    views = {"grad_cam": {"view": "top_k", "source": "pixels"}, "vanilla_gradient": {"view": "one"}}
    query = f"image={key}&model=shapes&methods=grad_cam,vanilla_gradient&target=0&contrast=1"
    answer = client.get(f"/download/report.html?{query}&views={quote(json.dumps(views))}")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200, page
    row = svc.explain(key, "shapes", "grad_cam", top_k=3).meta["top_k_row"]
    assert all(f"rank {rank}" in page for rank in (1, 2, 3)) and all(label in page for _, label in row)
    assert "why circle and not square" not in page  # the contrast belongs to the cards that show it
    plain = client.get(f"/download/report.html?{query}").get_data(as_text=True)  # no views known: as before
    assert "rank 2" not in plain and "why circle and not square" in plain
    bad = client.get(f"/download/report.html?{query}&views=%5B1%5D")
    assert bad.status_code == 400 and "expected a JSON object" in bad.get_data(as_text=True)
