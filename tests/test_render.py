"""explainers.render's legends for downloaded pictures: a title in words above, the colour bar with its ends
in words below (pure numpy and Pillow)."""

from __future__ import annotations

import numpy as np

from explainers import render


def test_the_legend_adds_a_title_band_above_and_a_colour_bar_below():
    picture = np.full((300, 400, 3), 128, np.uint8)
    framed = render.with_legend(picture, "Grad-CAM — VGG16 — tabby cat", "viridis")
    assert framed.shape[1] == 400 and framed.shape[0] > 300 + 40
    title = render.title_band(picture, "Grad-CAM")[:-300]
    start = title.shape[0]
    np.testing.assert_array_equal(framed[start : start + 300], picture)  # the picture itself is untouched
    assert (title < 100).any() and (title == 255).mean() > 0.8  # dark words on white
    bar = framed[start + 300 :]
    row = bar[np.argmax(bar.std(axis=(1, 2)) > 30)]  # the colour bar's first row: it ramps from left to right
    viridis = render.colourise(np.array([[0.0, 1.0]]), "viridis").reshape(-1, 3).astype(int)
    coloured = row[(row != 255).any(axis=1)].astype(int)
    assert np.abs(coloured[0] - viridis[0]).max() < 40 and np.abs(coloured[-1] - viridis[1]).max() < 40


def test_a_signed_map_gets_the_diverging_bar_and_a_narrow_picture_is_enlarged_for_readable_words():
    picture = np.zeros((128, 128, 3), np.uint8)
    framed = render.with_legend(picture, "Integrated gradients — Shapes — star", signed=True)
    assert framed.shape[1] >= render.LEGEND_MIN_WIDTH
    bar = render.colour_bar(400, signed=True)
    middle = bar[bar.shape[0] // 4, 200].astype(int)
    assert np.abs(middle - [221, 221, 221]).max() < 20  # neutral grey in the middle: zero evidence


def test_a_long_title_is_cut_to_fit_not_drawn_past_the_edge():
    picture = np.full((100, 200, 3), 255, np.uint8)
    band = render.title_band(picture, "Guided Grad-CAM — InceptionV3 — " + "very long class name " * 5)[:-100]
    assert (band[:, -6:] == 255).all()  # nothing drawn into the right margin
