"""One builder for the cache key and the request of a map or a trust check.

A map and a check of that map are asked with the same fields (picture, model, weights, method, class,
layer, settings); both paths build their key and their request here, so a field added to one is not
forgotten in the other. The key's layout is the one cached entries were stored under: changing it
drops every cached map and check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.card_views import uses_layer


@dataclass(frozen=True)
class Asked:
    """What a map or check request asks for, every field already checked against its allow-list."""

    key: str
    model: str
    weights: str
    method: type
    layer: str | None
    settings: dict[str, Any]
    target: int | None


def keyed_request(
    kind: str,
    asked: Asked,
    weights_identity: Any,
    key_head: tuple = (),
    key_tail: tuple = (),
    **extra: Any,
) -> tuple[tuple, dict[str, Any]]:
    """(cache key, request) of ``kind`` for ``asked``. ``key_head`` goes right after the kind (a check's
    name), ``key_tail`` after the settings (versions, options, view extras); ``extra`` adds to the request.
    A method that takes no layer is keyed without one: its map is the same whatever layer is picked."""
    cache_key = (
        kind,
        *key_head,
        asked.key,
        asked.model,
        weights_identity,
        asked.method.name,
        asked.target,
        asked.layer if uses_layer(asked.method, asked.settings) else None,
        tuple(sorted(asked.settings.items())),
        *key_tail,
    )
    request = {
        "kind": kind,
        "key": asked.key,
        "model": asked.model,
        "weights": asked.weights,
        "method": asked.method.name,
        "target": asked.target,
        "layer": asked.layer,
        "settings": asked.settings,
        **extra,
    }
    return cache_key, request
