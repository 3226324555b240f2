"""Results as strict, typed JSON: between the web tier and the Celery workers, and in Redis's result cache.

Nothing read back from Redis is ever unpickled: anyone who could write there would otherwise run code in
every process that reads it. A result travels as one JSON document, tagged with this format's name and
version and with its kind (a map, a trust check, predictions or an error), whose value is written in a
small typed grammar:

- JSON null, booleans, whole numbers, finite floats and strings stand for themselves; a list for a list;
- every JSON object is exactly one tag: ``{"$dict": {...}}`` (string keys), ``{"$pairs": [[k, v], ...]}``
  (other keys), ``{"$tuple": [...]}``, ``{"$float": "nan" | "inf" | "-inf"}``, and NumPy data as a
  base64 ``.npy`` file written and read with pickle disallowed: ``{"$array": ...}`` for an array,
  ``{"$scalar": ...}`` for a NumPy scalar (a 0-d array), so arrays come back bit for bit with their dtype.

``decode`` (bytes) and ``from_wire`` (parsed JSON) refuse anything else with ``WireFormatError``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import json
import math
from typing import Any

import numpy as np

from explainers.errors import ExplainerError
from service.jobs import Cancelled
from service.results import MapResult

FORMAT = "saliency-result"
VERSION = 1
KINDS = ("map", "check", "predictions", "error")
MAP_FIELDS = frozenset(field.name for field in dataclasses.fields(MapResult))
_NPY_MAGIC = b"\x93NUMPY"
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class WireFormatError(ValueError):
    """Data that is not a result in this format (damaged, from another version, or forged)."""


def to_wire(value: Any) -> dict[str, Any]:
    """A map, a trust check, predictions or an error (``ExplainerError``) as JSON-ready data."""
    if isinstance(value, MapResult):
        kind, body = "map", {field: getattr(value, field) for field in sorted(MAP_FIELDS)}
    elif isinstance(value, ExplainerError):
        kind, body = "error", {"message": str(value), "cancelled": isinstance(value, Cancelled)}
    elif isinstance(value, dict):
        kind, body = "check", value
    elif isinstance(value, (list, tuple)):
        kind, body = "predictions", value
    else:
        raise WireFormatError(f"{type(value).__name__} is not a result this format carries")
    return {"format": FORMAT, "version": VERSION, "kind": kind, "value": _typed(body)}


def from_wire(payload: Any) -> Any:
    """The value ``to_wire`` encoded: a MapResult, a check's dict, a predictions list, or the error (an
    ``ExplainerError`` or ``Cancelled`` instance, returned, not raised)."""
    try:
        return _from_envelope(payload)
    except WireFormatError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, binascii.Error) as error:
        raise WireFormatError(f"not a {FORMAT} document ({type(error).__name__}: {error})") from None


def encode(value: Any) -> bytes:
    """``to_wire`` as compact UTF-8 JSON bytes (what the Redis result cache stores)."""
    return json.dumps(to_wire(value), separators=(",", ":"), allow_nan=False).encode()


def decode(data: bytes) -> Any:
    """The value ``encode`` wrote; anything else (a pickle, other JSON, damaged bytes) is refused."""
    if not isinstance(data, (bytes, bytearray)) or data.lstrip()[:1] != b"{":
        raise WireFormatError(f"not a {FORMAT} document (it does not start as a JSON object)")
    try:
        payload = json.loads(data, parse_constant=_refuse_constant)
    except WireFormatError:
        raise
    except (ValueError, RecursionError) as error:
        raise WireFormatError(f"not a {FORMAT} document ({type(error).__name__})") from None
    return from_wire(payload)


def _from_envelope(payload: Any) -> Any:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise WireFormatError(f"not a {FORMAT} document")
    if payload.get("version") != VERSION:
        raise WireFormatError(f"{FORMAT} version {payload.get('version')!r} is not the version read here ({VERSION})")
    if set(payload) != {"format", "version", "kind", "value"} or payload["kind"] not in KINDS:
        raise WireFormatError(
            f"a {FORMAT} document has the fields format, version, kind (one of {', '.join(KINDS)}) and value"
        )
    kind, value = payload["kind"], _plain(payload["value"])
    if kind == "map":
        if not isinstance(value, dict) or set(value) != MAP_FIELDS or not isinstance(value["heatmap"], np.ndarray):
            raise WireFormatError("a map needs exactly MapResult's fields, with its heatmap as an array")
        return MapResult(**value)
    if kind == "error":
        if not (
            isinstance(value, dict) and set(value) == {"message", "cancelled"} and isinstance(value["message"], str)
        ):
            raise WireFormatError("an error needs a message and a cancelled flag")
        return (Cancelled if value["cancelled"] is True else ExplainerError)(value["message"])
    if not isinstance(value, {"check": dict, "predictions": (list, tuple)}[kind]):
        raise WireFormatError(f"a {kind} value has the wrong type ({type(value).__name__})")
    return value


def _typed(value: Any) -> Any:
    """A value in the typed grammar (see the module's docstring)."""
    if isinstance(value, np.generic):  # before float and str: np.float64 and np.str_ subclass them
        return {"$scalar": _npy(np.asarray(value))}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, np.ndarray):
        return {"$array": _npy(value)}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {"$dict": {key: _typed(item) for key, item in value.items()}}
        return {"$pairs": [[_typed(key), _typed(item)] for key, item in value.items()]}
    if isinstance(value, tuple):
        return {"$tuple": [_typed(item) for item in value]}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    raise WireFormatError(f"{type(value).__name__} values are not carried by this format")


def _plain(value: Any) -> Any:
    """The Python value of a typed JSON value; anything outside the grammar raises WireFormatError."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise WireFormatError("non-finite floats are written as {\"$float\": ...}")
        return value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if not isinstance(value, dict) or len(value) != 1:
        raise WireFormatError(
            "every JSON object must be exactly one tag ($dict, $pairs, $tuple, $float, $array, $scalar)"
        )
    ((tag, body),) = value.items()
    if tag == "$dict" and isinstance(body, dict):
        return {key: _plain(item) for key, item in body.items()}
    if tag == "$pairs" and isinstance(body, list):
        return {_plain(key): _plain(item) for key, item in (_pair(entry) for entry in body)}
    if tag == "$tuple" and isinstance(body, list):
        return tuple(_plain(item) for item in body)
    if tag == "$float" and body in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[body]
    if tag == "$array" and isinstance(body, str):
        return _array(body)
    if tag == "$scalar" and isinstance(body, str):
        scalar = _array(body)
        if scalar.ndim != 0:
            raise WireFormatError("a $scalar is a 0-d array")
        return scalar[()]
    raise WireFormatError(f"unknown or malformed tag {tag!r}")


def _pair(entry: Any) -> tuple[Any, Any]:
    if not isinstance(entry, list) or len(entry) != 2:
        raise WireFormatError("a $pairs entry is [key, value]")
    return entry[0], entry[1]


def _npy(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    try:
        np.save(buffer, array, allow_pickle=False)
    except ValueError:  # object arrays need pickle: refused on the way out as on the way in
        raise WireFormatError(f"arrays of dtype {array.dtype} are not carried by this format") from None
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _array(text: str) -> np.ndarray:
    """A .npy file's array, once its header has been checked: no objects (they would need pickle), and
    exactly as many data bytes as its shape and dtype say (a forged header cannot ask for huge memory)."""
    stream = io.BytesIO(base64.b64decode(text.encode("ascii"), validate=True))
    header_reader = _NPY_HEADERS.get(np.lib.format.read_magic(stream) if stream.getvalue()[:6] == _NPY_MAGIC else None)
    if header_reader is None:
        raise WireFormatError("an $array is a .npy file (format version 1 or 2)")
    shape, _fortran_order, dtype = header_reader(stream)
    if dtype.hasobject:
        raise WireFormatError("an $array holds numbers, not Python objects")
    if math.prod(shape) * dtype.itemsize != len(stream.getvalue()) - stream.tell():
        raise WireFormatError("an $array's data does not match the shape and dtype in its header")
    stream.seek(0)
    array = np.lib.format.read_array(stream, allow_pickle=False)
    return array if array.flags.writeable else array.copy()


def _refuse_constant(name: str) -> Any:
    raise WireFormatError(f"{name} is not JSON; non-finite floats are written as {{\"$float\": ...}}")
