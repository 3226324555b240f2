"""Libraries imported once, before the server serves and before any of its threads starts.

A library imported for the first time by two threads at once can be seen half-initialised by one of
them. Plotly's validators look pandas up in ``sys.modules`` without importing it, so while the warm-up
thread imported Keras (which imports pandas), a request building a figure found a half-imported pandas
and failed (``partially initialized module 'pandas' has no attribute 'Series'``): a blank page.

- ``import_libraries()``: what request threads use, cheap enough for ``import app`` (no TensorFlow):
  pandas, Pillow's format plugins, OpenCV, and Plotly's classes for the traces the page draws.
- ``import_model_libraries()``: TensorFlow, the explainers and the scientific libraries the methods
  and trust checks use, for the serving process's start (``python app.py``, gunicorn's ``post_fork``),
  before the warm-up thread starts. shap stays lazy: one method uses it, it costs about 250 MB, and
  everything it shares with the rest of the server (NumPy, pandas, SciPy) is loaded by then.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

LIBRARIES = ("pandas", "cv2", "plotly.graph_objects", "plotly.subplots", "plotly.io")
MODEL_LIBRARIES = (
    "explainers._tf",
    "explainers.models",
    "explainers.api",
    "explainers.evaluation",
    "scipy.ndimage",
    "scipy.stats",
    "skimage.segmentation",
    "skimage.metrics",
)
_lock = threading.Lock()
_done: set[tuple[str, ...]] = set()


def import_libraries() -> None:
    """Import what request threads would otherwise import lazily; a no-op the second time."""
    _import_once(LIBRARIES, _prepare_plugins_and_traces)


def import_model_libraries() -> None:
    """Import TensorFlow and the explainers' libraries (never in a process that must stay without them)."""
    _import_once(MODEL_LIBRARIES)


def _import_once(names: tuple[str, ...], then: Callable[[], None] | None = None) -> None:
    with _lock:
        if names in _done:
            return
        for name in names:
            importlib.import_module(name)
        if then is not None:
            then()
        _done.add(names)


def _prepare_plugins_and_traces() -> None:
    from PIL import Image

    Image.init()  # every format plugin now, not on the first upload of an unusual format
    _build_each_trace()


def _build_each_trace() -> None:
    """Plotly imports a trace's classes and validators on its first use: use each one the page draws once."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=2)
    for trace in (
        go.Heatmap(z=[[0, 1]]),
        go.Bar(x=[1], y=["a"], orientation="h"),
        go.Contour(z=[[0, 1], [1, 0]]),
        go.Scatter(x=[0], y=[0]),
    ):
        figure.add_trace(trace, row=1, col=1)
    figure.add_layout_image(source="/x.png", x=0, y=0, sizex=1, sizey=1)
    figure.add_annotation(text="x", x=0, y=0, showarrow=False)
    figure.add_shape(type="line", x0=0, x1=1, y0=0, y1=1)
    figure.update_layout(margin=dict(l=0, r=0, t=0, b=0))
    figure.to_plotly_json()
    figure.to_json()
