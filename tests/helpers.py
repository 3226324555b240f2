"""Small helpers shared by several test modules."""

import io

import numpy as np
from PIL import Image


def png_bytes(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """A random-noise RGB PNG of the given size."""
    buffer = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def text_of(component) -> str:
    """All the text inside a Dash component tree."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(text_of(c) for c in component)
    return text_of(getattr(component, "children", None))


class WatchedBody(io.BytesIO):
    """A request body that notes whether the server read any of it (a refusal before reading reads none)."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.was_read = False

    def read(self, *args) -> bytes:
        self.was_read = True
        return super().read(*args)
