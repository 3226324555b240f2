"""The dashboard for a Keras model you hold in Python: inline in Jupyter, or in a browser tab elsewhere.

    from explainers import dashboard
    dashboard(my_keras_model, labels=["cat", "dog"], preprocessing="unit")

``explainers.dashboard`` forwards here: the explainers never import Dash, so the page is built on the
app's side. The model is wrapped once (``explainers.own_models.from_keras``: a softmax at the end is
explained before it, nested base networks are unfolded), so a model that cannot be explained says why
at once, in the notebook. It is served by a local service of its own, picked on the page, and never
leaves this process.
"""

from __future__ import annotations

import re
import sys
import threading
import webbrowser
from collections.abc import Sequence
from typing import Any

import dash

from app import create_app
from service import ExplainerService
from service.own_models import OwnModel

_served: list[str] = []  # the notebook models of this process, so each gets its own name


#: who may show the page in a frame: Jupyter shows it inline from its own address (another port)
NOTEBOOK_ANCESTORS = "'self' http://localhost:* http://127.0.0.1:* https://localhost:* https://127.0.0.1:*"


class FramedByNotebook:
    """WSGI middleware: the page may be framed by a notebook on this computer (the served app forbids any
    other origin to frame it, as a defence against clickjacking; Jupyter's output is another origin)."""

    def __init__(self, wsgi_app: Any):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], *info: Any) -> Any:
            headers = [
                (key, value.replace("frame-ancestors 'self'", f"frame-ancestors {NOTEBOOK_ANCESTORS}"))
                for key, value in headers
                if key.lower() != "x-frame-options"
            ]
            return start_response(status, headers, *info)

        return self.wsgi_app(environ, start)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where the page can be shown inline), False in a plain Python."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    ipython = shell.get_ipython()
    return ipython is not None and hasattr(ipython, "kernel")


def dashboard(
    keras_model: Any,
    labels: Sequence[str] | str | None = None,
    preprocessing: str = "unit",
    *,
    title: str | None = None,
    default_layer: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8050,
    data_dir: str | None = None,
    run: bool = True,
    open_browser_after: float = 1.0,
) -> dash.Dash:
    """Serve the saliency dashboard with ``keras_model`` picked: inline in a Jupyter notebook (Dash's
    ``jupyter_mode="inline"``), else at ``http://host:port/`` with a browser tab opened on it.

    ``labels``: the class names (a list, or a .txt/.json file's path), None for "class 0…N−1";
    ``preprocessing``: how the model expects its pixels ("unit" [0, 1], "tf" [−1, 1], "caffe", "torch",
    "none"); ``run=False`` builds the app and returns it without serving (tests, your own server).
    Returns the Dash app. Outside a notebook ``app.run`` blocks until stopped (Ctrl+C).
    """
    from explainers.own_models import from_keras  # TensorFlow: the caller holds a Keras model already

    names = list(labels) if isinstance(labels, list | tuple) else labels
    slug = re.sub(r"[^a-z0-9]+", "-", str(title or getattr(keras_model, "name", "") or "model").lower()).strip("-")
    name = f"notebook-{slug or 'model'}"
    if name in _served:
        name = f"{name}-{len(_served) + 1}"
    _served.append(name)
    explainable = from_keras(
        keras_model,
        labels=names,
        preprocessing=preprocessing,
        name=name,
        title=title or getattr(keras_model, "name", None) or "Your model",
        default_layer=default_layer,
    )
    service = ExplainerService(data_dir, weights="imagenet")
    service.catalogue.add_notebook_model(
        OwnModel(
            name,
            explainable.title,
            "notebook",
            description="The Keras model handed to dashboard() in this Python session.",
            digest=explainable.weights_id,  # its weights' hash: maps of other weights are never reused
            labels=[label.name for label in explainable.labels],
            preprocessing=preprocessing,
            default_layer=explainable.default_layer,
            keras_model=explainable,
        )
    )
    app = create_app({"service": service, "model": name, "data_dir": data_dir, "backend": "local"})
    app.server.wsgi_app = FramedByNotebook(app.server.wsgi_app)
    if not run:
        return app
    if in_notebook():
        app.run(jupyter_mode="inline", host=host, port=port)
        return app
    url = f"http://{host}:{port}/"
    print(f"Serving the dashboard for {explainable.title} at {url} (Ctrl+C stops it)", flush=True)
    timer = threading.Timer(open_browser_after, webbrowser.open, args=(url,))
    timer.daemon = True
    timer.start()
    if open_browser_after <= 0:
        timer.join()
    app.run(host=host, port=port, threaded=True)
    return app
