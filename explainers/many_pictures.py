"""Several requests' pictures, each with its own methods, class and layer, explained as one batch.

Where many people ask for one-pass maps of the same model at once (a classroom uploading thirty photos),
stacking their pictures into one forward and backward pass costs less per picture than thirty passes of
one (docs/performance.md): the service's coalescer (``service.coalesce``) gathers the requests and hands
them here. Each request gets what ``explain_all`` would have given it alone: its own target class (top-1
resolved per picture inside the pass), its own methods and settings, and its own errors (an unknown
class, layer or setting answers only that request). Requests whose methods need the same passes (the
same watched layer and gradient rules) share them; requests at another layer get a batched pass of
their own, since one pass watches one layer. The arithmetic is that of separate passes, so the maps
equal separate requests' maps up to float rounding (a batched convolution may sum in another order).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explainers.api import DEFAULT_METHODS, Explanation, _finish, _instantiate, _target_array
from explainers.errors import ExplainerError, NotApplicableError
from explainers.methods.base import Method
from explainers.models import ExplainableModel
from explainers.passes import Passes

#: what one request gets back: each method's map or its error (as ``explain_all(on_error="return")``), or
#: the error that stopped the whole request (a bad class, layer or picture)
Answer = dict[str, Explanation | ExplainerError] | Exception


@dataclass
class PictureRequest:
    """One request of a batch: a picture (RGB uint8, any size), the one-pass methods to explain it with,
    the class (None: its top-1), the layer (None: the recommended one) and per-method settings."""

    image: np.ndarray
    methods: tuple[str, ...] = DEFAULT_METHODS
    target: int | str | None = None
    layer: str | None = None
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class _Prepared:
    index: int  # the request's place in the caller's list
    layer: str
    picture: np.ndarray  # at the model's input size
    target: np.ndarray  # (1,) int32, TOP1 for "the top class"
    names: list[str]  # the methods asked for, in order
    instances: dict[str, Method]
    answer: dict[str, Explanation | ExplainerError]  # methods that do not apply, in their place


def explain_many(model: ExplainableModel, requests: list[PictureRequest]) -> list[Answer]:
    """Each request's ``explain_all(..., on_error="return")``, its passes run in batches with the others'.

    Requests for the same picture, class and layer (one person's two cards, sent apart) share a row of
    the batch: its passes yield what each of them needs, as ``explain_all`` gives the page's methods.

    Returns one answer per request, in order: a dict of method name -> Explanation (or that method's
    NotApplicableError), or the exception that stopped the request. If a batched pass fails, its
    requests are computed one by one, so that a failure stays with the request that caused it.
    """
    started = time.perf_counter()
    answers: list[Answer | None] = [None] * len(requests)
    rows: dict[tuple, list[_Prepared]] = {}  # the requests for one picture, class and layer: one row of a batch
    for index, request in enumerate(requests):
        try:
            prepared = _prepare(model, index, request)
        except Exception as error:  # noqa: BLE001 - this request's own error, answered to it alone
            answers[index] = error
            continue
        picture = hashlib.blake2b(prepared.picture.tobytes(), digest_size=16).digest()
        rows.setdefault((picture, int(prepared.target[0]), prepared.layer), []).append(prepared)
    groups: dict[frozenset, list[list[_Prepared]]] = {}  # rows whose requests need the same passes
    for row in rows.values():
        needs = frozenset(key for item in row for m in item.instances.values() for key in m.needs(model, item.layer))
        groups.setdefault(needs, []).append(row)
    for needs, group in _pieces(model, groups):
        try:
            pictures = np.stack([row[0].picture for row in group])
            targets = np.concatenate([row[0].target for row in group])
            batch = Passes(model, model.preprocess(pictures), targets, pictures=pictures)
            batch.prepare(list(needs))
            shared = [(item, batch.picture(i)) for i, row in enumerate(group) for item in row]
        except Exception:  # noqa: BLE001 - run them one by one: an error then reaches only its own request
            shared = [(item, None) for row in group for item in row]
        seconds = (time.perf_counter() - started) / max(1, len(requests))
        for item, passes in shared:
            answers[item.index] = _answer(model, item, passes, seconds, len(group))
    return answers


def _pieces(model: ExplainableModel, groups: dict[frozenset, list[list[_Prepared]]]):
    """(passes needed, rows) to run as one batch each: a group whole where passes are graphs (any batch
    size runs the same trace); where XLA compiles them, which it does once per batch size, in pieces whose
    sizes are powers of two (7 = 4 + 2 + 1), so that only a few sizes are ever compiled."""
    from explainers.engine import engine_for  # TensorFlow: only once something computes

    xla = engine_for(model).jit(batched=False)
    for needs, group in groups.items():
        while group:
            size = 1 << (len(group).bit_length() - 1) if xla else len(group)
            yield needs, group[:size]
            group = group[size:]


def _prepare(model: ExplainableModel, index: int, request: PictureRequest) -> _Prepared:
    layer = model.check_layer(request.layer)
    names = list(dict.fromkeys(request.methods or DEFAULT_METHODS))
    instances, answer = {}, {}
    for name in names:
        try:
            instances[name] = _instantiate(model, name, request.params.get(name, {}))
        except NotApplicableError as error:
            answer[name] = error
    target = _target_array(model, request.target)
    return _Prepared(index, layer, model.prepare(request.image), target, names, instances, answer)


def _answer(model: ExplainableModel, item: _Prepared, passes: Passes | None, seconds: float, size: int) -> Answer:
    """One request's maps from its share of the batch (``passes``), or from passes of its own (None)."""
    try:
        started = time.perf_counter()
        if passes is None:  # its group's batched pass failed: this picture alone
            passes = Passes(model, model.preprocess(item.picture[None]), item.target, pictures=item.picture[None])
            passes.prepare([key for m in item.instances.values() for key in m.needs(model, item.layer)])
            size = 1
        seconds += time.perf_counter() - started
        meta = {"shared_passes": len(passes.passes_run), "batch": size}
        share = seconds / max(1, len(item.instances))
        answer = dict(item.answer)
        for name, instance in item.instances.items():
            answer[name] = _finish(model, instance, passes, item.layer, share, meta)
        return {name: answer[name] for name in item.names}
    except Exception as error:  # noqa: BLE001 - this request's own error, answered to it alone
        return error
