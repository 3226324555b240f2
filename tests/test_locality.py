"""Covered copies of a picture run the network's first layers on a crop around the cover only
(explainers/locality.py): the geometry is the one counted on paper, and the logits and occlusion maps
equal those of full passes."""

import numpy as np
import pytest

from conftest import _tiny_model
from explainers import explain, locality
from explainers.api import _passes
from explainers.engine import engine_for
from explainers.methods.occlusion import positions
from explainers.passes import PassKey


@pytest.fixture(scope="module")
def window_net():
    """20 × 20 input -> conv 3 "same" -> average pool 2 -> conv 3 stride 2 "valid" -> zero padding 1
    -> conv 3 "same" -> dense. Positive weights and no ReLU: every input in a cell's window counts."""
    from explainers._tf import keras

    keras.utils.set_random_seed(11)
    inputs = keras.Input((20, 20, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inputs)
    x = keras.layers.AveragePooling2D(2, name="p1")(x)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="valid", name="c2")(x)
    x = keras.layers.ZeroPadding2D(1, name="pad")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="c3")(x)
    x = keras.layers.Flatten(name="flat")(x)
    logits = keras.layers.Dense(3, name="logits")(x)
    net = keras.Model(inputs, logits)
    for layer in net.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([np.abs(w) + 0.01 for w in weights])
    return net


def test_the_chain_geometry_is_the_one_counted_on_paper(window_net):
    names = [layer.name for layer in locality.chain(window_net)]
    assert names[1:] == ["c1", "p1", "c2", "pad", "c3"]  # Flatten is not a window layer: the chain stops
    axis = locality.Axis()
    for stride, pad, kernel in [(1, 1, 3), (2, 0, 2), (2, 0, 3), (1, 1, 1), (1, 1, 3)]:
        axis = axis.then(stride, pad, kernel)
    # on paper: c1 reads j-1..j+1; p1 2j..2j+1; c2 2j..2j+2; pad j-1; c3 j-1..j+1, so cell j of c3
    # reads inputs 4j-9 .. 4j+6
    assert axis == locality.Axis(stride=4, pad=9, field=16)


def test_a_pixel_changes_only_the_cells_whose_window_holds_it(window_net):
    """Perturb one input row at a time: the c3 rows that move are inside the rows the geometry names
    (row 19 moves none: only c1's row 18 reads it, which feeds the last pooled row, 9, and the stride-2
    "valid" convolution reads pooled rows 0 to 8 only)."""
    from explainers._tf import keras

    head = keras.Model(window_net.inputs, window_net.get_layer("c3").output)
    axis = locality.Axis(stride=4, pad=9, field=16)
    picture = np.random.default_rng(0).uniform(0, 1, (1, 20, 20, 3)).astype(np.float32)
    before = head([picture]).numpy()[0]
    some_moved_at_the_edge = False
    for row in range(20):
        changed = picture.copy()
        changed[0, row] += 1.0
        moved = np.nonzero(np.abs(head([changed]).numpy()[0] - before).max(axis=(1, 2)) > 1e-6)[0]
        assert (moved.size > 0) == (row < 19), (row, moved)
        if moved.size:
            first, last = axis.changed(row, 1, before.shape[0])
            assert first <= moved.min() and moved.max() <= last, (row, moved, first, last)
            some_moved_at_the_edge |= moved.min() == first or moved.max() == last
    assert some_moved_at_the_edge  # the window is not a loose overestimate


@pytest.mark.parametrize("size,stride", [(5, 3), (4, 4), (7, 6)])
def test_covered_logits_equal_full_passes_on_a_hand_built_chain(window_net, size, stride):
    model = _tiny_model(window_net, "window", 3)
    picture = np.random.default_rng(1).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    passes = _passes(model, picture, 0)
    starts = positions(20, size, stride)
    boxes = [(top, left) for top in starts for left in starts]
    covered = np.repeat(picture[None].astype(np.float32), len(boxes), axis=0)
    for i, (top, left) in enumerate(boxes):
        covered[i, top : top + size, left : left + size] = np.random.default_rng(i).uniform(0, 255, (size, size, 3))
    assert engine_for(model).local_plan((size, size), starts, starts) is not None
    base = passes.preprocess(picture[None])[0]
    inputs = passes.preprocess(covered)
    local = passes.covered_logits(base, inputs, boxes, (size, size), 0)
    full = passes.batch(PassKey(), inputs, 0, field="logits")
    np.testing.assert_allclose(local, full, rtol=1e-5, atol=1e-5 * np.abs(full).max())
    # a crop pasted at the wrong place would show: claim every box sits one stride to the right
    wrong = [(top, min(left + stride, 20 - size)) for top, left in boxes]
    assert np.abs(passes.covered_logits(base, inputs, wrong, (size, size), 0) - full).max() > 1e-3


def test_a_network_that_starts_with_a_residual_block_has_no_chain_to_reuse(tiny_cnn):
    from explainers._tf import keras

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.Add()([x, keras.layers.Conv2D(4, 1)(inputs)])  # inputs feeds two layers
    net = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    assert len(locality.chain(net)) == 1  # only the input layer
    assert locality.plan(net, (4, 4), [0, 4, 8, 12], [0, 4, 8, 12]) is None


@pytest.mark.parametrize("name,patch", [("vgg16", 56), ("inception_v3", 60)])
def test_occlusion_on_crops_equals_occlusion_on_full_passes(registry_models, name, patch):
    """Seeded random weights: the map with the first layers on crops equals the map from full passes,
    and the crops really ran (a fallback to full passes would pass the comparison unnoticed)."""
    model = registry_models(name)
    picture = np.random.default_rng(2).integers(0, 256, (model.input_size, model.input_size, 3), dtype=np.uint8)
    engine = engine_for(model)
    tails = []
    original = engine.local_tail
    engine.local_tail = lambda plan, activations: tails.append(len(activations)) or original(plan, activations)
    try:
        local = explain(model, picture, "occlusion", target=7, patch=patch, stride=patch)
    finally:
        del engine.local_tail
    engine.reuse_layers = False
    try:
        full = explain(model, picture, "occlusion", target=7, patch=patch, stride=patch)
    finally:
        engine.reuse_layers = True
    assert sum(tails) == local.meta["patches"] == full.meta["patches"]
    scale = np.abs(full.heatmap).max()
    assert scale > 0
    np.testing.assert_allclose(local.heatmap, full.heatmap, atol=1e-4 * scale)


def test_resnet50s_short_stem_is_not_worth_cropping(registry_models):
    """Its chain ends after conv1 and the first pooling (the rest are residual blocks): under a tenth of
    the work, so the full passes stay."""
    model = registry_models("resnet50")
    starts = positions(224, 32, 32)
    assert [layer.name for layer in locality.chain(model.keras)][-1] == "pool1_pool"
    assert engine_for(model).local_plan((32, 32), starts, starts) is None
