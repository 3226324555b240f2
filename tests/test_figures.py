"""The pure figure builders: arrays in, Plotly figures out."""

import numpy as np
import pytest

from components.figures import message_figure, overlay_figure, predictions_figure


def test_overlay_figure_layers_the_map_over_the_picture():
    levels = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    figure = overlay_figure("/image/abc/display.jpg", levels, opacity=0.3, colormap="inferno")
    heatmap = figure.data[0]
    assert heatmap.type == "heatmap" and heatmap.opacity == 0.3
    np.testing.assert_array_equal(np.asarray(heatmap.z), levels)
    assert (heatmap.zmin, heatmap.zmax) == (0, 255)
    assert heatmap.colorscale[0][1].lower() in {"#000004", "rgb(0,0,4)"}  # inferno starts black
    image = figure.layout.images[0]
    assert image.source == "/image/abc/display.jpg" and (image.sizex, image.sizey) == (4, 3)
    assert image.layer == "below"
    words = [a.text for a in figure.layout.annotations]
    assert words == ["← less important", "more important →"]
    assert figure.layout.yaxis.scaleanchor == "x"  # pixels stay square


def test_signed_overlay_uses_a_diverging_scale_with_words_for_both_ends():
    figure = overlay_figure("/x.jpg", np.zeros((2, 2), np.uint8), signed=True)
    assert [a.text for a in figure.layout.annotations] == ["← against the class", "for the class →"]
    colours = [c for _, c in figure.data[0].colorscale]
    assert colours[0] != colours[-1] and len(colours) >= 3


def test_overlay_height_follows_the_picture_shape():
    wide = overlay_figure("/x.jpg", np.zeros((100, 300), np.uint8)).layout.height
    tall = overlay_figure("/x.jpg", np.zeros((300, 200), np.uint8)).layout.height
    assert wide < tall


def test_predictions_figure_most_probable_on_top_and_target_highlighted():
    predictions = [(281, "tabby cat", 0.6), (282, "tiger cat", 0.2), (285, "Egyptian cat", 0.1)]
    figure = predictions_figure(predictions, target=282)
    bars = figure.data[0]
    assert list(bars.y) == ["Egyptian cat (285)", "tiger cat (282)", "tabby cat (281)"]  # top at the top
    assert list(bars.customdata) == [285, 282, 281]
    assert bars.marker.color[1] != bars.marker.color[0] == bars.marker.color[2]
    np.testing.assert_allclose(bars.x, [10, 20, 60])
    assert figure.layout.xaxis.range[1] >= 60 * 1.2


@pytest.mark.parametrize("top", [0.44084394, 0.6, 0.999, 0.05, 0.3331])
def test_the_clickable_class_rows_end_inside_the_axis(top):
    """Plotly hides the text of a bar that ends past the axis, even by a rounding error: the class names
    went missing for a model whose top probability was 44.1 %."""
    figure = predictions_figure([(0, "bird", top), (1, "cat", (1 - top) / 2), (2, "dog", (1 - top) / 2)])
    row = figure.data[1]
    low, high = figure.layout.xaxis.range
    assert row.base == low and all(row.base + x < high for x in row.x)


def test_message_figure_says_its_message():
    assert message_figure("Waiting").layout.annotations[0].text == "Waiting"


def test_a_long_message_is_broken_into_lines_that_fit_a_narrow_chart():
    message = "Predictions: VGG16's ImageNet weights are missing. The Model panel says how to fix it."
    text = message_figure(message).layout.annotations[0].text
    lines = text.split("<br>")
    assert len(lines) > 1 and all(len(line) <= 38 for line in lines)
    assert " ".join(lines) == message  # nothing lost, only line breaks added
