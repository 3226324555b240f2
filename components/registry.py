"""Callbacks declared once at import, attached to every app that ``create_app`` builds.

``dash.callback`` registers into a global list that the *first* app to start serving consumes, so a
second app in the same process (tests, ``python app.py --debug``) would get none. These decorators
record the callbacks instead, and ``attach(app)`` gives each app its own copy. The decorated functions
stay plain functions, so tests can call them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_DECLARED: list[tuple[str, tuple, dict, Callable | None]] = []


def callback(*args: Any, **kwargs: Any) -> Callable[[Callable], Callable]:
    def record(function: Callable) -> Callable:
        _DECLARED.append(("server", args, kwargs, function))
        return function

    return record


def clientside_callback(script: str, *args: Any, **kwargs: Any) -> None:
    _DECLARED.append(("client", (script, *args), kwargs, None))


def attach(app) -> None:
    for kind, args, kwargs, function in _DECLARED:
        if kind == "server":
            app.callback(*args, **kwargs)(function)
        else:
            app.clientside_callback(*args, **kwargs)
