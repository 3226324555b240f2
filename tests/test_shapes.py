"""The Shapes demo: the picture generator and its ground truth, and the shipped trained model."""

import json
import subprocess
import sys

import numpy as np
import pytest

from explainers import shapes

FRESH_SEED = 99  # never used by scripts/train_shapes.py (checked below against shapes.json)


@pytest.fixture(scope="module")
def sample():
    return shapes.generate(200, seed=5)


@pytest.fixture(scope="module")
def shapes_model():
    """The shipped model, wrapped as the dashboard wraps it."""
    from explainers.labels import Labels
    from explainers.models import ExplainableModel

    net = shapes.build_model()
    net.load_weights(str(shapes.WEIGHTS_PATH))
    return ExplainableModel(
        net,
        "shapes",
        labels=Labels.from_names(list(shapes.CLASSES)),
        preprocess=shapes.preprocess,
        default_layer=shapes.DEFAULT_LAYER,
        title="Shapes",
    )


@pytest.fixture(scope="module")
def fresh():
    return shapes.generate(300, seed=FRESH_SEED)


# ---- the generator -------------------------------------------------------------------------------
def test_importing_and_generating_cost_no_tensorflow():
    code = (
        "import sys; from explainers import shapes; shapes.generate(3, 0); shapes.gallery(2); "
        "sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=shapes.DATA_DIR.parent.parent).returncode == 0


def test_types_and_shapes(sample):
    assert sample.images.shape == (200, 128, 128, 3) and sample.images.dtype == np.uint8
    assert sample.labels.shape == (200,) and sample.labels.dtype == np.int64
    assert sample.masks.shape == (200, 128, 128) and sample.masks.dtype == bool
    assert len(sample) == 200 and sample.names[0] == shapes.CLASSES[sample.labels[0]]
    assert 6 <= len(shapes.CLASSES) <= 8 and all(name.isalpha() and name.islower() for name in shapes.CLASSES)


def test_deterministic_and_every_prefix_is_the_same(sample):
    again = shapes.generate(200, seed=5)
    for field in ("images", "labels", "masks"):
        np.testing.assert_array_equal(getattr(again, field), getattr(sample, field))
    short = shapes.generate(10, seed=5)
    np.testing.assert_array_equal(short.images, sample.images[:10])
    np.testing.assert_array_equal(short.masks, sample.masks[:10])
    chunk = shapes.generate(4, seed=5, start=20)  # what the training script's parallel chunks rely on
    np.testing.assert_array_equal(chunk.images, sample.images[20:24])
    other = shapes.generate(10, seed=6)
    assert not np.array_equal(other.images, short.images)


def test_every_class_appears(sample):
    assert set(sample.labels.tolist()) == set(range(len(shapes.CLASSES)))


def test_masks_are_whole_objects_inside_the_picture(sample):
    areas = sample.masks.sum(axis=(1, 2))
    assert areas.min() >= 150 and areas.max() <= 128 * 128 // 3
    border = np.zeros((128, 128), bool)
    border[:2], border[-2:], border[:, :2], border[:, -2:] = True, True, True, True
    assert not sample.masks[:, border].any()


def test_the_object_is_drawn_exactly_where_the_mask_is():
    for index in range(40):
        image, label, mask = shapes.render(11, index)
        hidden, same_label, same_mask = shapes.render(11, index, with_object=False)
        assert label == same_label and np.array_equal(mask, same_mask)
        np.testing.assert_array_equal(image[~mask], hidden[~mask])  # nothing changes outside the mask
        change = np.abs(image[mask].astype(int) - hidden[mask].astype(int)).sum(axis=1)
        assert (change > 40).mean() > 0.9, f"picture {index}: the object hardly differs from what it hides"
        assert image[mask].astype(float).std(axis=0).max() < 6  # one flat colour (+ a little noise)


def test_gallery_has_one_picture_per_class():
    pictures = shapes.gallery()
    assert [title for title, _ in pictures] == list(shapes.CLASSES)
    assert all(p.shape == (128, 128, 3) and p.dtype == np.uint8 for _, p in pictures)
    assert [t for t, _ in shapes.gallery(9)][7:] == list(shapes.CLASSES[:2])
    np.testing.assert_array_equal(shapes.gallery(2)[1][1], pictures[1][1])


def test_preprocess_scales_to_unit_range():
    x = shapes.preprocess(np.array([[[[0, 128, 255]]]], np.uint8))
    assert x.dtype == np.float32
    np.testing.assert_allclose(x.ravel(), [0, 128 / 255, 1])


# ---- the shipped model ---------------------------------------------------------------------------
def test_weights_and_metadata_are_shipped():
    assert shapes.WEIGHTS_PATH.is_file(), "run: python scripts/train_shapes.py"
    assert shapes.WEIGHTS_PATH.stat().st_size <= 5_000_000
    info = json.loads(shapes.INFO_PATH.read_text(encoding="utf-8"))
    assert info["classes"] == list(shapes.CLASSES) and info["default_layer"] == shapes.DEFAULT_LAYER
    assert info["test_accuracy"] >= 0.95 and info["sets"]["test"]["size"] >= 2000
    used = {entry["seed"] for entry in info["sets"].values()}
    assert len(used) == 3 and FRESH_SEED not in used and shapes.GALLERY_SEED not in used
    for key in ("epochs", "training_seconds", "keras", "tensorflow", "date", "per_class_test_accuracy"):
        assert key in info


def test_structure_last_convolution_feeds_gap_and_dense(shapes_model):
    from explainers._tf import keras
    from explainers.methods.cam import cam_head

    net = shapes_model.keras
    assert net.input_shape == (None, 128, 128, 3) and net.output_shape == (None, len(shapes.CLASSES))
    assert cam_head(shapes_model)[0] == shapes.DEFAULT_LAYER == "conv5"
    convs = [layer for layer in net.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.name for layer in convs] == ["conv1", "conv2", "conv3", "conv4", "conv5"]
    assert tuple(convs[-1].output.shape[1:3]) == (16, 16)
    assert isinstance(net.get_layer("gap"), keras.layers.GlobalAveragePooling2D)
    logits = net.get_layer("logits")
    assert isinstance(logits, keras.layers.Dense) and logits.activation.__name__ == "linear"
    assert len([layer for layer in net.layers if layer.weights]) >= 5  # cascading randomisation has steps
    assert shapes_model.default_layer == "conv5"


def test_accuracy_on_fresh_pictures(shapes_model, fresh):
    logits = shapes_model.keras.predict(shapes.preprocess(fresh.images), batch_size=100, verbose=0)
    accuracy = float((logits.argmax(axis=1) == fresh.labels).mean())
    assert accuracy >= 0.95, f"accuracy {accuracy:.3f} on {len(fresh)} fresh pictures"


def test_grad_cam_points_at_the_object(shapes_model, fresh):
    """Pointing game (Zhang et al. 2016): the peak of Grad-CAM for the true class lies on the object,
    allowing 4 px (half a conv5 cell) around the mask."""
    import cv2

    from explainers import explain

    hits = 0
    count = 30
    for i in range(count):
        heatmap = explain(shapes_model, fresh.images[i], "grad_cam", target=int(fresh.labels[i])).heatmap
        near = cv2.dilate(fresh.masks[i].astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        hits += bool(near.flat[int(np.argmax(heatmap))])
    assert hits / count >= 0.85, f"Grad-CAM's peak on the object in {hits} of {count} pictures"
