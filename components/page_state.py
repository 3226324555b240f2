"""The page state: every control that decides what a map shows (picture, models, weights, class,
layer, display), bundled once into one ``dcc.Store`` so a card or panel callback takes one value
instead of a dozen positional parameters.

The store is filled in the browser (a clientside callback), so bundling costs no request; the server
reads it through ``Page.from_store``. Opacity stays out: it is drawn in the browser alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from dash import Input, Output, dcc

from components.registry import clientside_callback
from service import ClassChoice, choose_class

# the page state's fields and the control each one is read from
CONTROLS: dict[str, tuple[str, str]] = {
    "image": ("image", "data"),
    "model": ("model", "value"),
    "compare": ("compare-model", "value"),
    "weights": ("weights", "value"),
    "target": ("target", "value"),
    "layer": ("layer", "value"),
    "colormap": ("colormap", "value"),
    "mode": ("mode", "value"),
    "percentile": ("percentile", "value"),
    "scale": ("scale", "value"),
    "session": ("session", "data"),
    "compare_weights": ("compare-weights", "value"),
    "compare_target": ("compare-target", "data"),
}


@dataclass(frozen=True)
class Page:
    """What the page asks for right now, as the browser sent it (each callback still checks what it uses)."""

    image: dict | None = None  # {"key": sha256, "name": ...}: never the picture's bytes
    model: str | None = None
    compare: str | None = None  # the second model, if any
    weights: str | None = None
    target: Any = None  # a class number, or None for the top prediction
    layer: str | None = None
    colormap: str | None = None
    mode: str | None = None  # "absolute" or "signed"
    percentile: Any = None
    scale: str | None = None  # "own" or "shared"
    session: str | None = None  # this browser tab, for the job queue
    compare_weights: str | None = None  # the second model's weights
    compare_target: Any = None  # a class picked on the second model's own top-5 chart, else None

    @classmethod
    def from_store(cls, data: Any) -> Page:
        """The page state from the store's data; anything missing or unknown is left out."""
        if not isinstance(data, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in known})

    @property
    def image_key(self) -> str | None:
        return self.image.get("key") if isinstance(self.image, dict) else None

    @property
    def session_id(self) -> str | None:
        return self.session if isinstance(self.session, str) else None

    def model_for(self, slot: str | None) -> str | None:
        """The model of a card's slot: "a" is the main model, "b" the one compared with it."""
        return self.compare if slot == "b" else self.model

    def weights_for(self, slot: str | None) -> str | None:
        """The weights of a card's slot: each model has its own choice."""
        return (self.compare_weights or self.weights) if slot == "b" else self.weights

    def class_for(self, slot: str | None) -> ClassChoice:
        """The class a card of ``slot`` explains, and why: a class belongs to a model (service.choose_class)."""
        return choose_class(self.model, self.target, self.compare, self.compare_target, second=slot == "b")

    def layer_for(self, slot: str | None) -> str | None:
        """The picked layer applies to the main model only; the second model uses its default layer."""
        return None if slot == "b" else self.layer


def layout() -> dcc.Store:
    return dcc.Store(id="page")


clientside_callback(
    """
    function(...values) {
        const names = CONTROL_NAMES;
        const page = {};
        names.forEach(function(name, i) { page[name] = values[i] === undefined ? null : values[i]; });
        return page;
    }
    """.replace("CONTROL_NAMES", json.dumps(list(CONTROLS))),
    Output("page", "data"),
    *[Input(component, prop) for component, prop in CONTROLS.values()],
)
