"""Preprocessing by name for people's own models: what turns RGB pixels (0..255) into their model's input.

The five names cover what Keras and PyTorch image models are trained with. A one-channel (grayscale)
model gets the picture converted to grey first (ITU-R BT.601 weights, as Pillow's "L" mode); its
per-channel constants are then the mean of the three colour channels' ones. No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explainers.errors import UnknownNameError

#: each preprocessing name and what it does, in plain words (the page's picker shows these sentences)
PREPROCESSING: dict[str, str] = {
    "caffe": "VGG/ResNet style: colours swapped to BGR and the ImageNet mean colour subtracted (0–255 scale).",
    "tf": "Pixels scaled to −1…1 (Inception, MobileNet and most models trained with tf.keras defaults).",
    "torch": "Pixels scaled to 0…1, then the ImageNet mean subtracted and divided by its standard deviation.",
    "unit": "Pixels scaled to 0…1 (a model trained on pictures divided by 255).",
    "none": "Pixels passed as they are, 0–255 (for a model with a Rescaling or Normalization layer inside).",
}

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)  # keras.applications' ImageNet mean
TORCH_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
TORCH_STD = np.array([0.229, 0.224, 0.225], np.float32)
GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601 luma


def check_preprocessing(name: str) -> str:
    """The preprocessing name, lower-cased; UnknownNameError in words if it is not one of PREPROCESSING."""
    key = str(name).strip().lower()
    if key not in PREPROCESSING:
        raise UnknownNameError(f"Unknown preprocessing {name!r}. Choose one of: {', '.join(PREPROCESSING)}.")
    return key


@dataclass(frozen=True)
class NamedPreprocessing:
    """RGB batch (N, H, W, 3), 0..255 -> float32 model input (N, H, W, ``channels``) by ``name``.

    A plain picklable object (a Celery worker or a randomized copy can carry it), with no TensorFlow."""

    name: str
    channels: int = 3

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, np.float32)
        if self.channels == 1:
            x = (x @ GREY_WEIGHTS)[..., None]
        if self.name == "caffe":
            if self.channels == 3:
                return x[..., ::-1] - CAFFE_MEAN_BGR
            return x - CAFFE_MEAN_BGR.mean()
        if self.name == "tf":
            return x / 127.5 - 1.0
        if self.name == "torch":
            mean, std = (TORCH_MEAN, TORCH_STD) if self.channels == 3 else (TORCH_MEAN.mean(), TORCH_STD.mean())
            return (x / 255.0 - mean) / std
        if self.name == "unit":
            return x / 255.0
        return x.copy()
