"""Shapes: a small demo model that works offline, and the picture generator it was trained on.

The ImageNet models need weights that are downloaded once (hundreds of MB), and their photos come
without any record of where the object is. Shapes needs neither: every picture is drawn here, from a
seed, with exactly one object of a known class (a circle, a star, ...) on a cluttered background with
a few distractors that belong to no class, and the generator also returns the object's pixels as a
mask. A saliency map can therefore be scored against the truth (does its peak fall on the object? how
much of its mass lies there?), and the whole demo runs on a machine without internet.

The model is a small CNN (five 3 × 3 convolutions with batch normalisation, the first with stride 2,
max pooling after the first two) whose last convolution, ``conv5`` at 16 × 16, feeds a global average
pooling and one dense layer: the head that CAM was defined for. Its weights are trained by
``scripts/train_shapes.py`` and shipped in ``explainers/data/shapes.weights.h5`` (metadata and test
accuracy: ``shapes.json``).

Importing this module costs no TensorFlow: Keras is imported inside ``build_model`` and ``load``.
Pictures are deterministic: image ``i`` of ``generate(n, seed)`` depends on ``(seed, i)`` only, so
``generate(100, 7)`` starts with ``generate(10, 7)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "crescent", "heart")
IMAGE_SIZE = 128
DEFAULT_LAYER = "conv5"  # the last convolution: 16 × 16, right before global average pooling
DATA_DIR = Path(__file__).resolve().parent / "data"
WEIGHTS_PATH = DATA_DIR / "shapes.weights.h5"
INFO_PATH = DATA_DIR / "shapes.json"
GALLERY_SEED = 2024  # never used for training (see scripts/train_shapes.py)

RADIUS = (14.0, 30.0)  # circumradius of the object in pixels: 28-60 px across
_SHIFT = 4  # OpenCV's fixed-point bits: polygons are drawn with 1/16-pixel precision
_MARGIN = 3  # the object stays this many pixels inside the border
_CLEARANCE = 5  # distractors keep at least this many pixels away from the object


@dataclass
class Shapes:
    """A batch of generated pictures and their truth.

    ``images`` uint8 (n, 128, 128, 3) RGB; ``labels`` int64 (n,) indices into ``CLASSES``; ``masks``
    bool (n, 128, 128): exactly the pixels painted with the labelled object's colour.
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    seed: int

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def names(self) -> list[str]:
        return [CLASSES[int(label)] for label in self.labels]


# ---- the outlines --------------------------------------------------------------------------------
def _regular(count: int, start: float = 0.0) -> np.ndarray:
    angles = start + np.arange(count) * 2 * np.pi / count
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    angles = -np.pi / 2 + np.arange(2 * points) * np.pi / points
    radii = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _cross(half_width: float = 0.32) -> np.ndarray:
    b = 1.0 / np.sqrt(1 + half_width**2)  # arm length: the arm ends' corners touch the unit circle
    a = half_width * b
    return np.array(
        [[-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a], [a, b], [-a, b], [-a, a], [-b, a], [-b, -a], [-a, -a]]
    )


def _crescent(offset: float = 0.5, bite: float = 0.85, count: int = 40) -> np.ndarray:
    """The unit disc minus a disc of radius ``bite`` centred ``offset`` to the right."""
    x = (1 - bite**2 + offset**2) / (2 * offset)  # where the two circles cross
    outer_start = np.arctan2(np.sqrt(1 - x**2), x)
    outer = np.linspace(outer_start, 2 * np.pi - outer_start, count)
    inner_start = np.arctan2(-np.sqrt(1 - x**2), x - offset) + 2 * np.pi
    inner = np.linspace(inner_start, 2 * np.pi - inner_start, count)[1:-1]
    points = np.concatenate(
        [
            np.stack([np.cos(outer), np.sin(outer)], axis=1),
            np.stack([offset + bite * np.cos(inner), bite * np.sin(inner)], axis=1),
        ]
    )
    points[:, 0] -= (points[:, 0].max() + points[:, 0].min()) / 2
    return points / np.linalg.norm(points, axis=1).max()


def _heart(count: int = 72) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, count, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    points = np.stack([x, y], axis=1)
    points -= (points.max(axis=0) + points.min(axis=0)) / 2
    return points / np.abs(points).max()


# Unit outlines (x, y), centred, fitting inside the unit circle; y points down as in the image.
OUTLINES: dict[str, np.ndarray] = {
    "circle": _regular(96),
    "square": _regular(4, np.pi / 4),
    "triangle": _regular(3, -np.pi / 2),
    "star": _star(),
    "cross": _cross(),
    "crescent": _crescent(),
    "heart": _heart(),
}
assert tuple(OUTLINES) == CLASSES


def _fixed(points: np.ndarray) -> np.ndarray:
    """Pixel coordinates -> OpenCV's fixed-point int32 polygon (pixel centres at integers)."""
    return np.round(points * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)


def _fill(canvas: np.ndarray, points: np.ndarray, value) -> None:
    import cv2

    cv2.fillPoly(canvas, [_fixed(points)], value, lineType=cv2.LINE_8, shift=_SHIFT)


# ---- one picture ---------------------------------------------------------------------------------
_AXIS = np.linspace(-0.5, 0.5, IMAGE_SIZE, dtype=np.float32)


def _background(rng: np.random.Generator) -> np.ndarray:
    """Smooth colour gradient + low-frequency colour noise + thin lines and small blobs (float32)."""
    import cv2

    size = IMAGE_SIZE
    c0, c1 = rng.uniform(0, 255, 3).astype(np.float32), rng.uniform(0, 255, 3).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.float32(np.cos(angle)) * _AXIS[None, :] + np.float32(np.sin(angle)) * _AXIS[:, None]
    ramp = np.clip(ramp + np.float32(0.5), 0, 1)[..., None]
    grid = rng.integers(3, 7)
    noise = rng.normal(0, rng.uniform(8, 25), (grid, grid, 3)).astype(np.float32)
    image = c0 + ramp * (c1 - c0) + cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
    image = np.clip(image, 0, 255, out=image)
    for _ in range(rng.integers(0, 6)):  # thin straight lines across the picture
        p, q = rng.uniform(-10, size + 10, 2), rng.uniform(-10, size + 10, 2)
        colour = np.clip(
            image[int(np.clip(p[1], 0, size - 1)), int(np.clip(p[0], 0, size - 1))] + rng.normal(0, 50, 3), 0, 255
        )
        cv2.line(image, tuple(int(v) for v in p), tuple(int(v) for v in q), colour.tolist(), 1, cv2.LINE_AA)
    for _ in range(rng.integers(0, 8)):  # small soft blobs
        centre = tuple(int(v) for v in rng.uniform(0, size, 2))
        cv2.circle(image, centre, int(rng.integers(1, 4)), rng.uniform(0, 255, 3).tolist(), -1, cv2.LINE_AA)
    return image


def _place(rng: np.random.Generator, label: int) -> np.ndarray:
    """The object's polygon in pixel coordinates: random size, rotation and position, fully inside."""
    radius = rng.uniform(*RADIUS)
    angle = rng.uniform(0, 2 * np.pi)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = OUTLINES[CLASSES[label]] @ rotation.T * radius
    low = _MARGIN - points.min(axis=0)
    high = IMAGE_SIZE - 1 - _MARGIN - points.max(axis=0)
    return points + rng.uniform(low, high)


def _object_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random colour that stands out from the mean background colour under the object."""
    best, best_distance = None, -1.0
    for _ in range(30):
        colour = rng.uniform(0, 255, 3)
        distance = float(np.linalg.norm(colour - under))
        if distance >= 110:
            return colour
        if distance > best_distance:
            best, best_distance = colour, distance
    return best


def _distractor(rng: np.random.Generator, canvas: np.ndarray, colour) -> None:
    """Draw one thing that is no class: a scribble, a thin bar, a cluster of dots or a wavy line."""
    import cv2

    size = IMAGE_SIZE
    kind = rng.integers(4)
    centre = rng.uniform(8, size - 8, 2)
    colour = [float(c) for c in colour]
    if kind == 0:  # scribble: an open zig-zag polyline
        steps = rng.normal(0, 9, (int(rng.integers(4, 8)), 2))
        points = centre + np.cumsum(steps, axis=0) - steps.sum(axis=0) / 2
        cv2.polylines(canvas, [_fixed(points)], False, colour, int(rng.integers(1, 3)), cv2.LINE_AA, _SHIFT)
    elif kind == 1:  # a thin bar, at least 5 times longer than wide
        length, width = rng.uniform(18, 42), rng.uniform(2.0, 3.5)
        angle = rng.uniform(0, np.pi)
        along, across = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
        corners = (
            np.array([-1, 1, 1, -1])[:, None] * along * length / 2
            + np.array([-1, -1, 1, 1])[:, None] * across * width / 2
        )
        _fill(canvas, centre + corners, colour)
    elif kind == 2:  # a loose cluster of small dots
        for offset in rng.normal(0, 7, (int(rng.integers(3, 7)), 2)):
            x, y = (centre + offset).astype(int)
            cv2.circle(canvas, (int(x), int(y)), int(rng.integers(1, 3)), colour, -1, cv2.LINE_AA)
    else:  # a wavy line
        length = rng.uniform(25, 50)
        angle = rng.uniform(0, np.pi)
        t = np.linspace(-0.5, 0.5, 24)
        wave = rng.uniform(2, 5) * np.sin(t * length / rng.uniform(3, 6))
        along, across = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
        points = centre + np.outer(t * length, along) + np.outer(wave, across)
        cv2.polylines(canvas, [_fixed(points)], False, colour, int(rng.integers(1, 3)), cv2.LINE_AA, _SHIFT)


def render(seed: int, index: int, with_object: bool = True) -> tuple[np.ndarray, int, np.ndarray]:
    """Picture ``index`` of the set ``seed``: (RGB uint8 image, label, bool mask of the object).

    ``with_object=False`` gives the very same picture without the object: what the object hides.
    """
    import cv2

    rng = np.random.default_rng([int(seed), int(index)])
    label = int(rng.integers(len(CLASSES)))
    image = _background(rng)
    points = _place(rng, label)
    mask8 = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    _fill(mask8, points, 1)
    mask = mask8.astype(bool)
    colour = _object_colour(rng, image[mask].mean(axis=0))

    keep_out = cv2.dilate(mask8, np.ones((2 * _CLEARANCE + 1,) * 2, np.uint8)).astype(bool)
    for _ in range(int(rng.integers(1, 4))):
        same = rng.random() < 0.4  # often the object's own colour, so colour alone never finds it
        tint = np.clip(colour + rng.normal(0, 20, 3), 0, 255) if same else rng.uniform(0, 255, 3)
        for _attempt in range(12):  # try places until one keeps clear of the object
            state = rng.bit_generator.state
            trace = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
            _distractor(rng, trace, (1.0,))
            if (trace > 0).any() and not (trace[keep_out] > 0).any():
                rng.bit_generator.state = state  # the same draws again, now in colour on the picture
                _distractor(rng, image, tint)
                break

    if with_object:
        _fill(image, points, colour.tolist())
    image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(2.5)  # a little sensor noise
    return np.clip(np.rint(image, out=image), 0, 255, out=image).astype(np.uint8), label, mask


def generate(n: int, seed: int, start: int = 0) -> Shapes:
    """Pictures ``start`` .. ``start + n - 1`` of the set ``seed`` (picture i depends on (seed, i) only,
    so a set can be made in chunks, in parallel, and any prefix of it is the same)."""
    n = int(n)
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    labels = np.empty(n, np.int64)
    masks = np.empty((n, IMAGE_SIZE, IMAGE_SIZE), bool)
    for i in range(n):
        images[i], labels[i], masks[i] = render(seed, int(start) + i)
    return Shapes(images, labels, masks, int(seed))


def gallery(n: int = len(CLASSES), seed: int = GALLERY_SEED) -> list[tuple[str, np.ndarray]]:
    """``n`` example pictures as (title, RGB uint8 image): the first of each class in turn."""
    found: dict[int, list[np.ndarray]] = {k: [] for k in range(len(CLASSES))}
    wanted = [k % len(CLASSES) for k in range(int(n))]
    need = {k: wanted.count(k) for k in set(wanted)}
    index = 0
    while any(len(found[k]) < need[k] for k in need):
        image, label, _ = render(seed, index)
        if label in need and len(found[label]) < need[label]:
            found[label].append(image)
        index += 1
    taken = {k: 0 for k in need}
    out = []
    for k in wanted:
        out.append((CLASSES[k], found[k][taken[k]]))
        taken[k] += 1
    return out


# ---- the model -----------------------------------------------------------------------------------
def preprocess(x: Any) -> np.ndarray:
    """RGB uint8 pictures -> the model's input: float32 in [0, 1]."""
    return np.asarray(x, np.float32) / 255.0


def build_model(seed: int = 0):
    """The Shapes CNN with freshly initialised weights (seeded), output = logits over ``CLASSES``.

    conv1 (3 × 3, stride 2: 64²) · bn1 · pool1 · conv2 (32²) · bn2 · pool2 · conv3 · bn3 · conv4 · bn4 · conv5
    (16²) · gap · logits. Every convolution has its ReLU inside (its output is the rectified map); batch
    normalisation after conv1-conv4 makes training fast; conv5 feeds global average pooling directly, so
    CAM applies and Grad-CAM on conv5 equals CAM up to scale.
    """
    from explainers._tf import keras

    def init(k: int):  # He initialisation (suits ReLU), seeded per layer: no global random state used
        return keras.initializers.HeNormal(seed=int(seed) * 100 + k)

    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    x = inputs
    # (filters, kernel, stride, max pooling after): 128² -> conv1 64² -> 32² conv2 -> 16² conv3, conv4, conv5
    blocks = ((24, 3, 2, True), (32, 3, 1, True), (48, 3, 1, False), (64, 3, 1, False), (64, 3, 1, False))
    for k, (filters, kernel, stride, pool) in enumerate(blocks, 1):
        x = keras.layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding="same",
            activation="relu",
            kernel_initializer=init(k),
            name=f"conv{k}",
        )(x)
        if k < len(blocks):
            x = keras.layers.BatchNormalization(name=f"bn{k}")(x)
        if pool:
            x = keras.layers.MaxPooling2D(name=f"pool{k}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    logits = keras.layers.Dense(len(CLASSES), kernel_initializer=init(9), name="logits")(x)
    return keras.Model(inputs, logits, name="shapes")


def load(weights: str | Path = WEIGHTS_PATH):
    """The trained Keras model (logits), read from the shipped weights file."""
    model = build_model()
    model.load_weights(str(weights))
    return model


def info() -> dict[str, Any]:
    """The training metadata shipped beside the weights (classes, sizes, accuracy, versions)."""
    return json.loads(INFO_PATH.read_text(encoding="utf-8"))


def familiarity_record() -> dict[str, Any] | None:
    """The statistics of the training pictures' pooled features and the calibrated threshold (written by
    ``scripts/calibrate_shapes_familiarity.py``; read by ``explainers.familiarity``), or None."""
    return info().get("familiarity")
