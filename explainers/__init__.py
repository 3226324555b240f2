"""The explainer core: ImageNet models, saliency methods, image decoding and labels.

Public API::

    from explainers import load_model, explain, explain_all, predict, METHODS
    model = load_model("vgg16", weights="imagenet")
    e = explain(model, image, method="grad_cam")
    top5 = predict(model, image)

Importing this package is cheap: TensorFlow is imported only when a model or a method is first used
(``explainers.images`` and ``explainers.labels`` never import it), so a web process can import the
package before it forks its workers.
"""

from __future__ import annotations

import importlib
from typing import Any

from explainers.errors import (
    ExplainerError,
    ImageError,
    ModelFileError,
    NotApplicableError,
    ParameterError,
    UnknownNameError,
    WeightsError,
)

__version__ = "0.1.0"

# name -> module that defines it; resolved on first access (PEP 562).
_LAZY = {
    "load_model": "explainers.models",
    "MODELS": "explainers.models",
    "ExplainableModel": "explainers.models",
    "from_keras": "explainers.own_models",  # one's own Keras model
    "load_keras_model": "explainers.own_models",
    "explain": "explainers.api",
    "explain_all": "explainers.api",
    "Explanation": "explainers.api",
    "heatmap_to_image_size": "explainers.api",
    "predict": "explainers.api",
    "logits_of": "explainers.api",
    "explain_top_k": "explainers.top_k",
    "METHODS": "explainers.methods",
    "decode": "explainers.images",
    "IMAGENET_LABELS": "explainers.labels",
    "search_labels": "explainers.labels",
    "activations": "explainers.feature_maps",  # modules named apart: a submodule would shadow the function
    "sweep": "explainers.layer_sweep",
    "sweep_layers": "explainers.layer_sweep",
}

__all__ = sorted(
    [
        *_LAZY,
        "ExplainerError",
        "ImageError",
        "ModelFileError",
        "NotApplicableError",
        "ParameterError",
        "UnknownNameError",
        "WeightsError",
        "__version__",
        "dashboard",
    ]
)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'explainers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def dashboard(keras_model: Any, labels: Any = None, preprocessing: str = "unit", **options: Any) -> Any:
    """Serve the saliency dashboard for ``keras_model``: inline in a Jupyter notebook, else in a browser tab.

        from explainers import dashboard
        dashboard(my_keras_model, labels=["cat", "dog"], preprocessing="unit")

    A forwarder: the page is Dash, which the explainers never import, so it lives on the app's side
    (``notebook_app.dashboard``, at the top of the checkout, which documents every option).
    """
    import sys
    from pathlib import Path

    checkout = str(Path(__file__).resolve().parent.parent)  # the project runs from its checkout
    if checkout not in sys.path:
        sys.path.append(checkout)
    import notebook_app

    return notebook_app.dashboard(keras_model, labels=labels, preprocessing=preprocessing, **options)
