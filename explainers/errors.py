"""Errors the explainer core raises on purpose.

Every message is written for a person who has never coded: it says what went wrong and what to do,
and it echoes the bad value where there is one. The UI, the CLI and the HTTP API show these messages
as they are; any other exception is a bug.
"""

from __future__ import annotations


class ExplainerError(ValueError):
    """Base class: something the caller asked for cannot be done; the message says why in plain words."""


class ImageError(ExplainerError):
    """The uploaded bytes are not an image we can use (wrong format, damaged, too small, too large)."""


class UnknownNameError(ExplainerError):
    """A model, method, layer or class name that is not on the list of allowed ones."""


class WeightsError(ExplainerError):
    """A model's weights are missing, damaged or do not belong to the model."""


class NotApplicableError(ExplainerError):
    """The method cannot explain this model (for example CAM on VGG16, which has no global-average-pool head)."""


class ParameterError(ExplainerError):
    """A method parameter is out of range or of the wrong type."""


class ModelFileError(ExplainerError):
    """A model file (or a Keras model given in Python) cannot be explained here: not a .keras file,
    damaged, unsafe, or not an image classifier. The message says what to upload instead."""
