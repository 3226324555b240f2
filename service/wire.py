"""Results over JSON, between the web tier and the Celery workers.

Celery refuses pickle from a worker running as root, and rightly so: a map travels as base64 float32
bytes with its shape, a trust check as its dict with every array encoded the same way, predictions as
rows of (index, name, probability).
"""
from __future__ import annotations

import base64
from typing import Any

import numpy as np

from service.results import MapResult


def to_wire(value: Any) -> Any:
    """A map, a trust check or predictions as JSON-ready data (``from_wire`` reads it back)."""
    if isinstance(value, MapResult):
        body = {k: v for k, v in value.__dict__.items() if k != "heatmap"}
        heatmap = np.ascontiguousarray(value.heatmap, np.float32)
        body["heatmap"] = {"b64": base64.b64encode(heatmap.tobytes()).decode(), "shape": list(heatmap.shape)}
        return {"map": body}
    if isinstance(value, dict):  # a trust check (service.trust): numbers, strings and small arrays
        return {"check": _arrays_out(value)}
    return {"predictions": [list(row) for row in value]}


def from_wire(payload: dict[str, Any]) -> Any:
    """The value ``to_wire`` encoded."""
    if "predictions" in payload:
        return [(int(i), str(name), float(p)) for i, name, p in payload["predictions"]]
    if "check" in payload:
        return _arrays_in(payload["check"])
    body = dict(payload["map"])
    raw = body.pop("heatmap")
    heatmap = np.frombuffer(base64.b64decode(raw["b64"]), np.float32).reshape(raw["shape"]).copy()
    return MapResult(heatmap=heatmap, **body)


def _arrays_out(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return {"__array__": base64.b64encode(data.tobytes()).decode(), "dtype": str(data.dtype),
                "shape": list(data.shape)}
    if isinstance(value, dict):
        return {str(k): _arrays_out(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_arrays_out(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _arrays_in(value: Any) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            raw = base64.b64decode(value["__array__"])
            return np.frombuffer(raw, np.dtype(value["dtype"])).reshape(value["shape"]).copy()
        return {k: _arrays_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_arrays_in(v) for v in value]
    return value
