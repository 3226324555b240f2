"""The saliency methods, one module each, all listed in ``METHODS`` (name -> class).

Every module in this package is imported here, so a new method is one new file with a class decorated
by ``@register``: the UI, the CLI, the HTTP API and the contract tests pick it up from ``METHODS``. A
family's base class leaves one hook to write: ``channel_weights`` for a CAM (``CamMethod``),
``explain_one`` for a method that runs its own batches per picture (``MultiPassMethod``), and for a
sampling method also ``steps``, its chunks for the stable mode (``SamplingMethod``). Numerics two
methods share live in ``explainers.ops``.
"""

from __future__ import annotations

import importlib
import pkgutil

from explainers.methods.base import REGISTRY, Attribution, Method, Param, get_method, register

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base" and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")

#: name -> method class, in display order
METHODS: dict[str, type[Method]] = dict(sorted(REGISTRY.items(), key=lambda item: (item[1].order, item[0])))

__all__ = ["METHODS", "Attribution", "Method", "Param", "get_method", "register"]
