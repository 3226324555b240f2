"""The download routes' pictures, decoded as a person's image viewer would: the card's PNG carries its
legend (a title in words, the colour bar with its ends in words), and the all-maps PNG titles each map once,
in words, with each compared model explaining its own class."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHAPES = Path(__file__).resolve().parent.parent / "assets" / "examples" / "shapes"


@pytest.fixture
def shapes_star(tmp_path):
    """An app on the Shapes demo, and the key of its star picture (128 × 128)."""
    from app import create_app
    from components.common import SERVICE_KEY

    app = create_app({"weights": "random", "model": "shapes", "data_dir": str(tmp_path / "data")})
    star = next(p for p in sorted(SHAPES.glob("*star*.png")) if not p.stem.endswith(".mask"))
    key = app.server.extensions[SERVICE_KEY].add_image(star.read_bytes())
    return app.server.test_client(), key


def test_the_card_png_has_a_title_in_words_and_its_colour_bar(shapes_star):
    client, key = shapes_star
    answer = client.get(f"/download/card.png?image={key}&model=shapes&method=grad_cam&target=3")
    assert answer.status_code == 200
    picture = Image.open(io.BytesIO(answer.data))
    assert picture.text["Title"] == "Grad-CAM — Shapes (offline demo) — star"
    width, height = picture.size
    assert width >= 360 and height > width + 40  # a square picture, enlarged, with a band above and one below
    pixels = np.asarray(picture.convert("RGB")).astype(int)
    below = pixels[width + (height - width) // 3 :]  # under the picture: the colour bar ramps dark to bright
    row = below[np.argmax(below.std(axis=(1, 2)))]
    coloured = row[(row != 255).any(axis=1)]
    assert coloured[:5].sum() < coloured[-5:].sum() and len(coloured) > width * 0.8
    assert json.loads(picture.text["saliency"])["target"] == 3


@pytest.mark.slow
def test_the_all_maps_png_titles_each_map_once_in_words_and_pairs_the_models(shapes_star):
    client, key = shapes_star
    answer = client.get(
        f"/download/grid.png?image={key}&model=shapes&compare=vgg16&weights=random"
        "&methods=grad_cam,vanilla_gradient&target=3"
    )
    assert answer.status_code == 200
    picture = Image.open(io.BytesIO(answer.data))
    titles = picture.text["Title"].split("; ")
    assert titles[0] == "Grad-CAM — Shapes (offline demo) — star" and titles[2].startswith("Vanilla gradient — Shapes")
    assert titles[1].startswith("Grad-CAM — VGG16 — ") and "tiger shark" not in titles[1]  # its own top class
    described = json.loads(picture.text["saliency"])
    assert [d["model"] for d in described] == ["shapes", "vgg16", "shapes", "vgg16"]  # model A beside model B
    assert described[0]["target"] == 3 and described[1]["target"] != 3
    assert picture.size[0] == 2 * 360 + 16


def test_a_top_classes_card_downloads_its_whole_row(shapes_star):
    client, key = shapes_star
    answer = client.get(f"/download/card.png?image={key}&model=shapes&method=grad_cam&top_k=3")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    picture = Image.open(io.BytesIO(answer.data))
    row = json.loads(picture.text["saliency"])["top_k"]
    assert len(row) == 3 and picture.text["Title"].endswith(", ".join(label for _, label in row))
    assert picture.size[0] >= 3 * 360 > picture.size[1]  # three titled maps side by side
    single = Image.open(io.BytesIO(client.get(f"/download/card.png?image={key}&model=shapes&method=grad_cam").data))
    assert single.size[0] < 2 * 360 and "top_k" not in json.loads(single.text["saliency"])
    bad = client.get(f"/download/card.png?image={key}&model=shapes&method=grad_cam&top_k=11")
    assert bad.status_code == 400 and "between 1 and 10" in bad.get_data(as_text=True)


def test_a_top_classes_card_links_to_its_row():
    from urllib.parse import parse_qs, urlparse

    from components.method_cards import _download_href
    from components.page_state import Page
    from service.results import MapResult

    page = Page.from_store({"model": "shapes", "image": {"key": "k"}})
    result = MapResult("grad_cam", "shapes", np.zeros((4, 4), np.float32), 3, "star", "conv5", 0.1, False, {})
    plain = parse_qs(urlparse(_download_href(page, "a", "grad_cam", result, 99, 0.5)).query)
    result.meta["top_k_row"] = [[3, "star"], [1, "square"]]
    row = parse_qs(urlparse(_download_href(page, "a", "grad_cam", result, 99, 0.5)).query)
    assert "top_k" not in plain and row["top_k"] == ["2"]
