"""The model object every method explains: a Keras model whose output is the class scores, with its
preprocessing, labels, pickable layers and recommended layer (``ExplainableModel``), and how a photo is
resized to its input. Apart from ``explainers.models`` (the registry and its loading) so that one's own
models (``explainers.own_models``) can be built without importing the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from explainers.errors import ImageError, UnknownNameError
from explainers.labels import Labels
from explainers.logits_memo import LogitsMemo


@dataclass(frozen=True)
class LayerInfo:
    """A layer a person may pick: its name and the spatial size of its output."""

    name: str
    height: int
    width: int
    channels: int

    @property
    def display(self) -> str:
        return f"{self.name} · {self.height}×{self.width}"


def prepare_image(image: Any, size: int | tuple[int, int]) -> np.ndarray:
    """Resize an RGB uint8 image to the model's input (squashing, as Keras's ``load_img`` does).

    An image already at the input size is returned unchanged (no resampling). Shrinking uses area
    averaging (no aliasing); enlarging uses bilinear interpolation.
    """
    import cv2

    check_image(image)
    height, width = (size, size) if isinstance(size, int) else size
    if image.shape[:2] == (height, width):
        return image
    shrinking = image.shape[0] * image.shape[1] > height * width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def check_image(image: Any) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        described = (
            f"an array of shape {image.shape} and type {image.dtype}"
            if isinstance(image, np.ndarray)
            else type(image).__name__
        )
        raise ImageError(f"The image must be an RGB picture (height × width × 3, uint8). Received: {described}.")
    if min(image.shape[:2]) < 1:
        raise ImageError(f"The image is empty. Received shape: {image.shape}.")


@dataclass(frozen=True)
class Preprocessing:
    """A model's preprocessing as a callable: RGB batch (N, size, size, 3), 0..255 -> float32 model input.

    ``function`` is the model's own (``keras.applications.vgg16.preprocess_input``, say); it gets a
    float32 copy, so one that works in place cannot change the caller's pictures."""

    function: Callable[[np.ndarray], np.ndarray]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        batch = np.asarray(images, dtype=np.float32)
        return np.ascontiguousarray(self.function(batch.copy()), dtype=np.float32)


class ExplainableModel:
    """A Keras model whose output is the logits, with everything the methods and the UI need to know.

    ``keras`` is the logits model; ``layers`` the pickable layers (every layer with a 4-D output, in
    order); ``default_layer`` the recommended one; ``labels`` the class names; ``preprocess`` turns
    RGB uint8 batches into the model's input. Build one with ``load_model`` (the registry models) or
    ``ExplainableModel(keras_model, ...)`` for any other Keras image classifier that outputs logits.
    The weights are taken as fixed: the logits of inputs that recur (a black baseline) are kept and
    recalled; pass ``memo_logits=False`` for a model whose weights change while it is in use.
    Plain data: its compiled passes are ``explainers.engine.engine_for(model)``; its predictions,
    ``explainers.api.predict``.
    """

    def __init__(
        self,
        keras_model: Any,
        name: str,
        *,
        labels: Labels,
        preprocess: Callable[[np.ndarray], np.ndarray],
        default_layer: str | None = None,
        weights: str = "custom",
        weights_id: str | None = None,
        random_weights: bool = False,
        title: str | None = None,
        memo_logits: bool = True,
        explaining: str = "the logits",
        output_activation: str = "softmax",
    ):
        from explainers._tf import configure_devices

        self.keras = keras_model
        self.name = name
        self.title = title or name
        self.labels = labels
        self.preprocess = preprocess if isinstance(preprocess, Preprocessing) else Preprocessing(preprocess)
        # the preprocessing's name for one's own models (explainers.own_preprocessing.PREPROCESSING), else None
        self.preprocessing: str | None = getattr(preprocess, "name", None)
        self.weights = weights
        self.weights_id = weights_id or weights
        self.random_weights = random_weights
        self.device = configure_devices()
        self.explaining = explaining  # what the maps explain, in words: "the logits", "the score before softmax"
        #: how the scores become the probabilities shown: "softmax", or "sigmoid" per class (multi-label)
        self.output_activation = output_activation
        shape = keras_model.input_shape
        if len(shape) != 4 or shape[1] is None or shape[2] is None or shape[3] not in (1, 3):
            raise ValueError(f"Expected an image input (batch, height, width, 1 or 3 channels). Received: {shape}.")
        #: (height, width) of the model's input, and its colour channels (3, or 1 for grey)
        self.input_shape: tuple[int, int] = (int(shape[1]), int(shape[2]))
        self.channels: int = int(shape[3])
        #: the side of a square input; (height, width) for a non-square one (prefer ``input_shape``)
        self.input_size: int | tuple[int, int] = self.input_shape[0] if shape[1] == shape[2] else self.input_shape
        classes = keras_model.output_shape[-1]
        if classes != len(labels):
            raise ValueError(f"The model has {classes} outputs but {len(labels)} labels were given.")
        self.layers: list[LayerInfo] = pickable_layers(keras_model)
        if not self.layers:
            raise ValueError("The model has no layer with a 4-D (image-shaped) output to explain.")
        self._layer_names = {info.name for info in self.layers}
        self.default_layer = default_layer or self.layers[-1].name
        self.check_layer(self.default_layer)
        # logits of inputs that recur whatever the photo (black baselines); off if the weights change in place
        self.logits_memo = LogitsMemo() if memo_logits else None

    # ---- names -------------------------------------------------------------------------------
    def check_layer(self, layer: str | None) -> str:
        """The layer to use: ``layer`` if it is pickable, the default if None; else UnknownNameError."""
        if layer is None or layer == "":
            return self.default_layer
        if layer not in self._layer_names:
            close = [info.name for info in self.layers if str(layer).lower() in info.name.lower()][:5]
            hint = (
                f" Did you mean: {', '.join(close)}?" if close else f" The recommended layer is {self.default_layer}."
            )
            raise UnknownNameError(f"{self.title} has no layer called {layer!r} that can be explained.{hint}")
        return layer

    def layer_info(self, layer: str) -> LayerInfo:
        return next(info for info in self.layers if info.name == self.check_layer(layer))

    def resolve_target(self, target: int | str | None) -> int | None:
        """A class index from an index or a label ("281", "tabby"); None means the top-1 prediction."""
        if target is None or (isinstance(target, str) and target.strip() == ""):
            return None
        return self.labels.resolve(target)

    # ---- inputs ------------------------------------------------------------------------------
    def prepare(self, image: np.ndarray) -> np.ndarray:
        """The exact RGB picture the model sees (resized to its input size)."""
        return prepare_image(image, self.input_shape)

    def as_seen(self, image: np.ndarray) -> np.ndarray:
        """The picture as the model sees it, to show a person: resized, and grey for a one-channel model
        (RGB uint8 either way, so it displays like any photo)."""
        picture = self.prepare(image)
        if self.channels == 1:
            from explainers.own_preprocessing import GREY_WEIGHTS

            grey = np.clip(np.rint(picture.astype(np.float32) @ GREY_WEIGHTS), 0, 255).astype(np.uint8)
            picture = np.repeat(grey[..., None], 3, axis=2)
        return picture

    def input_range(self) -> float:
        """How far apart black and white pixels are in the model's input (255 for caffe-style
        preprocessing, 2 for [-1, 1], 1 for [0, 1]): the unit for noise levels."""
        ends = self.preprocess(np.array([[[[0, 0, 0]]], [[[255, 255, 255]]]], np.float32))
        return float(np.abs(ends[1] - ends[0]).mean())

    def __repr__(self) -> str:
        return f"ExplainableModel({self.name!r}, input_size={self.input_size}, weights={self.weights!r})"


def pickable_layers(keras_model: Any) -> list[LayerInfo]:
    """Every layer with one 4-D (image-shaped) output, in order; the input layer is left out."""
    found = []
    for layer in keras_model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):  # a layer with several outputs or none
            continue
        if len(shape) == 4 and all(isinstance(d, int) for d in shape[1:]):
            found.append(LayerInfo(layer.name, shape[1], shape[2], shape[3]))
    return found
